// What a running host reports about itself: the JSON of GET /admin, what
// `gallocy status` prints, and the source of the Prometheus metrics. Plain
// data, so the admin server, the status command and tests agree on one shape.
import type { Role } from '../raft/index.js';
import type { DiskStats } from './disk-port.js';
import type { TimelineTotals } from './timeline.js';
import type { TransportStats } from './transport.js';

export interface GroupStatus {
  /** 0: the registry; 1..: companies. */
  group: number;
  kind: 'registry' | 'company';
  role: Role;
  term: number;
  /** The leader this replica follows (0: none known). */
  lead: number;
  commit: number;
  applied: number;
  lastIndex: number;
  voters: number[];
  /** Companies only: the page range the company manages. */
  firstPage?: number;
  pages?: number;
}

export type AppState = 'none' | 'starting' | 'running' | 'waiting' | 'verifying' | 'done' | 'failed';

export interface AppStatus {
  /** The workload name, or the app module's path. */
  program: string;
  state: AppState;
  threads: number;
  threadsDone: number;
  /** Operations the threads here completed: a built-in workload's memory operations, an app's malloc, free and gallocy.count(). */
  ops: number;
  /** null until verified; then null (passed) is shown as verified: true. */
  verified: boolean | null;
  /** What went wrong (a failed verify, a thread's error). */
  error: string | null;
  /** What the run waits for (other hosts' threads, a page of the barrier), while it waits. */
  waitingFor: string | null;
  /** ISO time the current wait began. */
  waitingSince: string | null;
}

export interface HostStatus {
  cluster: string;
  host: number;
  pid: number;
  /** ISO time the process started. */
  startedAt: string;
  uptimeSeconds: number;
  groups: GroupStatus[];
  pagesHeld: { read: number; write: number; dirty: number | null };
  heap: { pages: number; pageSize: number; rootPages: number };
  faults: { read: number; write: number };
  /** Raft entries this host applied (all groups). */
  commits: number;
  transport: TransportStats;
  /** The Raft store's writer: turns handed over, transactions and fsyncs (src/real/disk-port.ts). */
  disk: DiskStats;
  /** Where the main thread's time went since the start, stage by stage (src/real/timeline.ts). */
  timeline: TimelineTotals;
  app: AppStatus | null;
}
