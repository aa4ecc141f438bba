// Framing and the binary envelope codec: what a host does with bytes from the
// network. What the decoder accepts is compared against an independent oracle
// (a zod schema of the Envelope types, with isValidMessage for Raft semantics),
// so the property tests do not grade decodeEnvelope with itself.
import fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { z } from 'zod';
import type { Entry, Message, MessageType, Snapshot } from '../../src/raft/types.js';
import { isValidMessage } from '../../src/raft/validate.js';
import { decodeEnvelope, encodeEnvelope, EnvelopeEncoder } from '../../src/real/envelope-codec.js';
import { decodeFrame, encodeFrame, FRAME_MAGIC, FRAME_VERSION, FrameDecoder, framePrefix, matchFrame, type FrameHeader } from '../../src/real/frame.js';
import type { Envelope } from '../../src/vmm/wire.js';

// --- examples -----------------------------------------------------------------

const H: FrameHeader = { clusterId: 'c1', from: 7 };

function raftMsg(over: Partial<Message> = {}): Message {
  return {
    type: 'app', from: 1, to: 2, term: 3, logTerm: 2, index: 4,
    entries: [{ term: 2, index: 5, kind: 'normal', data: 'x' }, { term: 3, index: 6, kind: 'conf', data: '{"type":"addNode","node":4}' }],
    commit: 4, reject: false, rejectHint: 0, snapshot: null, transfer: false, ...over,
  };
}

const lease = { term: 3, grantedAtUs: 12345 };
const EXAMPLES: Envelope[] = [
  { kind: 'raft', group: 0, msg: raftMsg() },
  { kind: 'raft', group: 5, msg: raftMsg({ type: 'snap', entries: [], snapshot: { index: 9, term: 3, conf: { voters: [1, 2, 3], learners: [4] }, data: 'snap' } }) },
  { kind: 'vmm', msg: { t: 'acquire', req: 1, page: 10, mode: 'read', have: -1 } },
  { kind: 'vmm', msg: { t: 'grant', req: 1, page: 10, mode: 'write', version: 2, data: null, leaseUs: 500000, index: 17, lease } },
  { kind: 'vmm', msg: { t: 'grant', req: 1, page: 10, mode: 'read', version: 2, data: 'AAAA', leaseUs: 500000, index: 17, lease } },
  { kind: 'vmm', msg: { t: 'refuse', req: 2, page: 11, why: 'not-leader', leader: 3, version: 0 } },
  { kind: 'vmm', msg: { t: 'revoke', rev: 4, page: 10, index: 20 } },
  { kind: 'vmm', msg: { t: 'revoked', rev: 4, page: 10, data: null, seq: 9 } },
  { kind: 'vmm', msg: { t: 'release', req: 5, page: 10, data: 'AAAA', keep: null, seq: 10, wb: 1, lease } },
  { kind: 'vmm', msg: { t: 'release', req: 5, page: 10, data: '', keep: 'write', seq: 10, wb: 1, lease } },
  { kind: 'vmm', msg: { t: 'released', req: 5, page: 10, version: 3, index: 21 } },
  { kind: 'vmm', msg: { t: 'alloc', req: 6, company: 2, id: 'h1-6', pages: 3 } },
  { kind: 'vmm', msg: { t: 'alloc-ok', req: 6, firstPage: 120 } },
  { kind: 'vmm', msg: { t: 'free', req: 7, addr: 4096, run: 's:2:7' } },
  { kind: 'vmm', msg: { t: 'free', req: 7, addr: 4096, run: null } },
  { kind: 'vmm', msg: { t: 'free-owner', req: 7, addr: 4096, host: 2 } },
  { kind: 'vmm', msg: { t: 'free-token', req: 7, addr: 4096, id: 's:2:7', gen: 3 } },
  { kind: 'vmm', msg: { t: 'free-block', req: 7, addr: 4096, id: 's:2:7', gen: 3 } },
  { kind: 'vmm', msg: { t: 'free-ok', req: 7, addr: 4096 } },
  { kind: 'vmm', msg: { t: 'fetch', req: 8, page: 10, have: -1, need: {} } },
  { kind: 'vmm', msg: { t: 'fetch', req: 8, page: 10, have: 2, need: { 1: 3, 4: 2 ** 32 + 1 } } },
  { kind: 'vmm', msg: { t: 'page', req: 8, page: 10, version: 3, data: null, diffs: ['AQID', 'BAU=', ''], applied: { 1: 3 } } },
  { kind: 'vmm', msg: { t: 'page', req: 8, page: 10, version: 3, data: 'AAAA', diffs: null, applied: {} } },
  { kind: 'vmm', msg: { t: 'diff', req: 9, page: 10, interval: 2, vt: { 0: 4, 1: 2, 999_999_999: Number.MAX_SAFE_INTEGER }, diff: 'AQID', record: null, recordSeq: 0 } },
  { kind: 'vmm', msg: { t: 'diff', req: 9, page: 10, interval: 2, vt: { 1: 2 }, diff: 'AQID', record: '{"vt":{"1":2},"intervals":[]}', recordSeq: 3 } },
  { kind: 'vmm', msg: { t: 'diffed', req: 9, page: 10, version: 4, floor: {}, recorded: false } },
  { kind: 'vmm', msg: { t: 'diffed', req: 9, page: 10, version: 4, floor: { 2: 1, 3: 7 }, recorded: true } },
  { kind: 'vmm', msg: { t: 'lock-acquire', req: 10, id: 0xffffffff, thread: 3, token: 0 } },
  { kind: 'vmm', msg: { t: 'lock-granted', req: 10, id: 7, thread: 3, token: 2, leaseUs: 500000, index: 30, published: '{"vt":{"1":2}}', lapsed: false, lapsedHosts: [] } },
  { kind: 'vmm', msg: { t: 'lock-granted', req: 10, id: 0, thread: 3, token: 2, leaseUs: 500000, index: 0, published: null, lapsed: true, lapsedHosts: [2, 4, 2 ** 32 - 1] } },
  { kind: 'vmm', msg: { t: 'lock-queued', req: 10, id: 7, thread: 3 } },
  { kind: 'vmm', msg: { t: 'lock-lost', req: 10, id: 7, thread: 3, token: 2 } },
  { kind: 'vmm', msg: { t: 'lock-recall', id: 0xffffffff, token: 1 } },
  { kind: 'vmm', msg: { t: 'lock-recall', id: 7, token: Number.MAX_SAFE_INTEGER } },
  { kind: 'vmm', msg: { t: 'lock-release', req: 11, id: 7, thread: 3, token: 2, published: null } },
  { kind: 'vmm', msg: { t: 'lock-release', req: 11, id: 7, thread: 3, token: 1, published: 'ü\ud800' } },
  { kind: 'vmm', msg: { t: 'lock-released', req: 11, id: 7, thread: 3, committed: true } },
  { kind: 'vmm', msg: { t: 'lock-released', req: 11, id: 7, thread: 3, committed: false } },
  { kind: 'vmm', msg: { t: 'host-record', req: 14, incarnation: 2, seq: 1, published: '{"vt":{"1":2}}' } },
  { kind: 'vmm', msg: { t: 'host-recorded', req: 14 } },
  { kind: 'vmm', msg: { t: 'host-records', req: 15, host: 0xffffffff } },
  { kind: 'vmm', msg: { t: 'host-records-are', req: 15, host: 3, published: ['a', ''] } },
  { kind: 'vmm', msg: { t: 'host-records-are', req: 15, host: 3, published: [] } },
  { kind: 'vmm', msg: { t: 'barrier-arrive', req: 12, name: 5, parties: 3, episode: 1, thread: 4, published: 'r' } },
  { kind: 'vmm', msg: { t: 'barrier-wait', req: 12, name: 5, episode: 1, thread: 4 } },
  { kind: 'vmm', msg: { t: 'barrier-open', req: 12, name: 0xffffffff, episode: 1, thread: 4, published: ['a', '', 'b'] } },
  { kind: 'vmm', msg: { t: 'barrier-open', req: 12, name: 5, episode: 0, thread: 4, published: [] } },
  { kind: 'vmm', msg: { t: 'sync-refuse', req: 13, why: 'invalid', leader: 0, detail: 'barrier 5 has 3 parties, not 4' } },
  { kind: 'vmm', msg: { t: 'sync-refuse', req: 13, why: 'not-leader', leader: 2, detail: '' } },
];
/** The first example of a VMM variant. */
const exampleOf = (t: string): Envelope => EXAMPLES.find((e) => e.kind === 'vmm' && e.msg.t === t) as Envelope;

