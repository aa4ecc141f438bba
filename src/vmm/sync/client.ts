// The host side of locks and barriers: a thread's lock, unlock and barrier
// become requests to the manager of the object's company (sync/placement.ts),
// asked again until answered: to the leader the last answer came from, else
// to the members in turn, following not-leader hints. A thread that waits
// (a held lock, a barrier not yet open) is told by the manager when its turn
// comes, and asks again now and then meanwhile, so a new manager learns of it.
//
// A lock is held under a lease counted, like a page's, from when the request
// that got it was sent; the holder renews it while it holds it, and a holder
// whose lease runs out without renewal has its threads stopped (as a host
// that lost a page's lease does): the manager will give the lock to another
// once it has waited the lease out. As a backstop for an event loop too busy
// to notice, the application side checks the deadline itself before every
// operation of a thread that holds a lock (see deadlinePassed).
import { VmmProbe } from '../fault-points.js';
import { MAX_PARTIES } from '../page-table-commands.js';
import type { CompanyPlan } from '../placement.js';
import type { SyncReply, SyncRequest } from '../protocol.js';
import { managerTarget } from '../requests.js';
import type { VmmConfig, VmmEnv } from '../vmm-env.js';
import type { CoherenceHooks, SyncObject } from './hooks.js';
import { companyOfSync } from './placement.js';

/** What a reply means to the request: finished, keep waiting (asking now and then), or ask again now. */
type Next = 'done' | 'wait' | 'again';

interface Ask {
  plan: CompanyPlan;
  build: (req: number) => SyncRequest;
  onReply: (reply: SyncReply, sentAt: number) => Next;
  /** Every attempt's request id, with when it was sent. */
  sent: Map<number, number>;
  latest: number;
  attempt: number;
  /** The manager answered "wait" to the latest attempt: ask it again only after a longer pause. */
  quietUntil: number;
  done: boolean;
}

interface Holding {
  id: number;
  thread: number;
  token: number;
  plan: CompanyPlan;
  /** Local time the lease runs out. */
  expires: number;
  /** Local time past which the thread must not go on in its critical section. */
  deadline: number;
  renewing: boolean;
  /**
   * Its thread unlocked it (it acts no more under it), and the holding stays until the release is
   * answered: a lease that runs out first ends the host's threads (what the section wrote was never
   * published, and the lock moves on without it), as in the section itself.
   */
  releasing: boolean;
  /** The release was asked for: a renewal that finds the holding gone may mean it committed (its answer decides). */
  releaseSent: boolean;
}

export class SyncClient {
  private nextReq = 1;
  private asks = new Map<number, Ask>();
  private leaders = new Map<number, number>();
  /** Locks held, by "thread:id". */
  private held = new Map<string, Holding>();
  /** Lock requests under way, by "thread:id". */
  private acquiring = new Set<string>();
  /** Per "thread:name", the episode of the barrier the thread arrives at next. */
  private episodes = new Map<string, number>();
  private closed = false;
  private deadlineWatch: ((thread: number, localUs: number | null) => void) | null = null;
  /** Counters for reports and the benchmark: requests sent (every attempt), and what happened. */
  readonly stats = { syncSent: 0, lockAcquired: 0, lockQueued: 0, lockRenewed: 0, lockReleased: 0, lockReleaseLapsed: 0, lockLost: 0, barrierPassed: 0 };

  constructor(private readonly cfg: VmmConfig, private readonly env: VmmEnv, private readonly hooks: CoherenceHooks) {}

  /** Calls done(null) once `thread` holds lock `id`, or done(why) if it cannot be had (a thread holding it already). */
  lock(thread: number, id: number, done: (error: string | null) => void): void {
    const key = `${thread}:${id}`;
    if (this.held.has(key) || this.acquiring.has(key)) {
      done(`lock(${id}): the thread holds it already (locks are not reentrant)`);
      return;
    }
    this.acquiring.add(key);
    const plan = companyOfSync(this.cfg.plans, 'lock', id);
    this.ask(plan, (req) => ({ t: 'lock-acquire', req, id, thread, token: 0 }), (reply, sentAt) => {
      if (reply.t === 'lock-queued') {
        this.stats.lockQueued++;
        return 'wait';
      }
      if (reply.t === 'sync-refuse') {
        this.acquiring.delete(key);
        done(`lock(${id}): ${reply.detail}`);
        return 'done';
      }
      if (reply.t !== 'lock-granted') return 'again'; // lock-lost: an earlier holding of ours, gone; ask anew
      const expires = sentAt + reply.leaseUs;
      // Granted too late to use: asking again renews it (the manager sees the thread holds it).
      if (this.env.now() >= expires - this.margin(reply.leaseUs)) return 'again';
      this.acquiring.delete(key);
      this.stats.lockAcquired++;
      const h: Holding = {
        id, thread, token: reply.token, plan, expires, deadline: this.deadlineOf(expires, reply.leaseUs), renewing: false, releasing: false, releaseSent: false,
      };
      this.held.set(key, h);
      this.deadlineChanged(thread);
      this.armRenewal(h, reply.leaseUs);
      this.armDeadline(h);
      this.hooks.afterAcquire({ kind: 'lock', id }, thread, reply.published === null ? [] : [reply.published], reply.lapsed, () => done(null));
      return 'done';
    });
  }

