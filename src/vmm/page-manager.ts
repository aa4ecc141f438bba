// The manager of one company's pages, on the host that leads the company's
// Raft group. Requests for one page are served one at a time, in arrival
// order; every change of who holds a page is committed through Raft before
// anyone is told. A write lease first revokes every other holder, a read lease
// the writer (a writer writes its page back before it answers); a holder
// that stays silent is waited out: its lease, stretched by the drift bound,
// counted from the grant (or, for leases an earlier leader granted, from when
// this manager took over). The holders' answers (and wait-outs) are collected,
// not committed one by one: once none is left, their revokes and the grant go
// into one Raft entry (CompanyEntry.more), revokes first, so an invalidating
// write costs one commit however many readers it invalidates. Nobody is told
// of the grant before that entry commits; a leader that falls before leaves
// the leases in its successor's table, and the successor revokes them again
// (a host that closed its page answers at once).
import type { CompanyApplied, CompanyEntry } from './company.js';
import { ownerOf } from './heap-routing.js';
import { pageHash } from './page-table.js';
import type { LeaseMode, LeaseToken, PageCommand } from './page-table-commands.js';
import type { AllocationRow } from './page-table.js';
import type { CompanyPlan } from './placement.js';
import type { VmmMessage } from './protocol.js';
import { decodePage } from './page-client.js';
import { VmmPoint, VmmProbe } from './fault-points.js';
import type { CompanyAccess, VmmConfig, VmmEnv } from './vmm-env.js';

type Acquire = Extract<VmmMessage, { t: 'acquire' }>;

interface Task {
  /** The requesting host; 0 for the manager's own reclaim of a page before its run is freed. */
  from: number;
  msg: Acquire;
  /** A reclaim: called once no host holds the page, instead of granting it. */
  reclaimed?: () => void;
}

interface Revoking {
  rev: number;
  deadline: number;
  /** The lease being revoked: the revoke or expire names it, so it can never drop a later one. */
  lease: LeaseToken;
}

/** A holder's lease to drop: it answered its revoke, or its lease was waited out. */
type Drop = Extract<PageCommand, { op: 'revoke' | 'expire' }>;

interface PageQueue {
  tasks: Task[];
  /** Holders being revoked for the task at the head, by host. */
  revoking: Map<number, Revoking>;
  /** Holders that answered (or were waited out) for the head task, by host: dropped in the entry that grants it. */
  dropping: Map<number, Drop>;
  /** A proposal for the head task is in flight. */
  proposing: boolean;
}

type FreeAnswer = 'ok' | 'invalid' | 'not-leader';

/**
 * When (this host's clock) a lease of leaseUs granted at `fromUs` has surely ended on its holder's
 * clock. The holder's clock may run slow by the bound and ours fast by it: its lease of leaseUs
 * lasts up to leaseUs / (1 - b) real time, our wait of w up to w / (1 + b). (1 + 2b) falls short
 * by about 2b^2: 20 ms of a 1 s lease at the largest bound, 10%. Lock leases are waited out alike.
 */
export function leaseWaitedOutAt(cfg: Pick<VmmConfig, 'driftBoundPpm' | 'retryUs'>, fromUs: number, leaseUs: number): number {
  const stretch = (1e6 + cfg.driftBoundPpm) / (1e6 - cfg.driftBoundPpm);
  return fromUs + Math.ceil(leaseUs * stretch) + cfg.retryUs;
}

const sameLease = (a: LeaseToken | undefined, b: LeaseToken): boolean => a !== undefined && a.term === b.term && a.grantedAtUs === b.grantedAtUs;

/** Beyond this many waiting requests a page answers busy. */
const MAX_QUEUE = 64;

export class PageManager {
  private queues = new Map<number, PageQueue>();
  /** Local time each lease was granted at, by "page:host", for leases this manager granted. */
  private grantedAt = new Map<string, number>();
  private continuations = new Map<string, (a: CompanyApplied) => void>();
  /** Runs being freed, by allocation id: everyone waiting for the answer. */
  private freeing = new Map<string, ((answer: FreeAnswer) => void)[]>();
  /** Pages with a write-back being committed: the write-backs that arrived meanwhile, to judge after it. */
  private releasing = new Map<number, (() => void)[]>();
  /**
   * The last write-back committed here per "page:host", with the lease it was made under. A
   * late copy of an earlier one (a retry overtaken by its successor) would commit as the next
   * version and roll the page back: the fencing token cannot tell them apart, the host's
   * write-back number (wb, ascending, the same for a retry) can.
   */
  private lastWriteBack = new Map<string, { lease: LeaseToken; wb: number; keep: LeaseMode | null; version: number; index: number }>();
  private nextPid = 1;
  private nextRev = 1;
  private readonly since: number;
  private closed = false;

