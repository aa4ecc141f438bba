// Real mode's application threads over the native heap, with a local backend:
// the main thread answers every fault with a zero page opened read-write and
// malloc/free come from a bump allocator here (no VMM, no cluster). What is
// under test is the worker layer: workloads and user apps running in workers,
// synchronous malloc/free, records, failures, verify and the barrier.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { AppThreads, RESERVED_ROOT_BYTES, runWordAddress, slotAddress, type AppProgram, type AppRecord, type AppThreadsOptions } from '../../src/real/app-threads.js';
import { decodeSlot, MAX_APP_HOSTS } from '../../src/real/app-protocol.js';
import { barrierView, type BarrierView } from '../../src/real/run-barrier.js';
import { hostMonoUs } from '../../src/real/clock-map.js';
import { loadNativeMemory, nativeAvailable, type NativeMemory } from '../../src/real/native-memory.js';
import { decodeRegisterValue, registerAddresses } from '../../src/vmm/workloads/index.js';

const PAGE = 4096;
const PAGES = 64;
const ROOT = PAGE; // one root page
const TIMEOUT_MS = 20_000;
const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, '..', '..', '..'); // dist/test/real -> repo root

const availability = nativeAvailable();
const mem: NativeMemory | null = availability.ok ? loadNativeMemory({ size: PAGES * PAGE, pageSize: PAGE }) : null;
const tmp = mkdtempSync(join(os.tmpdir(), 'gallocy-app-test-'));

if (mem !== null) {
  mem.onFault((req) => {
    // Requests can be stale: fill only a page nobody opened yet, or the fill would wipe its data.
    if (mem.protection(req.page) === 'none') mem.fill(req.page, new Uint8Array(0), 'write');
    else if (mem.protection(req.page) !== 'write') mem.setProtection(req.page, 'write');
  });
}

function withTimeout<T>(p: Promise<T>, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`timed out after ${TIMEOUT_MS} ms waiting for ${what}`)), TIMEOUT_MS);
    p.then(
      (v) => (clearTimeout(t), resolve(v)),
      (e: unknown) => (clearTimeout(t), reject(e instanceof Error ? e : new Error(String(e)))),
    );
  });
}

/** Zero every page and close it again, so each test starts from a fresh heap (the main thread writes through the shadow). */
function resetHeap(m: NativeMemory): void {
  for (let p = 0; p < m.pages; p++) m.fill(p, new Uint8Array(0), 'none');
}

/** A bump allocator after the root region; it answers asynchronously, as the VMM does. */
class BumpHeap {
  private next = ROOT;
  readonly live = new Set<number>();
  mallocs = 0;

  malloc(size: number, done: (addr: number) => void): void {
    this.mallocs++;
    const bytes = Math.max(8, Math.ceil(size / 8) * 8);
    let addr = 0;
    if (this.next + bytes <= PAGES * PAGE) {
      addr = this.next;
      this.next += bytes;
      this.live.add(addr);
    }
    setImmediate(() => done(addr));
  }

  free(addr: number, done: (err: string | null) => void): void {
    if (!this.live.delete(addr)) setTimeout(() => done(`${addr} is not an allocated block`), 1);
    else done(null);
  }
}

/**
 * Locks and barriers of one host, answered asynchronously as the VMM's are: a lock goes to its
 * waiters in turn, a barrier opens at its last party. (The cluster's own are tested in the
 * simulator and in the multi-process test.)
 */
class LocalSync {
  private holders = new Map<number, number>();
  private waiters = new Map<number, [number, (err: string | null) => void][]>();
  private barriers = new Map<number, ((err: string | null) => void)[]>();
  granted = 0;

  lock(thread: number, id: number, done: (err: string | null) => void): void {
    if (!this.holders.has(id)) {
      this.holders.set(id, thread);
      this.granted++;
      setImmediate(() => done(null));
      return;
    }
    this.waiters.set(id, [...(this.waiters.get(id) ?? []), [thread, done]]);
  }

  unlock(thread: number, id: number, done: (err: string | null) => void): void {
    if (this.holders.get(id) !== thread) {
      setImmediate(() => done('the thread does not hold it'));
      return;
    }
    const [next, ...rest] = this.waiters.get(id) ?? [];
    this.waiters.set(id, rest);
    if (next === undefined) this.holders.delete(id);
    else {
      this.holders.set(id, next[0]);
      this.granted++;
      setImmediate(() => next[1](null));
    }
    setImmediate(() => done(null));
  }

