// alloc-churn: allocation and free storms, with blocks handed between threads.
//
// Each thread mallocs blocks of random sizes (mostly small, sometimes larger
// than a page, so both the size-class layer and the page-run layer are hit),
// stamps each with a pattern unique to the block, keeps a few live, frees some
// itself and hands others to other threads through a mailbox in the root
// region. Before any free, the freeing thread checks the pattern and adds 1 to
// `errors` if it changed: a block that overlaps another live block, or whose
// page came back stale, shows up here. (Overlap itself is the runtime
// allocator-safety checker's job; this is the workload's own check.)
//
// Block pattern: first word = tag, last word = blockCheck(addr, tag), with
// tag = (index + 1) * 65536 + seq unique in the run. The first word does not
// hold the address because two blocks handed the same address by a broken
// allocator would then stamp the same value; the last word mixes both, so a
// block copied or moved elsewhere does not match either.
//
// Mailbox slot s (16 bytes at mailbox + 16 * s): lock, addr, size, tag.
// A thread owns a slot while holding its lock, taken by fetch-and-add: the
// add that returns 0 wins; a loser adds -1 back and moves on (never waits,
// so no thread can block on another at the end of the run). Only the owner
// reads or changes addr/size/tag, so two threads never take the same block.
//
// Root layout (byte addresses):
//   0   errors   pattern checks that failed (atomic add)
//   4   taken    blocks taken from the mailbox (atomic add; statistics)
//   16  mailbox  `slots` slots of 4 words: lock, addr (0 = empty), size, tag
import type { ThreadContext, ThreadProgram, VerifyProgram, Workload } from '../thread.js';
import { add, compute, free, jitter, malloc, MINUS_ONE, type Op, randInt, read, requireInt, requireRatio, requireRoot, summarize, write, WORD } from './common.js';

export interface AllocChurnOptions {
  /** Actions (malloc, publish, take, free) each thread does. */
  rounds: number;
  /** Most blocks a thread holds at once. */
  maxLive: number;
  /** Small blocks are 8..smallMax bytes. */
  smallMax: number;
  /** Probability that a malloc is larger than a page. */
  largeRatio: number;
  /** Large blocks are pageSize + 1 .. largeMaxPages * pageSize bytes. */
  largeMaxPages: number;
  /** Mailbox slots. */
  slots: number;
  /** Upper bound of the random pause between actions, µs (0: none). */
  computeUs: number;
}

export const ALLOC_CHURN_DEFAULTS: Readonly<AllocChurnOptions> = {
  rounds: 40,
  maxLive: 4,
  smallMax: 200,
  largeRatio: 0.1,
  largeMaxPages: 2,
  slots: 8,
  computeUs: 10,
};

export const ALLOC_CHURN_LAYOUT = { errors: 0, taken: 4, mailbox: 16, slotBytes: 16 } as const;

export interface MailboxSlot {
  lock: number;
  addr: number;
  size: number;
  tag: number;
}

export function mailboxSlot(s: number): MailboxSlot {
  const base = ALLOC_CHURN_LAYOUT.mailbox + s * ALLOC_CHURN_LAYOUT.slotBytes;
  return { lock: base, addr: base + 4, size: base + 8, tag: base + 12 };
}

/** Tag of the seq-th action (1-based) of thread index: unique in the run, never 0. */
export function blockTag(index: number, seq: number): number {
  return ((index + 1) * 0x10000 + seq) >>> 0;
}

/** The last word of a block: depends on both address and tag. */
export function blockCheck(addr: number, tag: number): number {
  return (addr ^ Math.imul(tag, 0x9e3779b1)) >>> 0;
}

/** Address of the last whole word inside a block of size bytes (size >= 8, so it differs from the first). */
export function lastWord(addr: number, size: number): number {
  return addr + ((size - WORD) & ~(WORD - 1));
}

interface Block {
  addr: number;
  size: number;
  tag: number;
}

function* stamp(b: Block): Op<void> {
  yield* write(b.addr, b.tag);
  yield* write(lastWord(b.addr, b.size), blockCheck(b.addr, b.tag));
}

/** Checks the pattern, records a failure in errors, and frees the block either way. */
function* checkAndFree(b: Block): Op<boolean> {
  const first = yield* read(b.addr);
  const last = yield* read(lastWord(b.addr, b.size));
  const ok = first === b.tag && last === blockCheck(b.addr, b.tag);
  if (!ok) yield* add(ALLOC_CHURN_LAYOUT.errors, 1);
  yield* free(b.addr);
  return ok;
}

function* tryLock(lock: number): Op<boolean> {
  if ((yield* add(lock, 1)) === 0) return true;
  yield* add(lock, MINUS_ONE);
  return false;
}

