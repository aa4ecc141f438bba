// The simulator running Raft under every fault: how much simulated time and
// how many events one core gets through, how much memory a run holds, and
// whether every replay reproduces its trace hash.
import { spawnSync } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { loadScenario } from '../src/cli/scenario-file.js';
import { runSeed, World } from '../src/sim/run.js';
import { drawScenario, type ScenarioSpec } from '../src/sim/swarm.js';
import { figure } from './result.js';
import type { BenchResult } from './result.js';

/** Runs consecutive seeds on this thread for about `seconds` of wall time. */
function campaign(scenario: ScenarioSpec, seconds: number): { seeds: number; events: number; sim: number; wall: number; hashes: Map<number, string> } {
  const hashes = new Map<number, string>();
  let events = 0;
  let sim = 0;
  const start = performance.now();
  let seed = 1;
  while ((performance.now() - start) / 1000 < seconds) {
    const r = runSeed(scenario, seed);
    if (r.violation) throw new Error(`bench: ${scenario.base.name} seed ${seed} found ${r.violation.invariant}: ${r.violation.message}`);
    hashes.set(seed, r.traceHash);
    events += r.events;
    sim += r.simSeconds;
    seed++;
  }
  return { seeds: seed - 1, events, sim, wall: (performance.now() - start) / 1000, hashes };
}

function heapMb(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  return process.memoryUsage().heapUsed / 2 ** 20;
}

export function benchRaft(quick: boolean): BenchResult[] {
  const scenario = loadScenario('raft-chaos').spec;
  campaign(scenario, quick ? 1 : 2); // warm up the JIT
  const c = campaign(scenario, quick ? 6 : 20);
  let same = 0;
  const replayed = [...c.hashes.entries()].slice(0, quick ? 5 : 20);
  for (const [seed, hash] of replayed) if (runSeed(scenario, seed).traceHash === hash) same++;
  const memory = memoryInOwnProcess(quick);
  return [
    figure('raft-chaos.sim_seconds_per_wall_second', c.sim / c.wall, 'sim s / wall s'),
    figure('raft-chaos.events_per_second', c.events / c.wall, 'events / s'),
    figure('raft-chaos.seeds_per_second', c.seeds / c.wall, 'seeds / s'),
    ...memory,
    figure('replay.reproduced_ratio', same / replayed.length, 'ratio'),
  ];
}

/**
 * Memory over one long run: the heap after 60 s and at its end should be about the same (the
 * trace is a bounded window; logs compact). Peak RSS and the heap are figures of a whole
 * process, so this runs alone: in the bench's process they would count what earlier benchmarks
 * (the scheduler's ten million events) left behind.
 */
function memoryOfLongRun(quick: boolean): BenchResult[] {
  const scenario = loadScenario('raft-chaos').spec;
  const drawn = drawScenario(scenario, 1).scenario;
  const long = { ...drawn, durationS: quick ? 300 : 1200, faults: { ...drawn.faults, untilS: quick ? 285 : 1185 } };
  const world = new World(long, 1, {});
  world.start();
  world.advance(60e6);
  const heapAt60 = heapMb();
  world.advance(long.durationS * 1e6);
  const heapAtEnd = heapMb();
  world.finish();
  return [
    figure('raft-chaos.peak_rss_mb', process.resourceUsage().maxRSS / 1024, 'MB'),
    figure('raft-chaos.heap_mb_at_60s', heapAt60, 'MB'),
    figure(`raft-chaos.heap_mb_at_${long.durationS}s`, heapAtEnd, 'MB'),
  ];
}

function memoryInOwnProcess(quick: boolean): BenchResult[] {
  const args = ['--expose-gc', fileURLToPath(import.meta.url), MEMORY_FLAG, ...(quick ? ['--quick'] : [])];
  const child = spawnSync(process.execPath, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (child.status !== 0) throw new Error(`bench raft: the memory run exited with ${child.status ?? child.signal}`);
  return child.stdout.trim().split('\n').map((line) => JSON.parse(line) as BenchResult);
}

const MEMORY_FLAG = '--memory-of-long-run';

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const quick = process.argv.includes('--quick');
  const results = process.argv.includes(MEMORY_FLAG) ? memoryOfLongRun(quick) : benchRaft(quick);
  for (const r of results) console.log(JSON.stringify(r));
}
