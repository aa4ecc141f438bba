// Vector time: for each participant (a host in lazy release consistency, a
// thread in the race detector), how many of its events happen before a point.
// Sparse and plain (a record keyed by participant id) so it crosses the wire
// and Raft commands as JSON; a missing entry is 0.

export type VectorTime = Readonly<Record<number, number>>;

export const ZERO: VectorTime = Object.freeze({});

export function vtGet(vt: VectorTime, who: number): number {
  return vt[who] ?? 0;
}

/** The same time with participant `who`'s entry moved to `value` (never backwards). */
export function vtSet(vt: VectorTime, who: number, value: number): VectorTime {
  if (vtGet(vt, who) >= value) return vt;
  return { ...vt, [who]: value };
}

/** The least time at or after both. */
export function vtMax(a: VectorTime, b: VectorTime): VectorTime {
  let out: Record<number, number> | null = null;
  for (const [k, v] of Object.entries(b)) {
    const who = Number(k);
    if (v > vtGet(a, who)) (out ??= { ...a })[who] = v;
  }
  return out ?? a;
}

/** The greatest time at or before every one (an empty list: ZERO). */
export function vtMin(all: readonly VectorTime[]): VectorTime {
  if (all.length === 0) return ZERO;
  const out: Record<number, number> = {};
  for (const [k, v] of Object.entries(all[0]!)) {
    const who = Number(k);
    let m = v;
    for (const t of all) m = Math.min(m, vtGet(t, who));
    if (m > 0) out[who] = m;
  }
  return out;
}

/** a <= b: everything a has seen, b has too. */
export function vtLeq(a: VectorTime, b: VectorTime): boolean {
  for (const [k, v] of Object.entries(a)) if (v > vtGet(b, Number(k))) return false;
  return true;
}

export type Order = 'before' | 'after' | 'equal' | 'concurrent';

export function vtCompare(a: VectorTime, b: VectorTime): Order {
  const le = vtLeq(a, b);
  const ge = vtLeq(b, a);
  return le && ge ? 'equal' : le ? 'before' : ge ? 'after' : 'concurrent';
}

/** Sum of the entries: strictly grows along happens-before, so sorting by it gives a linear extension. */
export function vtSum(vt: VectorTime): number {
  let s = 0;
  for (const v of Object.values(vt)) s += v;
  return s;
}

const MAX_HOST_ID = 0xffffffff;

/** Checks a decoded vector time: an object of non-negative safe integers keyed by non-negative integers. */
export function validateVectorTime(v: unknown, field: string): VectorTime | { error: string } {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return { error: `${field} must be an object of counts by id, got ${v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v}` };
  const out: Record<number, number> = {};
  for (const [k, n] of Object.entries(v as Record<string, unknown>)) {
    // Keys are host ids, which cluster files allow up to 2^32 - 1.
    if (!/^(0|[1-9][0-9]{0,9})$/.test(k) || Number(k) > MAX_HOST_ID) {
      return { error: `${field}: key ${JSON.stringify(k.slice(0, 20))} must be a host id, an integer from 0 to ${MAX_HOST_ID}` };
    }
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) return { error: `${field}[${k}] must be a non-negative integer` };
    if (n > 0) out[Number(k)] = n;
  }
  return out;
}
