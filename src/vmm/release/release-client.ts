// Lazy release consistency on one host (TreadMarks, adapted to companies).
//
// Pages are copies without leases: any number of hosts may read and write
// their own copy of a page at once. The first write to a copy in an interval
// makes a twin. A release (unlock, barrier arrival) ends the interval: the
// words that differ from the twins are the interval's diffs, which each page's
// company commits through Raft (the durability rule: on a quorum before the
// release completes, so nothing another host is told of can be lost with a
// crash here). The release then publishes, through the sync layer, every
// interval this host knows of with its write notices (page, version). An
// acquire applies what it is handed: a copy older than a notice's version is
// invalidated, and fetched (the diffs since the copy's version, else the whole
// page) when a thread next touches it. This host's own writes not yet in the
// company's copy are kept across an invalidation and laid over the fetched
// page again, so they are never lost.
//
// Releases of one host are published in order, each once every earlier
// interval's diffs are committed; a page's diffs from one host therefore
// commit in interval order, so a retry can never overwrite a later write.
import type { SyncObject, CoherenceHooks } from '../sync/hooks.js';
import { MAX_PUBLISHED_CHARS } from '../sync/hooks.js';
import type { LeaseMode } from '../page-table-commands.js';
import { companyOfPage } from '../placement.js';
import type { Requests } from '../requests.js';
import type { VmmConfig, VmmEnv } from '../vmm-env.js';
import { decodePage } from '../page-client.js';
import { applyDiff, decodeDiff, encodeDiff, makeDiff, type Diff } from './diff.js';
import { decodePublished, encodePublished, type Interval, intervalSeq, IntervalLog, type WriteNotice } from './notices.js';
import { vtSet } from './vector-time.js';

/** A notice version that says "a version after any you have": the acquirer's fetch goes through the log. */
const ANY_LATER = Number.MAX_SAFE_INTEGER;

/** A diff of an ended interval of this host, until the company's copy that a fetch returned holds it. */
interface Sent {
  diff: Diff;
  /** The version it was committed as (null: not yet). */
  version: number | null;
}

interface Copy {
  /** May be read (and, with a twin, written) now. */
  valid: boolean;
  /** The company version the copy equals, without this host's writes since (-1: none exactly). */
  version: number;
  /** Written in the open interval: the contents before. */
  twin: Uint8Array | null;
  /** Invalidated while written: the open interval's writes, laid over the next fetch. */
  open: Diff | null;
  /** Invalidated: the contents at `version`, for the diffs a fetch returns. */
  base: Uint8Array | null;
  sent: Sent[];
}

interface PendingInterval {
  seq: number;
  pages: { page: number; sent: Sent }[];
  /** Releases waiting for this interval (and all before it) to be durable. */
  waiters: (() => void)[];
}

export class ReleaseClient implements CoherenceHooks {
  private copies = new Map<number, Copy>();
  /** Per page, the version the write notices applied here require (ANY_LATER: unknown, ask the log). */
  private need = new Map<number, number>();
  /** Pages being fetched: the accesses waiting. */
  private fetching = new Map<number, LeaseMode[]>();
  private log = new IntervalLog();
  private intervals = 0;
  /** Intervals whose diffs are being committed, oldest first; the head's are in flight. */
  private pending: PendingInterval[] = [];
  /** This host's threads ended (a lock's lease or writes lost): its unpublished diffs are sent no more. */
  private abandoned = false;
  readonly stats = { faults: 0, fetches: 0, wholePages: 0, diffsFetched: 0, diffsSent: 0, invalidations: 0, releases: 0, acquires: 0, lapsedGrants: 0, badRecords: 0 };

  constructor(private readonly cfg: VmmConfig, private readonly env: VmmEnv, private readonly requests: Requests) {}

  private copy(page: number): Copy {
    let c = this.copies.get(page);
    if (c === undefined) this.copies.set(page, (c = { valid: false, version: -1, twin: null, open: null, base: null, sent: [] }));
    return c;
  }

  fault(page: number, access: LeaseMode): void {
    this.stats.faults++;
    const c = this.copy(page);
    if (!c.valid) {
      this.fetch(page, access);
      return;
    }
    if (access === 'write' && c.twin === null) c.twin = this.env.memory.read(page);
    this.env.memory.setProtection(page, c.twin !== null ? 'write' : 'read');
  }

