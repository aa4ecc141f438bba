// The native page-fault shim and its koffi binding, driven for real: worker
// threads touch protected pages of the application mapping, the main thread
// receives requests from the pipe and answers them.
//
// These tests need native/build/libgallocy_shim.so (`node native/build.mjs`).
// Without it they fail with the reason; they never skip.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { measureFaultHandoff } from '../../bench/fault-handoff.js';
import {
  FaultRecordDecoder,
  loadNativeMemory,
  nativeAvailable,
  type FaultRequest,
  type NativeMemory,
} from '../../src/real/native-memory.js';
import { findRepoRoot as repoRoot } from '../../src/cli/repo-root.js';
import type { WorkerOp, WorkerReply } from './native-worker.js';
import { wasmOutOfBounds } from './native-wasm.js';

const here = dirname(fileURLToPath(import.meta.url));
const PAGE = 4096;
// A guard against a hang, not a speed check: generous, since a loaded machine can take seconds to start a worker.
const TIMEOUT_MS = 60_000;

const availability = nativeAvailable();

function withTimeout<T>(p: Promise<T>, what: string, ms = TIMEOUT_MS): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(t);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Requests from the pipe, in order. */
class Faults {
  private readonly queue: FaultRequest[] = [];
  private waiter: ((r: FaultRequest) => void) | null = null;

  constructor(mem: NativeMemory) {
    mem.onFault((req) => {
      if (this.waiter) {
        const w = this.waiter;
        this.waiter = null;
        w(req);
      } else {
        this.queue.push(req);
      }
    });
  }

  next(): Promise<FaultRequest> {
    const q = this.queue.shift();
    if (q) return Promise.resolve(q);
    return withTimeout(
      new Promise<FaultRequest>((r) => {
        this.waiter = r;
      }),
      'a fault request',
    );
  }

  get queued(): number {
    return this.queue.length;
  }
}

/** A worker reading one byte in a loop: how many reads so far, the last value read, and stop. */
interface ReadLoop {
  reads(): number;
  last(): number;
  /** Resolves with the number of reads once the loop ended (a worker parked on a fault ends once it is answered). */
  stop(): Promise<number>;
}

type WorkerOpBody = WorkerOp extends infer O ? (O extends WorkerOp ? Omit<O, 'id'> : never) : never;

/** A worker thread touching the heap on request. */
class HeapWorker {
  private readonly worker: Worker;
  private readonly pending = new Map<number, { resolve: (v: number) => void; reject: (e: Error) => void }>();
  private nextId = 1;

  constructor(mem: NativeMemory) {
    this.worker = new Worker(new URL('./native-worker.js', import.meta.url), {
      workerData: { gallocyNativeTest: true, ...mem.handle() },
    });
    this.worker.on('message', (m: WorkerReply) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if ('error' in m) p.reject(new Error(m.error));
      else p.resolve(m.value);
    });
    this.worker.on('error', (e) => {
      for (const p of this.pending.values()) p.reject(e);
      this.pending.clear();
    });
  }

  private call(op: WorkerOpBody, what: string, ms = TIMEOUT_MS): Promise<number> {
    const id = this.nextId++;
    const done = new Promise<number>((resolve, reject) => this.pending.set(id, { resolve, reject }));
    this.worker.postMessage({ ...op, id });
    return withTimeout(done, what, ms);
  }

  read(page: number, offset: number): Promise<number> {
    return this.call({ op: 'read', page, offset }, `the worker to read page ${page}`);
  }

  write(page: number, offset: number, value: number): Promise<number> {
    return this.call({ op: 'write', page, offset, value }, `the worker to write page ${page}`);
  }

  /** Reads until told to stop (see ReadLoop). */
  readLoop(page: number, offset: number): ReadLoop {
    const ctl = new Int32Array(new SharedArrayBuffer(12));
    const done = this.call({ op: 'read-loop', page, offset, ctl }, `the worker's read loop on page ${page}`, 60_000);
    return {
      reads: () => Atomics.load(ctl, 1),
      last: () => Atomics.load(ctl, 2),
      stop: () => {
        Atomics.store(ctl, 0, 1);
        return done;
      },
    };
  }

  terminate(): Promise<number> {
    return this.worker.terminate();
  }
}

