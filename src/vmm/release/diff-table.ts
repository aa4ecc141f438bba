// What lazy release consistency keeps in the page table (the company's Raft
// state machine): the diffs committed to each page, each with the interval it
// ends and that interval's vector time; per page and host the last interval
// applied (so a retried diff is never applied twice, which could overwrite a
// later writer's words); per company and host the newest vector time the host
// reported with a diff. The company's manager, which knows every host, drops
// diffs once every host's reported time covers their interval (collect-diffs,
// with that floor): a host fetching the page then gets the whole page.
// The page's own row always holds every committed diff applied in commit
// order, which for the words a data-race-free program shares is
// happens-before order (a release completes only once its diffs commit, before
// any acquire ordered after it).
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
      upsertSeen: s(`INSERT INTO diff_seen (page, host, interval, version) VALUES (?, ?, ?, ?)
        ON CONFLICT (page, host) DO UPDATE SET interval = excluded.interval, version = excluded.version`),
      hostVt: s('SELECT vt FROM host_vt WHERE company = ? AND host = ?').pluck(),
      upsertHostVt: s(`INSERT INTO host_vt (company, host, vt) VALUES (?, ?, ?)
        ON CONFLICT (company, host) DO UPDATE SET vt = excluded.vt`),
      dropIn: [
        s('DELETE FROM diffs WHERE page >= ? AND page < ?'),
        s('DELETE FROM diff_seen WHERE page >= ? AND page < ?'),
      ],
      dropCompany: s('DELETE FROM host_vt WHERE company = ?'),
      hDiffsIn: s('SELECT page, version, host, interval, vt, diff FROM diffs WHERE page >= ? AND page < ? ORDER BY page, version').raw(),
      hSeenIn: s('SELECT page, host, interval, version FROM diff_seen WHERE page >= ? AND page < ? ORDER BY page, host').raw(),
      hHostVt: s('SELECT company, host, vt FROM host_vt WHERE company = ? ORDER BY host').raw(),
      hDiffs: s('SELECT page, version, host, interval, vt, diff FROM diffs ORDER BY page, version').raw(),
      hSeen: s('SELECT page, host, interval, version FROM diff_seen ORDER BY page, host').raw(),
      hHostVts: s('SELECT company, host, vt FROM host_vt ORDER BY company, host').raw(),
    };
  }

  /** Checks a diff against the page size before anything is written. */
  decode(diff: string, pageSize: number): Diff | { error: string } {
    return decodeDiff(diff, pageSize);
  }

  /** The interval this host's last diff of the page ended, and the version it made (null: none). */
  lastOf(page: number, host: number): { interval: number; version: number } | null {
    return (this.st.seen.get(page, host) as { interval: number; version: number } | undefined) ?? null;
  }

  /** Records a diff applied as `version` of the page (the caller wrote the page's row) and the host's reported time. */
  record(company: number, f: DiffFields, version: number): void {
    this.st.insert.run(f.page, version, f.host, f.interval, JSON.stringify(f.vt), f.diff);
    this.st.upsertSeen.run(f.page, f.host, f.interval, version);
    const old = this.st.hostVt.get(company, f.host) as string | undefined;
    const vt = old === undefined ? f.vt : vtMax(JSON.parse(old) as VectorTime, f.vt);
    this.st.upsertHostVt.run(company, f.host, JSON.stringify(vt));
  }

  /** The vector time all of `hosts` reached, as they reported it to this company (a host that never did: zero). */
  floor(company: number, hosts: readonly number[]): VectorTime {
    return vtMin(hosts.map((h) => {
      const t = this.st.hostVt.get(company, h) as string | undefined;
      return t === undefined ? {} : (JSON.parse(t) as VectorTime);
    }));
  }

  /** Drops the company's diffs of intervals the floor covers; returns how many. */
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

  dropRange(company: number | null, firstPage: number, end: number): void {
    for (const s of this.st.dropIn) s.run(firstPage, end);
    if (company !== null) this.st.dropCompany.run(company);
  }

  /** Hash feeds, in key order: the company's rows, or (null) every row. */
  hashFeeds(company: { company: number; firstPage: number; end: number } | null): [string, IterableIterator<unknown[]>][] {
    const st = this.st;
    if (company === null) {
      return [['diffs', st.hDiffs.iterate() as IterableIterator<unknown[]>], ['diff_seen', st.hSeen.iterate() as IterableIterator<unknown[]>],
        ['host_vt', st.hHostVts.iterate() as IterableIterator<unknown[]>]];
    }
    return [
      ['diffs', st.hDiffsIn.iterate(company.firstPage, company.end) as IterableIterator<unknown[]>],
      ['diff_seen', st.hSeenIn.iterate(company.firstPage, company.end) as IterableIterator<unknown[]>],
      ['host_vt', st.hHostVt.iterate(company.company) as IterableIterator<unknown[]>],
    ];
  }
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
