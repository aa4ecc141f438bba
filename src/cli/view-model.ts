// What `gallocy view` draws, computed once from a trace: events as columns
// (so a million of them embed and load quickly), message sends, host fault
// spans, network faults, leaders per group, page holders over time, and the
// violation with the events that led to it. Trace lines are those of `replay
// --trace`; replay adds a `violation` line (and for a linearizability failure
// a `history` line) after the events.
import { traceEventSpec, type TraceEvent } from '../host/trace-events.js';

export interface HistoryOp { client: number; op: string; call: number; ret: number | null }
/** One key's operations, and which of them the checker could order (its longest linearizable prefix, in order) and which not. */
export interface KeyHistory { key: string; ops: HistoryOp[]; linearized: number[]; unordered: number[] }

export interface ViolationLine { t: number; invariant: string; message: string; window: number }

export interface ViewModel {
  title: string;
  lanes: number[];
  laneNames: string[];
  groups: number[];
  pages: number[];
  kinds: string[];
  /** Per kind: its category (raft, vmm, kv, fault, host, memory, client). */
  categories: string[];
  end: number;
  // Columns, one entry per event, in trace order (time order).
  t: number[];
  lane: number[];
  kind: number[];
  /** The sender's lane (-1: not a message). */
  fromLane: number[];
  /** When the message was sent: the sender's last event at or before its delivery. */
  sentAt: number[];
  group: number[];
  page: number[];
  /** Per kind, its field names (the note last): what `vals` holds for each event of the kind, in order. */
  kindFields: string[][];
  /** Every event's field values, one after the other; a note is an index into `notes`. */
  vals: number[];
  /** Per kind, whether its last field is a note. */
  kindHasNote: boolean[];
  notes: string[];
  spans: Array<{ lane: number; from: number; to: number; what: string }>;
  netFaults: Array<{ from: number; to: number; kind: string }>;
  /**
   * Leadership spans per group. `slot` > 0: another host already led the same term when this one
   * began (two leaders of one term, an election-safety violation), drawn below it in the row.
   */
  leaders: Array<{ group: number; lane: number; from: number; to: number; term: number; slot: number }>;
  holders: Array<{ page: number; lane: number; from: number; to: number; mode: string }>;
  violation: (ViolationLine & { related: number[] }) | null;
  history: KeyHistory[] | null;
}

interface OpenLeader { lane: number; from: number; term: number; host: number; slot: number }

const RAFT = new Set(['app', 'appResp', 'heartbeat', 'heartbeatResp', 'vote', 'voteResp', 'preVote', 'preVoteResp', 'snap', 'timeoutNow']);
const KV = new Set(['kv-request', 'kv-response', 'kv-not-leader', 'kv-ok', 'kv-timeout']);
const HOST = new Set(['start', 'crash', 'pause', 'stall', 'resume', 'boot-failed', 'tick', 'sync', 'leader', 'clock-jump', 'clock-drift', 'quiet', 'buggify']);

function categoryOf(kind: string): string {
  if (RAFT.has(kind)) return 'raft';
  if (KV.has(kind)) return 'kv';
  if (kind.startsWith('fault:')) return 'fault';
  if (kind.startsWith('thread-') || ['lost-threads', 'lost-writes', 'segfault'].includes(kind)) return 'memory';
  if (HOST.has(kind) || kind.startsWith('company-') || kind.startsWith('owner-') || kind.startsWith('explore-')) return 'host';
  return 'vmm';
}

export class TraceLineError extends Error {
  constructor(readonly line: number, message: string) {
    super(`line ${line}: ${message}`);
  }
}

