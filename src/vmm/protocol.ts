// The messages of the coherence protocol between hosts, after gallocy's
// original negotiation: a fault asks the page's manager (its company's
// leader) for a lease, and the answer is granted, not-leader (go there),
// conflict (the state changed: retry with this state) or busy (retry later).
// Plain data, so the same messages cross the simulated and the real network.
import type { LeaseMode, LeaseToken } from './page-table-commands.js';

export type RefuseReason = 'not-leader' | 'busy' | 'conflict' | 'not-allocated' | 'no-space' | 'invalid';

export type VmmMessage =
  /** Host -> manager: a lease on a page; `have` is the version of the copy the host still has (-1: none). */
  | { t: 'acquire'; req: number; page: number; mode: LeaseMode; have: number }
  /**
   * Manager -> host: the lease, committed at log index `index`; data (base64) unless the host's copy is
   * current ('' is a page of zeros).
   */
  | { t: 'grant'; req: number; page: number; mode: LeaseMode; version: number; data: string | null; leaseUs: number; index: number; lease: LeaseToken }
  /** Manager -> host: the request was not done; `leader` is a hint where to go, `version` the current version (conflict). */
  | { t: 'refuse'; req: number; page: number; why: RefuseReason; leader: number; version: number }
  /**
   * Manager -> holder: give the page up; a writer first writes its contents (and every other page it
   * wrote) back. It revokes every lease granted at log index `index` or before: a grant still in
   * flight from before it is void (messages may overtake each other).
   */
  | { t: 'revoke'; rev: number; page: number; index: number }
  /** Holder -> manager: done, the page is closed here; data (base64), if any, is contents to write back. */
  | { t: 'revoked'; rev: number; page: number; data: string | null; seq: number }
  /** Host -> manager: a write-back of a page held writable (the manager numbers the version); `keep` is the lease kept afterwards. */
  /**
   * A write-back. `seq` is the host's memory-operation count when its contents were taken (what
   * the checkers relate the data to); `wb` numbers the host's write-backs, ascending and the same
   * for every retry of one, so the manager can tell a late copy of an earlier one from a new one.
   */
  | { t: 'release'; req: number; page: number; data: string; keep: LeaseMode | null; seq: number; wb: number; lease: LeaseToken }
  /** Manager -> host: the write-back is committed as `version`, at log index `index`. */
  | { t: 'released'; req: number; page: number; version: number; index: number }
  /** Host -> manager: a run of pages for an allocation. */
  | { t: 'alloc'; req: number; company: number; id: string; pages: number }
  | { t: 'alloc-ok'; req: number; firstPage: number }
  /**
   * Host -> manager: free the block at addr (the manager routes it to the owner of its run); `run`: the
   * owner gives back its whole run, allocation `run`, which starts at addr.
   */
  | { t: 'free'; req: number; addr: number; run: string | null }
  /** Manager -> owner: `host` wants to free this block of yours (answer that host with free-token). */
  | { t: 'free-owner'; req: number; addr: number; host: number }
  /** Owner -> host: the block's run and generation; free it with free-block, which a retry cannot repeat. */
  | { t: 'free-token'; req: number; addr: number; id: string; gen: number }
  /** Host -> owner: free the block at addr if it is still generation `gen` of run `id`. */
  | { t: 'free-block'; req: number; addr: number; id: string; gen: number }
  | { t: 'free-ok'; req: number; addr: number }
  // Release consistency (src/vmm/release): copies without leases, diffs at releases.
  /**
   * Host -> manager: the page's contents. `have`: the version the host's copy equals (-1: none; the
   * diffs since then will do); `need`: per host, the last interval the host's write notices (or what
   * it knows published) name for the page: the manager applies those intervals' pending diffs, and no others.
   */
  | { t: 'fetch'; req: number; page: number; have: number; need: Record<number, number> }
  /**
   * Manager -> host: the page at `version`: the diffs (base64, oldest first) since the host's `have`, or else
   * the whole page ('' zeros); `applied`: per host, the last interval of it the page holds.
   */
  | { t: 'page'; req: number; page: number; version: number; data: string | null; diffs: string[] | null; applied: Record<number, number> }
  /**
   * Host -> manager: commit this diff of the page, ending interval `interval` (the host's vector time `vt` then).
   * `record` (null: none): the host's `recordSeq`-th record, to commit in the same entry as its host-record when
   * this company is the host's home (the interval's last diff carries it: see ReleaseClient.commit).
   */
  | { t: 'diff'; req: number; page: number; interval: number; vt: Record<number, number>; diff: string; record: string | null; recordSeq: number }
  /**
   * Manager -> host: the diff is committed (pending until a fetch names its interval; `version`: the page's then); `floor`: the vector time
   * every host has reached (notices before it need no publishing); `recorded`: the record it carried is committed with it, at the host's home.
   */
  | { t: 'diffed'; req: number; page: number; version: number; floor: Record<number, number>; recorded: boolean }
  // Locks and barriers (src/vmm/sync): between a host and the manager of the sync object's company.
  /**
   * Host -> manager: lock `id` for this host (its threads then take turns locally, without messages, until
   * the manager recalls it); `thread`: the one whose turn made the host ask (named in the holding's row).
   * `token` 0 waits for it, a holding's token renews its lease.
   */
  | { t: 'lock-acquire'; req: number; id: number; thread: number; token: number }
  /**
   * Manager -> host: the lock is the host's (holding `token`), committed at `index`; `published`: the last
   * release's record; `lapsed`: the holding before this one was waited out (its lease ran out), not released;
   * `lapsedHosts`: whose, every holding waited out since the last release (ascending; empty: not lapsed).
   */
  | { t: 'lock-granted'; req: number; id: number; thread: number; token: number; leaseUs: number; index: number; published: string | null; lapsed: boolean; lapsedHosts: number[] }
  /** Manager -> host: the lock is held; the thread is queued (it asks again now and then, and is told when granted). */
  | { t: 'lock-queued'; req: number; id: number; thread: number }
  /** Manager -> host: the holding is gone (its lease was waited out): the thread must not go on under it. */
  | { t: 'lock-lost'; req: number; id: number; thread: number; token: number }
  /**
   * Manager -> holder: another host waits for lock `id`: give holding `token` back (publishing) once no
   * thread of this host is inside it. Sent again while the asker waits; a stale one is ignored.
   */
  | { t: 'lock-recall'; id: number; token: number }
  /** Host -> manager: the host gives the lock back, publishing `published` with the release; `thread`: its last holder there. */
  | { t: 'lock-release'; req: number; id: number; thread: number; token: number; published: string | null }
  /**
   * Manager -> host: `committed`: this request committed the release; false: the holding had ended already
   * (the release committed by an earlier attempt, or the holding waited out: the client tells which by its lease).
   */
  | { t: 'lock-released'; req: number; id: number; thread: number; committed: boolean }
  /**
   * Host -> the manager of its home company: the host is about to publish `published`, its `seq`-th record of
   * incarnation `incarnation`, covering sections under locks it keeps (see SyncClient.recordElsewhere).
   */
  | { t: 'host-record'; req: number; incarnation: number; seq: number; published: string }
  /** Manager -> host: the host-record is committed. */
  | { t: 'host-recorded'; req: number }
  /** Host -> the manager of `host`'s home company: that host's records, read after a lapse of its holding. */
  | { t: 'host-records'; req: number; host: number }
  /** Manager -> host: `host`'s latest record per incarnation, read once everything committed before the ask is applied. */
  | { t: 'host-records-are'; req: number; host: number; published: string[] }
  /** Host -> manager: the thread arrives at episode `episode` of barrier `name` of `parties`. */
  | { t: 'barrier-arrive'; req: number; name: number; parties: number; episode: number; thread: number; published: string | null }
  /** Manager -> host: the arrival is committed; the episode is not open yet (the manager tells when it opens). */
  | { t: 'barrier-wait'; req: number; name: number; episode: number; thread: number }
  /** Manager -> host: every party arrived; `published`: their records, in order of arrival. */
  | { t: 'barrier-open'; req: number; name: number; episode: number; thread: number; published: string[] }
  /**
   * -> host: not done. not-leader: this host does not manage the sync object's company (`leader`: a
   * hint, 0 if none known); invalid: the request cannot be done (a barrier named with other parties).
   */
  | { t: 'sync-refuse'; req: number; why: 'not-leader' | 'invalid'; leader: number; detail: string };

/** The messages a host's sync client sends to a manager, and the ones it gets back. */
export type SyncRequest = Extract<VmmMessage, { t: 'lock-acquire' | 'lock-release' | 'host-record' | 'host-records' | 'barrier-arrive' }>;
export type SyncReply = Extract<
  VmmMessage,
  { t: 'lock-granted' | 'lock-queued' | 'lock-lost' | 'lock-released' | 'host-recorded' | 'host-records-are' | 'barrier-wait' | 'barrier-open' | 'sync-refuse' }
>;
