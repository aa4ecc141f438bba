// The main-thread side of real mode's application threads: spawns one worker
// per thread (app-worker.ts), serves their malloc and free calls through the
// VMM's callbacks, collects records and outcomes, and runs the program's
// verify and the run slots (each host's share of the run, in the heap) in
// helper workers.
//
// The main thread never touches the heap (the shim aborts if it does), so
// everything that reads the heap, including polling the barrier word, happens
// in a worker. A worker that throws, crashes or exits early becomes a failed
// thread, never an exception on the main thread.
import { Worker } from 'node:worker_threads';
import type { SyncObject } from '../vmm/sync/hooks.js';
import { CallChannel, END_LOCK, makeWorkload, MAX_APP_HOSTS, programName, runIdOf, type AppProgram, type AppRecord, type AppWorkerData, type AppWorkerMessage, type AppWorkerMode } from './app-protocol.js';
import type { AppState, AppStatus } from './host-status.js';
import type { HeapHandle } from './native-memory.js';

export type { AppProgram, AppRecord, WorkloadName } from './app-protocol.js';

/** Bytes at the end of the root region the runtime keeps for itself: one run slot per host, then the run's id (app-protocol.ts). */
export const RESERVED_ROOT_BYTES = 4 * (MAX_APP_HOSTS + 1);

/** Byte address of the run slot of the host at `hostIndex` (its place in the cluster file), in a root region of rootRegionBytes. */
export function slotAddress(rootRegionBytes: number, hostIndex: number): number {
  return rootRegionBytes - RESERVED_ROOT_BYTES + 4 * hostIndex;
}

/** Byte address of the word naming the run the slots belong to: the root region's last word. */
export function runWordAddress(rootRegionBytes: number): number {
  return slotAddress(rootRegionBytes, MAX_APP_HOSTS);
}

// The compiled worker sits next to this module (dist/src/real/).
const WORKER_URL = new URL('./app-worker.js', import.meta.url);

export interface AppThreadsOptions {
  heap: HeapHandle;
  host: number;
  /** This host's place in the cluster file: its run slot. */
  hostIndex: number;
  /** Hosts in the cluster (at most MAX_APP_HOSTS): the slots the barrier reads. */
  hosts: number;
  pageSize: number;
  /** The host's whole root region in bytes; programs get RESERVED_ROOT_BYTES fewer. */
  rootBytes: number;
  threadsHere: number;
  /** The cluster's coherence model (release: threads publish at their end, the verify acquires first). */
  coherence?: 'sequential' | 'release';
  /** Cluster-wide index of this host's first thread. */
  firstIndex: number;
  totalThreads: number;
  program: AppProgram;
  /** Record every read, write and add of a built-in workload (onRecords gets them in batches). */
  record: boolean;
  /** Each thread counts itself in this host's run slot when it ends, failed or not (default true). */
  barrier?: boolean;
  /** The VMM's malloc: done(address, or 0 if the heap is full), now or later. */
  malloc(size: number, done: (addr: number) => void): void;
  /** The VMM's free: done(null, or why the address is invalid), now or later. */
  free(addr: number, done: (err: string | null) => void): void;
  /** The VMM's locks and barriers (Vmm.sync), by the thread's cluster-wide index: done(null) once granted, passed or released. */
  sync: {
    lock(thread: number, id: number, done: (err: string | null) => void): void;
    unlock(thread: number, id: number, done: (err: string | null) => void): void;
    barrier(thread: number, name: number, parties: number, done: (err: string | null) => void): void;
    /** Ends `thread`'s last interval and commits its record at the host's home if it covers cached locks; done once committed (SyncClient.endThread). */
    endThread?(obj: SyncObject, thread: number, done: (published: string | null) => void): void;
    /** Tells fn each thread's lock deadline (the VMM's local µs, performance.now() on this thread; null: none) as it changes. */
    watchDeadlines?(fn: (thread: number, localUs: number | null) => void): void;
  };
  onRecords?(records: AppRecord[]): void;
  log(event: string, fields: Record<string, unknown>): void;
}

interface ThreadSlot {
  index: number;
  worker: Worker;
  channel: CallChannel;
  state: 'running' | 'done' | 'failed';
}

type Outcome = Extract<AppWorkerMessage, { type: 'done' | 'failed' | 'verified' | 'claimed' | 'slots' }>;

