// A string key-value store (get, put, append) as a linearizability model:
// the model of Porcupine's kv histories and of the simulator's Raft scenarios.
import type { Model, Operation } from './linearizability.js';
import { partitionByKey } from './partition.js';

export type KvInput =
  | { readonly kind: 'get'; readonly key: string }
  | { readonly kind: 'put'; readonly key: string; readonly value: string }
  | { readonly kind: 'append'; readonly key: string; readonly value: string };

/** The value read for `get`; `null` acknowledges a put or append. */
export type KvOutput = string | null;

export type KvOp = Operation<KvInput, KvOutput>;

/**
 * One key's value with a polynomial hash of it, kept as the value grows:
 * appends make long strings, and hashing or comparing them whole at every
 * step of the search would cost more than the search.
 */
export interface KvValue {
  readonly text: string;
  readonly hash: number;
}

const BASE = 0x01000193;

/** The hash of `s` and BASE^length(s), both mod 2^32. */
function polyHash(s: string): [hash: number, power: number] {
  let h = 0;
  let p = 1;
  for (let i = 0; i < s.length; i++) {
    h = (Math.imul(h, BASE) + s.charCodeAt(i)) | 0;
    p = Math.imul(p, BASE);
  }
  return [h, p];
}

function kvStep(state: KvValue, input: KvInput, output: KvOutput | undefined): [boolean, KvValue] {
  switch (input.kind) {
    case 'get':
      return [output === undefined || (output !== null && output.length === state.text.length && output === state.text), state];
    case 'put':
      return [true, { text: input.value, hash: polyHash(input.value)[0] }];
    case 'append': {
      const [h, p] = polyHash(input.value);
      return [true, { text: state.text + input.value, hash: (Math.imul(state.hash, p) + h) | 0 }];
    }
  }
}

/**
 * String key-value store: get/put/append, a missing key reads as ''.
 * Keys are independent, so the history is partitioned by key and each
 * partition's state is one string.
 */
export const kvModel: Model<KvValue, KvInput, KvOutput> = {
  init: () => ({ text: '', hash: 0 }),
  step: kvStep,
  equal: (a, b) => a.hash === b.hash && a.text === b.text,
  hash: (s) => s.hash,
  readOnly: (input) => input.kind === 'get',
  partition: partitionByKey,
  describeOperation: describeKvOperation,
};

/** `get "k" -> "v"` (`?` for an unknown outcome), `put "k" "v"`, `append "k" "v"`. */
export function describeKvOperation(input: KvInput, output: KvOutput | undefined): string {
  switch (input.kind) {
    case 'get':
      return `get ${JSON.stringify(input.key)} -> ${output === undefined ? '?' : JSON.stringify(output)}`;
    case 'put':
    case 'append':
      return `${input.kind} ${JSON.stringify(input.key)} ${JSON.stringify(input.value)}`;
  }
}
