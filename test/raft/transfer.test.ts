import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Cluster } from './harness.js';

for (const preVote of [false, true]) {
  test(`leadership transfer to an up-to-date follower (preVote=${preVote}, checkQuorum)`, () => {
    const c = new Cluster([1, 2, 3], { preVote, checkQuorum: true });
    c.elect(1);
    c.propose(1, 'a');
    c.node(1).transferLeadership(2);
    c.stabilize();
    assert.is(c.node(2).status().role, 'leader');
    assert.is(c.node(2).status().term, 2);
    assert.is(c.node(1).status().lead, 2);
    assert.equal(c.violations, []);
  });
}

test('leadership transfer catches a lagging target up first, and proposals pause meanwhile', () => {
  const c = new Cluster([1, 2, 3], { preVote: true, checkQuorum: true });
  c.elect(1);
  c.isolate(3);
  for (let i = 0; i < 5; i++) c.propose(1, `v${i}`);
  c.node(1).transferLeadership(3);
  assert.is(c.node(1).status().leadTransferee, 3);
  assert.is(c.node(1).propose('blocked'), false);
  c.heal();
  c.tickAll(2);
  assert.is(c.node(3).status().role, 'leader');
  assert.is(c.node(1).status().role, 'follower');
  assert.equal(c.sm.get(3)!.slice(1, 6), ['v0', 'v1', 'v2', 'v3', 'v4']);
  assert.equal(c.violations, []);
});

test('a transfer to an unreachable node is abandoned after an election timeout', () => {
  const c = new Cluster([1, 2, 3], { checkQuorum: true });
  c.elect(1);
  c.isolate(3);
  c.node(1).transferLeadership(3);
  assert.is(c.node(1).propose('x'), false);
  c.tickAll(10);
  assert.is(c.node(1).status().leadTransferee, 0);
  assert.is(c.node(1).status().role, 'leader');
  assert.is(c.propose(1, 'y'), true);
});

test('transfer requests to self, to non-voters, or from followers do nothing', () => {
  const c = new Cluster([1, 2, 3, 4], { voters: [1, 2, 3] });
  c.elect(1);
  c.node(1).transferLeadership(1);
  c.node(1).transferLeadership(4);
  c.node(2).transferLeadership(3);
  assert.is(c.node(1).status().leadTransferee, 0);
  c.stabilize();
  assert.is(c.node(1).status().role, 'leader');
});

test.run();
