// The manager of one company's locks and barriers, on the host that leads the
// company's Raft group (beside its PageManager). Every change of who holds a
// lock and every barrier arrival is committed through Raft before anyone is
// told, so a new leader finds them all in its table; what it cannot find there
// (who waits, in which order) the waiting hosts tell it again, since they ask
// again and again until answered.
//
// Locks: a lock is held by a host (whose threads take turns under it without
// asking here, sync/client.ts); waiting hosts are served one at a time in
// arrival order (FIFO), and while one waits the holder is recalled (asked to
// give the lock back), again now and then until it does. A holding is kept
// under a lease, renewed by its host while it uses it; a holder that stays
// silent is waited out (its lease stretched by the drift bound, as a page's
// holder is) and its holding expired, so a crashed holder's locks free
// themselves. Barriers: each arrival is committed; the one that makes
// `parties` opens the episode, and every party hears it with the records the
// arrivals published.
import type { CompanyApplied } from '../company.js';
import type { PageCommand } from '../page-table-commands.js';
import type { LockRow } from '../page-table.js';
import type { CompanyPlan } from '../placement.js';
import type { SyncReply, VmmMessage } from '../protocol.js';
import { VmmProbe } from '../fault-points.js';
import { leaseWaitedOutAt } from '../page-manager.js';
import type { Proposer } from '../proposer.js';
import type { CompanyAccess, VmmConfig, VmmEnv } from '../vmm-env.js';

type Msg<T extends VmmMessage['t']> = Extract<VmmMessage, { t: T }>;

/** A thread waiting for something, and the request to answer (its latest attempt). */
interface Waiter {
  host: number;
  thread: number;
  req: number;
}

interface LockQueue {
  waiters: Waiter[];
  /** The holding last recalled ("host:token") and when (local time): a recall is sent again only after retryUs. */
  recalled: { key: string; atUs: number } | null;
  /** An acquire for the head waiter is being committed. */
  proposing: boolean;
  /** The holding being waited out ("host:thread:token:grantedAtUs"), if any. */
  expiring: string | null;
}

/** Beyond this many waiters a lock turns new ones away (they ask again later). */
const MAX_WAITERS = 1024;

export class SyncManager {
  private locks = new Map<number, LockQueue>();
  /** Per lock, when (local time) the current holding's last acquire or renewal this manager proposed was applied. */
  private grantedAt = new Map<number, { grantedAtUs: number; localUs: number }>();
  /** Renewals being committed, by "id:host:thread": the request to answer. */
  private renewing = new Map<string, Waiter>();
  /** Parties waiting for an episode to open, by "name:episode", then "host:thread". */
  private barrierWaiters = new Map<string, Map<string, Waiter>>();
  /** Arrivals being committed, by "name:episode:host:thread". */
  private arriving = new Set<string>();
  private readonly since: number;
  private closed = false;

  constructor(
    private readonly cfg: VmmConfig,
    private readonly env: VmmEnv,
    readonly plan: CompanyPlan,
    private readonly company: CompanyAccess,
    /** Shared with the company's other managers of this term: commands of one instant go in one entry. */
    private readonly proposer: Proposer,
  ) {
    this.since = env.now();
  }

  close(): void {
    this.closed = true;
    this.locks.clear();
    this.renewing.clear();
    this.barrierWaiters.clear();
    this.arriving.clear();
  }

  /**
   * A committed command of this company, applied here, before any command of its entry is continued
   * (continuations see the table as the whole entry left it): notes when a holding this manager
   * proposed was granted or renewed, which waiting its holder out counts from.
   */
  applied(a: CompanyApplied): void {
    if (a.cmd.op === 'lock-acquire' && a.result.ok && this.proposer.owns(a.pid)) {
      this.grantedAt.set(a.cmd.id, { grantedAtUs: a.cmd.grantedAtUs, localUs: this.env.now() });
    }
  }

  // Locks

  acquire(from: number, msg: Msg<'lock-acquire'>): void {
    const row = this.company.table().lock(msg.id);
    const mine = row !== null && row.host === from && row.thread === msg.thread;
    // A holder renewing, or asking again for a grant whose answer was lost (the same asking thread): renew what the table holds.
    if (msg.token > 0 || mine) {
      if (msg.token === 0) this.env.faults.probe(VmmProbe.lockAskedAgain);
      this.renew(from, msg, msg.token > 0 ? msg.token : row!.grants);
      return;
    }
    if (this.cfg.bugs?.grantBeforeRelease && row !== null && row.host !== 0) {
      // The deliberate bug: answered at once, as if the holder had already released.
      this.reply(from, { t: 'lock-granted', req: msg.req, id: msg.id, thread: msg.thread, token: row.grants + 1, leaseUs: this.cfg.leaseUs, index: 0, published: row.published, lapsed: row.lapsed, lapsedHosts: row.lapsedHosts });
      return;
    }
    let q = this.locks.get(msg.id);
    if (q === undefined) this.locks.set(msg.id, (q = { waiters: [], recalled: null, proposing: false, expiring: null }));
    const known = q.waiters.find((w) => w.host === from && w.thread === msg.thread);
    if (known !== undefined) known.req = msg.req;
    else if (q.waiters.length >= MAX_WAITERS) {
      this.reply(from, { t: 'lock-queued', req: msg.req, id: msg.id, thread: msg.thread });
      return;
    } else q.waiters.push({ host: from, thread: msg.thread, req: msg.req });
    this.step(msg.id);
    // Still waiting (and not the one being granted): say so, so it keeps this manager.
    if (this.locks.get(msg.id)?.waiters.some((w, i) => w.host === from && w.thread === msg.thread && !(i === 0 && q.proposing))) {
      this.reply(from, { t: 'lock-queued', req: msg.req, id: msg.id, thread: msg.thread });
    }
  }