// --- the oracle -----------------------------------------------------------------

const n0 = z.int().min(0);
const n1 = z.int().min(1);
const u32 = z.int().min(0).max(2 ** 32 - 1);
// A release's published record: opaque text, as long as the page table keeps (64 Ki chars); a barrier has one per party at most.
const recordZ = z.string().max(64 * 1024);
const recordsZ = z.array(recordZ).max(2 ** 16);
// A vector time: counts by host id (the page table's rule: a host id, 0 to 2^32 - 1), at most 4096 entries on the wire; zeros dropped.
const vtZ = z.record(z.string().regex(/^(0|[1-9][0-9]{0,9})$/).refine((k) => Number(k) <= 2 ** 32 - 1), n0)
  .refine((vt) => Object.keys(vt).length <= 4096)
  .transform((vt) => Object.fromEntries(Object.entries(vt).filter(([, n]) => n > 0)));
const mode = z.enum(['read', 'write']);
const leaseZ = z.object({ term: n0, grantedAtUs: n0 });
const entryZ = z.object({ term: z.int(), index: z.int(), kind: z.enum(['normal', 'conf']), data: z.string() });
const confZ = z.object({ voters: z.array(z.int()), learners: z.array(z.int()) });
const snapZ = z.object({ index: z.int(), term: z.int(), conf: confZ, data: z.string() });
// The shape; the rules are the core's own.
const messageZ = z.object({
  type: z.string(), from: z.int(), to: z.int(), term: z.int(), logTerm: z.int(), index: z.int(), entries: z.array(entryZ),
  commit: z.int(), reject: z.boolean(), rejectHint: z.int(), snapshot: snapZ.nullable(), transfer: z.boolean(),
}).refine((m) => isValidMessage(m));
const vmmZ = z.discriminatedUnion('t', [
  z.object({ t: z.literal('acquire'), req: n0, page: n0, mode, have: z.int().min(-1) }),
  z.object({ t: z.literal('grant'), req: n0, page: n0, mode, version: n0, data: z.string().nullable(), leaseUs: n0, index: n0, lease: leaseZ }),
  z.object({ t: z.literal('refuse'), req: n0, page: n0, why: z.enum(['not-leader', 'busy', 'conflict', 'not-allocated', 'no-space', 'invalid']), leader: n0, version: n0 }),
  z.object({ t: z.literal('revoke'), rev: n0, page: n0, index: n0 }),
  z.object({ t: z.literal('revoked'), rev: n0, page: n0, data: z.string().nullable(), seq: n0 }),
  z.object({ t: z.literal('release'), req: n0, page: n0, data: z.string(), keep: mode.nullable(), seq: n0, wb: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER), lease: leaseZ }),
  z.object({ t: z.literal('released'), req: n0, page: n0, version: n0, index: n0 }),
  z.object({ t: z.literal('alloc'), req: n0, company: n0, id: z.string().max(256), pages: z.int().min(1) }),
  z.object({ t: z.literal('alloc-ok'), req: n0, firstPage: n0 }),
  z.object({ t: z.literal('free'), req: n0, addr: n0, run: z.string().max(256).nullable() }),
  z.object({ t: z.literal('free-owner'), req: n0, addr: n0, host: n0 }),
  z.object({ t: z.literal('free-token'), req: n0, addr: n0, id: z.string().max(256), gen: n0 }),
  z.object({ t: z.literal('free-block'), req: n0, addr: n0, id: z.string().max(256), gen: n0 }),
  z.object({ t: z.literal('free-ok'), req: n0, addr: n0 }),
  z.object({ t: z.literal('fetch'), req: n0, page: n0, have: z.int().min(-1), need: vtZ }),
  z.object({ t: z.literal('page'), req: n0, page: n0, version: n0, data: z.string().nullable(), diffs: z.array(z.string()).nullable(), applied: vtZ }),
  z.object({ t: z.literal('diff'), req: n0, page: n0, interval: n1, vt: vtZ, diff: z.string(), record: recordZ.nullable(), recordSeq: n0 }),
  z.object({ t: z.literal('diffed'), req: n0, page: n0, version: n0, floor: vtZ, recorded: z.boolean() }),
  z.object({ t: z.literal('lock-acquire'), req: n0, id: u32, thread: n0, token: n0 }),
  z.object({ t: z.literal('lock-granted'), req: n0, id: u32, thread: n0, token: n0, leaseUs: n0, index: n0, published: recordZ.nullable(), lapsed: z.boolean(), lapsedHosts: z.array(z.number().int().min(1).max(2 ** 32 - 1)).refine((a) => a.every((h, i) => i === 0 || h > a[i - 1]!)) }),
  z.object({ t: z.literal('lock-queued'), req: n0, id: u32, thread: n0 }),
  z.object({ t: z.literal('lock-lost'), req: n0, id: u32, thread: n0, token: n0 }),
  z.object({ t: z.literal('lock-recall'), id: u32, token: n1 }),
  z.object({ t: z.literal('lock-release'), req: n0, id: u32, thread: n0, token: n1, published: recordZ.nullable() }),
  z.object({ t: z.literal('lock-released'), req: n0, id: u32, thread: n0, committed: z.boolean() }),
  z.object({ t: z.literal('host-record'), req: n0, incarnation: n0, seq: n1, published: recordZ }),
  z.object({ t: z.literal('host-recorded'), req: n0 }),
  z.object({ t: z.literal('host-records'), req: n0, host: n1 }),
  z.object({ t: z.literal('host-records-are'), req: n0, host: n1, published: recordsZ }),
  z.object({ t: z.literal('barrier-arrive'), req: n0, name: u32, parties: n1, episode: n0, thread: n0, published: recordZ.nullable() }),
  z.object({ t: z.literal('barrier-wait'), req: n0, name: u32, episode: n0, thread: n0 }),
  z.object({ t: z.literal('barrier-open'), req: n0, name: u32, episode: n0, thread: n0, published: recordsZ }),
  z.object({ t: z.literal('sync-refuse'), req: n0, why: z.enum(['not-leader', 'invalid']), leader: n0, detail: z.string().max(1024) }),
]);
const envelopeZ = z.union([
  z.object({ kind: z.literal('raft'), group: n0, msg: messageZ }),
  z.object({ kind: z.literal('vmm'), msg: vmmZ }),
]);

/**
 * The codec and the oracle agree on `value`: what the sender's encoder can
 * write, the decoder accepts exactly when the oracle does, and gives back the
 * oracle's value. (An encoder that refuses is a sender's bug: the oracle must
 * refuse it too.)
 */
function agrees(value: unknown): void {
  const theirs = envelopeZ.safeParse(value);
  let bytes: Buffer;
  try {
    bytes = encodeEnvelope(value as Envelope);
  } catch {
    assert.ok(!theirs.success, `the encoder refused a valid ${JSON.stringify(value)}`);
    return;
  }
  const mine = decodeEnvelope(bytes);
  assert.is(mine !== null, theirs.success, `disagree on ${JSON.stringify(value)}`);
  if (theirs.success) assert.equal(mine, theirs.data);
}

