// `gallocy serve --cluster FILE --host ID [--workload NAME | --app FILE]`:
// runs one real host until SIGINT or SIGTERM. Flags are checked here, before
// anything opens, so bad input exits 2 with a message naming the flag.
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { existsSync } from 'node:fs';
import { EXIT_BAD_INPUT, InputError } from '../input/errors.js';
import { MAX_APP_HOSTS, type AppProgram, type WorkloadName } from '../real/app-protocol.js';
import { WORKLOAD_OPTION_DEFAULTS, workloadOf } from '../vmm/workloads/index.js';
import { hostById } from '../real/cluster.js';
import { loadCluster } from '../real/cluster-file.js';
import { LOG_LEVELS } from '../real/log.js';
import { serve } from '../real/serve.js';
import type { AppRun } from '../real/serve.js';

/** The built-in workloads real mode runs (alloc-churn's end check needs the simulator's allocator view). */
export const REAL_WORKLOADS: readonly WorkloadName[] = ['registers', 'counter', 'matrix', 'false-sharing', 'matrix-barrier', 'locked-list'];

export interface ServeArgs {
  cluster: string;
  host: number;
  workload?: string;
  app?: string;
  threads: number;
  totalThreads?: number;
  history?: string;
  seed: number;
  /** Operations per thread of a built-in workload. */
  ops?: number;
  /** Seconds each thread of a built-in workload spends, about (pauses between operations stretched to fit). */
  durationS?: number;
  /** A built-in workload's options, "name=value" each. */
  options?: string[];
  /** Seconds after which the run ends, verdict or not (default: the cluster file's run.deadlineS). */
  deadlineS?: number;
  logLevel: string;
  logFile?: string;
}

/** What --ops sets in each workload. */
const OPS_OPTION: Readonly<Record<WorkloadName, string | null>> = { registers: 'opsPerThread', counter: 'increments', matrix: null, 'alloc-churn': null,
  'false-sharing': 'rounds', 'matrix-barrier': null, 'locked-list': 'inserts' };

/**
 * The workload's options from --option, --ops and --duration, checked by the
 * workload itself (the message names the option). --duration stretches the
 * random pause between operations (uniform in 1..computeUs, so about half of
 * it on average) so that each thread's pauses add up to about that long.
 */
export function workloadOptions(name: WorkloadName, a: Pick<ServeArgs, 'ops' | 'durationS' | 'options' | 'threads' | 'totalThreads'>, totalThreads: number): Record<string, number> {
  const defaults = WORKLOAD_OPTION_DEFAULTS[name]!;
  const o: Record<string, number> = { ...defaults };
  for (const raw of a.options ?? []) {
    const m = /^([A-Za-z]+)=(-?\d+(?:\.\d+)?)$/.exec(raw);
    if (m === null) throw new InputError(`--option: expected NAME=NUMBER, got "${raw}"`);
    if (!(m[1]! in defaults)) throw new InputError(`--option: the ${name} workload has no option "${m[1]}" (it has ${Object.keys(defaults).join(', ')})`);
    o[m[1]!] = Number(m[2]);
  }
  if (a.ops !== undefined) {
    const key = OPS_OPTION[name];
    if (key === null) throw new InputError(`--ops: the ${name} workload is sized by its options, not by a count of operations (use --option n=N for the matrix's size)`);
    o[key] = a.ops;
  }
  if (a.durationS !== undefined) {
    const us = a.durationS * 1e6;
    if (name === 'counter') o['computeUs'] = Math.max(1, Math.round((2 * us) / Math.max(1, o['increments']!)));
    else if (name === 'registers') o['computeUs'] = Math.max(1, Math.round((2 * us) / Math.max(1, o['opsPerThread']!)));
    else if (name === 'matrix') {
      const rows = Math.ceil(o['n']! / totalThreads);
      o['computeUsPerRow'] = Math.max(1, Math.round(us / Math.max(1, rows)));
      // Threads that wait for the others must not give up before those are done.
      o['maxPolls'] = Math.max(o['maxPolls']!, Math.ceil((4 * us) / Math.max(1, o['pollUs']!)));
    }
  }
  try {
    workloadOf(name, o);
  } catch (err) {
    throw new InputError(`--workload ${name}: ${err instanceof Error ? err.message : String(err)}`);
  }
  return o;
}

/** The application part of the flags, checked; null when the host runs no application. */
export function appRunOf(a: ServeArgs, hostIndex: number, hosts: number, clusterDeadlineS?: number): AppRun | null {
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
    for (const [flag, v] of [['--total-threads', a.totalThreads], ['--ops', a.ops], ['--duration', a.durationS], ['--option', a.options?.length ? a.options : undefined], ['--deadline', a.deadlineS]] as const) {
      if (v !== undefined) throw new InputError(`${flag}: expected --workload or --app too`);
    }
    return null;
  }
  if (program.kind === 'app') {
    for (const [flag, v] of [['--ops', a.ops], ['--duration', a.durationS], ['--option', a.options?.length ? a.options : undefined]] as const) {
      if (v !== undefined) throw new InputError(`${flag}: sizes a built-in workload (--workload); an --app sizes itself`);
    }
  }
  if (hosts > MAX_APP_HOSTS) throw new InputError(`--${program.kind === 'app' ? 'app' : 'workload'}: at most ${MAX_APP_HOSTS} hosts run applications, the cluster has ${hosts}`);
  // Every host runs the same number of threads unless told the cluster's total.
  const totalThreads = a.totalThreads ?? a.threads * hosts;
  const firstIndex = hostIndex * a.threads;
  if (firstIndex + a.threads > totalThreads) {
    throw new InputError(`--total-threads: expected at least ${firstIndex + a.threads} (this host's threads are numbered ${firstIndex}..${firstIndex + a.threads - 1}), got ${totalThreads}`);
  }
  if (program.kind === 'workload' && (a.ops !== undefined || a.durationS !== undefined || (a.options?.length ?? 0) > 0)) {
    program = { ...program, options: workloadOptions(program.name, a, totalThreads) };
  }
  const deadlineS = a.deadlineS ?? clusterDeadlineS;
  return {
    program, threads: a.threads, totalThreads, firstIndex, history: a.history !== undefined ? path.resolve(a.history) : null,
    deadlineMs: deadlineS !== undefined ? Math.round(deadlineS * 1000) : null,
  };
}

export async function serveCommand(a: ServeArgs, err: (s: string) => void): Promise<number> {
  if (!(LOG_LEVELS as readonly string[]).includes(a.logLevel)) {
    throw new InputError(`--log-level: expected one of ${LOG_LEVELS.join(', ')}, got "${a.logLevel}"`);
  }
  const { cluster } = loadCluster(a.cluster);
  hostById(cluster, a.host);
  const hostIndex = cluster.hosts.findIndex((h) => h.id === a.host);
  const app = appRunOf(a, hostIndex, cluster.hosts.length, cluster.run.deadlineS);
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
