// Online checks of locks and barriers, on the simulator's true time, from what
// application threads do (src/sim/threads.ts reports every SyncEvent and every
// access).
//
// Lock safety: at most one thread acts in a lock's critical section at any
// instant. A holding runs from its acquire to its thread's last action under it:
// its release, or, when it ended otherwise (its lease ran out and its thread was
// stopped, its host crashed), the last thing its thread did. A lock granted to
// another while a holding is still open is not wrong in itself (the old holder
// may have been stopped already, the simulator learns it later); it is wrong as
// soon as the old holder acts after that grant.
//
// Barrier safety: a party leaves episode k of a barrier only once `parties`
// threads arrived at episode k, and each thread goes through a barrier's
// episodes in order (0, 1, 2, ...), one at a time.
import type { SyncEvent } from '../../vmm/sync/hooks.js';
import { violation } from './violation.js';

interface Holding {
  id: number;
  host: number;
  thread: number;
  since: number;
  /** When another thread was granted the lock while this holding was open (null: not yet). */
  supersededAt: number | null;
  by: string;
}

const who = (host: number, thread: number): string => `thread ${thread} of host ${host}`;

export class LockSafety {
  /** Open holdings by lock id. */
  private open = new Map<number, Holding[]>();
  /** Open holdings by thread ("host:thread"). */
  private byThread = new Map<string, Holding[]>();
  readonly stats = { acquired: 0, released: 0, lost: 0, superseded: 0 };

  event(e: SyncEvent): void {
    if (e.kind === 'lock-acquired') this.acquired(e.id, e.host, e.thread, e.at);
    else if (e.kind === 'lock-released' || e.kind === 'lock-lost') this.ended(e.id, e.host, e.thread, e.at, e.kind === 'lock-lost');
  }

  /** A thread did something (an access): wrong if it holds a lock another was granted meanwhile. */
  acted(host: number, thread: number, at: number): void {
    for (const h of this.byThread.get(`${host}:${thread}`) ?? []) this.judge(h, at, 'accessed memory');
  }

  private acquired(id: number, host: number, thread: number, at: number): void {
    this.stats.acquired++;
    const list = this.open.get(id) ?? [];
    for (const h of list) {
      if (h.supersededAt === null) {
        h.supersededAt = at;
        h.by = who(host, thread);
        this.stats.superseded++;
      }
    }
    const h: Holding = { id, host, thread, since: at, supersededAt: null, by: '' };
    list.push(h);
    this.open.set(id, list);
    const key = `${host}:${thread}`;
    this.byThread.set(key, [...(this.byThread.get(key) ?? []), h]);
  }

  /** The holding's last action was at `at`. */
  private ended(id: number, host: number, thread: number, at: number, lost: boolean): void {
    const list = this.open.get(id) ?? [];
    const h = list.find((x) => x.host === host && x.thread === thread);
    if (h === undefined) return;
    if (lost) this.stats.lost++;
    else this.stats.released++;
    this.judge(h, at, lost ? 'last acted' : 'released it');
    this.open.set(id, list.filter((x) => x !== h));
    const key = `${host}:${thread}`;
    this.byThread.set(key, (this.byThread.get(key) ?? []).filter((x) => x !== h));
  }

  private judge(h: Holding, at: number, what: string): void {
    if (h.supersededAt === null || at <= h.supersededAt) return;
    violation(
      'lock-safety',
      `lock ${h.id}: ${who(h.host, h.thread)}, holding it since ${us(h.since)}, ${what} at ${us(at)}, after ${h.by} was granted it at ${us(h.supersededAt)}`,
    );
  }
}

interface Episode {
  parties: number;
  arrived: Set<string>;
}

export class BarrierSafety {
  /** Per barrier name, per episode: who arrived. */
  private episodes = new Map<number, Map<number, Episode>>();
  /** Per "host:thread:name": the episode the thread may arrive at next, and whether it is inside one now. */
  private position = new Map<string, { next: number; inside: boolean }>();
  readonly stats = { arrivals: 0, departures: 0 };

  event(e: SyncEvent): void {
    if (e.kind !== 'barrier-arrived' && e.kind !== 'barrier-departed') return;
    const party = `${e.host}:${e.thread}`;
    const key = `${party}:${e.name}`;
    const pos = this.position.get(key) ?? { next: 0, inside: false };
    this.position.set(key, pos);
    let byEpisode = this.episodes.get(e.name);
    if (byEpisode === undefined) this.episodes.set(e.name, (byEpisode = new Map()));
    let ep = byEpisode.get(e.episode);
    if (ep === undefined) byEpisode.set(e.episode, (ep = { parties: e.parties, arrived: new Set() }));
    const where = `barrier ${e.name}, episode ${e.episode}: ${who(e.host, e.thread)}`;
    if (e.kind === 'barrier-arrived') {
      this.stats.arrivals++;
      if (pos.inside || e.episode !== pos.next) {
        violation('barrier-safety', `${where} arrived at ${us(e.at)}, but its next episode is ${pos.next}${pos.inside ? ' and it has not left the last one' : ''}`);
      }
      if (e.parties !== ep.parties) violation('barrier-safety', `${where} arrived with ${e.parties} parties, others with ${ep.parties}`);
      pos.inside = true;
      ep.arrived.add(party);
      return;
    }
    this.stats.departures++;
    if (!pos.inside || e.episode !== pos.next) violation('barrier-safety', `${where} left at ${us(e.at)} an episode it was not in`);
    if (ep.arrived.size < ep.parties) {
      violation('barrier-safety', `${where} left at ${us(e.at)} after only ${ep.arrived.size} of ${ep.parties} parties arrived`);
    }
    pos.inside = false;
    pos.next++;
    // Every party of the episode before has left it (or it could not have arrived here): forget it.
    byEpisode.delete(e.episode - 2);
  }
}

function us(t: number): string {
  return `${(t / 1e6).toFixed(6)} s`;
}