/** An envelope's frame with the test header. */
const frameOf = (env: Envelope): Buffer => encodeFrame(H, encodeEnvelope(env));

// --- arbitraries ----------------------------------------------------------------

const TYPES: MessageType[] = ['app', 'appResp', 'heartbeat', 'heartbeatResp', 'vote', 'voteResp', 'preVote', 'preVoteResp', 'snap', 'timeoutNow'];
const small = fc.nat({ max: 1000 });
const pos = fc.integer({ min: 1, max: 1000 });

const snapshotArb: fc.Arbitrary<Snapshot> = fc.record({
  index: small, term: small, data: fc.string(),
  conf: fc.record({ voters: fc.uniqueArray(pos, { maxLength: 4 }), learners: fc.uniqueArray(pos, { maxLength: 2 }) })
    .map(({ voters, learners }) => ({
      voters: [...voters].sort((a, b) => a - b),
      learners: learners.filter((l) => !voters.includes(l)).sort((a, b) => a - b),
    })),
});

const messageArb: fc.Arbitrary<Message> = fc.record({
  type: fc.constantFrom(...TYPES), from: pos, to: pos, term: fc.nat({ max: 20 }), index: small, commit: small,
  reject: fc.boolean(), rejectHint: small, transfer: fc.boolean(), logTermFrac: fc.double({ min: 0, max: 1, noNaN: true }),
  steps: fc.array(fc.nat({ max: 1 }), { maxLength: 4 }), data: fc.array(fc.string({ maxLength: 8 }), { minLength: 4, maxLength: 4 }),
  snapshot: fc.option(snapshotArb, { nil: null }),
}).map((r) => {
  const logTerm = Math.floor(r.logTermFrac * r.term);
  const entries: Entry[] = [];
  let term = Math.max(logTerm, 1);
  if (r.term >= 1) {
    r.steps.forEach((s, i) => {
      term = Math.min(r.term, term + s);
      entries.push({ term, index: r.index + i + 1, kind: i % 2 === 0 ? 'normal' : 'conf', data: r.data[i] as string });
    });
  }
  const snapshot = r.type === 'snap' && r.snapshot === null ? { index: 0, term: 0, conf: { voters: [1], learners: [] }, data: '' } : r.snapshot;
  return {
    type: r.type, from: r.from, to: r.to, term: r.term, logTerm, index: r.index, entries, commit: r.commit,
    reject: r.reject, rejectHint: r.rejectHint, snapshot, transfer: r.transfer,
  };
});

const modeArb = fc.constantFrom('read' as const, 'write' as const);
// Page contents as the VMM writes them: canonical base64 (the wire carries the bytes, so only those round-trip).
const pageArb = fc.uint8Array({ maxLength: 9 }).map((b) => Buffer.from(b).toString('base64'));
const dataArb = fc.option(pageArb, { nil: null });
const leaseArb = fc.record({ term: small, grantedAtUs: fc.nat() });
const u32Arb = fc.oneof(small, fc.constant(2 ** 32 - 1));
const recordArb = fc.option(fc.string({ maxLength: 40 }), { nil: null });
// Positive counts only: a zero entry is dropped on decoding (as the JSON validator did), so it would not round-trip.
const vtArb = fc.dictionary(fc.oneof(fc.nat({ max: 64 }), fc.constant(999_999_999)).map(String), fc.oneof(pos, fc.constant(Number.MAX_SAFE_INTEGER)), { maxKeys: 5 });
const vmmArb = fc.oneof(
  fc.record({ t: fc.constant('acquire' as const), req: small, page: small, mode: modeArb, have: fc.integer({ min: -1, max: 50 }) }),
  fc.record({ t: fc.constant('grant' as const), req: small, page: small, mode: modeArb, version: small, data: dataArb, leaseUs: small, index: small, lease: leaseArb }),
  fc.record({ t: fc.constant('refuse' as const), req: small, page: small, why: fc.constantFrom('not-leader' as const, 'busy' as const, 'conflict' as const, 'not-allocated' as const, 'no-space' as const, 'invalid' as const), leader: small, version: small }),
  fc.record({ t: fc.constant('revoke' as const), rev: small, page: small, index: small }),
  fc.record({ t: fc.constant('revoked' as const), rev: small, page: small, data: dataArb, seq: small }),
  fc.record({ t: fc.constant('release' as const), req: small, page: small, data: pageArb, keep: fc.option(modeArb, { nil: null }), seq: small, wb: fc.integer({ min: 1, max: 1000 }), lease: leaseArb }),
  fc.record({ t: fc.constant('released' as const), req: small, page: small, version: small, index: small }),
  fc.record({ t: fc.constant('alloc' as const), req: small, company: small, id: fc.string({ maxLength: 20 }), pages: pos }),
  fc.record({ t: fc.constant('alloc-ok' as const), req: small, firstPage: small }),
  fc.record({ t: fc.constant('free' as const), req: small, addr: fc.nat(), run: fc.option(fc.string({ maxLength: 20 }), { nil: null }) }),
  fc.record({ t: fc.constant('free-owner' as const), req: small, addr: fc.nat(), host: pos }),
  fc.record({ t: fc.constantFrom('free-token' as const, 'free-block' as const), req: small, addr: fc.nat(), id: fc.string({ maxLength: 20 }), gen: small }),
  fc.record({ t: fc.constant('free-ok' as const), req: small, addr: fc.nat() }),
  fc.record({ t: fc.constant('fetch' as const), req: small, page: small, have: fc.integer({ min: -1, max: 50 }), need: vtArb }),
  fc.record({ t: fc.constant('page' as const), req: small, page: small, version: small, data: dataArb, diffs: fc.option(fc.array(pageArb, { maxLength: 3 }), { nil: null }), applied: vtArb }),
  fc.record({ t: fc.constant('diff' as const), req: small, page: small, interval: pos, vt: vtArb, diff: pageArb, record: recordArb, recordSeq: small }),
  fc.record({ t: fc.constant('diffed' as const), req: small, page: small, version: small, floor: vtArb, recorded: fc.boolean() }),
  fc.record({ t: fc.constant('lock-acquire' as const), req: small, id: u32Arb, thread: small, token: small }),
  fc.record({ t: fc.constant('lock-granted' as const), req: small, id: u32Arb, thread: small, token: small, leaseUs: small, index: small, published: recordArb, lapsed: fc.boolean(), lapsedHosts: fc.uniqueArray(fc.integer({ min: 1, max: 2 ** 32 - 1 }), { maxLength: 5 }).map((a) => a.sort((x, y) => x - y)) }),
  fc.record({ t: fc.constant('lock-queued' as const), req: small, id: u32Arb, thread: small }),
  fc.record({ t: fc.constant('lock-released' as const), req: small, id: u32Arb, thread: small, committed: fc.boolean() }),
  fc.record({ t: fc.constant('lock-lost' as const), req: small, id: u32Arb, thread: small, token: small }),
  fc.record({ t: fc.constant('lock-recall' as const), id: u32Arb, token: pos }),
  fc.record({ t: fc.constant('lock-release' as const), req: small, id: u32Arb, thread: small, token: pos, published: recordArb }),
  fc.record({ t: fc.constant('host-record' as const), req: small, incarnation: small, seq: pos, published: fc.string({ maxLength: 20 }) }),
  fc.record({ t: fc.constant('host-recorded' as const), req: small }),
  fc.record({ t: fc.constant('host-records' as const), req: small, host: pos }),
  fc.record({ t: fc.constant('host-records-are' as const), req: small, host: pos, published: fc.array(fc.string({ maxLength: 20 }), { maxLength: 4 }) }),
  fc.record({ t: fc.constant('barrier-arrive' as const), req: small, name: u32Arb, parties: pos, episode: small, thread: small, published: recordArb }),
  fc.record({ t: fc.constant('barrier-wait' as const), req: small, name: u32Arb, episode: small, thread: small }),
  fc.record({ t: fc.constant('barrier-open' as const), req: small, name: u32Arb, episode: small, thread: small, published: fc.array(fc.string({ maxLength: 20 }), { maxLength: 4 }) }),
  fc.record({ t: fc.constant('sync-refuse' as const), req: small, why: fc.constantFrom('not-leader' as const, 'invalid' as const), leader: small, detail: fc.string({ maxLength: 40 }) }),
);
const envelopeArb: fc.Arbitrary<Envelope> = fc.oneof(
  fc.record({ kind: fc.constant('raft' as const), group: small, msg: messageArb }),
  fc.record({ kind: fc.constant('vmm' as const), msg: vmmArb }),
// fast-check may build null-prototype objects; decoded JSON never has them, and deep equality compares prototypes.
).map((e) => JSON.parse(JSON.stringify(e)) as Envelope);

