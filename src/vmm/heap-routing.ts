// Where a free of an address must go, from the page table's allocation row
// that holds it: to the host whose heap owns the run (its size-class layer
// for a small block, or the run itself for a large one). Only the owner gives
// a run back to the page table, so its heap never holds a run the table has
// handed to someone else.
import { parseAllocationId } from './heap.js';

/** The owner of the allocation holding a block, or null (the root region, not a heap allocation). */
export function ownerOf(allocationId: string): number | null {
  return parseAllocationId(allocationId)?.host ?? null;
}