  /**
   * Releases lock `id` (the coherence model publishes first); done(null) once the release is committed. A
   * release that finds the holding waited out already did not publish: the thread's writes under the lock
   * may be seen by the next holder only in part, so its host's threads stop as if the lease had been lost.
   */
  unlock(thread: number, id: number, done: (error: string | null) => void): void {
    const h = this.held.get(`${thread}:${id}`);
    if (h === undefined) {
      done(`unlock(${id}): the thread does not hold it`);
      return;
    }
    // The holding stays (renewed) until the release commits: publishing may take a while.
    h.releasing = true;
    this.deadlineChanged(thread);
    this.hooks.beforeRelease({ kind: 'lock', id }, thread, (published) => {
      if (this.held.get(`${thread}:${id}`) !== h) return; // lost meanwhile (its lease ran out first)
      h.releaseSent = true;
      this.ask(h.plan, (req) => ({ t: 'lock-release', req, id, thread, token: h.token, published }), (reply) => {
        if (reply.t !== 'lock-released') return reply.t === 'sync-refuse' ? 'again' : 'wait';
        // Not this attempt's commit: an earlier attempt's, if the lease still holds (the manager can
        // expire it only after it ends); past the deadline it may have been waited out instead.
        if (!reply.committed && this.env.now() >= h.deadline && !this.cfg.bugs?.ignoreLockLease) {
          this.stats.lockReleaseLapsed++;
          this.lost(h);
          return 'done';
        }
        if (this.held.get(`${thread}:${id}`) === h) this.held.delete(`${thread}:${id}`);
        this.stats.lockReleased++;
        done(null);
        return 'done';
      });
    });
  }

  /** Calls done(null) once `parties` threads arrived at this thread's next episode of barrier `name`. */
  barrier(thread: number, name: number, parties: number, done: (error: string | null) => void): void {
    if (!Number.isInteger(parties) || parties < 1 || parties > MAX_PARTIES) {
      done(`barrier(${name}, ${parties}): parties must be an integer in [1, ${MAX_PARTIES}]`);
      return;
    }
    const key = `${thread}:${name}`;
    const episode = this.episodes.get(key) ?? 0;
    const obj: SyncObject = { kind: 'barrier', name, episode };
    const plan = companyOfSync(this.cfg.plans, 'barrier', name);
    this.hooks.beforeRelease(obj, thread, (published) => {
      // Once the arrival is committed, asking again need not carry the record again.
      let recorded = false;
      this.ask(plan, (req) => ({ t: 'barrier-arrive', req, name, parties, episode, thread, published: recorded ? null : published }), (reply) => {
        if (reply.t === 'barrier-wait') {
          recorded = true;
          return 'wait';
        }
        if (reply.t === 'sync-refuse') {
          done(`barrier(${name}, ${parties}): ${reply.detail}`);
          return 'done';
        }
        if (reply.t !== 'barrier-open' || reply.episode !== episode) return 'wait';
        this.episodes.set(key, episode + 1);
        this.stats.barrierPassed++;
        this.hooks.afterAcquire(obj, thread, reply.published, false, () => done(null));
        return 'done';
      });
    });
  }

  /** Whether a lock `thread` holds is past its deadline on this host's clock (the thread must stop). */
  deadlinePassed(thread: number): boolean {
    if (this.cfg.bugs?.ignoreLockLease) return false; // the deliberate bug
    const now = this.env.now();
    for (const h of this.held.values()) if (h.thread === thread && !h.releasing && now >= h.deadline) return true;
    return false;
  }

  /**
   * Tells fn, whenever it changes, the local time past which `thread` must not act (its earliest
   * lock deadline; null: no lock binds it): real mode's workers check it themselves before every
   * operation, as the simulator's threads check deadlinePassed.
   */
  watchDeadlines(fn: (thread: number, localUs: number | null) => void): void {
    this.deadlineWatch = fn;
  }

  private deadlineChanged(thread: number): void {
    if (this.deadlineWatch === null) return;
    let earliest: number | null = null;
    if (!this.cfg.bugs?.ignoreLockLease) {
      for (const h of this.held.values()) if (h.thread === thread && !h.releasing) earliest = Math.min(earliest ?? h.deadline, h.deadline);
    }
    this.deadlineWatch(thread, earliest);
  }

  /** The locks held here, for inspection and the checkers: [thread, id, token]. */
  holdings(): [number, number, number][] {
    return [...this.held.values()].map((h) => [h.thread, h.id, h.token]);
  }

