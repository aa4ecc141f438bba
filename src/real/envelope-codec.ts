// The binary encoding of envelopes between real hosts: the body of a frame
// (src/real/frame.ts). A peer may be buggy, out of date or hostile, and the
// cores behind the transport assume well-formed messages, so decoding checks
// every field of every variant, exactly as strictly as the JSON validation it
// replaced: numbers are safe integers in their field's range, enums are known
// values, strings are well-formed, lengths fit the bytes that arrived, nothing
// is left over, and Raft messages pass the core's own guard (isValidMessage).
// What JSON left unbounded is bounded here by what a correct peer sends
// (published records as long as the page table keeps them, one per party in a
// barrier's list; vector times; a refusal's detail).
// A decoded envelope is a fresh object of only the known fields.
//
// Layout (little-endian; every number is a float64, as JSON's were, so the
// range checks are the same and any safe integer travels):
//   envelope  u8 kind (0 raft, 1 vmm)
//     raft    f64 group, message
//     vmm     u8 tag (index into VMM_FIELDS), then the variant's fields in table order
//   message   u8 type (index into MESSAGE_TYPES), f64 from, to, term, logTerm, index,
//             commit, rejectHint, u8 reject, u8 transfer, u32 n, n x entry, u8 has-snapshot [snapshot]
//   entry     f64 term, f64 index, u8 kind (0 normal, 1 conf), string data
//   snapshot  f64 index, f64 term, ids voters, ids learners, string data
//   ids       u32 n, n x f64
//   string    u8 form (0 UTF-8, 1 UTF-16LE for a string with lone surrogates), u32 bytes, bytes
//   page data u32 bytes, the page's raw bytes (base64 in VmmMessage, raw on the wire); a diff too
//   list      u32 n, n x item (page data, or string: barrier-open's published records)
//   vt        u32 n, n x (f64 host id, f64 count), ids strictly ascending (a vector time)
//   hosts     u32 n, n x f64 host id, strictly ascending, each in [1, 2^32 - 1]
//   nullable  u8 0 (null) or 1, then the value
//   bool      u8 0 (false) or 1 (true); any other byte is refused
//
// Adding a VMM message variant is one entry in VMM_FIELDS (appended: a tag is
// its position); the types make the table list every variant and every field.
import { isUtf8 } from 'node:buffer';
import type { Entry, Message, MessageType, Snapshot } from '../raft/types.js';
import { isValidMessage } from '../raft/validate.js';
import type { Envelope } from '../vmm/wire.js';
import { MAX_ID_LENGTH, MAX_PARTIES, MAX_PUBLISHED_LENGTH, type LeaseMode, type LeaseToken } from '../vmm/page-table-commands.js';
import type { RefuseReason, VmmMessage } from '../vmm/protocol.js';
import { validateVectorTime, type VectorTime } from '../vmm/release/vector-time.js';

/** Most entries of a vector time (one per host that has released): more hosts than any cluster has. */
const MAX_VECTOR_ENTRIES = 4096;
/** Longest sync-refuse detail: a sentence for a log or an error message (the page table's are one line). */
const MAX_DETAIL_LENGTH = 1024;

const MESSAGE_TYPES: readonly MessageType[] = [
  'app', 'appResp', 'heartbeat', 'heartbeatResp', 'vote', 'voteResp', 'preVote', 'preVoteResp', 'snap', 'timeoutNow',
];
const REFUSE_REASONS: readonly RefuseReason[] = ['not-leader', 'busy', 'conflict', 'not-allocated', 'no-space', 'invalid'];
type SyncRefuseReason = Extract<VmmMessage, { t: 'sync-refuse' }>['why'];
const SYNC_REFUSE_REASONS: readonly SyncRefuseReason[] = ['not-leader', 'invalid'];
const MODES: readonly LeaseMode[] = ['read', 'write'];

// ---- field kinds of VMM messages ------------------------------------------------------------

