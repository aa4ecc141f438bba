import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Cluster } from './harness.js';

/** Partition node 3 away for a long time while the others keep working, then heal. */
function rejoin(preVote: boolean): Cluster {
  const c = new Cluster([1, 2, 3], { preVote, seed: 11 });
  c.elect(1);
  c.isolate(3);
  c.tickAll(100);
  return c;
}

test('pre-vote: a partitioned node does not inflate its term and cannot depose a healthy leader', () => {
  const c = rejoin(true);
  assert.is(c.node(3).status().term, 1, 'pre-candidate keeps its term');
  assert.is(c.node(3).status().role, 'preCandidate');
  c.heal();
  c.tickAll(30);
  assert.is(c.node(1).status().role, 'leader');
  assert.is(c.node(1).status().term, 1);
  assert.is(c.node(3).status().lead, 1);
  assert.is(c.node(3).status().role, 'follower');
  assert.equal(c.violations, []);
});

test('without pre-vote the partitioned node inflates its term and deposes the leader', () => {
  const c = rejoin(false);
  assert.ok(c.node(3).status().term > 5, `term ${c.node(3).status().term}`);
  c.heal();
  c.tickAll(60);
  assert.ok(c.node(1).status().term > 5);
  assert.equal(c.violations, []);
});

test('pre-vote is refused while the voter has heard from a leader, even with an up-to-date log', () => {
  const c = new Cluster([1, 2, 3], { preVote: true });
  c.elect(1);
  c.node(3).campaign(); // logs are identical, so only the lease can stop it
  c.stabilize();
  assert.is(c.node(1).status().role, 'leader');
  assert.is(c.node(1).status().term, 1);
  assert.is(c.node(3).status().term, 1);
});

test('pre-vote is granted after the voter lost its leader, and the real election follows', () => {
  const c = new Cluster([1, 2, 3], { preVote: true });
  c.elect(1);
  c.crash(1);
  for (let i = 0; i < 20; i++) c.nodes.get(2)!.tick(); // 2 stops hearing from 1
  c.processAll();
  c.queue = [];
  c.elect(3);
  assert.is(c.node(3).status().role, 'leader');
  assert.is(c.node(3).status().term, 2);
});

test('check-quorum: a leader cut off from the quorum steps down after an election timeout', () => {
  const c = new Cluster([1, 2, 3], { checkQuorum: true, seed: 5 });
  c.elect(1);
  c.isolate(1);
  // Responses before the cut count for the current check-quorum round, so it takes between
  // one and two election timeouts to notice.
  c.tickAll(9);
  assert.is(c.node(1).status().role, 'leader');
  c.tickAll(11);
  assert.is(c.node(1).status().role, 'follower');
  assert.is(c.node(1).status().lead, 0);
  c.tickAll(40);
  const l = c.leadersNow();
  assert.is(l.length, 1);
  assert.is.not(l[0], 1);
  assert.equal(c.violations, []);
});

test('without check-quorum a cut-off leader stays leader', () => {
  const c = new Cluster([1, 2, 3], { checkQuorum: false, seed: 5 });
  c.elect(1);
  c.isolate(1);
  c.tickAll(50);
  assert.is(c.node(1).status().role, 'leader');
});

test('check-quorum lease: followers that heard from the leader recently ignore vote requests', () => {
  const c = new Cluster([1, 2, 3], { checkQuorum: true });
  c.elect(1);
  c.node(3).campaign();
  c.stabilize();
  assert.is(c.node(1).status().role, 'leader');
  assert.is(c.node(2).status().term, 1);
  assert.is(c.node(2).status().vote, 1);
  // Node 3 bumped its term; the leader's next append reaches it, it answers with its higher
  // term, and the cluster re-elects (a node stuck at a higher term does not block forever).
  c.tickAll(60);
  assert.is(c.leadersNow().length, 1);
  for (const id of c.ids) assert.is(c.node(id).status().lead, c.leadersNow()[0]);
  assert.equal(c.violations, []);
});

test.run();
