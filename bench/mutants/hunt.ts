// The hunt for one mutant: fuzz campaigns over its scenarios, in rounds, until
// a seed fails or the time budget is spent. Round r runs the next 2^r seeds
// (at most MAX_BATCH) of every scenario in turn, so bugs that any seed shows
// die within a few seconds and every scenario gets a fair share of the rest.
// A failure counts only once the original code is shown to pass that seed.
// Between campaigns the hunt may run other searches once (interludes: the
// systematic explorer, `gallocy check`), within the same budget.
import type { FuzzReport } from '../../src/cli/fuzz.js';
import { cpuLimit, runNode } from './child.js';

const MAX_BATCH = 16;

export interface Kill {
  scenario: string;
  seed: number;
  invariant: string;
  /** The first line of the failure's message. */
  message: string;
  /** Found by `gallocy check`: the choice file of its path (the seed is the world's). */
  choices?: string;
}

/** A search other than fuzzing (`gallocy check`) that the hunt runs once, between fuzz campaigns. */
export interface Interlude {
  /** It runs once this many fuzz campaigns (batches of seeds) have run. */
  afterBatches: number;
  /** Runs within the time left; reports its own wall and CPU seconds. */
  run(secondsLeft: number): Promise<{ kill: Kill | null; wallSeconds: number; cpuSeconds: number; error: string | null }>;
}

export interface HuntOptions {
  /** The mutated, built copy of the repository. */
  dir: string;
  /** Scenario names or paths, in the order each round visits them. */
  scenarios: readonly string[];
  budgetSeconds: number;
  /** A seed running longer than this hangs (a mutant can loop forever). */
  seedTimeoutSeconds: number;
  /** Whether the original code passes a seed: a failure it shares is not the mutant's. */
  originalPasses(scenario: string, seed: number): Promise<boolean>;
  /** Searches run between the campaigns (none by default). */
  interludes?: readonly Interlude[];
  /** Whether the original code passes a path `gallocy check` found. */
  originalPassesPath?(kill: Kill): Promise<boolean>;
}

export interface HuntResult {
  kill: Kill | null;
  /** Wall and CPU seconds of the campaigns up to the kill (or the whole budget). */
  wallSeconds: number;
  cpuSeconds: number;
  seeds: number;
  /** Failures the original code shares (skipped). */
  preexisting: Kill[];
  /** Scenarios dropped because a campaign could not run: why. */
  errors: string[];
}

type Batch =
  | { kind: 'passed' }
  | { kind: 'failed'; kill: Kill }
  | { kind: 'hang' }
  | { kind: 'out-of-budget' }
  | { kind: 'error'; why: string };

export function fuzzArgs(scenario: string, start: number, seeds: number): string[] {
  return ['bin/gallocy.js', 'fuzz', '--scenario', scenario, '--start', String(start), '--seeds', String(seeds), '--jobs', '1', '--json', '--stop-on-first'];
}

export function replayCommand(k: Pick<Kill, 'scenario' | 'seed' | 'choices'>): string {
  return k.choices === undefined ? `gallocy replay --scenario ${k.scenario} --seed ${k.seed}` : `gallocy replay --scenario ${k.scenario} --choices ${k.choices}`;
}