  private fetch(page: number, access: LeaseMode): void {
    const waiting = this.fetching.get(page);
    if (waiting !== undefined) {
      waiting.push(access);
      return;
    }
    const plan = companyOfPage(this.cfg.plans, page);
    if (plan === undefined) {
      this.env.segfault(page, 'outside the heap');
      return;
    }
    this.fetching.set(page, [access]);
    this.stats.fetches++;
    let needAsked = 0;
    this.requests.start(plan, (req) => {
      const c = this.copy(page);
      needAsked = this.need.get(page) ?? 0;
      return { t: 'fetch', req, page, have: c.base !== null ? c.version : -1, need: needAsked };
    }, (reply) => {
      if (reply.t === 'refuse' && reply.why === 'conflict') return 'again';
      const accesses = this.fetching.get(page) ?? [];
      this.fetching.delete(page);
      if (reply.t !== 'page') {
        this.env.segfault(page, reply.t === 'refuse' ? reply.why : reply.t);
        return 'done';
      }
      if (!this.filled(page, reply, needAsked)) {
        this.fetch(page, accesses[0] ?? 'read'); // a notice arrived meanwhile asks for more: again
        for (const a of accesses.slice(1)) this.fetch(page, a);
        return 'done';
      }
      for (const a of accesses) this.fault(page, a);
      return 'done';
    });
  }

  /** A fetched page: build the copy; false if a notice that came meanwhile needs a later version. */
  private filled(page: number, reply: { version: number; data: string | null; diffs: string[] | null }, needAsked: number): boolean {
    const c = this.copy(page);
    // Diffs for a base this host dropped meanwhile (abandon): ask for the whole page.
    if (reply.diffs !== null && c.base === null) return false;
    let contents: Uint8Array;
    if (reply.diffs !== null && c.base !== null) {
      contents = c.base;
      for (const text of reply.diffs) {
        const d = decodeDiff(text, this.cfg.pageSize);
        if ('error' in d) {
          // A manager's garbage: drop the copy we had and ask for the whole page.
          c.base = null;
          c.version = -1;
          return false;
        }
        applyDiff(contents, d);
      }
      this.stats.diffsFetched += reply.diffs.length;
    } else {
      contents = decodePage(reply.data ?? '', this.cfg.pageSize);
      this.stats.wholePages++;
    }
    // This host's diffs the company's copy does not hold yet go on top.
    let exact = true;
    for (const s of c.sent) {
      if (s.version === null || s.version > reply.version) {
        applyDiff(contents, s.diff);
        exact = false;
      }
    }
    c.sent = c.sent.filter((s) => s.version === null || s.version > reply.version);
    c.version = exact ? reply.version : -1;
    c.base = null;
    c.valid = true;
    if (c.open !== null) {
      c.twin = contents.slice();
      applyDiff(contents, c.open);
      c.open = null;
      this.env.memory.fill(page, contents, 'write');
    } else {
      c.twin = null;
      this.env.memory.fill(page, contents, 'read');
    }
    const need = this.need.get(page) ?? 0;
    if (need > needAsked && c.version < need) {
      this.invalidate(page, need);
      return false;
    }
    // Answered after what was asked (through the log if need be): that is the version to compare notices with.
    this.need.set(page, reply.version);
    return true;
  }

  /** A write notice says the company has `version` of the page: a copy older than it goes. */
  private invalidate(page: number, version: number): void {
    this.need.set(page, Math.max(this.need.get(page) ?? 0, version));
    const c = this.copies.get(page);
    if (c === undefined || !c.valid || (c.version >= version && version !== ANY_LATER)) return;
    this.stats.invalidations++;
    const now = this.env.memory.read(page);
    if (c.twin !== null) {
      const d = makeDiff(c.twin, now);
      c.open = d.length > 0 ? d : null;
      c.base = c.version >= 0 ? c.twin : null;
    } else {
      c.base = c.version >= 0 ? now : null;
    }
    c.twin = null;
    c.valid = false;
    this.env.memory.setProtection(page, 'none');
  }

  // The sync layer's hooks

  beforeRelease(_obj: SyncObject, _thread: number, done: (published: string | null) => void): void {
    this.stats.releases++;
    const pages: { page: number; sent: Sent }[] = [];
    for (const [page, c] of [...this.copies.entries()].sort((a, b) => a[0] - b[0])) {
      let d: Diff | null = null;
      if (c.valid && c.twin !== null) {
        const now = this.env.memory.read(page);
        d = makeDiff(c.twin, now);
        // The next interval's writes count from here; the page stays writable.
        c.twin = now;
      } else if (!c.valid && c.open !== null) {
        d = c.open;
        c.open = null;
      }
      if (d === null || d.length === 0) continue;
      const sent: Sent = { diff: d, version: null };
      c.sent.push(sent);
      pages.push({ page, sent });
    }
    const publish = (): void => done(encodePublished(this.log.published(), MAX_PUBLISHED_CHARS));
    if (pages.length === 0) {
      // Nothing new: publish once every earlier interval is durable.
      const last = this.pending[this.pending.length - 1];
      if (last === undefined) publish();
      else last.waiters.push(publish);
      return;
    }
    const iv: PendingInterval = { seq: intervalSeq(this.cfg.incarnation, ++this.intervals), pages, waiters: [publish] };
    if (this.cfg.bugs?.publishBeforeDurable) {
      // The deliberate bug: the notices go out before the diffs are committed (their versions
      // unknown yet, so "any later one"), and the release completes at once.
      this.log.addOwn({ host: this.cfg.host, seq: iv.seq, vt: vtSet(this.log.vt, this.cfg.host, iv.seq), notices: pages.map((p) => [p.page, ANY_LATER] as const) });
      iv.waiters = [];
      publish();
    }
    this.pending.push(iv);
    if (this.pending.length === 1) this.commit(iv);
  }

