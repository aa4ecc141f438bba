// The fault side of coherence on one host: a fault becomes a lease request to
// the page's manager; a grant fills and opens the page; a revoke closes it and
// sends a writer's contents back. Leases end on this host's clock: shortly
// before its lease runs out a host gives the page up by itself.
//
// The durability rule: before a page this host wrote leaves it (revoked, or
// given up), it and every other page this host wrote are written back and
// committed, so no host ever sees a write whose predecessors a crash here
// could still lose.
import type { LeaseMode } from './page-table-commands.js';
import { companyOfPage } from './placement.js';
import type { VmmMessage } from './protocol.js';
import { Requests } from './requests.js';
import type { Reply } from './requests.js';
import type { VmmConfig, VmmEnv } from './vmm-env.js';

interface Held {
  mode: LeaseMode;
  /** Log index of the grant. */
  index: number;
  /** Version of the committed contents the lease was granted on. */
  version: number;
  /** Local time the lease runs out (counted from when it was asked for). */
  expires: number;
}

/** A page on its way out: closed, its contents captured, waiting for the write-backs. */
interface Leaving {
  data: Uint8Array;
  seq: number;
  /** Hand the page back once everything is durable (answer the revoke, or release the lease). */
  finish: () => void;
  /** A later revoke while leaving replies to the newest revoke id. */
  rev: number;
}

/** Write-backs in flight for one page, oldest first; each resolves its waiters. */
interface Flush {
  seq: number;
  waiters: ((ok: boolean) => void)[];
}

export class PageClient {
  private held = new Map<number, Held>();
  /** Version of a local copy kept after losing the lease (read leases only: the copy is committed data). */
  private frames = new Map<number, number>();
  /** Pages with an acquire in flight, and the strongest mode asked. */
  private acquiring = new Map<number, LeaseMode>();
  private leaving = new Map<number, Leaving>();
  /** Per page, the highest log index a revoke covered: grants at or before it are void. */
  private revokedUpTo = new Map<number, number>();
  /** Faults on pages that were leaving, to ask for once they have left. */
  private deferred = new Map<number, LeaseMode>();
  private flushes = new Map<number, Flush>();
  readonly requests: Requests;
  /** Counters for /metrics and reports. */
  readonly stats = { faults: 0, grants: 0, revokes: 0, writeBacks: 0, expired: 0 };

  constructor(private readonly cfg: VmmConfig, private readonly env: VmmEnv) {
    this.requests = new Requests(cfg, env);
  }

  /** The lease this host holds on a page, if any (for inspection). */
  lease(page: number): Held | undefined {
    return this.held.get(page);
  }

  heldPages(): [number, Held][] {
    return [...this.held.entries()].sort((a, b) => a[0] - b[0]);
  }

  fault(page: number, access: LeaseMode): void {
    this.stats.faults++;
    const h = this.held.get(page);
    if (h !== undefined && (h.mode === 'write' || access === 'read') && this.env.now() < h.expires) {
      // A stale fault: the page was opened after the access faulted.
      this.env.memory.setProtection(page, h.mode);
      return;
    }
    if (this.leaving.has(page)) {
      // On its way out: ask again once it has left.
      if (this.deferred.get(page) !== 'write') this.deferred.set(page, access);
      return;
    }
    const asking = this.acquiring.get(page);
    if (asking === 'write' || asking === access) return;
    this.acquire(page, access);
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
  }

  private granted(g: Extract<VmmMessage, { t: 'grant' }>, sentAt: number): 'done' | 'again' {
    const page = g.page;
    const current = this.held.get(page);
    // A read grant overtaken by a write grant (or a duplicate): the page here has writes
    // of this host's that refilling it would throw away; the table keeps the stronger lease.
    if (current?.mode === 'write') return 'done';
    // The lease counts from when it was asked for, so it ends here no later than the manager thinks.
    const expires = sentAt + g.leaseUs;
    const margin = this.giveUpMargin(g.leaseUs);
    if (this.env.now() >= expires - margin) return 'again'; // arrived too late to use
    if (g.index <= (this.revokedUpTo.get(page) ?? 0)) return 'again'; // revoked before it arrived
    if (g.data === null && this.frames.get(page) !== g.version) {
      this.frames.delete(page);
      return 'again'; // the manager thought our copy current; it is not: ask for the data
    }
    this.acquiring.delete(page);
    this.stats.grants++;
    const prot = g.mode;
    if (g.data !== null) this.env.memory.fill(page, decodePage(g.data, this.cfg.pageSize), prot);
    else this.env.memory.setProtection(page, prot);
    this.frames.set(page, g.version);
    const h: Held = { mode: g.mode, index: g.index, version: g.version, expires };
    this.held.set(page, h);
    this.env.timer(expires - margin, () => {
      if (this.held.get(page) === h) this.giveUpVoluntarily(page);
    });
    return 'done';
  }

  /** Give-up starts early enough that its write-backs land while the lease still holds. */
  private giveUpMargin(leaseUs: number): number {
    return Math.min(Math.round(leaseUs / 4), 4 * this.cfg.retryUs);
  }

