// A path that `gallocy check` found, written as a scenario that a plain run
// (`gallocy replay --seed`) takes: the explorer's faults become a fault
// schedule at the simulated times the path took them, and the events it held
// up become pauses of their hosts. What a schedule cannot say is listed, not
// guessed: a plain run draws every latency from its seed and takes events in
// time order, so the path's order of deliveries is kept only as far as the
// pauses hold a host's work back.
//
// Kept:
//   crash H, restart H   a crash of H at the crash's time, for as long as the
//                        path left H down (to the end of the run if it never
//                        restarted it);
//   lose N               a one-way partition of the message's link, for 0 ms,
//                        at the time the path lost it: every message then in
//                        flight on that link is lost, N among them;
//   run N, late          an event of host H that the path ran after its time
//                        (a tick, a disk completion, a delivery to H held up
//                        while others ran): H paused from the event's time to
//                        when it ran, overlapping holds of one host merged.
// Not kept:
//   duplicate N          no scheduled fault duplicates one message;
//   run N, late          of a client or the world (a pause holds a host only);
//   the order within a host: a pause holds all of a host's work, while the
//   path may have held its tick and delivered it a message meanwhile.
// So a plain run of the schedule with the path's seed seldom takes the path
// exactly; findFailingSeed() looks for a seed that comes to the same failure.
import { explorationScenario } from '../explore/session.js';
import { Space } from '../explore/explorer.js';
import type { FaultBudget, Reductions } from '../explore/session.js';
import type { Scenario, ScheduledFault } from '../scenario.js';
import { World } from '../run.js';

export interface PathSchedule {
  /** The exploration's scenario (no nemesis, no random loss) with the path's faults as `faults.schedule`. */
  scenario: Scenario;
  /** Crashes the path made (the scenario's own scheduled faults are in the schedule too). */
  crashes: number;
  /** One-way partitions for lost messages. */
  losses: number;
  /** Hosts paused for the events the path held up. */
  pauses: number;
  /** Choices the schedule does not express, counted by what they were ("duplicated message", ...). */
  notKept: Record<string, number>;
}

/** The run goes on this long after the path's end: a plain run's violation may come a little later than the path's. */
const RUN_PAST_PATH_MS = 1000;

/** The milliseconds of a microsecond time, to the microsecond. */
const ms = (us: number): number => Math.round(us) / 1000;

/** Takes the path (each key enabled where it is taken) and writes what it did as a fault schedule. */
export function scheduleOfPath(scenario: Scenario, seed: number, faults: FaultBudget, reductions: Reductions, keys: readonly string[]): PathSchedule {
  const space = new Space(scenario, seed, faults, reductions);
  const s = space.initial();
  const hosts = s.world.hosts.length;
  const schedule: ScheduledFault[] = [];
  const down = new Map<number, ScheduledFault & { startUs: number }>();
  /** Per host, the spans [from, to] (us) its events were held up. */
  const held = new Map<number, [number, number][]>();
  const notKept: Record<string, number> = {};
  const skip = (why: string): void => {
    notKept[why] = (notKept[why] ?? 0) + 1;
  };
  let losses = 0;
  let violation = s.violation;
  try {
    for (const key of keys) {
      if (violation !== null) break;
      const c = s.find(key);
      if (c === undefined) throw new Error(`choice "${key}" is not enabled where the path takes it`);
      const now = s.now;
      switch (c.kind) {
        case 'crash': {
          const f = { atMs: ms(now), kind: 'crash' as const, hosts: [c.host], forMs: 0, count: 1, everyMs: 0, startUs: now };
          down.set(c.host, f);
          break;
        }
        case 'restart': {
          const f = down.get(c.host);
          if (f !== undefined) {
            down.delete(c.host);
            const { startUs, ...fault } = f;
            schedule.push({ ...fault, forMs: ms(now - startUs) });
          }
          break;
        }
        case 'lose': {
          const m = s.world.network.inFlightAt(c.id)!;
          schedule.push({ atMs: ms(now), kind: 'partition-one-way', hosts: [m.from], peers: [m.to], forMs: 0, count: 1, everyMs: 0 });
          losses++;
          break;
        }
        case 'duplicate':
          skip('duplicated message');
          break;
        case 'run':
          if (now > c.atUs) {
            if (c.owner >= 1 && c.owner <= hosts) {
              const spans = held.get(c.owner) ?? [];
              held.set(c.owner, spans);
              spans.push([c.atUs, now]);
            } else skip('held-up event of a client or the world');
          }
          break;
      }
      violation = s.apply(c);
    }
    const endUs = s.now;
    // A host the path never restarted stays down to the end of the run.
    for (const { startUs, ...fault } of down.values()) schedule.push({ ...fault, forMs: ms(endUs - startUs) + RUN_PAST_PATH_MS });
    let pauses = 0;
    for (const [host, spans] of [...held.entries()].sort((a, b) => a[0] - b[0])) {
      for (const [from, to] of merged(spans)) {
        schedule.push({ atMs: ms(from), kind: 'pause', hosts: [host], forMs: ms(to - from), count: 1, everyMs: 0 });
        pauses++;
      }
    }
    const crashes = schedule.filter((f) => f.kind === 'crash').length;
    const base = explorationScenario(scenario);
    // The scenario's own schedule ran in the path too.
    schedule.push(...base.faults.schedule);
    schedule.sort((a, b) => a.atMs - b.atMs);
    const durationS = Math.ceil(endUs / 1000 + RUN_PAST_PATH_MS) / 1000;
    return { scenario: { ...base, durationS, faults: { ...base.faults, schedule } }, crashes, losses, pauses, notKept };
  } finally {
    s.close();
  }
}

/** Overlapping or touching spans joined, in order. */
function merged(spans: [number, number][]): [number, number][] {
  const out: [number, number][] = [];
  for (const [from, to] of [...spans].sort((a, b) => a[0] - b[0])) {
    const last = out[out.length - 1];
    if (last !== undefined && from <= last[1]) last[1] = Math.max(last[1], to);
    else out.push([from, to]);
  }
  return out;
}

export interface SeedSearch {
  /** The first seed whose plain run fails the invariant, if any did. */
  seed: number | null;
  runs: number;
}

/**
 * The first seed from `first` on whose plain run of `scenario` fails
 * `invariant`, trying at most `maxRuns` seeds: a plain run takes events in
 * time order with latencies drawn from its seed, so the file's own seed
 * seldom takes the path's order, and another may come to the same failure.
 */
export function findFailingSeed(scenario: Scenario, invariant: string, first: number, maxRuns: number): SeedSearch {
  for (let i = 0; i < maxRuns; i++) {
    if (new World(scenario, first + i, {}).run().violation?.invariant === invariant) return { seed: first + i, runs: i + 1 };
  }
  return { seed: null, runs: maxRuns };
}
