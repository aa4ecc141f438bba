// Where a host's time goes: the time of each stage of its work (encoding and
// sending frames, decoding them, handling a message, committing to SQLite,
// opening a page for a faulting thread), summed since the process started.
// A stage nested in another (a persist inside a message's handling, a send
// inside a persist's callbacks) is subtracted from the outer one, so the
// stages add up to the busy time of the main thread and never count twice.
// The bench (bench/real.ts) reads the sums from /admin before and after a
// series of faults and divides by the faults: what each costs, stage by stage.
import { constants, performance, PerformanceObserver } from 'node:perf_hooks';
import type { NodeGCPerformanceDetail, PerformanceEntry } from 'node:perf_hooks';

/**
 * encode, send: a frame out (send: handing it to the socket, TLS included); decode, handle: a frame in
 * (handle: the runtime's work on it: Raft, the VMM's manager or client); persist: SQLite writes and
 * commits; fault: a thread's fault request reaching the VMM; open-page: filling or opening a page for
 * a faulting thread (copy and mprotect); tick: the runtime's ticks.
 */
export const STAGES = ['encode', 'send', 'decode', 'handle', 'persist', 'fault', 'open-page', 'tick'] as const;
export type Stage = (typeof STAGES)[number];

export interface StageTotal {
  /** Times the stage ran. */
  count: number;
  /** Microseconds spent in it, nested stages excluded. */
  us: number;
}

/**
 * Garbage collection pauses of the main thread, by kind: they happen inside
 * the stages (and count there too), so they are not a stage of their own.
 */
export interface GcTotals {
  /** Scavenges of the young generation. */
  minor: StageTotal;
  /** Mark-compacts, and the main thread's steps of incremental marking and weak callbacks. */
  major: StageTotal;
}

/**
 * What a timeline's microseconds are: wall time (the default: what a stage
 * made others wait), or the main thread's CPU time (what the stage cost,
 * without the time the thread was preempted in it: a loaded machine's wall
 * times can be twice that; each reading is a system call, so this is for
 * measuring, not the default).
 */
export type TimelineClock = 'wall' | 'thread-cpu';

/** With GALLOCY_TIMELINE_CLOCK=cpu a host's timeline measures its main thread's CPU time. */
export const TIMELINE_CLOCK_ENV = 'GALLOCY_TIMELINE_CLOCK';

export type TimelineTotals = Record<Stage, StageTotal> & { gc: GcTotals; clock: TimelineClock };

export class Timeline {
  readonly clock: TimelineClock;
  /** Milliseconds on the clock the stages are timed by. */
  private readonly now: () => number;
  private readonly totals = new Map<Stage, StageTotal>(STAGES.map((s) => [s, { count: 0, us: 0 }]));
  /** For each stage running now (innermost last): the time its nested stages took. */
  private readonly nested: number[] = [];
  private readonly gc: GcTotals = { minor: { count: 0, us: 0 }, major: { count: 0, us: 0 } };
  private gcObserver: PerformanceObserver | null = null;

  /** threadCpuMs: the calling thread's CPU time in ms (native-memory.ts's threadCpuClock); default: wall time. */
  constructor(threadCpuMs?: () => number) {
    this.clock = threadCpuMs === undefined ? 'wall' : 'thread-cpu';
    this.now = threadCpuMs ?? (() => performance.now());
  }

  /** Also sums the main thread's garbage collection pauses, until close(). */
  observeGc(): void {
    if (this.gcObserver !== null) return;
    this.gcObserver = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) {
        const kind = ((e as PerformanceEntry & { detail?: NodeGCPerformanceDetail }).detail)?.kind;
        const t = kind === constants.NODE_PERFORMANCE_GC_MINOR ? this.gc.minor : this.gc.major;
        t.count++;
        t.us += e.duration * 1000;
      }
    });
    this.gcObserver.observe({ entryTypes: ['gc'] });
  }

  close(): void {
    this.gcObserver?.disconnect();
    this.gcObserver = null;
  }

  /** Runs fn as one occurrence of `stage`. */
  time<T>(stage: Stage, fn: () => T): T {
    const t0 = this.now();
    this.nested.push(0);
    try {
      return fn();
    } finally {
      const ms = this.now() - t0;
      const inner = this.nested.pop() as number;
      const n = this.nested.length;
      if (n > 0) this.nested[n - 1] = (this.nested[n - 1] as number) + ms;
      const t = this.totals.get(stage) as StageTotal;
      t.count++;
      t.us += (ms - inner) * 1000;
    }
  }

  snapshot(): TimelineTotals {
    const round = (t: StageTotal): StageTotal => ({ count: t.count, us: Math.round(t.us) });
    const out = { gc: { minor: round(this.gc.minor), major: round(this.gc.major) }, clock: this.clock } as TimelineTotals;
    for (const [s, t] of this.totals) out[s] = round(t);
    return out;
  }
}

/** A timeline that records nothing (transports and stores used outside a host, as in tests). */
export const noTimeline: Pick<Timeline, 'time'> = { time: (_stage, fn) => fn() };
