// What lazy release consistency keeps in the page table (the company's Raft
// state machine).
//
// A diff is committed first as pending: tagged with its host and interval,
// kept, not applied. Committing it makes it durable (a release publishes only
// intervals whose diffs are committed); it does not make it visible, because
// the release that would publish it may never commit: a holder whose lock
// lease was waited out sent diffs that a later holder's words must not be
// overwritten by. A pending diff is applied (written over the page's row as
// its next version) only when a fetch names its interval: a host names only
// intervals it learnt from published records (and its own that such records
// show published), so an unpublished diff is never applied. A host publishes
// its intervals in order within an incarnation, so naming interval s of a
// host names its earlier ones of that incarnation too (see publishUpTo).
//
// Applied diffs are kept by version (so a copy at an older version fetches
// only the diffs since it), with per page and host the last interval applied
// (a retried diff is never applied twice, which could overwrite a later
// writer's words); per company and host the newest vector time the host
// reported with a diff. The company's manager, which knows every host, drops
// applied diffs once every host's reported time covers their interval
// (collect-diffs, with that floor): a host fetching the page then gets the
// whole page. The row holds applied diffs in the order fetches named them;
// for the words a data-race-free program shares that is happens-before order
// (an acquirer names an interval before it writes the page after it).
import type Database from 'better-sqlite3';
import { applyDiff, decodeDiff, type Diff } from './diff.js';
import { validateVectorTime, vtGet, vtMax, vtMin, type VectorTime } from './vector-time.js';

export const RELEASE_SCHEMA = `
CREATE TABLE diffs (
  page INTEGER NOT NULL,
  version INTEGER NOT NULL,
  host INTEGER NOT NULL,
  interval INTEGER NOT NULL,
  vt TEXT NOT NULL,
  diff TEXT NOT NULL,
  PRIMARY KEY (page, version)
) WITHOUT ROWID;
CREATE TABLE diff_seen (
  page INTEGER NOT NULL,
  host INTEGER NOT NULL,
  interval INTEGER NOT NULL,
  version INTEGER NOT NULL,
  PRIMARY KEY (page, host)
) WITHOUT ROWID;
CREATE TABLE pending_diffs (
  page INTEGER NOT NULL,
  host INTEGER NOT NULL,
  interval INTEGER NOT NULL,
  arrival INTEGER NOT NULL,
  vt TEXT NOT NULL,
  diff TEXT NOT NULL,
  PRIMARY KEY (page, host, interval)
) WITHOUT ROWID;
CREATE TABLE host_vt (
  company INTEGER NOT NULL,
  host INTEGER NOT NULL,
  vt TEXT NOT NULL,
  PRIMARY KEY (company, host)
) WITHOUT ROWID;
`;

/** The diff command's own fields, checked (the page table checks the page). */
export interface DiffFields {
  page: number;
  host: number;
  interval: number;
  vt: VectorTime;
  diff: string;
}

export function validateDiffFields(o: Record<string, unknown>): DiffFields | { error: string } {
  for (const k of ['page', 'host', 'interval'] as const) {
    const v = o[k];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < (k === 'page' ? 0 : 1)) {
      return { error: `diff: field '${k}' must be a ${k === 'page' ? 'non-negative' : 'positive'} integer, got ${typeof v === 'number' ? v : typeof v}` };
    }
  }
  const vt = validateVectorTime(o['vt'], "diff: field 'vt'");
  if ('error' in vt) return vt as { error: string };
  if (typeof o['diff'] !== 'string') return { error: "diff: field 'diff' must be a base64 string" };
  return { page: o['page'] as number, host: o['host'] as number, interval: o['interval'] as number, vt: vt as VectorTime, diff: o['diff'] };
}

export interface DiffRow {
  page: number;
  version: number;
  host: number;
  interval: number;
  vt: VectorTime;
  diff: string;
}

type Row = Record<string, unknown>;

/** A committed diff not applied yet: its interval was not named by any fetch. */
export interface PendingDiff {
  host: number;
  interval: number;
  vt: VectorTime;
  diff: string;
}

/** The incarnation part of an interval number (notices.ts: intervalSeq). */
export function incarnationOf(interval: number): number {
  return Math.floor(interval / 2 ** 32);
}

/**
 * Whether naming `upTo` names the diff's interval: at or before upTo's entry for its host, in the same
 * incarnation (a host publishes its intervals in order within one). An earlier incarnation's is left
 * to that incarnation's own publications: whether they reached anyone is not known here.
 */