/**
 * How one field travels. Ranges: ids and counters are >= 0 (0 is the "none"
 * of hosts and leaders); `have` is a version or -1 (no copy); a run of pages,
 * a write-back's number, an interval, a holding's token at its release and a
 * barrier's parties are at least 1; lock ids and barrier names are u32s (in a
 * float64, as every number). A `record` is a coherence model's record of a
 * release (opaque here; as long as the page table keeps), `records` a
 * barrier's (one per party at most); `pages` a list of page data (diffs);
 * `vt` a vector time; `hosts` a set of host ids (ascending).
 */
type FieldKind =
  | 'nat' | 'have' | 'pos' | 'u32'
  | 'bool' | 'mode' | 'modeOrNull' | 'why' | 'syncWhy' | 'lease'
  | TextKind | 'idOrNull' | 'recordOrNull'
  | 'page' | 'pageOrNull' | 'pages' | 'pagesOrNull' | 'records'
  | 'vt' | 'hosts';

/** Strings, each with its longest length in chars. */
type TextKind = 'id' | 'detail' | 'record';
const MAX_LENGTH: Record<TextKind, number> = { id: MAX_ID_LENGTH, detail: MAX_DETAIL_LENGTH, record: MAX_PUBLISHED_LENGTH };

/** The value a nullable kind carries when it is not null. */
const NON_NULL = { idOrNull: 'id', recordOrNull: 'record', pageOrNull: 'page', pagesOrNull: 'pages' } as const;

/** The kinds a field of type V may have: a table entry of the wrong kind does not compile. */
type KindOf<V> =
  [V] extends [number] ? 'nat' | 'have' | 'pos' | 'u32'
  : [V] extends [boolean] ? 'bool'
  : [V] extends [LeaseMode] ? 'mode'
  : [V] extends [LeaseMode | null] ? 'modeOrNull'
  // Before 'why': sync-refuse's two reasons are a subset of RefuseReason, and must not decode as the other four.
  : [V] extends [SyncRefuseReason] ? 'syncWhy'
  : [V] extends [RefuseReason] ? 'why'
  : [V] extends [LeaseToken] ? 'lease'
  : [V] extends [string] ? 'page' | TextKind
  : [V] extends [string | null] ? 'pageOrNull' | 'idOrNull' | 'recordOrNull'
  : [V] extends [string[]] ? 'pages' | 'records'
  : [V] extends [string[] | null] ? 'pagesOrNull'
  // Before 'vt': an array of numbers is a Record<number, number> too.
  : [V] extends [number[]] ? 'hosts'
  : [V] extends [VectorTime] ? 'vt'
  : never;

type VmmFields = {
  readonly [T in VmmMessage['t']]: { readonly [F in Exclude<keyof Extract<VmmMessage, { t: T }>, 't'>]: KindOf<Extract<VmmMessage, { t: T }>[F]> };
};

