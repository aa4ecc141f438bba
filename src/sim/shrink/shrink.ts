// Shrinking a failing seed: write its run out as an explicit scenario, then
// take every simplification (src/sim/shrink/candidates.ts) under which the
// same seed still fails the same way (signature.ts), pass after pass, until none is
// left or the run budget is spent. Greedy, as fast-check and delta debugging
// shrink: each accepted candidate restarts its pass from the smaller scenario.
import stringify from 'safe-stable-stringify';
import { World } from '../run.js';
import type { RunResult } from '../result.js';
import { scenarioSchema, type Scenario } from '../scenario.js';
import { explicitScenario } from './explicit.js';
import { PASSES, type Pass } from './candidates.js';
import { failureSignature, sameFailure } from './signature.js';

/** How big a failure is. */
export interface ShrinkSize {
  faults: number;
  hosts: number;
  /** Memory accesses (shared memory) or answered requests (key-value) in the run. */
  operations: number;
  /** Events the run took to reach its violation. */
  events: number;
}

export interface ShrinkOptions {
  /** Stop after this many runs (the first two, the failure and its explicit form, included). */
  maxRuns: number;
  /**
   * For the big cuts (faults, hosts, work, time), when the seed no longer
   * fails, other seeds are tried, up to this many (default 8) or until the
   * candidate's runs have cost as many events as that many runs of the current
   * failure, whichever comes later (at most 8 times this many seeds): a
   * timing bug may fail with one seed in a hundred, and a small scenario runs
   * in a fraction of a millisecond.
   */
  reseeds?: number;
  /** The same for a second, wider round when no cut is left at `reseeds` (default 64). */
  wideReseeds?: number;
  /**
   * Take a cut whenever the run still fails the same invariant, whatever its message says
   * (default: the message must have the same shape, signature.ts).
   */
  anyMessage?: boolean;
  /** Told after every run. */
  onRun?: (runs: number, accepted: number, size: ShrinkSize, pass: string) => void;
}

export interface ShrinkReport {
  seed: number;
  /** The seed the shrunk scenario fails with (another if a cut needed one). */
  shrunkSeed: number;
  invariant: string;
  /** What every accepted cut still failed with (signature.ts). */
  signature: string;
  /** Cuts were taken on the invariant alone. */
  anyMessage: boolean;
  original: { size: ShrinkSize };
  /** Whether the explicit scenario replayed the seed's run exactly (the same trace hash). */
  explicitExact: boolean;
  shrunk: { scenario: Scenario; size: ShrinkSize; result: RunResult };
  runs: number;
  /** Candidates taken, by pass. */
  accepted: Record<string, number>;
  /** Whether the budget ran out before every pass was done. */
  budgetSpent: boolean;
}

export class NoFailure extends Error {
  constructor(readonly seed: number) {
    super(`seed ${seed} finds no violation: there is nothing to shrink`);
    this.name = 'NoFailure';
  }
}

export function sizeOf(s: Scenario, r: RunResult): ShrinkSize {
  return {
    faults: s.faults.nemesis !== undefined ? r.stats.faults ?? 0 : s.faults.schedule.length,
    hosts: s.hosts,
    operations: s.dsm !== undefined ? r.stats.accesses ?? 0 : r.stats.requests ?? 0,
    events: r.events,
  };
}

function runOnce(s: Scenario, seed: number): RunResult {
  return new World(s, seed, {}).run();
}

export function shrinkFailure(scenario: Scenario, seed: number, options: ShrinkOptions): ShrinkReport {
  const first = explicitScenario(scenario, seed);
  const v = first.result.violation;
  if (v === null) throw new NoFailure(seed);
  const invariant = v.invariant;
  const anyMessage = options.anyMessage ?? false;
  let cur = first.scenario;
  let curRun = runOnce(cur, seed);
  let runs = 2;
  let curSeed = seed;
  const reseeds = options.reseeds ?? 8;
  const explicitExact = curRun.traceHash === first.result.traceHash;
  if (!sameFailure(v, curRun.violation, anyMessage)) {
    const found = curRun.violation === null ? 'no violation' : `"${failureSignature(curRun.violation)}"`;
    throw new Error(`seed ${seed}: its faults written out as a schedule found ${found}, not "${failureSignature(v)}"; the nemesis did not record a choice it made`);
  }
  const accepted: Record<string, number> = {};
  /** The seeds each candidate (by its canonical JSON) was run with: a wider round runs only the ones not tried yet. */
  const tried = new Map<string, Set<number>>([[stringify(cur)!, new Set([seed])]]);

  /** One candidate: valid, and failing the same way (and, for some passes, in fewer events) with the seed or, if the pass may, one of the next `width`. */
  const tryCandidate = (pass: Pass, candidate: Scenario, width: number): boolean => {
    const parsed = scenarioSchema.safeParse(candidate);
    if (!parsed.success) return false;
    const key = stringify(parsed.data)!;
    const seeds = tried.get(key) ?? new Set<number>();
    tried.set(key, seeds);
    // The seed, then (for a pass that may reseed) the next ones while the candidate's runs cost less than `width` runs of the original failure.
    const budget = width * first.result.events;
    let spent = 0;
    const count = pass.reseed ? 8 * width + 1 : 1;
    for (let i = 0; i < count && runs < options.maxRuns && (i <= width || spent < budget); i++) {
      const s = curSeed + i;
      if (seeds.has(s)) continue;
      seeds.add(s);
      let r: RunResult;
      try {
        r = runOnce(parsed.data, s);
      } catch {
        // A configuration the simulator cannot run is not a smaller failure of the same kind.
        return false;
      } finally {
        runs++;
      }
      spent += r.events;
      const ok = sameFailure(v, r.violation, anyMessage) && (!pass.needsFewerEvents || r.events < curRun.events);
      if (ok) {
        cur = parsed.data;
        curRun = r;
        curSeed = s;
        accepted[pass.name] = (accepted[pass.name] ?? 0) + 1;
      }
      options.onRun?.(runs, Object.values(accepted).reduce((a, b) => a + b, 0), sizeOf(cur, curRun), pass.name);
      if (ok) return true;
    }
    return false;
  };

  /** Runs a pass until none of its candidates is taken; whether any was. */
  const runPass = (pass: Pass, width: number): boolean => {
    let any = false;
    for (;;) {
      let took = false;
      for (const c of pass.candidates({ scenario: cur, violationUs: curRun.violation!.timeUs })) {
        if (runs >= options.maxRuns) return any;
        if (tryCandidate(pass, c, width)) {
          took = true;
          break;
        }
      }
      if (!took) return any;
      any = true;
    }
  };

  // Rounds of every pass at the narrow width until one takes nothing, then one
  // at the wide width; whatever that takes is polished at the narrow width again.
  const widths = [reseeds, options.wideReseeds ?? 64];
  for (let level = 0; level < widths.length && runs < options.maxRuns; ) {
    let progress = false;
    for (const pass of PASSES) progress = runPass(pass, widths[level]!) || progress;
    level = progress ? 0 : level + 1;
  }
  return {
    seed, shrunkSeed: curSeed, invariant, signature: failureSignature(v), anyMessage,
    original: { size: sizeOf(scenario, first.result) },
    explicitExact,
    shrunk: { scenario: cur, size: sizeOf(cur, curRun), result: curRun },
    runs,
    accepted,
    budgetSpent: runs >= options.maxRuns,
  };
}
