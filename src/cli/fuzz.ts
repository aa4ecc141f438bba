// `gallocy fuzz`: runs seeds start..start+seeds-1 of one scenario (or one
// shard of them) across worker threads, judges each result, and reports
// failures with the command that replays them. With a seed file, the seeds
// that failed before run first, and new failures are recorded. Exit 1 if any
// seed failed, 0 otherwise.
import { expectedViolations, expectLabel } from '../sim/scenario.js';
import type { Scenario } from '../sim/scenario.js';
import { judge } from '../sim/result.js';
import { describeDraws, drawScenario, type ScenarioSpec } from '../sim/swarm.js';
import { FAULT_POINT_NAMES } from '../host/fault-points.js';
import { PROBE_NAMES } from '../host/probes.js';
import { EXIT_CHECK_FAILED, EXIT_OK, InputError } from '../input/errors.js';
import type { TraceEvent } from '../host/trace-events.js';
import { describeRange, inShard, scenarioHash, shardOf, shardSeeds, shardSize, WHOLE_CAMPAIGN, type Campaign, type Shard } from './campaign.js';
import { formatCount, formatLastEvents, formatSeconds, rate, replayCommand, shrinkCommandLine, type Io } from './output.js';
import { DEFAULT_MAX_RUNS, shrinkSeed, type ShrinkJson } from './shrink.js';
import { runPool, type SeedOutcome } from './pool.js';
import { createProgress } from './progress.js';
import { loadScenario } from './scenario-file.js';
import { formatRecorded, readSeedFile, recordNewFailures, seedsToRerun } from './seed-file.js';

export interface FuzzArgs {
  scenario: string;
  seeds: number;
  start: number;
  jobs: number;
  json: boolean;
  stopOnFirst: boolean;
  /** Run only this shard of the seeds (default: all of them, shard 1/1). */
  shard?: Shard;
  /** Re-run the failures recorded here first, and record new ones. */
  seedFile?: string;
  /** Shrink the first failure (gallocy shrink) and report it too. */
  shrink?: boolean;
}

export interface FuzzDeps {
  io: Io;
  /** Module URL exporting runSeed; tests substitute a stand-in. */
  runnerModule?: string;
  /** Wall clock in milliseconds (for the summary only, never inside a run). */
  now?: () => number;
}

export interface FuzzFailure {
  seed: number;
  invariant: string;
  message: string;
  replay: string;
  /** The command that shrinks it (absent for a crash, or an expected violation not found: nothing to shrink). */
  shrink?: string;
  /** What the seed drew, for a scenario whose fields vary per seed. */
  drew?: string;
  /** The trace's last events before the violation, oldest first (none for a crash or a missing violation). */
  lastEvents: TraceEvent[];
}

/** How many of a failure's last events the text report shows (replay shows them all). */
const TEXT_EVENTS = 10;

/** The --json report: exactly this object on stdout. */
export interface FuzzReport {
  scenario: string;
  /** Seeds of the campaign's range (this shard's part of it) that ran; fewer than asked only with --stop-on-first. */
  seeds: number;
  start: number;
  /** Failures among those seeds, by seed. */
  failures: FuzzFailure[];
  events: number;
  simSeconds: number;
  /** Wall time of the whole command; in a merged report, summed over the shards. */
  wallSeconds: number;
  /** Only for a scenario with expect.violation: how many seeds found that violation. */
  expectedViolations?: number;
  campaign: Campaign;
  /** Which shard of campaign.shards this is (1-based); absent in a merged report. */
  shard?: number;
  /** Only with --seed-file: the past failures of this shard that ran first, and those that failed again. */
  rerun?: { seeds: number; failures: FuzzFailure[] };
  /** Only in a report made by `gallocy merge`. */
  merged?: { wallSecondsMax: number };
  /** Every coverage probe by name, with its total over the seeds of the range. */
  probes: Record<string, number>;
  /** The probes no seed of the range reached, in table order. */
  probesMissed: string[];
  /** Fault points (buggify) by name, with how often they fired (only points some seed enabled), in table order. */
  faultPointsFired: Record<string, number>;
  /** Only with --shrink: the first shrinkable failure, shrunk. */
  shrunk?: ShrinkJson;
}

/** What a set of outcomes adds up to. */
interface Tally {
  seeds: number;
  failures: FuzzFailure[];
  events: number;
  simSeconds: number;
  expectedFound: number;
  probes: Record<string, number>;
  fired: Record<string, number>;
}

const emptyTally = (): Tally => ({ seeds: 0, failures: [], events: 0, simSeconds: 0, expectedFound: 0, probes: {}, fired: {} });

