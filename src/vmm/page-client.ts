// The fault side of coherence on one host: a fault becomes a lease request to
// the page's manager; a grant fills and opens the page; a revoke closes it.
// Leases end on this host's clock: shortly before its lease runs out a host
// gives the page up by itself. As a backstop the memory backend closes each
// page at a deadline a little later (still before the lease ends), on its own:
// a host whose event loop is stuck cannot give anything up, yet its
// application threads must stop using the page in time.
//
// The durability rule, kept by construction: at most one page is dirty (has
// writes not yet committed) on a host at a time. A write-leased page is mapped
// read-only until the host writes it; before another page may be written, the
// dirty one is written back and the commit confirmed. So every committed
// contents of a page holds only writes whose predecessors are committed too:
// whatever another host sees, a crash here cannot take its past away.
import { VmmPoint, VmmProbe } from './fault-points.js';
import type { LeaseMode, LeaseToken } from './page-table-commands.js';
import { companyOfPage } from './placement.js';
import type { VmmMessage } from './protocol.js';
import { Requests } from './requests.js';
import type { VmmConfig, VmmEnv } from './vmm-env.js';

interface Held {
  mode: LeaseMode;
  /** Log index of the grant. */
  index: number;
  /** Version of the committed contents (the grant's, or this host's last write-back). */
  version: number;
  /** Local time the lease runs out (counted from when it was asked for). */
  expires: number;
  /** Local time the memory backend closes the page by itself (its deadline). */
  closesAt: number;
  /** The grant's fencing token: a write-back under this lease names it. */
  lease: LeaseToken;
  /** Local time the page was opened under this lease (the hold window counts from it). */
  openedAt: number;
}

/** The write-back of the dirty page in flight, and who waits for it. */
interface Cleaning {
  page: number;
  /** Each hears whether the writes were committed (false: they are lost). */
  waiters: ((committed: boolean) => void)[];
  lease: LeaseToken;
}

export class PageClient {
  private held = new Map<number, Held>();
  /** Version of a local copy kept after losing a read lease (a committed version). */
  private frames = new Map<number, number>();
  /** Pages with an acquire in flight, and the strongest mode asked. */
  private acquiring = new Map<number, LeaseMode>();
  /** Per page, the highest log index a revoke covered: grants at or before it are void. */
  private revokedUpTo = new Map<number, number>();
  /** Pages this host is handing back, and the fault (if any) to ask for once that is settled. */
  private releasing = new Map<number, LeaseMode | null>();
  /** Write-backs started: each one's number (`wb`), so the manager can order them within a lease. */
  private writeBacks = 0;
  /** Grants that arrived while their page was being handed back: judged once that is settled. */
  private heldBack = new Map<number, [Extract<VmmMessage, { t: 'grant' }>, number]>();
  /** The one page with writes not yet committed, if any, and the lease it was written under. */
  private dirty: number | null = null;
  private dirtyLease: LeaseToken | null = null;
  private cleaning: Cleaning | null = null;
  readonly requests: Requests;
  /** Counters for /metrics and reports. */
  readonly stats = { faults: 0, grants: 0, revokes: 0, writeBacks: 0, expired: 0, lostWrites: 0, evictions: 0 };

  constructor(private readonly cfg: VmmConfig, private readonly env: VmmEnv) {
    this.requests = new Requests(cfg, env);
  }

  /** The leases this host holds, by page (for inspection). */
  heldPages(): [number, Held][] {
    return [...this.held.entries()].sort((a, b) => a[0] - b[0]);
  }

  get dirtyPage(): number | null {
    return this.dirty;
  }

  fault(page: number, access: LeaseMode): void {
    this.stats.faults++;
    // Past its deadline the backend has closed the page (this loop was too busy to give it up
    // in time) and keeps it closed: the lease ends now, as its timer would have ended it.
    if ((this.held.get(page)?.closesAt ?? Infinity) <= this.env.now()) {
      this.env.faults.probe(VmmProbe.deadlineClosedPage);
      this.giveUp(page);
    }
    const h = this.held.get(page);
    if (h !== undefined && this.env.now() < h.expires) {
      if (access === 'read') {
        // A stale fault: the page was opened after the access faulted.
        this.env.memory.setProtection(page, this.dirty === page ? 'write' : 'read');
        return;
      }
      if (h.mode === 'write') {
        this.startWriting(page);
        return;
      }
    }
    if (this.releasing.has(page)) {
      // A new lease could be committed before the release and be dropped by it: wait.
      if (this.releasing.get(page) !== 'write') this.releasing.set(page, access);
      return;
    }
    const asking = this.acquiring.get(page);
    if (asking === 'write' || asking === access) return;
    this.acquire(page, access);
  }

