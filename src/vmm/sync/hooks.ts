// The seam between synchronisation (locks and barriers, src/vmm/sync) and a
// coherence model. The sync layer orders acquires and releases through the
// companies; the coherence model decides what a release must publish and what
// an acquire must learn. Under sequential consistency memory is coherent at
// every access, so both hooks do nothing; lazy release consistency
// (src/vmm/release) publishes an interval's write notices at a release and
// applies them at the next acquire.

/** A synchronisation object. Barrier episodes count from 0 per name. */
export type SyncObject = { kind: 'lock'; id: number } | { kind: 'barrier'; name: number; episode: number };

/** At most this many characters in one published record (what the page table stores per release). */
export const MAX_PUBLISHED_CHARS = 64 * 1024;

/** Where and under which number a release's record is to be committed as the host's host-record. */
export interface HomeRecord {
  company: number;
  seq: number;
}

/** The coherence model's side of synchronisation. Sequential consistency: both are no-ops (done at once, published null). */
export interface CoherenceHooks {
  /**
   * A thread of this host releases `obj` (unlock, or arrival at a barrier). The model first makes durable what
   * the release must publish (LRC: the interval's diffs reach a quorum of each page's company), then calls
   * done with an opaque record (a string, at most 64 KiB) that the sync layer commits with the release in
   * the sync object's company; null publishes nothing. `home`: the record must first be committed at the host's
   * home company as its host-record (SyncClient.recordElsewhere); a model that commits it there itself, with
   * what it makes durable, says so (recordedHome true), and the sync layer does not send it again.
   */
  beforeRelease(obj: SyncObject, thread: number, done: (published: string | null, recordedHome?: boolean) => void, home?: HomeRecord | null): void;
  /**
   * `obj` was acquired by a thread of this host (lock granted, or barrier passed). `published`: the records of
   * the releases ordered before this acquire that the sync layer holds (for a lock: the last release's record;
   * for a barrier: every party's record of the episode), oldest first. `lapsed` (locks only): the holding before
   * this grant was waited out, not released: its holder's writes since its last release may be committed in
   * part, or later, and no record names them. The thread continues when done is called.
   */
  afterAcquire(obj: SyncObject, thread: number, published: readonly string[], lapsed: boolean, done: () => void): void;
}

/**
 * Sequential consistency: every access is coherent already and a release publishes nothing. What
 * it must make durable first is this host's one dirty page (`flush`, the page client's): the next
 * holder of the lock, or a party past the barrier, may act on those writes, so a crash here must
 * not take them away (the same rule as before a free). If they are lost instead, the page client
 * has ended this host's threads already.
 */
export function sequentialHooks(flush: (then: (committed: boolean) => void) => void): CoherenceHooks {
  return {
    beforeRelease: (_obj, _thread, done) => flush(() => done(null)),
    afterAcquire: (_obj, _thread, _published, _lapsed, done) => done(),
  };
}

/**
 * What the sync layer reports as application threads synchronise, for the
 * checkers (lock and barrier safety, the race detector, which needs the
 * synchronisation order). `at` is the simulator's true time (real mode: the
 * host's local clock); `thread` the thread's index in the run.
 * - lock-acquired: the thread holds the lock from `at` (its critical section begins);
 *   `lease` is the end of its lock lease on true time as the manager judged it
 *   (the holder stops by then unless renewed; see lock-renewed).
 * - lock-released: the thread asked to unlock at `at` (it does no more in the section). If the release
 *   then finds its holding waited out, it did not commit: the host's threads stop as when a lease is lost (VmmEnv.lostLock).
 * - lock-lost: the holder's lease ended before it released; its thread was stopped at `at`.
 * - barrier-arrived / barrier-departed: the thread reached episode `episode` of barrier
 *   `name` (with `parties`), and left it.
 */
export type SyncEvent =
  | { kind: 'lock-acquired'; host: number; thread: number; id: number; at: number }
  | { kind: 'lock-released'; host: number; thread: number; id: number; at: number }
  | { kind: 'lock-lost'; host: number; thread: number; id: number; at: number }
  | { kind: 'barrier-arrived'; host: number; thread: number; name: number; episode: number; parties: number; at: number }
  | { kind: 'barrier-departed'; host: number; thread: number; name: number; episode: number; parties: number; at: number };

/** Where a host's sync layer reports its events (the simulator's checkers; inert on real hosts). */
export type SyncObserver = (e: SyncEvent) => void;
