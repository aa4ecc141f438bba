// counter: every thread does atomic fetch-and-add of 1 on shared counters;
// verify checks each counter holds exactly threads * increments. A lost update
// (an add that is not atomic under the write lease, or a write-back that
// overwrites a newer page) shows up as a short total.
//
// Each thread also checks what its own adds return: a counter only grows, and
// the thread added 1 itself since its last add there, so each old value must
// exceed the one it saw before. A stale page (a read lease not invalidated
// before the write) breaks that even when the final total comes out right.
//
// Root layout (byte addresses):
//   counter c (0 <= c < counters): c * stride, stride = pageSize when every
//     counter fits on its own page (separate write leases), else 8;
//     counter 0 is the root region's first word.
//   errors: 4 (on counter 0's page; written only when a check fails).
import type { ThreadContext, ThreadProgram, VerifyProgram, Workload } from '../thread.js';
import { add, compute, jitter, read, requireInt, requireRoot, summarize } from './common.js';

export interface CounterOptions {
  /** Adds of 1 each thread does on each counter. */
  increments: number;
  /** Number of counters, each on its own page when the root region allows. */
  counters: number;
  /** Upper bound of the random pause between rounds, µs (0: none). */
  computeUs: number;
}

export const COUNTER_DEFAULTS: Readonly<CounterOptions> = { increments: 50, counters: 1, computeUs: 10 };

export interface CounterLayout {
  counters: number[];
  errors: number;
}

export function counterLayout(rootBytes: number, pageSize: number, counters: number): CounterLayout {
  const stride = counters * pageSize <= rootBytes ? pageSize : 8;
  return { counters: Array.from({ length: counters }, (_, c) => c * stride), errors: 4 };
}

export interface CounterWorkload extends Workload {
  readonly options: Readonly<CounterOptions>;
  layout(ctx: Pick<ThreadContext, 'rootBytes' | 'pageSize'>): CounterLayout;
}

export function counterWorkload(options: Partial<CounterOptions> = {}): CounterWorkload {
  const o: CounterOptions = { ...COUNTER_DEFAULTS, ...options };
  requireInt('counter', 'increments', o.increments, 0);
  requireInt('counter', 'counters', o.counters, 1);
  requireInt('counter', 'computeUs', o.computeUs, 0);
  const layout = (ctx: Pick<ThreadContext, 'rootBytes' | 'pageSize'>): CounterLayout =>
    counterLayout(ctx.rootBytes, ctx.pageSize, o.counters);
  const check = (ctx: ThreadContext): CounterLayout => {
    const l = layout(ctx);
    requireRoot('counter', ctx, Math.max(8, (l.counters[l.counters.length - 1] as number) + 4));
    // The expected total must not wrap mod 2^32, or a short total could look right.
    if (ctx.threads * o.increments > 0xffffffff) throw new RangeError('counter: threads * increments must be < 2^32');
    return l;
  };

  return {
    name: 'counter',
    options: o,
    layout,
    *thread(ctx: ThreadContext): ThreadProgram {
      const l = check(ctx);
      const lastOld: (number | null)[] = l.counters.map(() => null);
      for (let i = 0; i < o.increments; i++) {
        // Start at a different counter per thread and round so threads contend
        // on different pages at the same time, not in lockstep.
        for (let k = 0; k < l.counters.length; k++) {
          const c = (ctx.index + i + k) % l.counters.length;
          const old = yield* add(l.counters[c] as number, 1);
          const prev = lastOld[c] as number | null;
          if (prev !== null && old <= prev) yield* add(l.errors, 1);
          lastOld[c] = old;
        }
        yield* compute(jitter(ctx, o.computeUs));
      }
    },
    *verify(ctx: ThreadContext): VerifyProgram {
      const l = check(ctx);
      const expected = ctx.threads * o.increments;
      const problems: string[] = [];
      for (const [c, addr] of l.counters.entries()) {
        const v = yield* read(addr);
        if (v !== expected) problems.push(`counter ${c} at ${addr} is ${v}, expected ${ctx.threads} threads x ${o.increments} = ${expected}`);
      }
      const errors = yield* read(l.errors);
      if (errors !== 0) problems.push(`${errors} add(s) returned an old value not above the thread's previous one`);
      return summarize(problems);
    },
  };
}