  constructor(
    private readonly cfg: VmmConfig,
    private readonly env: VmmEnv,
    readonly plan: CompanyPlan,
    private readonly company: CompanyAccess,
  ) {
    this.since = env.now();
  }

  /** Leadership ended: forget everything; requesters time out and ask the new leader. */
  close(): void {
    this.closed = true;
    this.queues.clear();
    this.continuations.clear();
    this.releasing.clear();
  }

  /** How long past its grant a silent holder's lease surely ended, on this host's clock. */
  private waitOut(page: number, host: number): number {
    let granted = this.grantedAt.get(`${page}:${host}`);
    if (granted === undefined) {
      this.env.faults.probe(VmmProbe.takeoverWait);
      granted = this.since;
    }
    return leaseWaitedOutAt(this.cfg, granted, this.cfg.leaseUs);
  }

  // Messages

  acquire(from: number, msg: Acquire): void {
    const q = this.queues.get(msg.page);
    if (q !== undefined && q.tasks.some((t) => t.from === from && t.msg.mode === msg.mode)) {
      // A retry of a request already queued: answer the newest attempt.
      for (const t of q.tasks) if (t.from === from && t.msg.mode === msg.mode) t.msg = msg;
      return;
    }
    if ((q !== undefined && q.tasks.length >= MAX_QUEUE) || this.env.faults.buggify(VmmPoint.refuseBusy)) {
      this.refuse(from, msg.req, msg.page, 'busy');
      return;
    }
    this.enqueue(msg.page, { from, msg });
  }

  revoked(from: number, msg: Extract<VmmMessage, { t: 'revoked' }>): void {
    const q = this.queues.get(msg.page);
    const r = q?.revoking.get(from);
    if (q === undefined || r === undefined || r.rev !== msg.rev) return;
    q.revoking.delete(from);
    const release = msg.data === null ? null : this.releaseCommand(msg.page, from, msg.data, null);
    if (release !== null) {
      // Contents handed over with the answer: a write-back, committed at once with its mark.
      this.propose(release, { host: from, seq: msg.seq }, () => this.step(msg.page));
      return;
    }
    q.dropping.set(from, { op: 'revoke', page: msg.page, host: from, lease: r.lease });
    this.step(msg.page);
  }

  /**
   * A write-back from a write holder: committed outside the page's queue (it never waits on one),
   * but one at a time per page. Its version is the next after the table's, so two write-backs of a
   * page proposed together (a retry and the attempt it repeats) would refuse one another; a holder
   * told its give-back was refused believes it holds nothing, while the table still lists it.
   */
  release(from: number, msg: Extract<VmmMessage, { t: 'release' }>): void {
    const waiting = this.releasing.get(msg.page);
    if (waiting !== undefined) {
      waiting.push(() => this.release(from, msg));
      return;
    }
    const last = this.lastWriteBack.get(`${msg.page}:${from}`);
    if (last !== undefined && last.lease.term === msg.lease.term && last.lease.grantedAtUs === msg.lease.grantedAtUs && msg.wb <= last.wb) {
      if (msg.wb < last.wb) {
        this.refuse(from, msg.req, msg.page, 'conflict'); // an earlier write-back, overtaken by a later one
        return;
      }
      if (msg.keep === last.keep) {
        // The same write-back again (its answer was lost): answered as before.
        this.env.send(from, { t: 'released', req: msg.req, page: msg.page, version: last.version, index: last.index });
        return;
      }
      // The same contents handed back after a write-back that kept the lease: a give-back, go on.
    }
    const cmd = this.releaseCommand(msg.page, from, msg.data, msg.keep);
    if (cmd === null) {
      this.refuse(from, msg.req, msg.page, 'conflict');
      return;
    }
    if (cmd.op === 'release') cmd.lease = msg.lease;
    this.releasing.set(msg.page, []);
    const ok = this.propose(cmd, { host: from, seq: msg.seq }, (a) => {
      const next = this.releasing.get(msg.page) ?? [];
      this.releasing.delete(msg.page);
      if (a.result.ok) {
        this.lastWriteBack.set(`${msg.page}:${from}`, { lease: msg.lease, wb: msg.wb, keep: msg.keep, version: a.result.version ?? 0, index: a.index });
        this.env.send(from, { t: 'released', req: msg.req, page: msg.page, version: a.result.version ?? 0, index: a.index });
      } else {
        // Refused as applied: a duplicate (the version moved on) or under a lease no longer in force.
        if (!this.holdsWriteLease(msg.page, from, msg.lease)) this.env.faults.probe(VmmProbe.writeBackFenced);
        this.refuse(from, msg.req, msg.page, 'conflict');
      }
      if (msg.keep === null) this.step(msg.page);
      for (const n of next) n();
    });
    if (!ok) {
      this.releasing.delete(msg.page);
      this.refuse(from, msg.req, msg.page, 'not-leader');
    }
  }