/** The run's end as the host judged it: ok only if every thread everywhere ended well and verify passed. */
export interface AppVerdict {
  ok: boolean;
  /** What the log and status say: "verified", or what went wrong. */
  text: string;
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function requireInt(name: string, value: number, min: number): void {
  if (!Number.isSafeInteger(value) || value < min) throw new RangeError(`AppThreads: ${name} must be an integer >= ${min}, got ${value}`);
}

export class AppThreads {
  /** Settles when every thread here finished or failed (or terminate() stopped them). */
  readonly done: Promise<{ errors: string[] }>;
  private resolveDone: (v: { errors: string[] }) => void = () => {};
  private readonly opts: AppThreadsOptions;
  private readonly slots: ThreadSlot[] = [];
  /** Threads whose end waits for the host's other threads to end (endWhenLast). */
  private ending: { slot: ThreadSlot; done: () => void }[] = [];
  /** Running helper workers, with how to fail their promise. */
  private readonly helpers = new Map<Worker, (err: Error) => void>();
  /** Per worker: settles once it may be terminated (see stop()). */
  private readonly loaded = new Map<Worker, Promise<void>>();
  private readonly errors: string[] = [];
  private phase: 'starting' | 'running' | 'waiting' | 'verifying' = 'starting';
  private verdict: AppVerdict | null = null;
  private waiting: { what: string; since: Date } | null = null;
  private terminated = false;

  constructor(opts: AppThreadsOptions) {
    requireInt('host', opts.host, 1);
    requireInt('hosts', opts.hosts, 1);
    requireInt('hostIndex', opts.hostIndex, 0);
    if (opts.hosts > MAX_APP_HOSTS) throw new RangeError(`AppThreads: at most ${MAX_APP_HOSTS} hosts run applications, got ${opts.hosts}`);
    if (opts.hostIndex >= opts.hosts) throw new RangeError(`AppThreads: hostIndex ${opts.hostIndex} is not below hosts ${opts.hosts}`);
    requireInt('threadsHere', opts.threadsHere, 0);
    requireInt('firstIndex', opts.firstIndex, 0);
    requireInt('totalThreads', opts.totalThreads, opts.firstIndex + opts.threadsHere);
    requireInt('pageSize', opts.pageSize, 1);
    requireInt('rootBytes', opts.rootBytes, RESERVED_ROOT_BYTES);
    if (opts.rootBytes % 4 !== 0 || opts.rootBytes > opts.heap.size) {
      throw new RangeError(`AppThreads: rootBytes must be a multiple of 4 within the heap, got ${opts.rootBytes}`);
    }
    // Bad workload options fail here, on the caller's stack, not in every worker.
    if (opts.program.kind === 'workload') makeWorkload(opts.program);
    this.opts = opts;
    this.done = new Promise((resolve) => {
      this.resolveDone = resolve;
    });
  }

  /**
   * Runs this host's threads. `skip`: the share already ran to completion
   * (claim() said so), so nothing runs and done settles at once.
   */
  start(skip = false): void {
    if (this.phase !== 'starting') throw new Error('AppThreads: start() called twice');
    this.phase = 'running';
    if (skip) {
      this.resolveDone({ errors: [] });
      return;
    }
    for (let i = 0; i < this.opts.threadsHere; i++) {
      const index = this.opts.firstIndex + i;
      let slot: ThreadSlot | undefined;
      const { worker, channel } = this.spawn('thread', index, 0, (m) => {
        if (slot === undefined) return;
        if (m.type === 'done') this.end(slot, null, m.arrived);
        else if (m.type === 'failed') this.end(slot, m.error, m.arrived, m.stack);
      }, (why, crashed) => {
        if (slot === undefined) return;
        if (slot.state === 'running') this.end(slot, why, false);
        else if (crashed) this.safeLog('app thread error after it ended', { thread: index, error: why });
      });
      slot = { index, worker, channel, state: 'running' };
      this.slots.push(slot);
    }
    // A worker checks its lock deadline itself before every operation: this event loop may be
    // too busy to stop it in time (the VMM's clock is performance.now() of this thread).
    this.opts.sync.watchDeadlines?.((thread, localUs) => {
      const slot = this.slots.find((s) => s.index === thread);
      if (slot !== undefined) slot.channel.lockDeadline = localUs === null ? 0 : performance.timeOrigin * 1000 + localUs;
    });
    this.checkDone();
  }

