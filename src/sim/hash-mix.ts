// Integer hashing shared by the trace hash and the explorer's fingerprints:
// pure Math.imul arithmetic, so every process and machine computes the same.

/** murmur3's finalizer: spreads every input bit over the 32 output bits. */
export function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
