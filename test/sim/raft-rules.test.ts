// Each per-step Raft rule, fed a replica whose step breaks it, must report
// it; fed the step the rule allows, must stay quiet. The replica is a stand-in
// whose state each test sets before and after the "step".
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Entry, Message, NodeId, Role } from '../../src/raft/index.js';
import { RaftInvariants } from '../../src/sim/check/raft-invariants.js';
import { RaftRules } from '../../src/sim/check/raft-rules.js';
import type { RuleSubject } from '../../src/sim/check/raft-rules.js';
import { violationOf } from './violation-of.js';

interface State {
  term: number; vote: NodeId; role: Role; lead: NodeId; commit: number; applied: number; snapshotIndex: number; leadTransferee: NodeId;
  voters: NodeId[];
  log: Entry[];
  /** Messages the core refused so far. */
  refused: number;
}

const e = (index: number, term: number, kind: Entry['kind'] = 'normal'): Entry => ({ index, term, kind, data: kind === 'conf' ? '{"type":"addNode","node":4}' : `d${index}` });

function replica(host: number, init: Partial<State> = {}): RuleSubject & { s: State } {
  const s: State = { term: 1, vote: 0, role: 'follower', lead: 0, commit: 0, applied: 0, snapshotIndex: 0, leadTransferee: 0, voters: [1, 2, 3], log: [], refused: 0, ...init };
  return {
    host, group: 0, s,
    node: {
      peek: (into) => Object.assign(into, {
        term: s.term, vote: s.vote, role: s.role, lead: s.lead, commit: s.commit, applied: s.applied, snapshotIndex: s.snapshotIndex,
        leadTransferee: s.leadTransferee, lastIndex: s.snapshotIndex + s.log.length, voters: [...s.voters],
      }),
      termAt: (i) => (i === 0 ? 0 : s.log.find((x) => x.index === i)?.term ?? null),
      entryAt: (i) => s.log.find((x) => x.index === i),
      refusals: () => ({ malformed: 0, termBeyondBound: s.refused, indexBeyondBound: 0, rivalLeader: 0 }),
    },
  };
}

const msg = (type: Message['type'], from: NodeId, term: number, extra: Partial<Message> = {}): Message => ({
  type, from, to: 1, term, logTerm: 0, index: 0, entries: [], commit: 0, reject: false, rejectHint: 0, snapshot: null, transfer: false, ...extra,
});

const rules = (checkQuorum = true): RaftRules => new RaftRules({ electionTicks: 3, checkQuorum }, [new RaftInvariants(0, [1, 2, 3], () => [])]);

/** Steps m on r: `change` is what the step does to the replica's state. */
function step(k: RaftRules, r: ReturnType<typeof replica>, m: Message, change: (s: State) => void): string | null {
  return violationOf(() => {
    const d = k.delivering(r, m);
    change(r.s);
    k.delivered(d);
  });
}

test('a message of an older term changes nothing; a higher term is adopted', () => {
  const k = rules();
  const r = replica(1, { term: 5, lead: 2 });
  assert.is(step(k, r, msg('app', 3, 4), () => undefined), null, 'refused');
  assert.is(step(k, r, msg('app', 3, 4), (s) => (s.lead = 3)), 'stale-term-refused');
  const l = replica(1, { term: 5, role: 'leader', lead: 1 });
  assert.is(step(k, l, msg('appResp', 2, 6), () => undefined), 'higher-term-adopted');
  assert.is(step(k, l, msg('appResp', 2, 6), (s) => Object.assign(s, { term: 6, role: 'follower', lead: 0 })), null);
  assert.is(step(k, replica(1, { term: 5 }), msg('vote', 2, 6), () => undefined), null, 'a vote may be ignored under a lease');
});

test('a message the core refuses (beyond the bounds) changes nothing, and is no higher term to adopt', () => {
  const k = rules();
  const l = replica(1, { term: 5, role: 'leader', lead: 1 });
  assert.is(step(k, l, msg('appResp', 2, 2 ** 53 - 1), (s) => s.refused++), null, 'refused, not adopted');
  assert.is(step(k, l, msg('appResp', 2, 2 ** 53 - 1), (s) => Object.assign(s, { refused: s.refused + 1, role: 'follower', lead: 0 })), 'refused-changes-nothing');
});