/** Every path to a value inside a JSON tree (objects and arrays), the root included. */
function paths(v: unknown, at: (string | number)[] = []): (string | number)[][] {
  const out = [at];
  if (Array.isArray(v)) v.forEach((x, i) => out.push(...paths(x, [...at, i])));
  else if (typeof v === 'object' && v !== null) for (const [k, x] of Object.entries(v)) out.push(...paths(x, [...at, k]));
  return out;
}

type Mutation = { kind: 'set'; value: unknown } | { kind: 'delete' } | { kind: 'add'; key: string; value: unknown };

/** Applies a mutation at a path of a deep copy; the root can only be replaced. */
function mutate(v: unknown, path: (string | number)[], m: Mutation): unknown {
  const copy = JSON.parse(JSON.stringify(v)) as unknown;
  if (path.length === 0) return m.kind === 'set' ? m.value : copy;
  let parent = copy as Record<string | number, unknown>;
  for (const k of path.slice(0, -1)) parent = parent[k] as Record<string | number, unknown>;
  const last = path[path.length - 1] as string | number;
  if (m.kind === 'set') parent[last] = m.value;
  else if (m.kind === 'delete') {
    if (Array.isArray(parent)) parent.splice(last as number, 1);
    else delete parent[last];
  } else {
    const target = parent[last];
    if (typeof target === 'object' && target !== null && !Array.isArray(target)) (target as Record<string, unknown>)[m.key] = m.value;
  }
  return copy;
}

// Values likely to sit near a boundary of some field's rule.
const nasty = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.constantFrom(-1, -2, 0, 1, 0.5, 1e21, Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER + 1, null, '', 'read', 'write', 'raft', 'vmm', true, [], {}),
);

function concat(frames: Buffer[]): Buffer {
  return Buffer.concat(frames);
}

// --- frames -----------------------------------------------------------------------

test('encodeFrame and decodeFrame round-trip the header and every example envelope', () => {
  for (const env of EXAMPLES) {
    const frame = frameOf(env);
    assert.is(frame.readUInt32BE(0), frame.length - 4);
    const d = decodeFrame(frame.subarray(4));
    if (!d.ok) throw new Error(`decode failed: ${d.reason}`);
    assert.equal(d.header, H);
    assert.is(d.version, FRAME_VERSION);
    assert.equal(decodeEnvelope(d.body), env);
  }
  const wide = decodeFrame(encodeFrame({ clusterId: 'ü-cluster-☃', from: 0xffffffff }, Buffer.from([1])).subarray(4));
  assert.equal(wide.ok && wide.header, { clusterId: 'ü-cluster-☃', from: 0xffffffff });
  assert.throws(() => encodeFrame({ clusterId: 'x'.repeat(256), from: 1 }, Buffer.alloc(1)), RangeError);
  assert.throws(() => encodeFrame({ clusterId: 'c', from: -1 }, Buffer.alloc(1)), RangeError);
  assert.throws(() => encodeFrame({ clusterId: 'c', from: 2 ** 32 }, Buffer.alloc(1)), RangeError);
});

test('the decoder returns the same payloads for a split at every byte boundary', () => {
  const frames = [frameOf(EXAMPLES[0] as Envelope), frameOf(EXAMPLES[3] as Envelope), Buffer.from([0, 0, 0, 0]), encodeFrame(H, Buffer.from('x'))];
  const all = concat(frames);
  const expected = frames.map((f) => f.subarray(4));
  const whole = new FrameDecoder(1 << 20).push(all);
  assert.is(whole.error, null);
  assert.equal(whole.frames, expected);
  for (let i = 0; i <= all.length; i++) {
    const d = new FrameDecoder(1 << 20);
    const got = [...d.push(all.subarray(0, i)).frames, ...d.push(all.subarray(i)).frames];
    assert.equal(got, expected, `split at ${i}`);
    assert.is(d.pending, 0);
  }
  // Three pieces, every pair of cut points, over a shorter stream.
  const one = encodeFrame(H, Buffer.from([1]));
  const two = encodeFrame(H, Buffer.from([2, 3]));
  const short = concat([one, Buffer.from([0, 0, 0, 0]), two]);
  const shortExpected = [one.subarray(4), Buffer.alloc(0), two.subarray(4)];
  for (let i = 0; i <= short.length; i++) {
    for (let j = i; j <= short.length; j++) {
      const d = new FrameDecoder(100);
      const got = [short.subarray(0, i), short.subarray(i, j), short.subarray(j)].flatMap((c) => d.push(c).frames);
      assert.equal(got, shortExpected, `split at ${i}, ${j}`);
    }
  }
  // One byte at a time.
  const d = new FrameDecoder(1 << 20);
  const got: Buffer[] = [];
  for (const b of all) got.push(...d.push(Buffer.from([b])).frames);
  assert.equal(got, expected);
});

test('a payload spanning chunks is not corrupted when the chunks are reused afterwards', () => {
  const frame = frameOf(EXAMPLES[1] as Envelope);
  const d = new FrameDecoder(1 << 20);
  const a = Buffer.from(frame.subarray(0, 10));
  const b = Buffer.from(frame.subarray(10));
  const out = [...d.push(a).frames, ...d.push(b).frames];
  a.fill(0);
  b.fill(0);
  assert.is(out.length, 1);
  const dec = decodeFrame(out[0] as Buffer);
  assert.ok(dec.ok && decodeEnvelope(dec.body) !== null);
});

test('a large payload arriving in many small chunks is reassembled byte for byte', () => {
  const page = Buffer.alloc(150_000);
  for (let i = 0; i < page.length; i++) page[i] = (i * 31) & 0xff;
  const env: Envelope = { kind: 'vmm', msg: { t: 'release', req: 1, page: 2, data: page.toString('base64'), keep: null, seq: 3, wb: 1, lease } };
  const stream = concat([frameOf(env), frameOf(EXAMPLES[0] as Envelope), frameOf(env)]);
  for (const size of [1000, 4093, 65536, 7]) {
    const d = new FrameDecoder(1 << 20);
    const out: Buffer[] = [];
    for (let at = 0; at < stream.length; at += size) out.push(...d.push(stream.subarray(at, at + size)).frames);
    assert.equal(out.map((p) => {
      const dec = decodeFrame(p);
      return dec.ok ? decodeEnvelope(dec.body) : dec.reason;
    }), [env, EXAMPLES[0], env], `chunks of ${size}`);
  }
});

test('an oversized frame marks the decoder failed; frames before it are kept; the limit itself is allowed', () => {
  const ok = encodeFrame(H, Buffer.from('fits'));
  const limit = ok.length - 4;
  const d = new FrameDecoder(limit);
  const big = encodeFrame(H, Buffer.from('fits!'));
  const r = d.push(concat([ok, big, ok]));
  assert.is(r.error, 'oversized');
  assert.equal(r.frames, [ok.subarray(4)]);
  assert.is(d.failed, 'oversized');
  assert.is(d.pending, 0);
  const after = d.push(ok);
  assert.equal(after, { frames: [], error: 'oversized' });
  // Rejected on the length alone, before its body arrives.
  const e = new FrameDecoder(1000);
  assert.is(e.push(Buffer.from([0, 0, 0x03])).error, null);
  assert.is(e.push(Buffer.from([0xe9])).error, 'oversized');
  assert.throws(() => new FrameDecoder(-1), RangeError);
});