  barrier(_thread: number, name: number, parties: number, done: (err: string | null) => void): void {
    const arrived = [...(this.barriers.get(name) ?? []), done];
    if (arrived.length < parties) {
      this.barriers.set(name, arrived);
      return;
    }
    this.barriers.delete(name);
    for (const d of arrived) setImmediate(() => d(null));
  }
}

interface Run {
  sync: LocalSync;
  threads: AppThreads;
  heap: BumpHeap;
  records: AppRecord[];
  logs: { event: string; fields: Record<string, unknown> }[];
}

function open(program: AppProgram, threadsHere: number, extra: Partial<AppThreadsOptions> = {}): Run {
  if (mem === null) throw new Error('no native heap');
  resetHeap(mem);
  const heap = new BumpHeap();
  const records: AppRecord[] = [];
  const logs: Run['logs'] = [];
  const sync = new LocalSync();
  const threads = new AppThreads({
    heap: mem.handle(),
    host: 1,
    hostIndex: 0,
    hosts: 1,
    pageSize: PAGE,
    rootBytes: ROOT,
    threadsHere,
    firstIndex: 0,
    totalThreads: threadsHere,
    program,
    record: false,
    malloc: (size, done) => heap.malloc(size, done),
    free: (addr, done) => heap.free(addr, done),
    sync,
    onRecords: (rs) => records.push(...rs),
    log: (event, fields) => logs.push({ event, fields }),
    ...extra,
  });
  threads.start();
  return { sync, threads, heap, records, logs };
}

/** The u32 at a byte address, read through the shadow (the main thread may not touch the application mapping). */
function word(addr: number): number {
  const page = mem!.read(Math.floor(addr / PAGE));
  return new DataView(page.buffer, page.byteOffset).getUint32(addr % PAGE, true);
}

/** Resolves with the barrier's view once it is no longer waiting (this host alone in the cluster). */
function barrier(threads: AppThreads, total: number): Promise<BarrierView> {
  return new Promise((resolve) => {
    const stop = threads.watchSlots((values) => {
      const v = barrierView({ slots: values, hostIds: [1], totalThreads: total, gone: new Set() });
      if (v.kind === 'waiting') return;
      stop();
      resolve(v);
    });
  });
}

/** This host's run slot, decoded. */
const slot = () => decodeSlot(word(slotAddress(ROOT, 0)));

function appFile(name: string, source: string): string {
  const file = join(tmp, name);
  writeFileSync(file, source);
  return file;
}

