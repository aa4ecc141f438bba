// false-sharing: threads on several hosts write different words of the same
// pages, each word under its own lock. Thread t belongs to group
// floor(t / threadsPerLock); a group's word is the group's index in a packed
// array at the start of the root region (so many groups share a page), and its
// lock is the group's index. Each round a thread locks its group's lock, reads
// the word, writes it back plus one (a plain read-modify-write: only the lock
// makes it safe when threadsPerLock > 1) and unlocks.
//
// Under sequential consistency every write takes the page from the last writer
// (the page ping-pongs between hosts, one write fault each time) although no two
// groups ever touch the same word; lazy release consistency lets the writers
// share the page and merges their diffs. The benchmark compares the two here.
//
// Verify: every group's word is rounds x (threads in the group).
import type { ThreadContext, ThreadProgram, VerifyProgram, Workload } from '../thread.js';
import { lock, unlock } from '../thread-api.js';
import { compute, jitter, read, requireInt, requireRoot, summarize, write, WORD } from './common.js';

export interface FalseSharingOptions {
  /** Lock-protected increments per thread. */
  rounds: number;
  /** Threads that share one word and its lock (1: every thread its own). */
  threadsPerLock: number;
  /** Local work between two rounds, at most (µs; each pause drawn in [1, computeUs]). */
  computeUs: number;
}

export const FALSE_SHARING_DEFAULTS: Readonly<FalseSharingOptions> = { rounds: 50, threadsPerLock: 1, computeUs: 100 };

/** Lock ids of the false-sharing workload start here (workloads keep to their own ids). */
export const FALSE_SHARING_LOCK_BASE = 0;

export interface FalseSharingWorkload extends Workload {
  readonly options: Readonly<FalseSharingOptions>;
}

export function falseSharingWorkload(options: Partial<FalseSharingOptions> = {}): FalseSharingWorkload {
  const o: FalseSharingOptions = { ...FALSE_SHARING_DEFAULTS, ...options };
  requireInt('false-sharing', 'rounds', o.rounds, 1);
  requireInt('false-sharing', 'threadsPerLock', o.threadsPerLock, 1);
  requireInt('false-sharing', 'computeUs', o.computeUs, 0);
  const groups = (threads: number): number => Math.ceil(threads / o.threadsPerLock);
  const members = (g: number, threads: number): number => Math.min(threads, (g + 1) * o.threadsPerLock) - g * o.threadsPerLock;

  return {
    name: 'false-sharing',
    options: o,
    *thread(ctx: ThreadContext): ThreadProgram {
      requireRoot('false-sharing', ctx, groups(ctx.threads) * WORD);
      const g = Math.floor(ctx.index / o.threadsPerLock);
      const addr = g * WORD;
      for (let r = 0; r < o.rounds; r++) {
        yield* lock(FALSE_SHARING_LOCK_BASE + g);
        const v = yield* read(addr);
        yield* write(addr, v + 1);
        yield* unlock(FALSE_SHARING_LOCK_BASE + g);
        yield* compute(jitter(ctx, o.computeUs));
      }
    },
    *verify(ctx: ThreadContext): VerifyProgram {
      requireRoot('false-sharing', ctx, groups(ctx.threads) * WORD);
      const problems: string[] = [];
      for (let g = 0; g < groups(ctx.threads); g++) {
        const want = o.rounds * members(g, ctx.threads);
        const got = yield* read(g * WORD);
        if (got !== want) problems.push(`group ${g}'s word is ${got}, expected ${want} (${members(g, ctx.threads)} threads x ${o.rounds} rounds)`);
      }
      return summarize(problems);
    },
  };
}
