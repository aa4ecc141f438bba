// Validation of envelopes decoded from the network. A frame's JSON can hold
// anything (a peer may be buggy, out of date or hostile), and the cores behind
// the transport assume well-formed messages, so every field of every variant is
// checked here, and the result is a fresh object holding only the known fields:
// an extra field a sender attached can never reach the Raft or VMM state.
//
// Number fields must be safe integers: JSON has only doubles, and a fractional
// page number or an index past 2^53 would compare wrongly deep in the core.
import type { Entry, Message, Snapshot } from '../raft/types.js';
import { isValidMessage } from '../raft/validate.js';
import type { Envelope } from '../vmm/wire.js';
import type { LeaseMode, LeaseToken } from '../vmm/page-table-commands.js';
import type { RefuseReason, VmmMessage } from '../vmm/protocol.js';
import { validateVectorTime } from '../vmm/release/vector-time.js';

type Fields = Record<string, unknown>;

/** Longest allocation id accepted (as the page table's MAX_ID_LENGTH: ids are keys, not payloads). */
const MAX_ID_LENGTH = 256;

const REFUSE_REASONS: ReadonlySet<string> = new Set<RefuseReason>([
  'not-leader', 'busy', 'conflict', 'not-allocated', 'no-space', 'invalid',
]);

/** Thrown inside this module only, to leave a nested check early; validateEnvelope turns it into null. */
class Invalid {}
const INVALID = new Invalid();

function obj(v: unknown): Fields {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw INVALID;
  return v as Fields;
}

/** A safe integer >= min. */
function int(o: Fields, key: string, min: number): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) throw INVALID;
  return v;
}

function str(o: Fields, key: string): string {
  const v = o[key];
  if (typeof v !== 'string') throw INVALID;
  return v;
}

function strOrNull(o: Fields, key: string): string | null {
  const v = o[key];
  if (v === null) return null;
  if (typeof v !== 'string') throw INVALID;
  return v;
}

function allocationId(o: Fields, key: string): string {
  const id = str(o, key);
  if (id.length > MAX_ID_LENGTH) throw INVALID;
  return id;
}

function mode(o: Fields, key: string): LeaseMode {
  const v = o[key];
  if (v !== 'read' && v !== 'write') throw INVALID;
  return v;
}

function modeOrNull(o: Fields, key: string): LeaseMode | null {
  return o[key] === null ? null : mode(o, key);
}

function leaseToken(v: unknown): LeaseToken {
  const o = obj(v);
  return { term: int(o, 'term', 0), grantedAtUs: int(o, 'grantedAtUs', 0) };
}

// Ranges: ids and counters are >= 0 (0 is the "none" of hosts and leaders);
// `have` is a version or -1 (no copy); a run of pages is at least one page.
function vmmMessage(v: unknown): VmmMessage {
  const o = obj(v);
  const t = o['t'];
  switch (t) {
    case 'acquire':
      return { t, req: int(o, 'req', 0), page: int(o, 'page', 0), mode: mode(o, 'mode'), have: int(o, 'have', -1) };
    case 'grant':
      return {
        t,
        req: int(o, 'req', 0),
        page: int(o, 'page', 0),
        mode: mode(o, 'mode'),
        version: int(o, 'version', 0),
        data: strOrNull(o, 'data'),
        leaseUs: int(o, 'leaseUs', 0),
        index: int(o, 'index', 0),
        lease: leaseToken(o['lease']),
      };
    case 'refuse': {
      const why = o['why'];
      if (typeof why !== 'string' || !REFUSE_REASONS.has(why)) throw INVALID;
      return {
        t, req: int(o, 'req', 0), page: int(o, 'page', 0), why: why as RefuseReason, leader: int(o, 'leader', 0), version: int(o, 'version', 0),
      };
    }
    case 'revoke':
      return { t, rev: int(o, 'rev', 0), page: int(o, 'page', 0), index: int(o, 'index', 0) };
    case 'revoked':
      return { t, rev: int(o, 'rev', 0), page: int(o, 'page', 0), data: strOrNull(o, 'data'), seq: int(o, 'seq', 0) };
    case 'release':
      return {
        t,
        req: int(o, 'req', 0),
        page: int(o, 'page', 0),
        data: str(o, 'data'),
        keep: modeOrNull(o, 'keep'),
        seq: int(o, 'seq', 0),
        wb: int(o, 'wb', 1),
        lease: leaseToken(o['lease']),
      };
    case 'released':
      return { t, req: int(o, 'req', 0), page: int(o, 'page', 0), version: int(o, 'version', 0), index: int(o, 'index', 0) };
    case 'alloc':
      return { t, req: int(o, 'req', 0), company: int(o, 'company', 0), id: allocationId(o, 'id'), pages: int(o, 'pages', 1) };
    case 'alloc-ok':
      return { t, req: int(o, 'req', 0), firstPage: int(o, 'firstPage', 0) };
    case 'free':
      return { t, req: int(o, 'req', 0), addr: int(o, 'addr', 0), run: o['run'] === null ? null : allocationId(o, 'run') };
    case 'free-owner':
      return { t, req: int(o, 'req', 0), addr: int(o, 'addr', 0), host: int(o, 'host', 0) };
    case 'free-token':
    case 'free-block':
      return { t, req: int(o, 'req', 0), addr: int(o, 'addr', 0), id: allocationId(o, 'id'), gen: int(o, 'gen', 0) };
    case 'free-ok':
      return { t, req: int(o, 'req', 0), addr: int(o, 'addr', 0) };
    case 'fetch':
      return { t, req: int(o, 'req', 0), page: int(o, 'page', 0), have: int(o, 'have', -1), need: int(o, 'need', 0) };
    case 'page': {
      const diffs = o['diffs'];
      if (diffs !== null && (!Array.isArray(diffs) || !diffs.every((d) => typeof d === 'string'))) throw INVALID;
      return { t, req: int(o, 'req', 0), page: int(o, 'page', 0), version: int(o, 'version', 0), data: strOrNull(o, 'data'), diffs: diffs as string[] | null };
    }
    case 'diff':
      return { t, req: int(o, 'req', 0), page: int(o, 'page', 0), interval: int(o, 'interval', 1), vt: vectorTime(o['vt']), diff: str(o, 'diff') };
    case 'diffed':
      return { t, req: int(o, 'req', 0), page: int(o, 'page', 0), version: int(o, 'version', 0), floor: vectorTime(o['floor']) };
    default:
      return syncMessage(o, t);
  }
}

