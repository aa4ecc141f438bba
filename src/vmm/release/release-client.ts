// Lazy release consistency on one host (TreadMarks, adapted to companies).
//
// Pages are copies without leases: any number of hosts may read and write
// their own copy of a page at once. The first write to a copy in an interval
// makes a twin. A release (unlock, barrier arrival) ends the interval: the
// words that differ from the twins are the interval's diffs, which each page's
// company commits through Raft (the durability rule: on a quorum before the
// release completes, so nothing another host is told of can be lost with a
// crash here). The release then publishes, through the sync layer, every
// interval this host knows of with its write notices (the pages it wrote). An
// acquire applies what it is handed: a copy that lacks a notice's interval is
// invalidated, and fetched (the diffs since the copy's version, else the whole
// page) when a thread next touches it.
//
// Fencing: a company keeps committed diffs unapplied until a fetch names their
// interval (diff-table.ts), and a fetch names only intervals this host learnt
// from published records, and its own ones such records show published. A
// diff whose release never committed (its lock's lease was waited out, its
// host crashed first) is therefore never applied, however late it commits: it
// cannot overwrite what a later holder wrote, and no host sees what others do
// not. This host's own writes not yet in the company's copy are laid over
// every fetched page, so they are never lost to it.
//
// Releases of one host are published in order, each once every earlier
// interval's diffs are committed.
import type { CoherenceHooks, HomeRecord, SyncObject } from '../sync/hooks.js';
import { MAX_PUBLISHED_CHARS } from '../sync/hooks.js';
import type { LeaseMode } from '../page-table-commands.js';
import { companyOfPage } from '../placement.js';
import type { Requests } from '../requests.js';
import type { VmmConfig, VmmEnv } from '../vmm-env.js';
import { decodePage } from '../page-client.js';
import { applyDiff, decodeDiff, encodeDiff, makeDiff, type Diff } from './diff.js';
import { decodePublished, encodePublished, intervalSeq, IntervalLog, type WriteNotice } from './notices.js';
import { vtGet, vtMax, vtSet, type VectorTime } from './vector-time.js';

/** A diff of an ended interval of this host, until a fetched copy of the company's page holds it. */
interface Sent {
  diff: Diff;
  /** The interval it ends. */
  seq: number;
}

interface Copy {
  /** May be read (and, with a twin, written) now. */
  valid: boolean;
  /** The company version the copy equals, without this host's writes since (-1: none exactly). */
  version: number;
  /** Per host, the last interval of it the company's page held when fetched. */
  has: VectorTime;
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
  /** The sync layer's record due at this host's home for the release that ended the interval (see commit). */
  home: HomeRecord | null;
  /** That record, as committed at home with the interval's last diff there (null: not so committed). */
  record: string | null;
  /** Releases waiting for this interval (and all before it) to be durable. */
  waiters: (() => void)[];
}

export class ReleaseClient implements CoherenceHooks {
  private copies = new Map<number, Copy>();
  /** Per page, the intervals (last per host) that notices applied here name and the copy must hold. */
  private need = new Map<number, VectorTime>();
  /**
   * A record that named no pages (too many, or not one this code wrote) asks for every page afresh:
   * each page's next fetch names everything this host knows published (allNeed), once (allAsked).
   */
  private allNeed: VectorTime = {};
  private allGen = 0;
  private allAsked = new Map<number, number>();
  /** Pages being fetched: the accesses waiting. */
  private fetching = new Map<number, LeaseMode[]>();
  /** Pages allocated anew while a fetch of them was under way: its answer may hold the old words (see allocated). */
  private fetchedStale = new Set<number>();
  private log = new IntervalLog();
  private intervals = 0;
  /** This host's last interval that a record it was handed shows published (only those may be named for it). */
  private ownPublished = 0;
  /** Intervals whose diffs are being committed, oldest first; the head's are in flight. */
  private pending: PendingInterval[] = [];
  /** This host's threads ended (a lock's lease or writes lost): its unpublished diffs are sent no more. */
  private abandoned = false;
  readonly stats = { faults: 0, fetches: 0, wholePages: 0, diffsFetched: 0, diffsSent: 0, invalidations: 0, releases: 0, acquires: 0, lapsedGrants: 0, badRecords: 0 };

