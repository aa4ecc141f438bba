// The simulator's side of the fault points and probes (src/raft/fault-points.ts):
// FoundationDB's rule for BUGGIFY. Each point is enabled for a run with some
// probability, drawn per seed from its own stream; an enabled point fires with
// its own small probability each time the code reaches it, and never in the
// quiet period (liveness is judged there, as with the nemesis). Probes are
// counted whether or not any point is enabled.
import type { FaultPoints } from '../raft/index.js';
import { FAULT_POINTS } from '../host/fault-points.js';
import { probeCounts, PROBES } from '../host/probes.js';
import type { RecordEvent } from '../host/trace-events.js';
import type { Rng } from './rng.js';
import type { Scenario } from './scenario.js';

export type BuggifySettings = NonNullable<Scenario['buggify']>;

export class SimFaultPoints {
  /** By probe id. */
  private readonly counts: number[] = new Array<number>(PROBES.length).fill(0);
  /** By point id: times fired (enabled points only fire). */
  private readonly fired: number[] = new Array<number>(FAULT_POINTS.length).fill(0);
  private readonly enabled: boolean[];
  private readonly fires: readonly number[] = FAULT_POINTS.map((p) => p.fires);

  constructor(
    settings: BuggifySettings | undefined,
    private readonly rng: Rng,
    /** Whether faults may still start (false once the quiet period began). */
    private readonly active: () => boolean,
    private readonly trace: RecordEvent,
  ) {
    const chosen = settings?.points === undefined ? null : new Set(settings.points);
    // One draw per point whatever is chosen, so a point's fate for a seed does not depend on the others'.
    this.enabled = FAULT_POINTS.map((p) => {
      if (settings === undefined) return false;
      const draw = rng.next();
      return (chosen === null || chosen.has(p.name)) && draw < settings.enableProbability;
    });
  }

  /** The port one host's runtime gets (fires are traced with the host). */
  forHost(host: number): FaultPoints {
    return new HostFaultPoints(this, host);
  }

  /** A probe was taken. */
  count(probe: number): void {
    this.counts[probe]!++;
  }

  buggify(point: number, host: number): boolean {
    if (!this.enabled[point] || !this.active() || this.rng.next() >= this.fires[point]!) return false;
    this.fired[point]!++;
    this.trace('buggify', host, point, this.fired[point]!, FAULT_POINTS[point]!.name);
    return true;
  }

  /** Every probe by name with its count this run. */
  probes(): Record<string, number> {
    return probeCounts(this.counts);
  }

  /** The points this run enabled, by name, with how often each fired. */
  firedByPoint(): Record<string, number> {
    const out: Record<string, number> = {};
    FAULT_POINTS.forEach((p, i) => {
      if (this.enabled[i]) out[p.name] = this.fired[i]!;
    });
    return out;
  }
}

/**
 * One host's fault points: an object of one class for every host, not
 * closures per host, so Raft's and the runtime's calls through it stay
 * monomorphic (a second host's closures deoptimized every caller).
 */
class HostFaultPoints implements FaultPoints {
  constructor(private readonly points: SimFaultPoints, private readonly host: number) {}

  buggify(point: number): boolean {
    return this.points.buggify(point, this.host);
  }

  probe(probe: number): void {
    this.points.count(probe);
  }
}