test('decodeFrame names what is wrong with a bad header', () => {
  const good = frameOf(EXAMPLES[2] as Envelope).subarray(4);
  const withByte = (i: number, v: number): Buffer => {
    const b = Buffer.from(good);
    b[i] = v;
    return b;
  };
  const reason = (p: Uint8Array): string => {
    const d = decodeFrame(p);
    return d.ok ? 'ok' : d.reason;
  };
  assert.is(reason(good), 'ok');
  assert.is(reason(new Uint8Array(good)), 'ok');
  assert.is(reason(Buffer.alloc(0)), 'short');
  assert.is(reason(good.subarray(0, 2)), 'short');
  assert.is(reason(good.subarray(0, 6)), 'short');
  assert.is(reason(withByte(0, FRAME_MAGIC + 1)), 'bad-magic');
  // A host of the JSON wire (version 1) is refused by the header, never misread.
  assert.is(reason(withByte(1, 1)), 'bad-version');
  assert.is(reason(withByte(1, FRAME_VERSION + 1)), 'bad-version');
  assert.is(reason(withByte(3, 0xff)), 'bad-cluster-id');
  // An empty body is a frame; it is the envelope that is not.
  const empty = decodeFrame(good.subarray(0, 9));
  assert.ok(empty.ok && empty.body.length === 0 && decodeEnvelope(empty.body) === null);
});

// --- the envelope codec -----------------------------------------------------------

test('every example envelope round-trips to an equal, fresh object', () => {
  for (const env of EXAMPLES) {
    const back = decodeEnvelope(encodeEnvelope(env));
    assert.equal(back, env);
    assert.ok(back !== env);
    agrees(env);
  }
  // Page contents travel as their raw bytes: a 4 KiB page is 4 KiB on the wire, not 5.5 KiB of base64.
  const page = Buffer.alloc(4096, 0xab).toString('base64');
  const release: Envelope = { kind: 'vmm', msg: { t: 'release', req: 1, page: 2, data: page, keep: null, seq: 1, wb: 1, lease } };
  const bytes = encodeEnvelope(release);
  assert.ok(bytes.length > 4096 && bytes.length < 4096 + 100, `${bytes.length} bytes`);
  assert.equal(decodeEnvelope(bytes), release);
  // Strings JSON could carry, a lone surrogate included, come back unchanged.
  for (const data of ['', 'ü☃𝄞', 'a\ud800b', '\udfff', 'x'.repeat(70_000)]) {
    const env: Envelope = { kind: 'raft', group: 1, msg: raftMsg({ entries: [{ term: 2, index: 5, kind: 'normal', data }] }) };
    assert.equal(decodeEnvelope(encodeEnvelope(env)), env);
  }
});

test('every number of every variant is range-checked: negative, fractional, past 2^53, NaN, infinite', () => {
  const wrong = [-1, -2, 0, 0.5, 1.5, Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER + 1, 2 ** 64, NaN, Infinity, -Infinity];
  let rejected = 0;
  for (const env of EXAMPLES) {
    for (const path of paths(env)) {
      let v: unknown = env;
      for (const k of path) v = (v as Record<string | number, unknown>)[k];
      if (typeof v !== 'number') continue;
      for (const w of wrong) {
        const changed = mutate(env, path, { kind: 'set', value: w });
        agrees(changed);
        if (decodeEnvelope(encodeEnvelope(changed as Envelope)) === null) rejected++;
      }
    }
  }
  assert.ok(rejected > 500, `only ${rejected} rejections`);
  // Spot checks of rules the oracle encodes, so a shared mistake would still show.
  const acq: Envelope = { kind: 'vmm', msg: { t: 'acquire', req: 1, page: 10, mode: 'read', have: -1 } };
  const bad = (over: Record<string, unknown>): Envelope => ({ kind: 'vmm', msg: { ...acq.msg, ...over } as Envelope['msg'] } as Envelope);
  assert.is(decodeEnvelope(encodeEnvelope(bad({ have: -2 }))), null);
  assert.is(decodeEnvelope(encodeEnvelope(bad({ page: 1.5 }))), null);
  assert.is(decodeEnvelope(encodeEnvelope(bad({ req: 2 ** 53 }))), null);
  assert.is(decodeEnvelope(encodeEnvelope({ kind: 'vmm', msg: { t: 'alloc', req: 1, company: 0, id: 'x'.repeat(257), pages: 1 } })), null);
  assert.is(decodeEnvelope(encodeEnvelope({ kind: 'vmm', msg: { t: 'alloc', req: 1, company: 0, id: 'x', pages: 0 } })), null);
  assert.is(decodeEnvelope(encodeEnvelope({ kind: 'raft', group: 0, msg: raftMsg({ type: 'snap', entries: [] }) })), null);
  assert.is(decodeEnvelope(encodeEnvelope({ kind: 'raft', group: 0, msg: raftMsg({ from: 0 }) })), null);
  assert.is(decodeEnvelope(encodeEnvelope({ kind: 'raft', group: 0, msg: raftMsg({ snapshot: { index: 1, term: 1, conf: { voters: [2, 1], learners: [] }, data: '' } }) })), null);
  // What no peer could decode is refused by the sender's encoder.
  assert.throws(() => encodeEnvelope(bad({ mode: 'exec' })), TypeError);
  assert.throws(() => encodeEnvelope({ kind: 'vmm', msg: { t: 'nope', req: 1 } } as unknown as Envelope), TypeError);
  assert.throws(() => encodeEnvelope({ kind: 'kv-request', group: 1 } as unknown as Envelope), TypeError);
});

/** An encoding with the number at `path` set to a marker, and the marker's offset: where that number sits. */
function numberAt(env: Envelope, path: (string | number)[]): { bytes: Buffer; at: number } {
  const marker = Buffer.alloc(8);
  marker.writeDoubleLE(987_654_321);
  const bytes = encodeEnvelope(mutate(env, path, { kind: 'set', value: 987_654_321 }) as Envelope);
  const at = bytes.indexOf(marker);
  assert.ok(at >= 0 && bytes.indexOf(marker, at + 1) < 0, `one marker at ${path.join('.')}`);
  return { bytes, at };
}

const f64 = (v: number): Buffer => {
  const b = Buffer.alloc(8);
  b.writeDoubleLE(v);
  return b;
};

/** Byte offsets of an encoding, by what sits there: found by re-encoding with one field changed. */
function offsetOf(env: Envelope, change: (e: Envelope) => Envelope): number {
  const a = encodeEnvelope(env);
  const b = encodeEnvelope(change(env));
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  throw new Error('no difference');
}

const patched = (b: Buffer, at: number, bytes: number[] | Buffer): Buffer => {
  const c = Buffer.from(b);
  Buffer.from(bytes).copy(c, at);
  return c;
};

