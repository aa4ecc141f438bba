// The real-mode memory backend: a koffi binding to native/gallocy_shim.c.
//
// The shim maps a memfd heap twice: the application mapping, whose pages are
// protected none/read/read-write, and a shadow mapping that is always
// read-write. Application code runs in worker threads over a view of the
// application mapping (see native-worker-view.ts); an access to a protected
// page raises SIGSEGV, the shim's handler writes an 8-byte request to a pipe
// and parks the thread on a futex. This module reads that pipe on the main
// thread's event loop and hands each request to the VMM through onFault().
// The VMM answers with fill() or setProtection(), which wake the thread.
//
// The main JS thread never touches the application mapping (the shim aborts
// with a message if it does, instead of deadlocking); it reads and fills
// pages through the shadow.
//
// Page deadlines are enforced by a thread of the shim's own, on
// CLOCK_MONOTONIC, so they hold while this thread's event loop is stuck. The
// VMM gives them on its clock, performance.now() in microseconds: the same
// clock less the process's start, an offset measured once here.

import { existsSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { dirname, join, resolve as resolvePath } from 'node:path';
import { fileURLToPath } from 'node:url';
import koffi from 'koffi';

import type { FaultRequest, MemoryBackend, Protection } from '../vmm/memory.js';

export type { FaultRequest, MemoryBackend, Protection };

/** What a worker thread needs to build its own view of the application mapping. */
export interface HeapHandle {
  /** Address of the application mapping. */
  address: bigint;
  size: number;
  pageSize: number;
}

export const LIBRARY_FILE = 'libgallocy_shim.so';
/** Bytes per request record on the pipe: uint32 page, uint32 access (0 read, 1 write), little-endian. */
export const RECORD_BYTES = 8;

const PROT_CODES: Record<Protection, number> = { none: 0, read: 1, write: 2 };
const PROT_NAMES: readonly Protection[] = ['none', 'read', 'write'];

// ---- locating and loading the library ----------------------------------------------------

/**
 * Path of the built shim: $GALLOCY_NATIVE_LIB if set, else the first
 * native/build/libgallocy_shim.so found walking up from this module (works from
 * src/real and from dist/src/real).
 */
export function findNativeLibrary(): { path: string } | { path: null; searched: string } {
  const override = process.env.GALLOCY_NATIVE_LIB;
  if (override) return existsSync(override) ? { path: override } : { path: null, searched: override };
  const start = dirname(fileURLToPath(import.meta.url));
  let dir = start;
  for (;;) {
    const candidate = join(dir, 'native', 'build', LIBRARY_FILE);
    if (existsSync(candidate)) return { path: candidate };
    if (existsSync(join(dir, 'package.json'))) {
      return { path: null, searched: candidate };
    }
    const parent = resolvePath(dir, '..');
    if (parent === dir) return { path: null, searched: `native/build/${LIBRARY_FILE} above ${start}` };
    dir = parent;
  }
}

/** The raw shim functions (internal; exported for typing only). */
export interface Shim {
  init(size: number, pageSize: number): number;
  appBase(): bigint;
  shadowBase(): bigint;
  resolve(page: number, prot: number): number;
  setDeadline(page: number, us: number): number;
  nowUs(): number;
  enforceDeadlines(on: boolean): void;
  protection(page: number): number;
  generation(page: number): number;
  shutdown(): void;
  faultCount(): number;
  requestCount(): number;
  expiredCount(): number;
  setServiceThread(): void;
  gettid(): number;
  threadCpuMs(): number;
}

type Loaded = { ok: true; shim: Shim } | { ok: false; reason: string };
let loaded: Loaded | undefined;

function asNumber(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  throw new TypeError(`expected a number from the shim, got ${typeof v}`);
}

function asPointer(v: unknown): bigint {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number') return BigInt(v);
  if (v === null) return 0n;
  throw new TypeError(`expected a pointer from the shim, got ${typeof v}`);
}

function loadShim(): Loaded {
  if (loaded) return loaded;
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    loaded = { ok: false, reason: `needs Linux x86-64, this is ${process.platform}/${process.arch}` };
    return loaded;
  }
  const found = findNativeLibrary();
  if (found.path === null) {
    loaded = {
      ok: false,
      reason: `the native shim is not built (looked for ${found.searched}); run \`node native/build.mjs\` (needs a C compiler)`,
    };
    return loaded;
  }
  try {
    const lib = koffi.load(found.path);
    const init = lib.func('int gs_init(size_t size, size_t page_size)');
    const appBase = lib.func('void *gs_app_base(void)');
    const shadowBase = lib.func('void *gs_shadow_base(void)');
    const resolve = lib.func('int gs_resolve(uint32_t page, int prot)');
    const setDeadline = lib.func('int gs_set_deadline(uint32_t page, uint64_t us)');
    const nowUs = lib.func('uint64_t gs_now_us(void)');
    const enforceDeadlines = lib.func('void gs_enforce_deadlines(int on)');
    const protection = lib.func('int gs_protection(uint32_t page)');
    const generation = lib.func('uint32_t gs_generation(uint32_t page)');
    const shutdown = lib.func('void gs_shutdown(void)');
    const faultCount = lib.func('uint64_t gs_fault_count(void)');
    const requestCount = lib.func('uint64_t gs_request_count(void)');
    const expiredCount = lib.func('uint64_t gs_expired_count(void)');
    const setServiceThread = lib.func('void gs_set_service_thread(void)');
    const gettid = lib.func('int32_t gs_gettid(void)');
    const threadCpuMs = lib.func('double gs_thread_cpu_ms(void)');
    loaded = {
      ok: true,
      shim: {
        init: (size, pageSize) => asNumber(init(size, pageSize)),
        appBase: () => asPointer(appBase()),
        shadowBase: () => asPointer(shadowBase()),
        resolve: (page, prot) => asNumber(resolve(page, prot)),
        setDeadline: (page, us) => asNumber(setDeadline(page, us)),
        nowUs: () => asNumber(nowUs()),
        enforceDeadlines: (on) => {
          enforceDeadlines(on ? 1 : 0);
        },
        protection: (page) => asNumber(protection(page)),
        generation: (page) => asNumber(generation(page)),
        shutdown: () => {
          shutdown();
        },
        faultCount: () => asNumber(faultCount()),
        requestCount: () => asNumber(requestCount()),
        expiredCount: () => asNumber(expiredCount()),
        setServiceThread: () => {
          setServiceThread();
        },
        gettid: () => asNumber(gettid()),
        threadCpuMs: () => asNumber(threadCpuMs()),
      },
    };
  } catch (err) {
    loaded = {
      ok: false,
      reason: `loading ${found.path} failed: ${err instanceof Error ? err.message : String(err)}`,
    };
  }
  return loaded;
}

