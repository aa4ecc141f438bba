// The vocabulary of trace events: every kind of event a run records, with the
// names of its numeric fields in the order they are passed, and the name of
// its one string field if it has one. The simulator hashes events in this
// order and writes them with these names to trace files and failure reports,
// so one vocabulary serves both. Plain data and types: it imports nothing
// from the simulator or the real runtime.
import type { MessageType } from '../raft/index.js';
import type { VmmMessage } from '../vmm/protocol.js';

/** At most this many numeric fields per event: recording stays allocation-free. */
export const MAX_TRACE_FIELDS = 7;

export interface TraceEventSpec {
  /** The numeric fields, in the order a recorder takes them. */
  readonly fields: readonly string[];
  /** The name of the event's string field, passed after the numbers. */
  readonly note?: string;
}

// Message kinds are the message's own type; `host` is the receiver, `from` the sender.
const raftMessages = {
  app: { fields: ['group', 'from', 'term', 'index', 'logTerm', 'entries', 'commit'] },
  appResp: { fields: ['group', 'from', 'term', 'index', 'reject', 'hint', 'logTerm'] },
  heartbeat: { fields: ['group', 'from', 'term', 'commit'] },
  heartbeatResp: { fields: ['group', 'from', 'term'] },
  vote: { fields: ['group', 'from', 'term', 'index', 'logTerm', 'transfer'] },
  voteResp: { fields: ['group', 'from', 'term', 'reject'] },
  preVote: { fields: ['group', 'from', 'term', 'index', 'logTerm'] },
  preVoteResp: { fields: ['group', 'from', 'term', 'reject'] },
  snap: { fields: ['group', 'from', 'term', 'index', 'logTerm'] },
  timeoutNow: { fields: ['group', 'from', 'term'] },
} as const satisfies Record<MessageType, TraceEventSpec>;

const vmmMessages = {
  acquire: { fields: ['from', 'req', 'page', 'have'], note: 'mode' },
  grant: { fields: ['from', 'req', 'page', 'version', 'index', 'leaseUs'], note: 'mode' },
  refuse: { fields: ['from', 'req', 'page', 'leader', 'version'], note: 'why' },
  revoke: { fields: ['from', 'rev', 'page', 'index'] },
  revoked: { fields: ['from', 'rev', 'page', 'seq', 'dirty'] },
  release: { fields: ['from', 'req', 'page', 'seq'], note: 'keep' },
  released: { fields: ['from', 'req', 'page', 'version', 'index'] },
  alloc: { fields: ['from', 'req', 'company', 'pages'], note: 'id' },
  'alloc-ok': { fields: ['from', 'req', 'firstPage'] },
  /** `run`: the allocation an owner gives back ('' for a block another host frees). */
  free: { fields: ['from', 'req', 'addr'], note: 'run' },
  'free-owner': { fields: ['from', 'req', 'addr', 'for'] },
  'free-token': { fields: ['from', 'req', 'addr', 'gen'], note: 'id' },
  'free-block': { fields: ['from', 'req', 'addr', 'gen'], note: 'id' },
  'free-ok': { fields: ['from', 'req', 'addr'] },
  fetch: { fields: ['from', 'req', 'page', 'have', 'need'] },
  /** `diffs`: how many diffs came (-1: the whole page). */
  page: { fields: ['from', 'req', 'page', 'version', 'diffs'] },
  diff: { fields: ['from', 'req', 'page', 'interval', 'bytes'] },
  diffed: { fields: ['from', 'req', 'page', 'version'] },
  'lock-acquire': { fields: ['from', 'req', 'id', 'thread', 'token'] },
  'lock-granted': { fields: ['from', 'req', 'id', 'thread', 'token', 'index'] },
  'lock-queued': { fields: ['from', 'req', 'id', 'thread'] },
  'lock-lost': { fields: ['from', 'req', 'id', 'thread', 'token'] },
  'lock-recall': { fields: ['from', 'id', 'token'] },
  'lock-release': { fields: ['from', 'req', 'id', 'thread', 'token'] },
  'lock-released': { fields: ['from', 'req', 'id', 'thread'] },
  'host-record': { fields: ['from', 'req', 'seq'] },
  'host-recorded': { fields: ['from', 'req'] },
  /** `node`: the host whose records are asked for. */
  'host-records': { fields: ['from', 'req', 'node'] },
  'host-records-are': { fields: ['from', 'req', 'node', 'records'] },
  'barrier-arrive': { fields: ['from', 'req', 'name', 'episode', 'thread', 'parties'] },
  'barrier-wait': { fields: ['from', 'req', 'name', 'episode', 'thread'] },
  'barrier-open': { fields: ['from', 'req', 'name', 'episode', 'thread', 'records'] },
  'sync-refuse': { fields: ['from', 'req', 'leader'], note: 'why' },
} as const satisfies Record<VmmMessage['t'], TraceEventSpec>;

const kvMessages = {
  'kv-request': { fields: ['from', 'group', 'client', 'seq'], note: 'op' },
  'kv-response': { fields: ['from', 'client', 'seq', 'index', 'term'] },
  'kv-not-leader': { fields: ['from', 'client', 'seq', 'leader'] },
} as const satisfies Record<string, TraceEventSpec>;

// One kind per fault (the nemesis' FaultKind): `n` counts faults injected so far.
const fault = { fields: ['n', 'forMs'] } as const;
const faults = {
  'fault:partition': fault,
  'fault:partition-one-way': fault,
  'fault:partition-partial': fault,
  'fault:clog': fault,
  'fault:flaky': fault,
  'fault:crash': fault,
  'fault:pause': fault,
  'fault:clock-jump': fault,
  'fault:clock-drift': fault,
  'fault:membership': fault,
  'fault:transfer': fault,
  'fault:corrupt-read': fault,
  'fault:stall': fault,
} as const satisfies Record<`fault:${string}`, TraceEventSpec>;

