// `gallocy check`: systematic exploration of one scenario's choices (which
// delivery, disk completion, tick or timer comes next; which message is lost
// or duplicated; where a host crashes or restarts) on the real simulated
// world. Prints what it explored; a violation's path goes to a choice file
// that `gallocy replay --choices FILE` takes again. Exit 1 on a violation.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { EXIT_CHECK_FAILED, EXIT_OK, InputError } from '../input/errors.js';
import { readInputFile } from '../input/yaml-file.js';
import { choiceFile, validateChoiceFile } from '../sim/explore/choice-file.js';
import type { ChoiceFile } from '../sim/explore/choice-file.js';
import { explore, ChoiceMismatch } from '../sim/explore/explorer.js';
import type { ExploreReport, Strategy } from '../sim/explore/explorer.js';
import { defaultBudget } from '../sim/explore/session.js';
import type { FaultBudget, Reductions } from '../sim/explore/session.js';
import type { TraceEvent } from '../host/trace-events.js';
import { formatCount, formatLastEvents, rate, shellQuote, type Io } from './output.js';
import { loadScenario } from './scenario-file.js';
import { drawScenario } from '../sim/swarm.js';

export interface CheckArgs {
  scenario: string;
  seed: number;
  strategy: Strategy;
  depth?: number;
  /** Wall-clock seconds at most. */
  budget: number;
  walks?: number;
  crashes?: number;
  losses?: number;
  duplicates?: number;
  instantDisk: boolean;
  skipIdleTicks: boolean;
  deviation?: number;
  changes?: number;
  /** A choice file whose path the search starts from. */
  from?: string;
  /** Where a violation's path goes (default check-SCENARIO.choices.json). */
  out?: string;
  json: boolean;
}

export interface CheckDeps {
  io: Io;
  /** Wall clock, milliseconds (the budget and the rate, never inside the world). */
  now?: () => number;
}

/** The --json report. */
export interface CheckReport extends Omit<ExploreReport, 'path'> {
  scenario: string;
  seed: number;
  faults: FaultBudget;
  reductions: Reductions;
  wallSeconds: number;
  statesPerSecond: number;
  /** The choice file written for the violation, if any. */
  choices: string | null;
  steps: number | null;
}

/** Steps per path when --depth is not given: a few elections for dfs, a whole short run otherwise. */
export function defaultDepth(strategy: Strategy): number {
  return strategy === 'dfs' ? 12 : 100;
}

export async function checkCommand(args: CheckArgs, deps: CheckDeps): Promise<number> {
  const { io } = deps;
  const now = deps.now ?? (() => performance.now());
  const loaded = loadScenario(args.scenario);
  // A scenario whose fields vary per seed explores what the seed draws.
  const scenario = drawScenario(loaded.spec, args.seed).scenario;
  const base = defaultBudget(scenario);
  const faults: FaultBudget = {
    crashes: args.crashes ?? base.crashes,
    losses: args.losses ?? base.losses,
    duplicates: args.duplicates ?? base.duplicates,
  };
  const reductions: Reductions = { instantDisk: args.instantDisk, skipIdleTicks: args.skipIdleTicks };
  const prefix = args.from === undefined ? [] : readChoiceFile(args.from, scenario.name).choices.map((c) => c.key);
  const depth = args.depth ?? defaultDepth(args.strategy);
  const started = now();
  let report: ExploreReport;
  try {
    report = explore({
      scenario, seed: args.seed, strategy: args.strategy, depth, faults, reductions, prefix,
      shouldStop: () => now() - started >= args.budget * 1000,
      ...(args.walks !== undefined ? { walks: args.walks } : {}),
      ...(args.deviation !== undefined ? { deviation: args.deviation } : {}),
      ...(args.changes !== undefined ? { priorityChanges: args.changes } : {}),
    });
  } catch (err) {
    if (err instanceof ChoiceMismatch) throw new InputError(`--from ${args.from}: ${err.message}`);
    throw err;
  }
  const wallSeconds = (now() - started) / 1000;
  let written: string | null = null;
  if (report.violation !== null && report.path !== null) {
    written = args.out ?? `check-${scenario.name}.choices.json`;
    const file = choiceFile({ scenario: scenario.name, seed: args.seed, strategy: args.strategy, faults, reductions, violation: report.violation, path: report.path });
    try {
      writeFileSync(written, `${JSON.stringify(file, null, 1)}\n`);
    } catch (err) {
      throw new InputError(`--out ${path.resolve(written)}: cannot write the choice file: ${(err as Error).message}`);
    }
  }
  const { path: steps, ...rest } = report;
  const out: CheckReport = {
    ...rest, scenario: scenario.name, seed: args.seed, faults, reductions, wallSeconds,
    statesPerSecond: Math.round(rate(report.statesExplored, wallSeconds)), choices: written, steps: steps?.length ?? null,
  };
  if (args.json) io.out(`${JSON.stringify(out)}\n`);
  else io.out(formatCheck(out, loaded.ref, report.violation?.lastEvents ?? []));
  return report.violation !== null ? EXIT_CHECK_FAILED : EXIT_OK;
}