/**
 * The CPU time the calling thread has used, in ms (a system call: about half
 * a microsecond), or null where the shim cannot load. Timelines that measure
 * CPU rather than wall time use it (see timeline.ts).
 */
export function threadCpuClock(): (() => number) | null {
  const l = loadShim();
  return l.ok ? l.shim.threadCpuMs : null;
}

/** Whether real mode's memory backend can run here, and if not, why. */
export function nativeAvailable(): { ok: true } | { ok: false; reason: string } {
  const l = loadShim();
  return l.ok ? { ok: true } : { ok: false, reason: l.reason };
}

function errnoName(negErrno: number): string {
  const code = -negErrno;
  for (const [name, value] of Object.entries(os.constants.errno)) {
    if (value === code) return name;
  }
  return `errno ${code}`;
}

// ---- the request stream ------------------------------------------------------------------

/** Splits the pipe's byte stream into requests; keeps a partial record across chunks. */
export class FaultRecordDecoder {
  private readonly partial = Buffer.alloc(RECORD_BYTES);
  private partialLength = 0;

  push(chunk: Uint8Array): FaultRequest[] {
    const out: FaultRequest[] = [];
    let at = 0;
    if (this.partialLength > 0) {
      const take = Math.min(RECORD_BYTES - this.partialLength, chunk.length);
      this.partial.set(chunk.subarray(0, take), this.partialLength);
      this.partialLength += take;
      at = take;
      if (this.partialLength < RECORD_BYTES) return out;
      out.push(decodeRecord(this.partial, 0));
      this.partialLength = 0;
    }
    const view = new DataView(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    for (; at + RECORD_BYTES <= chunk.length; at += RECORD_BYTES) out.push(decodeRecord(view, at));
    if (at < chunk.length) {
      this.partial.set(chunk.subarray(at), 0);
      this.partialLength = chunk.length - at;
    }
    return out;
  }

  /** Bytes of an incomplete record held back. */
  get pendingBytes(): number {
    return this.partialLength;
  }
}

function decodeRecord(src: DataView | Buffer, at: number): FaultRequest {
  const view = src instanceof DataView ? src : new DataView(src.buffer, src.byteOffset, src.byteLength);
  const page = view.getUint32(at, true);
  const access = view.getUint32(at + 4, true);
  return { page, access: access === 1 ? 'write' : 'read' };
}

/**
 * CLOCK_MONOTONIC less performance.now(), in µs: constant, both being one
 * clock (Node's performance.now() is uv_hrtime less the process's start). The
 * shim's reading falls between two of performance.now(); of a few tries the
 * narrowest bracket is kept, and its late end used, so that a deadline
 * converted with it falls early (by the bracket, a microsecond or so), never
 * late.
 */
function measureClockOffset(shim: Shim): number {
  let width = Infinity;
  let offset = 0;
  for (let i = 0; i < 8; i++) {
    const before = performance.now() * 1000;
    const mono = shim.nowUs();
    const after = performance.now() * 1000;
    if (after - before < width) {
      width = after - before;
      offset = mono - after;
    }
  }
  return Math.floor(offset);
}

// ---- the backend -------------------------------------------------------------------------

let live: NativeMemory | null = null;

export class NativeMemory implements MemoryBackend {
  readonly pageSize: number;
  readonly pages: number;
  readonly size: number;
  /** Address of the application mapping (for workers: see handle() and heapView()). */
  readonly address: bigint;
  /** Address of the shadow mapping (always read-write). */
  readonly shadowAddress: bigint;

