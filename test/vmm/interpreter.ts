// A tiny runtime for workload tests: one flat heap of u32 words (the root
// region, then malloc space), a first-fit allocator, and N threads interleaved
// by a seeded random choice at every step.
//
// Each op is yielded at one step (its call) and takes effect, atomically, the
// next time its thread is scheduled (its return), so other threads' ops land
// in between and the recorded read/write history has real overlaps, with the
// linearization point of every op at its return step.
//
// `faults` break the runtime on purpose, so tests can show that each
// workload's verify notices: a non-atomic add, dropped or corrupted writes,
// and a malloc that hands out a block that is already live.
import type { ThreadContext, ThreadOp, Workload } from '../../src/vmm/thread.js';
import { Rng } from '../../src/sim/rng.js';

export interface Faults {
  /** add becomes: read at one step, write old + delta the next time the thread runs. */
  nonAtomicAdd?: boolean;
  /** Called for every write (n counts writes from 0): 'drop' loses it, a number is stored instead, undefined keeps it. */
  write?: (w: { addr: number; value: number; thread: number; n: number }) => 'drop' | number | undefined;
  /** Probability that a malloc returns the address of a block that is still live. */
  overlapMalloc?: number;
  /** lock never waits: every thread gets every lock at once (mutual exclusion is gone). */
  locksDoNotExclude?: boolean;
  /** barrier never waits. */
  barriersDoNotWait?: boolean;
}

export interface InterpreterOptions {
  threads: number;
  seed: string | number;
  pageSize?: number;
  rootBytes?: number;
  heapBytes?: number;
  /** Guard against a program that never ends. */
  maxSteps?: number;
  faults?: Faults;
}

/** One read or write of a thread, for history checks. */
export interface RegisterOp {
  thread: number;
  kind: 'read' | 'write';
  addr: number;
  /** The value read, or the value the thread asked to write. */
  value: number;
  call: number;
  ret: number;
}

export interface RunResult {
  verdict: string | null;
  history: RegisterOp[];
  steps: number;
  heap: Uint32Array;
  /** A rolling hash of which thread ran which op at every step: equal for equal schedules. */
  trace: number;
  stats: { mallocs: number; failedMallocs: number; frees: number; foreignFrees: number; liveAtEnd: number };
}

interface LiveBlock {
  addr: number;
  size: number;
  owner: number;
  /** Handed out by the overlap fault on top of another block: freeing it returns no memory. */
  alias: boolean;
}

const POISON = 0xdeadbeef;

class Heap {
  readonly words: Uint32Array;
  private free: [number, number][];
  readonly live: LiveBlock[] = [];

  /**
   * strict: every access must hit the root region or a live block. Off under
   * the overlap fault, whose aliased blocks make "the" block at an address
   * ambiguous: whichever record a free removes, the other owner's accesses
   * may fall outside what is left.
   */
  constructor(readonly rootBytes: number, readonly heapBytes: number, readonly strict: boolean) {
    this.words = new Uint32Array(heapBytes / 4);
    const start = Math.ceil(rootBytes / 8) * 8;
    this.free = [[start, heapBytes]];
  }

  malloc(size: number, owner: number): number {
    const need = Math.max(8, Math.ceil(size / 8) * 8);
    for (const [i, [s, e]] of this.free.entries()) {
      if (e - s < need) continue;
      if (e - s === need) this.free.splice(i, 1);
      else this.free[i] = [s + need, e];
      // Poisoned, not zeroed: a workload must not count on fresh memory being 0.
      this.words.fill(POISON, s / 4, (s + need) / 4);
      this.live.push({ addr: s, size: need, owner, alias: false });
      return s;
    }
    return 0;
  }

  /** The overlap fault: a new block of the requested size placed on top of a live one. */
  alias(size: number, owner: number, rng: Rng): number {
    const need = Math.max(8, Math.ceil(size / 8) * 8);
    const victims = this.live.filter((b) => !b.alias && b.addr + need <= this.heapBytes);
    if (victims.length === 0) return this.malloc(size, owner);
    const target = rng.pick(victims);
    this.live.push({ addr: target.addr, size: need, owner, alias: true });
    return target.addr;
  }