function pageOf(byte: number, at: number, value: number): Uint8Array {
  const p = new Uint8Array(PAGE).fill(byte);
  p[at] = value;
  return p;
}

/** Open a heap, run fn, and always close the heap (waking blocked workers) and stop the workers. */
async function withHeap(pages: number, fn: (mem: NativeMemory, faults: Faults, workers: HeapWorker[]) => Promise<void>, nWorkers = 1) {
  const mem = loadNativeMemory({ size: pages * PAGE, pageSize: PAGE });
  const workers: HeapWorker[] = [];
  try {
    const faults = new Faults(mem);
    for (let i = 0; i < nWorkers; i++) workers.push(new HeapWorker(mem));
    await fn(mem, faults, workers);
  } finally {
    mem.close();
    await Promise.all(workers.map((w) => w.terminate()));
  }
}


test('the native shim is built and loadable (fails with the reason otherwise)', () => {
  assert.ok(availability.ok, availability.ok ? '' : `real mode unavailable: ${availability.reason} (repo ${repoRoot()})`);
});

test('decoder: 8-byte records across partial reads', () => {
  const d = new FaultRecordDecoder();
  const bytes = Buffer.alloc(24);
  bytes.writeUInt32LE(7, 0);
  bytes.writeUInt32LE(0, 4);
  bytes.writeUInt32LE(70000, 8);
  bytes.writeUInt32LE(1, 12);
  bytes.writeUInt32LE(3, 16);
  bytes.writeUInt32LE(1, 20);
  assert.equal(d.push(bytes.subarray(0, 3)), []);
  assert.is(d.pendingBytes, 3);
  assert.equal(d.push(bytes.subarray(3, 13)), [{ page: 7, access: 'read' }]);
  assert.is(d.pendingBytes, 5);
  assert.equal(d.push(bytes.subarray(13, 24)), [
    { page: 70000, access: 'write' },
    { page: 3, access: 'write' },
  ]);
  assert.is(d.pendingBytes, 0);
});

test('loadNativeMemory validates its options and allows one heap at a time', () => {
  assert.throws(() => loadNativeMemory({ size: 4096 * 3, pageSize: 1000 }), /multiple of 4096/);
  assert.throws(() => loadNativeMemory({ size: 4096 * 3 + 1, pageSize: 4096 }), /multiple of pageSize/);
  const mem = loadNativeMemory({ size: 4 * PAGE, pageSize: PAGE });
  try {
    assert.throws(() => loadNativeMemory({ size: 4 * PAGE, pageSize: PAGE }), /already open/);
    assert.is(mem.pages, 4);
    assert.is(mem.protection(0), 'none');
    assert.throws(() => mem.protection(4), /outside the heap/);
  } finally {
    mem.close();
  }
  assert.throws(() => mem.setProtection(0, 'read'), /closed/);
});

test('read fault: the worker blocks until the main thread fills the page', async () => {
  await withHeap(8, async (mem, faults, [w]) => {
    const worker = w!;
    const faultsBefore = mem.faultCount();
    const reading = worker.read(1, 10);
    assert.equal(await faults.next(), { page: 1, access: 'read' });
    assert.is(mem.protection(1), 'none');
    mem.fill(1, pageOf(5, 10, 99), 'read');
    assert.is(await reading, 99);
    assert.is(mem.protection(1), 'read');
    assert.ok(mem.faultCount() > faultsBefore);
    // Open for reading now: another read does not fault.
    const f = mem.faultCount();
    assert.is(await worker.read(1, 11), 5);
    assert.is(mem.faultCount(), f);
  });
});

