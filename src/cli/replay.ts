// `gallocy replay`: reruns one seed in this process and prints its trace hash,
// which must match every other run of the same (code, scenario, seed).
// Optionally streams the trace to a file and checks determinism by running
// the seed twice. Exit 1 if the seed fails (per judge) or is not deterministic.
import { appendFileSync, closeSync, openSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import { judge, type RunOptions, type RunResult } from '../sim/result.js';
import type { Scenario } from '../sim/scenario.js';
import { describeDraws, drawScenario, type DrawnScenario } from '../sim/swarm.js';
import { runSeed as realRunSeed } from '../sim/run.js';
import { formatInspection } from '../sim/inspect.js';
import { stringify } from 'yaml';
import type { HostInspection } from '../sim/inspect.js';
import { EXIT_CHECK_FAILED, EXIT_OK, InputError } from '../input/errors.js';
import { formatCount, formatLastEvents, formatSeconds, type Io } from './output.js';
import { loadScenario } from './scenario-file.js';
import { readChoiceFile } from './check.js';
import { ChoiceMismatch, replayChoices } from '../sim/explore/explorer.js';
import { kvHistoryByKey } from './view-history.js';
import { writeViewPage } from './view.js';
import type { ReplayReport as PathReplay } from '../sim/explore/explorer.js';

/** runSeed threw: a crash in the simulator, reported like a failed check. */
export class SimulatorCrash extends Error {
  constructor(readonly seed: number, cause: unknown) {
    super(`seed ${seed} crashed in the simulator: ${cause instanceof Error ? (cause.stack ?? cause.message) : String(cause)}`, { cause });
    this.name = 'SimulatorCrash';
  }
}

export interface ReplayArgs {
  scenario: string;
  seed: number;
  trace?: string;
  json: boolean;
  checkDeterminism: boolean;
  stopAt?: number;
  inspect?: boolean;
  /** Write the scenario the seed drew to this file (YAML; replaying it with the seed gives the same run). */
  drawn?: string;
  /** Print every coverage probe's count (the JSON report always has them). */
  probes?: boolean;
  /** Write the run as a page (gallocy view) to this file; the trace goes to --trace, or beside it. */
  view?: string;
}

export interface ReplayDeps {
  io: Io;
  runSeed?: (scenario: Scenario, seed: number, options: RunOptions) => RunResult;
}

export interface ReplayReport extends Pick<RunResult, 'traceHash' | 'events' | 'simSeconds' | 'violation' | 'probes' | 'faultPointsFired'> {
  scenario: string;
  seed: number;
  /** Only with --check-determinism. */
  deterministic?: boolean;
  /** Only with --inspect. */
  inspection?: HostInspection[];
  /** For a scenario whose fields vary per seed: what this seed drew, by field, and the whole scenario it ran. */
  drew?: Record<string, unknown>;
  drawn?: Scenario;
}

export async function replayCommand(args: ReplayArgs, deps: ReplayDeps): Promise<number> {
  const { io } = deps;
  const run = deps.runSeed ?? realRunSeed;
  // A throw inside the simulator is a failed run (exit 1) with its stack, as in fuzz.
  const runSeed = (sc: Scenario, seed: number, options: RunOptions): RunResult => {
    try {
      return run(sc, seed, options);
    } catch (err) {
      throw new SimulatorCrash(seed, err);
    }
  };
  const { spec } = loadScenario(args.scenario);
  const drawn = drawScenario(spec, args.seed);
  const scenario = drawn.scenario;
  if (args.drawn !== undefined) writeDrawn(args.drawn, drawn, args.seed);
  if (args.stopAt !== undefined && args.stopAt > scenario.durationS) {
    throw new InputError(`--stop-at: expected at most the scenario's durationS (${scenario.durationS}), got ${args.stopAt}`);
  }
  const base: RunOptions = { ...(args.stopAt !== undefined ? { stopAtS: args.stopAt } : {}), ...(args.inspect ? { inspect: true } : {}) };

  const traceFile = args.trace ?? (args.view !== undefined ? args.view.replace(/(\.html?)?$/, '.jsonl') : undefined);
  const result = traceFile !== undefined ? runWithTrace(traceFile, (sink) => runSeed(scenario, args.seed, { ...base, traceSink: sink })) : runSeed(scenario, args.seed, base);
  if (traceFile !== undefined && result.violation !== null) appendViolation(traceFile, scenario, args.seed, result);
  if (args.view !== undefined) {
    const page = writeViewPage(traceFile!, args.view, `${scenario.name}, seed ${args.seed}`);
    io.err(`gallocy: wrote ${page.file} (trace ${traceFile}); open it in a browser\n`);
  }
  const second = args.checkDeterminism ? runSeed(scenario, args.seed, base) : null;
  const deterministic = second === null ? undefined : second.traceHash === result.traceHash && second.events === result.events;

  const verdict = judge(scenario, result);
  if (args.json) {
    const report: ReplayReport = {
      scenario: scenario.name,
      seed: args.seed,
      traceHash: result.traceHash,
      events: result.events,
      simSeconds: result.simSeconds,
      violation: result.violation,
      probes: result.probes,
      faultPointsFired: result.faultPointsFired,
      ...(deterministic !== undefined ? { deterministic } : {}),
      ...(result.inspection !== undefined ? { inspection: result.inspection } : {}),
      ...(drawn.drew.length > 0 ? { drew: Object.fromEntries(drawn.drew), drawn: scenario } : {}),
    };
    io.out(`${JSON.stringify(report)}\n`);
  } else {
    io.out(formatReplayText(scenario, args, result, verdict.reason, second, drawn.drew.length > 0 ? describeDraws(drawn) : null));
    if (result.inspection !== undefined) io.out(formatInspection(result.inspection));
  }
  if (second !== null && !deterministic) {
    io.err(
      `gallocy: NOT DETERMINISTIC: seed ${args.seed} of ${scenario.name} gave trace hash ${result.traceHash} (${result.events} events) ` +
        `then ${second.traceHash} (${second.events} events) in the same process\n`,
    );
    return EXIT_CHECK_FAILED;
  }
  return verdict.failed ? EXIT_CHECK_FAILED : EXIT_OK;
}

/**
 * After a failing run's events, the trace says what failed, for `gallocy
 * view`: a `violation` line, and for a linearizability failure the history
 * per key as the checker ordered it.
 */
function appendViolation(file: string, scenario: Scenario, seed: number, result: RunResult): void {
  const v = result.violation!;
  let lines = `${JSON.stringify({ t: v.timeUs, host: 0, kind: 'violation', invariant: v.invariant, message: v.message, window: v.lastEvents.length })}\n`;
  if (v.invariant === 'linearizability' && scenario.dsm === undefined) lines += `${JSON.stringify({ kind: 'history', keys: kvHistoryByKey(scenario, seed) })}\n`;
  try {
    appendFileSync(file, lines);
  } catch (err) {
    throw new InputError(`${path.resolve(file)}: cannot write trace file: ${(err as Error).message}`);
  }
}

/** The drawn scenario as a scenario file: `--scenario FILE --seed K` replays the same run. */
function writeDrawn(file: string, drawn: DrawnScenario, seed: number): void {
  const header = `# ${drawn.scenario.name} as seed ${seed} drew it${drawn.drew.length > 0 ? `: ${describeDraws(drawn)}` : ' (nothing varies per seed)'}\n`;
  try {
    writeFileSync(file, header + stringify(drawn.raw));
  } catch (err) {
    throw new InputError(`${path.resolve(file)}: cannot write the drawn scenario: ${(err as Error).message}`);
  }
}

/**
 * Streams trace lines to `file` as they are produced, in order, buffering up
 * to 64 KiB between synchronous writes so memory stays bounded however long
 * the run is.
 */
function runWithTrace(file: string, run: (sink: (line: string) => void) => RunResult): RunResult {
  let fd: number;
  try {
    fd = openSync(file, 'w');
  } catch (err) {
    throw new InputError(`${path.resolve(file)}: cannot write trace file: ${(err as Error).message}`);
  }
  let buf = '';
  const flush = (): void => {
    const chunk = buf;
    buf = '';
    if (chunk !== '') writeSync(fd, chunk);
  };
  try {
    const result = run((line) => {
      buf += line.endsWith('\n') ? line : `${line}\n`;
      if (buf.length >= 65536) flush();
    });
    flush();
    return result;
  } finally {
    // Keep what was traced up to a crash in the simulator: it is the useful part.
    try {
      flush();
    } finally {
      closeSync(fd);
    }
  }
}

/** Each probe's count in table order, then the ones this run never reached. */
function formatProbes(probes: Readonly<Record<string, number>>): string[] {
  const names = Object.keys(probes);
  const reached = names.filter((n) => probes[n]! > 0);
  const width = Math.max(0, ...reached.map((n) => n.length));
  const lines = [`  probes      ${reached.length} of ${names.length} reached`];
  for (const n of reached) lines.push(`    ${n.padEnd(width)}  ${formatCount(probes[n]!)}`);
  const missed = names.filter((n) => probes[n] === 0);
  if (missed.length > 0) lines.push(`    never reached: ${missed.join(', ')}`);
  return lines;
}

function formatReplayText(scenario: Scenario, args: ReplayArgs, r: RunResult, reason: string, second: RunResult | null, drew: string | null): string {
  const lines = [
    `${scenario.name}, seed ${args.seed}${args.stopAt !== undefined ? ` (stopped at ${args.stopAt} s)` : ''}`,
    ...(drew !== null ? [`  drew        ${drew}`] : []),
    `  trace hash  ${r.traceHash}`,
    `  events      ${formatCount(r.events)}`,
    `  simulated   ${formatSeconds(r.simSeconds)}`,
  ];
  if (r.faultKinds.length > 0) lines.push(`  faults      ${r.faultKinds.join(', ')}`);
  const fired = Object.entries(r.faultPointsFired);
  if (fired.length > 0) lines.push(`  buggify     ${fired.map(([name, n]) => `${name} ${formatCount(n)}`).join(', ')}`);
  if (args.trace !== undefined) lines.push(`  trace       ${args.trace}`);
  const v = r.violation;
  if (v === null) {
    lines.push('  no violation');
  } else {
    lines.push(`  VIOLATION   ${v.invariant} at ${(v.timeUs / 1e6).toFixed(6)} s: ${v.message}`);
    lines.push(...formatLastEvents(v.lastEvents));
  }
  if (reason !== '' && scenario.expect) lines.push(`  FAILED: ${reason}`);
  if (args.probes) lines.push(...formatProbes(r.probes));
  if (second !== null) {
    lines.push(
      second.traceHash === r.traceHash && second.events === r.events
        ? '  determinism: a second run gave the same trace hash'
        : `  determinism: FAILED: a second run gave ${second.traceHash} (${formatCount(second.events)} events)`,
    );
  }
  return `${lines.join('\n')}\n`;
}

export interface ReplayChoicesArgs {
  scenario: string;
  choices: string;
  json: boolean;
}

/** The --json report of replay --choices. */
export interface ReplayChoicesReport extends Pick<PathReplay, 'steps' | 'traceHash' | 'simSeconds' | 'violation'> {
  scenario: string;
  seed: number;
  choices: string;
  /** The violation the file recorded (null if none). */
  recorded: { invariant: string; message: string } | null;
  /** Whether the path ended in the violation the file recorded. */
  same: boolean;
}

/**
 * `gallocy replay --choices FILE`: takes a choice file's path again from the
 * initial state and reports what it reaches. Exit 1 if it ends in a violation.
 */
export function replayChoicesCommand(args: ReplayChoicesArgs, deps: { io: Io }): number {
  const { spec } = loadScenario(args.scenario);
  const file = readChoiceFile(args.choices, spec.base.name);
  const scenario = drawScenario(spec, file.seed).scenario;
  let r: PathReplay;
  try {
    r = replayChoices(scenario, file.seed, file.faults, file.reductions, file.choices.map((c) => c.key));
  } catch (err) {
    if (err instanceof ChoiceMismatch) throw new InputError(`${args.choices}: ${err.message} (the file was made for another version, seed or scenario)`);
    throw new SimulatorCrash(file.seed, err);
  }
  const recorded = file.violation;
  const v = r.violation;
  const same = recorded === null ? v === null : v !== null && v.invariant === recorded.invariant && v.message === recorded.message;
  if (args.json) {
    const report: ReplayChoicesReport = { scenario: scenario.name, seed: file.seed, choices: args.choices, steps: r.steps, traceHash: r.traceHash, simSeconds: r.simSeconds, violation: v, recorded, same };
    deps.io.out(`${JSON.stringify(report)}\n`);
  } else {
    const lines = [
      `${scenario.name}, seed ${file.seed}, ${r.steps} of ${file.choices.length} choices from ${args.choices}`,
      `  trace hash  ${r.traceHash}`,
      `  simulated   ${formatSeconds(r.simSeconds)}`,
    ];
    if (v === null) lines.push('  no violation');
    else {
      lines.push(`  VIOLATION   ${v.invariant} at ${(v.timeUs / 1e6).toFixed(6)} s: ${v.message}`);
      lines.push(...formatLastEvents(v.lastEvents));
    }
    lines.push(same ? '  the same outcome as the file records' : `  NOT the outcome the file records (${recorded === null ? 'no violation' : `${recorded.invariant}: ${recorded.message}`})`);
    deps.io.out(`${lines.join('\n')}\n`);
  }
  return v !== null || !same ? EXIT_CHECK_FAILED : EXIT_OK;
}
