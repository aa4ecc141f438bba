// The host side of locks and barriers: a thread's lock, unlock and barrier
// become requests to the manager of the object's company (sync/placement.ts),
// asked again until answered: to the leader the last answer came from, else
// to the members in turn, following not-leader hints. A thread that waits
// (a held lock, a barrier not yet open) is told by the manager when its turn
// comes, and asks again now and then meanwhile, so a new manager learns of it.
//
// Locks are cached (as in TreadMarks): the manager grants a lock to this
// host, and the host's threads then take it in turns (first come, first
// served) without a message while the host holds it. The coherence hooks run
// only where the lock enters and leaves the host: afterAcquire when the
// manager grants it, beforeRelease when the host gives it back. The host gives
// it back when the manager recalls it (another host asks) and no thread of
// its own is inside: the threads that were waiting here when the recall came
// have their turns first, later ones ask again after the asker (so neither
// side starves). A holding nobody here used for a quarter of its lease is
// given back too, properly (publishing), rather than left to run out: a
// lapse would stop this host's threads and make the next holder drop copies.
//
// A holding is kept under a lease counted, like a page's, from when the
// request that got it was sent; the host renews it while it is used (and
// while it is being given back), and a holding whose lease runs out without
// renewal stops this host's threads (as a host that lost a page's lease): what
// they did under it since it came here was never published, and the manager
// gives the lock to another once it has waited the lease out. As a backstop
// for an event loop too busy to notice, the application side checks the
// deadline itself before every operation of a thread inside a lock (see
// deadlinePassed).
//
// A record a host publishes names its intervals, so what its threads wrote
// under every lock it keeps; one that covers sections under other locks than
// the one it goes out with is first committed at the host's home company, and
// a holder granted a lock after a lapse reads the lapsed host's records there
// (see recordElsewhere).
import { VmmProbe } from '../fault-points.js';
import { MAX_PARTIES } from '../page-table-commands.js';
import type { CompanyPlan } from '../placement.js';
import type { SyncReply, SyncRequest } from '../protocol.js';
import { managerTarget } from '../requests.js';
import type { VmmConfig, VmmEnv } from '../vmm-env.js';
import type { CoherenceHooks, HomeRecord, SyncObject } from './hooks.js';
import { companyOfSync } from './placement.js';

/** The release a free makes first (publish): a barrier name no application may use (the end check's is 0xffffffff). */
const BEFORE_FREE: SyncObject = { kind: 'barrier', name: 0xfffffffe, episode: 0 };

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

/** A thread waiting here for a lock the host holds, or is asking for, or is giving back. */
interface LocalWaiter {
  thread: number;
  done: (error: string | null) => void;
}

/** A lock this host holds, or asks for, or gives back; its threads take turns under it. */
interface Cached {
  id: number;
  plan: CompanyPlan;
  /** asking: a grant is requested; held: the host holds it; returning: it is being given back. */
  state: 'asking' | 'held' | 'returning';
  /** The thread whose turn made the host ask: the holding's row names it, so renewals do too. */
  asker: number;
  token: number;
  /** Local time the lease runs out. */
  expires: number;
  /** Local time past which a thread inside it must not go on. */
  deadline: number;
  renewing: boolean;
  /** The thread of this host inside the critical section (null: none). */
  inside: number | null;
  /** The last thread of this host that was inside: the one its release and a lapse name. */
  last: number;
  /** Threads of this host waiting for it, first come first served. */
  waiters: LocalWaiter[];
  /** The manager recalled it: after `turns` more local turns it is given back. */
  recalled: boolean;
  turns: number;
  /** A recall of this holding that came before its grant did (messages may overtake each other). */
  recallEarly: number;
  /** Local time of the last lock or unlock here, and of the last renewal decision: an idle holding is given back. */
  usedAt: number;
  decidedAt: number;
  /** The release was asked for: a renewal that finds the holding gone may mean it committed (its answer decides). */
  releaseSent: boolean;
  /** Releases here since the holding came, and how many of them a record at this host's home covers (see recordElsewhere). */
  releases: number;
  recorded: number;
}

