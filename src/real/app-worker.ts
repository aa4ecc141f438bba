// Worker entry of real mode's application threads (spawned by app-threads.ts).
//
// The worker builds its own view of the heap's application mapping and runs a
// built-in workload's generator or a user's module over it. Memory accesses
// are plain typed-array accesses: a page the host does not hold faults, and
// the native shim parks this thread until the main thread's VMM resolves it.
// malloc and free are synchronous calls to the main thread (CallChannel).
//
// Imported on the main thread it does nothing: the main thread must never
// touch the heap.
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { isMainThread, parentPort, workerData, type MessagePort } from 'node:worker_threads';
import seedrandom from 'seedrandom';
import type { ThreadContext, ThreadOp } from '../vmm/thread.js';
import { createGallocyApp, type AppModule, type GallocyApp } from './app-api.js';
import { CallChannel, claimedSlot, END_LOCK, makeWorkload, SLOT_ABANDONED, SLOT_FAILED, type AppRecord, type AppWorkerData, type AppWorkerMessage } from './app-protocol.js';
import { heapView } from './native-worker-view.js';
import { hostMonoUs } from './clock-map.js';

/** Records per message: a host killed with kill -9 loses at most one batch. */
const RECORD_BATCH = 256;

function isAppData(d: unknown): d is AppWorkerData {
  return typeof d === 'object' && d !== null && (d as { gallocyApp?: unknown }).gallocyApp === true;
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));

/** Sleeps (a blocking wait, nobody notifies it) for a millisecond or more; spins for less, which a wait would overshoot. */
function pause(us: number): void {
  if (us >= 1000) {
    Atomics.wait(sleeper, 0, 0, us / 1000);
    return;
  }
  const end = performance.now() + us / 1000;
  while (performance.now() < end);
}

/** µs of the machine's monotonic clock: the host maps them onto the cluster's one timeline (clock-map.ts). */
const nowUs = hostMonoUs;

/** A lock id or barrier name: a u32 (what every host names the same object by). */
function u32Arg(fn: string, what: string, v: number): number {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new TypeError(`gallocy.${fn}: ${what} must be an integer in [0, 2^32), got ${String(v)}`);
  return v;
}

function describe(err: unknown): { error: string; stack: string | null } {
  if (err instanceof Error) return { error: err.message || err.name, stack: err.stack ?? null };
  return { error: String(err), stack: null };
}

class AppWorker {
  private readonly post: (m: AppWorkerMessage) => void;
  private readonly channel: CallChannel;
  private readonly heap: Uint8Array;
  private readonly u32: Uint32Array;
  private records: AppRecord[] = [];
  private ops = 0;

  constructor(
    private readonly data: AppWorkerData,
    port: MessagePort,
  ) {
    this.post = (m) => port.postMessage(m);
    this.channel = new CallChannel(data.calls);
    this.heap = heapView(data.address, data.size);
    this.u32 = new Uint32Array(this.heap.buffer, this.heap.byteOffset, this.heap.byteLength >>> 2);
  }

  async run(): Promise<void> {
    const d = this.data;
    switch (d.mode) {
      case 'arrive':
        // A thread that died before counting itself: counted for it, as failed.
        Atomics.add(this.u32, d.slot >>> 2, 1);
        Atomics.or(this.u32, d.slot >>> 2, SLOT_FAILED);
        this.post({ type: 'done', arrived: true });
        return;
      case 'abandon':
        Atomics.or(this.u32, d.slot >>> 2, SLOT_ABANDONED);
        this.post({ type: 'done', arrived: true });
        return;
      case 'claim': {
        // Another run's slots (another program on this heap): this host starts a new run, clearing them.
        const run = d.runWord >>> 2;
        const was = Atomics.compareExchange(this.u32, run, 0, d.runId | 0) >>> 0;
        let previousRun: number | null = null;
        if (was !== 0 && was !== d.runId && (Atomics.compareExchange(this.u32, run, was | 0, d.runId | 0) >>> 0) === was) {
          previousRun = was;
          for (let i = 0; i < d.hosts; i++) Atomics.store(this.u32, (d.slots >>> 2) + i, 0);
        }
        const before = Atomics.compareExchange(this.u32, d.slot >>> 2, 0, claimedSlot(d.target) | 0) >>> 0;
        this.post({ type: 'claimed', before, previousRun });
        return;
      }
      case 'watch-slots': {
        let last = '';
        let postedAt = 0;
        for (;;) {
          const values = Array.from({ length: d.hosts }, (_, i) => Atomics.load(this.u32, (d.slots >>> 2) + i) >>> 0);
          const key = values.join(',');
          // On every change, and every second so the host can tell a watcher blocked in a fault from a quiet run.
          if (key !== last || performance.now() - postedAt >= 1000) {
            this.post({ type: 'slots', values });
            last = key;
            postedAt = performance.now();
          }
          pause(2000);
        }
      }
      case 'verify':
        try {
          if (d.publishAtEnd) this.acquireEnds();
          this.post({ type: 'verified', result: await this.verify() });
        } catch (err) {
          this.post({ type: 'failed', ...describe(err), arrived: false });
        }
        return;
      case 'thread': {
        let failure: unknown = undefined;
        let failed = false;
        try {
          await this.thread();
        } catch (err) {
          failed = true;
          failure = err;
        }
        this.flush();
        if (d.publishAtEnd) this.acquireEnds();
        // After the records: whoever sees the count complete has every record sent.
        if (d.arrive) {
          if (failed) Atomics.or(this.u32, d.slot >>> 2, SLOT_FAILED);
          Atomics.add(this.u32, d.slot >>> 2, 1);
        }
        this.post(failed ? { type: 'failed', ...describe(failure), arrived: d.arrive } : { type: 'done', arrived: d.arrive });
        return;
      }
    }
  }

