// Commands of the page table (the Raft state machine of the shared memory) and
// their validation. Commands arrive from Raft logs, snapshots and the network,
// where a Byzantine node or a torn record can put anything, so every command is
// checked field by field before it touches the tables, and a bad one becomes an
// error result rather than an exception (an exception while applying a
// committed entry would stop the host, and a divergent one would split the
// members of a company).

import { type DiffFields, validateDiffFields } from './release/diff-table.js';
import { validateVectorTime, type VectorTime } from './release/vector-time.js';

export type LeaseMode = 'read' | 'write';

export type PageCommand =
  /** This host now keeps this company's range of pages (idempotent for the same range). */
  | { op: 'create-company'; company: number; firstPage: number; pages: number }
  /** This host is no longer a member of the company: drop all its rows. */
  | { op: 'drop-company'; company: number }
  /** First-fit run of `pages` free contiguous pages in the company's range. */
  | { op: 'allocate'; company: number; id: string; pages: number; owner: number }
  /**
   * Frees the run that starts at `firstPage`: only the allocation `id`, so a retried free never frees
   * a later allocation of the same pages.
   */
  | { op: 'free'; company: number; firstPage: number; by: number; id: string }
  /** Records a lease holder. */
  | { op: 'grant'; page: number; host: number; mode: LeaseMode; term: number; leaseUs: number; grantedAtUs: number }
  /** A holder acknowledged invalidation: remove its lease. */
  | { op: 'revoke'; page: number; host: number; lease?: LeaseToken }
  /** Write-back of a page's contents by its write holder. `data` is base64 of the page bytes. */
  | {
      op: 'release';
      page: number;
      host: number;
      version: number;
      hash: string;
      data: string;
      keep: LeaseMode | null;
      /**
       * The lease the write-back was made under (its grant's term and time): a fencing token, so a
       * late write-back from an earlier lease of the same host cannot overwrite newer contents.
       */
      lease?: LeaseToken;
    }
  /** The leader waited out a silent holder's lease: remove it. */
  | { op: 'expire'; page: number; host: number; lease?: LeaseToken }
  /**
   * Lock `id` (a u32, managed by `company`) goes to `host` under a lease (its time as for a page grant),
   * for its thread `thread` first (the host's threads then take turns under it). `token` 0 asks for a
   * free lock and makes a new holding, numbered by the lock's grants; the holder's token renews its
   * lease (same token, new time): a holding is named by its host and token.
   */
  | { op: 'lock-acquire'; company: number; id: number; host: number; thread: number; token: number; term: number; leaseUs: number; grantedAtUs: number }
  /** The holding host frees the lock (`thread`: its last holder there); `published` (the coherence model's record of the release) stays with the lock. */
  | { op: 'lock-release'; company: number; id: number; host: number; thread: number; token: number; published: string | null }
  /**
   * Host `host` (incarnation `incarnation`) is about to publish `published`, its `seq`-th record covering
   * sections under locks it keeps: the host's row in `company` (its home, sync/placement.ts) holds it from
   * now, and a holder granted one of those locks after a lapse reads it there (see SyncClient.recordElsewhere).
   */
  | { op: 'host-record'; company: number; host: number; incarnation: number; seq: number; published: string }
  /** The manager waited out a silent holder's lease (the one granted at grantedAtUs): the lock is free. */
  | { op: 'lock-expire'; company: number; id: number; host: number; thread: number; token: number; grantedAtUs: number }
  /**
   * Thread `thread` of `host` arrives at episode `episode` of barrier `name` (a u32) of `parties`; the
   * arrival that makes `parties` opens the episode. `published`: the coherence model's record.
   */
  | { op: 'barrier-arrive'; company: number; name: number; parties: number; episode: number; host: number; thread: number; published: string | null }
  /**
   * Changes nothing: once it commits in the proposer's term, the proposer's table holds everything
   * committed before, so what it reads there is current (a read barrier).
   */
  | { op: 'barrier' }
  /**
   * Release consistency: a host's diff of a page at the end of one of its intervals (src/vmm/release/diff-table.ts).
   * `record`: the host's host-record besides (of the interval's incarnation, in the page's company: its home),
   * committed only with the diff, so a release needs one commit for both (ReleaseClient.commit).
   */
  | ({ op: 'diff'; record?: DiffRecord } & DiffFields)
  /** Applies the page's pending diffs of the intervals `upTo` names (a fetch named them: they are published). */
  | { op: 'publish-diffs'; page: number; upTo: VectorTime }
  /** Drops the company's diffs of intervals `floor` covers (every host has seen them). */
  | { op: 'collect-diffs'; company: number; floor: VectorTime };