const hostEvents = {
  start: { fields: ['epoch'] },
  crash: { fields: ['epoch'] },
  pause: { fields: [] },
  /** The host's event loop stalled (application threads run on). */
  stall: { fields: [] },
  resume: { fields: [] },
  /** A boot failed: this record of a log kept failing its checksum when read. */
  'boot-failed': { fields: ['epoch', 'record'] },
  tick: { fields: [] },
  /** A disk sync of this incarnation completed. */
  sync: { fields: ['epoch'] },
  leader: { fields: ['group', 'term'] },
  'clock-jump': { fields: ['deltaUs'] },
  'clock-drift': { fields: ['ppm'] },
  /** Systematic exploration lost, or duplicated, a message in flight (host: its receiver). */
  'explore-lose': { fields: ['from', 'event'] },
  'explore-duplicate': { fields: ['from', 'event'] },
  /** The nemesis stopped: everything healed, nothing more is injected. */
  quiet: { fields: [] },
  /** A fault point fired (src/host/fault-points.ts): its id and how often it fired so far this run. */
  buggify: { fields: ['point', 'n'], note: 'name' },
  /** A company's leader proposed adding or removing a member. */
  'company-addNode': { fields: ['company', 'node'] },
  'company-removeNode': { fields: ['company', 'node'] },
  'company-addLearner': { fields: ['company', 'node'] },
  /** The registry's leader proposed an owner joining or leaving (host: that owner). */
  'owner-add': { fields: [] },
  'owner-remove': { fields: [] },
  /** A round of the Byzantine host's partitions began (host: the faulty one; the hosts on the other side, or its twin's). */
  'byz-round': { fields: [], note: 'side' },
} as const satisfies Record<string, TraceEventSpec>;

const memoryEvents = {
  /** An application thread faulted on a page and waits for it. */
  'thread-wait': { fields: ['thread', 'page'], note: 'access' },
  /** The page came: the thread's access completed after waiting. */
  'thread-ready': { fields: ['thread', 'page', 'waitedUs'] },
  'thread-malloc': { fields: ['thread', 'size', 'addr'] },
  'thread-free': { fields: ['thread', 'addr'] },
  'thread-failed': { fields: ['thread'], note: 'why' },
  /** Threads ended because their host lost its memory. */
  'lost-threads': { fields: ['threads'] },
  /** The host lost the writes of a page with its lease. */
  'lost-writes': { fields: ['page'] },
  /** A thread's lock lease ran out unrenewed: the host's threads were ended. */
  'lost-lock': { fields: ['id', 'thread'] },
  /** Locks and barriers as application threads see them (src/vmm/sync/hooks.ts SyncEvent). */
  'thread-locked': { fields: ['thread', 'id'] },
  'thread-unlocked': { fields: ['thread', 'id'] },
  'thread-barrier-arrived': { fields: ['thread', 'name', 'episode'] },
  'thread-barrier-departed': { fields: ['thread', 'name', 'episode'] },
  segfault: { fields: ['page'], note: 'why' },
} as const satisfies Record<string, TraceEventSpec>;

// Key-value clients (host: the client's id).
const clientEvents = {
  'kv-ok': { fields: ['seq', 'index'] },
  'kv-timeout': { fields: ['seq', 'attempt'] },
} as const satisfies Record<string, TraceEventSpec>;

export const TRACE_EVENTS = {
  ...raftMessages, ...vmmMessages, ...kvMessages, ...faults, ...hostEvents, ...memoryEvents, ...clientEvents,
} as const satisfies Record<string, TraceEventSpec>;

export type TraceKind = keyof typeof TRACE_EVENTS;

type Numbers<Names extends readonly string[]> = { -readonly [I in keyof Names]: number };

/** What a recorder takes after the kind (and host) for events of kind K: its numbers, then its note. */
export type TraceFields<K extends TraceKind> = (typeof TRACE_EVENTS)[K] extends { readonly note: string }
  ? [...Numbers<(typeof TRACE_EVENTS)[K]['fields']>, string]
  : Numbers<(typeof TRACE_EVENTS)[K]['fields']>;

/** Records one event of `kind` at `host`, now. */
export type RecordEvent = <K extends TraceKind>(kind: K, host: number, ...fields: TraceFields<K>) => void;

/** Records one event of `kind` at the host the recorder belongs to, now. */
export type RecordHostEvent = <K extends TraceKind>(kind: K, ...fields: TraceFields<K>) => void;

/**
 * One recorded event, as a trace file line and a failure report hold it: the
 * time (microseconds), the host, the kind, then the kind's fields by name.
 */
export interface TraceEvent {
  t: number;
  host: number;
  kind: string;
  [field: string]: number | string;
}

export function traceEventSpec(kind: string): TraceEventSpec | undefined {
  return Object.hasOwn(TRACE_EVENTS, kind) ? TRACE_EVENTS[kind as TraceKind] : undefined;
}

const BARE = /^[\w.:+-]+$/;

/** One event for people: `3.627141s h2 app group=1 from=3 term=4 index=17 ...`. */
export function formatTraceEvent(e: TraceEvent): string {
  let line = `${(e.t / 1e6).toFixed(6)}s h${e.host} ${e.kind}`;
  for (const [name, value] of Object.entries(e)) {
    if (name === 't' || name === 'host' || name === 'kind') continue;
    line += typeof value === 'string' && !BARE.test(value) ? ` ${name}=${JSON.stringify(value)}` : ` ${name}=${value}`;
  }
  return line;
}