export class SyncClient {
  private nextReq = 1;
  private asks = new Map<number, Ask>();
  private leaders = new Map<number, number>();
  /** Locks this host holds, asks for or gives back, by id. */
  private locks = new Map<number, Cached>();
  /**
   * Per lock, the last holding's token this host asked to give back. A manager that has not yet
   * applied that release answers a new ask with the holding it still sees (dsm-locks-chaos seed
   * 369): such a grant is stale, since the release may commit right after.
   */
  private givenBack = new Map<number, number>();
  /** This host's records sent home (recordElsewhere), numbered: a late retry of an older one changes nothing there. */
  private recordSeq = 0;
  /** Per "thread:name", the episode of the barrier the thread arrives at next. */
  private episodes = new Map<string, number>();
  private closed = false;
  /** The host's threads stopped (abandon): nothing more is published. */
  private stopped = false;
  private deadlineWatch: ((thread: number, localUs: number | null) => void) | null = null;
  /**
   * Counters for reports and the benchmark: requests sent (every attempt), and what happened.
   * lockAcquired: grants from a manager; lockLocal: turns taken here without a message.
   */
  readonly stats = {
    syncSent: 0, lockAcquired: 0, lockLocal: 0, lockQueued: 0, lockRecalled: 0, lockRenewed: 0, lockReleased: 0, lockIdleReturned: 0,
    lockReleaseLapsed: 0, lockDropped: 0, lockLost: 0, hostRecords: 0, hostRecordsWithDiff: 0, lapsedRecordsRead: 0, barrierPassed: 0,
  };

  constructor(private readonly cfg: VmmConfig, private readonly env: VmmEnv, private readonly hooks: CoherenceHooks) {}

  /** Calls done(null) once `thread` holds lock `id`, or done(why) if it cannot be had (a thread holding it already). */
  lock(thread: number, id: number, done: (error: string | null) => void): void {
    let c = this.locks.get(id);
    if (c !== undefined && (c.inside === thread || c.waiters.some((w) => w.thread === thread))) {
      done(`lock(${id}): the thread holds it already (locks are not reentrant)`);
      return;
    }
    if (c === undefined) {
      c = {
        id, plan: companyOfSync(this.cfg.plans, 'lock', id), state: 'asking', asker: thread, token: 0, expires: 0, deadline: 0, renewing: false,
        inside: null, last: thread, waiters: [], recalled: false, turns: 0, recallEarly: 0, usedAt: 0, decidedAt: 0, releaseSent: false,
        releases: 0, recorded: 0,
      };
      this.locks.set(id, c);
      c.waiters.push({ thread, done });
      this.askFor(c);
      return;
    }
    // The host holds it and nobody here is inside or before this thread: its turn now, no message.
    if (c.state === 'held' && c.inside === null && !c.recalled && c.waiters.length === 0) {
      this.enter(c, { thread, done });
      return;
    }
    c.waiters.push({ thread, done });
  }

  /**
   * Frees lock `id` for the next thread here; done(null) at once. The lock leaves the host (the coherence
   * model publishing first) only when the manager recalls it or it lies idle; if it then finds its holding
   * waited out, what the threads did under it since it came here was not published: the host's threads stop
   * as if the lease had been lost.
   */
  unlock(thread: number, id: number, done: (error: string | null) => void): void {
    const c = this.locks.get(id);
    if (c === undefined || c.inside !== thread) {
      done(`unlock(${id}): the thread does not hold it`);
      return;
    }
    c.inside = null;
    c.last = thread;
    c.releases++;
    c.usedAt = this.env.now();
    this.deadlineChanged(thread);
    done(null);
    this.nextTurn(c);
  }

  /** The manager asks for holding `token` of a lock back: another host waits for it. */
  recall(msg: { id: number; token: number }): void {
    const c = this.locks.get(msg.id);
    if (c === undefined || this.closed) return;
    if (c.state === 'asking') {
      c.recallEarly = Math.max(c.recallEarly, msg.token);
      return;
    }
    if (c.state !== 'held' || c.token !== msg.token || c.recalled) return;
    this.stats.lockRecalled++;
    this.env.faults.probe(VmmProbe.lockRecalled);
    c.recalled = true;
    // The threads already waiting here go first; the asker waits no longer than their turns.
    c.turns = c.waiters.length;
    this.nextTurn(c);
  }

