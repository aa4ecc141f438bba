// `gallocy serve --cluster FILE --host ID [--workload NAME | --app FILE]`:
// runs one real host until SIGINT or SIGTERM. Flags are checked here, before
// anything opens, so bad input exits 2 with a message naming the flag.
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { existsSync } from 'node:fs';
import { EXIT_BAD_INPUT, InputError } from '../input/errors.js';
import type { AppProgram, WorkloadName } from '../real/app-protocol.js';
import { hostById } from '../real/cluster.js';
import { loadCluster } from '../real/cluster-file.js';
import { LOG_LEVELS } from '../real/log.js';
import { serve } from '../real/serve.js';
import type { AppRun } from '../real/serve.js';

/** The built-in workloads real mode runs (alloc-churn's end check needs the simulator's allocator view). */
export const REAL_WORKLOADS: readonly WorkloadName[] = ['registers', 'counter', 'matrix'];

export interface ServeArgs {
  cluster: string;
  host: number;
  workload?: string;
  app?: string;
  threads: number;
  totalThreads?: number;
  history?: string;
  seed: number;
  logLevel: string;
  logFile?: string;
}

/** The application part of the flags, checked; null when the host runs no application. */
export function appRunOf(a: ServeArgs, hostIndex: number, hosts: number): AppRun | null {
  if (a.workload !== undefined && a.app !== undefined) throw new InputError('--workload and --app: expected one of them, got both');
  if (a.history !== undefined && a.workload === undefined) throw new InputError('--history: expected --workload too (only built-in workloads record their operations)');
  let program: AppProgram;
  if (a.workload !== undefined) {
    if (!(REAL_WORKLOADS as readonly string[]).includes(a.workload)) {
      throw new InputError(`--workload: expected one of ${REAL_WORKLOADS.join(', ')}, got "${a.workload}"`);
    }
    program = { kind: 'workload', name: a.workload as WorkloadName, seed: a.seed };
  } else if (a.app !== undefined) {
    const file = path.resolve(a.app);
    if (!existsSync(file)) throw new InputError(`--app: ${file}: no such file (expected an ES module whose default export runs in each thread)`);
    program = { kind: 'app', file: pathToFileURL(file).href };
  } else {
    if (a.totalThreads !== undefined) throw new InputError('--total-threads: expected --workload or --app too');
    return null;
  }
  // Every host runs the same number of threads unless told the cluster's total.
  const totalThreads = a.totalThreads ?? a.threads * hosts;
  const firstIndex = hostIndex * a.threads;
  if (firstIndex + a.threads > totalThreads) {
    throw new InputError(`--total-threads: expected at least ${firstIndex + a.threads} (this host's threads are numbered ${firstIndex}..${firstIndex + a.threads - 1}), got ${totalThreads}`);
  }
  return { program, threads: a.threads, totalThreads, firstIndex, history: a.history !== undefined ? path.resolve(a.history) : null };
}

export async function serveCommand(a: ServeArgs, err: (s: string) => void): Promise<number> {
  if (!(LOG_LEVELS as readonly string[]).includes(a.logLevel)) {
    throw new InputError(`--log-level: expected one of ${LOG_LEVELS.join(', ')}, got "${a.logLevel}"`);
  }
  const { cluster } = loadCluster(a.cluster);
  hostById(cluster, a.host);
  const hostIndex = cluster.hosts.findIndex((h) => h.id === a.host);
  const app = appRunOf(a, hostIndex, cluster.hosts.length);
  let running;
  try {
    running = await serve({ cluster, hostId: a.host, logLevel: a.logLevel, app, ...(a.logFile !== undefined ? { logFile: a.logFile } : {}) });
  } catch (e) {
    // Port in use, data directory unwritable, no native shim: the operator's to fix, said plainly.
    err(`gallocy serve: host ${a.host} of ${cluster.name} could not start: ${e instanceof Error ? e.message : String(e)}\n`);
    // A missing tls section or a certificate that does not fit is bad input, like a bad cluster file.
    return e instanceof InputError ? EXIT_BAD_INPUT : 1;
  }
  const signalled = new Promise<[string, number]>((resolve) => {
    process.once('SIGINT', () => resolve(['SIGINT', 0]));
    process.once('SIGTERM', () => resolve(['SIGTERM', 0]));
  });
  const [reason, code] = await Promise.race([signalled, running.fatal.then((c): [string, number] => ['fatal', c])]);
  return running.stop(reason, code);
}
