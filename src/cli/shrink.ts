// `gallocy shrink`: turns a failing seed into a small explicit scenario that
// fails the same way (src/sim/shrink/signature.ts), writes it as YAML, and prints the
// sizes before and after and how many runs it took. Exit 1: the shrunk
// scenario fails (as the seed did); 2: bad input, or a seed that does not fail.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import { drawScenario } from '../sim/swarm.js';
import type { Scenario } from '../sim/scenario.js';
import { NoFailure, shrinkFailure, type ShrinkReport, type ShrinkSize } from '../sim/shrink/shrink.js';
import { withoutDefaults } from '../sim/shrink/prune.js';
import { EXIT_CHECK_FAILED, InputError } from '../input/errors.js';
import { formatCount, replayCommand, shellQuote, type Io } from './output.js';
import { loadScenario } from './scenario-file.js';
import { readChoiceFile } from './check.js';
import { shrinkPath, type PathSize } from '../sim/shrink/choices.js';
import { findFailingSeed, scheduleOfPath } from '../sim/shrink/path-schedule.js';
import type { ChoiceFile } from '../sim/explore/choice-file.js';

export interface ShrinkArgs {
  scenario: string;
  seed: number;
  /** Where the shrunk scenario goes (default shrunk-NAME-SEED.yaml). */
  out?: string;
  maxRuns: number;
  /** Take cuts that fail the same invariant with a message of another shape (signature.ts). */
  anyMessage: boolean;
  json: boolean;
}

/** The --json report. */
export interface ShrinkJson {
  scenario: string;
  seed: number;
  /** The seed the shrunk scenario fails with. */
  shrunkSeed: number;
  invariant: string;
  message: string;
  /** What every cut taken still failed with. */
  signature: string;
  original: ShrinkSize;
  shrunk: ShrinkSize;
  runs: number;
  accepted: Record<string, number>;
  budgetSpent: boolean;
  explicitExact: boolean;
  file: string;
  replay: string;
}

export function defaultShrinkFile(name: string, seed: number): string {
  return `shrunk-${name}-${seed}.yaml`;
}

/** Runs at most, unless --max-runs says otherwise. */
export const DEFAULT_MAX_RUNS = 50_000;

export function shrinkCommand(args: ShrinkArgs, deps: { io: Io }): number {
  const r = shrinkSeed(args, deps.io);
  deps.io.out(args.json ? `${JSON.stringify(r.json)}\n` : r.text);
  return EXIT_CHECK_FAILED;
}

/** Shrinks one seed and writes its file; the report as JSON and as text. */
export function shrinkSeed(args: ShrinkArgs, io: Io): { json: ShrinkJson; text: string } {
  const { spec } = loadScenario(args.scenario);
  const scenario = drawScenario(spec, args.seed).scenario;
  return shrinkScenario(scenario, args.seed, `--scenario ${args.scenario} --seed ${args.seed}`, args, io);
}

/** Shrinks a failing (scenario, seed) and writes the shrunk scenario; `source` says where it came from (for the file's header). */
function shrinkScenario(scenario: Scenario, seed: number, source: string, args: Omit<ShrinkArgs, 'scenario' | 'seed'>, io: Io): { json: ShrinkJson; text: string } {
  let report: ShrinkReport;
  try {
    report = shrinkFailure(scenario, seed, {
      maxRuns: args.maxRuns,
      anyMessage: args.anyMessage,
      ...(io.errIsTTY && !args.json
        ? { onRun: (runs, accepted, size) => io.err(`\r  shrinking: ${runs} runs, ${accepted} taken; now ${describeSize(size)}   `) }
        : {}),
    });
  } catch (err) {
    if (err instanceof NoFailure) throw new InputError(`--seed: ${err.message} in ${scenario.name}`);
    throw err;
  }
  if (io.errIsTTY && !args.json) io.err('\n');
  const file = args.out ?? defaultShrinkFile(scenario.name, seed);
  const shrunk = { ...report.shrunk.scenario, name: `${scenario.name}-shrunk`, description: `seed ${seed} of ${scenario.name}, shrunk (fails with seed ${report.shrunkSeed}): ${report.invariant}` };
  writeShrunk(file, shrunk, report, source);
  const replay = replayCommand(file, report.shrunkSeed);
  const v = report.shrunk.result.violation!;
  const json: ShrinkJson = {
    scenario: scenario.name, seed, shrunkSeed: report.shrunkSeed, invariant: report.invariant, message: v.message,
    signature: report.signature, original: report.original.size, shrunk: report.shrunk.size, runs: report.runs, accepted: report.accepted,
    budgetSpent: report.budgetSpent, explicitExact: report.explicitExact, file, replay,
  };
  return { json, text: formatShrinkText(scenario.name, seed, report, file, replay) };
}