  /** The first write to a write-leased page: the dirty page (if another) is written back first. */
  private startWriting(page: number): void {
    if (this.dirty === page && this.cleaning === null) {
      this.env.memory.setProtection(page, 'write');
      return;
    }
    this.clean(() => {
      const h = this.held.get(page);
      // Lost meanwhile, or past its deadline (the page stays closed): the thread faults again.
      if (h?.mode !== 'write' || this.env.now() >= h.closesAt) return;
      if (this.dirty !== null || this.cleaning !== null) {
        // Another waiting writer's page got dirty first, and its thread has yet to resume and
        // write it. Cleaning it at once would take it away unwritten: waiting writers of one
        // host would then take the dirty page from each other forever. Let that thread write.
        this.env.timer(this.env.now() + (this.cfg.minHoldUs ?? 0), () => {
          if (this.held.get(page)?.mode === 'write') this.startWriting(page);
        });
        return;
      }
      this.dirty = page;
      this.dirtyLease = h.lease;
      this.env.memory.setProtection(page, 'write');
    });
  }

  private acquire(page: number, mode: LeaseMode): void {
    const plan = companyOfPage(this.cfg.plans, page);
    if (plan === undefined) {
      this.env.segfault(page, 'outside the heap');
      return;
    }
    this.acquiring.set(page, mode);
    this.requests.start(plan, (req) => ({ t: 'acquire', req, page, mode, have: this.frames.get(page) ?? -1 }), (reply, sentAt) => {
      if (reply.t === 'grant') return this.granted(reply, sentAt);
      if (reply.t === 'refuse' && reply.why === 'conflict') return 'again';
      this.acquiring.delete(page);
      if (reply.t === 'refuse') this.env.segfault(page, reply.why);
      return 'done';
    });
    // A write lease will have this host write `page`, and the dirty page must be written back
    // first: start that now, alongside the request, instead of after the grant.
    if (mode === 'write' && this.dirty !== null && this.dirty !== page && this.cleaning === null) this.clean(() => {});
  }

  private granted(g: Extract<VmmMessage, { t: 'grant' }>, sentAt: number): 'done' | 'again' {
    const page = g.page;
    // A read grant overtaken by a write grant (or a duplicate): never refill a page this
    // host may have written. The table keeps the stronger lease, renewed by the later grant:
    // adopt its fencing token, and its time if later.
    const current = this.held.get(page);
    if (current?.mode === 'write') {
      this.acquiring.delete(page);
      if (g.index > current.index) {
        current.index = g.index;
        current.lease = g.lease;
        if (this.dirty === page) this.dirtyLease = g.lease;
        const expires = sentAt + g.leaseUs;
        if (expires > current.expires) {
          current.expires = expires;
          current.closesAt = this.deadlineOf(expires, g.leaseUs);
          this.env.memory.setDeadline(page, current.closesAt);
        }
      }
      return 'done';
    }
    if (this.releasing.has(page) || this.dirty === page) {
      // Committed before or after our release? Only the release's index will tell. Or the page
      // has writes of ours on their way to the table: judge the grant once they are committed.
      this.env.faults.probe(VmmProbe.grantHeldBack);
      this.heldBack.set(page, [g, sentAt]);
      return 'done';
    }
    // The lease counts from when it was asked for, so it ends here no later than the manager thinks.
    const expires = sentAt + g.leaseUs;
    const margin = this.giveUpMargin(g.leaseUs);
    if (this.env.now() >= expires - margin) {
      this.env.faults.probe(VmmProbe.grantTooLate);
      return 'again';
    }
    if (g.index <= (this.revokedUpTo.get(page) ?? 0)) {
      this.env.faults.probe(VmmProbe.grantRacedRevoke);
      return 'again';
    }
    if (g.data === null && (this.frames.get(page) ?? -1) < g.version) {
      this.env.faults.probe(VmmProbe.staleCopyRefetched);
      this.frames.delete(page);
      return 'again'; // the manager thought our copy current; it is not: ask for the data
    }
    this.acquiring.delete(page);
    this.stats.grants++;
    // The deadline first: past an old one the backend would keep the page closed.
    const closesAt = this.deadlineOf(expires, g.leaseUs);
    this.env.memory.setDeadline(page, closesAt);
    // Even a write lease opens read-only: the first write marks the page dirty. A copy here
    // newer than the grant's (our own write-back, committed after it) is kept.
    const mine = this.frames.get(page) ?? -1;
    if (g.data !== null && mine <= g.version) this.env.memory.fill(page, decodePage(g.data, this.cfg.pageSize), 'read');
    else this.env.memory.setProtection(page, 'read');
    this.frames.set(page, Math.max(mine, g.version));
    const h: Held = { mode: g.mode, index: g.index, version: g.version, expires, closesAt, lease: g.lease, openedAt: this.env.now() };
    this.held.set(page, h);
    this.armGiveUp(page, h, margin);
    if (this.env.faults.buggify(VmmPoint.giveUpEarly)) {
      const now = this.env.now();
      this.env.timer(now + Math.floor((h.expires - margin - now) / 2), () => {
        if (this.held.get(page) === h) this.giveUp(page);
      });
    }
    this.keepUnderLimit(page);
    return 'done';
  }