test('write fault: the write lands after the page is opened read-write, visible through the shadow', async () => {
  await withHeap(8, async (mem, faults, [w]) => {
    const worker = w!;
    const writing = worker.write(2, 5, 77);
    assert.equal(await faults.next(), { page: 2, access: 'write' });
    mem.fill(2, pageOf(1, 0, 1), 'write');
    assert.is(await writing, 77);
    const back = mem.read(2);
    assert.is(back[5], 77);
    assert.is(back[6], 1);
    // Write-back after invalidation reads the shadow: no fault, no abort on the main thread.
    mem.setProtection(2, 'none');
    assert.is(mem.read(2)[5], 77);
  });
});

test('read-then-write upgrade: a read request, then a write request for the same page', async () => {
  await withHeap(8, async (mem, faults, [w]) => {
    const worker = w!;
    const reading = worker.read(3, 0);
    assert.equal(await faults.next(), { page: 3, access: 'read' });
    mem.fill(3, pageOf(9, 0, 42), 'read');
    assert.is(await reading, 42);
    const writing = worker.write(3, 1, 43);
    assert.equal(await faults.next(), { page: 3, access: 'write' });
    assert.is(mem.protection(3), 'read');
    mem.setProtection(3, 'write'); // upgrade without copying
    assert.is(await writing, 43);
    const back = mem.read(3);
    assert.is(back[0], 42);
    assert.is(back[1], 43);
    assert.is(back[2], 9);
  });
});

test('invalidation and re-fault: the worker sees the new contents', async () => {
  await withHeap(8, async (mem, faults, [w]) => {
    const worker = w!;
    mem.fill(4, pageOf(0, 8, 11), 'read');
    const f = mem.faultCount();
    assert.is(await worker.read(4, 8), 11);
    assert.is(mem.faultCount(), f, 'an open page must not fault');
    const gen = mem.generation(4);
    mem.setProtection(4, 'none');
    assert.ok(mem.generation(4) > gen);
    const reading = worker.read(4, 8);
    assert.equal(await faults.next(), { page: 4, access: 'read' });
    mem.fill(4, pageOf(0, 8, 12), 'read');
    assert.is(await reading, 12);
  });
});

test('downgrade: reads of a read-only page do not fault, a write faults again', async () => {
  await withHeap(8, async (mem, faults, [w]) => {
    const worker = w!;
    mem.fill(5, new Uint8Array(PAGE), 'write');
    const f = mem.faultCount();
    assert.is(await worker.write(5, 0, 21), 21);
    assert.is(mem.faultCount(), f);
    mem.setProtection(5, 'read');
    assert.is(await worker.read(5, 0), 21);
    assert.is(mem.faultCount(), f, 'a read of a read-only page must not fault');
    const writing = worker.write(5, 0, 22);
    assert.equal(await faults.next(), { page: 5, access: 'write' });
    assert.is(mem.read(5)[0], 21, 'the write has not happened yet');
    mem.setProtection(5, 'write');
    assert.is(await writing, 22);
    assert.is(mem.read(5)[0], 22);
  });
});

test('two workers faulting on one page send one request; one answer wakes both', async () => {
  await withHeap(
    8,
    async (mem, faults, workers) => {
      const [a, b] = workers;
      const faults0 = mem.faultCount();
      const requests0 = mem.requestCount();
      const ra = a!.read(6, 1);
      const rb = b!.read(6, 2);
      assert.equal(await faults.next(), { page: 6, access: 'read' });
      const deadline = Date.now() + TIMEOUT_MS;
      while (mem.faultCount() - faults0 < 2) {
        if (Date.now() > deadline) throw new Error('the second worker never faulted');
        await sleep(5);
      }
      await sleep(50); // let the second handler pass its send decision
      assert.is(mem.requestCount() - requests0, 1, 'a pending read request is not repeated');
      assert.is(faults.queued, 0);
      const data = new Uint8Array(PAGE);
      data[1] = 31;
      data[2] = 32;
      mem.fill(6, data, 'read');
      assert.equal(await Promise.all([ra, rb]), [31, 32]);
    },
    2,
  );
});