  constructor(private readonly cfg: VmmConfig, private readonly env: VmmEnv, private readonly requests: Requests) {}

  private copy(page: number): Copy {
    let c = this.copies.get(page);
    if (c === undefined) this.copies.set(page, (c = { valid: false, version: -1, has: {}, twin: null, open: null, base: null, sent: [] }));
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

  /**
   * What a fetch of the page names: the notices' intervals; everything known published if a record
   * asked for every page since the page's last fetch; and this host's own published intervals that
   * wrote it (sent), so the company applies them too.
   */
  private needOf(page: number): VectorTime {
    let need = this.need.get(page) ?? {};
    if (this.allAsked.get(page) !== this.allGen) need = vtMax(need, this.allNeed);
    const own = this.copies.get(page)?.sent.filter((s) => s.seq <= this.ownPublished).pop();
    if (own !== undefined) need = vtSet(need, this.cfg.host, own.seq);
    return need;
  }

  /** Everything this host may name: the intervals it learnt of from records, and its own published ones. */
  private published(): VectorTime {
    const { [this.cfg.host]: _own, ...others } = this.log.vt;
    return this.ownPublished > 0 ? { ...others, [this.cfg.host]: this.ownPublished } : others;
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
    // What each attempt named: the answer may be to an earlier attempt than the latest.
    const attempts = new Map<number, { need: VectorTime; gen: number }>();
    this.requests.start(plan, (req) => {
      const c = this.copy(page);
      const need = this.needOf(page);
      attempts.set(req, { need, gen: this.allGen });
      return { t: 'fetch', req, page, have: c.base !== null ? c.version : -1, need: { ...need } };
    }, (reply) => {
      if (reply.t === 'refuse' && reply.why === 'conflict') return 'again';
      const accesses = this.fetching.get(page) ?? [];
      this.fetching.delete(page);
      if (this.fetchedStale.delete(page)) {
        for (const a of accesses) this.fetch(page, a);
        return 'done';
      }
      if (reply.t !== 'page') {
        this.env.segfault(page, reply.t === 'refuse' ? reply.why : reply.t);
        return 'done';
      }
      const asked = attempts.get(reply.req) ?? { need: {}, gen: -1 };
      if (!this.filled(page, reply, asked.need, asked.gen)) {
        this.fetch(page, accesses[0] ?? 'read'); // a notice arrived meanwhile asks for more: again
        for (const a of accesses.slice(1)) this.fetch(page, a);
        return 'done';
      }
      for (const a of accesses) this.fault(page, a);
      return 'done';
    });
  }

  /** A fetched page: build the copy; false if a notice that came meanwhile names more. */
  private filled(page: number, reply: { version: number; data: string | null; diffs: string[] | null; applied: VectorTime }, asked: VectorTime, gen: number): boolean {
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
    const mine = vtGet(reply.applied, this.cfg.host);
    c.sent = c.sent.filter((s) => s.seq > mine);
    c.has = reply.applied;
    this.allAsked.set(page, gen);
    // A notice that came meanwhile names more than this answer holds: the page stays closed (in real
    // mode a thread would go on the moment it opens), and the answer is the base of the next fetch.
    const need = this.need.get(page) ?? {};
    const grew = Object.entries(need).some(([h, s]) => s > vtGet(asked, Number(h)) && s > vtGet(c.has, Number(h)));
    if (grew || gen !== this.allGen) {
      c.base = contents;
      c.version = reply.version;
      return false;
    }
    this.need.delete(page);
    // This host's diffs the company's page does not hold yet go on top, oldest first.
    for (const s of c.sent) applyDiff(contents, s.diff);
    c.version = c.sent.length === 0 ? reply.version : -1;
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
    return true;
  }

  /**
   * A run of pages was just allocated to this host: its pages start zero at their companies, but a copy
   * kept here from an earlier allocation holds the old words, and a new write of a word's old value
   * would then be in no diff (dsm-release-stall seed 267: a next pointer read back as 0). The copies
   * go, and a fetch under way is asked again once answered.
   */
  allocated(firstPage: number, pages: number): void {
    for (let page = firstPage; page < firstPage + pages; page++) {
      this.need.delete(page);
      this.allAsked.set(page, this.allGen);
      if (this.fetching.has(page)) this.fetchedStale.add(page);
      if (this.copies.delete(page)) this.env.memory.setProtection(page, 'none');
    }
  }

  /** A write notice: interval `seq` of `host` wrote the page; a copy without it goes. */
  private noticed(page: number, host: number, seq: number): void {
    const c = this.copies.get(page);
    if (c !== undefined && c.valid && vtGet(c.has, host) >= seq) return;
    this.need.set(page, vtSet(this.need.get(page) ?? {}, host, seq));
    this.invalidate(page);
  }

  private invalidate(page: number): void {
    const c = this.copies.get(page);
    if (c === undefined || !c.valid) return;
    this.stats.invalidations++;
    // Closed first, then read: in real mode other threads run meanwhile, and a store between the read
    // and the close would be in neither the open diff nor the page fetched next.
    this.env.memory.setProtection(page, 'none');
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
  }

  // The sync layer's hooks

  beforeRelease(_obj: SyncObject, _thread: number, done: (published: string | null, recordedHome?: boolean) => void, home: HomeRecord | null = null): void {
    this.stats.releases++;
    const seq = intervalSeq(this.cfg.incarnation, this.intervals + 1);
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
      const sent: Sent = { diff: d, seq };
      c.sent.push(sent);
      pages.push({ page, sent });
    }
    const publish = (): void => done(encodePublished(this.log.published(), MAX_PUBLISHED_CHARS), false);
    if (pages.length === 0) {
      // Nothing new: publish once every earlier interval is durable.
      const last = this.pending[this.pending.length - 1];
      if (last === undefined) publish();
      else last.waiters.push(publish);
      return;
    }
    this.intervals++;
    const iv: PendingInterval = {
      seq, pages, home, record: null,
      // The record committed at home is the one published: what was recorded is what others are told.
      waiters: [() => (iv.record === null ? publish() : done(iv.record, true))],
    };
    if (this.cfg.bugs?.publishBeforeDurable) {
      // The deliberate bug: the notices go out before the diffs are committed, and the release completes at once.
      this.log.addOwn({ host: this.cfg.host, seq, vt: vtSet(this.log.vt, this.cfg.host, seq), notices: pages.map((p) => p.page) });
      iv.waiters = [];
      iv.home = null;
      publish();
    }
    this.pending.push(iv);
    if (this.pending.length === 1) this.commit(iv);
  }