export async function fuzzCommand(args: FuzzArgs, deps: FuzzDeps): Promise<number> {
  const { io } = deps;
  const now = deps.now ?? (() => performance.now());
  if (args.start > Number.MAX_SAFE_INTEGER - (args.seeds - 1)) {
    throw new InputError(`--start: expected start + seeds - 1 <= ${Number.MAX_SAFE_INTEGER}, got ${args.start} + ${args.seeds} - 1`);
  }
  const loaded = loadScenario(args.scenario);
  const spec = loaded.spec;
  const scenario = spec.base;
  const shard = args.shard ?? WHOLE_CAMPAIGN;
  const campaign: Campaign = {
    scenario: scenario.name,
    scenarioHash: scenarioHash(spec),
    start: args.start,
    seeds: args.seeds,
    shards: shard.count,
    stopOnFirst: args.stopOnFirst,
    ...(scenario.expect ? { expect: expectLabel(scenario)! } : {}),
  };
  const past = args.seedFile !== undefined ? readSeedFile(args.seedFile) : undefined;
  // A past failure is re-run by the shard that owns its seed, so shards re-run
  // disjoint sets, and failures another shard appends meanwhile are not its business.
  const rerunSeeds = past ? seedsToRerun(past, campaign, (s) => shardOf(s, args.start, shard.count) === shard.index) : [];
  const isRerun = new Set(rerunSeeds);
  // A past failure inside the range runs once and counts for both.
  const seeds = [...rerunSeeds, ...shardSeeds(args.start, args.seeds, shard).filter((s) => !isRerun.has(s))];

  const range = emptyTally();
  const rerun = emptyTally();
  let done = 0;
  let failed = 0;
  let events = 0;
  const started = now();
  const progress = createProgress(io, seeds.length, now);

  const onOutcome = (o: SeedOutcome): void | 'stop' => {
    done++;
    const failure = toFailure(spec, loaded.ref, o);
    if (isRerun.has(o.seed)) add(rerun, o, failure, scenario);
    if (inShard(o.seed, campaign, shard.index)) add(range, o, failure, scenario);
    if (failure) failed++;
    if (o.kind === 'result') events += o.result.events;
    progress.update(done, failed, events);
    return failure && args.stopOnFirst ? 'stop' : undefined;
  };

  try {
    await runPool({ scenario: spec, seeds, jobs: args.jobs, runnerModule: deps.runnerModule, onOutcome });
  } finally {
    progress.stop();
  }

  const report: FuzzReport = {
    scenario: scenario.name,
    seeds: range.seeds,
    start: args.start,
    failures: bySeed(range.failures),
    events: range.events,
    simSeconds: range.simSeconds,
    wallSeconds: (now() - started) / 1000,
    ...(scenario.expect ? { expectedViolations: range.expectedFound } : {}),
    campaign,
    shard: shard.index,
    ...(past ? { rerun: { seeds: rerun.seeds, failures: bySeed(rerun.failures) } } : {}),
    ...coverage([range.probes], [range.fired]),
  };
  const first = args.shrink ? report.failures.find((f) => f.shrink !== undefined) : undefined;
  const shrunk = first !== undefined ? shrinkSeed({ scenario: loaded.ref, seed: first.seed, maxRuns: DEFAULT_MAX_RUNS, anyMessage: false, json: args.json }, io) : undefined;
  if (shrunk !== undefined) report.shrunk = shrunk.json;
  io.out(args.json ? `${JSON.stringify(report)}\n` : formatFuzzText(report) + (shrunk !== undefined ? `\nshrunk the first failure:\n${shrunk.text}` : ''));
  if (past && args.seedFile !== undefined) {
    const recorded = recordNewFailures(args.seedFile, past, campaign, report.failures);
    if (!args.json) io.out(formatRecorded(args.seedFile, recorded));
  }
  return reportFailed(report) ? EXIT_CHECK_FAILED : EXIT_OK;
}

function add(t: Tally, o: SeedOutcome, failure: FuzzFailure | null, scenario: Scenario): void {
  t.seeds++;
  if (failure) t.failures.push(failure);
  if (o.kind !== 'result') return;
  t.events += o.result.events;
  t.simSeconds += o.result.simSeconds;
  const v = o.result.violation;
  if (v !== null && (expectedViolations(scenario)?.includes(v.invariant) ?? false)) t.expectedFound++;
  addCounts(t.probes, o.result.probes);
  addCounts(t.fired, o.result.faultPointsFired);
}

/** Adds counts by name into a total (a runner module of another build may give fewer, more or none). */
function addCounts(total: Record<string, number>, more: Readonly<Record<string, number>> | undefined): void {
  for (const [name, n] of Object.entries(more ?? {})) total[name] = (total[name] ?? 0) + n;
}

/** A report's probe and fault-point totals from runs' or shards' counts: every probe listed, points in table order. */
export function coverage(
  probeCounts: readonly Readonly<Record<string, number>>[], firedCounts: readonly Readonly<Record<string, number>>[],
): Pick<FuzzReport, 'probes' | 'probesMissed' | 'faultPointsFired'> {
  const probes: Record<string, number> = Object.fromEntries(PROBE_NAMES.map((n) => [n, 0]));
  for (const c of probeCounts) addCounts(probes, c);
  const fired: Record<string, number> = {};
  for (const c of firedCounts) addCounts(fired, c);
  const known = FAULT_POINT_NAMES.filter((n) => n in fired);
  const others = Object.keys(fired).filter((n) => !FAULT_POINT_NAMES.includes(n)).sort();
  return {
    probes,
    probesMissed: Object.keys(probes).filter((n) => probes[n] === 0),
    faultPointsFired: Object.fromEntries([...known, ...others].map((n) => [n, fired[n]!])),
  };
}

