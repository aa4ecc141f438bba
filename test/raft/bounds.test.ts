// Terms and indexes a single message cannot push out of range (src/raft/bounds.ts).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { MAX_INDEX_STEP, MAX_TERM_STEP } from '../../src/raft/index.js';
import type { Message } from '../../src/raft/index.js';
import { Cluster } from './harness.js';

function heartbeat(from: number, to: number, term: number): Message {
  return { type: 'heartbeat', from, to, term, logTerm: 0, index: 0, entries: [], commit: 0, reject: false, rejectHint: 0, snapshot: null, transfer: false };
}

for (const preVote of [false, true]) {
  test(`a heartbeat at the largest term the wire carries is refused and counted, and the group goes on across restarts (preVote ${preVote})`, () => {
    const c = new Cluster([1, 2, 3], { preVote, checkQuorum: true });
    c.elect(1);
    c.propose(1, 'a');
    c.stabilize();
    const term = c.node(2).status().term;
    // Host 3 (faulty) sends the inflating heartbeat to both others.
    for (const to of [1, 2]) c.node(to).step(heartbeat(3, to, Number.MAX_SAFE_INTEGER));
    for (const id of [1, 2]) {
      assert.is(c.node(id).status().term, term);
      assert.is(c.node(id).refusals().termBeyondBound, 1);
    }
    for (const id of c.ids) {
      c.crash(id);
      c.restart(id);
    }
    c.tickAll(60);
    c.stabilize();
    const leaders = c.leadersNow();
    assert.is(leaders.length, 1);
    assert.ok(c.propose(leaders[0]!, 'b'));
    c.stabilize();
    assert.ok(c.sm.get(2)!.includes('b'));
    assert.equal(c.violations, []);
  });
}

test('a term within the bound is adopted, and the group still elects past it after a restart', () => {
  const c = new Cluster([1, 2, 3], { checkQuorum: true });
  c.elect(1);
  c.stabilize();
  const high = c.node(2).status().term + MAX_TERM_STEP;
  c.node(2).step(heartbeat(3, 2, high));
  assert.is(c.node(2).status().term, high);
  assert.is(c.node(2).refusals().termBeyondBound, 0);
  c.processAll();
  for (const id of c.ids) {
    c.crash(id);
    c.restart(id);
  }
  c.tickAll(80);
  c.stabilize();
  const leaders = c.leadersNow();
  assert.is(leaders.length, 1);
  assert.ok(c.node(leaders[0]!).status().term > high);
  assert.ok(c.propose(leaders[0]!, 'x'));
  c.stabilize();
  assert.ok(c.sm.get(3)!.includes('x'));
});

test('one step past the term bound is refused', () => {
  const c = new Cluster([1, 2, 3]);
  c.elect(1);
  c.stabilize();
  const term = c.node(2).status().term;
  c.node(2).step(heartbeat(3, 2, term + MAX_TERM_STEP + 1));
  assert.is(c.node(2).status().term, term);
  assert.is(c.node(2).refusals().termBeyondBound, 1);
});

test('a snapshot far beyond the log is refused; a second leader of the followed term is refused', () => {
  const c = new Cluster([1, 2, 3]);
  c.elect(1);
  c.stabilize();
  const st = c.node(2).status();
  const snap: Message = {
    ...heartbeat(1, 2, st.term), type: 'snap',
    snapshot: { index: st.lastIndex + MAX_INDEX_STEP + 1, term: st.term, conf: { voters: [1, 2, 3], learners: [] }, data: '' },
  };
  c.node(2).step(snap);
  assert.is(c.node(2).status().lastIndex, st.lastIndex);
  assert.is(c.node(2).refusals().indexBeyondBound, 1);
  // Host 3 claims to lead the term host 2 follows host 1 in.
  c.node(2).step({ ...heartbeat(3, 2, st.term), commit: 0 });
  assert.is(c.node(2).status().lead, 1);
  assert.is(c.node(2).refusals().rivalLeader, 1);
});

test.run();
