import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Cluster } from './harness.js';

test('add a voter, then remove one: configurations agree and there is never a second leader', () => {
  const c = new Cluster([1, 2, 3, 4], { voters: [1, 2, 3], seed: 2 });
  c.elect(1);
  assert.is(c.proposeConf(1, { type: 'addNode', node: 4 }), true);
  c.tickAll(2);
  for (const id of c.ids) assert.equal(c.node(id).status().conf, { voters: [1, 2, 3, 4], learners: [] }, `node ${id}`);
  assert.is(c.node(4).status().commit, c.node(1).status().commit);
  // Quorum is now 3 of 4: with 3 and 4 unreachable nothing commits.
  c.isolate(3);
  c.isolate(4);
  c.propose(1, 'needs three');
  assert.is(c.node(1).status().commit, 2);
  c.heal();
  c.tickAll(2);
  assert.is(c.node(1).status().commit, 3);
  assert.is(c.proposeConf(1, { type: 'removeNode', node: 2 }), true);
  c.tickAll(2);
  for (const id of [1, 3, 4]) assert.equal(c.node(id).status().conf.voters, [1, 3, 4]);
  // A removed node never campaigns, however long it waits.
  c.isolate(2);
  c.tickAll(100);
  assert.is(c.node(1).status().role, 'leader');
  assert.is.not(c.node(2).status().role, 'leader');
  assert.equal(c.violations, []);
});

test('one conf change at a time, and not before the leader commits its own no-op', () => {
  const c = new Cluster([1, 2, 3, 4, 5], { voters: [1, 2, 3] });
  c.node(1).campaign();
  c.stabilize((m) => m.type === 'vote' || m.type === 'voteResp', true);
  assert.is(c.node(1).status().role, 'leader');
  assert.is(c.node(1).proposeConfChange({ type: 'addNode', node: 4 }), false, 'no-op not committed yet');
  c.stabilize();
  assert.is(c.node(1).proposeConfChange({ type: 'addNode', node: 4 }), true);
  assert.is(c.node(1).proposeConfChange({ type: 'addNode', node: 5 }), false, 'previous change pending');
  c.stabilize();
  assert.is(c.node(1).proposeConfChange({ type: 'addNode', node: 4 }), false, 'already a voter');
  assert.is(c.node(1).proposeConfChange({ type: 'addNode', node: 5 }), true);
  c.stabilize();
  assert.equal(c.node(1).status().conf.voters, [1, 2, 3, 4, 5]);
  assert.is(c.node(2).proposeConfChange({ type: 'removeNode', node: 1 }), false, 'followers refuse');
  assert.is(c.node(1).proposeConfChange({ type: 'bogus', node: 1 } as never), false);
});

test('a removed leader steps down once the removal is applied, and the rest elect a leader', () => {
  const c = new Cluster([1, 2, 3], { seed: 9 });
  c.elect(1);
  assert.is(c.proposeConf(1, { type: 'removeNode', node: 1 }), true);
  assert.is(c.node(1).status().role, 'follower');
  assert.equal(c.node(2).status().conf.voters, [2, 3]);
  c.tickAll(60);
  const l = c.leadersNow();
  assert.is(l.length, 1);
  assert.ok(l[0] === 2 || l[0] === 3);
  assert.is(c.propose(l[0]!, 'after'), true);
  assert.ok(c.sm.get(2)!.includes('after') && c.sm.get(3)!.includes('after'));
  assert.equal(c.violations, []);
});

test('learners receive the log but neither vote nor count toward commit', () => {
  const c = new Cluster([1, 2, 3], { voters: [1, 2], seed: 4 });
  c.elect(1);
  assert.is(c.proposeConf(1, { type: 'addLearner', node: 3 }), true);
  c.tickAll(2);
  assert.equal(c.node(3).status().conf, { voters: [1, 2], learners: [3] });
  c.propose(1, 'a');
  assert.equal(c.sm.get(3)!.slice(-1), ['a']);
  // With voter 2 cut off, the learner's ack does not make a quorum.
  c.isolate(2);
  c.propose(1, 'b');
  assert.is(c.node(3).status().lastIndex, c.node(1).status().lastIndex);
  assert.ok(c.node(1).status().commit < c.node(1).status().lastIndex);
  // A learner never campaigns.
  c.isolate(1);
  c.tickAll(100);
  assert.is(c.node(3).status().role, 'follower');
  c.heal();
  c.tickAll(60);
  const [lead] = c.leadersNow();
  assert.ok(lead === 1 || lead === 2);
  // Promote it.
  assert.is(c.proposeConf(lead!, { type: 'addNode', node: 3 }), true);
  c.tickAll(2);
  assert.equal(c.node(3).status().conf, { voters: [1, 2, 3], learners: [] });
  assert.equal(c.violations, []);
});

test('conf changes survive restart: configuration is rebuilt from the log', () => {
  const c = new Cluster([1, 2, 3, 4], { voters: [1, 2, 3] });
  c.elect(1);
  c.proposeConf(1, { type: 'addNode', node: 4 });
  c.tickAll(2);
  for (const id of c.ids) {
    c.crash(id);
    c.restart(id);
  }
  c.tickAll(1); // re-delivers committed entries; the driver re-applies conf changes
  for (const id of c.ids) assert.equal(c.node(id).status().conf.voters, [1, 2, 3, 4], `node ${id}`);
});

test.run();