  /**
   * Under memory pressure, drops pages held only for reading, oldest grant
   * first; never the page just granted, never one held for writing (its
   * contents may be the only copy of this host's writes).
   */
  private keepUnderLimit(justGranted: number): void {
    const limit = this.env.faults.buggify(VmmPoint.evictReaders) ? 1 : this.cfg.memoryLimitPages;
    if (limit === undefined || this.held.size <= limit) return;
    const readers = [...this.held.entries()].filter(([p, x]) => p !== justGranted && x.mode === 'read').sort((a, b) => a[1].index - b[1].index);
    for (const [p] of readers) {
      if (this.held.size <= limit) return;
      this.closePage(p);
      this.stats.evictions++;
      this.env.faults.probe(VmmProbe.pageEvicted);
    }
  }

  /** Gives the page up shortly before its lease ends; a renewal (a later expires) moves that on. */
  private armGiveUp(page: number, h: Held, margin: number): void {
    this.env.timer(h.expires - margin, () => {
      if (this.held.get(page) !== h) return;
      if (this.env.now() < h.expires - margin) this.armGiveUp(page, h, margin);
      else this.giveUp(page);
    });
  }

  /** Give-up starts early enough that its write-back lands while the lease still holds. */
  private giveUpMargin(leaseUs: number): number {
    return Math.min(Math.round(leaseUs / 4), 4 * this.cfg.retryUs);
  }

  /**
   * The backend's deadline for a page: after this host's own give-up, so a live host gives
   * its pages up first, and before the lease runs out, by half the give-up margin (time for
   * the backend to wake), so a host whose loop is stuck stops using the page in time.
   */
  private deadlineOf(expires: number, leaseUs: number): number {
    return expires - Math.ceil(this.giveUpMargin(leaseUs) / 2);
  }

  /** The lease is about to run out: close the page; a writer hands it back, written back. */
  private giveUp(page: number): void {
    const h = this.held.get(page)!;
    this.stats.expired++;
    this.closePage(page);
    if (h.mode === 'read') return;
    const plan = companyOfPage(this.cfg.plans, page)!;
    this.releasing.set(page, null);
    this.afterCleaning(page, () => {
      const data = encodePage(this.env.memory.read(page));
      const seq = this.env.opSeq();
      const wb = ++this.writeBacks;
      this.requests.start(plan, (req) => ({ t: 'release', req, page, data, keep: null, seq, wb, lease: h.lease }), (reply) => {
        // The release drops every lease of ours granted before it.
        if (reply.t === 'released' && (this.revokedUpTo.get(page) ?? 0) < reply.index) this.revokedUpTo.set(page, reply.index);
        const wanted = this.releasing.get(page);
        this.releasing.delete(page);
        if (!this.judgeHeldBack(page) && wanted) this.fault(page, wanted);
        return 'done';
      });
    });
  }

  /** A grant held back while the page was being written back or handed back: judge it now. */
  private judgeHeldBack(page: number): boolean {
    const back = this.heldBack.get(page);
    if (back === undefined || this.releasing.has(page) || this.dirty === page) return false;
    this.heldBack.delete(page);
    if (this.granted(back[0], back[1]) === 'again') this.acquire(page, back[0].mode);
    return true;
  }