  status(): AppStatus {
    const ended = this.slots.filter((s) => s.state !== 'running').length;
    let state: AppState;
    if (this.verdict !== null) state = this.verdict.ok ? 'done' : 'failed';
    else if (this.errors.length > 0) state = 'failed';
    else if (this.phase !== 'running') state = this.phase;
    else state = ended === this.opts.threadsHere ? 'done' : 'running';
    return {
      program: programName(this.opts.program),
      state,
      threads: this.opts.threadsHere,
      threadsDone: ended,
      ops: this.slots.reduce((n, s) => n + s.channel.ops, 0),
      // A thread that failed fails the run, whatever verify said.
      verified: this.verdict === null ? null : this.verdict.ok,
      error: this.errors[0] ?? (this.verdict !== null && !this.verdict.ok ? this.verdict.text : null),
      waitingFor: this.waiting?.what ?? null,
      waitingSince: this.waiting?.since.toISOString() ?? null,
    };
  }

  /** What the run waits for now (null: nothing), shown in status; `since` stays while the wait goes on. */
  setWaiting(what: string | null): void {
    if (what === null) this.waiting = null;
    else this.waiting = { what, since: this.waiting?.since ?? new Date() };
  }

  get waitingSince(): Date | null {
    return this.waiting?.since ?? null;
  }

  /** The run's verdict, once: later calls keep the first. */
  setVerdict(v: AppVerdict): void {
    this.verdict ??= v;
    this.waiting = null;
  }

  get result(): AppVerdict | null {
    return this.verdict;
  }

  /** terminate() was called: the host is stopping, nothing more will run. */
  get stopped(): boolean {
    return this.terminated;
  }

  /**
   * Runs the program's verify in one worker (after every thread of the
   * cluster finished: see run-barrier.ts). null if the result is right, else what
   * is wrong, including a verify that threw. Rejects only if terminated.
   */
  async verify(): Promise<string | null> {
    this.phase = 'verifying';
    let result: string | null;
    try {
      const m = await this.helper('verify', 0);
      result = m.type === 'verified' ? m.result : m.type === 'failed' ? `verify failed: ${m.error}` : `verify worker answered ${m.type}`;
    } catch (err) {
      if (this.terminated) throw err;
      result = `verify failed: ${messageOf(err)}`;
    } finally {
      this.phase = 'running';
    }
    return result;
  }

  /**
   * This host's run slot as it was (0: fresh, and now claimed for this
   * share), and the run the slots belonged to if it was another (they were
   * cleared for this one). Rejects only if terminated.
   */
  async claim(): Promise<{ before: number; previousRun: number | null }> {
    const m = await this.helper('claim', this.opts.threadsHere);
    if (m.type !== 'claimed') throw new Error(`claiming the run slot failed: ${m.type === 'failed' ? m.error : m.type}`);
    return { before: m.before, previousRun: m.previousRun };
  }

  /**
   * Calls onSlots with every host's run slot when one changes (and every
   * second) until the returned function is called or terminate().
   */
  watchSlots(onSlots: (values: number[]) => void): () => void {
    if (this.terminated) return () => {};
    const { worker } = this.spawn('watch-slots', this.opts.firstIndex, 0, (m) => {
      if (m.type === 'slots') onSlots(m.values);
    }, (why, crashed) => {
      if (crashed) this.safeLog('app slot watcher failed', { error: why });
    });
    this.helpers.set(worker, () => {});
    return () => {
      this.helpers.delete(worker);
      void this.stop(worker);
    };
  }

  /**
   * Cuts this host's threads off (their writes were lost with a lease) and
   * marks its share abandoned, so every host's barrier sees it will not
   * complete. Resolves once marked (or if it cannot be: the host is stopping).
   */
  async abandon(why: string): Promise<void> {
    const running = this.slots.filter((s) => s.state === 'running');
    for (const s of running) {
      s.state = 'failed';
      this.errors.push(`thread ${s.index}: ${why}`);
    }
    this.checkDone();
    // Not awaited: a thread parked in a fault ends only once the fault is answered.
    for (const s of running) void this.stop(s.worker);
    try {
      await this.helper('abandon', 0);
    } catch (err) {
      this.safeLog('app abandon failed', { error: messageOf(err) });
    }
  }