test('malformed binary: every truncation, a trailing byte, unknown tags, oversize lengths, bad UTF-8', () => {
  for (const env of EXAMPLES) {
    const b = encodeEnvelope(env);
    for (let n = 0; n < b.length; n++) assert.is(decodeEnvelope(b.subarray(0, n)), null, `${JSON.stringify(env)} cut at ${n}`);
    assert.is(decodeEnvelope(Buffer.concat([b, Buffer.from([0])])), null, 'a trailing byte');
  }
  const raft = EXAMPLES[0] as Envelope;
  const rb = encodeEnvelope(raft);
  // Unknown kind, Raft type, VMM tag, entry kind, boolean.
  assert.is(decodeEnvelope(patched(rb, 0, [2])), null);
  assert.is(decodeEnvelope(patched(rb, 9, [10])), null);
  const acquire = encodeEnvelope(EXAMPLES[2] as Envelope);
  // One past the last variant (the oracle lists every one).
  assert.is(decodeEnvelope(patched(acquire, 1, [vmmZ.options.length])), null);
  assert.is(decodeEnvelope(patched(acquire, 1, [255])), null);
  const rejectAt = 9 + 1 + 7 * 8;
  assert.is(decodeEnvelope(patched(rb, rejectAt, [2])), null);
  assert.is(decodeEnvelope(patched(rb, rejectAt + 1, [7])), null);
  const countAt = rejectAt + 2;
  const entryKindAt = countAt + 4 + 16;
  assert.is(decodeEnvelope(patched(rb, entryKindAt, [2])), null);
  // The string form byte, and a string length past the end or of a UTF-16 string of odd bytes.
  assert.is(decodeEnvelope(patched(rb, entryKindAt + 1, [2])), null);
  assert.is(decodeEnvelope(patched(rb, entryKindAt + 2, [0xff, 0xff, 0xff, 0x7f])), null);
  const utf16 = encodeEnvelope({ kind: 'raft', group: 0, msg: raftMsg({ entries: [{ term: 2, index: 5, kind: 'normal', data: '\ud800' }] }) });
  assert.is(utf16[entryKindAt + 1], 1);
  assert.is(decodeEnvelope(patched(utf16, entryKindAt + 2, [1, 0, 0, 0])), null);
  // An entry count far past what arrived is refused before anything is allocated for it.
  assert.is(decodeEnvelope(patched(rb, countAt, [0xff, 0xff, 0xff, 0xff])), null);
  assert.is(decodeEnvelope(patched(rb, countAt, [3, 0, 0, 0])), null);
  // Invalid UTF-8 in a string: never silently replaced.
  const x = encodeEnvelope({ kind: 'raft', group: 0, msg: raftMsg({ entries: [{ term: 2, index: 5, kind: 'normal', data: 'ab' }] }) });
  assert.is(decodeEnvelope(patched(x, entryKindAt + 6, [0xc3, 0x28])), null);
  // A page's length past the end; an id's.
  const grant = EXAMPLES[4] as Envelope;
  const dataAt = offsetOf(grant, (e) => ({ ...e, msg: { ...e.msg, data: 'AAAAAAAA' } } as Envelope));
  assert.is(decodeEnvelope(patched(encodeEnvelope(grant), dataAt, [200])), null);
  const alloc = encodeEnvelope(EXAMPLES[11] as Envelope);
  assert.is(decodeEnvelope(patched(alloc, 1 + 1 + 16 + 1, [0, 0, 0, 1])), null);
  // A nullable's flag and a lease mode past their values.
  const nullFlagAt = dataAt - 1;
  assert.is(decodeEnvelope(patched(encodeEnvelope(grant), nullFlagAt, [2])), null);
  const modeAt = offsetOf(EXAMPLES[2] as Envelope, (e) => ({ ...e, msg: { ...e.msg, mode: 'write' } } as Envelope));
  assert.is(decodeEnvelope(patched(acquire, modeAt, [2])), null);
  // A non-safe integer written straight into the bytes (not through the encoder), over the page number itself.
  const page = numberAt(EXAMPLES[2] as Envelope, ['msg', 'page']);
  assert.ok(decodeEnvelope(patched(page.bytes, page.at, f64(11))) !== null);
  for (const v of [2 ** 53, -1, 0.25, NaN]) assert.is(decodeEnvelope(patched(page.bytes, page.at, f64(v))), null, `page ${v}`);
});

test('locks, barriers and release consistency: u32 ids, the sync-refuse enum, record and detail lengths', () => {
  const ok = (env: Envelope): void => {
    agrees(env);
    assert.equal(decodeEnvelope(encodeEnvelope(env)), env);
  };
  const refused = (env: Envelope): void => {
    agrees(env);
    assert.is(decodeEnvelope(encodeEnvelope(env)), null, JSON.stringify(env).slice(0, 200));
  };
  const vmm = (msg: unknown): Envelope => ({ kind: 'vmm', msg } as Envelope);
  const acquire = exampleOf('lock-acquire').msg;
  const arrive = exampleOf('barrier-arrive').msg;
  ok(vmm({ ...acquire, id: 2 ** 32 - 1 }));
  refused(vmm({ ...acquire, id: 2 ** 32 }));
  refused(vmm({ ...arrive, name: 2 ** 32 }));
  refused(vmm({ ...arrive, parties: 0 }));
  refused(vmm({ ...exampleOf('lock-release').msg, token: 0 }));
  refused(vmm({ ...exampleOf('host-record').msg, seq: 0 }));
  refused(vmm({ ...exampleOf('host-records').msg, host: 0 }));
  refused(vmm({ ...exampleOf('diff').msg, interval: 0 }));
  // Published records: at most 64 Ki chars each, in every variant that carries one or a list of them.
  for (const t of ['lock-granted', 'lock-release', 'host-record', 'barrier-arrive']) {
    ok(vmm({ ...exampleOf(t).msg, published: 'p'.repeat(64 * 1024) }));
    refused(vmm({ ...exampleOf(t).msg, published: 'p'.repeat(64 * 1024 + 1) }));
  }
  const open = exampleOf('barrier-open').msg;
  ok(vmm({ ...open, published: ['', 'p'.repeat(64 * 1024)] }));
  refused(vmm({ ...open, published: ['', 'p'.repeat(64 * 1024 + 1)] }));
  // One record per party at most (parties <= 2^16): a longer list is refused even when every byte of it arrived.
  ok(vmm({ ...open, published: new Array<string>(2 ** 16).fill('') }));
  refused(vmm({ ...open, published: new Array<string>(2 ** 16 + 1).fill('') }));
  const refuse = exampleOf('sync-refuse').msg;
  ok(vmm({ ...refuse, detail: 'd'.repeat(1024) }));
  refused(vmm({ ...refuse, detail: 'd'.repeat(1025) }));
  // Sync-refuse has two reasons of its own: the page refusals' others are the sender's bug, and their codes are unknown here.
  assert.throws(() => encodeEnvelope(vmm({ ...refuse, why: 'busy' })), TypeError);
  const whyAt = 1 + 1 + 8;
  const rb = encodeEnvelope(vmm(refuse));
  assert.equal(decodeEnvelope(patched(rb, whyAt, [0])), vmm({ ...refuse, why: 'not-leader' }));
  for (const code of [2, 5, 255]) assert.is(decodeEnvelope(patched(rb, whyAt, [code])), null, `why ${code}`);
  // A boolean is one byte, 0 or 1 (lock-released's committed is its last): any other byte, or a non-boolean to send, is refused.
  const released = exampleOf('lock-released').msg;
  const lb = encodeEnvelope(vmm(released));
  assert.equal(decodeEnvelope(patched(lb, lb.length - 1, [0])), vmm({ ...released, committed: false }));
  for (const code of [2, 255]) assert.is(decodeEnvelope(patched(lb, lb.length - 1, [code])), null, `bool ${code}`);
  assert.throws(() => encodeEnvelope(vmm({ ...released, committed: 1 })), TypeError);
  assert.throws(() => encodeEnvelope(vmm({ ...exampleOf('lock-granted').msg, lapsed: undefined })), TypeError);
  // A set of hosts is ids from 1, strictly ascending (lock-granted's lapsedHosts is its last field): a repeat, disorder or host 0 is refused.
  const granted = { ...exampleOf('lock-granted').msg, lapsed: true, lapsedHosts: [2, 4] };
  const gb = encodeEnvelope(vmm(granted));
  const f64 = (x: number): number[] => [...new Uint8Array(new Float64Array([x]).buffer)];
  assert.equal(decodeEnvelope(gb), vmm(granted));
  for (const last of [2, 1]) assert.is(decodeEnvelope(patched(gb, gb.length - 8, f64(last))), null, `hosts [2, ${last}]`);
  assert.is(decodeEnvelope(patched(gb, gb.length - 16, f64(0))), null, 'host 0');
  // Diffs travel as their bytes, as page data does: a 4 KiB diff is 4 KiB on the wire.
  const diff = Buffer.alloc(4096, 0x5a).toString('base64');
  const big = encodeEnvelope(vmm({ ...exampleOf('diff').msg, diff }));
  assert.ok(big.length > 4096 && big.length < 4096 + 200, `${big.length} bytes`);
  ok(vmm({ ...exampleOf('page').msg, diffs: [diff, diff] }));
  ok(vmm({ ...exampleOf('page').msg, diffs: [] }));
});

