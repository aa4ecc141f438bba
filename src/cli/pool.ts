// The worker pool behind `gallocy fuzz`: hands seeds to worker threads a few
// at a time (so progress moves and fast workers take more), and guarantees one
// outcome per handed-out seed. A worker that dies (an uncaught error, an
// exit, running out of memory) turns every seed it still held into a crash
// outcome and is replaced while seeds remain, so a campaign never hangs and
// never loses a result.
import { Worker } from 'node:worker_threads';
import type { ScenarioSpec } from '../sim/swarm.js';
import type { FromWorker, ToWorker, WorkerInit } from './pool-protocol.js';

export type SeedOutcome = FromWorker;

export interface PoolOptions {
  scenario: ScenarioSpec;
  seeds: readonly number[];
  jobs: number;
  /** Seeds per message to a worker; 1 keeps the progress bar smooth and load balanced. */
  batchSize?: number;
  /** Module URL exporting runSeed; tests substitute a stand-in. */
  runnerModule?: string;
  /** Called once per seed as outcomes arrive (in completion order). Return 'stop' to hand out no more seeds. */
  onOutcome: (outcome: SeedOutcome) => void | 'stop';
}

export interface PoolResult {
  outcomes: SeedOutcome[];
  /** True when onOutcome asked to stop before every seed was handed out. */
  stopped: boolean;
}

export const DEFAULT_RUNNER_MODULE = new URL('../sim/run.js', import.meta.url).href;
const WORKER_URL = new URL('./fuzz-worker.js', import.meta.url);

interface Slot {
  worker: Worker;
  inFlight: number[];
  retiring: boolean;
  lastError: unknown;
}

export function runPool(opts: PoolOptions): Promise<PoolResult> {
  const seeds = opts.seeds;
  const batchSize = Math.max(1, opts.batchSize ?? 1);
  const init: WorkerInit = { scenario: opts.scenario, runnerModule: opts.runnerModule ?? DEFAULT_RUNNER_MODULE };
  const outcomes: SeedOutcome[] = [];
  const slots = new Set<Slot>();
  let next = 0;
  let stopping = false;
  let failed = false;

  return new Promise<PoolResult>((resolve, reject) => {
    const moreWork = (): boolean => !stopping && next < seeds.length;

    const finishIfDone = (): void => {
      if (!failed && slots.size === 0 && !moreWork()) resolve({ outcomes, stopped: stopping && next < seeds.length });
    };

    const abort = (err: unknown): void => {
      failed = true;
      for (const s of slots) {
        s.retiring = true;
        void s.worker.terminate();
      }
      reject(err);
    };

    const record = (outcome: SeedOutcome): void => {
      outcomes.push(outcome);
      if (opts.onOutcome(outcome) === 'stop') stopping = true;
    };

    const dispatch = (slot: Slot): void => {
      if (slot.inFlight.length > 0) return;
      if (!moreWork()) {
        slot.retiring = true;
        void slot.worker.terminate();
        return;
      }
      const batch = seeds.slice(next, next + batchSize);
      next += batch.length;
      slot.inFlight.push(...batch);
      const msg: ToWorker = { seeds: batch };
      slot.worker.postMessage(msg);
    };

    const spawn = (): void => {
      const slot: Slot = { worker: new Worker(WORKER_URL, { workerData: init }), inFlight: [], retiring: false, lastError: undefined };
      slots.add(slot);
      slot.worker.on('message', (msg: FromWorker) => {
        if (failed) return;
        const i = slot.inFlight.indexOf(msg.seed);
        if (i < 0) return; // not ours to count (cannot happen with a well-behaved worker)
        slot.inFlight.splice(i, 1);
        try {
          record(msg);
          dispatch(slot);
        } catch (err) {
          abort(err);
        }
      });
      slot.worker.on('error', (err) => {
        slot.lastError = err;
      });
      slot.worker.on('exit', (code) => {
        slots.delete(slot);
        if (failed) return;
        try {
          if (!slot.retiring) {
            const why = slot.lastError !== undefined ? describe(slot.lastError) : `worker thread exited with code ${code} while running this seed`;
            for (const seed of slot.inFlight.splice(0)) record({ kind: 'crash', seed, stack: why });
            if (moreWork()) spawn(); // a replacement takes the remaining seeds
          }
          finishIfDone();
        } catch (err) {
          abort(err);
        }
      });
      dispatch(slot);
    };

    const jobs = Math.max(1, Math.min(opts.jobs, seeds.length));
    if (seeds.length === 0) {
      resolve({ outcomes, stopped: false });
      return;
    }
    for (let j = 0; j < jobs; j++) spawn();
  });
}

function describe(err: unknown): string {
  if (err instanceof Error) return err.stack ?? `${err.name}: ${err.message}`;
  return `worker error: ${String(err)}`;
}