export interface AllocChurnWorkload extends Workload {
  readonly options: Readonly<AllocChurnOptions>;
}

export function allocChurnWorkload(options: Partial<AllocChurnOptions> = {}): AllocChurnWorkload {
  const o: AllocChurnOptions = { ...ALLOC_CHURN_DEFAULTS, ...options };
  requireInt('alloc-churn', 'rounds', o.rounds, 0, 0xffff);
  requireInt('alloc-churn', 'maxLive', o.maxLive, 1);
  requireInt('alloc-churn', 'smallMax', o.smallMax, 8);
  requireRatio('alloc-churn', 'largeRatio', o.largeRatio);
  requireInt('alloc-churn', 'largeMaxPages', o.largeMaxPages, 2);
  requireInt('alloc-churn', 'slots', o.slots, 1);
  requireInt('alloc-churn', 'computeUs', o.computeUs, 0);
  const rootNeeded = ALLOC_CHURN_LAYOUT.mailbox + o.slots * ALLOC_CHURN_LAYOUT.slotBytes;
  const check = (ctx: ThreadContext): void => {
    requireRoot('alloc-churn', ctx, rootNeeded);
    // Tags keep the thread in the high half-word; index + 1 must fit in 16 bits.
    requireInt('alloc-churn', 'threads', ctx.threads, 1, 0xffff);
  };

  return {
    name: 'alloc-churn',
    options: o,
    *thread(ctx: ThreadContext): ThreadProgram {
      check(ctx);
      const live: Block[] = [];
      const takeLive = (): Block => live.splice(Math.floor(ctx.random() * live.length), 1)[0] as Block;
      for (let seq = 1; seq <= o.rounds; seq++) {
        const r = ctx.random();
        if (live.length === 0 || (r < 0.4 && live.length < o.maxLive)) {
          const size = ctx.random() < o.largeRatio
            ? randInt(ctx, ctx.pageSize + 1, o.largeMaxPages * ctx.pageSize)
            : randInt(ctx, 8, o.smallMax);
          const addr = yield* malloc(size);
          if (addr !== 0) {
            // Out of memory is allowed under pressure: skip this round.
            const b: Block = { addr, size, tag: blockTag(ctx.index, seq) };
            yield* stamp(b);
            live.push(b);
          }
        } else if (r < 0.6) {
          // Publish: hand a block to whichever thread takes it.
          const slot = mailboxSlot(randInt(ctx, 0, o.slots - 1));
          const b = takeLive();
          let published = false;
          if (yield* tryLock(slot.lock)) {
            if ((yield* read(slot.addr)) === 0) {
              yield* write(slot.size, b.size);
              yield* write(slot.tag, b.tag);
              yield* write(slot.addr, b.addr);
              published = true;
            }
            yield* add(slot.lock, MINUS_ONE);
          }
          if (!published) live.push(b);
        } else if (r < 0.85) {
          // Take: most blocks found here were allocated by another thread.
          const slot = mailboxSlot(randInt(ctx, 0, o.slots - 1));
          let b: Block | null = null;
          if (yield* tryLock(slot.lock)) {
            const addr = yield* read(slot.addr);
            if (addr !== 0) {
              b = { addr, size: yield* read(slot.size), tag: yield* read(slot.tag) };
              yield* write(slot.addr, 0);
            }
            yield* add(slot.lock, MINUS_ONE);
          }
          if (b !== null) {
            yield* add(ALLOC_CHURN_LAYOUT.taken, 1);
            yield* checkAndFree(b);
          }
        } else {
          yield* checkAndFree(takeLive());
        }
        yield* compute(jitter(ctx, o.computeUs));
      }
      while (live.length > 0) yield* checkAndFree(live.pop() as Block);
    },
    *verify(ctx: ThreadContext): VerifyProgram {
      check(ctx);
      const problems: string[] = [];
      // Drain what is left in the mailbox: those blocks are checked here.
      for (let s = 0; s < o.slots; s++) {
        const slot = mailboxSlot(s);
        const lock = yield* read(slot.lock);
        if (lock !== 0) problems.push(`mailbox slot ${s} lock is ${lock} after every thread finished`);
        const addr = yield* read(slot.addr);
        if (addr === 0) continue;
        const b: Block = { addr, size: yield* read(slot.size), tag: yield* read(slot.tag) };
        yield* write(slot.addr, 0);
        if (!(yield* checkAndFree(b))) problems.push(`block ${addr} left in mailbox slot ${s} has a broken pattern`);
      }
      const errors = yield* read(ALLOC_CHURN_LAYOUT.errors);
      if (errors !== 0) problems.push(`errors is ${errors}: blocks whose pattern changed before they were freed`);
      return summarize(problems);
    },
  };
}