/** Every VMM variant's fields, in wire order. A variant's tag is its position: append new ones. */
const VMM_FIELDS: VmmFields = {
  acquire: { req: 'nat', page: 'nat', mode: 'mode', have: 'have' },
  grant: { req: 'nat', page: 'nat', mode: 'mode', version: 'nat', data: 'pageOrNull', leaseUs: 'nat', index: 'nat', lease: 'lease' },
  refuse: { req: 'nat', page: 'nat', why: 'why', leader: 'nat', version: 'nat' },
  revoke: { rev: 'nat', page: 'nat', index: 'nat' },
  revoked: { rev: 'nat', page: 'nat', data: 'pageOrNull', seq: 'nat' },
  release: { req: 'nat', page: 'nat', data: 'page', keep: 'modeOrNull', seq: 'nat', wb: 'pos', lease: 'lease' },
  released: { req: 'nat', page: 'nat', version: 'nat', index: 'nat' },
  alloc: { req: 'nat', company: 'nat', id: 'id', pages: 'pos' },
  'alloc-ok': { req: 'nat', firstPage: 'nat' },
  free: { req: 'nat', addr: 'nat', run: 'idOrNull' },
  'free-owner': { req: 'nat', addr: 'nat', host: 'nat' },
  'free-token': { req: 'nat', addr: 'nat', id: 'id', gen: 'nat' },
  'free-block': { req: 'nat', addr: 'nat', id: 'id', gen: 'nat' },
  'free-ok': { req: 'nat', addr: 'nat' },
  fetch: { req: 'nat', page: 'nat', have: 'have', need: 'vt' },
  page: { req: 'nat', page: 'nat', version: 'nat', data: 'pageOrNull', diffs: 'pagesOrNull', applied: 'vt' },
  diff: { req: 'nat', page: 'nat', interval: 'pos', vt: 'vt', diff: 'page', record: 'recordOrNull', recordSeq: 'nat' },
  diffed: { req: 'nat', page: 'nat', version: 'nat', floor: 'vt', recorded: 'bool' },
  'lock-acquire': { req: 'nat', id: 'u32', thread: 'nat', token: 'nat' },
  'lock-granted': { req: 'nat', id: 'u32', thread: 'nat', token: 'nat', leaseUs: 'nat', index: 'nat', published: 'recordOrNull', lapsed: 'bool', lapsedHosts: 'hosts' },
  'lock-queued': { req: 'nat', id: 'u32', thread: 'nat' },
  'lock-lost': { req: 'nat', id: 'u32', thread: 'nat', token: 'nat' },
  'lock-release': { req: 'nat', id: 'u32', thread: 'nat', token: 'pos', published: 'recordOrNull' },
  'lock-released': { req: 'nat', id: 'u32', thread: 'nat', committed: 'bool' },
  'barrier-arrive': { req: 'nat', name: 'u32', parties: 'pos', episode: 'nat', thread: 'nat', published: 'recordOrNull' },
  'barrier-wait': { req: 'nat', name: 'u32', episode: 'nat', thread: 'nat' },
  'barrier-open': { req: 'nat', name: 'u32', episode: 'nat', thread: 'nat', published: 'records' },
  'sync-refuse': { req: 'nat', why: 'syncWhy', leader: 'nat', detail: 'detail' },
  'lock-recall': { id: 'u32', token: 'pos' },
  'host-record': { req: 'nat', incarnation: 'nat', seq: 'pos', published: 'record' },
  'host-recorded': { req: 'nat' },
  'host-records': { req: 'nat', host: 'pos' },
  'host-records-are': { req: 'nat', host: 'pos', published: 'records' },
};

interface Variant {
  readonly t: VmmMessage['t'];
  readonly tag: number;
  readonly fields: readonly (readonly [string, FieldKind])[];
}

const VARIANTS: readonly Variant[] = Object.entries(VMM_FIELDS).map(([t, fields], tag) => ({
  t: t as VmmMessage['t'], tag, fields: Object.entries(fields as Record<string, FieldKind>),
}));
const VARIANT_OF = new Map<string, Variant>(VARIANTS.map((v) => [v.t, v]));

const MIN_OF: Partial<Record<FieldKind, number>> = { nat: 0, have: -1, pos: 1 };
const U32_MAX = 0xffffffff;

// ---- writing --------------------------------------------------------------------------------

/** A growing byte buffer. */
class Writer {
  buf: Buffer;
  at = 0;

  constructor(capacity: number) {
    this.buf = Buffer.allocUnsafe(capacity);
  }

