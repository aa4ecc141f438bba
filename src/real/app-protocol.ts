// What the host's main thread and its application workers (app-worker.ts) say
// to each other: the worker's start data, its messages, and the call channel.
//
// malloc, free, lock, unlock and barrier are synchronous for the application
// but served by the VMM on the main thread, asynchronously. So a call is a message to the main thread
// plus a wait on a small SharedArrayBuffer that the main thread writes the
// answer into and notifies. The main thread never waits on a worker, so the
// worker's wait cannot deadlock. The same buffer carries the worker's count of
// completed memory operations, which status() reads without a message.
// Run slots (below) are the words in the heap through which the hosts of a
// run see each other's shares.
import type { Workload } from '../vmm/thread.js';
import {
  allocChurnWorkload, counterWorkload, falseSharingWorkload, lockedListWorkload, matrixBarrierWorkload, matrixWorkload, registersWorkload, workloadByName,
} from '../vmm/workloads/index.js';

export type WorkloadName = 'registers' | 'counter' | 'matrix' | 'alloc-churn' | 'false-sharing' | 'matrix-barrier' | 'locked-list';

/** What the application threads run: a built-in workload, or a user's module (`--app FILE`). */
export type AppProgram =
  | { kind: 'workload'; name: WorkloadName; options?: object; seed: number }
  | { kind: 'app'; file: string };

/** One recorded memory operation; times are µs of the host machine's monotonic clock (serve maps them to the cluster's timeline). */
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
 * claim: read this host's run slot, claiming it if it is fresh (answers 'claimed').
 * watch-slots: post every host's run slot whenever one changes, and every
 *   second regardless, until terminated (answers 'slots', many times).
 * arrive: count a thread that died before it could count itself, as failed.
 * abandon: mark this host's share abandoned (its threads were cut off).
 */
export type AppWorkerMode = 'thread' | 'verify' | 'claim' | 'watch-slots' | 'arrive' | 'abandon';

// ---- run slots: one word per host in the root region's reserved bytes -------------------
//
// What every host knows of every other host's share of a run, kept in the
// shared heap so it outlives restarts: a host restarted after its share
// completed sees that and does not run it again; the end-of-run barrier sees
// threads that failed and shares that were abandoned, not just a count. Each
// host writes only its own slot (Atomics on the word), at thread ends.

/** Slots for this many hosts (index: the host's position in the cluster file); the word after them names the run. */
export const MAX_APP_HOSTS = 63;

/**
 * The run the slots belong to: a 32-bit hash (FNV-1a, never 0) of the
 * program, its options and seed, and the cluster's thread count. A host
 * restarted with the same command is in the same run and resumes it; a host
 * started with another program starts a new run, which clears every slot.
 */
export function runIdOf(program: AppProgram, totalThreads: number): number {
  const text = JSON.stringify({ program, totalThreads });
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return (h >>> 0) || 1;
}
/** Threads ended on the host (done or failed): bits 0..13. */
export const SLOT_ENDED_MASK = 0x3fff;
/** Threads the host's share has: bits 14..27. */
export const SLOT_THREADS_SHIFT = 14;
export const SLOT_MAX_THREADS = 0x3fff;
/** Some thread of the share failed (threw, crashed, was cut off). */
export const SLOT_FAILED = 1 << 28;
/** The share will not complete: its threads were cut off (lost writes) or interrupted by a restart. */
export const SLOT_ABANDONED = 1 << 29;
/** The share was claimed: its threads started once. */
export const SLOT_STARTED = 1 << 30;

export interface SlotState {
  started: boolean;
  threads: number;
  ended: number;
  failed: boolean;
  abandoned: boolean;
}

export function decodeSlot(word: number): SlotState {
  const w = word >>> 0;
  return {
    started: (w & SLOT_STARTED) !== 0,
    threads: (w >>> SLOT_THREADS_SHIFT) & SLOT_MAX_THREADS,
    ended: w & SLOT_ENDED_MASK,
    failed: (w & SLOT_FAILED) !== 0,
    abandoned: (w & SLOT_ABANDONED) !== 0,
  };
}

