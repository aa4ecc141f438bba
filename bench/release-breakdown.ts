// What the messages of one simulated run were for: by kind, and by cause (the
// protocol step that sent them), with each Raft replication message charged to
// the step whose entry it carries or commits. The trace holds deliveries only,
// not what a log entry says, so an entry's cause is inferred: the leader
// proposes when a request reaches it, and the bench's network has one fixed
// latency, so the entries a leader sends at time t are those of the requests
// it received at t (in arrival order), or of its own timers (waiting a holder
// out, a read barrier's retry), or the continuation of an entry that an answer
// received at t committed (a grant proposed once a revocation's write-back
// commits) when none came then. A diagnostic: the figures
// that compare the models do not depend on it.

/** One delivery from the trace (host: the receiver). */
export interface Delivery {
  t: number;
  host: number;
  kind: string;
  from?: number;
  group?: number;
  req?: number;
  id?: number;
  token?: number;
  index?: number;
  entries?: number;
  commit?: number;
  have?: number;
  need?: number;
  data?: number;
}

/**
 * The heartbeats that tell their follower a commit index it was told by no
 * earlier append or heartbeat of its group: a leader tells a new commit on its
 * next append or its next tick's heartbeat (src/raft/raft.ts, tellCommit), so
 * such a heartbeat does the work a commit notice did, and counts as one.
 */
export function commitNotices(events: readonly Delivery[]): Set<Delivery> {
  const told = new Map<string, number>();
  const out = new Set<Delivery>();
  for (const e of events) {
    if (e.kind !== 'app' && e.kind !== 'heartbeat') continue;
    const link = `${e.group}:${e.host}`;
    const commit = e.commit ?? 0;
    if (commit <= (told.get(link) ?? 0)) continue;
    told.set(link, commit);
    if (e.kind === 'heartbeat') out.add(e);
  }
  return out;
}

/**
 * A host's message to itself (a thread's request to the company its host leads): real hosts deliver
 * it in-process (src/real/transport.ts), so it is not a network message. The simulator routes it
 * through its network all the same, and the trace holds it.
 */
export const isLocal = (e: Delivery): boolean => e.from !== undefined && e.from === e.host;

/** Requests a company's leader proposes a Raft entry for as it receives them. */
const PROPOSING = new Set(['lock-acquire', 'lock-release', 'barrier-arrive', 'diff', 'fetch', 'acquire', 'release', 'revoked', 'alloc', 'free', 'free-owner', 'free-token', 'free-block']);

const REPLIES: Record<string, true> = {
  'lock-granted': true, 'lock-queued': true, 'lock-lost': true, 'lock-released': true, 'barrier-wait': true, 'barrier-open': true, 'sync-refuse': true,
  grant: true, refuse: true, released: true, page: true, diffed: true, 'alloc-ok': true, 'free-ok': true,
};

/** A host numbers its sync requests and its page requests apart: a reply's request is looked up in its family. */
const family = (kind: string): string => (/^(lock-|barrier-|sync-)/.test(kind) ? 'sync' : 'page');

/**
 * Counts the deliveries in [first, last] by cause. `latencyUs`: the network's one latency.
 * Causes: lock_* (first grant of a lock to a host, asked again, renewal, recall, give-back when recalled or
 * otherwise), barrier, page_fetch, diff_commit (a release's diffs), seq_page_* (the sequential page protocol),
 * raft.heartbeats_and_elections, and raft.<cause> for the replication of an entry (its append, the commit
 * notice, and both answers); raft.timer_or_leader: entries no request explains (waiting a holder out, a
 * leader's first entry, a read barrier proposed again).
 */