test('a pending read request does not hold back a write request for the same page', async () => {
  await withHeap(
    8,
    async (mem, faults, workers) => {
      const [a, b] = workers;
      const ra = a!.read(0, 0);
      assert.equal(await faults.next(), { page: 0, access: 'read' });
      const wb = b!.write(0, 1, 55);
      assert.equal(await faults.next(), { page: 0, access: 'write' });
      mem.setProtection(0, 'write');
      assert.equal(await Promise.all([ra, wb]), [0, 55]);
      assert.is(mem.read(0)[1], 55);
    },
    2,
  );
});

test('pages larger than the system page: a fault names the heap page', async () => {
  const big = 4 * PAGE;
  const mem = loadNativeMemory({ size: 4 * big, pageSize: big });
  const worker = new HeapWorker(mem);
  try {
    const faults = new Faults(mem);
    const reading = worker.read(2, big - 1);
    assert.equal(await faults.next(), { page: 2, access: 'read' });
    const data = new Uint8Array(big);
    data[big - 1] = 201;
    mem.fill(2, data, 'read');
    assert.is(await reading, 201);
    assert.is(mem.protection(1), 'none');
    assert.is(mem.protection(3), 'none');
  } finally {
    mem.close();
    await worker.terminate();
  }
});

test('stale requests: answering after the page was opened another way is harmless', async () => {
  await withHeap(8, async (mem, faults, [w]) => {
    const worker = w!;
    const writing = worker.write(7, 0, 5);
    const req = await faults.next();
    assert.equal(req, { page: 7, access: 'write' });
    mem.fill(7, new Uint8Array(PAGE), 'read'); // not enough for a write: the worker faults again
    assert.equal(await faults.next(), { page: 7, access: 'write' });
    mem.setProtection(7, 'write');
    assert.is(await writing, 5);
    mem.setProtection(7, 'write'); // a late answer to a stale request
    assert.is(await worker.read(7, 0), 5);
  });
});

test('shutdown wakes a blocked worker and opens every page', async () => {
  const mem = loadNativeMemory({ size: 4 * PAGE, pageSize: PAGE });
  const worker = new HeapWorker(mem);
  try {
    const faults = new Faults(mem);
    const reading = worker.read(2, 0);
    assert.equal(await faults.next(), { page: 2, access: 'read' });
    mem.close();
    assert.is(await reading, 0);
    assert.is(mem.protection(0), 'write');
    assert.is(await worker.write(3, 0, 1), 1, 'after shutdown the heap is plain memory');
  } finally {
    mem.close();
    await worker.terminate();
  }
});

test('WebAssembly out-of-bounds still raises RuntimeError with the handler installed', async () => {
  // First in a fresh process, on the main thread and in a worker (a hang or a crash fails here):
  const child = join(here, 'native-child.js');
  const r = spawnSync(process.execPath, [child, '--gallocy-native-child', 'wasm'], {
    encoding: 'utf8',
    timeout: 10000,
  });
  assert.is(r.error, undefined, `child failed to run: ${String(r.error)}`);
  assert.is(r.status, 0, `child exited with ${r.status} / ${r.signal}: ${r.stderr}`);
  const out = JSON.parse(r.stdout.trim()) as { main: string; worker: string };
  assert.match(out.main, /^RuntimeError: .*out of bounds/);
  assert.match(out.worker, /^RuntimeError: .*out of bounds/);
  // Then in this process (the handler was installed by the tests above) with a heap open;
  // only after the child passed, since a broken chain would spin here forever.
  const mem = loadNativeMemory({ size: 4 * PAGE, pageSize: PAGE });
  try {
    assert.match(wasmOutOfBounds(), /^RuntimeError: .*out of bounds/);
  } finally {
    mem.close();
  }
});

