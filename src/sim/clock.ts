// A host's local clock, piecewise linear over global (simulated) time.
//
// The clock is a list of segments; a segment starting at global time g0
// reads local(g) = l0 + (g - g0) + floor((g - g0) * ppm / 1e6) for g >= g0.
// A new segment starts at every jump() and setDrift(). All readings are
// integer microseconds and all maths on integers below 2^53 is exact, so the
// clock is deterministic.
//
// Monotonicity: within a segment local() is non-decreasing (drift must be
// > -1e6 ppm, i.e. the clock always moves forward). setDrift() is continuous.
// jump() is a step change: a positive jump skips local time, a NEGATIVE jump
// makes the clock go back, as real clocks do when NTP steps them. Code that
// judges leases on a local clock must cope with that.

const MIN_PPM = -999_999;

export class HostClock {
  private readonly segG: number[] = [];
  private readonly segL: number[] = [];
  private readonly segPpm: number[] = [];

  /**
   * offsetUs: local - global at global time 0. driftPpm: rate error in parts
   * per million (+100 means the clock gains 100 us per simulated second).
   */
  constructor(offsetUs: number, driftPpm: number) {
    checkPpm(driftPpm);
    this.segG.push(0);
    this.segL.push(Math.round(offsetUs));
    this.segPpm.push(driftPpm);
  }

  /** Current drift rate in ppm. */
  get driftPpm(): number {
    return this.segPpm[this.segPpm.length - 1]!;
  }

  /** Number of jumps and drift changes so far. */
  get changes(): number {
    return this.segG.length - 1;
  }

  /** The local clock reading at global time globalUs (integer). */
  local(globalUs: number): number {
    const g = Math.floor(globalUs);
    return this.segLocal(this.segmentAt(g), g);
  }

  /** local(globalUs) - globalUs. */
  offsetAt(globalUs: number): number {
    return this.local(globalUs) - globalUs;
  }

  /**
   * The earliest integer global time >= nowGlobalUs at which the local clock
   * reads >= localUs, assuming no further jumps or drift changes. Used to
   * schedule a local-clock timer; after a jump or drift change the timer must
   * be recomputed (a backward jump postpones it, a forward jump brings it
   * forward).
   */
  globalFor(localUs: number, nowGlobalUs: number): number {
    let g = Math.ceil(nowGlobalUs);
    let k = this.segmentAt(g);
    const last = this.segG.length - 1;
    for (;;) {
      if (this.segLocal(k, g) >= localUs) return g;
      const g0 = this.segG[k]!;
      const l0 = this.segL[k]!;
      const rate = 1 + this.segPpm[k]! / 1e6;
      let x = Math.max(g, g0 + Math.ceil((localUs - l0) / rate));
      // The estimate is within a unit or two; fix it up exactly.
      while (this.segLocal(k, x) < localUs) x++;
      while (x - 1 >= g && this.segLocal(k, x - 1) >= localUs) x--;
      if (k === last || x < this.segG[k + 1]!) return x;
      k++;
      g = this.segG[k]!;
    }
  }

  /**
   * Step the clock by deltaUs (may be negative) at global time atGlobalUs,
   * which must not be before the last change.
   */
  jump(deltaUs: number, atGlobalUs: number): void {
    const at = Math.round(atGlobalUs);
    const l = this.local(at) + Math.round(deltaUs);
    this.addSegment(at, l, this.driftPpm);
  }

  /** Change the drift rate from global time atGlobalUs on (continuous). */
  setDrift(ppm: number, atGlobalUs: number): void {
    checkPpm(ppm);
    const at = Math.round(atGlobalUs);
    this.addSegment(at, this.local(at), ppm);
  }

  // ---- internals ----

  private addSegment(g: number, l: number, ppm: number): void {
    const n = this.segG.length;
    const lastG = this.segG[n - 1]!;
    if (g < lastG) {
      throw new RangeError(`HostClock: change at ${g} is before the last change at ${lastG}`);
    }
    if (g === lastG && n > 1) {
      this.segL[n - 1] = l;
      this.segPpm[n - 1] = ppm;
      return;
    }
    this.segG.push(g);
    this.segL.push(l);
    this.segPpm.push(ppm);
  }

  /** Index of the segment in force at global time g (the first one for g < 0). */
  private segmentAt(g: number): number {
    const segG = this.segG;
    let k = segG.length - 1;
    if (segG[k]! <= g) return k; // fast path: now is in the latest segment
    while (k > 0 && segG[k]! > g) k--;
    return k;
  }

  private segLocal(k: number, g: number): number {
    const dg = g - this.segG[k]!;
    return this.segL[k]! + dg + Math.floor((dg * this.segPpm[k]!) / 1e6);
  }
}

function checkPpm(ppm: number): void {
  if (!(ppm >= MIN_PPM && ppm <= 1e6)) {
    throw new RangeError(`HostClock: drift ${ppm} ppm out of range`);
  }
}