export function messageCauses(events: readonly Delivery[], first: number, last: number, latencyUs: number): Record<string, number> {
  const out: Record<string, number> = {};
  const count = (cause: string, e: Delivery): void => {
    if (e.t >= first && e.t <= last && !isLocal(e)) out[cause] = (out[cause] ?? 0) + 1;
  };
  /** The cause of each request, by "client:req", for its replies (and the entries it makes). */
  const requestCause = new Map<string, string>();
  /** Hosts that were granted a lock once, by "host:id"; recalls pending, by "host:id". */
  const hadLock = new Set<string>();
  const recalled = new Set<string>();
  /** Per leader, the requests received at a time, in order, that have not yet been matched with an entry. */
  const received = new Map<string, string[]>();
  /** Per group, each log index's cause; per "group:follower", the causes of the appends sent and not yet answered, and the last commit told. */
  const entryCause = new Map<string, string>();
  const unanswered = new Map<string, string[]>();
  const told = new Map<string, number>();
  /** Per leader and time, the cause of the entry an answer it received then committed. */
  const chained = new Map<string, string>();

  const causeOfRequest = (e: Delivery): string => {
    const key = `${e.from}:${e.id}`;
    switch (e.kind) {
      case 'lock-acquire':
        if ((e.token ?? 0) > 0) return 'lock_renewal';
        return hadLock.has(key) ? 'lock_asked_again' : 'lock_first_grant';
      case 'lock-release': {
        const c = recalled.has(key) ? 'lock_give_back_recalled' : 'lock_give_back_idle_or_end';
        recalled.delete(key);
        return c;
      }
      case 'barrier-arrive': return 'barrier';
      case 'fetch': return 'page_fetch';
      case 'diff': return 'diff_commit';
      case 'acquire': return 'seq_page_acquire';
      case 'release': return 'seq_page_write_back';
      case 'revoked': return 'seq_page_revoke';
      default: return 'allocation';
    }
  };

  const notices = commitNotices(events);
  for (const e of events) {
    const k = e.kind;
    if (notices.has(e)) {
      // A commit notice on a heartbeat: charged to the newest entry it tells of.
      count(`raft.${entryCause.get(`${e.group}:${e.commit}`) ?? 'timer_or_leader'}`, e);
      told.set(`${e.group}:${e.host}`, e.commit ?? 0);
      continue;
    }
    if (k === 'app' || k === 'appResp') {
      const link = `${e.group}:${k === 'app' ? e.host : e.from}`;
      if (k === 'appResp') {
        const cause = unanswered.get(link)?.shift() ?? 'raft.other';
        // An entry the leader proposes as an answer commits it (a grant after a revocation's write-back) continues its cause.
        chained.set(`${e.host}@${e.t}`, cause.slice('raft.'.length));
        count(cause, e);
        continue;
      }
      let cause: string;
      const n = e.entries ?? 0;
      if (n > 0) {
        const at = received.get(`${e.from}@${e.t - latencyUs}`) ?? [];
        for (let i = 1; i <= n; i++) {
          const key = `${e.group}:${(e.index ?? 0) + i}`;
          if (!entryCause.has(key)) entryCause.set(key, at.shift() ?? chained.get(`${e.from}@${e.t - latencyUs}`) ?? 'timer_or_leader');
        }
        cause = entryCause.get(`${e.group}:${(e.index ?? 0) + 1}`)!;
      } else {
        // A commit notice: charged to the newest entry it tells of.
        const before = told.get(link) ?? 0;
        cause = (e.commit ?? 0) > before ? (entryCause.get(`${e.group}:${e.commit}`) ?? 'timer_or_leader') : 'other';
      }
      told.set(link, Math.max(told.get(link) ?? 0, e.commit ?? 0));
      cause = `raft.${cause}`;
      let q = unanswered.get(link);
      if (q === undefined) unanswered.set(link, (q = []));
      q.push(cause);
      count(cause, e);
      continue;
    }
    if (k === 'lock-recall') {
      recalled.add(`${e.host}:${e.id}`);
      count('lock_recall', e);
      continue;
    }
    if (PROPOSING.has(k)) {
      const cause = causeOfRequest(e);
      requestCause.set(`${family(k)}:${e.from}:${e.req}`, cause);
      const at = `${e.host}@${e.t}`;
      let q = received.get(at);
      if (q === undefined) received.set(at, (q = []));
      q.push(cause);
      count(cause, e);
      continue;
    }
    if (REPLIES[k]) {
      const cause = requestCause.get(`${family(k)}:${e.host}:${e.req}`) ?? 'other';
      if (k === 'lock-granted') hadLock.add(`${e.host}:${e.id}`);
      count(cause, e);
      continue;
    }
    if (k === 'revoke') count('seq_page_revoke', e);
    else if (/^(heartbeat|vote|preVote|timeoutNow|snap)/.test(k)) count('raft.heartbeats_and_elections', e);
  }
  return out;
}