  /**
   * Stops every worker. A worker parked in a page fault stops only once the
   * fault is answered or the heap is closed (NativeMemory.close wakes it).
   */
  async terminate(): Promise<void> {
    this.terminated = true;
    const workers = [...this.slots.map((s) => s.worker), ...this.helpers.keys()];
    for (const fail of [...this.helpers.values()]) fail(new Error('app threads terminated'));
    for (const s of this.slots) if (s.state === 'running') this.end(s, 'terminated before it finished', false);
    this.resolveDone({ errors: [...this.errors] }); // also when never started
    await Promise.all(workers.map((w) => this.stop(w)));
  }

  /**
   * Terminates a worker once it is done with koffi: Node aborts the whole
   * process when a worker is terminated inside a koffi call, loading the addon
   * or making the heap view ("FATAL ERROR: Error::ThrowAsJavaScriptException napi_throw").
   */
  private async stop(worker: Worker): Promise<void> {
    await this.loaded.get(worker);
    await worker.terminate();
  }

  // ---- workers ----

  /** Spawns a worker; `onOutcome` gets its outcome messages, `onStop` every uncaught error (crashed) and the exit. */
  private spawn(mode: AppWorkerMode, thread: number, target: number, onOutcome: (m: Outcome) => void, onStop: (why: string, crashed: boolean) => void): { worker: Worker; channel: CallChannel } {
    const o = this.opts;
    const channel = new CallChannel();
    const workerData: AppWorkerData = {
      gallocyApp: true,
      mode,
      address: o.heap.address,
      size: o.heap.size,
      pageSize: o.pageSize,
      host: o.host,
      thread,
      threads: o.totalThreads,
      threadsHere: o.threadsHere,
      rootBytes: o.rootBytes - RESERVED_ROOT_BYTES,
      slots: slotAddress(o.rootBytes, 0),
      hosts: o.hosts,
      slot: slotAddress(o.rootBytes, o.hostIndex),
      runWord: runWordAddress(o.rootBytes),
      runId: runIdOf(o.program, o.totalThreads),
      arrive: o.barrier ?? true,
      target,
      calls: channel.buffer,
      program: o.program,
      record: o.record && mode === 'thread',
      publishAtEnd: o.coherence === 'release',
    };
    const worker = new Worker(WORKER_URL, { workerData });
    let markLoaded: () => void = () => {};
    this.loaded.set(worker, new Promise<void>((resolve) => {
      markLoaded = resolve;
    }));
    worker.on('message', (m: AppWorkerMessage) => {
      switch (m.type) {
        case 'ready':
          markLoaded();
          break;
        case 'call':
          this.serve(channel, m, thread);
          break;
        case 'log':
          this.safeLog(m.msg, { ...m.fields, thread });
          break;
        case 'records':
          try {
            o.onRecords?.(m.records);
          } catch (err) {
            this.safeLog('app records handler failed', { error: messageOf(err) });
          }
          break;
        default:
          onOutcome(m);
      }
    });
    // 'error' is an uncaught exception in the worker; 'exit' follows it, and every other end.
    worker.on('error', (err) => onStop(messageOf(err), true));
    worker.on('exit', (code) => {
      markLoaded();
      this.loaded.delete(worker);
      onStop(code === 0 ? 'exited before it finished' : `exited with code ${code}`, false);
    });
    return { worker, channel };
  }