  /** Asks the manager for the lock, for the threads waiting here. */
  private askFor(c: Cached): void {
    c.state = 'asking';
    c.asker = c.waiters[0]!.thread;
    this.ask(c.plan, (req) => ({ t: 'lock-acquire', req, id: c.id, thread: c.asker, token: 0 }), (reply, sentAt) => {
      if (this.locks.get(c.id) !== c) return 'done';
      if (reply.t === 'lock-queued') {
        this.stats.lockQueued++;
        return 'wait';
      }
      if (reply.t === 'sync-refuse') {
        this.locks.delete(c.id);
        for (const w of c.waiters) w.done(`lock(${c.id}): ${reply.detail}`);
        return 'done';
      }
      if (reply.t !== 'lock-granted') return 'again'; // lock-lost: an earlier holding of ours, gone; ask anew
      // The holding we gave back, seen by a manager that has not applied the release yet: ask again later.
      if (reply.token <= (this.givenBack.get(c.id) ?? 0)) return 'wait';
      const expires = sentAt + reply.leaseUs;
      // Granted too late to use: asking again renews it (the manager sees the host holds it).
      if (this.env.now() >= expires - this.margin(reply.leaseUs)) return 'again';
      this.stats.lockAcquired++;
      const now = this.env.now();
      Object.assign(c, { state: 'held', token: reply.token, expires, deadline: this.deadlineOf(expires, reply.leaseUs), usedAt: now, decidedAt: now });
      if (c.recallEarly === reply.token) {
        c.recalled = true;
        c.turns = 0;
      }
      const w = c.waiters.shift()!;
      c.inside = w.thread;
      this.deadlineChanged(w.thread);
      this.armRenewal(c, reply.leaseUs);
      this.armDeadline(c);
      const published = reply.published === null ? [] : [reply.published];
      const enter = (records: readonly string[]): void =>
        this.hooks.afterAcquire({ kind: 'lock', id: c.id }, w.thread, [...published, ...records], reply.lapsed, () => w.done(null));
      if (reply.lapsed && this.cfg.coherence === 'release') this.lapsedRecords(reply.lapsedHosts, [], enter);
      else enter([]);
      return 'done';
    });
  }

  /**
   * The records each of `hosts` committed at home before publishing them (see recordElsewhere), read in
   * turn after `got`: by a holder granted a lock those hosts' holdings lapsed on, since the lock's own
   * record may not name what they published through others.
   */
  private lapsedRecords(hosts: readonly number[], got: readonly string[], then: (records: readonly string[]) => void): void {
    const [host, ...rest] = hosts;
    if (host === undefined) {
      then(got);
      return;
    }
    this.stats.lapsedRecordsRead++;
    this.ask(companyOfSync(this.cfg.plans, 'host', host), (req) => ({ t: 'host-records', req, host }), (reply) => {
      if (reply.t !== 'host-records-are' || reply.host !== host) return reply.t === 'sync-refuse' ? 'again' : 'wait';
      if (!this.closed) this.lapsedRecords(rest, [...got, ...reply.published], then);
      return 'done';
    });
  }

  /** A turn under a lock the host holds, without a message (unless its lease is over: the timer that says so may be late). */
  private enter(c: Cached, w: LocalWaiter): void {
    if (this.env.now() >= c.deadline && !this.cfg.bugs?.ignoreLockLease) {
      c.waiters.unshift(w);
      this.leaseEnded(c);
      return;
    }
    this.stats.lockLocal++;
    c.inside = w.thread;
    c.usedAt = this.env.now();
    this.deadlineChanged(w.thread);
    w.done(null);
  }