export interface ShrinkChoicesArgs {
  scenario: string;
  choices: string;
  /** Where the shrunk scenario goes (default shrunk-NAME-choices.yaml); the shrunk path goes beside it as NAME.choices.json. */
  out?: string;
  maxRuns: number;
  anyMessage: boolean;
  json: boolean;
}

/** Seeds tried at most for a plain run of a path's schedule that fails as the path did. */
export const PATH_SEED_SEARCH = 2000;

/**
 * `gallocy shrink --choices FILE`: the path of a choice file cut to the
 * fewest choices and faults that still end in the same invariant (written
 * as a choice file that `gallocy replay --choices` takes exactly), then
 * written as a fault schedule (src/sim/shrink/path-schedule.ts says what it
 * keeps), run with seeds until one fails the same way, and that run shrunk
 * as `--seed` shrinks, to a scenario that `gallocy replay --seed` takes.
 */
export function shrinkChoicesCommand(args: ShrinkChoicesArgs, deps: { io: Io }): number {
  const { spec } = loadScenario(args.scenario);
  const file = readChoiceFile(args.choices, spec.base.name);
  const scenario = drawScenario(spec, file.seed).scenario;
  let r;
  try {
    r = shrinkPath(scenario, file.seed, file.faults, file.reductions, file.choices.map((c) => c.key), args.maxRuns, args.anyMessage);
  } catch (err) {
    throw new InputError(`${args.choices}: ${(err as Error).message}`);
  }
  const yamlFile = args.out ?? `shrunk-${scenario.name}-choices.yaml`;
  const pathFile = `${yamlFile.replace(/\.ya?ml$/, '')}.choices.json`;
  const labels = new Map(file.choices.map((c) => [c.key, c.label]));
  const shrunkPath: ChoiceFile = {
    ...file,
    violation: { invariant: r.shrunk.violation.invariant, message: r.shrunk.violation.message },
    choices: r.shrunk.keys.map((key) => ({ key, label: labels.get(key) ?? '' })),
  };
  try {
    writeFileSync(pathFile, `${JSON.stringify(shrunkPath, null, 1)}\n`);
  } catch (err) {
    throw new InputError(`${path.resolve(pathFile)}: cannot write the shrunk choice file: ${(err as Error).message}`);
  }
  const replayPath = `gallocy replay --scenario ${shellQuote(args.scenario)} --choices ${shellQuote(pathFile)}`;
  const plan = scheduleOfPath(scenario, file.seed, file.faults, file.reductions, r.shrunk.keys);
  const search = findFailingSeed(plan.scenario, r.invariant, file.seed, PATH_SEED_SEARCH);
  const named = { ...plan.scenario, name: `${scenario.name}-path` };
  const shrunk = search.seed === null ? undefined : shrinkScenario(named, search.seed, `--scenario ${args.scenario} --choices ${args.choices}`, { ...args, out: yamlFile }, deps.io);
  const size = (s: PathSize): string => `${formatCount(s.choices)} choices, ${formatCount(s.faults)} of them faults`;
  const notKept = Object.entries(plan.notKept).map(([what, n]) => `${formatCount(n)} ${what}`).join(', ');
  if (args.json) {
    deps.io.out(`${JSON.stringify({
      scenario: scenario.name, seed: file.seed, invariant: r.invariant, message: r.shrunk.violation.message,
      path: { original: r.original, shrunk: { choices: r.shrunk.choices, faults: r.shrunk.faults }, runs: r.runs, budgetSpent: r.budgetSpent, file: pathFile, replay: replayPath },
      schedule: { crashes: plan.crashes, losses: plan.losses, pauses: plan.pauses, notKept: plan.notKept, failingSeed: search.seed, seedRuns: search.runs },
      shrunk: shrunk?.json ?? null,
    })}\n`);
  } else {
    const lines = [
      `${scenario.name}, seed ${file.seed}, the path of ${args.choices}: ${r.invariant}`,
      `  path      ${size(r.original)} -> ${size(r.shrunk)} (${r.runs} runs${r.budgetSpent ? '; the budget ran out (--max-runs)' : ''})`,
      `  wrote     ${pathFile} (the path exactly)`,
      `  replay:   ${replayPath}`,
      `  schedule  the path as faults: ${plural(plan.crashes, 'crash', 'crashes')} at the times it crashed hosts, ${plural(plan.losses, 'one-way partition')} of 0 ms for lost messages,`,
      `            ${plural(plan.pauses, 'pause')} of hosts whose events it held up${notKept !== '' ? `; not kept: ${notKept}` : ''}`,
      search.seed === null
        ? `  seeds     none of seeds ${file.seed} to ${file.seed + search.runs - 1} fails ${r.invariant} with that schedule (a plain run takes events in time order, latencies from its seed): no scenario written; the choice file replays the path`
        : `  seeds     a plain run of it fails ${r.invariant} with seed ${search.seed} (${formatCount(search.runs)} tried: a plain run takes events in time order, latencies from its seed); shrunk from there:`,
    ];
    deps.io.out(`${lines.join('\n')}\n${shrunk?.text ?? ''}`);
  }
  return EXIT_CHECK_FAILED;
}

