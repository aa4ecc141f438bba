// Seeded random streams for the simulated world.
//
// Every component of a run draws from its own stream, derived from the run
// seed and a name (`streamFor(seed, "network")`), so adding a component or
// drawing more numbers in one component never perturbs another.
//
// The generator is seedrandom's `alea` (a multiply-with-carry generator,
// pure IEEE-754 double arithmetic, 32 bits of randomness per draw): it is
// fast and gives the same sequence on every machine. `exponential` uses
// Math.log, which V8 implements with its own fdlibm port, so it is identical
// across machines running the same Node major version.
import seedrandom from 'seedrandom';

export class Rng {
  /** The seed string this stream was created from (for reports and fork). */
  readonly seed: string;
  private readonly gen: seedrandom.PRNG;

  constructor(seed: string) {
    this.seed = seed;
    this.gen = seedrandom.alea(seed);
  }

  /** A float in [0, 1), 32 bits of randomness. */
  next(): number {
    return this.gen();
  }

  /** An integer in [lo, hi). Requires integers lo < hi. */
  int(lo: number, hi: number): number {
    if (!(hi > lo)) throw new RangeError(`Rng.int: empty range [${lo}, ${hi})`);
    return lo + Math.floor(this.gen() * (hi - lo));
  }

  /** A random unsigned 32-bit integer. */
  uint32(): number {
    return (this.gen() * 0x100000000) >>> 0;
  }

  /** true with probability p (p <= 0: never, p >= 1: always). */
  bool(p = 0.5): boolean {
    return this.gen() < p;
  }

  /** A uniformly chosen element. Throws on an empty array. */
  pick<T>(xs: readonly T[]): T {
    const n = xs.length;
    if (n === 0) throw new RangeError('Rng.pick: empty array');
    return xs[Math.floor(this.gen() * n)] as T;
  }

  /** Fisher-Yates shuffle, in place; returns the same array. */
  shuffle<T>(xs: T[]): T[] {
    for (let i = xs.length - 1; i > 0; i--) {
      const j = Math.floor(this.gen() * (i + 1));
      const t = xs[i] as T;
      xs[i] = xs[j] as T;
      xs[j] = t;
    }
    return xs;
  }

  /** An exponentially distributed float with the given mean (>= 0). */
  exponential(mean: number): number {
    if (mean <= 0) return 0;
    // 1 - next() is in (0, 1], so the log is finite.
    return -mean * Math.log(1 - this.gen());
  }

  /** A float in [lo, hi). */
  between(lo: number, hi: number): number {
    return lo + this.gen() * (hi - lo);
  }

  /**
   * A random non-empty subset of xs, in the original order. Each element is
   * kept with probability 1/2; if that keeps none, one uniformly chosen
   * element is returned. Throws on an empty array.
   */
  subset<T>(xs: readonly T[]): T[] {
    const n = xs.length;
    if (n === 0) throw new RangeError('Rng.subset: empty array');
    const out: T[] = [];
    for (let i = 0; i < n; i++) {
      if (this.gen() < 0.5) out.push(xs[i] as T);
    }
    if (out.length === 0) out.push(xs[Math.floor(this.gen() * n)] as T);
    return out;
  }

  /**
   * A child stream named `name`, independent of how many numbers this stream
   * has drawn. Its seed is `${this.seed}/${name}`, so
   * `streamFor(s, "a").fork("b")` equals `streamFor(s, "a/b")`.
   */
  fork(name: string): Rng {
    return new Rng(`${this.seed}/${name}`);
  }
}

/** The stream for component `name` of the run with seed `runSeed`. */
export function streamFor(runSeed: number | string, name: string): Rng {
  return new Rng(`${runSeed}/${name}`);
}