export interface LeaseToken { term: number; grantedAtUs: number }

/** A host-record carried by a diff: the host's `seq`-th record (see the host-record command). */
export interface DiffRecord { seq: number; published: string }

export type PageOp = PageCommand['op'];

/** Longest allocation id accepted; ids are keys, not payloads. */
export const MAX_ID_LENGTH = 256;

/** Longest record a release may publish (see CoherenceHooks). */
export const MAX_PUBLISHED_LENGTH = 64 * 1024;

/** Most parties a barrier may have. */
export const MAX_PARTIES = 1 << 16;

/** Form of the content hash carried by release: see pageHash. */
export const PAGE_HASH_RE = /^[0-9a-f]{16}$/;

type Fields = Record<string, unknown>;

/** A failed check: the message says which field and what was wrong with it. */
class Bad {
  constructor(readonly error: string) {}
}

function describe(v: unknown): string {
  if (v === undefined) return 'missing';
  if (v === null) return 'null';
  if (typeof v === 'number') return `${v}`;
  if (typeof v === 'string') return v.length > 40 ? `a string of ${v.length} chars` : JSON.stringify(v);
  return `a ${Array.isArray(v) ? 'array' : typeof v}`;
}

function int(o: Fields, op: string, key: string, min: number): number | Bad {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) {
    const what = min === 0 ? 'a non-negative integer' : min === 1 ? 'a positive integer' : 'an integer';
    return new Bad(`${op}: field '${key}' must be ${what}, got ${describe(v)}`);
  }
  return v;
}

const U32_MAX = 0xffffffff;

/** A lock id or barrier name: a u32. */
function u32(o: Fields, op: string, key: string): number | Bad {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > U32_MAX) {
    return new Bad(`${op}: field '${key}' must be an integer in [0, ${U32_MAX}], got ${describe(v)}`);
  }
  return v;
}

function published(o: Fields, op: string): string | null | Bad {
  const v = o['published'];
  if (v === null || (typeof v === 'string' && v.length <= MAX_PUBLISHED_LENGTH)) return v;
  return new Bad(`${op}: field 'published' must be null or a string of at most ${MAX_PUBLISHED_LENGTH} chars, got ${describe(v)}`);
}

/** Reads the integer fields named (each >= its minimum), or the first failure. */
function ints<K extends string>(o: Fields, op: string, keys: Readonly<Record<K, number>>): Record<K, number> | Bad {
  const out = {} as Record<K, number>;
  for (const key of Object.keys(keys) as K[]) {
    const v = int(o, op, key, keys[key]);
    if (v instanceof Bad) return v;
    out[key] = v;
  }
  return out;
}

/** The fields every lock command has: the company, the lock and the holding thread. */
function lockFields(o: Fields, op: string): { company: number; id: number; host: number; thread: number; token: number } | Bad {
  const id = u32(o, op, 'id');
  if (id instanceof Bad) return id;
  const f = ints(o, op, { company: 0, host: 0, thread: 0, token: 0 });
  return f instanceof Bad ? f : { company: f.company, id, host: f.host, thread: f.thread, token: f.token };
}

function mode(o: Fields, op: string, key: string, nullable: boolean): LeaseMode | null | Bad {
  const v = o[key];
  if (v === 'read' || v === 'write') return v;
  if (nullable && v === null) return null;
  return new Bad(`${op}: field '${key}' must be 'read' or 'write'${nullable ? ' or null' : ''}, got ${describe(v)}`);
}

/** Pages up to Number.MAX_SAFE_INTEGER: a range end past it could not be compared exactly. */
function range(op: string, first: number, pages: number): Bad | null {
  return Number.isSafeInteger(first + pages) ? null : new Bad(`${op}: range ${first}+${pages} overflows`);
}

/**
 * Checks that `value` is a well-formed command and returns a fresh copy
 * holding only the known fields (so extra fields a sender attached can never
 * reach the tables or the hash), or `{ error }` naming the first bad field.
 */