test('the main thread touching a protected page aborts with a message instead of hanging', () => {
  const child = join(here, 'native-child.js');
  const r = spawnSync(process.execPath, [child, '--gallocy-native-child', 'abort'], {
    encoding: 'utf8',
    timeout: 10000,
  });
  assert.is(r.error, undefined, `child did not finish (hang?): ${String(r.error)}`);
  assert.ok(r.status !== 0, `child should fail, got status ${r.status} signal ${r.signal}`);
  assert.is(r.signal, 'SIGABRT');
  assert.match(r.stdout, /touching page 3/);
  assert.not.match(r.stdout, /survived/);
  assert.match(r.stderr, /gallocy: fatal: the main JS thread touched protected heap page 3 \(read at 0x[0-9a-f]+\)/);
});

// ---- deadlines: the shim's own thread closes a page on time, whatever the main thread does ----

/** The clock the VMM gives deadlines on (real mode's VmmEnv.now()). */
const nowUs = (): number => Math.floor(performance.now() * 1000);
/** How late a close may be and still pass: the shim thread only has to wake; a loaded CI machine gets a whole second. */
const LATE_US = 1_000_000;

async function until(what: string, cond: () => boolean): Promise<void> {
  const end = Date.now() + TIMEOUT_MS;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(2);
  }
}

/**
 * Busy-loops the main thread (no event loop turn: the VMM's timers could not
 * run) until `page` is closed or `limitUs` passes; returns when it saw it
 * closed (null: never) and the worker's reads then.
 */
function busyUntilClosed(mem: NativeMemory, page: number, limitUs: number, loop: ReadLoop): { closedAt: number | null; readsAtClose: number } {
  while (nowUs() < limitUs) {
    if (mem.protection(page) === 'none') return { closedAt: nowUs(), readsAtClose: loop.reads() };
  }
  return { closedAt: null, readsAtClose: loop.reads() };
}

function busyFor(us: number): void {
  const end = nowUs() + us;
  while (nowUs() < end);
}

test('deadline: the page closes on time while the main thread busy-loops and a worker keeps reading; the worker then faults', async () => {
  await withHeap(4, async (mem, faults, [w]) => {
    mem.fill(1, pageOf(0, 0, 42), 'read');
    const loop = w!.readLoop(1, 0);
    await until('the worker to be reading', () => loop.reads() > 0);
    const expired = mem.expiredCount();
    const deadline = nowUs() + 300_000;
    mem.setDeadline(1, deadline);
    const readsAtStart = loop.reads();
    const { closedAt, readsAtClose } = busyUntilClosed(mem, 1, deadline + 10 * LATE_US, loop);
    busyFor(200_000); // still no event loop turn: the worker must be stopped by now
    const readsLater = loop.reads();
    assert.ok(closedAt !== null, 'the page was never closed');
    assert.ok(closedAt >= deadline - 1000, `closed ${deadline - closedAt} us before its deadline`);
    assert.ok(closedAt <= deadline + LATE_US, `closed ${closedAt - deadline} us after its deadline`);
    console.log(`    deadline close seen ${closedAt - deadline} us after the deadline`);
    assert.ok(readsAtClose > readsAtStart, 'the worker read on while the main thread was busy');
    assert.is(loop.last(), 42);
    assert.ok(readsLater - readsAtClose <= 1, `the worker read ${readsLater - readsAtClose} times after the close`);
    assert.is(mem.expiredCount() - expired, 1);
    // The main thread's loop turns again: the worker's fault is waiting for it.
    assert.equal(await faults.next(), { page: 1, access: 'read' });
    mem.fill(1, pageOf(0, 0, 43), 'read');
    assert.is(mem.protection(1), 'none', 'past its deadline the page stays closed, whatever is asked');
    mem.setDeadline(1, null);
    mem.fill(1, pageOf(0, 0, 43), 'read');
    await until('the worker to read the new contents', () => loop.last() === 43);
    await loop.stop();
  });
});

