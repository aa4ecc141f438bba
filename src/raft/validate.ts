// Structural validation of input from the network. Peers may be faulty (or Byzantine in
// simulation), so the core never trusts a message's shape; malformed input is dropped.

import type { ConfState, Entry, Message, MessageType, Snapshot } from './types.js';

const TYPES: ReadonlySet<string> = new Set<MessageType>([
  'app', 'appResp', 'heartbeat', 'heartbeatResp', 'vote', 'voteResp',
  'preVote', 'preVoteResp', 'snap', 'timeoutNow',
]);

const nat = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
const pos = (x: unknown): x is number => nat(x) && x > 0;

function isIdList(x: unknown): x is number[] {
  if (!Array.isArray(x)) return false;
  for (let i = 0; i < x.length; i++) {
    if (!pos(x[i])) return false;
    if (i > 0 && (x[i] as number) <= (x[i - 1] as number)) return false;
  }
  return true;
}

export function isConfState(x: unknown): x is ConfState {
  if (typeof x !== 'object' || x === null) return false;
  const o = x as Record<string, unknown>;
  return isIdList(o['voters']) && isIdList(o['learners']);
}

export function isEntry(x: unknown): x is Entry {
  if (typeof x !== 'object' || x === null) return false;
  const o = x as Record<string, unknown>;
  return pos(o['term']) && pos(o['index']) && (o['kind'] === 'normal' || o['kind'] === 'conf') && typeof o['data'] === 'string';
}

export function isSnapshot(x: unknown): x is Snapshot {
  if (typeof x !== 'object' || x === null) return false;
  const o = x as Record<string, unknown>;
  return nat(o['index']) && nat(o['term']) && isConfState(o['conf']) && typeof o['data'] === 'string';
}

/** Entries must be consecutive, starting right after `prev`, with non-decreasing terms. */
function isEntryRun(x: unknown, prev: number, prevTerm: number): x is Entry[] {
  if (!Array.isArray(x)) return false;
  let idx = prev;
  let term = prevTerm;
  for (const e of x) {
    if (!isEntry(e) || e.index !== idx + 1 || e.term < term) return false;
    idx = e.index;
    term = e.term;
  }
  return true;
}

export function isValidMessage(x: unknown): x is Message {
  if (typeof x !== 'object' || x === null) return false;
  const m = x as Record<string, unknown>;
  if (typeof m['type'] !== 'string' || !TYPES.has(m['type'])) return false;
  if (!pos(m['from']) || !pos(m['to']) || !nat(m['term'])) return false;
  if (!nat(m['logTerm']) || !nat(m['index']) || !nat(m['commit']) || !nat(m['rejectHint'])) return false;
  if (typeof m['reject'] !== 'boolean' || typeof m['transfer'] !== 'boolean') return false;
  if (!isEntryRun(m['entries'], m['index'] as number, m['logTerm'] as number)) return false;
  if (m['snapshot'] !== null && !isSnapshot(m['snapshot'])) return false;
  if (m['type'] === 'snap' && m['snapshot'] === null) return false;
  // Entries may not claim a term beyond the message's own term.
  for (const e of m['entries'] as Entry[]) if (e.term > (m['term'] as number)) return false;
  return true;
}
