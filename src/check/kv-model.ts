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
 * String key-value store: get/put/append, a missing key reads as ''.
 * Keys are independent, so the history is partitioned by key and each
 * partition's state is one string.
 */
export const kvModel: Model<string, KvInput, KvOutput> = {
  init: () => '',
  step(state, input, output) {
    switch (input.kind) {
      case 'get':
        return [output === undefined || output === state, state];
      case 'put':
        return [true, input.value];
      case 'append':
        return [true, state + input.value];
    }
  },
  key: (s) => s,
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