/** The word a fresh share of `threads` threads is claimed with. */
export function claimedSlot(threads: number): number {
  return (SLOT_STARTED | (threads << SLOT_THREADS_SHIFT)) >>> 0;
}

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
  /** Byte address of host index 0's run slot; host index i's is 4 i further. */
  slots: number;
  /** Hosts whose slots watch-slots reads. */
  hosts: number;
  /** Byte address of this host's run slot. */
  slot: number;
  /** Byte address of the word naming the run the slots belong to, and this run's id (runIdOf). */
  runWord: number;
  runId: number;
  /** thread mode: count the thread in this host's slot when it ends. */
  arrive: boolean;
  /** claim mode: the threads of this host's share. */
  target: number;
  calls: SharedArrayBuffer;
  program: AppProgram;
  record: boolean;
  /**
   * Release consistency: a thread orders its writes before the verify when it ends (a lock and
   * unlock of END_LOCK before it counts itself), and the verify acquires END_LOCK first. Locks
   * stay with their host (src/vmm/sync/client.ts), so the host answers that unlock only once the
   * thread's record is committed at the host's home (SyncClient.endThread): the verify's recall of
   * END_LOCK publishes it, and a holder granted a lock after a lapse of the holding reads it there,
   * so a thread counted done never has writes nobody can see.
   */
  publishAtEnd: boolean;
}

/** The lock a thread's end and the verify go through under release consistency (an id programs do not use). */
export const END_LOCK = 0xfffffffe;

export type AppWorkerMessage =
  /** First message: the worker made its heap view and makes no more koffi calls, so it may be terminated. */
  | { type: 'ready' }
  | { type: 'call'; op: 'malloc'; size: number }
  | { type: 'call'; op: 'free'; addr: number }
  | { type: 'call'; op: 'lock'; id: number }
  | { type: 'call'; op: 'unlock'; id: number }
  | { type: 'call'; op: 'barrier'; name: number; parties: number }
  | { type: 'log'; msg: string; fields: Record<string, unknown> }
  | { type: 'records'; records: AppRecord[] }
  /** arrived: the thread added itself to the barrier word. */
  | { type: 'done'; arrived: boolean }
  | { type: 'failed'; error: string; stack: string | null; arrived: boolean }
  | { type: 'verified'; result: string | null }
  /** claim: the slot as it was before (0: fresh, and now claimed); previousRun: the run id the slots had, if another. */
  | { type: 'claimed'; before: number; previousRun: number | null }
  /** watch-slots: every host's slot word, by host index. */
  | { type: 'slots'; values: number[] };

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
    case 'false-sharing': return falseSharingWorkload(p.options as Parameters<typeof falseSharingWorkload>[0]);
    case 'matrix-barrier': return matrixBarrierWorkload(p.options as Parameters<typeof matrixBarrierWorkload>[0]);
    case 'locked-list': return lockedListWorkload(p.options as Parameters<typeof lockedListWorkload>[0]);
    default: return workloadByName(String(p.name));
  }
}

// ---- the call channel --------------------------------------------------------------------

// Int32 slots, a Float64 from byte DEADLINE_AT, then the error text (UTF-8) from byte TEXT_AT.
const STATE = 0; // 0: waiting for the answer, 1: answered
const VALUE = 1; // the answer (u32 bits)
const ERROR_BYTES = 2; // 0: no error
const OPS = 3; // memory operations the worker completed
const DEADLINE_AT = 16; // the thread's lock deadline, absolute µs (performance.timeOrigin + now), 0: none
const TEXT_AT = 24;
const CHANNEL_BYTES = 512;

export interface CallAnswer {
  value: number;
  error: string | null;
}

export class CallChannel {
  readonly buffer: SharedArrayBuffer;
  private readonly words: Int32Array;
  private readonly deadlineWord: Float64Array;
  private readonly text: Uint8Array;

  constructor(buffer: SharedArrayBuffer = new SharedArrayBuffer(CHANNEL_BYTES)) {
    this.buffer = buffer;
    this.words = new Int32Array(buffer, 0, DEADLINE_AT / 4);
    this.deadlineWord = new Float64Array(buffer, DEADLINE_AT, 1);
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

  /**
   * Main thread: the time (absolute µs, on performance.timeOrigin + performance.now(), which all
   * of a process's threads share) past which the worker must not act under its locks; 0: none.
   * A torn read of the 8 bytes can only be off for the one operation that raced the write.
   */
  set lockDeadline(absUs: number) {
    this.deadlineWord[0] = absUs;
  }

  get lockDeadline(): number {
    return this.deadlineWord[0] as number;
  }
}
