/**
 * The search's memory of configurations already explored: (operations
 * linearized so far, model state). Reaching one again is pointless, since
 * what can follow depends on that pair alone (Porcupine's cache).
 *
 * Two things keep it small and bounded:
 *
 *  - The set of linearized operations with a known outcome is stored as a
 *    prefix length plus the few members past it. Ranked by return, every
 *    operation before the first unlinearized one (rank `p`) is linearized,
 *    and any linearized one past it was concurrent with operation `p` — at
 *    most one per client. So an entry costs O(clients), not O(history).
 *  - A shared entry budget: when the configurations of all searches of one
 *    check reach it, all of them are forgotten. Forgetting only costs time
 *    (a configuration may be explored twice), never a wrong verdict.
 *
 * Operations with an unknown outcome are kept as a separate set with a
 * subsumption rule: such an operation never has to be linearized, so every
 * completion from (K ∪ U, s) is also one from (K ∪ U', s) when U' ⊆ U;
 * having explored (K ∪ U', s) without success, (K ∪ U, s) is covered.
 * Without it, histories with many timed-out writes explode into subsets.
 */

/** A bit set with the index of its first clear bit and its size kept up to date. */
export class RankSet {
  readonly bits: Uint32Array;
  /** First clear bit (ranks below it are all set). */
  first = 0;
  size = 0;
  private readonly capacity: number;

  constructor(capacity: number) {
    this.capacity = capacity;
    this.bits = new Uint32Array((capacity + 31) >>> 5);
  }

  has(r: number): boolean {
    return (this.bits[r >>> 5]! & (1 << (r & 31))) !== 0;
  }

  add(r: number): void {
    this.bits[r >>> 5]! |= 1 << (r & 31);
    this.size++;
    if (r === this.first) while (this.first < this.capacity && this.has(this.first)) this.first++;
  }

  /** Undo of the latest `add` still in force (the search removes in LIFO order). */
  remove(r: number): void {
    this.bits[r >>> 5]! &= ~(1 << (r & 31));
    this.size--;
    if (r < this.first) this.first = r;
  }

  /** Appends the members past `first` to `out` in increasing order. */
  membersPastFirst(out: number[]): void {
    let left = this.size - this.first;
    for (let w = (this.first + 1) >>> 5; left > 0; w++) {
      let word = this.bits[w]!;
      while (word !== 0) {
        const low = word & -word;
        const r = (w << 5) + 31 - Math.clz32(low);
        if (r > this.first) {
          out.push(r);
          left--;
        }
        word ^= low;
      }
    }
  }
}

/** What the budget needs of a set of visited configurations. */
interface Forgetful {
  readonly size: number;
  clear(): void;
}

/** Bounds the entries of all the searches of one check together. */
export class VisitedBudget {
  private used = 0;
  private readonly sets = new Set<Forgetful>();
  /** How many times everything was forgotten. */
  resets = 0;

  constructor(readonly limit: number) {
    if (!(limit >= 1)) throw new RangeError(`the visited-configuration limit must be at least 1, got ${limit}`);
  }

  register(v: Forgetful): void {
    this.sets.add(v);
  }

  unregister(v: Forgetful): void {
    if (this.sets.delete(v)) this.used -= v.size;
  }

  /** Makes room for one more entry, forgetting everything if the budget is spent. */
  take(): void {
    if (this.used >= this.limit) {
      for (const s of this.sets) s.clear();
      this.used = 0;
      this.resets++;
    }
    this.used++;
  }
}

const NONE = -1;
/** Shared by every set before its first entry (growing replaces, never writes, it). */
const EMPTY = new Int32Array(0);
/** Where an entry is put together before it is copied into a pool (checks never run concurrently). */
const scratch: number[] = [];

/**
 * Configurations of one search, in a chained hash table over flat typed
 * arrays (no object per entry): entry e has a hash, a chain link, its state,
 * and a span of `pool` holding [first, members past first..., unknown members...].
 */
export class Visited<S> {
  size = 0;
  // Allocated at the first entry: a history split by key may have a
  // partition per word of memory, most of them decided without any.
  private table = EMPTY;
  private hashes = EMPTY;
  private chain = EMPTY;
  private start = EMPTY;
  private knownLen = EMPTY;
  private unknownLen = EMPTY;
  private states: S[] = [];
  private pool = EMPTY;
  private poolUsed = 0;

