// The seam between a host's VMM and its world: the clock, timers, the network,
// the page memory and this host's replicas of companies. The simulator and the
// real host runtime each implement it; the VMM never reaches around it.
import type { FaultPoints } from '../raft/index.js';
import type { CompanyEntry } from './company.js';
import type { MemoryBackend } from './memory.js';
import type { PageTable } from './page-table.js';
import type { CompanyPlan } from './placement.js';
import type { VmmMessage } from './protocol.js';

/** This host's replica of one company, as the VMM may use it. */
export interface CompanyAccess {
  isLeader(): boolean;
  term(): number;
  /** The leader this replica follows (0: none known). */
  lead(): number;
  /** Proposes an entry; false if this replica cannot (not the leader, a transfer in progress). */
  propose(entry: CompanyEntry): boolean;
  /** The page table as applied here (committed state). */
  table(): PageTable;
  /** The log index the table is at. */
  appliedIndex(): number;
}

export interface VmmConfig {
  host: number;
  /**
   * Which start of this host this is, counting from 1 and durable across
   * crashes (the simulator's boot count, real mode's in the Raft store): its
   * allocation ids never repeat an earlier incarnation's.
   */
  incarnation: number;
  pageSize: number;
  pages: number;
  rootPages: number;
  plans: readonly CompanyPlan[];
  /** How long a lease lasts on the holder's clock. */
  leaseUs: number;
  /** The clock-drift bound the leases are judged with (ppm): managers wait leaseUs * (1 + bound) / (1 - bound) past a silent holder. */
  driftBoundPpm: number;
  /** How long to wait for an answer before asking again (another member, or the same request again). */
  retryUs: number;
  /**
   * How long a host keeps a newly granted page before it answers a revoke (the
   * time window of Mirage-style DSM): without it, real threads that need a few
   * microseconds to resume after a fault lose contended pages before using them.
   * The simulator resumes threads at once and leaves it unset (0).
   */
  minHoldUs?: number;
  /** Pages this host keeps at most; past it, it drops pages it holds only for reading. */
  memoryLimitPages?: number;
  /** The coherence model (default sequential): which CoherenceHooks the sync layer (src/vmm/sync) calls. */
  coherence?: 'sequential' | 'release';
  /**
   * Under release consistency, pages kept sequentially consistent all the same (leases, single
   * writer): real mode's run slots, which hosts read and write with atomics, not under locks.
   */
  sequentialPages?: readonly number[];
  /** Deliberate bugs, to show the checkers catch them (never on outside such tests). */
  bugs?: {
    skipWriteBack?: boolean;
    /** A lock manager grants the next waiter when a release arrives, before the release commits. */
    grantBeforeRelease?: boolean;
    /** A barrier manager opens an episode one arrival early. */
    barrierEarly?: boolean;
    /** Release consistency: a release publishes its write notices before its diffs are committed. */
    publishBeforeDurable?: boolean;
    /** A lock holder goes on past its lock's lease (nothing stops its threads). */
    ignoreLockLease?: boolean;
  };
}

export interface VmmEnv {
  readonly memory: MemoryBackend;
  /** The simulator's fault points and probes (inert on real hosts). */
  readonly faults: FaultPoints;
  /** The local monotonic clock, microseconds. */
  now(): number;
  /** Calls fn once the local clock reads at least atLocalUs. */
  timer(atLocalUs: number, fn: () => void): void;
  send(to: number, msg: VmmMessage): void;
  /** This host's replica of a company, or null if it is not a member. */
  company(company: number): CompanyAccess | null;
  /** Who should serve a company now (from the registry), as best this host knows. */
  members(company: number): readonly number[];
  /** The number of memory operations application threads on this host have done so far. */
  opSeq(): number;
  /** A page-level failure an application thread must see (an access to unallocated memory). */
  segfault(page: number, why: string): void;
  /** Writes to a page could not be written back (the lease was lost): the application cannot go on. */
  lostWrites(page: number): void;
  /** A thread's lock lease ran out unrenewed (this host was cut off too long): its critical section cannot go on. */
  lostLock(id: number, thread: number): void;
}