  /** Nobody is inside: the next thread here has its turn, or the lock goes back to its manager. */
  private nextTurn(c: Cached): void {
    if (c.state !== 'held' || c.inside !== null || this.closed) return;
    if (!c.recalled) {
      const w = c.waiters.shift();
      if (w !== undefined) this.enter(c, w);
      return;
    }
    if (c.turns > 0 && c.waiters.length > 0) {
      c.turns--;
      this.enter(c, c.waiters.shift()!);
      return;
    }
    this.giveBack(c);
  }

  /**
   * `thread` of this host ends (under release consistency): its last interval ends as at a barrier
   * arrival (`obj`), and if the record covers sections under locks the host keeps, it is committed at
   * the host's home first (recordElsewhere), as a record going out through a lock or a barrier would
   * be. The locks stay cached: until one leaves, what the thread wrote under it is published only in
   * that home record, and a holder granted it after a lapse reads the record there, so a thread that
   * counts as done loses nothing to a later lapse of the holding. Giving every such lock back instead
   * cost a release commit, and a home record besides, per lock and thread end. done(published) runs
   * once the home record (if any) committed; if the host's threads stopped first it never runs.
   */
  endThread(obj: SyncObject, thread: number, done: (published: string | null) => void): void {
    this.release(obj, thread, null, done);
  }

  /**
   * Publishes what this host's threads wrote so far (under release consistency), as a thread's end
   * does: before a free, which other hosts observe, so the writes that led to it cannot be lost
   * with a later lapse of a lock this host keeps. done runs once that is committed; if the host's
   * threads stopped first it never runs.
   */
  publish(done: () => void): void {
    this.release(BEFORE_FREE, 0, null, () => done());
  }

  /**
   * The coherence model's release of `obj` by `thread` (`via`: the holding given back; null: a barrier arrival or a
   * thread's end), then `then` with its record, once committed at this host's home if it must be (recordElsewhere).
   */
  private release(obj: SyncObject, thread: number, via: Cached | null, then: (published: string | null) => void): void {
    const due = this.covered(via);
    const home = due.length === 0 ? null : { company: companyOfSync(this.cfg.plans, 'host', this.cfg.host).company, seq: ++this.recordSeq };
    this.hooks.beforeRelease(obj, thread, (published, recordedHome) => this.recordElsewhere(due, home, published, recordedHome === true, () => then(published)), home);
  }

  /** The holding is over (given back, or dropped with nothing lost): the threads that came meanwhile ask for the lock anew. */
  private askAgain(c: Cached): void {
    this.locks.delete(c.id);
    if (c.waiters.length === 0) return;
    const again: Cached = {
      ...c, state: 'asking', token: 0, renewing: false, recalled: false, turns: 0, recallEarly: 0, releaseSent: false,
      releases: 0, recorded: 0,
    };
    this.locks.set(c.id, again);
    this.askFor(again);
  }

  /**
   * Gives the lock back: the coherence model publishes what this host did (under it and before), then
   * the release commits. The holding stays (renewed) until then; threads that come meanwhile wait, and
   * ask for it anew once it is back.
   */
  private giveBack(c: Cached): void {
    c.state = 'returning';
    this.release({ kind: 'lock', id: c.id }, c.last, c, (published) => {
      if (this.locks.get(c.id) !== c) return; // lost meanwhile (its lease ran out first)
      c.releaseSent = true;
      this.givenBack.set(c.id, Math.max(c.token, this.givenBack.get(c.id) ?? 0));
      this.ask(c.plan, (req) => ({ t: 'lock-release', req, id: c.id, thread: c.last, token: c.token, published }), (reply) => {
        if (this.locks.get(c.id) !== c) return 'done';
        if (reply.t !== 'lock-released') return reply.t === 'sync-refuse' ? 'again' : 'wait';
        // Not this attempt's commit: an earlier attempt's, if the lease still holds (the manager can
        // expire it only after it ends); past the deadline it may have been waited out instead.
        if (!reply.committed && this.env.now() >= c.deadline && !this.cfg.bugs?.ignoreLockLease) {
          this.stats.lockReleaseLapsed++;
          this.leaseEnded(c);
          return 'done';
        }
        this.stats.lockReleased++;
        this.askAgain(c);
        return 'done';
      });
    });
  }

