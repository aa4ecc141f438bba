// `gallocy serve`: one real host with everything around it: JSON logs, the
// admin and metrics server, and optionally application threads (a built-in
// workload or a user's module) over the shared heap. Once the threads here
// finish, the host waits for every thread in the cluster (the run slots in
// the root region, run-barrier.ts) and then runs the program's verify; the
// host itself serves until it is stopped, since other hosts may still need
// its pages and votes, or until the run's deadline.
import { appendFileSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { DEBUG_STALL_ENV, startAdminServer } from './admin-server.js';
import type { AdminServer, DebugHooks } from './admin-server.js';
import { AppThreads } from './app-threads.js';
import type { AppRecord } from './app-threads.js';
import type { Cluster } from './cluster.js';
import { hostById, parseAddress } from './cluster.js';
import { armDeadline, runToVerdict, type AppRun } from './app-run.js';
import { ClockMap, hostMonoUs } from './clock-map.js';
import { syncClock } from './clock-sync.js';
import { checkGeometry, geometryOf } from './geometry-file.js';
import { RealHost } from './host.js';
import { DiskFullError } from './raft-store.js';
import type { AppStatus, HostStatus } from './host-status.js';
import { createLogger } from './log.js';
import type { Logger } from './log.js';
import { HostMetrics } from './metrics.js';
import { nativeAvailable } from './native-memory.js';
import { adminTokenOf, readAdminToken } from './admin-token.js';

export { EXIT_DEADLINE, type AppRun } from './app-run.js';


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
/** Exit code of a host that stopped because its disk is full (logged with the directory and what it was writing). */
export const EXIT_DISK_FULL = 5;

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
  // Histories go on the cluster's first host's monotonic clock (clock-map.ts).
  const reference = opts.cluster.hosts[0]!;
  const clock = new ClockMap(opts.cluster.leases.driftBoundPpm, reference.id === self.id);

  const host = new RealHost(opts.cluster, self.id, {
    // Checked first: the host logs every VMM message at trace, and a disabled line should not cost a copy of its fields.
    log: (level, event, fields) => {
      if (log.isLevelEnabled(level)) log[level]({ event, ...fields });
    },
    faultServed: (kind, seconds) => metrics?.faultServed(kind, seconds),
    internalError: (err) => {
      if (err instanceof DiskFullError) {
        // Nothing is lost: the write that failed was rolled back and nothing that depends on it was sent.
        log.fatal({ event: 'disk-full', dir: err.dir, writing: err.writing, error: err.message });
        endFatal(EXIT_DISK_FULL);
        return;
      }
      log.fatal({ event: 'internal-error', error: err.message, stack: err.stack });
      endFatal(EXIT_INTERNAL_ERROR);
    },
    appFatal: (why, kind) => {
      log.error({ event: 'app-fatal', why, kind });
      appFailure ??= why;
      // A lost write-back ends the application (its memory is no longer what it wrote), not the
      // host; its share is marked abandoned so the other hosts' barriers know it will not end.
      if (kind === 'lost-writes') void app?.abandon(why);
      // A segmentation fault ends the process, as it would a native program: the faulting thread cannot resume.
      else endFatal(EXIT_APP_FATAL);
    },
  });
  const status = (): HostStatus => {
    const s = host.status();
    if (app === null) return s;
    const a: AppStatus = app.status();
    return { ...s, app: appFailure === null ? a : { ...a, state: 'failed', verified: a.verified === null ? null : false, error: appFailure } };
  };
  try {
    checkGeometry(self.dataDir, geometryOf(opts.cluster, host.plans));
  } catch (err) {
    await host.stop();
    throw err;
  }
  metrics = new HostMetrics(status);
  let admin: AdminServer | null = null;
  try {
    const debug = process.env[DEBUG_STALL_ENV] === '1' ? stallHooks(host) : undefined;
    if (debug !== undefined) log.warn({ event: 'debug-endpoints-on', why: `${DEBUG_STALL_ENV}=1: POST /debug/stall can stall this host` });
    const token = adminTokenOf(opts.cluster, adminAt.host);
    admin = await startAdminServer({
      host: adminAt.host, port: adminAt.port, status, metrics, log: (event, fields) => log.info({ event, ...fields }), ...(debug !== undefined ? { debug } : {}),
      ...(token !== undefined ? { token } : {}),
      clock: () => ({ host: self.id, monoUs: hostMonoUs() }),
    });
    await host.start();
  } catch (err) {
    await host.stop();
    await admin?.close();
    throw err;
  }
  const adminServer = admin;
  log.info({ event: 'serving', address: self.address, admin: self.admin, dataDir: self.dataDir, pid: process.pid });

  let stopClockSync: () => void = () => {};
  if (opts.app !== null) {
    const run = opts.app;
    if (run.history !== null && !clock.isReference) stopClockSync = syncClock(clock, reference, log, opts.cluster.adminToken === undefined ? undefined : readAdminToken(opts.cluster.adminToken));
    app = startApp(run, host, log, clock, (file, err) => {
      log.fatal({ event: 'disk-full', dir: path.dirname(file), writing: `the history file ${file}`, error: err.message });
      endFatal(EXIT_DISK_FULL);
    });
    void runToVerdict(app, run, host, clock, log);
    if (run.deadlineMs !== null) armDeadline(app, run.deadlineMs, log, endFatal);
  }
  if (process.env['npm_command'] === 'exec') watchParent(log, () => endFatal(0));

  let stopping: Promise<number> | null = null;
  const stop = (reason: string, exitCode = 0): Promise<number> => {
    stopping ??= (async () => {
      log.info({ event: 'stopping', reason });
      // Threads first, so nothing writes any more; a thread waiting on a fault ends once the
      // fault is answered. Then the dirty page goes back to its company, so a clean stop
      // loses no write. If either takes too long (the cluster is unreachable), the heap
      // closes anyway: every page opens and every waiter wakes, so the workers can end.
      stopClockSync();
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

/** With this set to 1, `serve` writes history times on the host's own clock, unmapped: the bug clock-map.ts fixes, planted for tests. */
export const DEBUG_NO_CLOCK_MAP_ENV = 'GALLOCY_DEBUG_NO_CLOCK_MAP';

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

function startApp(run: AppRun, host: RealHost, log: Logger, clock: ClockMap, diskFull: (file: string, err: Error) => void): AppThreads {
  const unmapped = process.env[DEBUG_NO_CLOCK_MAP_ENV] === '1';
  if (unmapped) log.warn({ event: 'debug-clock-unmapped', why: `${DEBUG_NO_CLOCK_MAP_ENV}=1: history times stay on this host's own clock (the bug clock-map.ts fixes)` });
  const line = (r: AppRecord): string => {
    if (unmapped) return JSON.stringify({ host: host.id, ...r, err: 0 });
    // runToVerdict starts the threads only once the clock is mapped, so neither is null.
    const call = clock.map(r.call)!;
    const ret = clock.map(r.ret)!;
    return JSON.stringify({ host: host.id, ...r, call: call.us, ret: ret.us, err: Math.max(call.err, ret.err) });
  };
  const heap = host.cluster.heap;
  if (run.history !== null) mkdirSync(path.dirname(run.history), { recursive: true });
  const hostIndex = host.cluster.hosts.findIndex((h) => h.id === host.id);
  const threads = new AppThreads({
    heap: host.memory.handle(),
    host: host.id,
    hostIndex,
    hosts: host.cluster.hosts.length,
    pageSize: heap.pageSize,
    rootBytes: heap.rootPages * heap.pageSize,
    threadsHere: run.threads,
    coherence: host.cluster.coherence,
    firstIndex: run.firstIndex,
    totalThreads: run.totalThreads,
    program: run.program,
    record: run.history !== null,
    malloc: (size, done) => host.vmm.malloc(size, done),
    free: (addr, done) => host.vmm.free(addr, done),
    sync: host.vmm.sync,
    onRecords: (records: AppRecord[]) => {
      host.opCount += records.length;
      if (run.history === null) return;
      try {
        appendFileSync(run.history, records.map(line).join('\n') + '\n');
      } catch (err) {
        if (isDiskFull(err)) diskFull(run.history, err as Error);
        else throw err;
      }
    },
    log: (event, fields) => log.info({ event, ...fields }),
  });
  return threads;
}

/** True for a write that failed because the file system is full. */
function isDiskFull(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT';
}

/**
 * Started through npx, the host runs under `sh -c`, under npm, which does not
 * pass a kill on: stop when the parent or the parent's parent (npm) is gone,
 * so `kill` of the npx process stops the host as the user expects. Linux
 * (/proc), as real mode is.
 */
function watchParent(log: Logger, stop: () => void): void {
  const parent = process.ppid;
  const grandparent = parentOf(parent);
  const timer = setInterval(() => {
    const gone = process.ppid !== parent ? parent : grandparent !== null && parentOf(parent) !== grandparent ? grandparent : null;
    if (gone === null) return;
    clearInterval(timer);
    log.warn({ event: 'parent-exited', why: `the npx process (pid ${gone}) that started this host exited: stopping` });
    stop();
  }, 500);
  timer.unref();
}

/** The parent pid of `pid` (from /proc), or null if it is gone or unreadable. */
function parentOf(pid: number): number | null {
  try {
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so read after the last ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    return Number.isInteger(ppid) ? ppid : null;
  } catch {
    return null;
  }
}