if (!availability.ok) {
  test(`app threads (skipped: real mode unavailable: ${availability.reason})`, () => {});
} else {
  test('constants: the run slots are the root region\'s last 4 bytes per host', () => {
    assert.is(RESERVED_ROOT_BYTES, 4 * (MAX_APP_HOSTS + 1));
    assert.is(slotAddress(ROOT, 0), ROOT - RESERVED_ROOT_BYTES);
    assert.is(slotAddress(ROOT, MAX_APP_HOSTS - 1), ROOT - 8);
    assert.is(runWordAddress(ROOT), ROOT - 4);
  });

  test('counter: 3 threads of atomic adds, the exact total, barrier and verify', async () => {
    const increments = 2000;
    const { threads, records } = open({ kind: 'workload', name: 'counter', options: { increments, computeUs: 0 }, seed: 1 }, 3, { record: true });
    const { errors } = await withTimeout(threads.done, 'the counter threads');
    assert.equal(errors, []);
    // Every old value 0..total-1 returned exactly once: no add was lost or duplicated.
    assert.is(records.length, 3 * increments);
    const olds = records.map((r) => (assert.ok(r.kind === 'add' && r.delta === 1 && r.addr === 0), r.value)).sort((a, b) => a - b);
    assert.ok(olds.every((v, i) => v === i), 'old values are a permutation of 0..total-1');
    assert.is((await withTimeout(barrier(threads, 3), 'the barrier')).kind, 'complete');
    assert.is(slot().ended, 3);
    assert.is(await withTimeout(threads.verify(), 'verify'), null);
    // Lost updates would show here: Atomics.add on the koffi view must be atomic across workers.
    assert.is(word(0), 3 * increments);
    assert.is(word(4), 0, 'no add returned an old value not above the previous one');
    // The verdict is the host's (serve.ts), from verify and every host's slot; verified shows it.
    assert.is(threads.status().verified, null);
    threads.setVerdict({ ok: true, text: 'verified' });
    const s = threads.status();
    assert.equal(
      { program: s.program, state: s.state, threads: s.threads, threadsDone: s.threadsDone, ops: s.ops, verified: s.verified, error: s.error },
      { program: 'counter', state: 'done', threads: 3, threadsDone: 3, ops: 3 * increments, verified: true, error: null },
    );
    await threads.terminate();
  });

  test('registers with record: consistent values, call <= ret, batches', async () => {
    const opsPerThread = 300; // more than one batch of 256 per thread
    const before = hostMonoUs();
    const { threads, records } = open({ kind: 'workload', name: 'registers', options: { opsPerThread, computeUs: 5 }, seed: 7 }, 3, { record: true });
    assert.equal((await withTimeout(threads.done, 'the register threads')).errors, []);
    const after = hostMonoUs();
    assert.is(records.length, 3 * opsPerThread);
    const regs = new Set(registerAddresses(ROOT - RESERVED_ROOT_BYTES, PAGE, 12));
    const written = new Set<number>();
    const lastRet = new Map<number, number>();
    for (const r of records) {
      assert.ok(r.call <= r.ret, `call ${r.call} > ret ${r.ret}`);
      assert.ok(r.call >= before - 1000 && r.ret <= after + 1000, 'timestamps are µs of the machine\'s monotonic clock');
      assert.ok(r.call >= (lastRet.get(r.thread) ?? 0), 'a thread\'s ops do not overlap, in order');
      lastRet.set(r.thread, r.ret);
      assert.ok(regs.has(r.addr), `op at ${r.addr}, not a register`);
      if (r.kind === 'write') {
        assert.is(decodeRegisterValue(r.value)?.index, r.thread, 'a write stores its thread\'s value');
        written.add(r.value);
      } else {
        assert.is(r.kind, 'read');
      }
    }
    for (const r of records) {
      if (r.kind === 'read' && r.value !== 0) assert.ok(written.has(r.value), `read ${r.value}, which nobody wrote`);
    }
    for (const addr of regs) {
      const v = word(addr);
      assert.ok(v === 0 || written.has(v), `register ${addr} ends with ${v}`);
    }
    assert.is((await withTimeout(barrier(threads, 3), 'the barrier')).kind, 'complete');
    assert.is(await withTimeout(threads.verify(), 'verify'), null);
    await threads.terminate();
  });

  test('false-sharing and matrix-barrier: workers block in lock and barrier until the host answers, and verify', async () => {
    // 3 threads on one lock: a plain read-modify-write each round, exact only if the lock excludes.
    const fs = open({ kind: 'workload', name: 'false-sharing', options: { rounds: 200, threadsPerLock: 3, computeUs: 0 }, seed: 1 }, 3);
    assert.equal((await withTimeout(fs.threads.done, 'the false-sharing threads')).errors, []);
    assert.is(fs.sync.granted, 600);
    assert.is(await withTimeout(fs.threads.verify(), 'verify'), null);
    await fs.threads.terminate();
    const mb = open({ kind: 'workload', name: 'matrix-barrier', options: { n: 6, iterations: 2, computeUsPerRow: 0 }, seed: 1 }, 3);
    assert.equal((await withTimeout(mb.threads.done, 'the matrix-barrier threads')).errors, []);
    assert.is(await withTimeout(mb.threads.verify(), 'verify'), null);
    await mb.threads.terminate();
  });

  test('an app: gallocy.lock, unlock and barrier; unlocking a lock not held throws', async () => {
    const file = appFile('lock-app.mjs', `
      export default function (g) {
        for (let i = 0; i < 100; i++) {
          g.lock(7);
          const v = g.u32[0]; g.u32[0] = v + 1;   // not atomic: the lock makes it safe
          g.unlock(7);
        }
        g.barrier(1, g.threads);
        if (g.u32[0] !== 100 * g.threads) throw new Error('after the barrier every increment is in: ' + g.u32[0]);
        if (g.thread === 0) g.unlock(7);
      }`);
    const { threads } = open({ kind: 'app', file }, 3);
    const { errors } = await withTimeout(threads.done, 'the lock app');
    assert.is(errors.length, 1, JSON.stringify(errors));
    assert.match(JSON.stringify(errors[0]), /gallocy.unlock\(7\): the thread does not hold it/);
    assert.is(word(0), 300);
    await threads.terminate();
  });

  test('matrix: malloc through the main thread, verify passes', async () => {
    const { threads, heap } = open({ kind: 'workload', name: 'matrix', options: { n: 8, pollUs: 200, computeUsPerRow: 0 }, seed: 3 }, 3);
    assert.equal((await withTimeout(threads.done, 'the matrix threads')).errors, []);
    assert.is(heap.mallocs, 3);
    assert.is((await withTimeout(barrier(threads, 3), 'the barrier')).kind, 'complete');
    assert.is(await withTimeout(threads.verify(), 'verify'), null);
    await threads.terminate();
  });

  test('the example app: malloc, write, read, atomic counter at root, free, verify', async () => {
    const file = join(repo, 'examples', 'hello-app.mjs');
    const { threads, heap, logs } = open({ kind: 'app', file }, 4);
    assert.equal((await withTimeout(threads.done, 'the example app')).errors, []);
    assert.is(heap.mallocs, 4);
    assert.is(heap.live.size, 0, 'every block was freed');
    assert.is(word(0), 4);
    const hellos = logs.filter((l) => l.event === 'hello from a gallocy thread');
    assert.equal(hellos.map((l) => l.fields.thread).sort(), [0, 1, 2, 3]);
    assert.is((await withTimeout(barrier(threads, 4), 'the barrier')).kind, 'complete');
    assert.is(await withTimeout(threads.verify(), 'verify'), null);
    assert.is(threads.status().state, 'done');
    await threads.terminate();
  });

  test('a user app: malloc/u32/f64/free/Atomics; bad sizes and an invalid free throw in the app', async () => {
    const file = appFile('user-app.mjs', `
      export default async function (g) {
        const a = g.malloc(24), b = g.malloc(0);
        if (a === 0 || b === 0 || a === b || a % 8 !== 0 || a < g.rootBytes) throw new Error('bad blocks ' + a + ' ' + b);
        g.u32[a >>> 2] = 0xdeadbeef;
        g.f64[(a + 8) >>> 3] = Math.PI * g.thread;
        await new Promise((r) => setTimeout(r, 1)); // async apps are awaited
        if (g.u32[a >>> 2] !== 0xdeadbeef || g.f64[(a + 8) >>> 3] !== Math.PI * g.thread) throw new Error('read back');
        Atomics.add(g.i32, 1, 5);
        const errors = [];
        for (const bad of [() => g.malloc(-1), () => g.malloc(1.5), () => g.free(a + 4), () => g.free(-8)]) {
          try { bad(); errors.push(null); } catch (e) { errors.push(e.constructor.name + ': ' + e.message); }
        }
        g.free(a);
        g.free(b);
        g.free(0);
        g.count(3);
        g.log('checked', { errors, rootBytes: g.rootBytes, threads: g.threads, threadsHere: g.threadsHere, host: g.host, pageSize: g.pageSize, root: g.root });
      }
    `);
    const { threads, heap, logs } = open({ kind: 'app', file }, 2);
    assert.equal((await withTimeout(threads.done, 'the user app')).errors, []);
    assert.is(heap.live.size, 0);
    assert.is(word(4), 10);
    const checked = logs.filter((l) => l.event === 'checked');
    assert.is(checked.length, 2);
    const f = checked[0]!.fields;
    assert.equal(
      { rootBytes: f.rootBytes, threads: f.threads, threadsHere: f.threadsHere, host: f.host, pageSize: f.pageSize, root: f.root },
      { rootBytes: ROOT - RESERVED_ROOT_BYTES, threads: 2, threadsHere: 2, host: 1, pageSize: PAGE, root: 0 },
    );
    const errors = f.errors as (string | null)[];
    assert.match(errors[0] ?? '', /^TypeError: gallocy\.malloc: size must be a non-negative integer/);
    assert.match(errors[1] ?? '', /^TypeError: /);
    assert.match(errors[2] ?? '', /^Error: gallocy\.free\(\d+\): \d+ is not an allocated block$/);
    assert.match(errors[3] ?? '', /^TypeError: gallocy\.free/);
    // Per thread: 2 mallocs and 3 frees that returned, and the 3 the app counted; the 4 that threw are not operations.
    assert.is(threads.status().ops, 2 * (5 + 3), 'an app\'s threads report their operations');
    await threads.terminate();
  });

  test('failing apps become failed threads; the barrier still counts them', async () => {
    const file = appFile('failing-app.mjs', `
      export default async function (g) {
        if (g.thread === 0) throw new Error('boom from thread 0');
        if (g.thread === 1) await Promise.reject(new RangeError('async boom'));
        if (g.thread === 2) process.exit(3);
        if (g.thread === 3) { setTimeout(() => { throw new Error('late boom'); }, 1); await new Promise(() => {}); }
      }
      export function verify() { throw new Error('verify boom'); }
    `);
    const { threads, logs } = open({ kind: 'app', file }, 5);
    const { errors } = await withTimeout(threads.done, 'the failing app');
    assert.is(errors.length, 4, errors.join('\n'));
    const text = errors.join('\n');
    assert.match(text, /thread 0: boom from thread 0/);
    assert.match(text, /thread 1: async boom/);
    assert.match(text, /thread 2: exited with code 3/);
    assert.match(text, /thread 3: late boom/);
    const s = threads.status();
    assert.is(s.state, 'failed');
    assert.is(s.threadsDone, 5);
    assert.match(s.error ?? '', /boom from thread 0|async boom|exited|late boom/);
    assert.ok(logs.some((l) => l.event === 'app thread failed' && typeof l.fields.stack === 'string'), 'the stack is logged');
    // Threads 2 and 3 died without counting themselves; helpers count them.
    assert.is((await withTimeout(barrier(threads, 5), 'the barrier')).kind, 'complete');
    assert.is(slot().ended, 5);
    assert.ok(slot().failed, 'the slot says a thread failed');
    assert.match((await withTimeout(threads.verify(), 'verify')) ?? '', /^verify failed: verify boom/);
    await threads.terminate();
  });

  test('a module without a default function fails its threads', async () => {
    const file = appFile('no-default.mjs', 'export const x = 1;\n');
    const { threads } = open({ kind: 'app', file }, 1);
    const { errors } = await withTimeout(threads.done, 'the app');
    assert.match(errors[0] ?? '', /default export must be a function/);
    await threads.terminate();
  });

  test('terminate stops a thread blocked in a malloc the host never answers', async () => {
    const file = appFile('stuck-app.mjs', 'export default (g) => { g.malloc(64); };\n');
    const { threads } = open({ kind: 'app', file }, 1, { malloc: () => {} });
    await new Promise((r) => setTimeout(r, 100));
    assert.is(threads.status().state, 'running');
    await withTimeout(threads.terminate(), 'terminate');
    const { errors } = await threads.done;
    assert.match(errors[0] ?? '', /terminated/);
  });

  test('terminate right after start waits for the workers to load (terminating during koffi\'s load aborts the process)', async () => {
    for (let i = 0; i < 8; i++) {
      const { threads } = open({ kind: 'workload', name: 'counter', options: { increments: 100_000, computeUs: 0 }, seed: i }, 2);
      await new Promise((r) => setTimeout(r, i * 3));
      await withTimeout(threads.terminate(), 'terminate');
      const { errors } = await threads.done;
      assert.ok(errors.length <= 2);
    }
  });

  test('the barrier waits for a missing thread, naming it; an abandoned share breaks it', async () => {
    const { threads } = open({ kind: 'workload', name: 'counter', options: { increments: 1 }, seed: 1 }, 1, { totalThreads: 2 });
    await withTimeout(threads.done, 'the thread');
    const views: BarrierView[] = [];
    await withTimeout(new Promise<void>((resolve) => {
      const stop = threads.watchSlots((values) => {
        views.push(barrierView({ slots: values, hostIds: [1], totalThreads: 2, gone: new Set() }));
        stop();
        resolve();
      });
    }), 'the slots');
    // Claimed by nobody here (the test starts threads without claim()): the slot counts the ended thread only.
    assert.equal(views[0], { kind: 'waiting', what: "the cluster's threads to end (1 of 2 threads ended)" });
    await withTimeout(threads.abandon('cut off'), 'abandon');
    assert.ok(slot().abandoned);
    const broken = await withTimeout(barrier(threads, 2), 'the broken barrier');
    assert.is(broken.kind, 'broken');
    await threads.terminate();
  });

  test('bad options fail at construction', () => {
    assert.throws(() => open({ kind: 'workload', name: 'counter', options: { increments: -1 }, seed: 1 }, 1), /increments/);
    assert.throws(() => open({ kind: 'workload', name: 'counter', seed: 1 }, 1, { totalThreads: 0 }), /totalThreads/);
  });
}

test.after(() => {
  mem?.close();
  rmSync(tmp, { recursive: true, force: true });
});

test.run();
