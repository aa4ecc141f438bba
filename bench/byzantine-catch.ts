// The catch table of plain Raft and the shared memory against one Byzantine
// host: for each scenarios/*-byz-*.yaml, over seeds 1..N, how many seeds a
// safety invariant or liveness caught (by invariant), and, for the
// behaviours plain mode must tolerate, how many seeds passed and what the
// correct hosts refused. One JSON line per scenario.
//
//   node dist/bench/byzantine-catch.js [--seeds N] [--only NAME,NAME]
import { pathToFileURL } from 'node:url';
import { listScenarioNames, loadScenario } from '../src/cli/scenario-file.js';
import { runSeed } from '../src/sim/run.js';
import { expectedViolations } from '../src/sim/scenario.js';

export interface CatchRow {
  scenario: string;
  seeds: number;
  /** Whether the scenario expects the behaviour caught (else: tolerated). */
  mustCatch: boolean;
  caught: number;
  rate: number;
  byInvariant: Record<string, number>;
  /** Summed over seeds: what the correct hosts refused (refused.termBeyondBound, refused.forgedSender, ...). */
  refused: Record<string, number>;
  cpuSeconds: number;
}

export function byzantineScenarios(): string[] {
  return listScenarioNames().filter((n) => /^(raft|dsm)-byz-/.test(n)).sort();
}

export function catchRate(name: string, seeds: number): CatchRow {
  const { spec } = loadScenario(name);
  const mustCatch = expectedViolations(spec.base) !== null;
  const byInvariant: Record<string, number> = {};
  const refused: Record<string, number> = {};
  let caught = 0;
  const cpu0 = process.cpuUsage();
  for (let seed = 1; seed <= seeds; seed++) {
    const r = runSeed(spec, seed);
    if (r.violation !== null) {
      caught++;
      byInvariant[r.violation.invariant] = (byInvariant[r.violation.invariant] ?? 0) + 1;
    }
    for (const [k, v] of Object.entries(r.stats)) if (k.startsWith('refused.')) refused[k.slice(8)] = (refused[k.slice(8)] ?? 0) + v;
  }
  const cpu = process.cpuUsage(cpu0);
  return { scenario: name, seeds, mustCatch, caught, rate: caught / seeds, byInvariant, refused, cpuSeconds: (cpu.user + cpu.system) / 1e6 };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const arg = (flag: string): string | undefined => {
    const i = process.argv.indexOf(flag);
    return i < 0 ? undefined : process.argv[i + 1];
  };
  const seeds = Number(arg('--seeds') ?? 100);
  const only = arg('--only')?.split(',');
  for (const name of byzantineScenarios()) {
    if (only !== undefined && !only.includes(name)) continue;
    process.stdout.write(`${JSON.stringify(catchRate(name, seeds))}\n`);
  }
}