  /** A reply from a manager. */
  reply(from: number, msg: SyncReply): void {
    const o = this.asks.get(msg.req);
    if (o === undefined || o.done) return;
    if (msg.t === 'sync-refuse' && msg.why === 'not-leader') {
      this.leaders.set(o.plan.company, msg.leader);
      if (msg.req !== o.latest) return;
      if (msg.leader !== 0 && msg.leader !== from) this.send(o);
      else this.env.timer(this.env.now() + Math.max(1, Math.round(this.cfg.retryUs / 4)), () => {
        if (o.latest === msg.req) this.send(o);
      });
      return;
    }
    this.leaders.set(o.plan.company, from);
    const next = o.onReply(msg, o.sent.get(msg.req)!);
    if (next === 'done') {
      o.done = true;
      for (const req of o.sent.keys()) this.asks.delete(req);
    } else if (next === 'again') this.send(o);
    else if (msg.req === o.latest) o.quietUntil = this.env.now() + 4 * this.cfg.retryUs;
  }

  /**
   * This host's threads ended (their writes or a lock's lease were lost): nothing is renewed or
   * asked any more. What they held is not released (their critical sections did not finish): their
   * leases run out and the managers free the locks.
   */
  abandon(): void {
    for (const o of this.asks.values()) o.done = true;
    this.asks.clear();
    const threads = new Set([...this.held.values()].map((h) => h.thread));
    this.held.clear();
    this.acquiring.clear();
    for (const t of threads) this.deadlineChanged(t);
  }

  close(): void {
    this.closed = true;
    this.abandon();
  }

  // Leases

  private margin(leaseUs: number): number {
    return Math.min(Math.round(leaseUs / 4), 4 * this.cfg.retryUs);
  }

  /** Half the renewal margin before the lease ends: time for the thread to be stopped before the manager may move on. */
  private deadlineOf(expires: number, leaseUs: number): number {
    return expires - Math.ceil(this.margin(leaseUs) / 2);
  }

  /**
   * Renews a quarter into the lease, not just before its end as a page's holder gives its page
   * up: a lock's holder that cannot renew in time loses its threads, so the renewal gets most of
   * the lease to commit through an election or a leadership transfer of the lock's company.
   */
  private armRenewal(h: Holding, leaseUs: number): void {
    const at = h.expires - Math.round((3 * leaseUs) / 4);
    this.env.timer(at, () => {
      if (this.closed || this.held.get(`${h.thread}:${h.id}`) !== h || h.renewing) return;
      if (this.env.now() < at) {
        this.armRenewal(h, leaseUs);
        return;
      }
      h.renewing = true;
      this.ask(h.plan, (req) => ({ t: 'lock-acquire', req, id: h.id, thread: h.thread, token: h.token }), (reply, sentAt) => {
        if (reply.t === 'lock-queued') return 'wait';
        h.renewing = false;
        if (this.held.get(`${h.thread}:${h.id}`) !== h) return 'done';
        if (reply.t === 'lock-granted' && reply.token === h.token) {
          this.stats.lockRenewed++;
          this.env.faults.probe(VmmProbe.lockRenewed);
          h.expires = Math.max(h.expires, sentAt + reply.leaseUs);
          h.deadline = this.deadlineOf(h.expires, reply.leaseUs);
          this.deadlineChanged(h.thread);
          this.armRenewal(h, reply.leaseUs);
        } else if (!this.cfg.bugs?.ignoreLockLease && !h.releaseSent) this.lost(h);
        return 'done';
      });
    });
  }

  private armDeadline(h: Holding): void {
    if (this.cfg.bugs?.ignoreLockLease) return; // the deliberate bug
    this.env.timer(h.deadline, () => {
      if (this.closed || this.held.get(`${h.thread}:${h.id}`) !== h) return;
      if (this.env.now() < h.deadline) this.armDeadline(h); // renewed meanwhile
      else this.lost(h);
    });
  }

  /** The lease ended without renewal: the thread's critical section cannot go on. */
  private lost(h: Holding): void {
    this.stats.lockLost++;
    this.env.faults.probe(VmmProbe.lockLost);
    this.abandon();
    this.env.lostLock(h.id, h.thread);
  }

  // Requests

  private ask(plan: CompanyPlan, build: (req: number) => SyncRequest, onReply: (reply: SyncReply, sentAt: number) => Next): void {
    this.send({ plan, build, onReply, sent: new Map(), latest: 0, attempt: 0, quietUntil: 0, done: false });
  }

  private send(o: Ask): void {
    if (o.done || this.closed) return;
    const req = this.nextReq++;
    o.attempt++;
    o.latest = req;
    o.quietUntil = 0;
    o.sent.set(req, this.env.now());
    this.asks.set(req, o);
    this.stats.syncSent++;
    this.env.send(managerTarget(this.cfg, this.env, o.plan, o.attempt, this.leaders.get(o.plan.company) ?? 0), o.build(req));
    this.armRetry(o, req);
  }

  /** Asks again after retryUs without an answer (someone else then), or after a longer pause if told to wait. */
  private armRetry(o: Ask, req: number): void {
    this.env.timer(this.env.now() + this.cfg.retryUs, () => {
      if (o.done || o.latest !== req) return;
      if (this.env.now() < o.quietUntil) {
        this.armRetry(o, req);
        return;
      }
      if (o.quietUntil === 0) this.leaders.set(o.plan.company, 0); // no answer: try another member
      this.send(o);
    });
  }
}
