// An application run on one host, from its claim to its verdict: claim this
// host's run slot (a restarted host whose share already completed runs
// nothing again; one whose share stopped part-way says why it will not
// resume), run the threads, wait at the cluster's barrier (run-barrier.ts),
// which ends early when a share is abandoned or a host with an unfinished
// share is gone, then verify. Status and the log say what the run waits
// for meanwhile; a deadline ends it whatever it is doing.
import { performance } from 'node:perf_hooks';
import type { AppThreads } from './app-threads.js';
import { decodeSlot, runIdOf, type AppProgram } from './app-protocol.js';
import type { ClockMap } from './clock-map.js';
import type { RealHost } from './host.js';
import type { Logger } from './log.js';
import { barrierView, type BarrierView } from './run-barrier.js';

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

/** Exit code of a run whose deadline passed before its verdict. */
export const EXIT_DEADLINE = 4;

/** How long one write-back of the run slot may take before the host says, in the log, that it still waits. */
const FLUSH_WAIT_MS = 5000;

/** How often a waiting host looks at its peers and says (in the log) what it still waits for. */
const WAIT_CHECK_MS = 500;
const WAIT_LOG_EVERY_MS = 10_000;
/** A slot watcher silent this long is blocked in a fault on the root region's last page. */
const WATCHER_STALE_MS = 3000;

/** This host's share, then every host's, then the program's verify, to one verdict (see the top of the file). */
export async function runToVerdict(threads: AppThreads, run: AppRun, host: RealHost, clock: ClockMap, log: Logger): Promise<void> {
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
  while (!(await host.flush(FLUSH_WAIT_MS))) {
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

/**
 * Ends the run `ms` after now: with exit 0 or 1 if it has its verdict, else
 * with EXIT_DEADLINE and a verdict saying what it was waiting for, since when.
 */
export function armDeadline(threads: AppThreads, ms: number, log: Logger, end: (exitCode: number) => void): void {
  const timer = setTimeout(() => {
    const verdict = threads.result;
    if (verdict !== null) {
      log.info({ event: 'app-deadline', verdict: verdict.text });
      end(verdict.ok ? 0 : 1);
      return;
    }
    const st = threads.status();
    const text = `the deadline (${ms / 1000} s) passed before the run's verdict, waiting for ${st.waitingFor ?? `this host's threads (${st.threadsDone} of ${st.threads} ended)`}${st.waitingSince !== null ? ` since ${st.waitingSince}` : ''}`;
    threads.setVerdict({ ok: false, text });
    log.error({ event: 'app-deadline', verdict: text });
    end(EXIT_DEADLINE);
  }, ms);
  timer.unref();
}
