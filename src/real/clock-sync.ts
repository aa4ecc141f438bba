// Measures this host's clock offset to the reference host (the cluster
// file's first) over its admin port, GET /clock, for clock-map.ts: a few
// round trips a second, each one a sample; the map keeps the best.
import { ClockMap, hostMonoUs, type ClockSample } from './clock-map.js';
import type { ClusterHost } from './cluster.js';
import type { Logger } from './log.js';

/** Round trips to the reference host per measurement, the best one kept; and how often to measure. */
const CLOCK_TRIES = 3;
const CLOCK_EVERY_MS = 1000;

/**
 * Measures this host's clock offset to the reference host over its admin
 * port, now and every second, until the returned function is called. The
 * cluster's admin token, if it has one, goes with each request.
 */
export function syncClock(clock: ClockMap, reference: ClusterHost, log: Logger, token: string | undefined): () => void {
  const headers: Record<string, string> = token === undefined ? {} : { authorization: `Bearer ${token}` };
  let stopped = false;
  let logged = false;
  const once = async (): Promise<void> => {
    let best: ClockSample | null = null;
    for (let i = 0; i < CLOCK_TRIES && !stopped; i++) {
      try {
        const sent = hostMonoUs();
        const res = await fetch(`http://${reference.admin}/clock`, { headers, signal: AbortSignal.timeout(2000) });
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

