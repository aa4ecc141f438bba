// Application threads on a simulated host: generators that yield memory
// operations, resumed by the scheduler. An access the page's protection does
// not allow faults into the VMM and the thread waits for the page; malloc and
// free go through the VMM's heap, lock, unlock and barrier through its sync
// client, the thread suspended until they are done. Every access is numbered
// per host (its op sequence), which write-backs refer to.
import type { SyncEvent } from '../vmm/sync/hooks.js';
import type { ThreadContext, ThreadOp, ThreadProgram, VerifyProgram } from '../vmm/thread.js';
import type { SimMemory } from './memory.js';
import type { Scheduler } from './scheduler.js';
import type { RecordHostEvent } from '../host/trace-events.js';

/** One completed memory access, for the checkers. */
export interface Access {
  host: number;
  thread: number;
  kind: 'read' | 'write' | 'add';
  addr: number;
  page: number;
  /** The value read, written, or (add) the old value. */
  value: number;
  /** What the word holds after the access (a write's or an add's result). */
  stored: number;
  /** Per-host op sequence number of this access. */
  seq: number;
  call: number;
  ret: number;
}

export interface ThreadEnv {
  readonly scheduler: Scheduler;
  readonly host: number;
  readonly pageSize: number;
  memory(): SimMemory;
  malloc(size: number, done: (addr: number) => void): void;
  free(addr: number, done: (error: string | null) => void): void;
  /** Whether the host runs (not paused, not crashed in this incarnation). */
  runnable(epoch: number): boolean;
  epoch(): number;
  /** Called for every completed access. */
  accessed(a: Access): void;
  /** An access that faulted completed: how long its thread waited for the page. */
  faultServed(kind: 'read' | 'write', waitedUs: number): void;
  /** Called for every block malloc handed out and every free done. */
  allocated(host: number, addr: number, size: number): void;
  freed(host: number, addr: number): void;
  /** A thread failed (a bad free, an access outside memory, a crash of the workload code); `ended`: it stops there, else it carries on. */
  failed(thread: number, why: string, ended: boolean): void;
  /** The VMM's locks and barriers; done(null) once granted, passed or released, else done(why). */
  lock(thread: number, id: number, done: (error: string | null) => void): void;
  unlock(thread: number, id: number, done: (error: string | null) => void): void;
  barrier(thread: number, name: number, parties: number, done: (error: string | null) => void): void;
  /** Whether a lock the thread holds is past its deadline on the host's clock: it must not act any more. */
  lockDeadlinePassed(thread: number): boolean;
  /** A thread holding a lock past its deadline was about to act: the host's threads must end (it calls abort). */
  lockExpired(thread: number): void;
  /** Called for every lock and barrier event, on true time. */
  synced(e: SyncEvent): void;
  readonly trace: RecordHostEvent;
}

/** Microseconds one memory access takes when the page is present. */
const ACCESS_US = 1;

type Program = ThreadProgram | VerifyProgram;

export class ThreadRunner {
  opSeq = 0;
  private running = 0;
  /** Threads waiting on a fault, by thread index: since when. */
  readonly waitingSince = new Map<number, number>();
  /** Threads paused with the host, to be resumed. */
  private parked: (() => void)[] = [];
  /** Locks each thread holds, by thread index. */
  private readonly holding = new Map<number, Set<number>>();
  /** When each thread last acted (an operation begun or an access done): a lost holding ends there. */
  private readonly lastActAt = new Map<number, number>();
  /** Per "thread:name", the barrier episode the thread arrives at next (for the events). */
  private readonly episodes = new Map<string, number>();

  constructor(private readonly env: ThreadEnv) {}

  get active(): number {
    return this.running;
  }

  /** Starts a program; `done` gets its result (a verify program's verdict) when it returns. */
  start(ctx: ThreadContext, program: Program, done: (result: string | null | void) => void): void {
    this.running++;
    const epoch = this.env.epoch();
    const generation = this.generation;
    const resume = (input: number): void => {
      if (this.generation !== generation) return;
      if (!this.env.runnable(epoch)) {
        if (this.env.epoch() === epoch) this.parked.push(() => resume(input)); // paused: carry on at resume
        return;
      }
      let r: IteratorResult<ThreadOp, string | null | void>;
      try {
        r = program.next(input);
      } catch (e) {
        this.running--;
        this.fail(ctx.index, `threw: ${(e as Error).message}`, true);
        return;
      }
      if (r.done) {
        this.running--;
        done(r.value);
        return;
      }
      this.perform(ctx, r.value, this.env.scheduler.now, resume, generation);
    };
    this.env.scheduler.after(0, () => resume(0));
  }

  /** Ends every thread at once (their memory can no longer be trusted); returns how many were running. */
  abort(): number {
    const n = this.running;
    this.endHoldings();
    this.generation++;
    this.running = 0;
    this.parked = [];
    this.waitingSince.clear();
    return n;
  }

  /** Bumped by abort(): threads of an older generation never run again. */
  private generation = 0;

  /**
   * The threads stop for good (aborted, or their host crashed): whatever locks they hold, they
   * hold no more from their last action on (a crashed holding is freed by its lease).
   */
  endHoldings(): void {
    const now = this.env.scheduler.now;
    for (const [thread, ids] of this.holding) {
      for (const id of ids) this.env.synced({ kind: 'lock-lost', host: this.env.host, thread, id, at: this.lastActAt.get(thread) ?? now });
    }
    this.holding.clear();
  }

  /** Whether the thread may act: not if a lock it holds is past its deadline (then the host's threads end). */
  private mayAct(thread: number): boolean {
    if ((this.holding.get(thread)?.size ?? 0) === 0 || !this.env.lockDeadlinePassed(thread)) return true;
    this.env.lockExpired(thread);
    return false;
  }

