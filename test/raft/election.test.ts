import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { RawNode } from '../../src/raft/index.js';
import { Cluster, entriesOfTerms, mulberry32 } from './harness.js';

test('a single node elects itself and commits its no-op', () => {
  const c = new Cluster([1]);
  c.tickAll(20);
  const s = c.node(1).status();
  assert.is(s.role, 'leader');
  assert.is(s.term, 1);
  assert.is(s.commit, 1);
  assert.is(c.propose(1, 'x'), true);
  assert.is(c.node(1).status().commit, 2);
  assert.equal(c.sm.get(1), ['', 'x']);
});

test('three nodes elect exactly one leader by timeout, and followers learn it', () => {
  const c = new Cluster([1, 2, 3], { seed: 7 });
  c.tickAll(30);
  const leaders = c.leadersNow();
  assert.is(leaders.length, 1);
  const lead = leaders[0]!;
  for (const id of c.ids) assert.is(c.node(id).status().lead, lead);
  assert.equal(c.violations, []);
});

test('randomized election timeout lies in [electionTick, 2*electionTick)', () => {
  for (const r of [0, 0.5, 0.999999]) {
    const n = new RawNode(
      { id: 1, electionTick: 10, heartbeatTick: 1, preVote: false, checkQuorum: false, random: () => r },
      { hardState: { term: 0, vote: 0, commit: 0 }, snapshot: null, entries: [], conf: { voters: [1, 2, 3], learners: [] } },
    );
    let ticks = 0;
    while (n.status().role === 'follower' && ticks < 100) {
      n.tick();
      ticks++;
    }
    assert.is(ticks, 10 + Math.floor(r * 10), `random=${r}`);
  }
});

test('a split vote resolves: two candidates at one term, then a later term elects one leader', () => {
  const c = new Cluster([1, 2, 3, 4], { seed: 3 });
  // 1 and 2 campaign at the same time; 1 reaches 3, 2 reaches 4: neither gets 3 of 4 votes.
  c.node(1).campaign();
  c.node(2).campaign();
  c.processAll();
  c.queue = c.queue.filter((m) => (m.from === 1 && m.to === 3) || (m.from === 2 && m.to === 4) || m.type !== 'vote');
  c.stabilize();
  assert.is(c.node(1).status().role, 'candidate');
  assert.is(c.node(2).status().role, 'candidate');
  assert.is(c.node(1).status().term, 1);
  assert.equal(c.leadersNow(), []);
  // Randomized timeouts break the tie.
  c.tickAll(60);
  assert.is(c.leadersNow().length, 1);
  assert.ok(c.node(c.leadersNow()[0]!).status().term >= 2);
  assert.equal(c.violations, []);
});

test('a stale leader steps down on seeing a higher term', () => {
  const c = new Cluster([1, 2, 3]);
  c.elect(1);
  assert.is(c.node(1).status().role, 'leader');
  c.isolate(1);
  c.elect(2);
  assert.is(c.node(2).status().role, 'leader');
  assert.is(c.node(2).status().term, 2);
  assert.is(c.node(1).status().role, 'leader'); // it does not know yet
  // Its proposals cannot commit.
  assert.is(c.propose(1, 'lost'), true);
  assert.is(c.node(1).status().commit, 1);
  c.heal();
  c.tickAll(2); // heartbeats from 2 carry term 2
  assert.is(c.node(1).status().role, 'follower');
  assert.is(c.node(1).status().term, 2);
  assert.is(c.node(1).status().lead, 2);
  // The uncommitted entry was replaced by the new leader's log.
  assert.is(c.node(1).termAt(2), 2);
  assert.not.ok(c.sm.get(1)!.includes('lost'));
  assert.equal(c.violations, []);
});

test('a candidate with an out-of-date log cannot win', () => {
  const c = new Cluster([1, 2, 3]);
  c.setDisk(1, { hardState: { term: 2, vote: 0, commit: 0 }, entries: entriesOfTerms([1]) });
  c.setDisk(2, { hardState: { term: 2, vote: 0, commit: 0 }, entries: entriesOfTerms([1, 2]) });
  c.setDisk(3, { hardState: { term: 2, vote: 0, commit: 0 }, entries: entriesOfTerms([1, 2]) });
  c.elect(1);
  assert.is(c.node(1).status().role, 'follower');
  assert.is(c.node(1).status().term, 3);
  c.elect(2);
  assert.is(c.node(2).status().role, 'leader');
});

test('a node only votes once per term', () => {
  const c = new Cluster([1, 2, 3]);
  c.node(1).campaign();
  c.processAll();
  const toThree = c.queue.filter((m) => m.to === 3);
  c.queue = [];
  c.node(2).campaign();
  c.processAll();
  const fromTwo = c.queue.filter((m) => m.to === 3);
  c.queue = [];
  for (const m of toThree) c.deliver(m);
  for (const m of fromTwo) c.deliver(m);
  c.processAll();
  const resp = c.queue.filter((m) => m.from === 3);
  assert.is(resp.length, 2);
  assert.is(resp.find((m) => m.to === 1)!.reject, false);
  assert.is(resp.find((m) => m.to === 2)!.reject, true);
  assert.is(c.node(3).status().vote, 1);
});

test('a node that is not a voter in its own configuration never campaigns', () => {
  const c = new Cluster([1, 2, 3, 4], { voters: [1, 2, 3] });
  for (let i = 0; i < 100; i++) c.node(4).tick();
  c.node(4).campaign();
  c.processAll();
  assert.is(c.node(4).status().role, 'follower');
  assert.is(c.node(4).status().term, 0);
  assert.equal(c.queue.filter((m) => m.from === 4), []);
});

test('malformed and misaddressed messages are dropped without throwing', () => {
  const c = new Cluster([1, 2, 3]);
  c.elect(1);
  const n = c.node(2);
  const before = JSON.stringify(n.status());
  const good = { type: 'heartbeat', from: 1, to: 2, term: 5, logTerm: 0, index: 0, entries: [], commit: 0, reject: false, rejectHint: 0, snapshot: null, transfer: false };
  const bad: unknown[] = [
    null, 42, 'x', {}, { ...good, type: 'nope' }, { ...good, to: 3 }, { ...good, from: 2 }, { ...good, term: -1 },
    { ...good, term: 1.5 }, { ...good, entries: [{ term: 1 }] }, { ...good, entries: null }, { ...good, snapshot: 'x' },
    { ...good, type: 'snap' }, { ...good, commit: undefined }, { ...good, type: 'app', index: 1, logTerm: 1, entries: [{ term: 1, index: 5, kind: 'normal', data: '' }] },
    { ...good, type: 'app', entries: [{ term: 9, index: 1, kind: 'normal', data: '' }] },
  ];
  for (const m of bad) n.step(m as never);
  assert.is(JSON.stringify(n.status()), before);
  // While the well-formed variant is accepted.
  n.step(good as never);
  assert.is(n.status().term, 5);
  void mulberry32;
});

test.run();
