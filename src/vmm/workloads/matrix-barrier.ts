// matrix-barrier: the parallel matrix multiply in phases separated by
// barriers, instead of polling a ready word (compare matrix.ts). Thread 0
// mallocs A, B and C and publishes their addresses; barrier; every thread fills
// its block of rows of A and B; barrier; then `iterations` times: every thread
// computes its rows of C = A x B; barrier; copies its rows of C into A;
// barrier. So A ends as A0 x B^iterations, and every phase reads rows that
// other threads wrote in the phase before: only the barriers order them.
//
// Verify: A, B and C against a local computation (u32 arithmetic, mod 2^32).
//
// Root layout (byte addresses): 0 A, 4 B, 8 C (addresses; 0 if a malloc failed).
import type { ThreadContext, ThreadProgram, VerifyProgram, Workload } from '../thread.js';
import { barrier } from '../thread-api.js';
import { malloc, read, requireInt, requireRoot, summarize, write, WORD } from './common.js';
import { matrixA, matrixB, matrixRows, multiplyRows } from './matrix.js';

export interface MatrixBarrierOptions {
  n: number;
  /** Multiplications by B after the fill (each is two barrier phases). */
  iterations: number;
  /** Local work per row computed, µs. */
  computeUsPerRow: number;
}

export const MATRIX_BARRIER_DEFAULTS: Readonly<MatrixBarrierOptions> = { n: 8, iterations: 2, computeUsPerRow: 50 };

/** The barrier this workload uses (every thread of the run is a party). */
export const MATRIX_BARRIER_NAME = 0;

export const MATRIX_BARRIER_LAYOUT = { a: 0, b: 4, c: 8, bytes: 12 } as const;

/** A0 x B^iterations, and the last C (= that too, when iterations > 0), row-major. */
export function matrixBarrierExpected(n: number, iterations: number): { a: Uint32Array; c: Uint32Array } {
  let a = new Uint32Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) a[i * n + j] = matrixA(i, j);
  let c = new Uint32Array(n * n);
  for (let it = 0; it < iterations; it++) {
    c = new Uint32Array(n * n);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let k = 0; k < n; k++) s = (s + Math.imul(a[i * n + k] as number, matrixB(k, j))) >>> 0;
        c[i * n + j] = s;
      }
    }
    a = Uint32Array.from(c);
  }
  return { a, c };
}

export interface MatrixBarrierWorkload extends Workload {
  readonly options: Readonly<MatrixBarrierOptions>;
}

export function matrixBarrierWorkload(options: Partial<MatrixBarrierOptions> = {}): MatrixBarrierWorkload {
  const o: MatrixBarrierOptions = { ...MATRIX_BARRIER_DEFAULTS, ...options };
  requireInt('matrix-barrier', 'n', o.n, 1, 256);
  requireInt('matrix-barrier', 'iterations', o.iterations, 0, 16);
  requireInt('matrix-barrier', 'computeUsPerRow', o.computeUsPerRow, 0);
  const n = o.n;
  const L = MATRIX_BARRIER_LAYOUT;
  const bytes = n * n * WORD;
  const at = (base: number, i: number, j: number): number => base + (i * n + j) * WORD;

  return {
    name: 'matrix-barrier',
    options: o,
    *thread(ctx: ThreadContext): ThreadProgram {
      requireRoot('matrix-barrier', ctx, L.bytes);
      const phase = (): ReturnType<typeof barrier> => barrier(MATRIX_BARRIER_NAME, ctx.threads);
      if (ctx.index === 0) {
        // A failed malloc publishes 0: every thread then skips the work (verify reports it).
        yield* write(L.a, yield* malloc(bytes));
        yield* write(L.b, yield* malloc(bytes));
        yield* write(L.c, yield* malloc(bytes));
      }
      yield* phase();
      const a = yield* read(L.a);
      const b = yield* read(L.b);
      const c = yield* read(L.c);
      const usable = a !== 0 && b !== 0 && c !== 0;
      const [lo, hi] = matrixRows(n, ctx.index, ctx.threads);
      if (usable) {
        for (let i = lo; i < hi; i++) {
          for (let j = 0; j < n; j++) {
            yield* write(at(a, i, j), matrixA(i, j));
            yield* write(at(b, i, j), matrixB(i, j));
          }
        }
      }
      yield* phase();
      for (let it = 0; it < o.iterations; it++) {
        if (usable) yield* multiplyRows(n, a, b, c, lo, hi, o.computeUsPerRow);
        yield* phase();
        // Rows of A are read by every thread in the phase before: overwritten only after the barrier.
        if (usable) for (let i = lo; i < hi; i++) for (let j = 0; j < n; j++) yield* write(at(a, i, j), yield* read(at(c, i, j)));
        yield* phase();
      }
    },
    *verify(ctx: ThreadContext): VerifyProgram {
      requireRoot('matrix-barrier', ctx, L.bytes);
      const a = yield* read(L.a);
      const b = yield* read(L.b);
      const c = yield* read(L.c);
      if (a === 0 || b === 0 || c === 0) return `a matrix address is 0 (A ${a}, B ${b}, C ${c}): the heap is too small for n = ${n}`;
      const want = matrixBarrierExpected(n, o.iterations);
      const problems: string[] = [];
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < n; j++) {
          const va = yield* read(at(a, i, j));
          if (va !== want.a[i * n + j]) problems.push(`A[${i}][${j}] is ${va}, expected ${want.a[i * n + j]}`);
          const vb = yield* read(at(b, i, j));
          if (vb !== matrixB(i, j)) problems.push(`B[${i}][${j}] is ${vb}, expected ${matrixB(i, j)}`);
          if (o.iterations > 0) {
            const vc = yield* read(at(c, i, j));
            if (vc !== want.c[i * n + j]) problems.push(`C[${i}][${j}] is ${vc}, expected ${want.c[i * n + j]}`);
          }
        }
      }
      return summarize(problems);
    },
  };
}
