// Small helpers shared by the built-in workloads: typed one-op generators (so a
// program can write `const v = yield* read(a)` and get a number back), u32
// arithmetic, and option/layout checks that fail loudly at the start of a run
// rather than corrupting the root region of another workload.
import type { ThreadContext } from '../thread.js';

/** Bytes per heap word. */
export const WORD = 4;
/** fetch-and-add is mod 2^32, so adding 2^32 - 1 subtracts 1 while keeping delta a u32. */
export const MINUS_ONE = 0xffffffff;

export { type Op, read, write, add, malloc, free, compute, calloc, realloc } from '../thread-api.js';

/** An integer in [lo, hi], from the thread's own stream. */
export function randInt(ctx: Pick<ThreadContext, 'random'>, lo: number, hi: number): number {
  return lo + Math.floor(ctx.random() * (hi - lo + 1));
}

/** A pause in [1, maxUs] µs, or none if maxUs is 0, so threads drift apart in time. */
export function jitter(ctx: Pick<ThreadContext, 'random'>, maxUs: number): number {
  return maxUs > 0 ? randInt(ctx, 1, maxUs) : 0;
}

export function requireInt(workload: string, name: string, value: number, min: number, max = Number.MAX_SAFE_INTEGER): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`${workload}: option ${name} must be an integer in [${min}, ${max}], got ${value}`);
  }
}

export function requireRatio(workload: string, name: string, value: number): void {
  if (!(value >= 0 && value <= 1)) throw new RangeError(`${workload}: option ${name} must be in [0, 1], got ${value}`);
}

/** The workload's root layout must fit, or it would write past the root region into malloc'd memory. */
export function requireRoot(workload: string, ctx: Pick<ThreadContext, 'rootBytes'>, bytes: number): void {
  if (ctx.rootBytes < bytes) {
    throw new RangeError(`${workload}: needs a root region of at least ${bytes} bytes, got ${ctx.rootBytes}`);
  }
}

/** Largest 4-byte-aligned stride <= want such that count words fit in limit bytes (at least one word). */
export function fitStride(want: number, count: number, limit: number): number {
  const fit = Math.floor(limit / count / WORD) * WORD;
  return Math.max(WORD, Math.min(want, fit));
}

/** Joins up to a few problems into one verify message (a full list could be thousands of lines). */
export function summarize(problems: string[], limit = 5): string | null {
  if (problems.length === 0) return null;
  const shown = problems.slice(0, limit).join('; ');
  return problems.length > limit ? `${shown}; and ${problems.length - limit} more` : shown;
}