  private room(n: number): void {
    if (this.at + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.at + n, this.buf.length * 2));
    this.buf.copy(next, 0, 0, this.at);
    this.buf = next;
  }

  u8(v: number): void {
    this.room(1);
    this.buf[this.at++] = v;
  }

  u32(v: number): void {
    this.room(4);
    this.at = this.buf.writeUInt32LE(v, this.at);
  }

  num(v: number): void {
    this.room(8);
    this.at = this.buf.writeDoubleLE(v, this.at);
  }

  bytes(b: Uint8Array): void {
    this.room(b.length);
    this.buf.set(b, this.at);
    this.at += b.length;
  }

  str(s: string): void {
    // Well-formed strings go as UTF-8; one with a lone surrogate (JSON carried those too) as its UTF-16 code units.
    const utf8 = (s as unknown as { isWellFormed(): boolean }).isWellFormed();
    const n = utf8 ? Buffer.byteLength(s, 'utf8') : 2 * s.length;
    this.room(5 + n);
    this.buf[this.at++] = utf8 ? 0 : 1;
    this.at = this.buf.writeUInt32LE(n, this.at);
    this.at += this.buf.write(s, this.at, n, utf8 ? 'utf8' : 'utf16le');
  }

  /** Page contents: the base64 of VmmMessage travels as the bytes it stands for, decoded straight into the frame. */
  page(base64: string): void {
    const n = Buffer.byteLength(base64, 'base64');
    this.room(4 + n);
    this.at = this.buf.writeUInt32LE(n, this.at);
    // byteLength is an upper bound for base64 that is not canonical (stray characters): write says what it wrote.
    const wrote = this.buf.write(base64, this.at, n, 'base64');
    if (wrote !== n) this.buf.writeUInt32LE(wrote, this.at - 4);
    this.at += wrote;
  }

  ids(ids: readonly number[]): void {
    this.u32(ids.length);
    for (const id of ids) this.num(id);
  }

  done(): Buffer {
    return this.buf.subarray(0, this.at);
  }
}

function writeEntry(w: Writer, e: Entry): void {
  w.num(e.term);
  w.num(e.index);
  w.u8(e.kind === 'conf' ? 1 : 0);
  w.str(e.data);
}

function writeSnapshot(w: Writer, s: Snapshot): void {
  w.num(s.index);
  w.num(s.term);
  w.ids(s.conf.voters);
  w.ids(s.conf.learners);
  w.str(s.data);
}

/** The code of an enum's value; an unknown value is the sender's bug. */
function codeOf<T>(names: readonly T[], v: unknown, what: string): number {
  const i = names.indexOf(v as T);
  if (i < 0) throw new TypeError(`envelope: unknown ${what} ${String(v)}`);
  return i;
}

function writeField(w: Writer, kind: FieldKind, v: unknown): void {
  switch (kind) {
    case 'nat':
    case 'have':
    case 'pos':
    case 'u32':
      w.num(v as number);
      return;
    case 'bool':
      if (typeof v !== 'boolean') throw new TypeError(`envelope: not a boolean: ${String(v)}`);
      w.u8(v ? 1 : 0);
      return;
    case 'mode':
      w.u8(codeOf(MODES, v, 'lease mode'));
      return;
    case 'modeOrNull':
      // One byte: the modes' codes, and one past them for null.
      w.u8(v === null ? MODES.length : codeOf(MODES, v, 'lease mode'));
      return;
    case 'why':
      w.u8(codeOf(REFUSE_REASONS, v, 'refusal'));
      return;
    case 'syncWhy':
      w.u8(codeOf(SYNC_REFUSE_REASONS, v, 'sync refusal'));
      return;
    case 'lease':
      w.num((v as LeaseToken).term);
      w.num((v as LeaseToken).grantedAtUs);
      return;
    case 'page':
      w.page(v as string);
      return;
    case 'id':
    case 'detail':
    case 'record':
      w.str(v as string);
      return;
    case 'pages':
    case 'records': {
      const items = v as readonly string[];
      w.u32(items.length);
      for (const item of items) writeField(w, kind === 'pages' ? 'page' : 'record', item);
      return;
    }
    case 'vt': {
      const entries = Object.entries(v as VectorTime);
      w.u32(entries.length);
      for (const [key, count] of entries) {
        const host = Number(key);
        // A key that is not a number's own spelling ('01', 'x') has no number to travel as.
        if (String(host) !== key) throw new TypeError(`envelope: vector time key ${JSON.stringify(key)} is not a host id`);
        w.num(host);
        w.num(count);
      }
      return;
    }
    case 'hosts':
      w.ids(v as readonly number[]);
      return;
    default:
      w.u8(v === null ? 0 : 1);
      if (v !== null) writeField(w, NON_NULL[kind], v);
  }
}

