// `gallocy fuzz`: runs seeds start..start+seeds-1 of one scenario across worker
// threads, judges each result, and reports failures with the command that
// replays them. Exit 1 if any seed failed, 0 otherwise.
import type { Scenario } from '../sim/scenario.js';
import { judge } from '../sim/result.js';
import { FAULT_POINT_NAMES } from '../host/fault-points.js';
import { PROBE_NAMES } from '../host/probes.js';
import { EXIT_CHECK_FAILED, EXIT_OK, InputError } from '../input/errors.js';
import { formatCount, formatSeconds, rate, replayCommand, type Io } from './output.js';
import { runPool, type SeedOutcome } from './pool.js';
import { createProgress } from './progress.js';
import { loadScenario } from './scenario-file.js';

export interface FuzzArgs {
  scenario: string;
  seeds: number;
  start: number;
  jobs: number;
  json: boolean;
  stopOnFirst: boolean;
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
}

/** The --json report: exactly this object on stdout. */
export interface FuzzReport {
  scenario: string;
  /** Seeds that ran (fewer than asked only with --stop-on-first). */
  seeds: number;
  start: number;
  failures: FuzzFailure[];
  events: number;
  simSeconds: number;
  wallSeconds: number;
  /** Only for a scenario with expect.violation: how many seeds found that violation. */
  expectedViolations?: number;
  /** Every coverage probe by name, with its total over the seeds that ran. */
  probes: Record<string, number>;
  /** The probes no seed reached, in table order. */
  probesMissed: string[];
  /** Fault points (buggify) by name, with how often they fired over the campaign (only points some seed enabled). */
  faultPointsFired: Record<string, number>;
}

export async function fuzzCommand(args: FuzzArgs, deps: FuzzDeps): Promise<number> {
  const { io } = deps;
  const now = deps.now ?? (() => performance.now());
  if (args.start > Number.MAX_SAFE_INTEGER - (args.seeds - 1)) {
    throw new InputError(`--start: expected start + seeds - 1 <= ${Number.MAX_SAFE_INTEGER}, got ${args.start} + ${args.seeds} - 1`);
  }
  const loaded = loadScenario(args.scenario);
  const scenario = loaded.scenario;
  const seeds = Array.from({ length: args.seeds }, (_, i) => args.start + i);

  const failures: FuzzFailure[] = [];
  let done = 0;
  let events = 0;
  let simSeconds = 0;
  let expectedFound = 0;
  const probes = Object.fromEntries(PROBE_NAMES.map((n) => [n, 0]));
  const faultPointsFired: Record<string, number> = {};
  const started = now();
  const progress = createProgress(io, seeds.length, now);

  const onOutcome = (o: SeedOutcome): void | 'stop' => {
    done++;
    if (o.kind === 'result') {
      events += o.result.events;
      simSeconds += o.result.simSeconds;
      if (scenario.expect && o.result.violation?.invariant === scenario.expect.violation) expectedFound++;
      addCounts(probes, o.result.probes);
      addCounts(faultPointsFired, o.result.faultPointsFired);
    }
    const failure = toFailure(scenario, loaded.ref, o);
    if (failure) failures.push(failure);
    progress.update(done, failures.length, events);
    return failure && args.stopOnFirst ? 'stop' : undefined;
  };

  try {
    await runPool({ scenario, seeds, jobs: args.jobs, runnerModule: deps.runnerModule, onOutcome });
  } finally {
    progress.stop();
  }

  failures.sort((a, b) => a.seed - b.seed);
  const report: FuzzReport = {
    scenario: scenario.name,
    seeds: done,
    start: args.start,
    failures,
    events,
    simSeconds,
    wallSeconds: (now() - started) / 1000,
    ...(scenario.expect ? { expectedViolations: expectedFound } : {}),
    probes,
    probesMissed: PROBE_NAMES.filter((n) => probes[n] === 0),
    faultPointsFired: Object.fromEntries(FAULT_POINT_NAMES.filter((n) => n in faultPointsFired).map((n) => [n, faultPointsFired[n]!])),
  };
  io.out(args.json ? `${JSON.stringify(report)}\n` : formatFuzzText(report, scenario, args));
  return failures.length > 0 ? EXIT_CHECK_FAILED : EXIT_OK;
}

/** Adds a run's counts by name into the campaign's (a run from another build may lack some or have more). */
function addCounts(total: Record<string, number>, run: Readonly<Record<string, number>> | undefined): void {
  for (const [name, n] of Object.entries(run ?? {})) total[name] = (total[name] ?? 0) + n;
}

/** Judges one outcome; null if the seed passed. A crash always fails. */
function toFailure(scenario: Scenario, ref: string, o: SeedOutcome): FuzzFailure | null {
  const replay = replayCommand(ref, o.seed);
  if (o.kind === 'crash') return { seed: o.seed, invariant: 'crash', message: o.stack, replay };
  const verdict = judge(scenario, o.result);
  if (!verdict.failed) return null;
  const v = o.result.violation;
  if (v === null) return { seed: o.seed, invariant: 'expected-violation', message: verdict.reason, replay };
  // Without expect the reason repeats the invariant; keep just the message then.
  return { seed: o.seed, invariant: v.invariant, message: scenario.expect ? verdict.reason : v.message, replay };
}

export function formatFuzzText(r: FuzzReport, scenario: Scenario, args: FuzzArgs): string {
  const lines: string[] = [];
  for (const f of r.failures) {
    lines.push(`FAIL seed ${f.seed}: ${f.invariant}`);
    for (const l of f.message.split('\n')) lines.push(`  ${l}`);
    lines.push(`  replay: ${f.replay}`, '');
  }
  const last = r.start + r.seeds - 1;
  const range = r.seeds === 0 ? 'no seeds' : r.seeds === 1 ? `seed ${r.start}` : `seeds ${r.start}..${last}`;
  const stopped = r.seeds < args.seeds ? ` (stopped at the first failure; ${args.seeds - r.seeds} seeds not run)` : '';
  lines.push(`${r.scenario}: ${r.seeds} ${r.seeds === 1 ? 'seed' : 'seeds'} (${range}), ${r.failures.length} failed${stopped}`);
  if (r.expectedViolations !== undefined && scenario.expect) {
    lines.push(`  expected ${scenario.expect.violation}: found by ${r.expectedViolations} of ${r.seeds} seeds`);
  }
  lines.push(
    `  events     ${formatCount(r.events)}`,
    `  simulated  ${formatSeconds(r.simSeconds)}`,
    `  wall       ${formatSeconds(r.wallSeconds, 2)}`,
    `  speed      ${formatCount(rate(r.events, r.wallSeconds))} events per wall second`,
    `  probes     ${PROBE_NAMES.length - r.probesMissed.length} of ${PROBE_NAMES.length} reached`,
  );
  if (r.probesMissed.length > 0) lines.push(`  never reached: ${r.probesMissed.join(', ')}`);
  const fired = Object.entries(r.faultPointsFired);
  if (fired.length > 0) lines.push(`  buggify    ${fired.map(([name, n]) => `${name} ${formatCount(n)}`).join(', ')}`);
  return `${lines.join('\n')}\n`;
}