  private readonly shim: Shim;
  private readonly shadow: Uint8Array;
  private readonly socket: net.Socket;
  private readonly decoder = new FaultRecordDecoder();
  private handler: ((req: FaultRequest) => void) | null = null;
  private queued: FaultRequest[] = [];
  private closedFlag = false;
  private received = 0;
  /** CLOCK_MONOTONIC µs = performance.now() µs + this. */
  private readonly clockOffsetUs: number;

  /** Use loadNativeMemory(). */
  constructor(shim: Shim, fd: number, size: number, pageSize: number) {
    this.shim = shim;
    this.size = size;
    this.pageSize = pageSize;
    this.pages = size / pageSize;
    this.address = shim.appBase();
    this.shadowAddress = shim.shadowBase();
    this.shadow = new Uint8Array(koffi.view(this.shadowAddress, size));
    this.clockOffsetUs = measureClockOffset(shim);
    // A socket on the pipe's read end: libuv watches it on the event loop and
    // the ref'd handle keeps the process alive while faults can arrive.
    this.socket = new net.Socket({ fd, readable: true, writable: false });
    this.socket.on('data', (chunk: Buffer) => this.onData(chunk));
    this.socket.on('error', (err: Error) => {
      if (!this.closedFlag) process.emitWarning(`gallocy: fault pipe error: ${err.message}`);
    });
  }

  /** What a worker passes to heapView() to see the application mapping. */
  handle(): HeapHandle {
    return { address: this.address, size: this.size, pageSize: this.pageSize };
  }

  get closed(): boolean {
    return this.closedFlag;
  }

  protection(page: number): Protection {
    this.checkPage(page);
    const code = this.shim.protection(page);
    if (code < 0) throw new Error(`gallocy: protection(${page}) failed: ${errnoName(code)}`);
    const name = PROT_NAMES[code];
    if (name === undefined) throw new Error(`gallocy: shim reported protection code ${code}`);
    return name;
  }

  fill(page: number, data: Uint8Array, prot: Protection): void {
    this.checkOpen('fill');
    this.checkPage(page);
    if (data.length > this.pageSize) {
      throw new RangeError(`gallocy: fill(${page}) got ${data.length} bytes, the page holds ${this.pageSize}`);
    }
    const off = page * this.pageSize;
    this.shadow.set(data, off);
    if (data.length < this.pageSize) this.shadow.fill(0, off + data.length, off + this.pageSize);
    this.resolve(page, prot, 'fill');
  }

  read(page: number): Uint8Array {
    this.checkPage(page);
    const off = page * this.pageSize;
    return this.shadow.slice(off, off + this.pageSize);
  }

  setProtection(page: number, prot: Protection): void {
    this.checkOpen('setProtection');
    this.checkPage(page);
    this.resolve(page, prot, 'setProtection');
  }

  /** localUs: performance.now() in µs (real mode's VmmEnv.now()). */
  setDeadline(page: number, localUs: number | null): void {
    this.checkOpen('setDeadline');
    this.checkPage(page);
    if (localUs !== null && !Number.isFinite(localUs)) throw new RangeError(`gallocy: setDeadline(${page}) got ${localUs}, expected a time in µs or null`);
    // 0 means no deadline to the shim: a real one is never that early.
    const us = localUs === null ? 0 : Math.max(1, Math.floor(localUs + this.clockOffsetUs));
    const rc = this.shim.setDeadline(page, us);
    if (rc < 0) throw new Error(`gallocy: setDeadline(${page}) failed: ${errnoName(rc)}`);
  }