  revoke(from: number, msg: Extract<VmmMessage, { t: 'revoke' }>): void {
    const { page, rev } = msg;
    const held = this.held.get(page);
    const holdUntil = held !== undefined && held.index <= msg.index ? held.openedAt + (this.cfg.minHoldUs ?? 0) : 0;
    if (this.env.now() < holdUntil) {
      // Keep a fresh lease long enough for the threads that waited for it to use it once;
      // handing it straight on lets hosts that contend for a page take it from each other forever.
      this.env.timer(holdUntil, () => this.revoke(from, msg));
      return;
    }
    this.stats.revokes++;
    if ((this.revokedUpTo.get(page) ?? 0) < msg.index) this.revokedUpTo.set(page, msg.index);
    const h = this.held.get(page);
    if (h !== undefined && h.index > msg.index) {
      this.env.faults.probe(VmmProbe.revokeOvertaken); // a revoke of an older lease, overtaken by this one
      return;
    }
    if (h !== undefined) this.closePage(page);
    const answer = (): void => this.env.send(from, { t: 'revoked', rev, page, data: null, seq: this.env.opSeq() });
    if (this.cfg.bugs?.skipWriteBack && this.dirty === page) {
      this.dirty = null; // the deliberate bug: these writes are simply dropped
      answer();
      return;
    }
    // Answer once nothing of the page is left uncommitted here.
    this.afterCleaning(page, answer);
  }

  /** Closes a page and forgets its lease (a copy of uncommitted writes is no version anyone knows). */
  private closePage(page: number): void {
    this.held.delete(page);
    if (this.dirty === page) this.frames.delete(page);
    this.env.memory.setProtection(page, 'none');
    this.env.memory.setDeadline(page, null);
  }

  /** Runs then() once `page` is not dirty, writing it back first if it is. */
  private afterCleaning(page: number, then: () => void): void {
    if (this.dirty === page || this.cleaning?.page === page) this.clean(then);
    else then();
  }

  /**
   * Writes the dirty page back, keeping its write lease, and runs then() once
   * the commit is confirmed, or once the write-back proved impossible (the
   * lease is gone: those writes, which nobody saw, are lost).
   */
  private clean(then: (committed: boolean) => void): void {
    if (this.cleaning !== null) {
      this.cleaning.waiters.push(then);
      return;
    }
    const page = this.dirty;
    if (page === null) {
      then(true);
      return;
    }
    const c: Cleaning = { page, waiters: [then], lease: this.dirtyLease! };
    this.cleaning = c;
    // No write may slip in after the contents are captured.
    if (this.held.has(page)) this.env.memory.setProtection(page, 'read');
    const data = encodePage(this.env.memory.read(page));
    const seq = this.env.opSeq();
    const wb = ++this.writeBacks;
    const plan = companyOfPage(this.cfg.plans, page)!;
    let tries = 0;
    this.requests.start(plan, (req) => ({ t: 'release', req, page, data, keep: 'write', seq, wb, lease: c.lease }), (reply) => {
      const h = this.held.get(page);
      if (reply.t === 'refuse' && reply.why === 'conflict' && ++tries < 4) {
        // A renewal may have changed the lease's token, or a retry raced the first attempt.
        if (h !== undefined && h.mode === 'write') c.lease = h.lease;
        return 'again';
      }
      if (reply.t === 'released') {
        this.stats.writeBacks++;
        if (h !== undefined) h.version = reply.version;
        this.frames.set(page, reply.version);
      } else {
        // The lease is gone: these writes are lost, and what this host's threads did after
        // them rests on them. Like a crash, it ends them (real mode: a SIGBUS).
        this.stats.lostWrites++;
        this.env.faults.probe(VmmProbe.lostWrites);
        if (h !== undefined) this.closePage(page);
        this.frames.delete(page);
        this.env.lostWrites(page);
      }
      this.dirty = null;
      this.dirtyLease = null;
      this.cleaning = null;
      for (const w of c.waiters) w(reply.t === 'released');
      this.judgeHeldBack(page);
      return 'done';
    });
  }

  /**
   * Writes the dirty page back, if there is one, and runs then() once nothing
   * written on this host is uncommitted (committed: true), or once the
   * write-back proved impossible (false: those writes are lost). A host
   * stopping on purpose calls it, so a clean shutdown loses nothing; so does a
   * free, which other hosts can observe.
   */
  flush(then: (committed: boolean) => void): void {
    this.clean(then);
  }

  /** Drops everything (the process is going away); nothing is sent. */
  close(): void {
    this.held.clear();
    this.cleaning = null;
    this.dirty = null;
    this.dirtyLease = null;
  }
}

export function encodePage(data: Uint8Array): string {
  for (let i = 0; i < data.length; i++) if (data[i] !== 0) return Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('base64');
  return '';
}

/** '' is a page of zeros (a page never written since it was allocated). */
export function decodePage(data: string, pageSize: number): Uint8Array {
  const out = new Uint8Array(pageSize);
  if (data !== '') out.set(Buffer.from(data, 'base64').subarray(0, pageSize));
  return out;
}
