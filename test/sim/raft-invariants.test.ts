// Each Raft invariant checker, fed hand-built bad states, must report them;
// fed good states, must stay quiet.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Entry } from '../../src/raft/index.js';
import { RaftInvariants } from '../../src/sim/check/raft-invariants.js';
import type { ReplicaProbe } from '../../src/sim/check/raft-invariants.js';
import { violationOf } from './violation-of.js';
import { DurableLog } from '../../src/sim/raft-storage.js';

const e = (index: number, term: number, data = `d${index}`): Entry => ({ index, term, kind: 'normal', data });

/** A replica whose log (and disk) is exactly the given entries. */
function replica(host: number, entries: Entry[]): ReplicaProbe {
  const durable = new DurableLog();
  durable.append(entries);
  return { host, durable, termAt: (i) => (i === 0 ? 0 : durable.termAt(i)), snapshotIndex: () => 0, currentTerm: () => 1 };
}


function cluster(replicas: ReplicaProbe[]): RaftInvariants {
  return new RaftInvariants(0, [1, 2, 3], () => replicas);
}

test('election safety: two leaders in one term are reported', () => {
  const rs = [replica(1, []), replica(2, []), replica(3, [])];
  const c = cluster(rs);
  c.becameLeader(rs[0]!, 1);
  assert.is(violationOf(() => c.becameLeader(rs[0]!, 1)), null, 'the same leader again is fine');
  assert.is(violationOf(() => c.becameLeader(rs[1]!, 2)), null, 'another leader in a later term is fine');
  assert.is(violationOf(() => c.becameLeader(rs[2]!, 1)), 'election-safety');
});

test('state machine safety: divergent committed entries are reported', () => {
  const a = replica(1, [e(1, 1), e(2, 1)]);
  const b = replica(2, [e(1, 1), e(2, 2, 'other')]);
  const c = cluster([a, b, replica(3, [e(1, 1), e(2, 1)])]);
  c.applied(a, [e(1, 1), e(2, 1)]);
  assert.is(violationOf(() => c.applied(b, [e(1, 1)])), null, 'applying the same entry again is fine');
  assert.is(violationOf(() => c.applied(b, [e(2, 2, 'other')])), 'state-machine-safety');
});

test('state machine safety: applying out of order is reported', () => {
  const a = replica(1, [e(1, 1), e(2, 1)]);
  const c = cluster([a, replica(2, [e(1, 1), e(2, 1)]), replica(3, [])]);
  assert.is(violationOf(() => c.applied(a, [e(2, 1)])), 'state-machine-safety');
});

test('durability: an entry applied while durable on a minority (a lost committed entry) is reported', () => {
  const a = replica(1, [e(1, 1)]);
  const c = cluster([a, replica(2, []), replica(3, [])]);
  assert.is(violationOf(() => c.applied(a, [e(1, 1)])), 'committed-durable-on-quorum');
  const b = replica(2, [e(1, 1)]);
  const ok = cluster([a, b, replica(3, [])]);
  assert.is(violationOf(() => ok.applied(a, [e(1, 1)])), null, 'two of three is a quorum');
});

test('leader completeness: a leader missing a committed entry is reported', () => {
  const a = replica(1, [e(1, 1), e(2, 1)]);
  const b = replica(2, [e(1, 1), e(2, 1)]);
  const lagging = replica(3, [e(1, 1)]);
  const c = cluster([a, b, lagging]);
  c.applied(a, [e(1, 1), e(2, 1)]);
  assert.is(violationOf(() => c.becameLeader(b, 2)), null);
  assert.is(violationOf(() => c.becameLeader(lagging, 1)), null, 'a stale leader of the commit term itself need not have it');
  assert.is(violationOf(() => c.becameLeader(lagging, 3)), 'leader-completeness');
});

test('log matching: the same index and term with different data is reported', () => {
  const a = replica(1, [e(1, 1), e(2, 2, 'x')]);
  const b = replica(2, [e(1, 1), e(2, 2, 'y')]);
  const c = cluster([a, b]);
  c.persisted(a, [e(1, 1), e(2, 2, 'x')], null);
  assert.is(violationOf(() => c.persisted(b, [e(1, 1), e(2, 2, 'y')], null)), 'log-matching');
});

test('log matching: the same index and term after different previous terms is reported', () => {
  const a = replica(1, [e(1, 1, 'p'), e(2, 3, 'x')]);
  const b = replica(2, [e(1, 2, 'p'), e(2, 3, 'x')]);
  const c = cluster([a, b]);
  c.persisted(a, [e(1, 1, 'p'), e(2, 3, 'x')], null);
  assert.is(violationOf(() => c.persisted(b, [e(1, 2, 'p'), e(2, 3, 'x')], null)), 'log-matching');
});

test('leader append-only: a leader rewriting its own log is reported', () => {
  const a = replica(1, [e(1, 1), e(2, 1), e(3, 1)]);
  const c = cluster([a]);
  c.persisted(a, [e(1, 1), e(2, 1), e(3, 1)], 1);
  assert.is(violationOf(() => c.persisted(a, [e(4, 1)], 1)), null, 'appending is fine');
  assert.is(violationOf(() => c.persisted(a, [e(3, 1, 'rewritten')], 1)), 'leader-append-only');
});

test('acknowledged writes: an ack for an entry that is not the committed one is reported', () => {
  const a = replica(1, [e(1, 1, 'w1')]);
  const c = cluster([a, replica(2, [e(1, 1, 'w1')]), replica(3, [])]);
  c.applied(a, [e(1, 1, 'w1')]);
  assert.is(violationOf(() => c.acknowledged(1, 1, (d) => d === 'w1', 'write 1')), null);
  assert.is(violationOf(() => c.acknowledged(1, 1, (d) => d === 'w2', 'write 2')), 'acked-write-committed');
  assert.is(violationOf(() => c.acknowledged(2, 1, () => true, 'write 3')), 'acked-write-committed', 'an index never committed');
});

test.run();