  freeBlock(addr: number): LiveBlock {
    const i = this.live.findIndex((b) => b.addr === addr);
    if (i < 0) throw new Error(`free of ${addr}, which is not a live block`);
    const [b] = this.live.splice(i, 1) as [LiveBlock];
    if (!b.alias) {
      this.words.fill(POISON, b.addr / 4, (b.addr + b.size) / 4);
      this.free.push([b.addr, b.addr + b.size]);
      this.free.sort((x, y) => x[0] - y[0]);
      const merged: [number, number][] = [];
      for (const r of this.free) {
        const last = merged[merged.length - 1];
        if (last !== undefined && last[1] === r[0]) last[1] = r[1];
        else merged.push([r[0], r[1]]);
      }
      this.free = merged;
    }
    return b;
  }

  /** Every access must hit the root region or a live block: catches workloads that use freed or foreign memory. */
  check(addr: number, what: string): number {
    if (!Number.isInteger(addr) || addr % 4 !== 0 || addr < 0 || addr + 4 > this.heapBytes) {
      throw new Error(`${what} at bad address ${addr}`);
    }
    if (this.strict && addr >= this.rootBytes && !this.live.some((b) => addr >= b.addr && addr < b.addr + b.size)) {
      throw new Error(`${what} at ${addr}, outside the root region and every live block`);
    }
    return addr / 4;
  }
}

interface ThreadState {
  index: number;
  gen: Generator<ThreadOp, unknown, number>;
  pending: { op: ThreadOp; call: number } | null;
  /** Non-atomic add: the value read in its first half. */
  addRead: number | null;
  /** The barrier episode this thread waits to see opened, if it waits at one. */
  barrierWait: number | null;
  done: boolean;
  result: unknown;
}

