// A delivered message's trace event carries the message's own values under
// the vocabulary's names: a field named like a message property holds that
// property, so a mapping that swaps or drops a field is caught.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Message, MessageType } from '../../src/raft/index.js';
import type { TraceEvent } from '../../src/host/trace-events.js';
import { recordDelivery } from '../../src/sim/delivery-trace.js';
import { Trace } from '../../src/sim/trace.js';
import type { VmmMessage } from '../../src/vmm/protocol.js';
import type { SimEnvelope } from '../../src/sim/kv-wire.js';

function delivered(env: SimEnvelope): TraceEvent {
  const t = new Trace({ clock: { now: 42 } });
  recordDelivery(t.record, 3, 5, env);
  assert.is(t.count, 1);
  return t.last()[0]!;
}

/** Every event field named like a scalar property of `msg` holds that property's value (booleans as 0/1). */
function assertCarries(e: TraceEvent, msg: object, kind: string): void {
  assert.is(e.kind, kind);
  assert.is(e.t, 42);
  assert.is(e.host, 5, 'the receiver');
  assert.is(e.from, 3, 'the sender');
  let matched = 0;
  for (const [name, value] of Object.entries(msg)) {
    // The event's own keys and structured message values (entries, leases) are not field values.
    if (!(name in e) || ['t', 'host', 'kind', 'from'].includes(name) || (typeof value === 'object' && value !== null)) continue;
    const want = typeof value === 'boolean' ? (value ? 1 : 0) : value;
    assert.is(e[name], want, `${kind}.${name}`);
    matched++;
  }
  assert.ok(matched > 0, `${kind}: no field matched the message`);
}

const RAFT_TYPES: MessageType[] = ['app', 'appResp', 'heartbeat', 'heartbeatResp', 'vote', 'voteResp', 'preVote', 'preVoteResp', 'snap', 'timeoutNow'];

test('raft messages: group, sender and the message fields, under their names', () => {
  for (const type of RAFT_TYPES) {
    const msg: Message = {
      type, from: 3, to: 5, term: 11, logTerm: 9, index: 17, commit: 15, reject: true, rejectHint: 13, transfer: true,
      entries: [{ term: 11, index: 18, kind: 'normal', data: 'a' }, { term: 11, index: 19, kind: 'normal', data: 'b' }],
      snapshot: type === 'snap' ? { index: 30, term: 8, conf: { voters: [1, 2, 3], learners: [] }, data: '' } : null,
    };
    const e = delivered({ kind: 'raft', group: 2, msg });
    assert.is(e.group, 2, type);
    if (type === 'snap') {
      assert.is(e.index, 30, 'a snapshot is named by its last index and term');
      assert.is(e.logTerm, 8);
      assert.is(e.term, 11);
      continue;
    }
    assertCarries(e, msg, type);
    if ('entries' in e) assert.is(e.entries, 2, 'entries counts them');
    if ('hint' in e) assert.is(e.hint, 13);
  }
});

test('VMM messages: sender and the message fields, the mode or reason as the note', () => {
  const lease = { term: 4, grantedAtUs: 99 };
  const msgs: VmmMessage[] = [
    { t: 'acquire', req: 7, page: 12, mode: 'write', have: 3 },
    { t: 'grant', req: 7, page: 12, mode: 'read', version: 4, data: null, leaseUs: 500_000, index: 21, lease },
    { t: 'refuse', req: 7, page: 12, why: 'not-leader', leader: 2, version: 4 },
    { t: 'revoke', rev: 8, page: 12, index: 21 },
    { t: 'revoked', rev: 8, page: 12, data: 'AAAA', seq: 31 },
    { t: 'release', req: 9, page: 12, data: 'AAAA', keep: 'read', seq: 32, wb: 1, lease },
    { t: 'released', req: 9, page: 12, version: 5, index: 22 },
    { t: 'alloc', req: 10, company: 1, id: '5.3', pages: 2 },
    { t: 'alloc-ok', req: 10, firstPage: 40 },
    { t: 'free', req: 11, addr: 4096, run: 's:3:9' },
    { t: 'free-owner', req: 11, addr: 4096, host: 4 },
    { t: 'free-token', req: 11, addr: 4096, id: 's:4:2', gen: 6 },
    { t: 'free-block', req: 11, addr: 4096, id: 's:4:2', gen: 6 },
    { t: 'free-ok', req: 11, addr: 4096 },
  ];
  for (const msg of msgs) assertCarries(delivered({ kind: 'vmm', msg }), msg, msg.t);
  assert.is(delivered({ kind: 'vmm', msg: msgs[4]! }).dirty, 1, 'revoked with contents');
  assert.is(delivered({ kind: 'vmm', msg: { t: 'revoked', rev: 8, page: 12, data: null, seq: 31 } }).dirty, 0);
  assert.is(delivered({ kind: 'vmm', msg: { ...msgs[5]!, keep: null } as VmmMessage }).keep, 'none');
  assert.is(delivered({ kind: 'vmm', msg: msgs[10]! }).for, 4, 'free-owner names whom it frees for');
});

test('key-value messages: requests with their op, answers and not-leader hints', () => {
  const req = delivered({ kind: 'kv-request', group: 1, client: 6, seq: 14, op: { op: 'append', key: 'k1', value: 'x' } });
  assertCarries(req, { group: 1, client: 6, seq: 14 }, 'kv-request');
  assert.is(req.op, 'append');
  const ok = { kind: 'kv-response', client: 6, seq: 14, status: 'ok', index: 33, term: 4, value: 'x' } as const;
  assertCarries(delivered(ok), ok, 'kv-response');
  const redirect = { kind: 'kv-response', client: 6, seq: 14, status: 'not-leader', leader: 2 } as const;
  assertCarries(delivered(redirect), redirect, 'kv-not-leader');
});

test.run();