  private holdsWriteLease(page: number, host: number, lease: LeaseToken): boolean {
    const h = this.company.table().holders(page).find((x) => x.host === host);
    return h !== undefined && h.mode === 'write' && sameLease(lease, h);
  }

  alloc(from: number, msg: Extract<VmmMessage, { t: 'alloc' }>): void {
    const ok = this.propose({ op: 'allocate', company: this.plan.company, id: msg.id, pages: msg.pages, owner: from }, undefined, (a) => {
      if (a.result.ok && a.result.firstPage !== undefined) this.env.send(from, { t: 'alloc-ok', req: msg.req, firstPage: a.result.firstPage });
      else this.refuse(from, msg.req, 0, a.result.ok ? 'invalid' : a.result.error === 'no-space' ? 'no-space' : 'invalid');
    });
    if (!ok) this.refuse(from, msg.req, 0, 'not-leader');
  }

  /**
   * A free of a block in this company goes to the owner of its run. The
   * owner's own give-back of a run names the allocation, so a retry that
   * comes after the pages went to another run finds it gone (and is answered
   * ok) instead of freeing a block of the new run. Rows are looked up only
   * once a barrier committed: this table may be stale (a deposed leader back
   * from a pause), and a missing or old row would make a good free fail.
   */
  free(from: number, msg: Extract<VmmMessage, { t: 'free' }>): void {
    const page = Math.floor(msg.addr / this.cfg.pageSize);
    const allocations = (): AllocationRow[] => this.company.table().allocations(this.plan.company);
    const run = msg.run === null ? undefined : allocations().find((a) => a.id === msg.run);
    if (run !== undefined) {
      // Freeing the run commits, so this row need not be current.
      if (ownerOf(run.id) !== from || run.firstPage * this.cfg.pageSize !== msg.addr) this.refuse(from, msg.req, page, 'invalid');
      else {
        this.freeRun(run.id, run.firstPage, run.pages, from, (answer) => {
          if (answer === 'ok') this.env.send(from, { t: 'free-ok', req: msg.req, addr: msg.addr });
          else this.refuse(from, msg.req, page, answer);
        });
      }
      return;
    }
    this.propose({ op: 'barrier' }, undefined, () => {
      if (msg.run !== null) {
        // Gone from a current table: a retry of a give-back already done (or one under way: it answers itself).
        if (!allocations().some((a) => a.id === msg.run)) this.env.send(from, { t: 'free-ok', req: msg.req, addr: msg.addr });
        else this.free(from, msg);
        return;
      }
      const alloc = allocations().find((a) => page >= a.firstPage && page < a.firstPage + a.pages);
      const owner = alloc === undefined ? null : ownerOf(alloc.id);
      if (owner === null) this.refuse(from, msg.req, page, 'invalid');
      else this.env.send(owner, { t: 'free-owner', req: msg.req, addr: msg.addr, host: from });
    });
  }

  /** Takes every page of the run back from its holders, then frees the run; a retried free joins the one under way. */
  private freeRun(id: string, firstPage: number, pages: number, by: number, done: (answer: FreeAnswer) => void): void {
    const waiting = this.freeing.get(id);
    if (waiting !== undefined) {
      waiting.push(done);
      return;
    }
    this.freeing.set(id, [done]);
    this.reclaimAndFree(id, firstPage, pages, by, (answer) => {
      const all = this.freeing.get(id) ?? [];
      this.freeing.delete(id);
      for (const d of all) d(answer);
    });
  }

  /** Again if a lease slipped in between the reclaim and the free. */
  private reclaimAndFree(id: string, firstPage: number, pages: number, by: number, done: (answer: FreeAnswer) => void): void {
    const table = this.company.table();
    let held = 0;
    const propose = (): void => {
      const ok = this.propose({ op: 'free', company: this.plan.company, firstPage, by, id }, undefined, (a) => {
        if (a.result.ok) done('ok');
        else if (a.result.error === 'conflict') {
          this.env.faults.probe(VmmProbe.freeRaced);
          this.reclaimAndFree(id, firstPage, pages, by, done);
        }
        else done('invalid');
      });
      if (!ok) done('not-leader');
    };
    for (let page = firstPage; page < firstPage + pages; page++) {
      if (table.holders(page).length === 0) continue;
      held++;
      this.enqueue(page, { from: 0, msg: { t: 'acquire', req: -1, page, mode: 'write', have: -1 }, reclaimed: () => {
        if (--held === 0) propose();
      } });
    }
    if (held === 0) propose();
  }

