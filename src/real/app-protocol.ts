// What the host's main thread and its application workers (app-worker.ts) say
// to each other: the worker's start data, its messages, and the call channel.
//
// malloc and free are synchronous for the application but served by the VMM on
// the main thread, asynchronously. So a call is a message to the main thread
// plus a wait on a small SharedArrayBuffer that the main thread writes the
// answer into and notifies. The main thread never waits on a worker, so the
// worker's wait cannot deadlock. The same buffer carries the worker's count of
// completed memory operations, which status() reads without a message.
import type { Workload } from '../vmm/thread.js';
import { allocChurnWorkload, counterWorkload, matrixWorkload, registersWorkload, workloadByName } from '../vmm/workloads/index.js';

export type WorkloadName = 'registers' | 'counter' | 'matrix' | 'alloc-churn';

/** What the application threads run: a built-in workload, or a user's module (`--app FILE`). */
export type AppProgram =
  | { kind: 'workload'; name: WorkloadName; options?: object; seed: number }
  | { kind: 'app'; file: string };

/** One recorded memory operation; times are µs of wall-clock time, comparable across processes on one machine. */
export interface AppRecord {
  thread: number;
  kind: 'read' | 'write' | 'add';
  addr: number;
  /** read: the value read; write: the value written; add: the old value. */
  value: number;
  /** add only. */
  delta?: number;
  call: number;
  ret: number;
}

/**
 * thread: an application thread. verify: the program's verify, once.
 * wait-barrier: poll the barrier word until it reaches `target`.
 * arrive: add 1 to the barrier word for a thread that died before it could.
 */
export type AppWorkerMode = 'thread' | 'verify' | 'wait-barrier' | 'arrive';

export interface AppWorkerData {
  gallocyApp: true;
  mode: AppWorkerMode;
  /** Address and size of the application mapping (NativeMemory.handle()). */
  address: bigint;
  size: number;
  pageSize: number;
  host: number;
  /** This thread's index in the cluster (verify: the host's first). */
  thread: number;
  threads: number;
  threadsHere: number;
  /** Usable root bytes (the root region minus what the runtime reserves). */
  rootBytes: number;
  /** Byte address of the cluster's finished-threads word. */
  barrier: number;
  /** thread mode: add 1 at the barrier when the thread ends. */
  arrive: boolean;
  /** wait-barrier mode: the count to wait for. */
  target: number;
  calls: SharedArrayBuffer;
  program: AppProgram;
  record: boolean;
}

export type AppWorkerMessage =
  /** First message: the worker made its heap view and makes no more koffi calls, so it may be terminated. */
  | { type: 'ready' }
  | { type: 'call'; op: 'malloc'; size: number }
  | { type: 'call'; op: 'free'; addr: number }
  | { type: 'log'; msg: string; fields: Record<string, unknown> }
  | { type: 'records'; records: AppRecord[] }
  /** arrived: the thread added itself to the barrier word. */
  | { type: 'done'; arrived: boolean }
  | { type: 'failed'; error: string; stack: string | null; arrived: boolean }
  | { type: 'verified'; result: string | null }
  | { type: 'reached'; value: number };

export function programName(p: AppProgram): string {
  return p.kind === 'workload' ? p.name : p.file;
}

/** The workload a program names, with its options; throws on an unknown name or bad options. */
export function makeWorkload(p: Extract<AppProgram, { kind: 'workload' }>): Workload {
  if (p.options === undefined) return workloadByName(p.name);
  // The factories validate each option they use; the cast only widens what they accept.
  switch (p.name) {
    case 'registers': return registersWorkload(p.options as Parameters<typeof registersWorkload>[0]);
    case 'counter': return counterWorkload(p.options as Parameters<typeof counterWorkload>[0]);
    case 'matrix': return matrixWorkload(p.options as Parameters<typeof matrixWorkload>[0]);
    case 'alloc-churn': return allocChurnWorkload(p.options as Parameters<typeof allocChurnWorkload>[0]);
    default: return workloadByName(String(p.name));
  }
}

// ---- the call channel --------------------------------------------------------------------

// Int32 slots, then the error text (UTF-8) from byte TEXT_AT.
const STATE = 0; // 0: waiting for the answer, 1: answered
const VALUE = 1; // the answer (u32 bits)
const ERROR_BYTES = 2; // 0: no error
const OPS = 3; // memory operations the worker completed
const TEXT_AT = 16;
const CHANNEL_BYTES = 512;

export interface CallAnswer {
  value: number;
  error: string | null;
}

export class CallChannel {
  readonly buffer: SharedArrayBuffer;
  private readonly words: Int32Array;
  private readonly text: Uint8Array;

  constructor(buffer: SharedArrayBuffer = new SharedArrayBuffer(CHANNEL_BYTES)) {
    this.buffer = buffer;
    this.words = new Int32Array(buffer, 0, TEXT_AT / 4);
    this.text = new Uint8Array(buffer, TEXT_AT);
  }

  /** Worker: post the request with `send`, then block until the main thread answers. */
  call(send: () => void): CallAnswer {
    Atomics.store(this.words, STATE, 0);
    send();
    // Worker.terminate() interrupts this wait, so a call the host never answers cannot pin the worker.
    while (Atomics.load(this.words, STATE) === 0) Atomics.wait(this.words, STATE, 0);
    const n = Atomics.load(this.words, ERROR_BYTES);
    // slice() copies out of the shared buffer: TextDecoder refuses shared memory.
    const error = n === 0 ? null : new TextDecoder().decode(this.text.slice(0, n));
    return { value: Atomics.load(this.words, VALUE) >>> 0, error };
  }

  /** Main thread: write the answer and wake the worker. */
  answer(value: number, error: string | null): void {
    let n = 0;
    if (error !== null) {
      // encodeInto writes whole characters only; an over-long message is cut, never garbled.
      const staging = new Uint8Array(this.text.length);
      n = new TextEncoder().encodeInto(error === '' ? 'error' : error, staging).written;
      this.text.set(staging.subarray(0, n));
    }
    Atomics.store(this.words, VALUE, value | 0);
    Atomics.store(this.words, ERROR_BYTES, n);
    Atomics.store(this.words, STATE, 1);
    Atomics.notify(this.words, STATE);
  }

  set ops(n: number) {
    Atomics.store(this.words, OPS, n | 0);
  }

  get ops(): number {
    return Atomics.load(this.words, OPS) >>> 0;
  }
}
