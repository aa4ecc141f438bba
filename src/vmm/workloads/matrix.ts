// matrix: a parallel matrix multiply C = A x B of n x n u32 matrices (mod 2^32).
//
// Thread 0 mallocs A, B and C, fills A and B, publishes the three addresses
// and sets `ready` last; under sequential consistency any thread that sees
// ready = 1 then sees the addresses and the filled inputs. The other threads
// poll `ready` with pauses in between. Rows of C are split into contiguous
// blocks, one per thread (contiguous so a thread's writes share pages with its
// own rows, not with every other thread's). Each thread adds 1 to `done`
// when finished. Verify waits for done == threads, then checks A, B (a
// dropped fill write) and every entry of C against a local product.
//
// Root layout (byte addresses):
//   0  ready   0 until thread 0 has published; then 1
//   4  A       address of A (row-major, n * n words)
//   8  B       address of B
//   12 C       address of C
//   16 done    threads that finished (atomic add)
//   20 errors  threads that gave up waiting for ready (atomic add)
//   24 oom     1 if thread 0's malloc returned 0 (no product was computed)
import type { ThreadContext, ThreadProgram, VerifyProgram, Workload } from '../thread.js';
import { add, compute, free, malloc, read, requireInt, requireRoot, summarize, write, WORD } from './common.js';
import type { Op } from './common.js';

export interface MatrixOptions {
  /** Matrix dimension. */
  n: number;
  /** Pause between two polls of ready (and of done in verify), µs. */
  pollUs: number;
  /** Polls before a waiting thread (or verify) gives up, so a lost ready cannot hang the run. */
  maxPolls: number;
  /** Local work per row of C, µs (the multiply itself happens outside the heap). */
  computeUsPerRow: number;
}

export const MATRIX_DEFAULTS: Readonly<MatrixOptions> = { n: 12, pollUs: 300, maxPolls: 20_000, computeUsPerRow: 50 };

export const MATRIX_LAYOUT = { ready: 0, a: 4, b: 8, c: 12, done: 16, errors: 20, oom: 24, bytes: 28 } as const;

/** The inputs, deterministic so verify can recompute them. */
export function matrixA(i: number, j: number): number {
  return (i + j + 1) >>> 0;
}
export function matrixB(i: number, j: number): number {
  return (i * j + 1) >>> 0;
}

/** The expected product, row-major, u32 arithmetic mod 2^32. */
export function matrixProduct(n: number): Uint32Array {
  const c = new Uint32Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let k = 0; k < n; k++) s = (s + Math.imul(matrixA(i, k), matrixB(k, j))) >>> 0;
      c[i * n + j] = s;
    }
  }
  return c;
}

/** Rows [lo, hi) of thread index among threads: contiguous, sizes differ by at most one. */
export function matrixRows(n: number, index: number, threads: number): [number, number] {
  return [Math.floor((index * n) / threads), Math.floor(((index + 1) * n) / threads)];
}

/**
 * Computes rows [lo, hi) of C = A x B (n x n, row-major at the byte addresses a, b, c), with a local
 * copy of B, as a real multiply would block for its cache (B must not change meanwhile); computeUs
 * of local work per row.
 */
export function* multiplyRows(n: number, a: number, b: number, c: number, lo: number, hi: number, computeUs: number): Op<void> {
  if (lo >= hi) return;
  const at = (base: number, i: number, j: number): number => base + (i * n + j) * WORD;
  const bLocal = new Uint32Array(n * n);
  for (let k = 0; k < n; k++) for (let j = 0; j < n; j++) bLocal[k * n + j] = yield* read(at(b, k, j));
  const row = new Uint32Array(n);
  for (let i = lo; i < hi; i++) {
    for (let k = 0; k < n; k++) row[k] = yield* read(at(a, i, k));
    yield* compute(computeUs);
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let k = 0; k < n; k++) s = (s + Math.imul(row[k] as number, bLocal[k * n + j] as number)) >>> 0;
      yield* write(at(c, i, j), s);
    }
  }
}

export interface MatrixWorkload extends Workload {
  readonly options: Readonly<MatrixOptions>;
}

