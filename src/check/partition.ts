// Split a history into independent parts by the key of each operation's
// input, as Porcupine's partitioned models do: per-key registers, a
// key-value store's keys. Parts come in order of each key's first
// appearance and keep the history's order, so verdicts are reproducible.
import type { Operation } from './linearizability.js';

export function partitionByKey<I extends { readonly key?: string }, O>(history: readonly Operation<I, O>[]): Operation<I, O>[][] {
  // Map iteration follows first appearance in the history: deterministic.
  const parts = new Map<string | undefined, Operation<I, O>[]>();
  for (const op of history) {
    const k = op.input.key;
    let part = parts.get(k);
    if (!part) parts.set(k, (part = []));
    part.push(op);
  }
  return [...parts.values()];
}