export function bySeed<T extends { seed: number }>(failures: readonly T[]): T[] {
  return [...failures].sort((a, b) => a.seed - b.seed);
}

/** Whether the report's seeds, or its re-run past failures, failed: fuzz and merge exit 1 then. */
export function reportFailed(r: FuzzReport): boolean {
  return r.failures.length > 0 || (r.rerun?.failures.length ?? 0) > 0;
}

/** Judges one outcome; null if the seed passed. A crash always fails. */
function toFailure(spec: ScenarioSpec, ref: string, o: SeedOutcome): FuzzFailure | null {
  const scenario = spec.base;
  const replay = replayCommand(ref, o.seed);
  const failure = (invariant: string, message: string, lastEvents: TraceEvent[], shrinkable = false): FuzzFailure => {
    // Drawing again is cheap and pure: the same seed draws the same scenario as in the worker.
    const drew = spec.sites.length > 0 ? describeDraws(drawScenario(spec, o.seed)) : '';
    return { seed: o.seed, invariant, message, replay, ...(shrinkable ? { shrink: shrinkCommandLine(ref, o.seed) } : {}), ...(drew !== '' ? { drew } : {}), lastEvents };
  };
  if (o.kind === 'crash') return failure('crash', o.stack, []);
  const verdict = judge(scenario, o.result);
  if (!verdict.failed) return null;
  const v = o.result.violation;
  if (v === null) return failure('expected-violation', verdict.reason, []);
  // Without expect the reason repeats the invariant; keep just the message then.
  return failure(v.invariant, scenario.expect ? verdict.reason : v.message, v.lastEvents, true);
}

export function formatFuzzText(r: FuzzReport): string {
  const lines: string[] = [];
  // A past failure that ran again inside the range is the same run: print it once.
  const inRange = new Set(r.failures.map((f) => f.seed));
  for (const f of bySeed([...r.failures, ...(r.rerun?.failures ?? []).filter((f) => !inRange.has(f.seed))])) {
    lines.push(`FAIL seed ${f.seed}: ${f.invariant}`);
    if (f.drew !== undefined) lines.push(`  drew: ${f.drew}`);
    for (const l of f.message.split('\n')) lines.push(`  ${l}`);
    lines.push(...formatLastEvents(f.lastEvents.slice(-TEXT_EVENTS)));
    lines.push(`  replay: ${f.replay}`, ...(f.shrink !== undefined ? [`  shrink: ${f.shrink}`] : []), '');
  }
  const c = r.campaign;
  const range = describeRange(c.start, c.seeds);
  const part = r.merged ? `${range}, ${c.shards} shards merged` : c.shards > 1 ? `shard ${r.shard}/${c.shards} of ${range}` : range;
  const asked = r.shard !== undefined ? shardSize(c.seeds, { index: r.shard, count: c.shards }) : c.seeds;
  const stopped = r.seeds < asked ? ` (stopped at the first failure; ${asked - r.seeds} seeds not run)` : '';
  lines.push(`${r.scenario}: ${r.seeds} ${r.seeds === 1 ? 'seed' : 'seeds'} (${part}), ${r.failures.length} failed${stopped}`);
  if (r.rerun) {
    const seeds = r.rerun.failures.map((f) => f.seed);
    const again = seeds.length > 10 ? `${seeds.slice(0, 10).join(', ')} and ${seeds.length - 10} more` : seeds.join(', ');
    lines.push(`  re-run     ${r.rerun.seeds} past ${r.rerun.seeds === 1 ? 'failure' : 'failures'} first, ${r.rerun.failures.length} failed again${again ? ` (seeds ${again})` : ''}`);
  }
  if (r.expectedViolations !== undefined && c.expect !== undefined) {
    lines.push(`  expected ${c.expect}: found by ${r.expectedViolations} of ${r.seeds} seeds`);
  }
  const wall = r.merged
    ? `${formatSeconds(r.wallSeconds, 2)} summed over ${c.shards} shards, ${formatSeconds(r.merged.wallSecondsMax, 2)} the longest`
    : formatSeconds(r.wallSeconds, 2);
  lines.push(
    `  events     ${formatCount(r.events)}`,
    `  simulated  ${formatSeconds(r.simSeconds)}`,
    `  wall       ${wall}`,
    `  speed      ${formatCount(rate(r.events, r.wallSeconds))} events per wall second${r.merged ? ' of a shard' : ''}`,
    `  probes     ${PROBE_NAMES.length - r.probesMissed.length} of ${PROBE_NAMES.length} reached`,
  );
  if (r.probesMissed.length > 0) lines.push(`  never reached: ${r.probesMissed.join(', ')}`);
  const fired = Object.entries(r.faultPointsFired);
  if (fired.length > 0) lines.push(`  buggify    ${fired.map(([name, n]) => `${name} ${formatCount(n)}`).join(', ')}`);
  return `${lines.join('\n')}\n`;
}
