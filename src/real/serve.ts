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
import type { AppProgram, AppRecord } from './app-threads.js';
import type { Cluster, ClusterHost } from './cluster.js';
import { hostById, parseAddress } from './cluster.js';
import { ClockMap, hostMonoUs, type ClockSample } from './clock-map.js';
import { checkGeometry, geometryOf } from './geometry-file.js';
import { RealHost } from './host.js';
import { DiskFullError } from './raft-store.js';
import { barrierView, type BarrierView } from './run-barrier.js';
import { decodeSlot, runIdOf } from './app-protocol.js';
import type { AppStatus, HostStatus } from './host-status.js';
import { createLogger } from './log.js';
import type { Logger } from './log.js';
import { HostMetrics } from './metrics.js';
import { nativeAvailable } from './native-memory.js';

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
  /** The run ends this long after the host started (null: never by itself): verdict or not, the host stops. */
  deadlineMs: number | null;
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
/** Exit code of a run whose deadline passed before its verdict. */
export const EXIT_DEADLINE = 4;
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
    log: (level, event, fields) => log[level]({ event, ...fields }),
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
    admin = await startAdminServer({
      host: adminAt.host, port: adminAt.port, status, metrics, log: (event, fields) => log.info({ event, ...fields }), ...(debug !== undefined ? { debug } : {}),
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
    if (run.history !== null && !clock.isReference) stopClockSync = syncClock(clock, reference, log);
    app = startApp(run, host, log, clock, (file, err) => {
      log.fatal({ event: 'disk-full', dir: path.dirname(file), writing: `the history file ${file}`, error: err.message });
      endFatal(EXIT_DISK_FULL);
    });
    void runToVerdict(app, run, host, clock, log);
    if (run.deadlineMs !== null) {
      const threads = app;
      const timer = setTimeout(() => {
        const verdict = threads.result;
        const st = threads.status();
        if (verdict === null) {
          const text = `the deadline (${run.deadlineMs! / 1000} s) passed before the run's verdict, waiting for ${st.waitingFor ?? `this host's threads (${st.threadsDone} of ${st.threads} ended)`}${st.waitingSince !== null ? ` since ${st.waitingSince}` : ''}`;
          threads.setVerdict({ ok: false, text });
          log.error({ event: 'app-deadline', verdict: text });
          endFatal(EXIT_DEADLINE);
        } else {
          log.info({ event: 'app-deadline', verdict: verdict.text });
          endFatal(verdict.ok ? 0 : 1);
        }
      }, run.deadlineMs);
      timer.unref();
    }
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
    firstIndex: run.firstIndex,
    totalThreads: run.totalThreads,
    program: run.program,
    record: run.history !== null,
    malloc: (size, done) => host.vmm.malloc(size, done),
    free: (addr, done) => host.vmm.free(addr, done),
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

/** How often a waiting host looks at its peers and says (in the log) what it still waits for. */
const WAIT_CHECK_MS = 500;
const WAIT_LOG_EVERY_MS = 10_000;
/** A slot watcher silent this long is blocked in a fault on the root region's last page. */
const WATCHER_STALE_MS = 3000;

/**
 * This host's share, then every host's, then the program's verify, to one
 * verdict: claim the run slot (a restarted host whose share already
 * completed runs nothing again; one whose share stopped part-way says why it
 * will not resume), run the threads, wait at the barrier, which ends early
 * when a share is abandoned or a host with an unfinished share is gone.
 */
async function runToVerdict(threads: AppThreads, run: AppRun, host: RealHost, clock: ClockMap, log: Logger): Promise<void> {
  const hostIds = host.cluster.hosts.map((h) => h.id);
  const hostGoneMs = host.cluster.run.hostGoneS * 1000;
  const fail = (text: string): void => {
    threads.setVerdict({ ok: false, text });
    log.error({ event: 'app-verify-failed', verdict: text });
  };
  try {
    if (run.history !== null && !clock.ready) {
      threads.setWaiting(`a clock offset from host ${host.cluster.hosts[0]!.id}, the histories' reference (GET /clock on its admin port)`);
      while (!clock.ready) {
        if (threads.stopped) throw new Error('app threads terminated');
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    threads.setWaiting("this host's run slot (the root region's last page) from the cluster");
    const { before, previousRun } = await threads.claim();
    threads.setWaiting(null);
    if (previousRun !== null) log.warn({ event: 'app-new-run', why: `the heap's run slots were another run's (id ${previousRun}: another program, options, seed or thread count): this host starts a new run (id ${runIdOf(run.program, run.totalThreads)}) and clears them; the heap's data stays as the last run left it` });
    // The claim lives in a page this host now holds dirty: written back before any thread runs,
    // so a kill -9 from here on cannot make a later life of this host take its share for fresh.
    await durable(threads, host, log, 'the claim of its run slot');
    const prior = decodeSlot(before);
    if (before === 0) {
      threads.start();
      log.info({ event: 'app-started', threads: run.threads, totalThreads: run.totalThreads, firstIndex: run.firstIndex });
    } else if (!prior.abandoned && prior.ended >= prior.threads) {
      threads.start(true);
      log.warn({ event: 'app-share-done', why: `this host's share (${prior.threads} threads${prior.failed ? ', some failed' : ''}) already ran to completion before the host restarted, as the heap records: it is not run again; waiting for the other hosts' threads, then verifying` });
    } else {
      const why = prior.abandoned
        ? "this host's share was abandoned in an earlier life of this host (its threads were cut off)"
        : `this host's share stopped part-way in an earlier life of this host (${prior.ended} of ${prior.threads} threads had ended): a share cannot resume part-way, and running it again would repeat its writes`;
      threads.start(true);
      await threads.abandon(why);
      await durable(threads, host, log, 'its abandoned share');
      fail(`${why}; the run is marked failed on every host: start a new run on fresh data directories`);
      return;
    }
    const { errors } = await threads.done;
    log.info({ event: 'app-threads-done', errors });
    await durable(threads, host, log, "its threads' ends");
    const view = await waitAtBarrier(threads, run, host, hostIds, hostGoneMs, log);
    if (view.kind === 'broken') {
      fail(view.why);
      return;
    }
    const result = await threads.verify();
    const problems = [
      ...errors,
      ...view.failed.filter((id) => id !== host.id).map((id) => `host ${id}: some of its threads failed`),
      ...(result === null ? [] : [result]),
    ];
    if (problems.length > 0) fail(problems.join('; '));
    else {
      threads.setVerdict({ ok: true, text: 'verified' });
      log.info({ event: 'app-verified' });
    }
  } catch (err) {
    // terminate() during a wait: the host is stopping.
    log.warn({ event: 'app-ended', error: err instanceof Error ? err.message : String(err) });
  }
}

/** Writes this host's dirty page back (its run slot is in it), retrying until done or the host stops. */
async function durable(threads: AppThreads, host: RealHost, log: Logger, what: string): Promise<void> {
  threads.setWaiting(`the write-back of ${what} (the root region's last page) to its company`);
  while (!(await host.flush(STOP_GRACE_MS))) {
    if (threads.stopped) throw new Error('app threads terminated');
    log.warn({ event: 'app-waiting', for: threads.status().waitingFor, since: threads.waitingSince?.toISOString() });
  }
  threads.setWaiting(null);
}

/** Resolves once the barrier is complete or broken, saying in status and the log what it waits for meanwhile. */
function waitAtBarrier(threads: AppThreads, run: AppRun, host: RealHost, hostIds: number[], hostGoneMs: number, log: Logger): Promise<Extract<BarrierView, { kind: 'complete' | 'broken' }>> {
  return new Promise((resolve, reject) => {
    let slots: number[] | null = null;
    let slotsAt = performance.now();
    const lastReached = new Map(hostIds.map((id) => [id, performance.now()]));
    let lastLogged = '';
    let loggedAt = 0;
    const check = (): void => {
      if (threads.stopped) {
        // The host is stopping: no verdict, and no timer left to keep the process alive.
        end();
        reject(new Error('app threads terminated'));
        return;
      }
      const now = performance.now();
      const connected = new Set(host.transport.stats().connectedPeers);
      for (const id of hostIds) if (id === host.id || connected.has(id)) lastReached.set(id, now);
      const gone = new Set(hostIds.filter((id) => now - lastReached.get(id)! >= hostGoneMs));
      let what: string;
      if (slots === null || now - slotsAt > WATCHER_STALE_MS) {
        what = `the run slots (the root region's last page), which have not come for ${((now - slotsAt) / 1000).toFixed(1)} s`;
      } else {
        const view = barrierView({ slots, hostIds, totalThreads: run.totalThreads, gone });
        if (view.kind !== 'waiting') {
          finish(view);
          return;
        }
        what = view.what;
      }
      const away = hostIds.filter((id) => id !== host.id && !connected.has(id));
      if (away.length > 0) what += `; not connected to host${away.length > 1 ? 's' : ''} ${away.map((id) => `${id} (for ${((now - lastReached.get(id)!) / 1000).toFixed(1)} s)`).join(', ')}`;
      threads.setWaiting(what);
      const shape = what.replace(/[\d.]+ s\b/g, '');
      if (shape !== lastLogged || now - loggedAt >= WAIT_LOG_EVERY_MS) {
        log.info({ event: 'app-waiting', for: what, since: threads.waitingSince?.toISOString() });
        lastLogged = shape;
        loggedAt = now;
      }
    };
    const stopWatching = threads.watchSlots((values) => {
      slots = values;
      slotsAt = performance.now();
      check();
    });
    const timer = setInterval(check, WAIT_CHECK_MS);
    let finished = false;
    const end = (): void => {
      finished = true;
      clearInterval(timer);
      stopWatching();
    };
    const finish = (view: Extract<BarrierView, { kind: 'complete' | 'broken' }>): void => {
      if (finished) return;
      end();
      threads.setWaiting(null);
      resolve(view);
    };
  });
}

/** Round trips to the reference host per measurement, the best one kept; and how often to measure. */
const CLOCK_TRIES = 3;
const CLOCK_EVERY_MS = 1000;

/**
 * Measures this host's clock offset to the reference host over its admin
 * port, now and every second, until the returned function is called.
 */
function syncClock(clock: ClockMap, reference: ClusterHost, log: Logger): () => void {
  let stopped = false;
  let logged = false;
  const once = async (): Promise<void> => {
    let best: ClockSample | null = null;
    for (let i = 0; i < CLOCK_TRIES && !stopped; i++) {
      try {
        const sent = hostMonoUs();
        const res = await fetch(`http://${reference.admin}/clock`, { signal: AbortSignal.timeout(2000) });
        const body = (await res.json()) as { host?: unknown; monoUs?: unknown };
        const received = hostMonoUs();
        if (body.host !== reference.id || typeof body.monoUs !== 'number') throw new Error(`answered ${JSON.stringify(body)}, not host ${reference.id}'s clock`);
        const s = clock.addRoundTrip(sent, body.monoUs, received);
        if (best === null || s.uncertaintyUs < best.uncertaintyUs) best = s;
      } catch (err) {
        log.debug({ event: 'clock-sync-failed', reference: reference.id, error: err instanceof Error ? err.message : String(err) });
      }
    }
    if (best !== null && !logged) {
      logged = true;
      log.info({ event: 'clock-offset', reference: reference.id, offsetUs: Math.round(best.offsetUs), uncertaintyUs: Math.round(best.uncertaintyUs) });
    }
  };
  void once();
  const timer = setInterval(() => void once(), CLOCK_EVERY_MS);
  return () => {
    stopped = true;
    clearInterval(timer);
  };
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