test('vector times: host-id keys from 0 to 2^32 - 1, safe-integer counts, ascending, bounded in count', () => {
  const diff = exampleOf('diff');
  const withVt = (vt: Record<string, number>): Envelope => ({ kind: 'vmm', msg: { ...diff.msg, vt } } as Envelope);
  const floor = (vt: Record<string, number>): Envelope => ({ kind: 'vmm', msg: { ...exampleOf('diffed').msg, floor: vt } } as Envelope);
  const many = (n: number): Record<string, number> => Object.fromEntries(Array.from({ length: n }, (_, i) => [String(i + 1), 1]));
  for (const make of [withVt, floor]) {
    assert.equal(decodeEnvelope(encodeEnvelope(make(many(4096)))), make(many(4096)));
    assert.is(decodeEnvelope(encodeEnvelope(make(many(4097)))), null, 'an oversize vector time');
    agrees(make(many(4097)));
    // Cluster files allow host ids up to 2^32 - 1; one past is no host.
    assert.equal(decodeEnvelope(encodeEnvelope(make({ 4_294_967_295: 1 }))), make({ 4_294_967_295: 1 }), 'the largest host id');
    assert.is(decodeEnvelope(encodeEnvelope(make({ 4_294_967_296: 1 }))), null, 'past the largest host id');
    agrees(make({ 4_294_967_296: 1 }));
    // A zero entry is no entry (the JSON validator dropped it too).
    assert.equal(decodeEnvelope(encodeEnvelope(make({ 1: 0, 2: 3 }))), make({ 2: 3 }));
    agrees(make({ 1: 0, 2: 3 }));
  }
  // Keys that are not a number's own spelling are the sender's bug; numbers that are no host id, the receiver's to refuse.
  for (const key of ['01', 'x', '1e3']) assert.throws(() => encodeEnvelope(withVt({ [key]: 1 })), TypeError, key);
  for (const key of ['-1', '1.5']) {
    assert.is(decodeEnvelope(encodeEnvelope(withVt({ [key]: 1 }))), null, key);
    agrees(withVt({ [key]: 1 }));
  }
  // Straight into the bytes: a count and a key that are not safe non-negative integers, keys out of order.
  const count = numberAt(withVt({ 1: 5, 3: 0 }), ['msg', 'vt', '3']);
  assert.equal(decodeEnvelope(patched(count.bytes, count.at, f64(Number.MAX_SAFE_INTEGER))), withVt({ 1: 5, 3: Number.MAX_SAFE_INTEGER }));
  for (const v of [2 ** 53, 2 ** 64, -1, 0.5, NaN, Infinity]) assert.is(decodeEnvelope(patched(count.bytes, count.at, f64(v))), null, `count ${v}`);
  const keyed = encodeEnvelope(withVt({ 1: 5, 987_654_321: 7 }));
  const keyAt = keyed.indexOf(f64(987_654_321));
  assert.equal(decodeEnvelope(patched(keyed, keyAt, f64(2))), withVt({ 1: 5, 2: 7 }));
  for (const v of [2 ** 53, -1, 0.5, NaN, 2 ** 32, 1, 0]) assert.is(decodeEnvelope(patched(keyed, keyAt, f64(v))), null, `key ${v}`);
  // The entry count: past what arrived, or more than the bytes hold.
  const countAt = keyAt - 8 - 8 - 4;
  assert.is(keyed.readUInt32LE(countAt), 2);
  for (const n of [3, 4097, 0xffffffff]) assert.is(decodeEnvelope(patched(keyed, countAt, [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24])), null, `${n} entries`);
});

test('release consistency and barriers: list lengths and nullable flags past the bytes', () => {
  const u32le = (n: number): number[] => [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24];
  // barrier-open: the records' count after the thread.
  const open = numberAt(exampleOf('barrier-open'), ['msg', 'thread']);
  const recordsAt = open.at + 8;
  assert.is(open.bytes.readUInt32LE(recordsAt), 3);
  assert.ok(decodeEnvelope(patched(open.bytes, recordsAt, u32le(2))) === null, 'a record left over');
  for (const n of [4, 2 ** 16 + 1, 0xffffffff]) assert.is(decodeEnvelope(patched(open.bytes, recordsAt, u32le(n))), null, `${n} records`);
  // page: the diffs' null flag and count after the data's null flag.
  const page = numberAt(exampleOf('page'), ['msg', 'version']);
  const dataFlagAt = page.at + 8;
  assert.is(page.bytes[dataFlagAt], 0);
  assert.is(page.bytes[dataFlagAt + 1], 1);
  assert.is(decodeEnvelope(patched(page.bytes, dataFlagAt + 1, [2])), null, 'a diffs flag past its values');
  const diffsAt = dataFlagAt + 2;
  assert.is(page.bytes.readUInt32LE(diffsAt), 3);
  for (const n of [2, 4, 0xffffffff]) assert.is(decodeEnvelope(patched(page.bytes, diffsAt, u32le(n))), null, `${n} diffs`);
  // A diff's length past the end.
  assert.is(decodeEnvelope(patched(page.bytes, diffsAt + 4, u32le(1000))), null);
  // A published record's null flag past its values.
  const arrive = numberAt(exampleOf('barrier-arrive'), ['msg', 'thread']);
  assert.is(arrive.bytes[arrive.at + 8], 1);
  assert.is(decodeEnvelope(patched(arrive.bytes, arrive.at + 8, [2])), null);
});

test('a broadcast encodes each entry once: the followers\' appends share the entry bytes', () => {
  const entries: Entry[] = [{ term: 3, index: 5, kind: 'normal', data: 'y'.repeat(5000) }, { term: 3, index: 6, kind: 'normal', data: 'z' }];
  const enc = new EnvelopeEncoder();
  const frames = [2, 3, 4].map((to) => enc.encode({ kind: 'raft', group: 1, msg: raftMsg({ to, term: 3, entries }) }));
  assert.is(enc.entriesEncoded, 2);
  frames.forEach((f, i) => assert.equal(decodeEnvelope(f), { kind: 'raft', group: 1, msg: raftMsg({ to: i + 2, term: 3, entries }) }));
  // In the same turn, a new append carrying one of them again: only the new entry is encoded.
  enc.encode({ kind: 'raft', group: 1, msg: raftMsg({ index: 5, term: 3, entries: [entries[1] as Entry, { term: 3, index: 7, kind: 'normal', data: 'w' }] }) });
  assert.is(enc.entriesEncoded, 3);
  // The prefix lands in front, unchanged.
  const withPrefix = enc.encode(EXAMPLES[2] as Envelope, Buffer.from([9, 8, 7]));
  assert.equal([...withPrefix.subarray(0, 3)], [9, 8, 7]);
  assert.equal(decodeEnvelope(withPrefix.subarray(3)), EXAMPLES[2]);
});

