// One timeline for the histories of hosts on separate machines. Wall clocks
// of two machines can be seconds apart, which would put a read before the
// write it saw and make lincheck's verdict wrong; so each host records its
// operations on its monotonic clock (CLOCK_MONOTONIC, shared by the threads
// of a process and never stepped) and maps them onto the reference host's
// monotonic clock (the cluster file's first host) through offsets measured
// on round trips to it (Cristian's method: the reference read its clock
// somewhere between our send and our receive, so the offset is known to
// within half the round trip). Between measurements either clock may drift
// by the cluster's driftBoundPpm, which widens the uncertainty with the time
// since the sample used. Each operation's interval is then widened by its
// uncertainty (the `err` of a history record), so the real-time order
// lincheck relies on holds whatever the skew: an operation that really ended
// before another began may look concurrent with it, never after it.

/** µs on this machine's monotonic clock: the same in every thread of the process. */
export function hostMonoUs(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

export interface ClockSample {
  /** Local monotonic µs at the middle of the round trip. */
  atUs: number;
  /** reference = local + offsetUs. */
  offsetUs: number;
  /** Half the round trip: the offset is right to within this. */
  uncertaintyUs: number;
}

export interface Mapped {
  /** µs on the reference host's monotonic clock. */
  us: number;
  /** The true time is within us ± err. */
  err: number;
}

/** Samples kept: the best of the last minute or so, at one per second. */
const KEEP = 64;

export class ClockMap {
  private readonly samples: ClockSample[] = [];

  /** isReference: this host is the reference, so its times map to themselves, exactly. */
  constructor(private readonly driftBoundPpm: number, readonly isReference: boolean) {}

  /** A round trip: local time before sending, the reference's clock in the answer, local time after receiving. */
  addRoundTrip(sentUs: number, remoteUs: number, receivedUs: number): ClockSample {
    if (!(receivedUs >= sentUs)) throw new RangeError(`ClockMap: received ${receivedUs} before sent ${sentUs}`);
    const atUs = (sentUs + receivedUs) / 2;
    const sample = { atUs, offsetUs: remoteUs - atUs, uncertaintyUs: (receivedUs - sentUs) / 2 };
    this.samples.push(sample);
    if (this.samples.length > KEEP) this.samples.shift();
    return sample;
  }

  get ready(): boolean {
    return this.isReference || this.samples.length > 0;
  }

  /** A local time on the reference's timeline; null until the first round trip. */
  map(localUs: number): Mapped | null {
    if (this.isReference) return { us: localUs, err: 0 };
    let best: Mapped | null = null;
    // Both clocks may drift by the bound, in opposite directions.
    const drift = (2 * this.driftBoundPpm) / 1e6;
    for (const s of this.samples) {
      const err = s.uncertaintyUs + drift * Math.abs(localUs - s.atUs);
      if (best === null || err < best.err) best = { us: localUs + s.offsetUs, err };
    }
    if (best === null) return null;
    // Whole µs, rounded outwards, so the widened interval still holds the true time.
    return { us: Math.round(best.us), err: Math.ceil(best.err) + 1 };
  }
}