  /**
   * Commits the head interval's diffs, every page at once; then the next interval's. If the sync layer's
   * record is due at this host's home (iv.home) and the interval wrote a page there, the last such diff
   * carries the record, committed in its entry: one commit instead of two, and no host-record round. It
   * goes once the others are committed, so the record names only durable diffs (it names the interval,
   * and a holder granted a lock after a lapse applies what it names), and it is made then, with every
   * interval this host knows of and its own one (as published() would be once the interval is durable).
   */
  private commit(iv: PendingInterval): void {
    const vt = vtSet(this.log.vt, this.cfg.host, iv.seq);
    const notices: WriteNotice[] = [];
    const home = iv.home;
    const carrier = home === null ? undefined : iv.pages.findLast((p) => companyOfPage(this.cfg.plans, p.page)!.company === home.company);
    const first = iv.pages.filter((p) => p !== carrier);
    const last = (): void => {
      if (carrier === undefined || home === null) {
        this.durable(iv, vt, notices);
        return;
      }
      if (this.abandoned) return;
      const own = { host: this.cfg.host, seq: iv.seq, vt, notices: [...notices, carrier.page].sort((a, b) => a - b) };
      const record = encodePublished(this.log.publishedWith(own), MAX_PUBLISHED_CHARS);
      this.sendDiff(iv.seq, vt, carrier, { record, recordSeq: home.seq }, (diffed, recorded) => {
        if (diffed) notices.push(carrier.page);
        if (recorded) iv.record = record;
        this.durable(iv, vt, notices);
      });
    };
    let left = first.length;
    if (left === 0) last();
    for (const p of first) {
      this.sendDiff(iv.seq, vt, p, { record: null, recordSeq: 0 }, (diffed) => {
        if (diffed) notices.push(p.page);
        if (--left === 0) last();
      });
    }
  }