  /**
   * Off, deadlines close nothing and fill/setProtection open pages past them,
   * as before the shim had them: only to show what a host without them does.
   */
  enforceDeadlines(on: boolean): void {
    this.checkOpen('enforceDeadlines');
    this.shim.enforceDeadlines(on);
  }

  /** Pages the shim closed because their deadline passed, in this process (all heaps). */
  expiredCount(): number {
    return this.shim.expiredCount();
  }

  onFault(handler: (req: FaultRequest) => void): void {
    this.handler = handler;
    if (this.queued.length > 0) {
      const pending = this.queued;
      this.queued = [];
      this.dispatch(pending);
    }
  }

  /** Per-page counter bumped by every protection change (waiters sleep on it). */
  generation(page: number): number {
    this.checkPage(page);
    return this.shim.generation(page);
  }

  /** Faults claimed by the shim's handler in this process (all heaps). */
  faultCount(): number {
    return this.shim.faultCount();
  }

  /** Requests written to the pipe by the handler in this process (all heaps). */
  requestCount(): number {
    return this.shim.requestCount();
  }

  /** Requests read from the pipe by this backend. */
  get requestsReceived(): number {
    return this.received;
  }

  /**
   * Record the calling thread as the fault-service thread (a native or
   * koffi-callback thread serving faults instead of the main thread); the shim
   * aborts if that thread touches the heap.
   */
  setServiceThread(): void {
    this.shim.setServiceThread();
  }

  /** Let the process exit while the heap is open (faults then go unanswered if it does). */
  unref(): void {
    this.socket.unref();
  }

  ref(): void {
    this.socket.ref();
  }

  close(): void {
    if (this.closedFlag) return;
    this.closedFlag = true;
    // Open every page and wake every waiter first, or exit hangs on a blocked worker.
    this.shim.shutdown();
    this.socket.destroy();
    this.handler = null;
    this.queued = [];
    if (live === this) live = null;
  }

  private onData(chunk: Buffer): void {
    if (this.closedFlag) return;
    const reqs = this.decoder.push(chunk);
    this.received += reqs.length;
    if (this.handler === null) {
      this.queued.push(...reqs);
      return;
    }
    this.dispatch(reqs);
  }

  private dispatch(reqs: FaultRequest[]): void {
    let firstError: unknown = undefined;
    let failed = false;
    for (const req of reqs) {
      const h = this.handler;
      if (h === null || this.closedFlag) break;
      try {
        h(req);
      } catch (err) {
        if (!failed) firstError = err;
        failed = true;
      }
    }
    if (failed) throw firstError;
  }

  private resolve(page: number, prot: Protection, what: string): void {
    const rc = this.shim.resolve(page, PROT_CODES[prot]);
    if (rc < 0) throw new Error(`gallocy: ${what}(${page}, '${prot}') failed: ${errnoName(rc)}`);
  }

  private checkPage(page: number): void {
    if (!Number.isInteger(page) || page < 0 || page >= this.pages) {
      throw new RangeError(`gallocy: page ${page} is outside the heap (0..${this.pages - 1})`);
    }
  }

  private checkOpen(what: string): void {
    if (this.closedFlag) throw new Error(`gallocy: ${what} on a closed native heap`);
  }
}

/**
 * Map a heap of `size` bytes in pages of `pageSize` bytes (a multiple of the
 * system page size), every page protected none, with the fault handler
 * installed. The calling thread (the main JS thread) must never touch the
 * application mapping. One heap per process at a time (close() the previous
 * one first).
 */
export function loadNativeMemory(opts: { size: number; pageSize: number }): NativeMemory {
  const l = loadShim();
  if (!l.ok) throw new Error(`real mode unavailable: ${l.reason}`);
  const { size, pageSize } = opts;
  if (!Number.isSafeInteger(pageSize) || pageSize <= 0 || pageSize % 4096 !== 0) {
    throw new RangeError(`gallocy: pageSize must be a positive multiple of 4096, got ${pageSize}`);
  }
  if (!Number.isSafeInteger(size) || size <= 0 || size % pageSize !== 0) {
    throw new RangeError(`gallocy: heap size must be a positive multiple of pageSize (${pageSize}), got ${size}`);
  }
  if (live !== null) throw new Error('gallocy: a native heap is already open in this process; close() it first');
  const fd = l.shim.init(size, pageSize);
  if (fd < 0) throw new Error(`gallocy: mapping a native heap of ${size} bytes failed: ${errnoName(fd)}`);
  const mem = new NativeMemory(l.shim, fd, size, pageSize);
  live = mem;
  return mem;
}