/**
 * Encodes envelopes, each entry of a Raft log once per broadcast: a leader's
 * appends to its followers are one message per follower (each names its
 * receiver and its own progress), but they carry the same entry objects,
 * whose bytes are kept here (entries are immutable once created) and copied
 * into every frame that carries them. The bytes are kept until the end of
 * the turn of the event loop that encoded them, which is when a Ready's
 * messages are all sent: keeping them as long as the log keeps the entry (up
 * to a snapshot's worth) doubled the memory of the log, outside the heap,
 * and the garbage collector's work with it; a later retransmission encodes
 * again.
 */
export class EnvelopeEncoder {
  /** The bytes of the entries encoded in this turn. */
  private readonly entryBytes = new Map<Entry, Buffer>();
  private readonly forget = (): void => this.entryBytes.clear();
  /** Entries encoded so far (a cached entry copied again is not counted): what a broadcast's test counts. */
  entriesEncoded = 0;

  /**
   * `prefix` followed by the envelope's bytes, in one buffer (the caller's
   * frame header goes in front without another copy). Throws TypeError on an
   * envelope no peer could decode: a bug of the sender, not input.
   */
  encode(env: Envelope, prefix: Uint8Array = EMPTY): Buffer {
    const w = new Writer(prefix.length + 256);
    w.bytes(prefix);
    if (env.kind === 'raft') {
      w.u8(0);
      w.num(env.group);
      this.writeMessage(w, env.msg);
    } else if (env.kind === 'vmm') {
      const v = VARIANT_OF.get(env.msg.t);
      if (v === undefined) throw new TypeError(`envelope: unknown VMM message ${String(env.msg.t)}`);
      w.u8(1);
      w.u8(v.tag);
      const fields = env.msg as unknown as Record<string, unknown>;
      for (const [name, kind] of v.fields) writeField(w, kind, fields[name]);
    } else {
      throw new TypeError(`envelope: unknown kind ${String((env as { kind: unknown }).kind)}`);
    }
    return w.done();
  }

  private writeMessage(w: Writer, m: Message): void {
    const type = MESSAGE_TYPES.indexOf(m.type);
    if (type < 0) throw new TypeError(`envelope: unknown Raft message type ${String(m.type)}`);
    w.u8(type);
    for (const n of [m.from, m.to, m.term, m.logTerm, m.index, m.commit, m.rejectHint]) w.num(n);
    w.u8(m.reject ? 1 : 0);
    w.u8(m.transfer ? 1 : 0);
    w.u32(m.entries.length);
    for (const e of m.entries) w.bytes(this.entry(e));
    w.u8(m.snapshot === null ? 0 : 1);
    if (m.snapshot !== null) writeSnapshot(w, m.snapshot);
  }

  private entry(e: Entry): Buffer {
    let b = this.entryBytes.get(e);
    if (b === undefined) {
      // Sized exactly for an entry whose data is well-formed UTF-8 (all but a lone surrogate's), so nothing is copied again.
      const w = new Writer(8 + 8 + 1 + MIN_STRING_BYTES + Buffer.byteLength(e.data, 'utf8'));
      writeEntry(w, e);
      b = w.done();
      if (this.entryBytes.size === 0) queueMicrotask(this.forget);
      this.entryBytes.set(e, b);
      this.entriesEncoded++;
    }
    return b;
  }
}