  /** The host resumed after a pause: threads carry on. */
  unpark(): void {
    const p = this.parked;
    this.parked = [];
    for (const f of p) this.env.scheduler.after(0, f);
  }

  private perform(ctx: ThreadContext, op: ThreadOp, call: number, resume: (v: number) => void, generation: number): void {
    const env = this.env;
    const later = (us: number, v: number): void => {
      env.scheduler.after(us, () => resume(v));
    };
    if (!this.mayAct(ctx.index)) return;
    this.lastActAt.set(ctx.index, call);
    /** A lock or barrier op finished: the thread goes on, or fails (its program is at fault). */
    const synced = (what: string, error: string | null, after: () => void): void => {
      if (this.generation !== generation) return;
      if (error !== null) {
        this.running--;
        this.fail(ctx.index, `${what}: ${error}`, true);
        return;
      }
      after();
      later(0, 0);
    };
    const host = env.host;
    const thread = ctx.index;
    switch (op.op) {
      case 'lock':
        env.lock(thread, op.id, (error) => synced('lock', error, () => {
          let ids = this.holding.get(thread);
          if (ids === undefined) this.holding.set(thread, (ids = new Set()));
          ids.add(op.id);
          env.trace('thread-locked', thread, op.id);
          env.synced({ kind: 'lock-acquired', host, thread, id: op.id, at: env.scheduler.now });
        }));
        return;
      case 'unlock':
        if (this.holding.get(thread)?.delete(op.id)) {
          env.trace('thread-unlocked', thread, op.id);
          env.synced({ kind: 'lock-released', host, thread, id: op.id, at: call });
        }
        env.unlock(thread, op.id, (error) => synced('unlock', error, () => undefined));
        return;
      case 'barrier': {
        const key = `${thread}:${op.name}`;
        const episode = this.episodes.get(key) ?? 0;
        const e = { host, thread, name: op.name, episode, parties: op.parties };
        env.trace('thread-barrier-arrived', thread, op.name, episode);
        env.synced({ kind: 'barrier-arrived', ...e, at: call });
        env.barrier(thread, op.name, op.parties, (error) => synced('barrier', error, () => {
          this.episodes.set(key, episode + 1);
          env.trace('thread-barrier-departed', thread, op.name, episode);
          env.synced({ kind: 'barrier-departed', ...e, at: env.scheduler.now });
        }));
        return;
      }
      case 'compute':
        later(Math.max(0, Math.round(op.us)), 0);
        return;
      case 'malloc':
        env.malloc(op.size, (addr) => {
          env.trace('thread-malloc', ctx.index, op.size, addr);
          if (addr !== 0) env.allocated(env.host, addr, op.size);
          later(0, addr);
        });
        return;
      case 'free':
        env.trace('thread-free', ctx.index, op.addr);
        env.freed(env.host, op.addr);
        env.free(op.addr, (error) => {
          // A thread ended meanwhile (its host lost its writes) has failed already.
          if (error !== null && this.generation === generation) this.fail(ctx.index, `free(${op.addr}): ${error}`, false);
          later(0, 0);
        });
        return;
      default:
        this.access(ctx, op, call, resume, generation);
    }
  }

  private fail(thread: number, why: string, ended: boolean): void {
    this.env.trace('thread-failed', thread, why);
    this.env.failed(thread, why, ended);
  }

  private access(
    ctx: ThreadContext,
    op: Extract<ThreadOp, { op: 'read' | 'write' | 'add' }>,
    call: number,
    resume: (v: number) => void,
    generation: number,
  ): void {
    const env = this.env;
    const epoch = env.epoch();
    if (!this.mayAct(ctx.index)) return;
    if (!Number.isInteger(op.addr) || op.addr < 0 || op.addr % 4 !== 0) {
      this.fail(ctx.index, `${op.op} at a bad address ${op.addr}`, true);
      return;
    }
    const retry = (): void => {
      if (env.epoch() !== epoch || this.generation !== generation) return;
      if (!env.runnable(epoch)) {
        this.parked.push(retry);
        return;
      }
      this.access(ctx, op, call, resume, generation);
    };
    const mem = env.memory();
    let value: number | null;
    if (op.op === 'read') value = mem.loadWord(op.addr, retry);
    else if (op.op === 'write') value = mem.storeWord(op.addr, op.value, retry) ? op.value >>> 0 : null;
    else value = mem.addWord(op.addr, op.delta, retry);
    const page = Math.floor(op.addr / env.pageSize);
    if (value === null) {
      if (!this.waitingSince.has(ctx.index)) {
        this.waitingSince.set(ctx.index, env.scheduler.now);
        env.trace('thread-wait', ctx.index, page, op.op);
      }
      return;
    }
    const since = this.waitingSince.get(ctx.index);
    if (since !== undefined) {
      this.waitingSince.delete(ctx.index);
      env.trace('thread-ready', ctx.index, page, env.scheduler.now - since);
      env.faultServed(op.op === 'read' ? 'read' : 'write', env.scheduler.now - since);
    }
    const seq = ++this.opSeq;
    this.lastActAt.set(ctx.index, env.scheduler.now);
    const stored = op.op === 'add' ? (value + op.delta) >>> 0 : value;
    env.accessed({
      host: env.host, thread: ctx.index, kind: op.op, addr: op.addr, page,
      value, stored, seq, call, ret: env.scheduler.now,
    });
    env.scheduler.after(ACCESS_US, () => resume(op.op === 'write' ? 0 : value));
  }
}
