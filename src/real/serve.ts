// `gallocy serve`: one real host with everything around it: JSON logs, the
// admin and metrics server, and optionally application threads (a built-in
// workload or a user's module) over the shared heap. Once the threads here
// finish, the host waits for every thread in the cluster (a counter in the
// root region) and then runs the program's verify; the host itself serves
// until it is stopped, since other hosts may still need its pages and votes.
import { appendFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { DEBUG_STALL_ENV, startAdminServer } from './admin-server.js';
import type { AdminServer, DebugHooks } from './admin-server.js';
import { AppThreads } from './app-threads.js';
import type { AppProgram, AppRecord } from './app-threads.js';
import type { Cluster } from './cluster.js';
import { hostById, parseAddress } from './cluster.js';
import { RealHost } from './host.js';
import type { AppStatus, HostStatus } from './host-status.js';
import { createLogger } from './log.js';
import type { Logger } from './log.js';
import { HostMetrics } from './metrics.js';
import { nativeAvailable } from './native-memory.js';
import { adminTokenOf } from './admin-token.js';

export interface AppRun {
  program: AppProgram;
  /** Threads on this host. */
  threads: number;
  /** Threads in the whole cluster (the barrier before verify waits for all of them). */
  totalThreads: number;
  /** Cluster-wide index of this host's first thread. */
  firstIndex: number;
  /** Append every recorded memory operation here as JSON lines (null: do not record). */
  history: string | null;
}

export interface ServeOptions {
  cluster: Cluster;
  hostId: number;
  logLevel: string;
  /** Log file; default stdout. */
  logFile?: string;
  app: AppRun | null;
}

export interface RunningHost {
  readonly host: RealHost;
  readonly admin: AdminServer;
  readonly log: Logger;
  status(): HostStatus;
  /** Stops everything (once; later calls get the first one's promise); resolves with exitCode. */
  stop(reason: string, exitCode?: number): Promise<number>;
  /** Resolves, with the exit code, when the host must stop by itself (a segfault, an internal error). */
  readonly fatal: Promise<number>;
}

/** Exit code of a host ended by its application's segmentation fault. */
export const EXIT_APP_FATAL = 3;
/** Exit code of a host that stopped on a bug of its own (logged with its stack). */
export const EXIT_INTERNAL_ERROR = 70;

export async function serve(opts: ServeOptions): Promise<RunningHost> {
  const native = nativeAvailable();
  if (!native.ok) throw new Error(`real mode is unavailable on this machine: ${native.reason}`);
  const self = hostById(opts.cluster, opts.hostId);
  const adminAt = parseAddress(self.admin);
  if (adminAt === null) throw new Error(`host ${self.id}: admin address ${self.admin} was not validated`);
  const log = createLogger({ host: self.id, cluster: opts.cluster.id, level: opts.logLevel, ...(opts.logFile ? { destination: opts.logFile } : {}) });
  let app: AppThreads | null = null;
  let appFailure: string | null = null;
  let endFatal: (code: number) => void = () => {};
  const fatal = new Promise<number>((resolve) => (endFatal = resolve));
  let metrics: HostMetrics | null = null;

  const host = new RealHost(opts.cluster, self.id, {
    log: (level, event, fields) => log[level]({ event, ...fields }),
    faultServed: (kind, seconds) => metrics?.faultServed(kind, seconds),
    internalError: (err) => {
      log.fatal({ event: 'internal-error', error: err.message, stack: err.stack });
      endFatal(EXIT_INTERNAL_ERROR);
    },
    appFatal: (why, kind) => {
      log.error({ event: 'app-fatal', why, kind });
      appFailure ??= why;
      // A lost write-back ends the application (its memory is no longer what it wrote), not the host.
      if (kind === 'lost-writes') void app?.terminate();
      // A segmentation fault ends the process, as it would a native program: the faulting thread cannot resume.
      else endFatal(EXIT_APP_FATAL);
    },
  });
  const status = (): HostStatus => {
    const s = host.status();
    if (app === null) return s;
    const a: AppStatus = app.status();
    return { ...s, app: appFailure === null ? a : { ...a, state: 'failed', error: appFailure } };
  };
  metrics = new HostMetrics(status);
  let admin: AdminServer | null = null;
  try {
    const debug = process.env[DEBUG_STALL_ENV] === '1' ? stallHooks(host) : undefined;
    if (debug !== undefined) log.warn({ event: 'debug-endpoints-on', why: `${DEBUG_STALL_ENV}=1: POST /debug/stall can stall this host` });
    const token = adminTokenOf(opts.cluster, adminAt.host);
    admin = await startAdminServer({
      host: adminAt.host, port: adminAt.port, status, metrics, log: (event, fields) => log.info({ event, ...fields }), ...(debug !== undefined ? { debug } : {}),
      ...(token !== undefined ? { token } : {}),
    });
    await host.start();
  } catch (err) {
    await host.stop();
    await admin?.close();
    throw err;
  }
  const adminServer = admin;
  log.info({ event: 'serving', address: self.address, admin: self.admin, dataDir: self.dataDir, pid: process.pid });

  if (opts.app !== null) {
    app = startApp(opts.app, host, log);
    void runToVerdict(app, opts.app, log);
  }

  let stopping: Promise<number> | null = null;
  const stop = (reason: string, exitCode = 0): Promise<number> => {
    stopping ??= (async () => {
      log.info({ event: 'stopping', reason });
      // Threads first, so nothing writes any more; a thread waiting on a fault ends once the
      // fault is answered. Then the dirty page goes back to its company, so a clean stop
      // loses no write. If either takes too long (the cluster is unreachable), the heap
      // closes anyway: every page opens and every waiter wakes, so the workers can end.
      const appStopped = app === null || (await withTimeout(app.terminate(), STOP_GRACE_MS));
      const flushed = await host.flush(STOP_GRACE_MS);
      if (!appStopped || !flushed) log.warn({ event: 'stop-unclean', appStopped, flushed });
      await host.stop();
      await app?.terminate();
      await adminServer.close();
      return exitCode;
    })();
    return stopping;
  };
  return { host, admin: adminServer, log, status, stop, fatal };
}

/** µs of wall-clock time, as the application threads' history records have it. */
const wallUs = (): number => (performance.timeOrigin + performance.now()) * 1000;

/**
 * A stuck event loop on demand, as a long GC pause or a blocking call makes
 * one: the application threads go on meanwhile, the host answers nothing.
 */
function stallHooks(host: RealHost): DebugHooks {
  return {
    stall: (ms, deadlines) => {
      if (!deadlines) host.memory.enforceDeadlines(false);
      const startedAtUs = wallUs();
      const end = performance.now() + ms;
      while (performance.now() < end); // the point: this thread does nothing else meanwhile
      const endedAtUs = wallUs();
      if (!deadlines) host.memory.enforceDeadlines(true);
      return { startedAtUs, endedAtUs };
    },
  };
}

/** How long a stopping host waits for its threads to end and for its dirty page to be written back. */
const STOP_GRACE_MS = 5000;

/** True if p settled within ms. */
async function withTimeout(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([p.then(() => true as const), late]);
  } finally {
    clearTimeout(timer);
  }
}