function names(upTo: VectorTime, d: { host: number; interval: number }): boolean {
  const named = vtGet(upTo, d.host);
  return d.interval <= named && incarnationOf(d.interval) === incarnationOf(named);
}

export class DiffRecords {
  private readonly st;

  constructor(db: Database.Database) {
    const s = (sql: string) => db.prepare(sql);
    this.st = {
      insert: s('INSERT INTO diffs (page, version, host, interval, vt, diff) VALUES (?, ?, ?, ?, ?, ?)'),
      since: s('SELECT page, version, host, interval, vt, diff FROM diffs WHERE page = ? AND version > ? ORDER BY version'),
      ofPage: s('SELECT page, version, host, interval, vt, diff FROM diffs WHERE page = ? ORDER BY version'),
      inRange: s('SELECT page, version, interval, host, vt FROM diffs WHERE page >= ? AND page < ? ORDER BY page, version'),
      drop: s('DELETE FROM diffs WHERE page = ? AND version = ?'),
      seen: s('SELECT interval, version FROM diff_seen WHERE page = ? AND host = ?'),
      seenOfPage: s('SELECT host, interval FROM diff_seen WHERE page = ? ORDER BY host').raw(),
      upsertSeen: s(`INSERT INTO diff_seen (page, host, interval, version) VALUES (?, ?, ?, ?)
        ON CONFLICT (page, host) DO UPDATE SET interval = excluded.interval, version = excluded.version`),
      insertPending: s('INSERT INTO pending_diffs (page, host, interval, arrival, vt, diff) VALUES (?, ?, ?, ?, ?, ?)'),
      pendingOne: s('SELECT 1 FROM pending_diffs WHERE page = ? AND host = ? AND interval = ?').pluck(),
      lastPending: s('SELECT MAX(interval) FROM pending_diffs WHERE page = ? AND host = ?').pluck(),
      nextArrival: s('SELECT COALESCE(MAX(arrival), 0) + 1 FROM pending_diffs WHERE page = ?').pluck(),
      pendingOfPage: s('SELECT host, interval, vt, diff FROM pending_diffs WHERE page = ? ORDER BY arrival'),
      pendingPagesIn: s('SELECT DISTINCT page FROM pending_diffs WHERE page >= ? AND page < ? ORDER BY page').pluck(),
      hostVtsOf: s('SELECT host, vt FROM host_vt WHERE company = ? ORDER BY host').raw(),
      dropPending: s('DELETE FROM pending_diffs WHERE page = ? AND host = ? AND interval = ?'),
      hostVt: s('SELECT vt FROM host_vt WHERE company = ? AND host = ?').pluck(),
      upsertHostVt: s(`INSERT INTO host_vt (company, host, vt) VALUES (?, ?, ?)
        ON CONFLICT (company, host) DO UPDATE SET vt = excluded.vt`),
      dropDiffsIn: s('DELETE FROM diffs WHERE page >= ? AND page < ?'),
      dropSeenIn: s('DELETE FROM diff_seen WHERE page >= ? AND page < ?'),
      dropPendingIn: s('DELETE FROM pending_diffs WHERE page >= ? AND page < ?'),
      pendingLastIn: s('SELECT page, host, MAX(interval) FROM pending_diffs WHERE page >= ? AND page < ? GROUP BY page, host ORDER BY page, host').raw(),
      raiseSeen: s(`INSERT INTO diff_seen (page, host, interval, version) VALUES (?, ?, ?, 0)
        ON CONFLICT (page, host) DO UPDATE SET interval = MAX(interval, excluded.interval)`),
      dropCompany: s('DELETE FROM host_vt WHERE company = ?'),
      hDiffsIn: s('SELECT page, version, host, interval, vt, diff FROM diffs WHERE page >= ? AND page < ? ORDER BY page, version').raw(),
      hSeenIn: s('SELECT page, host, interval, version FROM diff_seen WHERE page >= ? AND page < ? ORDER BY page, host').raw(),
      hPendingIn: s('SELECT page, host, interval, arrival, vt, diff FROM pending_diffs WHERE page >= ? AND page < ? ORDER BY page, host, interval').raw(),
      hHostVt: s('SELECT company, host, vt FROM host_vt WHERE company = ? ORDER BY host').raw(),
      hDiffs: s('SELECT page, version, host, interval, vt, diff FROM diffs ORDER BY page, version').raw(),
      hSeen: s('SELECT page, host, interval, version FROM diff_seen ORDER BY page, host').raw(),
      hPending: s('SELECT page, host, interval, arrival, vt, diff FROM pending_diffs ORDER BY page, host, interval').raw(),
      hHostVts: s('SELECT company, host, vt FROM host_vt ORDER BY company, host').raw(),
    };
  }