export function validateCommand(value: unknown): PageCommand | { error: string } {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { error: `command must be an object, got ${describe(value)}` };
  }
  const o = value as Fields;
  const op = o['op'];
  const r = build(o, op);
  return r instanceof Bad ? { error: r.error } : r;
}

/** The optional fencing token of a lease command: { term, grantedAtUs } integers. */
function leaseToken(o: Fields, op: string): LeaseToken | undefined | Bad {
  const lease = o['lease'];
  if (lease === undefined) return undefined;
  const l = lease as Fields;
  if (typeof lease !== 'object' || lease === null || !Number.isSafeInteger(l['term']) || !Number.isSafeInteger(l['grantedAtUs'])) {
    return new Bad(`${op}: field 'lease' must be { term, grantedAtUs } integers, got ${describe(lease)}`);
  }
  return { term: l['term'] as number, grantedAtUs: l['grantedAtUs'] as number };
}

function build(o: Fields, op: unknown): PageCommand | Bad {
  switch (op) {
    case 'create-company': {
      const company = int(o, op, 'company', 0);
      if (company instanceof Bad) return company;
      const firstPage = int(o, op, 'firstPage', 0);
      if (firstPage instanceof Bad) return firstPage;
      const pages = int(o, op, 'pages', 1);
      if (pages instanceof Bad) return pages;
      return range(op, firstPage, pages) ?? { op, company, firstPage, pages };
    }
    case 'drop-company': {
      const company = int(o, op, 'company', 0);
      if (company instanceof Bad) return company;
      return { op, company };
    }
    case 'allocate': {
      const company = int(o, op, 'company', 0);
      if (company instanceof Bad) return company;
      const id = o['id'];
      if (typeof id !== 'string' || id.length === 0 || id.length > MAX_ID_LENGTH) {
        return new Bad(`${op}: field 'id' must be a non-empty string of at most ${MAX_ID_LENGTH} chars, got ${describe(id)}`);
      }
      const pages = int(o, op, 'pages', 1);
      if (pages instanceof Bad) return pages;
      const owner = int(o, op, 'owner', 0);
      if (owner instanceof Bad) return owner;
      return { op, company, id, pages, owner };
    }
    case 'free': {
      const company = int(o, op, 'company', 0);
      if (company instanceof Bad) return company;
      const firstPage = int(o, op, 'firstPage', 0);
      if (firstPage instanceof Bad) return firstPage;
      const by = int(o, op, 'by', 0);
      if (by instanceof Bad) return by;
      const id = o['id'];
      if (typeof id !== 'string' || id.length === 0 || id.length > MAX_ID_LENGTH) {
        return new Bad(`${op}: field 'id' must be a non-empty string of at most ${MAX_ID_LENGTH} chars, got ${describe(id)}`);
      }
      return { op, company, firstPage, by, id };
    }
    case 'grant': {
      const page = int(o, op, 'page', 0);
      if (page instanceof Bad) return page;
      const host = int(o, op, 'host', 0);
      if (host instanceof Bad) return host;
      const m = mode(o, op, 'mode', false);
      if (m instanceof Bad) return m;
      const term = int(o, op, 'term', 0);
      if (term instanceof Bad) return term;
      const leaseUs = int(o, op, 'leaseUs', 0);
      if (leaseUs instanceof Bad) return leaseUs;
      // A host's local clock may read below zero (offset and drift), so any integer.
      const grantedAtUs = int(o, op, 'grantedAtUs', Number.MIN_SAFE_INTEGER);
      if (grantedAtUs instanceof Bad) return grantedAtUs;
      return { op, page, host, mode: m as LeaseMode, term, leaseUs, grantedAtUs };
    }
    case 'revoke':
    case 'expire': {
      const page = int(o, op, 'page', 0);
      if (page instanceof Bad) return page;
      const host = int(o, op, 'host', 0);
      if (host instanceof Bad) return host;
      const lease = leaseToken(o, op);
      if (lease instanceof Bad) return lease;
      return lease === undefined ? { op, page, host } : { op, page, host, lease };
    }
    case 'release': {
      const page = int(o, op, 'page', 0);
      if (page instanceof Bad) return page;
      const host = int(o, op, 'host', 0);
      if (host instanceof Bad) return host;
      const version = int(o, op, 'version', 1);
      if (version instanceof Bad) return version;
      const hash = o['hash'];
      if (typeof hash !== 'string' || !PAGE_HASH_RE.test(hash)) {
        return new Bad(`${op}: field 'hash' must be 16 lowercase hex digits, got ${describe(hash)}`);
      }
      const data = o['data'];
      if (typeof data !== 'string') return new Bad(`${op}: field 'data' must be a base64 string, got ${describe(data)}`);
      const keep = mode(o, op, 'keep', true);
      if (keep instanceof Bad) return keep;
      const lease = leaseToken(o, op);
      if (lease instanceof Bad) return lease;
      return lease === undefined ? { op, page, host, version, hash, data, keep } : { op, page, host, version, hash, data, keep, lease };
    }
    case 'lock-acquire': {
      const l = lockFields(o, op);
      if (l instanceof Bad) return l;
      const f = ints(o, op, { term: 0, leaseUs: 0, grantedAtUs: Number.MIN_SAFE_INTEGER });
      if (f instanceof Bad) return f;
      return { op, ...l, term: f.term, leaseUs: f.leaseUs, grantedAtUs: f.grantedAtUs };
    }
    case 'lock-release': {
      const l = lockFields(o, op);
      if (l instanceof Bad) return l;
      if (l.token < 1) return new Bad(`${op}: field 'token' must be a positive integer, got ${l.token}`);
      const p = published(o, op);
      if (p instanceof Bad) return p;
      return { op, ...l, published: p };
    }
    case 'host-record': {
      const f = ints(o, op, { company: 0, host: 1, incarnation: 0, seq: 1 });
      if (f instanceof Bad) return f;
      const p = published(o, op);
      if (p instanceof Bad) return p;
      if (p === null) return new Bad(`${op}: field 'published' must be a string, got null`);
      return { op, company: f.company, host: f.host, incarnation: f.incarnation, seq: f.seq, published: p };
    }
    case 'lock-expire': {
      const l = lockFields(o, op);
      if (l instanceof Bad) return l;
      if (l.token < 1) return new Bad(`${op}: field 'token' must be a positive integer, got ${l.token}`);
      const grantedAtUs = int(o, op, 'grantedAtUs', Number.MIN_SAFE_INTEGER);
      if (grantedAtUs instanceof Bad) return grantedAtUs;
      return { op, ...l, grantedAtUs };
    }
    case 'barrier-arrive': {
      const name = u32(o, op, 'name');
      if (name instanceof Bad) return name;
      const f = ints(o, op, { company: 0, parties: 1, episode: 0, host: 0, thread: 0 });
      if (f instanceof Bad) return f;
      if (f.parties > MAX_PARTIES) return new Bad(`${op}: field 'parties' must be at most ${MAX_PARTIES}, got ${f.parties}`);
      const p = published(o, op);
      if (p instanceof Bad) return p;
      return { op, company: f.company, name, parties: f.parties, episode: f.episode, host: f.host, thread: f.thread, published: p };
    }
    case 'barrier':
      return { op };
    case 'diff': {
      const f = validateDiffFields(o);
      if ('error' in f) return new Bad(f.error);
      if (o['record'] === undefined) return { op, ...f };
      const r = o['record'];
      if (typeof r !== 'object' || r === null || Array.isArray(r)) return new Bad(`${op}: field 'record' must be { seq, published }, got ${describe(r)}`);
      const seq = int(r as Fields, `${op}.record`, 'seq', 1);
      if (seq instanceof Bad) return seq;
      const p = published(r as Fields, `${op}.record`);
      if (p instanceof Bad) return p;
      if (p === null) return new Bad(`${op}.record: field 'published' must be a string, got null`);
      return { op, ...f, record: { seq, published: p } };
    }
    case 'publish-diffs': {
      const page = int(o, op, 'page', 0);
      if (page instanceof Bad) return page;
      const upTo = validateVectorTime(o['upTo'], `${op}: field 'upTo'`);
      return 'error' in upTo ? new Bad(upTo.error as string) : { op, page, upTo: upTo as VectorTime };
    }
    case 'collect-diffs': {
      const company = int(o, op, 'company', 0);
      if (company instanceof Bad) return company;
      const floor = validateVectorTime(o['floor'], `${op}: field 'floor'`);
      return 'error' in floor ? new Bad(floor.error as string) : { op, company, floor: floor as VectorTime };
    }
    default:
      return new Bad(`unknown op ${describe(op)}`);
  }
}