  private async thread(): Promise<void> {
    const p = this.data.program;
    if (p.kind === 'workload') {
      this.drive(makeWorkload(p).thread(this.context(p.seed)));
    } else {
      const mod = await this.loadApp(p.file);
      await mod.default(this.app());
    }
  }

  private async verify(): Promise<string | null> {
    const p = this.data.program;
    if (p.kind === 'workload') return this.drive(makeWorkload(p).verify(this.context(p.seed)));
    const mod = await this.loadApp(p.file);
    if (mod.verify === undefined) return null;
    const result = await mod.verify(this.app());
    if (result === null || result === undefined) return null;
    return typeof result === 'string' ? result : `verify returned ${String(result)}, not a string or null`;
  }

  private async loadApp(file: string): Promise<AppModule> {
    const url = file.startsWith('file:') ? file : pathToFileURL(file).href;
    const mod = (await import(url)) as Partial<AppModule>;
    if (typeof mod.default !== 'function') throw new TypeError(`${file}: the default export must be a function (gallocy) => void`);
    if (mod.verify !== undefined && typeof mod.verify !== 'function') throw new TypeError(`${file}: the verify export must be a function`);
    return mod as AppModule;
  }

  private context(seed: number): ThreadContext {
    const d = this.data;
    const random = seedrandom.alea(`${seed}/host-${d.host}/thread-${d.thread}`);
    return { host: d.host, index: d.thread, threads: d.threads, rootBytes: d.rootBytes, pageSize: d.pageSize, random: () => random() };
  }

  private app(): GallocyApp {
    const d = this.data;
    return createGallocyApp(
      { host: d.host, thread: d.thread, threads: d.threads, threadsHere: d.threadsHere, pageSize: d.pageSize, rootBytes: d.rootBytes },
      this.heap,
      {
        malloc: (size) => {
          this.checkLockDeadline();
          const addr = this.malloc(size);
          this.counted(1);
          return addr;
        },
        free: (addr) => {
          this.checkLockDeadline();
          this.free(addr);
          this.counted(1);
        },
        lock: (id) => {
          this.checkLockDeadline();
          this.lock(id);
          this.counted(1);
        },
        unlock: (id) => {
          this.checkLockDeadline();
          this.unlock(id);
          this.counted(1);
        },
        barrier: (name, parties) => {
          this.barrier(name, parties);
          this.counted(1);
        },
        count: (n = 1) => {
          this.checkLockDeadline();
          if (!Number.isSafeInteger(n) || n < 0) throw new TypeError(`gallocy.count: n must be a non-negative integer, got ${String(n)}`);
          this.counted(n);
        },
        log: (msg, fields = {}) => this.post({ type: 'log', msg: String(msg), fields }),
      },
    );
  }

  /** Operations this thread completed, as status() shows them. */
  private counted(n: number): void {
    this.ops += n;
    this.channel.ops = this.ops;
  }

  // ---- synchronous calls to the main thread ----

  private malloc(size: number): number {
    if (!Number.isSafeInteger(size) || size < 0) throw new TypeError(`gallocy.malloc: size must be a non-negative integer, got ${String(size)}`);
    const a = this.channel.call(() => this.post({ type: 'call', op: 'malloc', size }));
    if (a.error !== null) throw new Error(`gallocy.malloc(${size}): ${a.error}`);
    return a.value;
  }

  private free(addr: number): void {
    if (!Number.isSafeInteger(addr) || addr < 0) throw new TypeError(`gallocy.free: address must be a non-negative integer, got ${String(addr)}`);
    if (addr === 0) return;
    const a = this.channel.call(() => this.post({ type: 'call', op: 'free', addr }));
    if (a.error !== null) throw new Error(`gallocy.free(${addr}): ${a.error}`);
  }