  /** Checks a diff against the page size before anything is written. */
  decode(diff: string, pageSize: number): Diff | { error: string } {
    return decodeDiff(diff, pageSize);
  }

  /** The interval this host's last applied diff of the page ended, and the version it made (null: none). */
  lastOf(page: number, host: number): { interval: number; version: number } | null {
    return (this.st.seen.get(page, host) as { interval: number; version: number } | undefined) ?? null;
  }

  /** Whether this host's diff of the page ending `interval` is committed already (pending or applied): a retry. */
  holds(page: number, host: number, interval: number): boolean {
    const last = this.lastOf(page, host);
    if (last !== null && last.interval >= interval) return true;
    return this.st.pendingOne.get(page, host, interval) !== undefined;
  }

  /**
   * Whether a fetch naming `need` can be served from this table as it is: for each host named, a diff
   * of the page of that interval or a later one is here (else it may be committed but not applied
   * here yet), and no pending diff is named (it must be applied first, through the log).
   */
  ready(page: number, need: VectorTime): boolean {
    for (const [k, s] of Object.entries(need)) {
      const host = Number(k);
      const applied = this.lastOf(page, host)?.interval ?? 0;
      const pending = (this.st.lastPending.get(page, host) as number | null) ?? 0;
      if (Math.max(applied, pending) < s) return false;
    }
    return !this.pendingOf(page).some((d) => names(need, d));
  }

  /** Commits a diff as pending (not applied) and the host's reported time. */
  addPending(company: number, f: DiffFields): void {
    this.st.insertPending.run(f.page, f.host, f.interval, this.st.nextArrival.get(f.page) as number, JSON.stringify(f.vt), f.diff);
    this.reported(company, f.host, f.vt);
  }

  private reported(company: number, host: number, vt: VectorTime): void {
    const old = this.st.hostVt.get(company, host) as string | undefined;
    const next = old === undefined ? vt : vtMax(JSON.parse(old) as VectorTime, vt);
    this.st.upsertHostVt.run(company, host, JSON.stringify(next));
  }

  /**
   * The pending diffs of the page that `upTo` names (interval at or before upTo's entry for their host,
   * in its incarnation), in commit order, taken out of pending: the caller applies them as versions
   * (record). A pending diff of an earlier incarnation than the one named is left alone: that
   * incarnation's own publications name it, or nothing does.
   */
  takeNamed(page: number, upTo: VectorTime): PendingDiff[] {
    const out: PendingDiff[] = [];
    for (const d of this.pendingOf(page)) {
      if (!names(upTo, d)) continue;
      out.push(d);
      this.st.dropPending.run(page, d.host, d.interval);
    }
    return out;
  }

  /**
   * The company's pending diffs whose interval another host has seen, per page in commit order, taken
   * out of pending for the caller to apply. Another host's reported time reaching an interval of the
   * same incarnation means it was handed a record of it: the interval was published.
   */
  takeSeen(company: number, firstPage: number, pages: number): [number, PendingDiff[]][] {
    const reports = (this.st.hostVtsOf.all(company) as [number, string][]).map(([host, vt]) => [host, JSON.parse(vt) as VectorTime] as const);
    const seen = (d: PendingDiff): boolean => reports.some(([host, vt]) => host !== d.host && names(vt, d));
    const out: [number, PendingDiff[]][] = [];
    for (const page of this.st.pendingPagesIn.all(firstPage, firstPage + pages) as number[]) {
      const taken = this.pendingOf(page).filter(seen);
      for (const d of taken) this.st.dropPending.run(page, d.host, d.interval);
      if (taken.length > 0) out.push([page, taken]);
    }
    return out;
  }

  /** Records a diff applied as `version` of the page (the caller wrote the page's row). */
  record(page: number, d: PendingDiff, version: number): void {
    this.st.insert.run(page, version, d.host, d.interval, JSON.stringify(d.vt), d.diff);
    this.st.upsertSeen.run(page, d.host, d.interval, version);
  }

  /** Per host, the last interval of it applied to the page: what a copy fetched now holds. */
  applied(page: number): VectorTime {
    const out: Record<number, number> = {};
    for (const [host, interval] of this.st.seenOfPage.iterate(page) as IterableIterator<[number, number]>) out[host] = interval;
    return out;
  }