/** Reads and validates a choice file made for `scenario` (InputError naming the file and field otherwise). */
export function readChoiceFile(file: string, scenario: string): ChoiceFile {
  const text = readInputFile(file, 'choice file');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new InputError(`${file}: expected a JSON choice file (from gallocy check): ${(err as Error).message}`);
  }
  const v = validateChoiceFile(value);
  if (!v.ok) throw new InputError(v.issues.map((i) => `${file}: field ${i.path}: ${i.message}`).join('\n'));
  if (v.value.scenario !== scenario) {
    throw new InputError(`${file}: field scenario: expected "${scenario}" (the scenario given), got "${v.value.scenario}"`);
  }
  return v.value;
}

function formatCheck(r: CheckReport, ref: string, lastEvents: readonly TraceEvent[]): string {
  const lines = [`${r.scenario}, seed ${r.seed}: ${r.strategy} to depth ${r.depthBound}`];
  const faults = `${r.faults.crashes} crash${r.faults.crashes === 1 ? '' : 'es'}, ${r.faults.losses} lost, ${r.faults.duplicates} duplicated`;
  const reductions = [r.reductions.instantDisk ? 'instant disk' : '', r.reductions.skipIdleTicks ? 'idle ticks skipped' : ''].filter((x) => x !== '');
  lines.push(`  faults per path  ${faults}${reductions.length > 0 ? `; ${reductions.join(', ')}` : ''}`);
  if (r.violation === null) {
    if (r.exhaustive) {
      lines.push(r.boundReached
        ? `  exhaustive to depth ${r.depthBound}: ${formatCount(r.distinctStates)} states, no violation`
        : `  exhaustive: every reachable state (${formatCount(r.distinctStates)}) is within depth ${r.depthBound}, no violation`);
    } else {
      lines.push(`  no violation (not exhaustive: ${r.strategy === 'dfs' ? 'the budget ran out' : `${formatCount(r.walks)} walks`})`);
    }
  }
  lines.push(
    `  states explored  ${formatCount(r.statesExplored)}${r.replayedSteps > 0 ? ` (and ${formatCount(r.replayedSteps)} steps re-executed)` : ''}`,
    `  distinct states  ${formatCount(r.distinctStates)}`,
    `  depth reached    ${r.depthReached}`,
    `  states/second    ${formatCount(r.statesPerSecond)}`,
    `  wall             ${r.wallSeconds.toFixed(1)} s`,
  );
  if (r.walks > 0) lines.push(`  walks            ${formatCount(r.walks)}`);
  const v = r.violation;
  if (v !== null) {
    lines.push(`  VIOLATION        ${v.invariant} after ${r.steps} steps: ${v.message}`);
    lines.push(...formatLastEvents(lastEvents));
    if (r.choices !== null) {
      lines.push(`  choices          ${r.choices}`);
      lines.push(`  replay:          gallocy replay --scenario ${shellQuote(ref)} --choices ${shellQuote(r.choices)}`);
    }
  }
  return `${lines.join('\n')}\n`;
}
