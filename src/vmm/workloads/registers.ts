// registers: threads read and write unique values to a few shared words.
//
// This workload's verify is deliberately weak (every word holds 0 or a value
// some thread could have written); the real check is the linearizability of
// the read/write history the runtime records, which is why every write stores
// a value unique in the whole run and `decodeRegisterValue` tells the checker
// which thread wrote it and at which of its ops.
//
// Root layout (byte addresses): register k (0 <= k < words) lives at
// k * stride, with stride = pageSize / 4 when the root region is large enough,
// so four registers share each page (false sharing: one write lease covers
// several registers) and the registers span words / 4 pages (separate leases).
// On a smaller root region the stride shrinks so that every register fits.
import type { ThreadContext, ThreadProgram, VerifyProgram, Workload } from '../thread.js';
import { compute, fitStride, jitter, read, requireInt, requireRatio, requireRoot, summarize, write, WORD } from './common.js';

export interface RegistersOptions {
  /** Number of shared registers. */
  words: number;
  /** Ops (reads or writes) each thread does. */
  opsPerThread: number;
  /** Probability that an op is a write. */
  writeRatio: number;
  /** Upper bound of the random pause between ops, µs (0: none). */
  computeUs: number;
}

export const REGISTERS_DEFAULTS: Readonly<RegistersOptions> = { words: 12, opsPerThread: 30, writeRatio: 0.5, computeUs: 20 };

/** value = (index + 1) * REGISTER_VALUE_BASE + seq, seq in [1, REGISTER_VALUE_BASE). */
export const REGISTER_VALUE_BASE = 100_000;
/** Keeps every value under 2^32: index + 1 <= threads, so MAX * BASE + (BASE - 1) < 2^32. */
export const REGISTERS_MAX_THREADS = Math.floor((2 ** 32 - REGISTER_VALUE_BASE) / REGISTER_VALUE_BASE);

/** The value thread `index` writes at its op number `seq` (1-based). */
export function registerValue(index: number, seq: number): number {
  return (index + 1) * REGISTER_VALUE_BASE + seq;
}

/** Who wrote v: null for 0 (the initial value) or anything no thread of this workload writes. */
export function decodeRegisterValue(v: number): { index: number; seq: number } | null {
  if (!Number.isInteger(v) || v < REGISTER_VALUE_BASE || v > 0xffffffff) return null;
  const seq = v % REGISTER_VALUE_BASE;
  if (seq === 0) return null;
  return { index: Math.floor(v / REGISTER_VALUE_BASE) - 1, seq };
}

/** Byte addresses of the registers, for the history checker and for tests. */
export function registerAddresses(rootBytes: number, pageSize: number, words: number): number[] {
  const stride = fitStride(pageSize / 4, words, rootBytes);
  return Array.from({ length: words }, (_, k) => k * stride);
}

export interface RegistersWorkload extends Workload {
  readonly options: Readonly<RegistersOptions>;
  addresses(ctx: Pick<ThreadContext, 'rootBytes' | 'pageSize'>): number[];
}

export function registersWorkload(options: Partial<RegistersOptions> = {}): RegistersWorkload {
  const o: RegistersOptions = { ...REGISTERS_DEFAULTS, ...options };
  requireInt('registers', 'words', o.words, 1);
  requireInt('registers', 'opsPerThread', o.opsPerThread, 0, REGISTER_VALUE_BASE - 1);
  requireRatio('registers', 'writeRatio', o.writeRatio);
  requireInt('registers', 'computeUs', o.computeUs, 0);
  const addresses = (ctx: Pick<ThreadContext, 'rootBytes' | 'pageSize'>): number[] =>
    registerAddresses(ctx.rootBytes, ctx.pageSize, o.words);
  const check = (ctx: ThreadContext): void => {
    requireRoot('registers', ctx, o.words * WORD);
    requireInt('registers', 'threads', ctx.threads, 1, REGISTERS_MAX_THREADS);
  };

  return {
    name: 'registers',
    options: o,
    addresses,
    *thread(ctx: ThreadContext): ThreadProgram {
      check(ctx);
      const regs = addresses(ctx);
      for (let seq = 1; seq <= o.opsPerThread; seq++) {
        const addr = regs[Math.floor(ctx.random() * regs.length)] as number;
        if (ctx.random() < o.writeRatio) yield* write(addr, registerValue(ctx.index, seq));
        else yield* read(addr);
        yield* compute(jitter(ctx, o.computeUs));
      }
    },
    *verify(ctx: ThreadContext): VerifyProgram {
      check(ctx);
      const problems: string[] = [];
      for (const addr of addresses(ctx)) {
        const v = yield* read(addr);
        if (v === 0) continue;
        const d = decodeRegisterValue(v);
        // Which op numbers were writes depends on the writer's random stream,
        // which verify cannot see; the index and the seq range it can check.
        if (d === null || d.index >= ctx.threads || d.seq > o.opsPerThread) {
          problems.push(`register at ${addr} holds ${v}, which no thread writes`);
        }
      }
      return summarize(problems);
    },
  };
}
