// Randomized safety: arbitrary delivery orders, drops, duplicates, crashes (losing unpersisted
// state), slow disks (a Ready held in flight while the node keeps stepping), proposals,
// membership changes, compaction and transfers. Checks Election Safety, State Machine Safety,
// Leader Completeness, and finally that the healed cluster makes progress.
// fast-check prints the seed and the shrunk counterexample on failure; replay one with
// run(actions, preVote, checkQuorum, seed) from this module.

import fc from 'fast-check';
import * as assert from 'uvu/assert';
import type { ConfChange, NodeId, Ready } from '../../src/raft/index.js';
import { Cluster } from './harness.js';

export const IDS: NodeId[] = [1, 2, 3, 4];

export type Action =
  | { t: 'tick'; n: NodeId; k: number }
  | { t: 'deliver'; k: number }
  | { t: 'dup'; k: number }
  | { t: 'drop'; k: number }
  | { t: 'ready'; n: NodeId }
  | { t: 'persist'; n: NodeId }
  | { t: 'sync'; n: NodeId }
  | { t: 'flush'; k: number }
  | { t: 'crash'; n: NodeId }
  | { t: 'propose'; n: NodeId; d: number }
  | { t: 'conf'; n: NodeId; cc: ConfChange }
  | { t: 'compact'; n: NodeId }
  | { t: 'transfer'; n: NodeId; to: NodeId }
  | { t: 'campaign'; n: NodeId };

const node = fc.constantFrom(...IDS);
export const action: fc.Arbitrary<Action> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ t: fc.constant('tick' as const), n: node, k: fc.integer({ min: 1, max: 4 }) }) },
  { weight: 16, arbitrary: fc.record({ t: fc.constant('deliver' as const), k: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('dup' as const), k: fc.nat() }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('flush' as const), k: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('drop' as const), k: fc.nat() }) },
  { weight: 5, arbitrary: fc.record({ t: fc.constant('ready' as const), n: node }) },
  { weight: 4, arbitrary: fc.record({ t: fc.constant('persist' as const), n: node }) },
  { weight: 6, arbitrary: fc.record({ t: fc.constant('sync' as const), n: node }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('crash' as const), n: node }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('propose' as const), n: node, d: fc.nat(999) }) },
  {
    weight: 1,
    arbitrary: fc.record({
      t: fc.constant('conf' as const),
      n: node,
      cc: fc.record({ type: fc.constantFrom('addNode' as const, 'removeNode' as const, 'addLearner' as const), node }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('compact' as const), n: node }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('transfer' as const), n: node, to: node }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('campaign' as const), n: node }) },
);

export function run(actions: Action[], preVote: boolean, checkQuorum: boolean, seed: number): void {
  const c = new Cluster(IDS, { voters: [1, 2, 3], preVote, checkQuorum, seed, electionTick: 6, heartbeatTick: 2, maxEntriesPerMsg: 3, maxInflight: 4 });
  const pending = new Map<NodeId, Ready>();

  // commitTerm[i]: the term of the first leader seen with commit >= i. Leader Completeness says
  // every leader of a later term holds entry i (leaders of earlier terms may be stale).
  const commitTerm: number[] = [];
  const checkLeader = (id: NodeId): void => {
    c.observe(id);
    const n = c.node(id);
    const s = n.status();
    if (s.role !== 'leader') return;
    for (let i = commitTerm.length + 1; i <= s.commit; i++) commitTerm[i - 1] = s.term;
    for (const [idx, sig] of c.committed) {
      if (idx <= s.snapshotIndex || (commitTerm[idx - 1] ?? Infinity) >= s.term) continue;
      const e = n.entriesFrom(idx, idx + 1)[0];
      const have = e ? `${e.term}:${e.kind}:${e.data}` : 'missing';
      if (have !== sig) c.violations.push(`leader ${id} term ${s.term} has ${have} at ${idx}, committed ${sig}`);
    }
  };

  for (const a of actions) {
    switch (a.t) {
      case 'tick':
        for (let i = 0; i < a.k; i++) c.node(a.n).tick();
        break;
      case 'deliver':
      case 'dup':
      case 'drop': {
        if (c.queue.length === 0) break;
        const i = a.k % c.queue.length;
        const m = c.queue[i]!;
        if (a.t !== 'dup') c.queue.splice(i, 1);
        if (a.t !== 'drop') c.deliver(m);
        break;
      }
      case 'ready':
        if (!pending.has(a.n) && c.node(a.n).hasReady()) pending.set(a.n, c.node(a.n).ready());
        break;
      case 'persist': {
        const rd = pending.get(a.n);
        if (rd) {
          pending.delete(a.n);
          c.handleReady(a.n, rd);
        }
        break;
      }
      case 'flush': {
        // Deliver everything queued, starting from a rotated position, then sync every node.
        const q = c.queue;
        c.queue = [];
        const r = q.length ? a.k % q.length : 0;
        for (const m of [...q.slice(r), ...q.slice(0, r)]) c.deliver(m);
        for (const id of IDS) {
          const rd = pending.get(id);
          pending.delete(id);
          if (rd) c.handleReady(id, rd);
          if (c.node(id).hasReady()) c.handleReady(id, c.node(id).ready());
        }
        break;
      }
      case 'sync': {
        // A fast disk: finish any write in flight, then write and release the next Ready.
        const rd = pending.get(a.n);
        pending.delete(a.n);
        if (rd) c.handleReady(a.n, rd);
        if (c.node(a.n).hasReady()) c.handleReady(a.n, c.node(a.n).ready());
        break;
      }
      case 'crash':
        pending.delete(a.n); // the Ready being written is lost
        c.crash(a.n);
        c.restart(a.n);
        break;
      case 'propose':
        c.node(a.n).propose(`d${a.d}`);
        break;
      case 'conf':
        c.node(a.n).proposeConfChange(a.cc);
        break;
      case 'compact':
        if (!pending.has(a.n)) c.compact(a.n);
        break;
      case 'transfer':
        c.node(a.n).transferLeadership(a.to);
        break;
      case 'campaign':
        c.node(a.n).campaign();
        break;
    }
    for (const id of IDS) checkLeader(id);
    if (c.violations.length > 0) break;
  }
  assert.equal(c.violations, []);

  // Heal: finish in-flight writes, then run with a perfect network; a leader must emerge and
  // commit a new entry on every voter. Without pre-vote or check-quorum a removed node that
  // never learned of its removal may keep disrupting elections (Raft dissertation §4.2.3), so
  // liveness is only required with one of the two.
  for (const [id, rd] of pending) c.handleReady(id, rd);
  c.stabilize();
  if (!preVote && !checkQuorum) {
    c.tickAll(80);
    for (const id of IDS) checkLeader(id);
    assert.equal(c.violations, []);
    return;
  }
  c.tickAll(80);
  const leaders = c.leadersNow();
  assert.is(leaders.length, 1, `leaders: ${leaders}; ${JSON.stringify(IDS.map((id) => c.node(id).status()))}`);
  const l = leaders[0]!;
  c.tickAll(20); // let any transfer or pending conf change settle
  const lead = c.leadersNow()[0] ?? l;
  assert.ok(c.propose(lead, 'final'), 'leader accepts a proposal');
  c.tickAll(3);
  const voters = c.node(lead).status().conf.voters;
  for (const id of voters) assert.ok(c.sm.get(id)!.includes('final'), `voter ${id} applied the final entry`);
  for (const id of IDS) checkLeader(id);
  assert.equal(c.violations, []);
}