const EMPTY = new Uint8Array(0);

/** One envelope's bytes (no cache: tests and one-off senders). */
export function encodeEnvelope(env: Envelope): Buffer {
  return new EnvelopeEncoder().encode(env);
}

// ---- reading --------------------------------------------------------------------------------

/** Thrown inside this module only, to leave a nested read early; decodeEnvelope turns it into null. */
class Invalid {}
const INVALID = new Invalid();

class Reader {
  at = 0;

  constructor(private readonly b: Buffer) {}

  private need(n: number): void {
    if (this.b.length - this.at < n) throw INVALID;
  }

  u8(): number {
    this.need(1);
    return this.b[this.at++] as number;
  }

  /** A u8 that must be below `count` (an index into a table of names). */
  index(count: number): number {
    const v = this.u8();
    if (v >= count) throw INVALID;
    return v;
  }

  bool(): boolean {
    return this.index(2) === 1;
  }

  /** A length or count, each of whose items takes at least `itemBytes`: never more than could still arrive. */
  count(itemBytes: number): number {
    this.need(4);
    const n = this.b.readUInt32LE(this.at);
    this.at += 4;
    if (n * itemBytes > this.b.length - this.at) throw INVALID;
    return n;
  }

  /** A safe integer >= min. */
  int(min: number): number {
    this.need(8);
    const v = this.b.readDoubleLE(this.at);
    this.at += 8;
    if (!Number.isSafeInteger(v) || v < min) throw INVALID;
    return v;
  }

  raw(n: number): Buffer {
    this.need(n);
    const out = this.b.subarray(this.at, this.at + n);
    this.at += n;
    return out;
  }

  str(): string {
    const form = this.index(2);
    const bytes = this.raw(this.count(1));
    if (form === 1) {
      if (bytes.length % 2 !== 0) throw INVALID;
      return bytes.toString('utf16le');
    }
    // A replaced invalid sequence (U+FFFD) would turn two different byte strings into one string.
    if (!isUtf8(bytes)) throw INVALID;
    return bytes.toString('utf8');
  }

  page(): string {
    return this.raw(this.count(1)).toString('base64');
  }

  ids(): number[] {
    const n = this.count(8);
    const out = new Array<number>(n);
    for (let i = 0; i < n; i++) out[i] = this.int(0);
    return out;
  }

  end(): void {
    if (this.at !== this.b.length) throw INVALID;
  }
}

function readField(r: Reader, kind: FieldKind): unknown {
  switch (kind) {
    case 'nat':
    case 'have':
    case 'pos':
      return r.int(MIN_OF[kind] as number);
    case 'u32': {
      const v = r.int(0);
      if (v > U32_MAX) throw INVALID;
      return v;
    }
    case 'bool':
      return r.bool();
    case 'mode':
      return MODES[r.index(MODES.length)];
    case 'modeOrNull': {
      const i = r.index(MODES.length + 1);
      return i === MODES.length ? null : MODES[i];
    }
    case 'why':
      return REFUSE_REASONS[r.index(REFUSE_REASONS.length)];
    case 'syncWhy':
      return SYNC_REFUSE_REASONS[r.index(SYNC_REFUSE_REASONS.length)];
    case 'lease':
      return { term: r.int(0), grantedAtUs: r.int(0) };
    case 'page':
      return r.page();
    case 'id':
    case 'detail':
    case 'record': {
      const text = r.str();
      if (text.length > MAX_LENGTH[kind]) throw INVALID;
      return text;
    }
    case 'pages': {
      const n = r.count(4);
      const out = new Array<string>(n);
      for (let i = 0; i < n; i++) out[i] = r.page();
      return out;
    }
    case 'records': {
      const n = r.count(MIN_STRING_BYTES);
      if (n > MAX_PARTIES) throw INVALID;
      const out = new Array<string>(n);
      for (let i = 0; i < n; i++) out[i] = readField(r, 'record') as string;
      return out;
    }
    case 'vt':
      return readVectorTime(r);
    case 'hosts':
      return readHosts(r);
    default:
      return r.bool() ? readField(r, NON_NULL[kind]) : null;
  }
}

