// The end-of-run barrier as a host judges it from the run slots (every
// host's share, app-protocol.ts) and from which peers it still reaches. Pure:
// serve.ts feeds it what the slot watcher and the transport report, and acts
// on the result (verify, a verdict, what status says the host waits for).
import { decodeSlot } from './app-protocol.js';

export interface BarrierInput {
  /** Every host's slot word, by host index. */
  slots: readonly number[];
  /** Host ids by host index. */
  hostIds: readonly number[];
  totalThreads: number;
  /** Hosts not reached for hostGoneMs or longer (never this host). */
  gone: ReadonlySet<number>;
}

export type BarrierView =
  /** Every thread ended; failed lists the hosts some of whose threads failed. */
  | { kind: 'complete'; failed: number[] }
  /** It never will: shares abandoned, or hosts gone with unfinished shares. */
  | { kind: 'broken'; why: string }
  | { kind: 'waiting'; what: string };

export function barrierView(b: BarrierInput): BarrierView {
  const shares = b.slots.map((w, i) => ({ host: b.hostIds[i]!, ...decodeSlot(w) }));
  const abandoned = shares.filter((s) => s.abandoned);
  if (abandoned.length > 0) {
    return { kind: 'broken', why: `the share of host${abandoned.length > 1 ? 's' : ''} ${abandoned.map((s) => s.host).join(', ')} was abandoned (threads cut off, or stopped part-way and restarted): the run cannot complete` };
  }
  const started = shares.filter((s) => s.started);
  const ended = shares.reduce((n, s) => n + s.ended, 0);
  const declared = started.reduce((n, s) => n + s.threads, 0);
  const unfinished = started.filter((s) => s.ended < s.threads);
  // Hosts that have not claimed a share yet, while threads are still missing from the total.
  const notStarted = declared < b.totalThreads ? shares.filter((s) => !s.started && s.ended === 0) : [];
  if (ended >= b.totalThreads && unfinished.length === 0) {
    return { kind: 'complete', failed: shares.filter((s) => s.failed).map((s) => s.host) };
  }
  const goneUnfinished = [...unfinished, ...notStarted].filter((s) => b.gone.has(s.host));
  if (goneUnfinished.length > 0) {
    return { kind: 'broken', why: `host${goneUnfinished.length > 1 ? 's' : ''} ${goneUnfinished.map((s) => s.host).join(', ')} gone (unreachable) with ${goneUnfinished.map((s) => (s.started ? `${s.threads - s.ended} of ${s.threads} threads unfinished` : 'its share not started')).join(', ')}` };
  }
  const parts = [
    ...unfinished.map((s) => `host ${s.host}: ${s.ended} of ${s.threads} threads ended`),
    ...notStarted.map((s) => `host ${s.host}: not started`),
  ];
  if (parts.length === 0) parts.push(`${ended} of ${b.totalThreads} threads ended`);
  return { kind: 'waiting', what: `the cluster's threads to end (${parts.join('; ')})` };
}