  private enqueue(page: number, task: Task): void {
    let q = this.queues.get(page);
    if (q === undefined) this.queues.set(page, (q = { tasks: [], revoking: new Map(), dropping: new Map(), proposing: false }));
    q.tasks.push(task);
    if (q.tasks.length === 1) this.step(page);
  }

  /** A committed entry of this company, applied on this host: continue whoever proposed it. */
  applied(a: CompanyApplied): void {
    const k = this.continuations.get(a.pid);
    if (k === undefined) return;
    this.continuations.delete(a.pid);
    if (a.cmd.op === 'grant' && a.result.ok) this.grantedAt.set(`${a.cmd.page}:${a.cmd.host}`, this.env.now());
    k(a);
  }

  // The head task of a page's queue

  private step(page: number): void {
    if (this.closed) return;
    const q = this.queues.get(page);
    if (q === undefined || q.proposing) return;
    const task = q.tasks[0];
    if (task === undefined) {
      this.queues.delete(page);
      return;
    }
    const { from, msg } = task;
    const table = this.company.table();
    const row = table.page(page);
    if (row === null || row.allocation === null) {
      // This table may be stale (a deposed leader that has not heard of it yet, just
      // back from a pause): only a grant committed in this term can say the page is
      // not allocated. A reclaim has nothing to take back.
      if (task.reclaimed !== undefined) this.finishTask(page, task.reclaimed);
      else this.grant(page, q, task);
      return;
    }
    // A holder whose lease is being dropped (the very lease the table lists) no longer conflicts.
    const conflicting = table.holders(page).filter((h) => h.host !== from && (msg.mode === 'write' || h.mode === 'write')
      && !sameLease(q.dropping.get(h.host)?.lease, h));
    if (conflicting.length === 0) {
      if (task.reclaimed === undefined) this.grant(page, q, task);
      else if (q.dropping.size === 0) this.finishTask(page, task.reclaimed);
      else this.commitDrops(page, q);
      return;
    }
    const now = this.env.now();
    for (const h of conflicting) {
      if (q.revoking.has(h.host)) continue;
      const r: Revoking = { rev: this.nextRev++, deadline: this.waitOut(page, h.host), lease: { term: h.term, grantedAtUs: h.grantedAtUs } };
      q.revoking.set(h.host, r);
      this.sendRevoke(page, h.host, r, now);
    }
  }

  /** Asks a holder again and again until it answers or its lease has surely ended. */
  private sendRevoke(page: number, host: number, r: Revoking, now: number): void {
    const q = this.queues.get(page);
    if (this.closed || q?.revoking.get(host) !== r) return;
    if (now >= r.deadline) {
      this.env.faults.probe(VmmProbe.leaseWaitedOut);
      q.revoking.delete(host);
      q.dropping.set(host, { op: 'expire', page, host, lease: r.lease });
      this.step(page);
      return;
    }
    this.env.send(host, { t: 'revoke', rev: r.rev, page, index: this.company.appliedIndex() });
    const next = Math.min(r.deadline, now + this.cfg.retryUs);
    this.env.timer(next, () => this.sendRevoke(page, host, r, this.env.now()));
  }

  /** The head task's drops, taken for the entry that commits them: answers or wait-outs after it belong to the next look. */
  private takeDrops(q: PageQueue): Drop[] {
    const drops = [...q.dropping.values()];
    q.dropping.clear();
    return drops;
  }

  /** A reclaim's drops, committed together; the next look finds no holder (or one whose drop was refused) and goes on. */
  private commitDrops(page: number, q: PageQueue): void {
    q.proposing = true;
    const ok = this.proposeAll(this.takeDrops(q), () => {
      q.proposing = false;
      this.step(page);
    });
    if (!ok) q.proposing = false;
  }