test('a pre-vote changes neither term nor vote', () => {
  const k = rules();
  assert.is(step(k, replica(1, { term: 2 }), msg('preVote', 2, 3), () => undefined), null);
  assert.is(step(k, replica(1, { term: 2 }), msg('preVote', 2, 3), (s) => (s.term = 3)), 'pre-vote-no-side-effects');
});

test('an append commits no further than its last entry, and removes entries only from a conflict on', () => {
  const k = rules();
  const log = [e(1, 1), e(2, 1), e(3, 1)];
  const fine = replica(1, { term: 2, lead: 2, log: [...log] });
  assert.is(step(k, fine, msg('app', 2, 2, { index: 1, logTerm: 1, entries: [e(2, 1)], commit: 3 }), (s) => (s.commit = 2)), null);
  const far = replica(1, { term: 2, lead: 2, log: [...log] });
  assert.is(step(k, far, msg('app', 2, 2, { index: 1, logTerm: 1, entries: [e(2, 1)], commit: 3 }), (s) => (s.commit = 3)), 'append-commit-bound');
  const cut = replica(1, { term: 2, lead: 2, log: [...log] });
  assert.is(step(k, cut, msg('app', 2, 2, { index: 1, logTerm: 1, entries: [e(2, 1)] }), (s) => (s.log = s.log.slice(0, 2))), 'append-keeps-log');
  const conflict = replica(1, { term: 2, lead: 2, log: [...log] });
  assert.is(step(k, conflict, msg('app', 2, 2, { index: 1, logTerm: 1, entries: [e(2, 2)] }), (s) => (s.log = [e(1, 1), e(2, 2)])), null);
});

test('a leader commits by counting only an entry of its own term', () => {
  const k = rules();
  const log = [e(1, 1), e(2, 1), e(3, 3)];
  assert.is(step(k, replica(1, { term: 3, role: 'leader', lead: 1, log }), msg('appResp', 2, 3, { index: 2 }), (s) => (s.commit = 2)), 'leader-commits-own-term');
  assert.is(step(k, replica(1, { term: 3, role: 'leader', lead: 1, log }), msg('appResp', 2, 3, { index: 3 }), (s) => (s.commit = 3)), null);
});

test('commit bounds: snapshot <= commit <= last index, applied <= commit', () => {
  const k = rules();
  assert.is(violationOf(() => k.ticked(1, [replica(1, { snapshotIndex: 10, commit: 9, applied: 9, log: [] })])), 'commit-bounds');
  assert.is(violationOf(() => k.ticked(1, [replica(1, { commit: 2, applied: 1, log: [e(1, 1), e(2, 1)] })])), null);
});

test('membership: voters follow the applied configuration; one change at a time, after a commit of the term', () => {
  const k = rules();
  assert.is(violationOf(() => k.ticked(1, [replica(1, { voters: [1, 2, 3, 4], log: [e(1, 1, 'conf')] })])), 'conf-at-applied');
  const early = replica(1, { term: 2, role: 'leader', lead: 1, commit: 1, applied: 1, log: [e(1, 1), e(2, 2), e(3, 2, 'conf')] });
  assert.is(violationOf(() => k.ticked(1, [early])), 'conf-change-after-own-commit');
  const two = replica(1, { term: 2, role: 'leader', lead: 1, commit: 2, applied: 2, log: [e(1, 1), e(2, 2), e(3, 2, 'conf'), e(4, 2, 'conf')] });
  assert.is(violationOf(() => k.ticked(1, [two])), 'one-conf-change-at-a-time');
  const one = replica(1, { term: 2, role: 'leader', lead: 1, commit: 2, applied: 2, log: [e(1, 1), e(2, 2), e(3, 2, 'conf')] });
  assert.is(violationOf(() => k.ticked(1, [one])), null);
});

test('check-quorum: a leader that hears from no quorum for two election timeouts must have stepped down', () => {
  const run = (answered: boolean, checkQuorum = true): string | null => {
    const k = rules(checkQuorum);
    const l = replica(1, { term: 2, role: 'leader', lead: 1 });
    return violationOf(() => {
      for (let t = 0; t < 12; t++) {
        k.ticked(1, [l]);
        if (answered) k.delivered(k.delivering(l, msg('heartbeatResp', 2, 2)));
      }
    });
  };
  assert.is(run(true), null);
  assert.is(run(false), 'check-quorum');
  assert.is(run(false, false), null, 'without check-quorum a cut-off leader may stay');
});

test.run();