/** "1 fault", "2 faults"; `many` for a plural that is not one + s. */
function plural(n: number, one: string, many = `${one}s`): string {
  return `${formatCount(n)} ${n === 1 ? one : many}`;
}

function describeSize(s: ShrinkSize): string {
  return `${plural(s.faults, 'fault')}, ${plural(s.hosts, 'host')}, ${plural(s.operations, 'operation')}, ${plural(s.events, 'event')}`;
}

export function formatShrinkText(name: string, seed: number, r: ShrinkReport, file: string, replay: string): string {
  const v = r.shrunk.result.violation!;
  const taken = Object.entries(r.accepted).map(([pass, n]) => `${pass} ${n}`).join(', ');
  const lines = [
    `${name}, seed ${seed}: ${r.invariant}`,
    `  original  ${describeSize(r.original.size)}`,
    `  shrunk    ${describeSize(r.shrunk.size)}`,
    `  runs      ${r.runs}${taken !== '' ? ` (taken: ${taken})` : ''}${r.budgetSpent ? '; the budget ran out (--max-runs)' : ''}`,
    `  violation ${v.invariant} at ${(v.timeUs / 1e6).toFixed(6)} s: ${v.message}`,
    `  kept      ${r.signature === `${v.invariant}: ` ? v.invariant : `"${r.signature}"`} (each cut taken failed so${r.anyMessage ? ', the invariant at least: --any-message' : ''})`,
    `  wrote     ${file}`,
    `  replay:   ${replay}`,
  ];
  return `${lines.join('\n')}\n`;
}

function writeShrunk(file: string, scenario: Scenario, r: ShrinkReport, source: string): void {
  const header = [
    `# Shrunk by: gallocy shrink ${source}`,
    `# Fails ${r.invariant} with seed ${r.shrunkSeed}; ${describeSize(r.shrunk.size)} (was ${describeSize(r.original.size)}).`,
    `# Replay: ${replayCommand(file, r.shrunkSeed)}`,
    '',
  ].join('\n');
  try {
    writeFileSync(file, header + stringify(withoutDefaults(scenario)));
  } catch (err) {
    throw new InputError(`${path.resolve(file)}: cannot write the shrunk scenario: ${(err as Error).message}`);
  }
}
