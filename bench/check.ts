// Systematic exploration (gallocy check) on raft-tiny, a 3-host Raft world:
// how many states a core explores per second depth-first (each sibling
// restored by re-executing its path from a fresh world) and in random walks
// (no restores), how many distinct states the exhaustive search to the depth
// finds, and how many steps it re-executes per state explored.
import { pathToFileURL } from 'node:url';
import { loadScenario } from '../src/cli/scenario-file.js';
import { explore } from '../src/sim/explore/explorer.js';
import type { ExploreReport, Strategy } from '../src/sim/explore/explorer.js';
import { NO_FAULTS } from '../src/sim/explore/session.js';
import { figure } from './result.js';
import type { BenchResult } from './result.js';

/** Runs a search; `secs` is wall time, `cpu` this process's CPU time (the figure that survives a shared machine). */
function timed(strategy: Strategy, depth: number, walks?: number): { r: ExploreReport; secs: number; cpu: number } {
  const scenario = loadScenario('raft-tiny').spec.base;
  const start = performance.now();
  const cpu0 = process.cpuUsage();
  const r = explore({ scenario, seed: 1, strategy, depth, faults: NO_FAULTS, ...(walks !== undefined ? { walks } : {}) });
  const cpu = process.cpuUsage(cpu0);
  return { r, secs: (performance.now() - start) / 1000, cpu: (cpu.user + cpu.system) / 1e6 };
}

export function benchCheck(quick: boolean): BenchResult[] {
  timed('dfs', 6); // warm up the JIT
  const depth = quick ? 8 : 10;
  const { r, secs, cpu } = timed('dfs', depth);
  if (r.violation !== null || !r.exhaustive) throw new Error(`bench: raft-tiny to depth ${depth} was not clean and exhaustive`);
  const w = timed('random', 40, quick ? 2000 : 10_000);
  return [
    figure('check.states_per_second', r.statesExplored / secs, 'states / s (dfs, raft-tiny)'),
    figure('check.states_per_cpu_second', r.statesExplored / cpu, 'states / CPU s (dfs, raft-tiny)'),
    figure('check.distinct_states', r.distinctStates, `states (exhaustive to depth ${depth})`),
    figure('check.depth', r.depthReached, 'steps'),
    figure('check.replayed_steps_per_state', r.replayedSteps / r.statesExplored, 'steps re-executed / state'),
    figure('check.random.states_per_second', w.r.statesExplored / w.secs, 'states / s (random walks of 40 steps)'),
    figure('check.random.states_per_cpu_second', w.r.statesExplored / w.cpu, 'states / CPU s (random walks of 40 steps)'),
  ];
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  for (const r of benchCheck(process.argv.includes('--quick'))) console.log(JSON.stringify(r));
}