export async function hunt(o: HuntOptions): Promise<HuntResult> {
  const result: HuntResult = { kill: null, wallSeconds: 0, cpuSeconds: 0, seeds: 0, preexisting: [], errors: [] };
  const next = new Map(o.scenarios.map((s) => [s, 1]));
  /** Seeds of a batch that hung, to run one at a time and find the one that hangs. */
  const singles = new Map<string, number[]>(o.scenarios.map((s) => [s, []]));
  // The budget is the campaigns' own CPU time (a busy machine stretches wall time, not the
  // search): checking a failure against the original is not hunting.
  const remaining = (): number => o.budgetSeconds - result.cpuSeconds;

  const runBatch = async (scenario: string, start: number, count: number): Promise<Batch> => {
    const left = remaining();
    if (left <= 0) return { kind: 'out-of-budget' };
    const limit = Math.min(left, o.seedTimeoutSeconds * count);
    const r = await runNode(fuzzArgs(scenario, start, count), o.dir, cpuLimit(limit));
    result.wallSeconds += r.wallSeconds;
    result.cpuSeconds += r.cpuSeconds ?? r.wallSeconds;
    if (r.timedOut) return limit < left ? { kind: 'hang' } : { kind: 'out-of-budget' };
    if (r.code !== 0 && r.code !== 1) return { kind: 'error', why: `${scenario}: fuzz exited ${r.code}: ${r.stderr.split('\n')[0] ?? ''}` };
    let report: FuzzReport;
    try {
      report = JSON.parse(r.stdout) as FuzzReport;
    } catch {
      return { kind: 'error', why: `${scenario}: fuzz printed no JSON report: ${r.stdout.slice(0, 200)}` };
    }
    result.seeds += report.seeds;
    const f = report.failures[0];
    if (f === undefined) return { kind: 'passed' };
    return { kind: 'failed', kill: { scenario, seed: f.seed, invariant: f.invariant, message: f.message.split('\n')[0] ?? '' } };
  };

  /** Whether the hunt is over (a kill, or no time left); false to go on. */
  const judge = async (scenario: string, b: Batch, seed: number): Promise<boolean> => {
    switch (b.kind) {
      case 'out-of-budget':
        return true;
      case 'error':
        result.errors.push(b.why);
        next.delete(scenario);
        return false;
      case 'passed':
        return false;
      case 'hang':
      case 'failed': {
        const kill = b.kind === 'failed' ? b.kill : { scenario, seed, invariant: 'hang', message: `seed ${seed} ran longer than ${o.seedTimeoutSeconds} s` };
        if (await o.originalPasses(scenario, kill.seed)) {
          result.kill = kill;
          return true;
        }
        result.preexisting.push(kill);
        return false;
      }
    }
  };

  let batches = 0;
  /** Every scenario is done: the interludes still waiting run now. */
  let drained = false;
  const pending = [...(o.interludes ?? [])];
  const due = (i: Interlude): boolean => drained || i.afterBatches <= batches;
  /** Runs the interludes due by now; true if one killed the mutant or the time is up. */
  const interludes = async (): Promise<boolean> => {
    for (let i = pending.find(due); i !== undefined; i = pending.find(due)) {
      pending.splice(pending.indexOf(i), 1);
      if (remaining() <= 0) return true;
      const r = await i.run(remaining());
      result.wallSeconds += r.wallSeconds;
      result.cpuSeconds += r.cpuSeconds;
      if (r.error !== null) result.errors.push(r.error);
      if (r.kill === null) continue;
      if (o.originalPassesPath === undefined || await o.originalPassesPath(r.kill)) {
        result.kill = r.kill;
        return true;
      }
      result.preexisting.push(r.kill);
    }
    return false;
  };

  if (await interludes()) return result;
  for (let round = 0; next.size > 0; round++) {
    const batch = Math.min(2 ** round, MAX_BATCH);
    for (const scenario of o.scenarios) {
      const start = next.get(scenario);
      if (start === undefined) continue;
      for (let seed = singles.get(scenario)!.shift(); seed !== undefined; seed = singles.get(scenario)!.shift()) {
        if (await judge(scenario, await runBatch(scenario, seed, 1), seed)) return result;
      }
      if (!next.has(scenario)) continue;
      const b = await runBatch(scenario, start, batch);
      batches++;
      if (b.kind === 'hang' && batch > 1) {
        singles.set(scenario, Array.from({ length: batch }, (_, i) => start + i));
        next.set(scenario, start + batch);
        continue;
      }
      // A failure ends its batch early: the seeds after it were not run.
      next.set(scenario, b.kind === 'failed' ? b.kill.seed + 1 : start + batch);
      if (await judge(scenario, b, start)) return result;
      if (await interludes()) return result;
    }
  }
  drained = true;
  await interludes();
  return result;
}