  /**
   * The holdings, besides `via` (the lock being given back; null: a barrier arrival), whose sections a
   * record made now would cover and no record at this host's home covers yet: a thread is inside,
   * or threads released them since. Each with its count of releases. Taken when the coherence model
   * ends its interval (beforeRelease is called): the record it makes covers what was written until then.
   */
  private covered(via: Cached | null): [Cached, number][] {
    const out: [Cached, number][] = [];
    for (const c of this.locks.values()) {
      if (c !== via && c.state !== 'asking' && (c.inside !== null || c.releases > c.recorded)) out.push([c, c.releases]);
    }
    return out;
  }

  /**
   * Before a record goes out (committed with a release or a barrier arrival) that covers sections under
   * other locks this host keeps (`due`, see covered), the host's home company commits it (host-record);
   * then `then` runs. The record names this host's intervals, and so what those sections wrote: once
   * anyone is handed it, those writes may be seen. If one of those holdings were then waited out, its
   * next holder, handed only the lock's older record, would read older words than those handed this one,
   * or have its own writes overwritten when they name the intervals after all (dsm-release-chaos seeds 9,
   * 162, 545, 547, 638, 938, 946: a removed node linked back in, a later holder's word overwritten by an
   * earlier one). So a holder granted a lock after a lapse reads the lapsed host's records at its home
   * (askFor) and learns every interval any record of that host may have named. One home, not the rows of
   * the locks covered: a record in some rows and not others (a manager unreachable while the host's lease
   * ran out) would name the intervals to some next holders and not to others (seeds 246, 519). Nothing
   * here waits for a thread or another give-back, so give-backs never wait for each other. The coherence
   * model may have committed the record at home itself, with the release's last diff there (`home`,
   * recordedHome): then no host-record goes.
   */
  private recordElsewhere(due: readonly [Cached, number][], home: HomeRecord | null, published: string | null, recordedHome: boolean, then: () => void): void {
    // The host's threads stopped while the coherence model made the record (a diff's answer still came):
    // nothing of it goes out, home included (dsm-release-chaos seed 190: a record made after the host lost
    // a lock named its section under that lock, and the next holder after another lapse applied it late).
    if (this.stopped) return;
    if (published === null || home === null) {
      then();
      return;
    }
    const recorded = (): void => {
      for (const [c, upTo] of due) c.recorded = Math.max(c.recorded, upTo);
      then();
    };
    if (recordedHome) {
      this.stats.hostRecordsWithDiff++;
      recorded();
      return;
    }
    this.stats.hostRecords++;
    const { seq } = home;
    this.ask(companyOfSync(this.cfg.plans, 'host', this.cfg.host), (req) => ({ t: 'host-record', req, incarnation: this.cfg.incarnation, seq, published }), (reply) => {
      if (reply.t !== 'host-recorded') return reply.t === 'sync-refuse' ? 'again' : 'wait';
      recorded();
      return 'done';
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
    this.release(obj, thread, null, (published) => {
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

  /** Whether a lock `thread` is inside is past its deadline on this host's clock (the thread must stop). */
  deadlinePassed(thread: number): boolean {
    if (this.cfg.bugs?.ignoreLockLease) return false; // the deliberate bug
    const now = this.env.now();
    for (const c of this.locks.values()) if (c.inside === thread && now >= c.deadline) return true;
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
      for (const c of this.locks.values()) if (c.inside === thread) earliest = Math.min(earliest ?? c.deadline, c.deadline);
    }
    this.deadlineWatch(thread, earliest);
  }

  /** The locks threads of this host are inside, for inspection and the checkers: [thread, id, token]. */
  holdings(): [number, number, number][] {
    return [...this.locks.values()].filter((c) => c.inside !== null).map((c) => [c.inside!, c.id, c.token]);
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
   * asked any more. What the host holds is not given back (what its threads did under it was not
   * published): the leases run out and the managers free the locks.
   */
  abandon(): void {
    this.stopped = true;
    for (const o of this.asks.values()) o.done = true;
    this.asks.clear();
    const threads = [...this.locks.values()].flatMap((c) => (c.inside === null ? [] : [c.inside]));
    this.locks.clear();
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
   * A quarter into the lease, not just before its end as a page's holder gives its page up: a holding
   * that cannot renew in time stops this host's threads, so the renewal gets most of the lease to
   * commit through an election or a leadership transfer of the lock's company. Then also an idle
   * holding (no thread here used it since the last such point) goes back, while its lease is young.
   * A holding given back is not renewed with it (its release, committed first, would make the
   * renewal a wasted commit answered lock-lost); only if the give-back is still under way two request
   * timeouts later (at most a quarter of the lease: its commits are slow) is it renewed then, with
   * most of the lease left, so it cannot lapse meanwhile.
   */
  private armRenewal(c: Cached, leaseUs: number): void {
    const at = c.expires - Math.round((3 * leaseUs) / 4);
    this.env.timer(at, () => {
      if (this.closed || this.locks.get(c.id) !== c || c.renewing) return;
      if (this.env.now() < at) {
        this.armRenewal(c, leaseUs);
        return;
      }
      const idle = c.state === 'held' && c.inside === null && c.waiters.length === 0 && c.usedAt < c.decidedAt;
      c.decidedAt = this.env.now();
      if (!idle) {
        this.renew(c);
        return;
      }
      this.stats.lockIdleReturned++;
      this.env.faults.probe(VmmProbe.lockIdleReturned);
      this.giveBack(c);
      const later = this.env.now() + Math.min(Math.round(leaseUs / 4), 2 * this.cfg.retryUs);
      this.env.timer(later, () => {
        if (!this.closed && this.locks.get(c.id) === c && !c.renewing) this.renew(c);
      });
    });
  }

  /** Renews the holding's lease; a renewal refused (the holding is gone) ends it, unless its release was sent (which decides). */
  private renew(c: Cached): void {
    c.renewing = true;
    this.ask(c.plan, (req) => ({ t: 'lock-acquire', req, id: c.id, thread: c.asker, token: c.token }), (reply, sentAt) => {
      if (reply.t === 'lock-queued') return 'wait';
      c.renewing = false;
      if (this.locks.get(c.id) !== c) return 'done';
      if (reply.t === 'lock-granted' && reply.token === c.token) {
        this.stats.lockRenewed++;
        this.env.faults.probe(VmmProbe.lockRenewed);
        c.expires = Math.max(c.expires, sentAt + reply.leaseUs);
        c.deadline = this.deadlineOf(c.expires, reply.leaseUs);
        if (c.inside !== null) this.deadlineChanged(c.inside);
        this.armRenewal(c, reply.leaseUs);
      } else if (!this.cfg.bugs?.ignoreLockLease && !c.releaseSent) this.leaseEnded(c);
      return 'done';
    });
  }

  private armDeadline(c: Cached): void {
    if (this.cfg.bugs?.ignoreLockLease) return; // the deliberate bug
    this.env.timer(c.deadline, () => {
      if (this.closed || this.locks.get(c.id) !== c) return;
      if (this.env.now() < c.deadline) this.armDeadline(c); // renewed meanwhile
      else this.leaseEnded(c);
    });
  }

  /**
   * The lease ended without renewal. A thread inside cannot go on; under release consistency neither can
   * the host's other threads, since what their sections under the lock wrote was never published (the
   * next holder, told of the lapse, drops its copies and reads the companies'). Under sequential
   * consistency with nobody inside nothing is lost (the pages carry every write): the holding is dropped.
   */
  private leaseEnded(c: Cached): void {
    if (c.inside === null && this.cfg.coherence !== 'release') {
      this.stats.lockDropped++;
      this.env.faults.probe(VmmProbe.lockDropped);
      this.askAgain(c);
      return;
    }
    this.lost(c);
  }

  /** What the host's threads did under the lock is lost to the others: they stop. */
  private lost(c: Cached): void {
    this.stats.lockLost++;
    this.env.faults.probe(VmmProbe.lockLost);
    const thread = c.inside ?? c.last;
    this.abandon();
    this.env.lostLock(c.id, thread);
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