export function matrixWorkload(options: Partial<MatrixOptions> = {}): MatrixWorkload {
  const o: MatrixOptions = { ...MATRIX_DEFAULTS, ...options };
  requireInt('matrix', 'n', o.n, 1, 256);
  requireInt('matrix', 'pollUs', o.pollUs, 1);
  requireInt('matrix', 'maxPolls', o.maxPolls, 1);
  requireInt('matrix', 'computeUsPerRow', o.computeUsPerRow, 0);
  const n = o.n;
  const L = MATRIX_LAYOUT;
  const bytes = n * n * WORD;
  const at = (base: number, i: number, j: number): number => base + (i * n + j) * WORD;

  return {
    name: 'matrix',
    options: o,
    *thread(ctx: ThreadContext): ThreadProgram {
      requireRoot('matrix', ctx, L.bytes);
      let a: number;
      let b: number;
      let c: number;
      if (ctx.index === 0) {
        a = yield* malloc(bytes);
        b = yield* malloc(bytes);
        c = yield* malloc(bytes);
        if (a === 0 || b === 0 || c === 0) {
          // Out of memory: give back what we got, and still set ready so the
          // others stop polling; they see A = 0 and skip their rows.
          for (const p of [a, b, c]) if (p !== 0) yield* free(p);
          yield* write(L.oom, 1);
          yield* write(L.ready, 1);
          yield* add(L.done, 1);
          return;
        }
        for (let i = 0; i < n; i++) {
          for (let j = 0; j < n; j++) {
            yield* write(at(a, i, j), matrixA(i, j));
            yield* write(at(b, i, j), matrixB(i, j));
          }
        }
        yield* write(L.a, a);
        yield* write(L.b, b);
        yield* write(L.c, c);
        // Last: whoever sees ready = 1 must also see everything written above.
        yield* write(L.ready, 1);
      } else {
        let polls = 0;
        while ((yield* read(L.ready)) === 0) {
          if (++polls >= o.maxPolls) {
            yield* add(L.errors, 1);
            yield* add(L.done, 1);
            return;
          }
          yield* compute(o.pollUs);
        }
        a = yield* read(L.a);
        b = yield* read(L.b);
        c = yield* read(L.c);
        if (a === 0 || b === 0 || c === 0) {
          yield* add(L.done, 1);
          return;
        }
      }

      // B is never written after ready, so the local copy of it changes no outcome.
      const [lo, hi] = matrixRows(n, ctx.index, ctx.threads);
      yield* multiplyRows(n, a, b, c, lo, hi, o.computeUsPerRow);
      yield* add(L.done, 1);
    },
    *verify(ctx: ThreadContext): VerifyProgram {
      requireRoot('matrix', ctx, L.bytes);
      let done = yield* read(L.done);
      for (let polls = 0; done !== ctx.threads; polls++) {
        if (polls >= o.maxPolls) return `done is ${done} after ${polls} polls, expected ${ctx.threads} threads`;
        yield* compute(o.pollUs);
        done = yield* read(L.done);
      }
      if ((yield* read(L.oom)) !== 0) return `thread 0 could not malloc 3 x ${bytes} bytes (heap too small for n = ${n})`;
      const gaveUp = yield* read(L.errors);
      if (gaveUp !== 0) return `${gaveUp} thread(s) gave up waiting for ready after ${o.maxPolls} polls`;
      if ((yield* read(L.ready)) !== 1) return 'ready is not 1 although every thread finished';
      const a = yield* read(L.a);
      const b = yield* read(L.b);
      const c = yield* read(L.c);
      if (a === 0 || b === 0 || c === 0) return `a matrix address is 0 (A ${a}, B ${b}, C ${c})`;

      const expected = matrixProduct(n);
      const problems: string[] = [];
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < n; j++) {
          const va = yield* read(at(a, i, j));
          if (va !== matrixA(i, j)) problems.push(`A[${i}][${j}] is ${va}, expected ${matrixA(i, j)}`);
          const vb = yield* read(at(b, i, j));
          if (vb !== matrixB(i, j)) problems.push(`B[${i}][${j}] is ${vb}, expected ${matrixB(i, j)}`);
          const vc = yield* read(at(c, i, j));
          const want = expected[i * n + j] as number;
          if (vc !== want) problems.push(`C[${i}][${j}] is ${vc}, expected ${want}`);
        }
      }
      return summarize(problems);
    },
  };
}
