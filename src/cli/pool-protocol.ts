// Messages between the fuzz pool (pool.ts) and its worker threads
// (fuzz-worker.ts). Plain data only: they cross the thread boundary by
// structured clone.
import type { ScenarioSpec } from '../sim/swarm.js';
import type { RunResult } from '../sim/result.js';

export interface WorkerInit {
  /** The validated scenario (defaults applied; fields drawn per seed), loaded once by the parent. */
  scenario: ScenarioSpec;
  /** Module URL that exports runSeed: src/sim/run.js, or a stand-in in tests. */
  runnerModule: string;
}

/** Parent to worker: run these seeds, in order, replying once per seed. */
export interface ToWorker { seeds: number[] }

export type FromWorker =
  | { kind: 'result'; seed: number; result: RunResult }
  | { kind: 'crash'; seed: number; stack: string };
