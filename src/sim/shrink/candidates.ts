// The ways a failing scenario can be made smaller, each a pass that lists
// candidate scenarios one step simpler than the current one: fewer faults,
// shorter or simpler ones, fewer hosts, threads and operations, a shorter
// run, less loss, less latency spread and less clock skew. Integers shrink as
// fast-check shrinks them (the target first, then halfway and closer), so a
// parameter takes a few runs, not one per value. Candidates need not be valid:
// the shrinker validates each and skips the ones that are not.
import fc from 'fast-check';
import type { Scenario, ScheduledFault } from '../scenario.js';
import { replicationOf } from '../../host/config.js';

/** What a pass knows of the current failure besides its scenario. */
export interface Failing {
  scenario: Scenario;
  /** When the violation was found (microseconds). */
  violationUs: number;
}

export interface Pass {
  name: string;
  /** Accept a candidate only if its run has no more events than the current one (passes that simplify without shrinking). */
  needsFewerEvents: boolean;
  /**
   * A candidate that no longer fails with the seed may fail with another:
   * removing a crash renumbers that host's later incarnations, and each
   * draws its own random stream, so the rest of the run changes anyway.
   */
  reseed: boolean;
  candidates(f: Failing): Iterable<Scenario>;
}

/** fast-check's shrink of an integer toward `target`, without the value itself. */
export function* shrinkInteger(value: number, target: number): Iterable<number> {
  if (value === target) return;
  const arb = value > target ? fc.integer({ min: target, max: value }) : fc.integer({ min: value, max: target });
  for (const v of arb.shrink(value, undefined)) yield v.value;
}

/**
 * A real shrunk like an integer in thousandths (reals in scenarios read to
 * 0.001), but no closer to the value than a 16th of the way to the target:
 * a latency or a loss a hair smaller is no simpler, and each step taken
 * would start the rounds of every pass over again.
 */
function* shrinkReal(value: number, target: number): Iterable<number> {
  const least = Math.abs(value - target) / 16;
  for (const v of shrinkInteger(Math.round(value * 1000), Math.round(target * 1000))) {
    if (Math.abs(value - v / 1000) < least) return;
    yield v / 1000;
  }
}

type Schedule = ScheduledFault[];

function withSchedule(s: Scenario, schedule: Schedule): Scenario {
  return { ...s, faults: { ...s.faults, schedule } };
}

function withFault(s: Scenario, i: number, change: Partial<ScheduledFault>): Scenario {
  const schedule = s.faults.schedule.slice();
  schedule[i] = { ...schedule[i]!, ...change };
  return withSchedule(s, schedule);
}

/**
 * A run of `durationS` seconds: faults that would start after it are dropped,
 * the quiet period and the liveness bound are kept inside it.
 */
export function withDuration(s: Scenario, durationS: number): Scenario {
  const untilS = s.faults.untilS === undefined ? undefined : Math.min(s.faults.untilS, durationS);
  const schedule = s.faults.schedule.filter((f) => f.atMs < durationS * 1000);
  const out: Scenario = { ...s, durationS, faults: { ...s.faults, schedule, ...(untilS !== undefined ? { untilS } : {}) } };
  if (s.liveness !== undefined) {
    const room = durationS - (untilS ?? 0);
    if (room <= 0) delete out.liveness;
    else out.liveness = { withinS: Math.min(s.liveness.withinS, room) };
  }
  return out;
}

/**
 * Keeps only the last faults before the violation (the cause is most often
 * among them), then removes chunks, halves first, then quarters, down to
 * single faults (delta debugging's complements).
 */
const dropFaults: Pass = {
  name: 'drop faults',
  needsFewerEvents: false,
  reseed: true,
  *candidates({ scenario }) {
    const all = scenario.faults.schedule;
    if (all.length === 0) return;
    yield withSchedule(scenario, []);
    for (let keep = 1; keep < all.length / 2; keep *= 2) yield withSchedule(scenario, all.slice(all.length - keep));
    for (let size = Math.floor(all.length / 2); size >= 1; size = Math.floor(size / 2)) {
      for (let at = 0; at < all.length; at += size) {
        yield withSchedule(scenario, [...all.slice(0, at), ...all.slice(at + size)]);
      }
    }
  },
};

/** Stops the run just after an in-run violation; for an end-of-run check, shortens it step by step. */
const shorterRun: Pass = {
  name: 'shorter run',
  needsFewerEvents: false,
  reseed: false,
  *candidates({ scenario, violationUs }) {
    const endMs = Math.round(scenario.durationS * 1000);
    const violationMs = Math.ceil(violationUs / 1000);
    // The same run cut before its violation cannot find it: an in-run violation needs just the cut.
    if (violationMs < endMs) yield withDuration(scenario, (violationMs + 1) / 1000);
    else for (const ms of shrinkInteger(endMs, 1)) yield withDuration(scenario, ms / 1000);
  },
};

