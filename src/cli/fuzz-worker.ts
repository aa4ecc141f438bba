// One fuzz worker thread: loads the runner once, then runs each seed the pool
// hands it and posts back the result as a plain message. A throw inside the
// simulator is caught here and reported as a crash of that seed, so the pool
// always gets exactly one message per seed it handed out.
import { parentPort, workerData } from 'node:worker_threads';
import type { ScenarioSpec } from '../sim/swarm.js';
import type { RunResult } from '../sim/result.js';
import type { FromWorker, ToWorker, WorkerInit } from './pool-protocol.js';

type RunSeed = (scenario: ScenarioSpec, seed: number) => RunResult;

const port = parentPort;
if (!port) throw new Error('fuzz-worker.ts must run as a worker thread');
const init = workerData as WorkerInit;

// Seeds may arrive before the runner module has loaded; they queue on the
// port until the listener is attached below.
const mod = (await import(init.runnerModule)) as { runSeed?: unknown };
if (typeof mod.runSeed !== 'function') throw new Error(`${init.runnerModule} does not export a runSeed function`);
const runSeed = mod.runSeed as RunSeed;

port.on('message', (msg: ToWorker) => {
  for (const seed of msg.seeds) {
    let reply: FromWorker;
    try {
      reply = { kind: 'result', seed, result: runSeed(init.scenario, seed) };
    } catch (err) {
      reply = { kind: 'crash', seed, stack: describeError(err) };
    }
    port.postMessage(reply);
  }
});

function describeError(err: unknown): string {
  if (err instanceof Error) return err.stack ?? `${err.name}: ${err.message}`;
  return `thrown value: ${String(err)}`;
}