function startApp(run: AppRun, host: RealHost, log: Logger): AppThreads {
  const heap = host.cluster.heap;
  if (run.history !== null) mkdirSync(path.dirname(run.history), { recursive: true });
  const threads = new AppThreads({
    heap: host.memory.handle(),
    host: host.id,
    pageSize: heap.pageSize,
    rootBytes: heap.rootPages * heap.pageSize,
    threadsHere: run.threads,
    firstIndex: run.firstIndex,
    totalThreads: run.totalThreads,
    program: run.program,
    record: run.history !== null,
    malloc: (size, done) => host.vmm.malloc(size, done),
    free: (addr, done) => host.vmm.free(addr, done),
    onRecords: (records: AppRecord[]) => {
      host.opCount += records.length;
      if (run.history !== null) appendFileSync(run.history, records.map((r) => JSON.stringify({ host: host.id, ...r })).join('\n') + '\n');
    },
    log: (event, fields) => log.info({ event, ...fields }),
  });
  threads.start();
  log.info({ event: 'app-started', threads: run.threads, totalThreads: run.totalThreads, firstIndex: run.firstIndex });
  return threads;
}

/** Threads here end; then every thread in the cluster; then the program's verify. */
async function runToVerdict(threads: AppThreads, run: AppRun, log: Logger): Promise<void> {
  try {
    const { errors } = await threads.done;
    log.info({ event: 'app-threads-done', errors });
    await threads.waitBarrier(run.totalThreads);
    const verdict = await threads.verify();
    if (verdict === null) log.info({ event: 'app-verified' });
    else log.error({ event: 'app-verify-failed', verdict });
  } catch (err) {
    // terminate() during a wait: the host is stopping.
    log.warn({ event: 'app-ended', error: err instanceof Error ? err.message : String(err) });
  }
}
