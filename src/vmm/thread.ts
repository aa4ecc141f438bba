// Application threads, as both worlds run them: a generator that yields memory
// operations on the shared heap and is resumed with each one's result. The
// simulator resumes it from its scheduler (a fault suspends it until the page
// arrives); real mode runs the same generator in a worker thread over a typed
// array view of the heap.

/** Words are unsigned 32-bit, little-endian, 4-byte aligned. */
export type ThreadOp =
  /** Resumes with the word at addr. */
  | { op: 'read'; addr: number }
  /** Resumes with 0. */
  | { op: 'write'; addr: number; value: number }
  /** Atomic fetch-and-add (mod 2^32) under a write lease; resumes with the old value. */
  | { op: 'add'; addr: number; delta: number }
  /** Resumes with the block's address, or 0 if the heap is full. Blocks are 8-byte aligned. */
  | { op: 'malloc'; size: number }
  /** Resumes with 0. Any host may free any block. */
  | { op: 'free'; addr: number }
  /** Local work that takes time; resumes with 0. */
  | { op: 'compute'; us: number }
  /** Blocks until this thread holds lock `id` (u32); resumes with 0. Locks are not reentrant. */
  | { op: 'lock'; id: number }
  /** Releases lock `id`, which this thread holds; resumes with 0. */
  | { op: 'unlock'; id: number }
  /** Blocks until `parties` threads (of all hosts) arrived at barrier `name` (u32) in this episode; resumes with 0. */
  | { op: 'barrier'; name: number; parties: number };

export type ThreadProgram = Generator<ThreadOp, void, number>;
export type VerifyProgram = Generator<ThreadOp, string | null, number>;

export interface ThreadContext {
  /** The host this thread runs on (1-based). */
  host: number;
  /** This thread's index among all threads of the run, 0-based, unique. */
  index: number;
  /** Number of application threads in the whole run. */
  threads: number;
  /** The well-known root region at address 0: reserved at genesis, zero-filled, never returned by malloc. */
  rootBytes: number;
  pageSize: number;
  /** The thread's own random stream in [0, 1). */
  random(): number;
}

export interface Workload {
  readonly name: string;
  /** The program every application thread runs. */
  thread(ctx: ThreadContext): ThreadProgram;
  /** Runs once after every thread finished, on one host: null if the result is right, else what is wrong. */
  verify(ctx: ThreadContext): VerifyProgram;
}