  constructor(
    private readonly equal: (a: S, b: S) => boolean,
    private readonly budget: VisitedBudget,
    /**
     * Entries the search expects (one per operation it linearizes on a path
     * without backtracking): the first entry sizes the arrays for them, so an
     * easy search never grows them step by step.
     */
    private readonly expected = 0,
  ) {
    budget.register(this);
  }

  /**
   * Records (known, unknown, state) under `hash` (which must depend on
   * `known` and the state only). False if it, or a configuration covering
   * it, was already there.
   */
  add(known: RankSet, unknown: RankSet, hash: number, state: S): boolean {
    if (this.covered(known, unknown, hash, state)) return false;
    this.budget.take();
    this.insert(known, unknown, hash, state);
    return true;
  }

  clear(): void {
    this.table.fill(NONE);
    this.states.length = 0;
    this.size = 0;
    this.poolUsed = 0;
  }

  release(): void {
    this.budget.unregister(this);
    this.clear();
  }

  private covered(known: RankSet, unknown: RankSet, hash: number, state: S): boolean {
    if (this.size === 0) return false;
    const pool = this.pool;
    for (let e = this.table[hash & (this.table.length - 1)]!; e !== NONE; e = this.chain[e]!) {
      if (this.hashes[e] !== hash) continue;
      let at = this.start[e]!;
      const kl = this.knownLen[e]!;
      if (pool[at] !== known.first || kl - 1 !== known.size - known.first) continue;
      let same = true;
      for (let j = 1; j < kl && same; j++) same = known.has(pool[at + j]!);
      if (!same) continue;
      at += kl;
      const ul = this.unknownLen[e]!;
      if (ul > unknown.size) continue;
      for (let j = 0; j < ul && same; j++) same = unknown.has(pool[at + j]!);
      if (same && this.equal(this.states[e]!, state)) return true;
    }
    return false;
  }

  private insert(known: RankSet, unknown: RankSet, hash: number, state: S): void {
    const s = scratch;
    s.length = 0;
    s.push(known.first);
    known.membersPastFirst(s);
    const kl = s.length;
    for (let w = 0, left = unknown.size; left > 0; w++) {
      for (let word = unknown.bits[w]!; word !== 0; word &= word - 1) {
        s.push((w << 5) + 31 - Math.clz32(word & -word));
        left--;
      }
    }
    if (this.size === this.hashes.length) this.growEntries();
    if (this.size * 2 >= this.table.length) this.growTable();
    if (this.poolUsed + s.length > this.pool.length) this.pool = grow(this.pool, Math.max(this.poolUsed + s.length, this.expected * 2));
    const e = this.size++;
    this.hashes[e] = hash;
    this.start[e] = this.poolUsed;
    this.knownLen[e] = kl;
    this.unknownLen[e] = s.length - kl;
    this.states[e] = state;
    for (let j = 0; j < s.length; j++) this.pool[this.poolUsed++] = s[j]!;
    this.link(e);
  }

  private link(e: number): void {
    const slot = this.hashes[e]! & (this.table.length - 1);
    this.chain[e] = this.table[slot]!;
    this.table[slot] = e;
  }

  private growEntries(): void {
    const n = Math.max(this.hashes.length * 2, this.expected);
    this.hashes = grow(this.hashes, n);
    this.chain = grow(this.chain, n);
    this.start = grow(this.start, n);
    this.knownLen = grow(this.knownLen, n);
    this.unknownLen = grow(this.unknownLen, n);
  }

  private growTable(): void {
    let size = Math.max(32, this.table.length * 2);
    while (size < this.expected * 2) size *= 2;
    this.table = new Int32Array(size).fill(NONE);
    for (let e = 0; e < this.size; e++) this.link(e);
  }
}

function grow(a: Int32Array<ArrayBuffer>, atLeast: number): Int32Array<ArrayBuffer> {
  let n = Math.max(16, a.length * 2);
  while (n < atLeast) n *= 2;
  const b = new Int32Array(n);
  b.set(a);
  return b;
}