  /** A helper worker's outcome message; rejects if it stops without one, times out or is terminated. */
  private helper(mode: AppWorkerMode, target: number, timeoutMs?: number): Promise<Outcome> {
    if (this.terminated) return Promise.reject(new Error('app threads terminated'));
    return new Promise<Outcome>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      let settled = false;
      const settle = (finish: () => void): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.helpers.delete(worker);
        finish();
      };
      const { worker } = this.spawn(mode, this.opts.firstIndex, target,
        (m) => settle(() => resolve(m)),
        (why) => settle(() => reject(new Error(`the ${mode} worker ${why}`))));
      this.helpers.set(worker, (err) => settle(() => reject(err)));
      if (timeoutMs !== undefined) {
        timer = setTimeout(() => {
          settle(() => reject(new Error(`${mode} timed out after ${timeoutMs} ms`)));
          void this.stop(worker);
        }, timeoutMs);
      }
    });
  }

  /** Answers a worker's call once, whenever the VMM's callback fires (a lock: once granted, however long that takes). */
  private serve(channel: CallChannel, m: Extract<AppWorkerMessage, { type: 'call' }>, thread: number): void {
    let answered = false;
    const answer = (value: number, error: string | null): void => {
      if (answered) return;
      answered = true;
      channel.answer(value, error);
    };
    try {
      const done = (err: string | null): void => answer(0, err);
      const sync = this.opts.sync;
      switch (m.op) {
        case 'malloc': this.opts.malloc(m.size, (addr) => answer(addr, null)); break;
        case 'free': this.opts.free(m.addr, done); break;
        case 'lock': sync.lock(thread, m.id, done); break;
        case 'unlock':
          // A thread's end (its unlock of END_LOCK) is answered once its record is committed at the
          // host's home: until then what it wrote under the locks the host keeps is published nowhere.
          if (m.id === END_LOCK && sync.endThread !== undefined) {
            sync.unlock(thread, m.id, (err) => (err !== null ? done(err) : this.endWhenLast(channel, thread, () => done(null))));
          } else sync.unlock(thread, m.id, done);
          break;
        case 'barrier': sync.barrier(thread, m.name, m.parties, done); break;
      }
    } catch (err) {
      answer(0, `the host's ${m.op} failed: ${messageOf(err)}`);
    }
  }

  /**
   * Release consistency: a thread's end publishes once no other thread of this host runs, for every
   * thread waiting to end: intervals are the host's, so the last one's record names what all of them
   * wrote, with one diff per page instead of one per thread (as the simulator does: SimDsm's exitRelease).
   */
  private endWhenLast(channel: CallChannel, thread: number, done: () => void): void {
    const slot = this.slots.find((s) => s.channel === channel);
    if (slot === undefined) {
      // Not a workload thread (the verify, which goes by the first thread's index): it ends on its own.
      this.opts.sync.endThread?.({ kind: 'lock', id: END_LOCK }, thread, () => done());
      return;
    }
    this.ending.push({ slot, done });
    this.publishEnds();
  }

  private publishEnds(): void {
    this.ending = this.ending.filter((e) => e.slot.state === 'running');
    const sync = this.opts.sync;
    if (this.ending.length === 0 || sync.endThread === undefined) return;
    const waiting = new Set(this.ending.map((e) => e.slot));
    const notStarted = this.opts.threadsHere - this.slots.length;
    if (notStarted > 0 || this.slots.some((s) => s.state === 'running' && !waiting.has(s))) return;
    const ends = this.ending;
    this.ending = [];
    sync.endThread({ kind: 'lock', id: END_LOCK }, ends[ends.length - 1]!.slot.index, () => {
      for (const e of ends) e.done();
    });
  }

  private end(slot: ThreadSlot, error: string | null, arrived: boolean, stack: string | null = null): void {
    if (slot.state !== 'running') return;
    slot.state = error === null ? 'done' : 'failed';
    // A thread that stopped running may have been the one the others waited for to end (endWhenLast).
    this.publishEnds();
    if (error === null) {
      this.safeLog('app thread done', { thread: slot.index });
    } else {
      this.errors.push(`thread ${slot.index}: ${error}`);
      this.safeLog('app thread failed', { thread: slot.index, error, ...(stack === null ? {} : { stack }) });
    }
    // A thread that died before counting itself is counted for it (as failed), or the cluster's barrier never completes.
    if ((this.opts.barrier ?? true) && !arrived && !this.terminated) {
      this.helper('arrive', 0).catch((err: unknown) => this.safeLog('app barrier arrive failed', { thread: slot.index, error: messageOf(err) }));
    }
    this.checkDone();
  }

  private checkDone(): void {
    if (this.slots.length === this.opts.threadsHere && this.slots.every((s) => s.state !== 'running')) {
      this.resolveDone({ errors: [...this.errors] });
    }
  }

  private safeLog(event: string, fields: Record<string, unknown>): void {
    try {
      this.opts.log(event, fields);
    } catch {
      // A broken logger must not turn a worker's message into a crash of the host.
    }
  }
}
