// Read/write/compare-and-set registers as a linearizability model, one
// register per key, with a cheap sound precheck in front of the search.
import { checkLinearizable, type CheckOptions, type CheckResult, type Model, type Operation } from './linearizability.js';
import { partitionByKey } from './partition.js';

/** Register value: `null` means never written. */
export type RegisterValue = number | null;

/** An optional `key` makes a history of many independent registers. */
export type RegisterInput =
  | { readonly kind: 'read'; readonly key?: string }
  | { readonly kind: 'write'; readonly key?: string; readonly value: number }
  | { readonly kind: 'cas'; readonly key?: string; readonly from: RegisterValue; readonly to: number };

export type RegisterOutput =
  | { readonly kind: 'read'; readonly value: RegisterValue }
  | { readonly kind: 'write' }
  /** `ok: false` is a definite failure: the register did not hold `from`. */
  | { readonly kind: 'cas'; readonly ok: boolean };

export type RegisterOp = Operation<RegisterInput, RegisterOutput>;

/**
 * Cheap sound pre-pass for registers. Flags:
 *  - a read (or successful cas) observing a value that no write/cas could
 *    have produced before the observation returned, when every written value
 *    is unique (so the writer is known);
 *  - a read of `null` (or cas from `null`) after a write definitely
 *    completed: values are numbers, so the register can never be empty again
 *    (true without uniqueness).
 * Everything else is left to the exact search.
 */
export function registerPrecheck(history: readonly RegisterOp[]): RegisterOp[] | undefined {
  // A cas that definitely failed wrote nothing; everything else may have.
  const writers = new Map<number, RegisterOp>();
  let unique = true;
  let firstCompletedWrite: RegisterOp | undefined;
  for (const op of history) {
    const inp = op.input;
    let v: number | undefined;
    let definite = false;
    if (inp.kind === 'write') {
      v = inp.value;
      definite = op.ret !== Infinity;
    } else if (inp.kind === 'cas') {
      const known = op.ret !== Infinity;
      const out = op.output;
      if (known && out.kind === 'cas' && !out.ok) continue;
      v = inp.to;
      definite = known;
    }
    if (v === undefined) continue;
    if (writers.has(v)) unique = false;
    else writers.set(v, op);
    if (definite && (!firstCompletedWrite || op.ret < firstCompletedWrite.ret)) firstCompletedWrite = op;
  }
  for (const op of history) {
    if (op.ret === Infinity) continue;
    const inp = op.input;
    const out = op.output;
    let seen: RegisterValue | undefined;
    if (inp.kind === 'read' && out.kind === 'read') seen = out.value;
    else if (inp.kind === 'cas' && out.kind === 'cas' && out.ok) seen = inp.from;
    if (seen === undefined) continue;
    if (seen === null) {
      if (firstCompletedWrite && firstCompletedWrite.ret < op.call) return [firstCompletedWrite, op];
      continue;
    }
    if (!unique) continue;
    const w = writers.get(seen);
    if (!w) return [op];
    if (w.call > op.ret) return [op, w];
  }
  return undefined;
}

/** `read -> 3`, `write 4`, `cas 1 -> 0 : fail`, with `?` for an unknown outcome; then the key if any. */
export function describeRegisterOperation(input: RegisterInput, output: RegisterOutput | undefined): string {
  let what: string;
  switch (input.kind) {
    case 'read':
      what = `read -> ${output?.kind === 'read' ? String(output.value ?? 'nil') : '?'}`;
      break;
    case 'write':
      what = `write ${input.value}`;
      break;
    case 'cas':
      what = `cas ${input.from ?? 'nil'} -> ${input.to} : ${output?.kind === 'cas' ? (output.ok ? 'ok' : 'fail') : '?'}`;
      break;
  }
  return input.key === undefined ? what : `${what} [key ${input.key}]`;
}

function registerStep(state: RegisterValue, input: RegisterInput, output: RegisterOutput | undefined): [boolean, RegisterValue] {
  switch (input.kind) {
    case 'read':
      if (output === undefined) return [true, state];
      return [output.kind === 'read' && output.value === state, state];
    case 'write':
      return [output === undefined || output.kind === 'write', input.value];
    case 'cas': {
      const holds = state === input.from;
      const after = holds ? input.to : state;
      if (output === undefined) return [true, after];
      return [output.kind === 'cas' && output.ok === holds, after];
    }
  }
}

/**
 * Read/write/compare-and-set registers, one per `input.key` (a single one
 * when no key is given). Includes the register precheck.
 */
export const registerModel: Model<RegisterValue, RegisterInput, RegisterOutput> = {
  init: () => null,
  step: registerStep,
  key: (s) => (s === null ? 'n' : String(s)),
  partition: partitionByKey,
  precheck: registerPrecheck,
  describeOperation: describeRegisterOperation,
};

/**
 * The register fast path: the cheap precheck (exact rejections of reads of
 * never-written or not-yet-written values, and of empty reads after a
 * completed write, when written values are unique), then the exact search
 * per register key. Same verdicts as `checkLinearizable(registerModel, ...)`
 * with `noPrecheck`, usually sooner on violations.
 */
export function checkRegisters(history: readonly RegisterOp[], options: Omit<CheckOptions, 'noPrecheck'> = {}): CheckResult<RegisterInput, RegisterOutput> {
  return checkLinearizable(registerModel, history, options);
}