  /** The lease is about to run out: close the page, and send a writer's contents back. */
  private giveUpVoluntarily(page: number): void {
    const h = this.held.get(page)!;
    this.stats.expired++;
    if (h.mode === 'read') {
      this.held.delete(page);
      this.env.memory.setProtection(page, 'none');
      return;
    }
    const plan = companyOfPage(this.cfg.plans, page)!;
    this.leave(page, 0, (data, seq) => {
      this.requests.start(plan, (req) => ({ t: 'release', req, page, data: encodePage(data), keep: null, seq }), () => 'done');
    });
  }

  revoke(from: number, msg: Extract<VmmMessage, { t: 'revoke' }>): void {
    this.stats.revokes++;
    const { page, rev } = msg;
    if ((this.revokedUpTo.get(page) ?? 0) < msg.index) this.revokedUpTo.set(page, msg.index);
    const h0 = this.held.get(page);
    if (h0 !== undefined && h0.index > msg.index) return; // a revoke of an older lease, overtaken by this one
    const leaving = this.leaving.get(page);
    if (leaving !== undefined) {
      leaving.rev = rev;
      leaving.finish = () => this.env.send(from, { t: 'revoked', rev: leaving.rev, page, data: null, seq: leaving.seq });
      return;
    }
    const h = this.held.get(page);
    if (h === undefined || h.mode === 'read') {
      // Not a writer here, whatever the manager's table says: give up everything, so the
      // answer (no contents) means the same for both kinds of revoke.
      if (h !== undefined) {
        this.held.delete(page);
        this.env.memory.setProtection(page, 'none');
      }
      this.env.send(from, { t: 'revoked', rev, page, data: null, seq: this.env.opSeq() });
      return;
    }
    this.leave(page, rev, (_data, seq) => this.env.send(from, { t: 'revoked', rev, page, data: null, seq }));
  }

  /**
   * A written page leaves: close it, capture its contents, write it and every
   * other page this host wrote back (each commit confirmed), and only then
   * hand the page over.
   */
  private leave(page: number, rev: number, finish: (data: Uint8Array, seq: number) => void): void {
    this.env.memory.setProtection(page, 'none');
    const data = this.env.memory.read(page);
    const seq = this.env.opSeq();
    this.held.delete(page);
    // A copy of uncommitted contents is not a version anyone else knows.
    this.frames.delete(page);
    const l: Leaving = { data, seq, finish: () => finish(data, seq), rev };
    this.leaving.set(page, l);
    const others = [...this.held.entries()].filter(([, x]) => x.mode === 'write').map(([p]) => p);
    for (const [p] of this.leaving) if (!others.includes(p)) others.push(p);
    let waiting = others.length; // at least this page itself
    let failed = false;
    const done = (): void => {
      if (this.leaving.get(page) !== l) return;
      this.leaving.delete(page);
      this.stats.writeBacks++;
      if (!failed) l.finish();
      const wanted = this.deferred.get(page);
      if (wanted !== undefined) {
        this.deferred.delete(page);
        this.fault(page, wanted);
      }
      // On a failed write-back the contents stay here: the manager waits the lease out, and
      // these writes, which nobody saw, are lost as a crash would lose them.
    };
    for (const p of others.sort((a, b) => a - b)) {
      this.flush(p, seq, (ok) => {
        if (!ok) failed = true;
        if (--waiting === 0) done();
      });
    }
  }

  /** Makes a page's writes up to op `seq` durable: a write-back that keeps the write lease. */
  private flush(page: number, seq: number, then: (ok: boolean) => void): void {
    const inFlight = this.flushes.get(page);
    if (inFlight !== undefined && inFlight.seq >= seq) {
      inFlight.waiters.push(then);
      return;
    }
    if (inFlight !== undefined) {
      // One write-back per page at a time: the next one follows the current.
      inFlight.waiters.push(() => this.flush(page, seq, then));
      return;
    }
    const l = this.leaving.get(page);
    const data = l?.data ?? this.env.memory.read(page);
    const captured = l?.seq ?? this.env.opSeq();
    const f: Flush = { seq: captured, waiters: [then] };
    this.flushes.set(page, f);
    const plan = companyOfPage(this.cfg.plans, page)!;
    let tries = 0;
    this.requests.start(plan, (req) => ({ t: 'release', req, page, data: encodePage(data), keep: 'write', seq: captured }), (reply: Reply) => {
      const ok = reply.t === 'released';
      if (!ok && ++tries < 3 && reply.t === 'refuse' && reply.why === 'conflict') return 'again';
      if (ok) {
        const h = this.held.get(page);
        if (h !== undefined) h.version = reply.version;
      }
      this.flushes.delete(page);
      for (const w of f.waiters) w(ok);
      return 'done';
    });
  }

  /** Drops everything (the process is going away); nothing is sent. */
  close(): void {
    this.held.clear();
    this.leaving.clear();
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
