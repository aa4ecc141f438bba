// The shared heap as an application thread uses it, in both worlds: typed
// one-op generators (`const v = yield* read(a)`), and calloc and realloc built
// from malloc, free and word accesses. Words are u32, 4-byte aligned.
import type { ThreadOp } from './thread.js';

export type Op<R> = Generator<ThreadOp, R, number>;

export function* read(addr: number): Op<number> {
  return yield { op: 'read', addr };
}

export function* write(addr: number, value: number): Op<void> {
  yield { op: 'write', addr, value: value >>> 0 };
}

/** Atomic fetch-and-add; returns the old value. */
export function* add(addr: number, delta: number): Op<number> {
  return yield { op: 'add', addr, delta: delta >>> 0 };
}

export function* malloc(size: number): Op<number> {
  return yield { op: 'malloc', size };
}

export function* free(addr: number): Op<void> {
  yield { op: 'free', addr };
}

/** Skips zero-length pauses: they would only add scheduler steps. */
export function* compute(us: number): Op<void> {
  if (us > 0) yield { op: 'compute', us };
}

/** Blocks until this thread holds lock `id` (a u32 every host names the same lock by). */
export function* lock(id: number): Op<void> {
  yield { op: 'lock', id: id >>> 0 };
}

export function* unlock(id: number): Op<void> {
  yield { op: 'unlock', id: id >>> 0 };
}

/** Blocks until `parties` threads arrived at barrier `name`; the barrier then opens for its next episode. */
export function* barrier(name: number, parties: number): Op<void> {
  yield { op: 'barrier', name: name >>> 0, parties };
}

/** A zeroed block of count * size bytes (blocks reused from a free list hold old data). */
export function* calloc(count: number, size: number): Op<number> {
  const bytes = count * size;
  const addr = yield* malloc(bytes);
  if (addr === 0) return 0;
  for (let off = 0; off < bytes; off += 4) yield* write(addr + off, 0);
  return addr;
}

/**
 * Moves a block to one of newSize bytes, keeping min(oldSize, newSize) bytes
 * of its contents; returns the new address (0, with the old block untouched,
 * if the heap is full). The caller gives the old size, as with C23's
 * free_sized: the block's size is known to its owner's heap, not to every host.
 */
export function* realloc(addr: number, oldSize: number, newSize: number): Op<number> {
  if (addr === 0) return yield* malloc(newSize);
  const next = yield* malloc(newSize);
  if (next === 0) return 0;
  const keep = Math.min(oldSize, newSize);
  for (let off = 0; off + 4 <= keep; off += 4) yield* write(next + off, yield* read(addr + off));
  yield* free(addr);
  return next;
}