  private grant(page: number, q: PageQueue, task: Task): void {
    const { from } = task;
    q.proposing = true;
    const cmd = {
      op: 'grant' as const, page, host: from, mode: task.msg.mode, term: this.company.term(), leaseUs: this.cfg.leaseUs, grantedAtUs: this.env.now(),
    };
    // The holders' drops first: the grant applies to the table they leave.
    const ok = this.proposeAll([...this.takeDrops(q), cmd], (a) => {
      q.proposing = false;
      // The newest attempt received (retries replace it): its lease, counted from when it was
      // sent, still ends before this commit plus the lease, the manager's reckoning.
      const msg = task.msg;
      if (!a.result.ok && a.result.error !== 'conflict') {
        const why = a.result.error === 'not-allocated' ? 'not-allocated' : 'invalid';
        this.finishTask(page, () => this.refuse(from, msg.req, page, why));
        return;
      }
      if (!a.result.ok) {
        this.step(page); // the holders changed meanwhile: look again
        return;
      }
      const row = this.company.table().page(page)!;
      const data = msg.have === row.version ? null : row.data ?? '';
      // The lease as the table holds it (a renewal keeps the first grant's token).
      const holder = this.company.table().holders(page).find((h) => h.host === from);
      const lease = holder === undefined ? { term: cmd.term, grantedAtUs: cmd.grantedAtUs } : { term: holder.term, grantedAtUs: holder.grantedAtUs };
      const answer = (): void => this.env.send(from, {
        t: 'grant', req: msg.req, page, mode: msg.mode, version: row.version, data, leaseUs: this.cfg.leaseUs, index: a.index, lease,
      });
      // Held back, the grant may cross the requester's retry or a revoke of the lease it grants.
      const delayed = this.env.faults.buggify(VmmPoint.delayGrant);
      this.finishTask(page, delayed ? () => this.env.timer(this.env.now() + this.cfg.retryUs, answer) : answer);
    });
    if (!ok) {
      q.proposing = false;
      this.finishTask(page, () => this.refuse(from, task.msg.req, page, 'not-leader'));
    }
  }

  private finishTask(page: number, answer: () => void): void {
    const q = this.queues.get(page);
    q?.tasks.shift();
    q?.revoking.clear();
    q?.dropping.clear();
    answer();
    this.step(page);
  }

  /** A release of `data` by `host`, as the next version; null if the page is not in this company. */
  private releaseCommand(page: number, host: number, data: string, keep: LeaseMode | null): Extract<PageCommand, { op: 'release' }> | null {
    const row = this.company.table().page(page);
    if (row === null) return null;
    const bytes = decodePage(data, this.cfg.pageSize);
    return {
      op: 'release', page, host, version: row.version + 1, hash: pageHash(bytes),
      data: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64'), keep,
    };
  }

  /**
   * Proposes a command and continues with its result once committed. A leader
   * may refuse proposals for a while (a leadership transfer under way): then
   * the proposal is retried until it is taken or this manager closes, so no
   * page's queue waits forever on a continuation that never comes. Returns
   * false only if this manager is closed.
   */
  propose(cmd: PageCommand, mark: CompanyEntry['mark'], then: (a: CompanyApplied) => void): boolean {
    return this.proposeEntry([cmd], mark, then);
  }

  /** Commands committed in one entry, applied in order; continues with the last one's result, the whole entry applied. */
  private proposeAll(cmds: PageCommand[], then: (a: CompanyApplied) => void): boolean {
    return this.proposeEntry(cmds, undefined, then);
  }

  /** `mark` (a write-back's) belongs to the first command. */
  private proposeEntry(cmds: PageCommand[], mark: CompanyEntry['mark'], then: (a: CompanyApplied) => void): boolean {
    if (this.closed) return false;
    const subs = cmds.map((cmd) => ({ pid: `${this.cfg.host}.${this.company.term()}.${this.nextPid++}`, cmd }));
    const [head, ...more] = subs as [{ pid: string; cmd: PageCommand }, ...{ pid: string; cmd: PageCommand }[]];
    const entry: CompanyEntry = { ...head, ...(mark === undefined ? {} : { mark }), ...(more.length === 0 ? {} : { more }) };
    const last = subs[subs.length - 1]!.pid;
    // Registered before proposing: a single-voter group whose store persists inline (real
    // mode) commits and applies the entry within propose(), before it returns.
    this.continuations.set(last, then);
    if (!this.company.propose(entry)) {
      this.continuations.delete(last);
      this.env.faults.probe(VmmProbe.proposalRetried);
      this.env.timer(this.env.now() + this.cfg.retryUs, () => this.proposeEntry(cmds, mark, then));
    }
    return true;
  }

  private refuse(to: number, req: number, page: number, why: Extract<VmmMessage, { t: 'refuse' }>['why']): void {
    const version = this.company.table().page(page)?.version ?? 0;
    this.env.send(to, { t: 'refuse', req, page, why, leader: this.company.lead(), version });
  }
}
