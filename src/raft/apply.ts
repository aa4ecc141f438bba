// Applying committed entries, as every driver of a RawNode does: configuration
// changes go to the node, everything else to the state machine, in log order.
// Entries that an installed snapshot already covers are skipped.
import type { RawNode } from './rawnode.js';
import type { ConfChange, Entry } from './types.js';

/** Applies the entries after index `applied`; returns the index applied through. */
export function applyCommitted(node: RawNode, entries: readonly Entry[], applied: number, apply: (e: Entry) => void): number {
  for (const e of entries) {
    if (e.index <= applied) continue;
    applied = e.index;
    if (e.kind === 'conf') node.applyConfChange(JSON.parse(e.data) as ConfChange);
    else apply(e);
  }
  return applied;
}