/** A lock id or barrier name: a u32. */
function u32(o: Fields, key: string): number {
  const v = int(o, key, 0);
  if (v > 0xffffffff) throw INVALID;
  return v;
}

/** Locks and barriers (src/vmm/sync); thread is a thread's cluster-wide index. */
function syncMessage(o: Fields, t: unknown): VmmMessage {
  const req = int(o, 'req', 0);
  switch (t) {
    case 'lock-acquire':
      return { t, req, id: u32(o, 'id'), thread: int(o, 'thread', 0), token: int(o, 'token', 0) };
    case 'lock-granted':
      return {
        t, req, id: u32(o, 'id'), thread: int(o, 'thread', 0), token: int(o, 'token', 0), leaseUs: int(o, 'leaseUs', 0), index: int(o, 'index', 0),
        published: strOrNull(o, 'published'),
      };
    case 'lock-queued':
    case 'lock-released':
      return { t, req, id: u32(o, 'id'), thread: int(o, 'thread', 0) };
    case 'lock-lost':
      return { t, req, id: u32(o, 'id'), thread: int(o, 'thread', 0), token: int(o, 'token', 0) };
    case 'lock-release':
      return { t, req, id: u32(o, 'id'), thread: int(o, 'thread', 0), token: int(o, 'token', 1), published: strOrNull(o, 'published') };
    case 'barrier-arrive':
      return {
        t, req, name: u32(o, 'name'), parties: int(o, 'parties', 1), episode: int(o, 'episode', 0), thread: int(o, 'thread', 0),
        published: strOrNull(o, 'published'),
      };
    case 'barrier-wait':
      return { t, req, name: u32(o, 'name'), episode: int(o, 'episode', 0), thread: int(o, 'thread', 0) };
    case 'barrier-open': {
      const published = o['published'];
      if (!Array.isArray(published) || !published.every((p) => typeof p === 'string')) throw INVALID;
      return { t, req, name: u32(o, 'name'), episode: int(o, 'episode', 0), thread: int(o, 'thread', 0), published: [...published as string[]] };
    }
    case 'sync-refuse': {
      const why = o['why'];
      if (why !== 'not-leader' && why !== 'invalid') throw INVALID;
      return { t, req, why, leader: int(o, 'leader', 0), detail: str(o, 'detail') };
    }
    default:
      throw INVALID;
  }
}

function vectorTime(v: unknown): Record<number, number> {
  const vt = validateVectorTime(v, 'vt');
  if ('error' in vt) throw INVALID;
  return { ...vt };
}

function copyEntry(e: Entry): Entry {
  return { term: e.term, index: e.index, kind: e.kind, data: e.data };
}

function copySnapshot(s: Snapshot): Snapshot {
  return { index: s.index, term: s.term, conf: { voters: [...s.conf.voters], learners: [...s.conf.learners] }, data: s.data };
}

function raftMessage(v: unknown): Message {
  // isValidMessage is the core's own guard; the copy below only sheds extra fields.
  if (!isValidMessage(v)) throw INVALID;
  return {
    type: v.type,
    from: v.from,
    to: v.to,
    term: v.term,
    logTerm: v.logTerm,
    index: v.index,
    entries: v.entries.map(copyEntry),
    commit: v.commit,
    reject: v.reject,
    rejectHint: v.rejectHint,
    snapshot: v.snapshot === null ? null : copySnapshot(v.snapshot),
    transfer: v.transfer,
  };
}

function envelope(v: unknown): Envelope {
  const o = obj(v);
  switch (o['kind']) {
    case 'raft':
      return { kind: 'raft', group: int(o, 'group', 0), msg: raftMessage(o['msg']) };
    case 'vmm':
      return { kind: 'vmm', msg: vmmMessage(o['msg']) };
    default:
      throw INVALID;
  }
}

/**
 * Returns a well-formed copy of `value` (only the known fields), or null if
 * any field of its variant is missing or of the wrong type or range. Never throws.
 */
export function validateEnvelope(value: unknown): Envelope | null {
  try {
    return envelope(value);
  } catch {
    // INVALID, or anything a hand-made object (a throwing getter, a proxy) raised: not an envelope either way.
    return null;
  }
}