  release(from: number, msg: Msg<'lock-release'>): void {
    const cmd: PageCommand = { op: 'lock-release', company: this.plan.company, id: msg.id, host: from, thread: msg.thread, token: msg.token, published: msg.published };
    this.propose(cmd, (a) => {
      // Not the holder any more (waited out, or a retry of a release done): nothing to undo; the client judges which.
      this.reply(from, { t: 'lock-released', req: msg.req, id: msg.id, thread: msg.thread, committed: a.result.ok });
      this.step(msg.id);
    });
  }

  // Hosts' records (this company is their home: sync/placement.ts)

  /** A host's record, committed before the host publishes it (see SyncClient.recordElsewhere). */
  hostRecord(from: number, msg: Msg<'host-record'>): void {
    const cmd: PageCommand = { op: 'host-record', company: this.plan.company, host: from, incarnation: msg.incarnation, seq: msg.seq, published: msg.published };
    this.propose(cmd, () => this.reply(from, { t: 'host-recorded', req: msg.req }));
  }

  /** A host's records, read once a read barrier committed in this term: every record committed before the ask is applied here then. */
  hostRecords(from: number, msg: Msg<'host-records'>): void {
    this.propose({ op: 'barrier' }, () => {
      const published = this.company.table().hostRecords(msg.host).map((r) => r.published);
      this.reply(from, { t: 'host-records-are', req: msg.req, host: msg.host, published });
    });
  }

  private renew(from: number, msg: Msg<'lock-acquire'>, token: number): void {
    const key = `${msg.id}:${from}:${msg.thread}`;
    const pending = this.renewing.get(key);
    if (pending !== undefined) {
      pending.req = msg.req;
      return;
    }
    const w: Waiter = { host: from, thread: msg.thread, req: msg.req };
    this.renewing.set(key, w);
    this.propose(this.acquireCommand(msg.id, from, msg.thread, token), (a) => {
      this.renewing.delete(key);
      if (a.result.ok) this.granted(msg.id, w, token, a.index);
      else this.reply(from, { t: 'lock-lost', req: w.req, id: msg.id, thread: msg.thread, token });
      this.step(msg.id);
    });
  }

  private acquireCommand(id: number, host: number, thread: number, token: number): PageCommand {
    return {
      op: 'lock-acquire', company: this.plan.company, id, host, thread, token,
      term: this.company.term(), leaseUs: this.cfg.leaseUs, grantedAtUs: this.env.now(),
    };
  }

  private granted(id: number, w: Waiter, token: number, index: number): void {
    const row = this.company.table().lock(id);
    this.reply(w.host, {
      t: 'lock-granted', req: w.req, id, thread: w.thread, token, leaseUs: this.cfg.leaseUs, index, published: row?.published ?? null, lapsed: row?.lapsed ?? false, lapsedHosts: row?.lapsedHosts ?? [],
    });
  }

  /** Grants the lock to the head waiter once it is free, or waits its holder out. */
  private step(id: number): void {
    if (this.closed) return;
    const q = this.locks.get(id);
    if (q === undefined || q.proposing) return;
    const row = this.company.table().lock(id);
    if (row !== null && row.host !== 0) {
      if (q.waiters.length > 0) {
        if (q.waiters.some((w) => w.host !== row.host)) this.recall(id, q, row);
        this.waitOut(id, q, row);
      }
      return;
    }
    const head = q.waiters[0];
    if (head === undefined) {
      this.locks.delete(id);
      return;
    }
    q.proposing = true;
    this.propose(this.acquireCommand(id, head.host, head.thread, 0), (a) => {
      q.proposing = false;
      if (a.result.ok) {
        q.waiters.shift();
        this.granted(id, head, a.result.token ?? 0, a.index);
      }
      // Refused: the table was behind (a holding from before this term); look again.
      this.step(id);
    });
  }