test('property: matchFrame accepts exactly the payloads that decode to this cluster\'s header, with their sender and body', () => {
  const ours = framePrefix({ clusterId: 'cluster-é', from: 9 });
  const idArb = fc.oneof(fc.constant('cluster-é'), fc.constant('cluster-e'), fc.constant('cluster-'), fc.string({ maxLength: 12 }));
  const payloadArb = fc.oneof(
    // Well-formed frames of this and other clusters, some cut short or with a byte changed.
    fc.tuple(idArb, fc.integer({ min: 0, max: 0xffffffff }), fc.uint8Array({ maxLength: 8 }), fc.nat(), fc.option(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })))).map(([clusterId, from, body, cut, flip]) => {
      const p = Buffer.from(encodeFrame({ clusterId, from }, body).subarray(4));
      if (flip !== null) p[flip[0] % p.length] = flip[1];
      return cut % 5 === 0 ? p.subarray(0, cut % (p.length + 1)) : p;
    }),
    fc.uint8Array({ maxLength: 24 }).map((b) => Buffer.from(b)),
  );
  fc.assert(fc.property(payloadArb, (p) => {
    const m = matchFrame(p, ours);
    const d = decodeFrame(p);
    const same = d.ok && d.header.clusterId === 'cluster-é';
    assert.is(m !== null, same);
    if (m !== null && d.ok) {
      assert.is(m.from, d.header.from);
      assert.equal([...m.body], [...d.body]);
    }
  }), { numRuns: 3000 });
});

test('entry bytes are kept until the end of the turn only: a retransmission later encodes again', async () => {
  const entries: Entry[] = [{ term: 3, index: 5, kind: 'normal', data: 'y'.repeat(5000) }];
  const enc = new EnvelopeEncoder();
  const first = enc.encode({ kind: 'raft', group: 1, msg: raftMsg({ to: 2, term: 3, entries }) });
  await Promise.resolve();
  const again = enc.encode({ kind: 'raft', group: 1, msg: raftMsg({ to: 2, term: 3, entries }) });
  assert.is(enc.entriesEncoded, 2);
  assert.equal(again, first);
});

test('property: every variant round-trips through encode, any chunking, frame decoding and decode', () => {
  fc.assert(
    fc.property(fc.array(envelopeArb, { minLength: 1, maxLength: 5 }), fc.array(fc.nat(), { maxLength: 6 }), (envs, cuts) => {
      const stream = concat(envs.map(frameOf));
      const points = [...new Set(cuts.map((c) => c % (stream.length + 1)))].sort((a, b) => a - b);
      const d = new FrameDecoder(1 << 20);
      const out: Buffer[] = [];
      let prev = 0;
      for (const p of [...points, stream.length]) {
        out.push(...d.push(stream.subarray(prev, p)).frames);
        prev = p;
      }
      assert.is(out.length, envs.length);
      out.forEach((payload, i) => {
        const dec = decodeFrame(payload);
        if (!dec.ok) throw new Error(dec.reason);
        assert.equal(decodeEnvelope(dec.body), envs[i]);
        agrees(envs[i]);
      });
    }),
    { numRuns: 500 },
  );
});

// Values near a boundary of some field's rule, of each type a field can have (an encoder writes the types
// of an Envelope; what it does with others is a sender's bug, not input).
const nastyNumber = fc.oneof(fc.integer(), fc.double(), fc.constantFrom(-1, -2, 0, 1, 0.5, 1e21, 2 ** 32 - 1, 2 ** 32, Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER + 1, NaN));
const nastyString = fc.oneof(
  fc.string({ maxLength: 300 }),
  fc.constantFrom('', 'x'.repeat(256), 'x'.repeat(257), '\ud800', 'é'.repeat(256), 'x'.repeat(1024), 'x'.repeat(1025), 'x'.repeat(64 * 1024), 'x'.repeat(64 * 1024 + 1)),
);

/** A string field that holds any text (the rest are enums and page contents or diffs, which travel as their code or bytes). */
const freeText = (path: (string | number)[]): boolean =>
  ['id', 'run', 'detail'].includes(path[path.length - 1] as string) || path.includes('published')
  || (path[path.length - 1] === 'data' && (path.includes('entries') || path.includes('snapshot')));

test('property: the codec agrees with the oracle on mutations of valid envelopes', () => {
  fc.assert(
    fc.property(envelopeArb, fc.nat(), nastyNumber, nastyString, nasty, (env, pick, n, str, extra) => {
      const ps = paths(env);
      const path = ps[pick % ps.length] as (string | number)[];
      let leaf: unknown = env;
      for (const k of path) leaf = (leaf as Record<string | number, unknown>)[k];
      const m: Mutation = typeof leaf === 'number' ? { kind: 'set', value: n }
        : typeof leaf === 'string' && freeText(path) ? { kind: 'set', value: str }
        : { kind: 'add', key: 'extra', value: extra };
      agrees(mutate(env, path, m));
    }),
    { numRuns: 3000 },
  );
});

/** Runs decoder, decodeFrame and decodeEnvelope over a stream; anything accepted must satisfy the oracle. */
function digest(stream: Uint8Array, max: number, cuts: number[]): void {
  const d = new FrameDecoder(max);
  let prev = 0;
  const points = [...cuts.map((c) => c % (stream.length + 1)).sort((a, b) => a - b), stream.length];
  for (const p of points) {
    const r = d.push(stream.subarray(prev, Math.max(prev, p)));
    prev = Math.max(prev, p);
    for (const payload of r.frames) {
      assert.ok(payload.length <= max);
      const dec = decodeFrame(payload);
      if (!dec.ok) continue;
      const env = decodeEnvelope(dec.body);
      if (env !== null) assert.ok(envelopeZ.safeParse(env).success, `accepted ${JSON.stringify(env)}`);
    }
    if (r.error !== null) assert.is(d.push(Buffer.from([0, 0, 0, 0])).frames.length, 0);
  }
}

test('property: random bytes never throw out of the decoder, decodeFrame or decodeEnvelope', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), fc.integer({ min: 0, max: 400 }), fc.array(fc.nat(), { maxLength: 5 }), (bytes, max, cuts) => {
      digest(bytes, max, cuts);
      const env = decodeEnvelope(bytes);
      if (env !== null) assert.ok(envelopeZ.safeParse(env).success);
    }),
    { numRuns: 2000 },
  );
});

const byteMutation = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.nat({ max: 7 }) }),
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), value: fc.nat({ max: 255 }) }),
  fc.record({ kind: fc.constant('cut' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
  fc.record({ kind: fc.constant('remove' as const), at: fc.nat(), n: fc.integer({ min: 1, max: 8 }) }),
);

test('property: random mutations of valid frames never throw and only yield valid envelopes', () => {
  fc.assert(
    fc.property(
      fc.array(envelopeArb, { minLength: 1, maxLength: 3 }),
      fc.array(byteMutation, { minLength: 1, maxLength: 4 }),
      fc.boolean(),
      fc.array(fc.nat(), { maxLength: 4 }),
      (envs, muts, fixLength, cuts) => {
        let b = concat(envs.map(frameOf));
        for (const m of muts) {
          const at = m.at % (b.length + 1);
          if (m.kind === 'flip' && at < b.length) b[at] = (b[at] as number) ^ (1 << m.bit);
          else if (m.kind === 'set' && at < b.length) b[at] = m.value;
          else if (m.kind === 'cut') b = b.subarray(0, at);
          else if (m.kind === 'insert') b = Buffer.concat([b.subarray(0, at), m.bytes, b.subarray(at)]);
          else if (m.kind === 'remove') b = Buffer.concat([b.subarray(0, at), b.subarray(at + m.n)]);
        }
        // Half the time, repair the first length prefix so the mutation reaches the payload rather than the framing.
        if (fixLength && b.length >= 4) {
          b = Buffer.from(b);
          b.writeUInt32BE(b.length - 4, 0);
        }
        digest(b, 1 << 16, cuts);
      },
    ),
    { numRuns: 3000 },
  );
});

test.run();
