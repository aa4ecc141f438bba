// The API of a user's application module (`gallocy start ... --app FILE`).
//
// The module is an ES module whose default export is called once per
// application thread, in a worker thread of the host, with a GallocyApp:
//
//   export default function (gallocy) {
//     const block = gallocy.malloc(64);            // a byte address, 0 if the heap is full
//     gallocy.u32[block >>> 2] = gallocy.thread;   // words: index = address / 4
//     Atomics.add(gallocy.u32, gallocy.root >>> 2, 1);
//     gallocy.free(block);
//   }
//
// It may also export `verify(gallocy)`, run once on one host after every
// thread of the cluster finished: return null if the result is right, else a
// message saying what is wrong. See examples/hello-app.mjs.
//
// Memory: the typed arrays view the whole shared heap; an address is a byte
// offset into it. Touching a page this host does not hold blocks the thread
// until the host's VMM brings the page (from another host, over the network),
// so any access can take a network round trip. The VMM lets a page have one
// writer or many readers, so a thread never reads a stale page. Use Atomics on u32/i32 (not on f64, which
// Atomics rejects) for words several threads update; a plain read-modify-write
// loses updates, exactly as on one machine.
//
// Pitfalls:
//  - Do not hand heap memory to I/O (fs.writeSync(fd, gallocy.heap.subarray(...)))
//    before touching it: the kernel does not fault on a syscall's behalf and
//    fails with EFAULT on a page this host does not hold. Copy it out first.
//  - Do not post the heap views to other threads: they would be copied.
//  - Coordinate with lock/unlock and barrier rather than by spinning on a
//    shared word: a waiting thread sleeps until the host is told its turn came.
//  - malloc and free block the thread for a round trip to the host's main
//    thread (and sometimes a consensus round in the cluster): allocate in
//    bulk rather than per word.

/** What an application thread gets. */
export interface GallocyApp {
  /** The host this thread runs on (1-based). */
  readonly host: number;
  /** This thread's index among all application threads of the cluster, 0-based, unique. */
  readonly thread: number;
  /** Application threads in the whole cluster. */
  readonly threads: number;
  /** Application threads on this host. */
  readonly threadsHere: number;
  /** Bytes per page: the unit of sharing and of coherence. */
  readonly pageSize: number;
  /** Address of the root region: well known, zero-filled at genesis, never returned by malloc. */
  readonly root: 0;
  /** Usable bytes of the root region from `root` (the runtime keeps the region's last bytes). */
  readonly rootBytes: number;
  /** Views of the whole heap; addresses are byte offsets. */
  readonly heap: Uint8Array;
  readonly u32: Uint32Array;
  readonly i32: Int32Array;
  readonly f64: Float64Array;
  /**
   * A block of at least `size` bytes, 8-byte aligned; returns its address, or 0
   * if the heap is full. Throws a TypeError unless size is a non-negative
   * integer. Synchronous: blocks this thread until the host answers.
   */
  malloc(size: number): number;
  /** Gives a block back (any host may free any block). free(0) does nothing. Throws an Error saying why on an invalid address. */
  free(addr: number): void;
  /**
   * Blocks (without spinning) until this thread holds lock `id`, a u32 every host names the same lock
   * by. Locks live in the cluster: a lock is held under a lease the host renews, so a crashed
   * holder's locks free themselves; a host cut off past the lease stops its threads. Not reentrant.
   */
  lock(id: number): void;
  /** Releases lock `id`, which this thread holds (throws otherwise); returns once the release is committed. */
  unlock(id: number): void;
  /**
   * Blocks until `parties` threads of the cluster arrived at this episode of barrier `name` (a u32);
   * it then opens and is ready for its next episode. Every party must name the same `parties`.
   */
  barrier(name: number, parties: number): void;
  /** A message for the host's log, with optional structured-cloneable fields. */
  log(msg: string, fields?: Record<string, unknown>): void;
  /**
   * Adds n (default 1) to the operations this thread reports (`ops` in
   * `gallocy status`): the host sees no plain memory access, so an app counts
   * its own; malloc and free count themselves.
   */
  count(n?: number): void;
}

/** The default export of an application module. */
export type AppMain = (gallocy: GallocyApp) => void | Promise<void>;

/** The optional `verify` export: null (or nothing) if the result is right, else what is wrong. */
export type AppVerify = (gallocy: GallocyApp) => string | null | undefined | Promise<string | null | undefined>;

export interface AppModule {
  default: AppMain;
  verify?: AppVerify;
}

export interface AppIdentity {
  host: number;
  thread: number;
  threads: number;
  threadsHere: number;
  pageSize: number;
  rootBytes: number;
}

/** Builds the object an application gets, over a view of the heap and the synchronous calls to the host. */
export function createGallocyApp(
  id: AppIdentity,
  heap: Uint8Array,
  calls: Pick<GallocyApp, 'malloc' | 'free' | 'lock' | 'unlock' | 'barrier' | 'log' | 'count'>,
): GallocyApp {
  const words = heap.byteLength >>> 2;
  return Object.freeze({
    ...id,
    root: 0 as const,
    heap,
    u32: new Uint32Array(heap.buffer, heap.byteOffset, words),
    i32: new Int32Array(heap.buffer, heap.byteOffset, words),
    f64: new Float64Array(heap.buffer, heap.byteOffset, heap.byteLength >>> 3),
    malloc: calls.malloc,
    free: calls.free,
    lock: calls.lock,
    unlock: calls.unlock,
    barrier: calls.barrier,
    log: calls.log,
    count: calls.count,
  });
}