/** Builds the model from trace lines (each one JSON object). */
export function buildViewModel(lines: Iterable<string>, title: string): ViewModel {
  const m: ViewModel = {
    title, lanes: [], laneNames: [], groups: [], pages: [], kinds: [], categories: [], end: 0,
    t: [], lane: [], kind: [], fromLane: [], sentAt: [], group: [], page: [], kindFields: [], vals: [], kindHasNote: [], notes: [],
    spans: [], netFaults: [], leaders: [], holders: [], violation: null, history: null,
  };
  const laneOf = new Map<number, number>();
  const kindOf = new Map<string, number>();
  const noteOf = new Map<string, number>();
  const groups = new Set<number>();
  const pages = new Set<number>();
  const lastAt = new Map<number, number>();
  const openSpan = new Map<number, { from: number; what: string }>();
  // Open leaderships by group: more than one only while rival hosts lead the same term.
  const leaderOf = new Map<number, OpenLeader[]>();
  const closeLeaders = (group: number, t: number, ends: (ld: OpenLeader) => boolean): void => {
    const open = leaderOf.get(group) ?? [];
    for (const ld of open.filter(ends)) m.leaders.push({ group, lane: ld.lane, from: ld.from, to: t, term: ld.term, slot: ld.slot });
    leaderOf.set(group, open.filter((ld) => !ends(ld)));
  };
  const held = new Map<string, { from: number; mode: string; until: number }>();
  let openNet: { from: number; to: number; kind: string } | null = null;
  const clients = new Set<number>();
  let violation: ViolationLine | null = null;
  const lane = (host: number): number => {
    let l = laneOf.get(host);
    if (l === undefined) {
      l = laneOf.size;
      laneOf.set(host, l);
      m.lanes.push(host);
    }
    return l;
  };
  const closeHold = (page: number, host: number, at: number): void => {
    const key = `${page}/${host}`;
    const h = held.get(key);
    if (h === undefined) return;
    held.delete(key);
    m.holders.push({ page, lane: lane(host), from: h.from, to: Math.min(at, h.until), mode: h.mode });
  };
  let n = 0;
  for (const raw of lines) {
    n++;
    if (raw.trim() === '') continue;
    let e: TraceEvent & Record<string, unknown>;
    try {
      e = JSON.parse(raw) as TraceEvent & Record<string, unknown>;
    } catch {
      throw new TraceLineError(n, 'expected a JSON object (a trace line of gallocy replay --trace)');
    }
    if (typeof e !== 'object' || e === null || typeof e.kind !== 'string') throw new TraceLineError(n, 'expected an object with a string "kind"');
    if (e.kind === 'violation') {
      if (typeof e.t !== 'number' || typeof e.invariant !== 'string' || typeof e.message !== 'string') throw new TraceLineError(n, 'a violation line needs t, invariant and message');
      violation = { t: e.t, invariant: e.invariant, message: e.message, window: typeof e.window === 'number' ? e.window : 48 };
      continue;
    }
    if (e.kind === 'history') {
      if (!Array.isArray(e.keys)) throw new TraceLineError(n, 'a history line needs keys (an array)');
      m.history = e.keys as KeyHistory[];
      continue;
    }
    if (typeof e.t !== 'number' || typeof e.host !== 'number') throw new TraceLineError(n, 'expected numbers "t" and "host"');
    const spec = traceEventSpec(e.kind);
    if (spec === undefined) throw new TraceLineError(n, `unknown event kind "${e.kind}" (not in the trace vocabulary)`);
    const t = e.t;
    m.end = Math.max(m.end, t);
    let k = kindOf.get(e.kind);
    if (k === undefined) {
      k = m.kinds.length;
      kindOf.set(e.kind, k);
      m.kinds.push(e.kind);
      m.categories.push(categoryOf(e.kind));
      m.kindFields.push([...spec.fields, ...(spec.note !== undefined ? [spec.note] : [])]);
      m.kindHasNote.push(spec.note !== undefined);
    }
    const cat = m.categories[k]!;
    const isFault = cat === 'fault';
    // World events (faults, quiet) have host 0: they go on the faults row, not a lane.
    const l = e.host === 0 ? -1 : lane(e.host);
    const from = typeof e.from === 'number' && (cat === 'raft' || cat === 'vmm' || e.kind.startsWith('kv-')) && e.kind !== 'kv-ok' && e.kind !== 'kv-timeout' ? e.from : null;
    const fromLane = from === null ? -1 : lane(from);
    const g = typeof e.group === 'number' ? e.group : typeof e.company === 'number' ? e.company : -1;
    const p = typeof e.page === 'number' ? e.page : -1;
    if (e.kind === 'kv-request' && typeof e.client === 'number') clients.add(e.client);
    if (g >= 0) groups.add(g);
    if (p >= 0) pages.add(p);
    m.t.push(t);
    m.lane.push(l);
    m.kind.push(k);
    m.fromLane.push(fromLane);
    m.sentAt.push(from === null ? -1 : Math.min(t, lastAt.get(from) ?? t));
    m.group.push(g);
    m.page.push(p);
    for (const f of spec.fields) {
      const v = e[f];
      if (typeof v !== 'number') throw new TraceLineError(n, `${e.kind}: expected a number "${f}"`);
      m.vals.push(v);
    }
    if (spec.note !== undefined) {
      const note = typeof e[spec.note] === 'string' ? (e[spec.note] as string) : '';
      let i = noteOf.get(note);
      if (i === undefined) {
        i = m.notes.length;
        noteOf.set(note, i);
        m.notes.push(note);
      }
      m.vals.push(i);
    }
    if (e.host !== 0) lastAt.set(e.host, t);

    // Spans of host faults, network faults, leaders, page holders.
    if (isFault && typeof e.forMs === 'number' && /^fault:(partition|clog|flaky)/.test(e.kind)) {
      if (openNet !== null) m.netFaults.push({ ...openNet, to: Math.min(openNet.to, t) });
      openNet = { from: t, to: t + e.forMs * 1000, kind: e.kind.slice('fault:'.length) };
    }
    if (e.kind === 'quiet' && openNet !== null) {
      m.netFaults.push({ ...openNet, to: Math.min(openNet.to, t) });
      openNet = null;
    }
    if (e.kind === 'crash' || e.kind === 'pause' || e.kind === 'stall') {
      if (!openSpan.has(e.host)) openSpan.set(e.host, { from: t, what: e.kind === 'crash' ? 'down' : e.kind === 'pause' ? 'paused' : 'stalled' });
      if (e.kind === 'crash') {
        for (const group of leaderOf.keys()) closeLeaders(group, t, (ld) => ld.host === e.host);
        for (const key of [...held.keys()]) {
          const [page, host] = key.split('/').map(Number) as [number, number];
          if (host === e.host) closeHold(page, host, t);
        }
      }
    }
    if (e.kind === 'start' || e.kind === 'resume') {
      const s = openSpan.get(e.host);
      if (s !== undefined) {
        m.spans.push({ lane: l, from: s.from, to: t, what: s.what });
        openSpan.delete(e.host);
      }
    }
    if (e.kind === 'leader' && typeof e.group === 'number') {
      const term = typeof e.term === 'number' ? e.term : 0;
      // A leader of a later term ends older leaderships; a rival of the same term runs beside them.
      closeLeaders(e.group, t, (ld) => ld.term < term || ld.host === e.host);
      const open = leaderOf.get(e.group)!;
      open.push({ lane: l, from: t, term, host: e.host, slot: open.length });
    }
    if (e.kind === 'grant' && p >= 0) {
      closeHold(p, e.host, t);
      const until = typeof e.leaseUs === 'number' && e.leaseUs > 0 ? t + e.leaseUs : Infinity;
      held.set(`${p}/${e.host}`, { from: t, mode: typeof e.mode === 'string' ? e.mode : '?', until });
    }
    // The holder answers a revoke, or releases the page: its hold ends when the manager hears it.
    if ((e.kind === 'revoked' || (e.kind === 'release' && e.keep !== 'read')) && p >= 0 && from !== null) closeHold(p, from, t);
  }
  sortLanes(m, clients);
  const end = m.end;
  if (openNet !== null) m.netFaults.push({ ...openNet, to: Math.min(openNet.to, end) });
  for (const [host, s] of openSpan) m.spans.push({ lane: laneOf.get(host)!, from: s.from, to: end, what: s.what });
  for (const group of leaderOf.keys()) closeLeaders(group, end, () => true);
  for (const key of [...held.keys()]) {
    const [page, host] = key.split('/').map(Number) as [number, number];
    closeHold(page, host, end);
  }
  m.groups = [...groups].sort((a, b) => a - b);
  m.pages = [...pages].sort((a, b) => a - b);
  if (violation !== null) m.violation = { ...violation, related: relatedEvents(m, violation) };
  return m;
}