  /** The pending diffs of a page, in commit order (for inspection and tests). */
  pendingOf(page: number): PendingDiff[] {
    return (this.st.pendingOfPage.all(page) as Row[]).map(toPending);
  }

  /** The vector time all of `hosts` reached, as they reported it to this company (a host that never did: zero). */
  floor(company: number, hosts: readonly number[]): VectorTime {
    return vtMin(hosts.map((h) => {
      const t = this.st.hostVt.get(company, h) as string | undefined;
      return t === undefined ? {} : (JSON.parse(t) as VectorTime);
    }));
  }

  /** How many diffs of the page are kept, applied and pending. */
  kept(page: number): number {
    return this.ofPage(page).length + this.pendingOf(page).length;
  }

  /** Drops the company's applied diffs of intervals the floor covers; returns how many. */
  collect(firstPage: number, pages: number, floor: VectorTime): number {
    const gone: [number, number][] = [];
    for (const r of this.st.inRange.iterate(firstPage, firstPage + pages) as IterableIterator<Row>) {
      if (vtGet(floor, r['host'] as number) >= (r['interval'] as number)) gone.push([r['page'] as number, r['version'] as number]);
    }
    for (const [p, v] of gone) this.st.drop.run(p, v);
    return gone.length;
  }

  /** The diffs that take a copy of `page` at version `have` to the current version, if all are still kept. */
  since(page: number, have: number, current: number): DiffRow[] | null {
    const rows = (this.st.since.all(page, have) as Row[]).map(toDiffRow);
    if (rows.length !== current - have || rows.some((r, i) => r.version !== have + 1 + i)) return null;
    return rows;
  }

  ofPage(page: number): DiffRow[] {
    return (this.st.ofPage.all(page) as Row[]).map(toDiffRow);
  }

  /**
   * The pages' diffs go: the company is dropped (`company`), or the run was freed (null). After a free
   * the last interval per host stays, raised over the pending ones dropped: a copy fetched from the
   * next allocation is told those intervals are done with (their words are nobody's now), so a host
   * lays none of its own over it, and a late retry of one is not taken as new.
   */
  dropRange(company: number | null, firstPage: number, end: number): void {
    this.st.dropDiffsIn.run(firstPage, end);
    if (company === null) {
      for (const [page, host, interval] of this.st.pendingLastIn.all(firstPage, end) as [number, number, number][]) this.st.raiseSeen.run(page, host, interval);
    } else {
      this.st.dropSeenIn.run(firstPage, end);
      this.st.dropCompany.run(company);
    }
    this.st.dropPendingIn.run(firstPage, end);
  }

  /** Hash feeds, in key order: the company's rows, or (null) every row. */
  hashFeeds(company: { company: number; firstPage: number; end: number } | null): [string, IterableIterator<unknown[]>][] {
    const st = this.st;
    if (company === null) {
      return [['diffs', st.hDiffs.iterate() as IterableIterator<unknown[]>], ['diff_seen', st.hSeen.iterate() as IterableIterator<unknown[]>],
        ['pending_diffs', st.hPending.iterate() as IterableIterator<unknown[]>], ['host_vt', st.hHostVts.iterate() as IterableIterator<unknown[]>]];
    }
    return [
      ['diffs', st.hDiffsIn.iterate(company.firstPage, company.end) as IterableIterator<unknown[]>],
      ['diff_seen', st.hSeenIn.iterate(company.firstPage, company.end) as IterableIterator<unknown[]>],
      ['pending_diffs', st.hPendingIn.iterate(company.firstPage, company.end) as IterableIterator<unknown[]>],
      ['host_vt', st.hHostVt.iterate(company.company) as IterableIterator<unknown[]>],
    ];
  }
}

function toPending(r: Row): PendingDiff {
  return { host: r['host'] as number, interval: r['interval'] as number, vt: JSON.parse(r['vt'] as string) as VectorTime, diff: r['diff'] as string };
}

function toDiffRow(r: Row): DiffRow {
  return {
    page: r['page'] as number, version: r['version'] as number, host: r['host'] as number,
    interval: r['interval'] as number, vt: JSON.parse(r['vt'] as string) as VectorTime, diff: r['diff'] as string,
  };
}

/** A page's bytes after a diff: the row's contents (null: zeros) with the diff's words written. */
export function patched(data: string | null, pageSize: number, diff: Diff): Buffer {
  const bytes = Buffer.alloc(pageSize);
  if (data !== null) Buffer.from(data, 'base64').copy(bytes);
  applyDiff(bytes, diff);
  return bytes;
}