  /** A thread whose lock's lease ran out must not go on in its critical section (the host is told by its own timer too). */
  private checkLockDeadline(): void {
    const deadline = this.channel.lockDeadline;
    if (deadline > 0 && (performance.timeOrigin + performance.now()) * 1000 >= deadline) {
      throw new Error('the lease of a lock this thread holds ran out (its host was cut off too long): it stops');
    }
  }

  /** Release consistency: takes in what every thread ended before published, and publishes this one's writes. */
  private acquireEnds(): void {
    this.lock(END_LOCK);
    this.unlock(END_LOCK);
  }

  /** Blocks (Atomics.wait in the call channel, no spinning) until the lock is this thread's. */
  private lock(id: number): void {
    const a = this.channel.call(() => this.post({ type: 'call', op: 'lock', id: u32Arg('lock', 'id', id) }));
    if (a.error !== null) throw new Error(`gallocy.lock(${id}): ${a.error}`);
  }

  private unlock(id: number): void {
    const a = this.channel.call(() => this.post({ type: 'call', op: 'unlock', id: u32Arg('unlock', 'id', id) }));
    if (a.error !== null) throw new Error(`gallocy.unlock(${id}): ${a.error}`);
  }

  private barrier(name: number, parties: number): void {
    if (!Number.isSafeInteger(parties) || parties < 1) throw new TypeError(`gallocy.barrier: parties must be a positive integer, got ${String(parties)}`);
    const a = this.channel.call(() => this.post({ type: 'call', op: 'barrier', name: u32Arg('barrier', 'name', name), parties }));
    if (a.error !== null) throw new Error(`gallocy.barrier(${name}, ${parties}): ${a.error}`);
  }

  // ---- built-in workloads ----

  /** Runs a workload generator to its end, synchronously: every op blocks this thread, as a real access would. */
  private drive<R>(program: Generator<ThreadOp, R, number>): R {
    let step = program.next();
    while (!step.done) {
      this.checkLockDeadline();
      step = program.next(this.perform(step.value));
      this.counted(1);
    }
    return step.value;
  }

  private perform(op: ThreadOp): number {
    switch (op.op) {
      case 'read': {
        const i = this.word(op.addr);
        const call = this.data.record ? nowUs() : 0;
        const value = this.u32[i] as number;
        if (this.data.record) this.record({ thread: this.data.thread, kind: 'read', addr: op.addr, value, call, ret: nowUs() });
        return value;
      }
      case 'write': {
        const i = this.word(op.addr);
        const value = op.value >>> 0;
        const call = this.data.record ? nowUs() : 0;
        this.u32[i] = value;
        if (this.data.record) this.record({ thread: this.data.thread, kind: 'write', addr: op.addr, value, call, ret: nowUs() });
        return 0;
      }
      case 'add': {
        const i = this.word(op.addr);
        const delta = op.delta >>> 0;
        const call = this.data.record ? nowUs() : 0;
        // Atomic on the koffi view too: Atomics accepts non-shared integer arrays.
        const value = Atomics.add(this.u32, i, delta);
        if (this.data.record) this.record({ thread: this.data.thread, kind: 'add', addr: op.addr, value, delta, call, ret: nowUs() });
        return value;
      }
      case 'malloc':
        return this.malloc(op.size);
      case 'free':
        this.free(op.addr);
        return 0;
      case 'compute':
        pause(op.us);
        return 0;
      case 'lock':
        this.lock(op.id);
        return 0;
      case 'unlock':
        this.unlock(op.id);
        return 0;
      case 'barrier':
        this.barrier(op.name, op.parties);
        return 0;
    }
  }

  /** The word index of a byte address; out-of-range indexes would read undefined and drop writes silently. */
  private word(addr: number): number {
    if (!Number.isInteger(addr) || addr < 0 || addr >= this.heap.byteLength || addr % 4 !== 0) {
      throw new RangeError(`address ${addr} is not an aligned word inside the heap (${this.heap.byteLength} bytes)`);
    }
    return addr >>> 2;
  }

  private record(r: AppRecord): void {
    this.records.push(r);
    if (this.records.length >= RECORD_BATCH) this.flush();
  }

  private flush(): void {
    if (this.records.length === 0) return;
    this.post({ type: 'records', records: this.records });
    this.records = [];
  }
}

if (!isMainThread && parentPort !== null && isAppData(workerData)) {
  const port = parentPort;
  const data = workerData;
  Promise.resolve()
    .then(() => {
      const worker = new AppWorker(data, port);
      // Done with koffi (its addon loaded, the view made): terminating a worker
      // inside a koffi call aborts the whole process, so the main thread waits
      // for this before it terminates us.
      port.postMessage({ type: 'ready' } satisfies AppWorkerMessage);
      return worker.run();
    })
    .catch((err: unknown) => {
      // Only the start (the heap view) can get here; run() reports everything else.
      port.postMessage({ type: 'failed', ...describe(err), arrived: false } satisfies AppWorkerMessage);
    });
}