/** Lanes in host order (they were numbered as hosts first appeared), key-value clients named as such. */
function sortLanes(m: ViewModel, clients: ReadonlySet<number>): void {
  const order = m.lanes.map((h, l) => ({ h, l })).sort((a, b) => a.h - b.h);
  const to = new Array<number>(order.length);
  order.forEach((o, i) => (to[o.l] = i));
  const map = (l: number): number => (l < 0 ? l : to[l]!);
  m.lanes = order.map((o) => o.h);
  m.laneNames = m.lanes.map((h) => (clients.has(h) ? `client ${h}` : `h${h}`));
  m.lane = m.lane.map(map);
  m.fromLane = m.fromLane.map(map);
  for (const x of [...m.spans, ...m.leaders, ...m.holders]) x.lane = map(x.lane);
}

/**
 * The events that led to the violation: the window a report shows (the last
 * events before it), and among those before it any that name the hosts,
 * groups or pages its message names.
 */
function relatedEvents(m: ViewModel, v: ViolationLine): number[] {
  let last = m.t.length - 1;
  while (last >= 0 && m.t[last]! > v.t) last--;
  const out = new Set<number>();
  for (let i = Math.max(0, last - v.window + 1); i <= last; i++) out.add(i);
  const hosts = new Set([...v.message.matchAll(/\bhosts? \[?([\d, ]+)\]?/g)].flatMap((x) => x[1]!.split(/[, ]+/).filter(Boolean).map(Number)));
  const groups = new Set([...v.message.matchAll(/\bgroup (\d+)/g)].map((x) => Number(x[1])));
  const pages = new Set([...v.message.matchAll(/\bpage (\d+)/g)].map((x) => Number(x[1])));
  const laneSet = new Set([...hosts].map((h) => m.lanes.indexOf(h)).filter((l) => l >= 0));
  // Look back at most 2000 events: enough to reach the cause, few enough to read.
  for (let i = last, seen = 0; i >= 0 && seen < 2000; i--, seen++) {
    const named = (pages.size > 0 && pages.has(m.page[i]!)) || (groups.size > 0 && groups.has(m.group[i]!) && (laneSet.size === 0 || laneSet.has(m.lane[i]!)));
    if (named) out.add(i);
  }
  return [...out].sort((a, b) => a - b);
}