/**
 * The run cut to a 32nd of the time to its violation, then a 16th, an 8th, a
 * quarter, a half, each with other seeds: a nemesis that found a rare timing
 * late in a long run has made the same kind of faults from the start, and
 * another seed may meet the same rare timing in the first fraction of the
 * run. The shortest first: they cost least and, if they fail, save most.
 */
const earlierWindow: Pass = {
  name: 'earlier window',
  needsFewerEvents: true,
  reseed: true,
  *candidates({ scenario, violationUs }) {
    for (let part = 32; part >= 2; part /= 2) {
      const ms = Math.ceil(violationUs / 1000 / part);
      if (ms >= 1) yield withDuration(scenario, ms / 1000);
    }
  },
};

/** Host ids above `hosts` leave every fault; a fault left without the hosts it named is dropped. */
function withHosts(s: Scenario, hosts: number): Scenario {
  const keep = (ids: number[] | undefined): number[] | undefined => ids?.filter((h) => h <= hosts);
  const schedule: Schedule = [];
  for (const f of s.faults.schedule) {
    const g: ScheduledFault = { ...f };
    if (f.hosts !== undefined) g.hosts = keep(f.hosts);
    if (f.peers !== undefined) g.peers = keep(f.peers);
    if (f.links !== undefined) g.links = f.links.filter(([a, b]) => a <= hosts && b <= hosts);
    const lost = (f.hosts !== undefined && g.hosts!.length === 0) || (f.peers !== undefined && g.peers!.length === 0) || (f.links !== undefined && g.links!.length === 0);
    if (f.kind === 'partition' && g.hosts !== undefined && g.hosts.length >= hosts) continue;
    if (!lost) schedule.push(g);
  }
  const out: Scenario = { ...s, hosts, faults: { ...s.faults, schedule } };
  if (s.initialVoters !== undefined) out.initialVoters = Math.min(s.initialVoters, hosts);
  if (s.dsm !== undefined) {
    out.dsm = { ...s.dsm, ...(s.dsm.replication !== undefined ? { replication: Math.min(s.dsm.replication, hosts) } : {}) };
    if (s.dsm.appHosts !== undefined) out.dsm.appHosts = s.dsm.appHosts.filter((h) => h <= hosts);
  }
  return out;
}

const fewerHosts: Pass = {
  name: 'fewer hosts',
  needsFewerEvents: false,
  reseed: true,
  *candidates({ scenario }) {
    for (const n of shrinkInteger(scenario.hosts, 1)) yield withHosts(scenario, n);
  },
};

/** Each fault shorter, on fewer hosts, peers or links, or a smaller clock step or drift. */
const simplerFaults: Pass = {
  name: 'simpler faults',
  needsFewerEvents: false,
  reseed: false,
  *candidates({ scenario }) {
    const schedule = scenario.faults.schedule;
    for (let i = 0; i < schedule.length; i++) {
      const f = schedule[i]!;
      for (const ms of shrinkInteger(Math.ceil(f.forMs), 0)) yield withFault(scenario, i, { forMs: ms });
      for (const field of ['hosts', 'peers', 'links'] as const) {
        const list = f[field];
        if (list === undefined || list.length <= 1) continue;
        for (let j = 0; j < list.length; j++) yield withFault(scenario, i, { [field]: list.filter((_, k) => k !== j) });
      }
      if (f.amount !== undefined) for (const a of shrinkReal(f.amount, 0)) yield withFault(scenario, i, { amount: a });
    }
  },
};

/** Each fault later, toward the violation: the failure then needs less of the run after it. */
const laterFaults: Pass = {
  name: 'later faults',
  needsFewerEvents: true,
  reseed: false,
  *candidates({ scenario, violationUs }) {
    const schedule = scenario.faults.schedule;
    const lastMs = Math.floor(violationUs / 1000);
    for (let i = 0; i < schedule.length; i++) {
      const at = Math.ceil(schedule[i]!.atMs);
      for (const gap of shrinkInteger(lastMs - at, 0)) if (gap >= 0) yield withFault(scenario, i, { atMs: lastMs - gap });
    }
  },
};

/**
 * The whole schedule earlier, so the failure comes sooner: the first fault at
 * the start, then halfway, and closer; then each fault alone earlier. The
 * run is cut to twice the time the violation would then come at, so that a
 * candidate that fails with none of the seeds costs little more than one
 * that fails; a seed that fails later than that is not the smaller failure
 * sought.
 */