  /** Asks the holding host for the lock back (another waits); again after retryUs, since a recall may be lost. */
  private recall(id: number, q: LockQueue, row: LockRow): void {
    const key = `${row.host}:${row.grants}`;
    const now = this.env.now();
    if (q.recalled !== null && q.recalled.key === key && now < q.recalled.atUs + this.cfg.retryUs) return;
    q.recalled = { key, atUs: now };
    this.env.send(row.host, { t: 'lock-recall', id, token: row.grants });
  }

  /**
   * Expires a silent holder's holding once its lease has surely ended: from this manager's last
   * commit of it (else from when this manager took over), stretched by the drift bound.
   */
  private waitOut(id: number, q: LockQueue, row: LockRow): void {
    const key = `${row.host}:${row.thread}:${row.grants}:${row.grantedAtUs}`;
    if (q.expiring === key) return;
    q.expiring = key;
    const g = this.grantedAt.get(id);
    const from = g !== undefined && g.grantedAtUs === row.grantedAtUs ? g.localUs : this.since;
    const deadline = leaseWaitedOutAt(this.cfg, from, row.leaseUs);
    this.env.timer(deadline, () => {
      if (this.closed || q.expiring !== key || this.locks.get(id) !== q) return;
      q.expiring = null;
      const now = this.company.table().lock(id);
      if (now === null || `${now.host}:${now.thread}:${now.grants}:${now.grantedAtUs}` !== key) {
        this.step(id); // released or renewed meanwhile
        return;
      }
      const cmd: PageCommand = {
        op: 'lock-expire', company: this.plan.company, id, host: row.host, thread: row.thread, token: row.grants, grantedAtUs: row.grantedAtUs,
      };
      this.env.faults.probe(VmmProbe.lockWaitedOut);
      this.propose(cmd, () => this.step(id));
    });
  }

  // Barriers

  arrive(from: number, msg: Msg<'barrier-arrive'>): void {
    const table = this.company.table();
    const row = table.barrier(msg.name);
    if (row !== null && row.episode > msg.episode) {
      this.env.faults.probe(VmmProbe.barrierAskedAgain);
      this.reply(from, this.openMessage(msg.name, msg.episode, { host: from, thread: msg.thread, req: msg.req }));
      return;
    }
    const episodeKey = `${msg.name}:${msg.episode}`;
    let waiting = this.barrierWaiters.get(episodeKey);
    if (waiting === undefined) this.barrierWaiters.set(episodeKey, (waiting = new Map()));
    waiting.set(`${from}:${msg.thread}`, { host: from, thread: msg.thread, req: msg.req });
    const arrivalKey = `${episodeKey}:${from}:${msg.thread}`;
    if (this.arriving.has(arrivalKey)) return;
    if (table.arrivals(msg.name, msg.episode).some((a) => a.host === from && a.thread === msg.thread)) {
      this.reply(from, { t: 'barrier-wait', req: msg.req, name: msg.name, episode: msg.episode, thread: msg.thread });
      return;
    }
    // The deliberate bug: the episode opens one arrival early.
    const parties = this.cfg.bugs?.barrierEarly ? Math.max(1, msg.parties - 1) : msg.parties;
    const cmd: PageCommand = {
      op: 'barrier-arrive', company: this.plan.company, name: msg.name, parties, episode: msg.episode, host: from, thread: msg.thread, published: msg.published,
    };
    this.arriving.add(arrivalKey);
    this.propose(cmd, (a) => {
      this.arriving.delete(arrivalKey);
      const w = this.barrierWaiters.get(episodeKey)?.get(`${from}:${msg.thread}`) ?? { host: from, thread: msg.thread, req: msg.req };
      if (!a.result.ok) {
        this.barrierWaiters.get(episodeKey)?.delete(`${from}:${msg.thread}`);
        this.reply(from, { t: 'sync-refuse', req: w.req, why: 'invalid', leader: 0, detail: a.result.detail });
      } else if (a.result.opened) this.opened(msg.name, msg.episode);
      else this.reply(from, { t: 'barrier-wait', req: w.req, name: msg.name, episode: msg.episode, thread: msg.thread });
    });
  }

  private opened(name: number, episode: number): void {
    const key = `${name}:${episode}`;
    const waiting = this.barrierWaiters.get(key);
    this.barrierWaiters.delete(key);
    for (const w of waiting?.values() ?? []) this.reply(w.host, this.openMessage(name, episode, w));
  }

  private openMessage(name: number, episode: number, w: Waiter): Msg<'barrier-open'> {
    const published: string[] = [];
    for (const a of this.company.table().arrivals(name, episode)) if (a.published !== null) published.push(a.published);
    return { t: 'barrier-open', req: w.req, name, episode, thread: w.thread, published };
  }

  // Plumbing

  private reply(to: number, msg: SyncReply): void {
    this.env.send(to, msg);
  }

  /** Proposes a command and continues once it is committed. */
  private propose(cmd: PageCommand, then: (a: CompanyApplied) => void): void {
    if (this.closed) return;
    this.proposer.propose(cmd, (a) => {
      if (!this.closed) then(a);
    });
  }
}