export function runWorkload(workload: Workload, opts: InterpreterOptions): RunResult {
  const pageSize = opts.pageSize ?? 256;
  const rootBytes = opts.rootBytes ?? 4 * pageSize;
  const heapBytes = opts.heapBytes ?? 256 * pageSize;
  const maxSteps = opts.maxSteps ?? 5_000_000;
  const faults = opts.faults ?? {};
  const seed = String(opts.seed);
  const heap = new Heap(rootBytes, heapBytes, !((faults.overlapMalloc ?? 0) > 0));
  const sched = new Rng(`${seed}/schedule`);
  const faultRng = new Rng(`${seed}/faults`);
  const history: RegisterOp[] = [];
  const stats = { mallocs: 0, failedMallocs: 0, frees: 0, foreignFrees: 0, liveAtEnd: 0 };
  let step = 0;
  let writes = 0;
  const locks = new Map<number, number>();
  const barriers = new Map<number, { parties: number; episode: number; arrived: number }>();
  let trace = 0x811c9dc5;
  const mix = (x: number): void => {
    trace = Math.imul(trace ^ (x >>> 0), 0x01000193) >>> 0;
  };

  const ctxFor = (index: number, name: string): ThreadContext => {
    const rng = new Rng(`${seed}/${name}`);
    return { host: 1 + (index % 3), index, threads: opts.threads, rootBytes, pageSize, random: () => rng.next() };
  };

  // Runs one pending op (or the first half of a non-atomic add); returns the result, or null if not finished.
  const execute = (t: ThreadState, record: boolean): number | null => {
    const index = t.index;
    const p = t.pending as { op: ThreadOp; call: number };
    const op = p.op;
    switch (op.op) {
      case 'read': {
        const v = heap.words[heap.check(op.addr, 'read')] as number;
        if (record) history.push({ thread: index, kind: 'read', addr: op.addr, value: v, call: p.call, ret: step });
        return v;
      }
      case 'write': {
        const w = heap.check(op.addr, 'write');
        const fault = faults.write?.({ addr: op.addr, value: op.value, thread: index, n: writes++ });
        if (fault !== 'drop') heap.words[w] = (fault ?? op.value) >>> 0;
        if (record) history.push({ thread: index, kind: 'write', addr: op.addr, value: op.value, call: p.call, ret: step });
        return 0;
      }
      case 'add': {
        const w = heap.check(op.addr, 'add');
        if (faults.nonAtomicAdd) {
          if (t.addRead === null) {
            t.addRead = heap.words[w] as number;
            return null;
          }
          const old = t.addRead;
          t.addRead = null;
          heap.words[w] = (old + op.delta) >>> 0;
          return old;
        }
        const old = heap.words[w] as number;
        heap.words[w] = (old + op.delta) >>> 0;
        return old;
      }
      case 'malloc': {
        stats.mallocs++;
        const overlap = faults.overlapMalloc ?? 0;
        if (overlap > 0 && faultRng.bool(overlap)) return heap.alias(op.size, index, faultRng);
        const a = heap.malloc(op.size, index);
        if (a === 0) stats.failedMallocs++;
        return a;
      }
      case 'free': {
        stats.frees++;
        if (heap.freeBlock(op.addr).owner !== index && record) stats.foreignFrees++;
        return 0;
      }
      case 'compute':
        return 0;
      case 'lock': {
        const holder = locks.get(op.id);
        if (holder === index) throw new Error(`thread ${index}: lock(${op.id}) again (locks are not reentrant)`);
        if (holder !== undefined && !faults.locksDoNotExclude) return null;
        locks.set(op.id, index);
        return 0;
      }
      case 'unlock':
        if (locks.get(op.id) !== index && !faults.locksDoNotExclude) throw new Error(`thread ${index}: unlock(${op.id}) of a lock it does not hold`);
        locks.delete(op.id);
        return 0;
      case 'barrier': {
        if (faults.barriersDoNotWait) return 0;
        let b = barriers.get(op.name);
        if (b === undefined) barriers.set(op.name, (b = { parties: op.parties, episode: 0, arrived: 0 }));
        if (b.parties !== op.parties) throw new Error(`barrier ${op.name}: ${op.parties} parties, others said ${b.parties}`);
        if (t.barrierWait === null) {
          t.barrierWait = b.episode;
          if (++b.arrived === b.parties) {
            b.episode++;
            b.arrived = 0;
          }
        }
        if (b.episode <= t.barrierWait) return null;
        t.barrierWait = null;
        return 0;
      }
    }
  };

  const advance = (t: ThreadState, result: number | undefined): void => {
    const r = result === undefined ? t.gen.next() : t.gen.next(result);
    if (r.done) {
      t.done = true;
      t.result = r.value;
      t.pending = null;
    } else {
      t.pending = { op: r.value, call: step };
    }
  };

  const run = (states: ThreadState[], record: boolean): void => {
    for (const t of states) advance(t, undefined);
    let running = states.filter((t) => !t.done);
    while (running.length > 0) {
      if (++step > maxSteps) throw new Error(`no end after ${maxSteps} steps`);
      const t = sched.pick(running);
      const p = t.pending as { op: ThreadOp };
      mix(t.index);
      mix('addr' in p.op ? p.op.addr : -1);
      const res = execute(t, record);
      if (res !== null) advance(t, res);
      if (t.done) running = running.filter((x) => x !== t);
    }
  };

  const newState = (index: number, gen: Generator<ThreadOp, unknown, number>): ThreadState =>
    ({ index, gen, pending: null, addRead: null, barrierWait: null, done: false, result: undefined });
  const threads = Array.from({ length: opts.threads }, (_, i) => newState(i, workload.thread(ctxFor(i, `thread/${i}`))));
  run(threads, true);
  // The verifier runs alone once every thread has finished; -1 marks its frees as nobody's thread.
  const verifier = newState(-1, workload.verify(ctxFor(0, 'verify')));
  run([verifier], false);
  stats.liveAtEnd = heap.live.length;
  return { verdict: verifier.result as string | null, history, steps: step, heap: heap.words, trace, stats };
}
