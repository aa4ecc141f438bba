// Read/write/compare-and-set registers as a linearizability model, one
// register per key.
import type { Model, Operation } from './linearizability.js';
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
 * when no key is given).
 */
export const registerModel: Model<RegisterValue, RegisterInput, RegisterOutput> = {
  init: () => null,
  step: registerStep,
  hash: (s) => (s === null ? -1 : s | 0),
  readOnly: (input) => input.kind === 'read',
  partition: partitionByKey,
  describeOperation: describeRegisterOperation,
};