test('deadline: a renewed deadline keeps the page open past the old one, a cleared one never closes it', async () => {
  await withHeap(4, async (mem, _faults, [w]) => {
    mem.fill(2, pageOf(0, 0, 7), 'read');
    mem.fill(3, pageOf(0, 0, 8), 'read');
    const loop = w!.readLoop(2, 0);
    await until('the worker to be reading', () => loop.reads() > 0);
    const first = nowUs() + 150_000;
    mem.setDeadline(2, first);
    mem.setDeadline(3, first);
    const renewed = first + 450_000;
    mem.setDeadline(2, renewed); // the shim's thread sleeps until `first`: it must look again then
    mem.setDeadline(3, null);
    const { closedAt } = busyUntilClosed(mem, 2, renewed + 10 * LATE_US, loop);
    assert.ok(closedAt !== null, 'the page was never closed');
    assert.ok(closedAt >= renewed - 1000, `closed ${renewed - closedAt} us before the renewed deadline (the first was ${renewed - first} us earlier)`);
    assert.ok(closedAt <= renewed + LATE_US, `closed ${closedAt - renewed} us after its deadline`);
    assert.is(mem.protection(3), 'read', 'no deadline: still open');
    mem.setDeadline(2, null);
    mem.setProtection(2, 'read');
    await loop.stop();
  });
});

test('deadline: one already passed closes the page at once; suspended, deadlines close and refuse nothing', async () => {
  await withHeap(4, async (mem) => {
    mem.fill(0, new Uint8Array(PAGE), 'write');
    mem.setDeadline(0, nowUs() - 1);
    assert.is(mem.protection(0), 'none', 'closed before setDeadline returned');
    mem.setProtection(0, 'read');
    assert.is(mem.protection(0), 'none');
    mem.enforceDeadlines(false);
    mem.setProtection(0, 'read');
    assert.is(mem.protection(0), 'read', 'suspended: opened past its deadline');
    mem.setDeadline(1, nowUs() - 1);
    mem.enforceDeadlines(true);
    await until('the shim thread to close the page once deadlines are back', () => mem.protection(0) === 'none');
    mem.setDeadline(0, nowUs() + 60_000_000);
    mem.setProtection(0, 'read');
    assert.is(mem.protection(0), 'read', 'a later deadline lets it open');
    assert.throws(() => mem.setDeadline(0, Number.NaN), /setDeadline\(0\) got NaN/);
    assert.throws(() => mem.setDeadline(4, 1), /outside the heap/);
  });
});

/** Threads of this process the shim started for deadlines (it names them). */
function deadlineThreads(): number {
  return readdirSync('/proc/self/task').filter((t) => {
    try {
      return readFileSync(`/proc/self/task/${t}/comm`, 'utf8').trim() === 'gallocy-leases';
    } catch {
      return false; // a thread that ended while we looked
    }
  }).length;
}

test('deadline: each heap has one deadline thread, and closing the heap ends it', () => {
  assert.is(deadlineThreads(), 0);
  const mem = loadNativeMemory({ size: 4 * PAGE, pageSize: PAGE });
  try {
    assert.is(deadlineThreads(), 1);
    mem.fill(0, new Uint8Array(PAGE), 'read');
    mem.setDeadline(0, nowUs() + 60_000_000); // asleep until far away
  } finally {
    mem.close();
  }
  assert.is(deadlineThreads(), 0, 'close() joined it');
  assert.throws(() => mem.setDeadline(0, nowUs()), /closed/);
});

test('fault handoff measurement returns ordered figures', async () => {
  const { p50Us, p99Us } = await measureFaultHandoff(200);
  console.log(`    native fault handoff: p50 ${p50Us.toFixed(1)} us, p99 ${p99Us.toFixed(1)} us`);
  assert.ok(Number.isFinite(p50Us) && p50Us > 0);
  assert.ok(p99Us >= p50Us);
});

test.run();