  /** Commits the head interval's diffs, every page at once; then the next interval's. */
  private commit(iv: PendingInterval): void {
    const vt = vtSet(this.log.vt, this.cfg.host, iv.seq);
    let left = iv.pages.length;
    const notices: WriteNotice[] = [];
    for (const { page, sent } of iv.pages) {
      const plan = companyOfPage(this.cfg.plans, page)!;
      const diff = encodeDiff(sent.diff);
      this.stats.diffsSent++;
      this.requests.start(plan, (req) => ({ t: 'diff', req, page, interval: iv.seq, vt: { ...vt }, diff }), (reply) => {
        if (reply.t === 'refuse' && reply.why === 'conflict') return 'again';
        if (reply.t === 'diffed') {
          sent.version = reply.version;
          notices.push([page, reply.version]);
          this.settled(page, sent);
          this.log.prune(reply.floor);
        } else {
          // The page was freed meanwhile: its words are nobody's any more.
          const c = this.copies.get(page);
          if (c !== undefined) c.sent = c.sent.filter((s) => s !== sent);
        }
        if (--left === 0) this.durable(iv, vt, notices);
        return 'done';
      }, () => !this.abandoned);
    }
  }

  /** A diff committed: a copy that was exactly the version before it is now exactly this one. */
  private settled(page: number, sent: Sent): void {
    const c = this.copies.get(page);
    if (c === undefined || c.sent[0] !== sent) return;
    if (c.valid && c.version >= 0 && sent.version === c.version + 1) {
      c.version = sent.version;
      c.sent.shift();
    }
  }

  private durable(iv: PendingInterval, vt: Interval['vt'], notices: WriteNotice[]): void {
    if (!this.cfg.bugs?.publishBeforeDurable) {
      notices.sort((a, b) => a[0] - b[0]);
      this.log.addOwn({ host: this.cfg.host, seq: iv.seq, vt, notices });
    }
    this.pending.shift();
    for (const w of iv.waiters) w();
    const next = this.pending[0];
    if (next !== undefined) this.commit(next);
  }

  afterAcquire(_obj: SyncObject, _thread: number, published: readonly string[], lapsed: boolean, done: () => void): void {
    this.stats.acquires++;
    // The holder before was waited out: what it wrote since its last release may be committed, in
    // part, and no notice names it. Any copy held here may predate it, so none is trusted.
    if (lapsed) {
      this.stats.lapsedGrants++;
      this.invalidateAll();
    }
    for (const text of published) {
      const p = decodePublished(text);
      if ('error' in p) {
        // Not a record this code wrote: trust nothing we hold.
        this.stats.badRecords++;
        this.invalidateAll();
        continue;
      }
      if (p.all === true) this.invalidateAll();
      for (const iv of this.log.merge(p)) {
        if (iv.host === this.cfg.host) continue;
        for (const [page, version] of iv.notices) this.invalidate(page, version);
      }
    }
    done();
  }

  private invalidateAll(): void {
    for (const page of [...this.copies.keys()].sort((a, b) => a - b)) this.invalidate(page, ANY_LATER);
  }

  /**
   * This host's threads ended: the releases waiting for their diffs will never be published, so
   * their diffs are not sent again (one committed later could overwrite a later holder's words).
   * An attempt already sent may still commit: that window stays open (diffs are not fenced). The
   * copies go too: they hold the ended threads' unpublished writes, which a later reader here (the
   * end check) must not see; the next touch fetches the company's page whole.
   */
  abandon(): void {
    this.abandoned = true;
    this.pending = [];
    for (const page of [...this.copies.keys()].sort((a, b) => a - b)) this.env.memory.setProtection(page, 'none');
    this.copies.clear();
  }

  /** The process is going away: nothing is sent. */
  close(): void {
    this.copies.clear();
    this.pending = [];
    this.fetching.clear();
  }
}