const earlierFaults: Pass = {
  name: 'earlier faults',
  needsFewerEvents: true,
  reseed: true,
  *candidates({ scenario, violationUs }) {
    const schedule = scenario.faults.schedule;
    if (schedule.length === 0) return;
    const first = Math.floor(schedule[0]!.atMs);
    for (const at of shrinkInteger(first, 0)) {
      const shift = first - at;
      const moved = withSchedule(scenario, schedule.map((f) => ({ ...f, atMs: Math.round((f.atMs - shift) * 1000) / 1000 })));
      yield cutToTwice(moved, violationUs / 1000 - shift);
    }
    // Then each fault alone, the last first (the cause is most often among the last).
    for (let i = schedule.length - 1; i >= 0; i--) {
      const at = Math.floor(schedule[i]!.atMs);
      for (const ms of shrinkInteger(at, 0)) yield cutToTwice(withFault(scenario, i, { atMs: ms }), violationUs / 1000 - (at - ms));
    }
  },
};

/** The run cut to twice `violationMs`, when that is shorter. */
function cutToTwice(s: Scenario, violationMs: number): Scenario {
  const untilMs = Math.ceil(2 * violationMs);
  return untilMs < s.durationS * 1000 ? withDuration(s, untilMs / 1000) : s;
}

/** Fewer application threads and operations (shared memory), or fewer clients, keys and groups (key-value). */
const lessWork: Pass = {
  name: 'less work',
  needsFewerEvents: false,
  reseed: true,
  *candidates({ scenario }) {
    const d = scenario.dsm;
    if (d !== undefined) {
      for (const n of shrinkInteger(d.threadsPerHost, 1)) yield { ...scenario, dsm: { ...d, threadsPerHost: n } };
      for (const n of shrinkInteger(replicationOf(d, scenario.hosts), 1)) yield { ...scenario, dsm: { ...d, replication: n } };
      for (const n of shrinkInteger(d.heap.pages, d.heap.rootPages + 1)) yield { ...scenario, dsm: { ...d, heap: { ...d.heap, pages: n } } };
      if (d.appHosts === undefined || d.appHosts.length > 1) {
        const hosts = d.appHosts ?? Array.from({ length: scenario.hosts }, (_, i) => i + 1);
        for (let j = 0; j < hosts.length; j++) yield { ...scenario, dsm: { ...d, appHosts: hosts.filter((_, k) => k !== j) } };
      }
      return;
    }
    const w = scenario.workload;
    for (const n of shrinkInteger(w.clients, 0)) yield { ...scenario, workload: { ...w, clients: n } };
    for (const n of shrinkInteger(w.keys, 1)) yield { ...scenario, workload: { ...w, keys: n } };
    for (const n of shrinkInteger(scenario.groups, 1)) yield { ...scenario, groups: n };
  },
};

/**
 * Each integer option of the workload smaller. Whether that is less work
 * depends on the option (fewer operations, or a shorter poll interval that
 * makes more), so only a run with fewer events counts.
 */
const smallerOptions: Pass = {
  name: 'smaller workload options',
  needsFewerEvents: true,
  reseed: false,
  *candidates({ scenario }) {
    const d = scenario.dsm;
    if (d === undefined) return;
    for (const [name, value] of Object.entries(d.workloadOptions)) {
      if (!Number.isInteger(value)) continue;
      for (const n of shrinkInteger(value, 0)) yield { ...scenario, dsm: { ...d, workloadOptions: { ...d.workloadOptions, [name]: n } } };
    }
  },
};

/** Less loss, duplication and reordering, a narrower latency, a tamer clock and disk. */
const calmerWorld: Pass = {
  name: 'calmer world',
  needsFewerEvents: false,
  reseed: false,
  *candidates({ scenario }) {
    const n = scenario.network;
    for (const field of ['loss', 'duplicate', 'reorder'] as const) {
      for (const p of shrinkReal(n[field], 0)) yield { ...scenario, network: { ...n, [field]: p } };
    }
    const l = n.latency;
    for (const max of shrinkReal(l.maxMs, l.meanMs)) yield { ...scenario, network: { ...n, latency: { ...l, maxMs: max } } };
    for (const mean of shrinkReal(l.meanMs, l.minMs)) yield { ...scenario, network: { ...n, latency: { ...l, meanMs: mean } } };
    const c = scenario.clock;
    for (const field of ['maxOffsetMs', 'maxDriftPpm', 'maxJumpMs'] as const) {
      for (const v of shrinkReal(c[field], 0)) yield { ...scenario, clock: { ...c, [field]: v } };
    }
    if (scenario.disk.tornWrites) yield { ...scenario, disk: { ...scenario.disk, tornWrites: false } };
    if (scenario.buggify !== undefined) {
      const { buggify: _, ...rest } = scenario;
      yield rest;
    }
  },
};

/** In order: the cheap big cuts first (a shorter run makes every later run cheaper), the polish last. */
export const PASSES: readonly Pass[] = [shorterRun, earlierWindow, dropFaults, fewerHosts, lessWork, smallerOptions, simplerFaults, calmerWorld, earlierFaults, laterFaults];