function readVectorTime(r: Reader): VectorTime {
  const n = r.count(16);
  if (n > MAX_VECTOR_ENTRIES) throw INVALID;
  const vt: Record<number, number> = {};
  let last = -1;
  for (let i = 0; i < n; i++) {
    const host = r.int(0);
    // Ascending: one entry per host, and one encoding per vector time.
    if (host <= last) throw INVALID;
    last = host;
    vt[host] = r.int(0);
  }
  // The rest of a vector time's rules (host ids up to 2^32 - 1; zero entries dropped) are its module's.
  const checked = validateVectorTime(vt, 'vt');
  if ('error' in checked) throw INVALID;
  return checked;
}

function readHosts(r: Reader): number[] {
  const hosts = r.ids();
  if (hosts.length > MAX_VECTOR_ENTRIES) throw INVALID;
  // Ascending: one encoding per set. Host 0 is nobody.
  for (let i = 0; i < hosts.length; i++) if (hosts[i]! < 1 || hosts[i]! > U32_MAX || (i > 0 && hosts[i]! <= hosts[i - 1]!)) throw INVALID;
  return hosts;
}

/** Smallest string on the wire: its form and length. */
const MIN_STRING_BYTES = 1 + 4;

/** Smallest entry on the wire: two numbers, a kind, an empty string. */
const MIN_ENTRY_BYTES = 8 + 8 + 1 + MIN_STRING_BYTES;

function readMessage(r: Reader): Message {
  const type = MESSAGE_TYPES[r.index(MESSAGE_TYPES.length)] as MessageType;
  // Numbers are read with the weakest bound here; isValidMessage applies each field's own.
  const [from, to, term, logTerm, index, commit, rejectHint] = [r.int(0), r.int(0), r.int(0), r.int(0), r.int(0), r.int(0), r.int(0)];
  const reject = r.bool();
  const transfer = r.bool();
  const n = r.count(MIN_ENTRY_BYTES);
  const entries: Entry[] = new Array<Entry>(n);
  for (let i = 0; i < n; i++) {
    entries[i] = { term: r.int(0), index: r.int(0), kind: r.bool() ? 'conf' : 'normal', data: r.str() };
  }
  let snapshot: Snapshot | null = null;
  if (r.bool()) snapshot = { index: r.int(0), term: r.int(0), conf: { voters: r.ids(), learners: r.ids() }, data: r.str() };
  const m: Message = { type, from, to, term, logTerm, index, entries, commit, reject, rejectHint, snapshot, transfer };
  // The core's own guard: ids positive and sorted, entries a run within the term, a snap carries a snapshot.
  if (!isValidMessage(m)) throw INVALID;
  return m;
}

function readEnvelope(r: Reader): Envelope {
  if (r.index(2) === 0) {
    const group = r.int(0);
    return { kind: 'raft', group, msg: readMessage(r) };
  }
  const v = VARIANTS[r.index(VARIANTS.length)] as Variant;
  const msg: Record<string, unknown> = { t: v.t };
  for (const [name, kind] of v.fields) msg[name] = readField(r, kind);
  return { kind: 'vmm', msg: msg as unknown as VmmMessage };
}

/**
 * The envelope `body` holds, or null if it is not exactly one well-formed
 * envelope (a field out of range or of an unknown value, a length past the
 * end, bytes left over). Never throws.
 */
export function decodeEnvelope(body: Uint8Array): Envelope | null {
  const b = Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  try {
    const r = new Reader(b);
    const env = readEnvelope(r);
    r.end();
    return env;
  } catch {
    // INVALID, or anything else a read raised: not an envelope either way, and never a crash of the host.
    return null;
  }
}