  /** Commits one diff of interval `seq`; then(diffed, recorded): committed (not freed meanwhile), and the record it carried with it. */
  private sendDiff(seq: number, vt: VectorTime, { page, sent }: { page: number; sent: Sent }, home: { record: string | null; recordSeq: number }, then: (diffed: boolean, recorded: boolean) => void): void {
    const plan = companyOfPage(this.cfg.plans, page)!;
    const diff = encodeDiff(sent.diff);
    this.stats.diffsSent++;
    this.requests.start(plan, (req) => ({ t: 'diff', req, page, interval: seq, vt: { ...vt }, diff, ...home }), (reply) => {
      if (reply.t === 'refuse' && reply.why === 'conflict') return 'again';
      if (reply.t === 'diffed') {
        this.log.prune(reply.floor);
        then(true, home.record !== null && reply.recorded);
      } else {
        // The page was freed meanwhile: its words are nobody's any more.
        const c = this.copies.get(page);
        if (c !== undefined) c.sent = c.sent.filter((s) => s !== sent);
        then(false, false);
      }
      return 'done';
    }, () => !this.abandoned);
  }

  private durable(iv: PendingInterval, vt: VectorTime, notices: WriteNotice[]): void {
    if (!this.cfg.bugs?.publishBeforeDurable) {
      notices.sort((a, b) => a - b);
      this.log.addOwn({ host: this.cfg.host, seq: iv.seq, vt, notices });
    }
    this.pending.shift();
    for (const w of iv.waiters) w();
    const next = this.pending[0];
    if (next !== undefined) this.commit(next);
  }

  afterAcquire(_obj: SyncObject, _thread: number, published: readonly string[], lapsed: boolean, done: () => void): void {
    this.stats.acquires++;
    // The holder before was waited out: what it wrote since its last release is committed, in part
    // or later, but no record names it, so no company applies it and every copy here stays good.
    if (lapsed) this.stats.lapsedGrants++;
    for (const text of published) {
      const p = decodePublished(text);
      if ('error' in p) {
        // Not a record this code wrote: trust nothing we hold.
        this.stats.badRecords++;
        this.invalidateAll();
        continue;
      }
      // A record handed over through the sync layer was committed: this host's intervals it counts are published.
      this.ownPublished = Math.max(this.ownPublished, vtGet(p.vt, this.cfg.host));
      for (const iv of this.log.merge(p)) {
        if (iv.host === this.cfg.host) continue;
        for (const page of iv.notices) this.noticed(page, iv.host, iv.seq);
      }
      if (p.all === true) this.invalidateAll();
    }
    done();
  }

  /** Every copy goes, and every page's next fetch names everything known published. */
  private invalidateAll(): void {
    this.allNeed = this.published();
    this.allGen++;
    for (const page of [...this.copies.keys()].sort((a, b) => a - b)) this.invalidate(page);
  }

  /**
   * This host's threads ended: the releases waiting for their diffs will never be published, so
   * their diffs are not sent again. An attempt already sent may still commit: it stays pending in
   * its company, and no fetch names it. The copies go too: they hold the ended threads' unpublished
   * writes, which a later reader here (the end check) must not see; the next touch fetches the
   * company's page whole.
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
    this.fetchedStale.clear();
  }
}
