// A real host's disk port (src/host/ports.ts DiskPort): its Raft store
// written off the main thread, so an fsync never stalls the host's event loop
// (frames keep arriving and leaving while the disk works). The Readies of one
// turn of the event loop (a tick of every group, the frames of one read from
// a socket) are handed to a worker thread (disk-worker.ts) in one message at
// the end of the turn (one that needs no fsync, only moving commit indexes,
// waits to go with the next); the worker writes everything that arrived while it was
// busy in one transaction with one fsync (group commit) and reports the
// commit, and only then do the syncs promised for those Readies run: the
// messages that depend on them (a follower's acks, votes) wait for the fsync,
// while what Raft lets leave at once (a leader's appends) has left already.
// The worker holds the file locked exclusively (raft-store.ts, open's
// `exclusive`), so what a host reads (the groups on disk, their BootStates)
// is read once when the port opens, on the main thread's connection, which
// it then closes; a group's replica that opens later, on first contact, had
// nothing on disk.
//
// On a medium whose fsync is nearly free (tmpfs, a disk with a power-loss
// protected cache) the hand-over costs more than the commit: two thread
// wake-ups and a structured clone each way, on every host a fault's Raft
// round passes through, against a commit of some tens of microseconds. There
// the port writes inline instead (writer 'inline'): the same turn, the same
// transaction, on the main thread, at the end of the turn (after the
// transport has written the turn's frames, which were queued first), and the
// syncs run as soon as it commits. Which writer a host gets is decided once,
// when it opens, by timing fsyncs in its data directory (writerFor).
import { closeSync, fdatasyncSync, openSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import type { BootState, ConfState, Snapshot } from '../raft/index.js';
import type { DiskPort, PersistBatch } from '../host/ports.js';
import { DiskFullError, newGroupBootState, RaftStore } from './raft-store.js';
import type { StoreWrite } from './raft-store.js';
import { noTimeline } from './timeline.js';
import type { Timeline } from './timeline.js';

/** Main thread to worker: a turn's writes (seq counts them from 1), or the end. */
export type ToDiskWorker =
  | { t: 'write'; seq: number; sync: boolean; writes: StoreWrite[] }
  | { t: 'close' };

/** What the worker did since it started. */
export interface DiskWorkerStats {
  /** Committed transactions (each one or more turns' writes). */
  transactions: number;
  /** Of them, those fsynced at commit (the others only moved commit indexes or compacted). */
  fsyncs: number;
  /** Microseconds the worker spent writing and committing. */
  writeUs: number;
  /** Log entries committed, and their data's UTF-8 bytes (what each replicated commit carries, for the bench). */
  entries: number;
  entryBytes: number;
}

/** A write that failed, as it crosses to the main thread (an Error's class and fields do not survive the copy). */
export interface DiskWorkerFailure {
  message: string;
  stack: string | undefined;
  /** Set for a full disk: DiskFullError's fields. */
  diskFull: { dir: string; writing: string; cause: string } | null;
}

/** Worker to main thread: every write up to seq `upTo` is committed; or a write failed (nothing after it is written). */
export type FromDiskWorker =
  | { t: 'done'; upTo: number; stats: DiskWorkerStats }
  | { t: 'failed'; error: DiskWorkerFailure };

/** What the port did since the host started (GET /admin's `disk`). */
export interface DiskStats extends DiskWorkerStats {
  /** Turns whose writes were handed to the worker (or, inline, written). */
  handedOver: number;
  /** Who writes the store: the worker thread, or the main thread at the end of each turn. */
  writer: DiskWriter;
}

/** Who commits a port's writes: its worker thread, or the main thread inline (see the top of this file). */
export type DiskWriter = 'worker' | 'inline';

/** Counts a committed batch in `stats` (the worker's and the inline writer's bookkeeping alike). */
export function countCommit(stats: DiskWorkerStats, writes: readonly StoreWrite[], sync: boolean): void {
  stats.transactions++;
  if (sync) stats.fsyncs++;
  for (const w of writes) {
    if (w.kind !== 'persist') continue;
    stats.entries += w.batch.entries.length;
    for (const e of w.batch.entries) stats.entryBytes += Buffer.byteLength(e.data);
  }
}

/**
 * Median fsync below which a host writes its store inline: a thread hand-over
 * and its answer cost some tens of microseconds of wake-ups on each host (more
 * on a loaded machine), an fsync on tmpfs a few, on a disk hundreds.
 */
export const INLINE_BELOW_US = 50;

/** GALLOCY_DISK_WRITER=worker|inline forces a writer (tests, benchmarks); unset or auto: writerFor decides. */
export const DISK_WRITER_ENV = 'GALLOCY_DISK_WRITER';

/**
 * The median of a few fdatasyncs of a 4 KiB write in `dir` (a probe file,
 * removed after), in microseconds: what a commit there waits for.
 */
export function probeSyncUs(dir: string, rounds = 5): number {
  const file = path.join(dir, `.sync-probe-${process.pid}`);
  const fd = openSync(file, 'w', 0o600);
  try {
    const block = Buffer.alloc(4096, 0x5a);
    const us: number[] = [];
    for (let i = 0; i < rounds; i++) {
      writeSync(fd, block, 0, block.length, 0);
      const t0 = performance.now();
      fdatasyncSync(fd);
      us.push((performance.now() - t0) * 1000);
    }
    us.sort((a, b) => a - b);
    return us[us.length >> 1]!;
  } finally {
    closeSync(fd);
    rmSync(file, { force: true });
  }
}

/** The writer for a store in `dir`: as the environment forces, else inline where fsyncs are cheap (probeSyncUs). */
export function writerFor(dir: string, env: string | undefined = process.env[DISK_WRITER_ENV]): { writer: DiskWriter; syncUs: number | null } {
  if (env === 'worker' || env === 'inline') return { writer: env, syncUs: null };
  if (env !== undefined && env !== '' && env !== 'auto') throw new Error(`${DISK_WRITER_ENV}=${env}: expected worker, inline or auto`);
  let syncUs: number;
  try {
    syncUs = probeSyncUs(dir);
  } catch {
    // A directory with no room for the probe (a full disk): the worker, as before there was a choice;
    // the store's own writes then say what is wrong.
    return { writer: 'worker', syncUs: null };
  }
  return { writer: syncUs < INLINE_BELOW_US ? 'inline' : 'worker', syncUs };
}

const WORKER = new URL('./disk-worker.js', import.meta.url);

/**
 * A turn that needs no fsync (commit indexes, compactions) is held back for
 * at most this long, to ride along with the next turn that does: nothing
 * waits for it, a crash loses only what Raft learns again from its leader,
 * and a read fault then costs each host one hand-over instead of two.
 */
const LAZY_MS = 20;

/**
 * Writes of one turn go out in one message (a turn that needs no fsync waits
 * up to LAZY_MS to go with the next); the syncs promised for them run
 * once the worker reports their commit, in the order asked. A failed write
 * (a full disk, a bug) calls `failed` and none of the syncs still waiting:
 * nothing that depended on them is sent; later appends throw.
 */
export class WorkerDisk implements DiskPort {
  readonly writer: DiskWriter;
  /** The worker thread that writes the store (writer 'worker'), or null. */
  private readonly worker: Worker | null = null;
  /** The main thread's connection to the store (writer 'inline'), or null. */
  private readonly store: RaftStore | null = null;
  /** Writes not yet handed over: this turn's, and earlier ones that needed no fsync. */
  private turn: { writes: StoreWrite[]; sync: boolean; done: Array<() => void> } | null = null;
  /** Turns handed over and not yet committed, oldest first. */
  private readonly inFlight: Array<{ seq: number; done: Array<() => void> }> = [];
  private seq = 0;
  /** A hand-over is queued for the end of this turn. */
  private scheduled = false;
  /** Set while writes that need no fsync wait for company (LAZY_MS). */
  private lazy: ReturnType<typeof setTimeout> | null = null;
  /** Groups written through the port: loading one again would miss what the worker has not committed yet. */
  private readonly written = new Set<number>();
  /** What the store held when the port opened, group by group (conf left to load's genesis), until its replica loads it. */
  private readonly onDisk: Map<number, BootState>;
  /** Groups on disk when the port opened, ascending. */
  private readonly groupsOnDisk: number[];
  private broken: Error | null = null;
  private closing = false;
  private worked: DiskWorkerStats = { transactions: 0, fsyncs: 0, writeUs: 0, entries: 0, entryBytes: 0 };
  private readonly exited: Promise<void>;
  private readonly file: string;

  /**
   * Reads everything in `store` and closes it: from here on the worker holds
   * the file (or, writer 'inline', a connection of the port's own, as exclusively).
   */
  constructor(
    store: RaftStore,
    private readonly failed: (err: Error) => void,
    private readonly timeline: Pick<Timeline, 'time'> = noTimeline,
    writer: DiskWriter = 'worker',
  ) {
    this.writer = writer;
    this.file = store.file;
    this.onDisk = store.loadAll({ voters: [], learners: [] });
    this.groupsOnDisk = [...this.onDisk.keys()];
    store.close();
    if (writer === 'inline') {
      this.store = RaftStore.open(this.file, { exclusive: true });
      this.exited = Promise.resolve();
      return;
    }
    const worker = new Worker(WORKER, { workerData: { file: this.file } });
    this.worker = worker;
    // The worker keeps the process alive only while it holds writes (and while it closes): a port
    // left open cannot hold a process forever, and one awaiting a commit is not ended early.
    worker.unref();
    worker.on('message', (m: FromDiskWorker) => this.fromWorker(m));
    worker.on('error', (err) => this.fail(err));
    worker.on('messageerror', (err) => this.fail(err));
    this.exited = new Promise((resolve) => {
      worker.once('exit', (code) => {
        if (!this.closing) this.fail(new Error(`${this.file}: the disk worker thread exited (code ${code})`));
        resolve();
      });
    });
  }

  /** The groups on disk when the port opened. */
  groups(): number[] {
    return [...this.groupsOnDisk];
  }

  load(group: number, genesis: ConfState): BootState {
    if (this.written.has(group)) throw new Error(`${this.file}: group ${group} loaded after writes through the disk port (a replica opens once)`);
    if (!this.groupsOnDisk.includes(group)) return newGroupBootState(genesis);
    const boot = this.onDisk.get(group);
    // Handed over once: the replica owns its log from here (and compacts it; a copy kept here would not be).
    if (boot === undefined) throw new Error(`${this.file}: group ${group} loaded twice (a replica opens once)`);
    this.onDisk.delete(group);
    return { ...boot, conf: genesis };
  }

  append(group: number, rd: PersistBatch): void {
    // Only what goes to disk: a Ready also carries messages and committed entries.
    this.add({ kind: 'persist', group, batch: { hardState: rd.hardState, entries: rd.entries, snapshot: rd.snapshot, mustSync: rd.mustSync } }, rd.mustSync);
  }

  /**
   * Durable with the turn's other writes, not on return: a crash before loses
   * the compaction only (the entries it replaces are still on disk), and
   * the worker writes it after the appends it follows.
   */
  compact(group: number, snapshot: Snapshot): void {
    this.add({ kind: 'compact', group, snapshot }, false);
  }

  sync(_group: number, done: () => void): void {
    // Waiting for everything handed over so far covers the group's own writes.
    if (this.turn !== null) {
      this.turn.done.push(done);
      this.schedule();
    } else if (this.inFlight.length > 0) this.inFlight[this.inFlight.length - 1]!.done.push(done);
    else done();
  }

  /** What the port and its worker did so far. */
  stats(): DiskStats {
    return { handedOver: this.seq, ...this.worked, writer: this.writer };
  }

  /**
   * Hands over what this turn wrote and ends the worker once it has
   * committed everything (callbacks of the syncs are not run any more:
   * the runtime is closed by then).
   */
  async close(): Promise<void> {
    if (this.closing) return this.exited;
    this.handOver();
    this.closing = true;
    if (this.worker === null) {
      this.store?.close();
      return this.exited;
    }
    this.worker.ref();
    this.worker.postMessage({ t: 'close' } satisfies ToDiskWorker);
    return this.exited;
  }

  private add(write: StoreWrite, sync: boolean): void {
    if (this.broken !== null) throw this.broken;
    if (this.closing) throw new Error(`${this.file}: disk port is closed`);
    this.written.add(write.group);
    this.turn ??= { writes: [], sync: false, done: [] };
    this.turn.writes.push(write);
    this.turn.sync ||= sync;
    if (this.turn.sync) this.schedule();
    else this.lazy ??= setTimeout(() => this.handOver(), LAZY_MS).unref();
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    // Inline, one microtask later: behind the transport's end-of-turn write of the frames this turn
    // queued (Raft's appends of a leader leave before its own fsync, as they do with the worker).
    if (this.worker === null) queueMicrotask(() => queueMicrotask(() => this.handOver()));
    else queueMicrotask(() => this.handOver());
  }

  /** Once the turn's synchronous work is done: its writes (and those held back) go to the worker in one message. */
  private handOver(): void {
    const turn = this.turn;
    this.turn = null;
    this.scheduled = false;
    if (this.lazy !== null) clearTimeout(this.lazy);
    this.lazy = null;
    if (turn === null || this.broken !== null || this.closing) return;
    const seq = ++this.seq;
    const worker = this.worker;
    if (worker === null) {
      this.writeInline(turn);
      return;
    }
    if (this.inFlight.length === 0) worker.ref();
    this.inFlight.push({ seq, done: turn.done });
    const msg: ToDiskWorker = { t: 'write', seq, sync: turn.sync, writes: turn.writes };
    this.timeline.time('persist', () => worker.postMessage(msg));
  }

  /**
   * Writer 'inline': the turn's writes committed here and now (the end of
   * the turn: the frames it sent are on their sockets already), then its syncs.
   */
  private writeInline(turn: { writes: StoreWrite[]; sync: boolean; done: Array<() => void> }): void {
    const store = this.store!;
    const t0 = performance.now();
    try {
      if (this.timeline.time('persist', () => store.write(turn.writes, turn.sync))) countCommit(this.worked, turn.writes, turn.sync);
    } catch (err) {
      this.fail(err instanceof Error ? err : new Error(String(err)));
      return;
    }
    this.worked.writeUs += (performance.now() - t0) * 1000;
    for (const fn of turn.done) fn();
  }

  private fromWorker(m: FromDiskWorker): void {
    if (m.t === 'failed') {
      const e = m.error;
      const err = e.diskFull !== null ? new DiskFullError(e.diskFull.dir, e.diskFull.writing, new Error(e.diskFull.cause)) : new Error(e.message);
      if (e.diskFull === null && e.stack !== undefined) err.stack = e.stack;
      this.fail(err);
      return;
    }
    this.worked = m.stats;
    while (this.inFlight.length > 0 && this.inFlight[0]!.seq <= m.upTo && this.broken === null) {
      for (const fn of this.inFlight.shift()!.done) fn();
    }
    if (this.inFlight.length === 0 && !this.closing) this.worker?.unref();
  }

  private fail(err: Error): void {
    if (this.broken !== null) return;
    this.broken = err;
    this.turn = null;
    if (this.lazy !== null) clearTimeout(this.lazy);
    this.inFlight.length = 0;
    if (!this.closing) this.worker?.unref();
    this.failed(err);
  }
}
