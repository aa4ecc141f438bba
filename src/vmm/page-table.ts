// The page table: the Raft state machine of the distributed shared memory.
//
// One in-memory SQLite database per host holds the rows of the companies this
// host belongs to. Raft applies committed commands (page-table-commands.ts) one
// at a time; each apply is one transaction and is a pure function of the
// tables and the command, so members of a company at the same applied index
// hold the same rows, which hash() checks. Snapshots are the serialized
// database.
//
// Determinism: no clock, randomness, timers or I/O here; every multi-row read
// has an ORDER BY on a unique key; results never depend on rowids (tables are
// keyed by page, (page, host) or allocation id) nor on which row SQLite happens
// to visit first. All checks that can fail run before the first write, so an
// error result leaves the tables untouched.
import { createHash } from 'node:crypto';
import Database from 'better-sqlite3';
import { type LeaseMode, type LeaseToken, type PageCommand, validateCommand } from './page-table-commands.js';
import { DiffRecords, type DiffRow, incarnationOf, patched, type PendingDiff, RELEASE_SCHEMA } from './release/diff-table.js';
import type { VectorTime } from './release/vector-time.js';

export { type LeaseMode, type LeaseToken, type PageCommand, type PageOp, validateCommand, MAX_ID_LENGTH } from './page-table-commands.js';

export type ApplyError = 'conflict' | 'no-space' | 'not-allocated' | 'not-holder' | 'unknown-company' | 'bad-command';

export type ApplyResult =
  /** token: a lock holding's number; opened: a barrier arrival that opened its episode. */
  | { ok: true; firstPage?: number; version?: number; token?: number; opened?: boolean }
  | { ok: false; error: ApplyError; detail: string };

/** A page's row. `data` null means never written since allocation: the page reads as zeros. */
export interface PageRow {
  page: number;
  company: number;
  allocation: string | null;
  version: number;
  hash: string;
  data: string | null;
}

export interface LeaseRow {
  page: number;
  host: number;
  mode: LeaseMode;
  term: number;
  leaseUs: number;
  grantedAtUs: number;
}

export interface CompanyRow {
  company: number;
  firstPage: number;
  pages: number;
}

export interface AllocationRow {
  id: string;
  company: number;
  firstPage: number;
  pages: number;
  owner: number;
}

/**
 * A lock's row: host 0 when free, else the host holding it (`thread`: the one whose turn made it ask; the
 * host's threads take turns under the holding). `grants` numbers its holdings (the holder's token); `published` is the last
 * release's record; `lapsed`: a holding that ended since the last release was waited out (lock-expire), not
 * released, so the next holder is told those holders' sections since their last releases are indeterminate;
 * `lapsedHosts`: every such holder's host (ascending), so the next holder can read what each recorded before
 * publishing elsewhere (host-record). All of them, not the last only: a holder granted after one lapse may
 * lapse in turn before it publishes what it read (dsm-release-stall seed 440: the first lapsed host's
 * home-recorded insert, published by an ended thread, was read by no later holder).
 */
export interface LockRow {
  id: number;
  company: number;
  host: number;
  thread: number;
  term: number;
  leaseUs: number;
  grantedAtUs: number;
  grants: number;
  published: string | null;
  lapsed: boolean;
  lapsedHosts: number[];
}

/** A host's latest record covering sections under locks it kept (host-record), per incarnation. */
export interface HostRecordRow {
  host: number;
  incarnation: number;
  company: number;
  seq: number;
  published: string;
}

/** A barrier's row: the episode whose arrivals it gathers now (the ones before it opened). */
export interface BarrierRow {
  name: number;
  company: number;
  parties: number;
  episode: number;
}

/** One arrival at a barrier episode; `n` is its order of arrival (0-based). */
export interface ArrivalRow {
  name: number;
  episode: number;
  host: number;
  thread: number;
  n: number;
  published: string | null;
}

export interface PageTableDump {
  companies: CompanyRow[];
  pages: PageRow[];
  leases: LeaseRow[];
  allocations: AllocationRow[];
  locks: LockRow[];
  barriers: BarrierRow[];
  arrivals: ArrivalRow[];
}

export interface PageTableOptions {
  pageSize: number;
}

/** Content hash carried by release: sha256 hex, first 16 chars (64 bits is plenty to tell versions apart). */
export function pageHash(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex').slice(0, 16);
}

/** Bumped when the schema changes, so a snapshot from another schema is refused rather than misread. */
const SCHEMA_VERSION = '5';

// WITHOUT ROWID everywhere a natural key exists: rows are stored in key order
// and no rowid exists that a query could come to depend on.
const SCHEMA = `
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE companies (
  company INTEGER PRIMARY KEY,
  first_page INTEGER NOT NULL UNIQUE,
  pages INTEGER NOT NULL
);
CREATE TABLE pages (
  page INTEGER PRIMARY KEY,
  company INTEGER NOT NULL,
  allocation TEXT,
  version INTEGER NOT NULL,
  hash TEXT NOT NULL,
  data TEXT
);
CREATE TABLE allocations (
  id TEXT PRIMARY KEY,
  company INTEGER NOT NULL,
  first_page INTEGER NOT NULL UNIQUE,
  pages INTEGER NOT NULL,
  owner INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX allocations_by_company ON allocations (company, first_page);
CREATE TABLE leases (
  page INTEGER NOT NULL,
  host INTEGER NOT NULL,
  mode TEXT NOT NULL CHECK (mode IN ('read', 'write')),
  term INTEGER NOT NULL,
  lease_us INTEGER NOT NULL,
  granted_at_us INTEGER NOT NULL,
  PRIMARY KEY (page, host)
) WITHOUT ROWID;
CREATE INDEX leases_by_host ON leases (host, page);
CREATE TABLE locks (
  id INTEGER PRIMARY KEY,
  company INTEGER NOT NULL,
  host INTEGER NOT NULL,
  thread INTEGER NOT NULL,
  term INTEGER NOT NULL,
  lease_us INTEGER NOT NULL,
  granted_at_us INTEGER NOT NULL,
  grants INTEGER NOT NULL,
  published TEXT,
  lapsed TEXT NOT NULL DEFAULT ''
);
CREATE TABLE host_records (
  host INTEGER NOT NULL,
  incarnation INTEGER NOT NULL,
  company INTEGER NOT NULL,
  seq INTEGER NOT NULL,
  published TEXT NOT NULL,
  PRIMARY KEY (host, incarnation)
) WITHOUT ROWID;
CREATE TABLE barriers (
  name INTEGER PRIMARY KEY,
  company INTEGER NOT NULL,
  parties INTEGER NOT NULL,
  episode INTEGER NOT NULL
);
CREATE TABLE arrivals (
  name INTEGER NOT NULL,
  episode INTEGER NOT NULL,
  host INTEGER NOT NULL,
  thread INTEGER NOT NULL,
  n INTEGER NOT NULL,
  published TEXT,
  PRIMARY KEY (name, episode, host, thread)
) WITHOUT ROWID;
`;

type Row = Record<string, unknown>;

function toPage(r: Row): PageRow {
  return {
    page: r['page'] as number,
    company: r['company'] as number,
    allocation: r['allocation'] as string | null,
    version: r['version'] as number,
    hash: r['hash'] as string,
    data: r['data'] as string | null,
  };
}

function toLease(r: Row): LeaseRow {
  return {
    page: r['page'] as number,
    host: r['host'] as number,
    mode: r['mode'] as LeaseMode,
    term: r['term'] as number,
    leaseUs: r['lease_us'] as number,
    grantedAtUs: r['granted_at_us'] as number,
  };
}

function toAllocation(r: Row): AllocationRow {
  return {
    id: r['id'] as string,
    company: r['company'] as number,
    firstPage: r['first_page'] as number,
    pages: r['pages'] as number,
    owner: r['owner'] as number,
  };
}

function toCompany(r: Row): CompanyRow {
  return { company: r['company'] as number, firstPage: r['first_page'] as number, pages: r['pages'] as number };
}

function toLock(r: Row): LockRow {
  return {
    id: r['id'] as number,
    company: r['company'] as number,
    host: r['host'] as number,
    thread: r['thread'] as number,
    term: r['term'] as number,
    leaseUs: r['lease_us'] as number,
    grantedAtUs: r['granted_at_us'] as number,
    grants: r['grants'] as number,
    published: r['published'] as string | null,
    lapsed: r['lapsed'] !== '',
    lapsedHosts: hostsOf(r['lapsed'] as string),
  };
}

/** The lapsed hosts of a lock's row: ids joined by commas, ascending ('': none). */
function hostsOf(text: string): number[] {
  return text === '' ? [] : text.split(',').map(Number);
}

function hostsText(hosts: readonly number[]): string {
  return [...new Set(hosts)].sort((a, b) => a - b).join(',');
}

function toBarrier(r: Row): BarrierRow {
  return { name: r['name'] as number, company: r['company'] as number, parties: r['parties'] as number, episode: r['episode'] as number };
}

function toArrival(r: Row): ArrivalRow {
  return {
    name: r['name'] as number, episode: r['episode'] as number, host: r['host'] as number,
    thread: r['thread'] as number, n: r['n'] as number, published: r['published'] as string | null,
  };
}

function fail(error: ApplyError, detail: string): ApplyResult {
  return { ok: false, error, detail };
}

const OK: ApplyResult = Object.freeze({ ok: true }) as ApplyResult;

const PAGE_COLS = 'page, company, allocation, version, hash, data';
const LEASE_COLS = 'page, host, mode, term, lease_us, granted_at_us';
const ALLOC_COLS = 'id, company, first_page, pages, owner';
const LOCK_COLS = 'id, company, host, thread, term, lease_us, granted_at_us, grants, published, lapsed';
const BARRIER_COLS = 'name, company, parties, episode';
const ARRIVAL_COLS = 'name, episode, host, thread, n, published';

/** Prepared once per database and reused: applies are on the simulator's hot path. */
function prepare(db: Database.Database) {
  const s = (sql: string) => db.prepare(sql);
  return {
    companies: s('SELECT company, first_page, pages FROM companies ORDER BY first_page'),
    insertCompany: s('INSERT INTO companies (company, first_page, pages) VALUES (?, ?, ?)'),
    deleteCompany: s('DELETE FROM companies WHERE company = ?'),
    deleteAllocationsOf: s('DELETE FROM allocations WHERE company = ?'),
    deletePagesIn: s('DELETE FROM pages WHERE page >= ? AND page < ?'),
    deleteLeasesIn: s('DELETE FROM leases WHERE page >= ? AND page < ?'),
    deleteLocksOf: s('DELETE FROM locks WHERE company = ?'),
    deleteArrivalsOf: s('DELETE FROM arrivals WHERE name IN (SELECT name FROM barriers WHERE company = ?)'),
    deleteBarriersOf: s('DELETE FROM barriers WHERE company = ?'),

    lock: s(`SELECT ${LOCK_COLS} FROM locks WHERE id = ?`),
    upsertLock: s(`INSERT INTO locks (${LOCK_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT (id) DO UPDATE SET host = excluded.host, thread = excluded.thread, term = excluded.term,
        lease_us = excluded.lease_us, granted_at_us = excluded.granted_at_us, grants = excluded.grants`),
    releaseLock: s("UPDATE locks SET host = 0, thread = 0, published = ?, lapsed = '' WHERE id = ?"),
    // lapsed lists the hosts whose holdings were waited out since the last release.
    expireLock: s('UPDATE locks SET host = 0, thread = 0, lapsed = ? WHERE id = ?'),
    hostRecordSeq: s('SELECT seq FROM host_records WHERE host = ? AND incarnation = ?').pluck(),
    upsertHostRecord: s(`INSERT INTO host_records (host, incarnation, company, seq, published) VALUES (?, ?, ?, ?, ?)
      ON CONFLICT (host, incarnation) DO UPDATE SET company = excluded.company, seq = excluded.seq, published = excluded.published`),
    hostRecordsOf: s('SELECT host, incarnation, company, seq, published FROM host_records WHERE host = ? ORDER BY incarnation'),
    deleteHostRecordsOf: s('DELETE FROM host_records WHERE company = ?'),
    hHostRecords: s('SELECT host, incarnation, company, seq, published FROM host_records ORDER BY host, incarnation').raw(),
    hHostRecordsOf: s('SELECT host, incarnation, company, seq, published FROM host_records WHERE company = ? ORDER BY host, incarnation').raw(),
    locksOf: s(`SELECT ${LOCK_COLS} FROM locks WHERE company = ? ORDER BY id`),
    locksAll: s(`SELECT ${LOCK_COLS} FROM locks ORDER BY id`),
    barrier: s(`SELECT ${BARRIER_COLS} FROM barriers WHERE name = ?`),
    insertBarrier: s(`INSERT INTO barriers (${BARRIER_COLS}) VALUES (?, ?, ?, 0)`),
    openEpisode: s('UPDATE barriers SET episode = episode + 1 WHERE name = ?'),
    arrival: s('SELECT n FROM arrivals WHERE name = ? AND episode = ? AND host = ? AND thread = ?').pluck(),
    arrivalCount: s('SELECT count(*) FROM arrivals WHERE name = ? AND episode = ?').pluck(),
    insertArrival: s(`INSERT INTO arrivals (${ARRIVAL_COLS}) VALUES (?, ?, ?, ?, ?, ?)`),
    dropEpisodesBefore: s('DELETE FROM arrivals WHERE name = ? AND episode < ?'),
    arrivalsAt: s(`SELECT ${ARRIVAL_COLS} FROM arrivals WHERE name = ? AND episode = ? ORDER BY n`),
    barriersAll: s(`SELECT ${BARRIER_COLS} FROM barriers ORDER BY name`),
    barriersOf: s(`SELECT ${BARRIER_COLS} FROM barriers WHERE company = ? ORDER BY name`),
    arrivalsAll: s(`SELECT ${ARRIVAL_COLS} FROM arrivals ORDER BY name, episode, host, thread`),

    allocationById: s(`SELECT ${ALLOC_COLS} FROM allocations WHERE id = ?`),
    allocationAt: s(`SELECT ${ALLOC_COLS} FROM allocations WHERE company = ? AND first_page = ?`),
    runsOf: s('SELECT first_page, pages FROM allocations WHERE company = ? ORDER BY first_page').raw(),
    insertAllocation: s(`INSERT INTO allocations (${ALLOC_COLS}) VALUES (?, ?, ?, ?, ?)`),
    deleteAllocation: s('DELETE FROM allocations WHERE id = ?'),
    // One statement marks a whole run, however long: pages never seen get a
    // fresh row (version 0, zero contents); pages freed before keep their
    // version so it only ever grows. The WHERE true is SQLite's required
    // disambiguation for an upsert fed by a SELECT.
    markRun: s(`WITH RECURSIVE run(p) AS (SELECT ? UNION ALL SELECT p + 1 FROM run WHERE p + 1 < ?)
      INSERT INTO pages (${PAGE_COLS}) SELECT p, ?, ?, 0, ?, NULL FROM run WHERE true
      ON CONFLICT (page) DO UPDATE SET allocation = excluded.allocation`),
    // Free bumps the version so a copy cached before the free can never pass
    // for the contents of the next allocation, and resets the contents to zeros.
    clearRun: s('UPDATE pages SET allocation = NULL, version = version + 1, hash = ?, data = NULL WHERE page >= ? AND page < ?'),

    page: s(`SELECT ${PAGE_COLS} FROM pages WHERE page = ?`),
    pageState: s('SELECT allocation, version FROM pages WHERE page = ?'),
    writePage: s('UPDATE pages SET version = ?, hash = ?, data = ? WHERE page = ?'),
    pagesAll: s(`SELECT ${PAGE_COLS} FROM pages ORDER BY page`),

    holderModes: s('SELECT host, mode FROM leases WHERE page = ? ORDER BY host').raw(),
    leaseMode: s('SELECT mode FROM leases WHERE page = ? AND host = ?').pluck(),
    upsertLease: s(`INSERT INTO leases (${LEASE_COLS}) VALUES (?, ?, ?, ?, ?, ?)
      ON CONFLICT (page, host) DO UPDATE SET mode = excluded.mode, term = excluded.term,
        lease_us = excluded.lease_us, granted_at_us = excluded.granted_at_us`),
    setLeaseMode: s('UPDATE leases SET mode = ? WHERE page = ? AND host = ?'),
    deleteLease: s('DELETE FROM leases WHERE page = ? AND host = ?'),
    holders: s(`SELECT ${LEASE_COLS} FROM leases WHERE page = ? ORDER BY host`),
    leasesOf: s(`SELECT ${LEASE_COLS} FROM leases WHERE host = ? ORDER BY page`),
    leasesAll: s(`SELECT ${LEASE_COLS} FROM leases ORDER BY page, host`),

    allocations: s(`SELECT ${ALLOC_COLS} FROM allocations ORDER BY first_page`),
    allocationsOf: s(`SELECT ${ALLOC_COLS} FROM allocations WHERE company = ? ORDER BY first_page`),

    // Hash feeds: every table in key order, as raw arrays.
    hMeta: s('SELECT key, value FROM meta ORDER BY key').raw(),
    hCompanies: s('SELECT company, first_page, pages FROM companies ORDER BY company').raw(),
    hCompany: s('SELECT company, first_page, pages FROM companies WHERE company = ?').raw(),
    hPages: s(`SELECT ${PAGE_COLS} FROM pages ORDER BY page`).raw(),
    hPagesIn: s(`SELECT ${PAGE_COLS} FROM pages WHERE page >= ? AND page < ? ORDER BY page`).raw(),
    hLeases: s(`SELECT ${LEASE_COLS} FROM leases ORDER BY page, host`).raw(),
    hLeasesIn: s(`SELECT ${LEASE_COLS} FROM leases WHERE page >= ? AND page < ? ORDER BY page, host`).raw(),
    hAllocations: s(`SELECT ${ALLOC_COLS} FROM allocations ORDER BY first_page`).raw(),
    hAllocationsOf: s(`SELECT ${ALLOC_COLS} FROM allocations WHERE company = ? ORDER BY first_page`).raw(),
    hLocks: s(`SELECT ${LOCK_COLS} FROM locks ORDER BY id`).raw(),
    hLocksOf: s(`SELECT ${LOCK_COLS} FROM locks WHERE company = ? ORDER BY id`).raw(),
    hBarriers: s(`SELECT ${BARRIER_COLS} FROM barriers ORDER BY name`).raw(),
    hBarriersOf: s(`SELECT ${BARRIER_COLS} FROM barriers WHERE company = ? ORDER BY name`).raw(),
    hArrivals: s(`SELECT ${ARRIVAL_COLS} FROM arrivals ORDER BY name, episode, host, thread`).raw(),
    hArrivalsOf: s(`SELECT a.name, a.episode, a.host, a.thread, a.n, a.published FROM arrivals a JOIN barriers b ON a.name = b.name
      WHERE b.company = ? ORDER BY a.name, a.episode, a.host, a.thread`).raw(),
  };
}

type Statements = ReturnType<typeof prepare>;

export class PageTable {
  readonly pageSize: number;
  /** Hash of a page of zeros: the hash of every page never written since allocation. */
  readonly zeroHash: string;
  private readonly db: Database.Database;
  private readonly st: Statements;
  /** Release consistency's records: diffs, the last interval applied per page and host, hosts' vector times. */
  private readonly diffs: DiffRecords;
  private readonly tx: (cmd: PageCommand) => ApplyResult;
  /** The companies table, by first page; re-read after every command that changes it. */
  private ranges: CompanyRow[] = [];

  constructor(opts: PageTableOptions, restoreFrom?: Buffer) {
    if (!Number.isSafeInteger(opts.pageSize) || opts.pageSize < 1) {
      throw new RangeError(`pageSize must be a positive integer, got ${opts.pageSize}`);
    }
    this.pageSize = opts.pageSize;
    this.zeroHash = pageHash(new Uint8Array(opts.pageSize));
    if (restoreFrom === undefined) {
      this.db = new Database(':memory:');
      this.db.exec(SCHEMA);
      this.db.exec(RELEASE_SCHEMA);
      const meta = this.db.prepare('INSERT INTO meta (key, value) VALUES (?, ?)');
      meta.run('schema', SCHEMA_VERSION);
      meta.run('page_size', String(opts.pageSize));
    } else {
      this.db = new Database(restoreFrom);
      this.checkMeta();
    }
    this.st = prepare(this.db);
    this.diffs = new DiffRecords(this.db);
    this.tx = this.db.transaction((cmd: PageCommand) => this.run(cmd));
    this.reloadRanges();
  }

  /** Rebuilds a table from snapshot(). Throws if the snapshot is not one, or was taken with another page size. */
  static restore(snapshotBase64: string, opts: PageTableOptions): PageTable {
    return new PageTable(opts, Buffer.from(snapshotBase64, 'base64'));
  }

  private checkMeta(): void {
    let rows: { key: string; value: string }[];
    try {
      rows = this.db.prepare('SELECT key, value FROM meta ORDER BY key').all() as { key: string; value: string }[];
    } catch (e) {
      this.db.close();
      throw new Error(`not a page-table snapshot: ${(e as Error).message}`);
    }
    const meta = new Map(rows.map((r) => [r.key, r.value]));
    const problem =
      meta.get('schema') !== SCHEMA_VERSION
        ? `schema ${meta.get('schema')}, expected ${SCHEMA_VERSION}`
        : meta.get('page_size') !== String(this.pageSize)
          ? `page size ${meta.get('page_size')}, expected ${this.pageSize}`
          : null;
    if (problem !== null) {
      this.db.close();
      throw new Error(`page-table snapshot has ${problem}`);
    }
  }

  private reloadRanges(): void {
    this.ranges = (this.st.companies.all() as Row[]).map(toCompany);
  }

  /** The held company whose range contains `page`, if any. Ranges are disjoint and few per host. */
  private companyOf(page: number): CompanyRow | null {
    for (const c of this.ranges) {
      if (page < c.firstPage) return null;
      if (page < c.firstPage + c.pages) return c;
    }
    return null;
  }

  /**
   * Validates and applies one committed command. Values decoded from a log or
   * the network may be passed as they are (cast): a bad shape never throws,
   * it becomes a 'bad-command' result, identically on every member.
   */
  apply(cmd: PageCommand): ApplyResult {
    const v = validateCommand(cmd);
    if ('error' in v) return fail('bad-command', v.error);
    if (v.op === 'create-company' || v.op === 'drop-company') {
      try {
        return this.tx(v);
      } finally {
        this.reloadRanges(); // also after a rollback, so the cache never runs ahead of the tables
      }
    }
    return this.tx(v);
  }

  private run(c: PageCommand): ApplyResult {
    switch (c.op) {
      case 'create-company':
        return this.createCompany(c.company, c.firstPage, c.pages);
      case 'drop-company':
        return this.dropCompany(c.company);
      case 'allocate':
        return this.allocate(c.company, c.id, c.pages, c.owner);
      case 'free':
        return this.free(c.company, c.firstPage, c.id);
      case 'grant':
        return this.grant(c.page, c.host, c.mode, c.term, c.leaseUs, c.grantedAtUs);
      case 'revoke':
      case 'expire':
        return this.dropLease(c.op, c.page, c.host, c.lease);
      case 'release':
        return this.release(c.page, c.host, c.version, c.hash, c.data, c.keep, c.lease);
      case 'lock-acquire':
        return this.lockAcquire(c);
      case 'lock-release':
        return this.lockRelease(c);
      case 'host-record':
        return this.hostRecord(c);
      case 'lock-expire':
        return this.lockExpire(c);
      case 'barrier-arrive':
        return this.barrierArrive(c);
      case 'barrier':
        return OK;
      case 'diff':
        return this.diff(c);
      case 'publish-diffs':
        return this.publishDiffs(c.page, c.upTo);
      case 'collect-diffs':
        return this.collectDiffs(c.company, c.floor);
    }
  }

  /** Sync objects belong to a company this table holds (their manager's, by placement). */
  private syncCompany(op: string, company: number): ApplyResult | null {
    return this.ranges.some((r) => r.company === company) ? null : fail('unknown-company', `${op}: company ${company} is not held here`);
  }

  private lockAcquire(c: Extract<PageCommand, { op: 'lock-acquire' }>): ApplyResult {
    const bad = this.syncCompany(c.op, c.company);
    if (bad !== null) return bad;
    const r = this.st.lock.get(c.id) as Row | undefined;
    const row = r === undefined ? null : toLock(r);
    if (row !== null && row.company !== c.company) return fail('conflict', `lock ${c.id} belongs to company ${row.company}, not ${c.company}`);
    const held = row !== null && row.host !== 0;
    if (c.token === 0) {
      if (held) return fail('conflict', `lock ${c.id} is held by thread ${row.thread} of host ${row.host}`);
    } else if (!held || row.host !== c.host || row.grants !== c.token) {
      return fail('not-holder', `lock ${c.id}: host ${c.host} does not hold it as holding ${c.token}`);
    }
    const grants = c.token === 0 ? (row?.grants ?? 0) + 1 : c.token;
    // A renewal keeps the thread the holding was asked for by.
    this.st.upsertLock.run(c.id, c.company, c.host, c.token === 0 ? c.thread : row!.thread, c.term, c.leaseUs, c.grantedAtUs, grants, row?.published ?? null, hostsText(row?.lapsedHosts ?? []));
    return { ok: true, token: grants };
  }

  /** The lock as held by exactly this holding, or why not. A holding is a host's: its host and token name it (its threads take turns under it). */
  private heldBy(op: string, c: { company: number; id: number; host: number; thread: number; token: number }): LockRow | ApplyResult {
    const bad = this.syncCompany(op, c.company);
    if (bad !== null) return bad;
    const r = this.st.lock.get(c.id) as Row | undefined;
    const row = r === undefined ? null : toLock(r);
    if (row === null || row.host !== c.host || row.grants !== c.token) {
      return fail('not-holder', `${op}: host ${c.host} does not hold lock ${c.id} as holding ${c.token}`);
    }
    return row;
  }

  private lockRelease(c: Extract<PageCommand, { op: 'lock-release' }>): ApplyResult {
    const row = this.heldBy(c.op, c);
    if ('ok' in row) return row;
    this.st.releaseLock.run(c.published, c.id);
    return { ok: true, token: c.token };
  }

  /** A host's newer record replaces its older one of the same incarnation; a late retry of an older one changes nothing. */
  private hostRecord(c: Extract<PageCommand, { op: 'host-record' }>): ApplyResult {
    const bad = this.syncCompany(c.op, c.company);
    if (bad !== null) return bad;
    const seq = this.st.hostRecordSeq.get(c.host, c.incarnation) as number | undefined;
    if (seq === undefined || seq < c.seq) this.st.upsertHostRecord.run(c.host, c.incarnation, c.company, c.seq, c.published);
    return OK;
  }

  /** Only the lease the manager waited out: a renewal committed meanwhile keeps the lock held. */
  private lockExpire(c: Extract<PageCommand, { op: 'lock-expire' }>): ApplyResult {
    const row = this.heldBy(c.op, c);
    if ('ok' in row) return row;
    if (row.grantedAtUs !== c.grantedAtUs) return fail('conflict', `lock-expire: lock ${c.id}'s lease was renewed at ${row.grantedAtUs}`);
    this.st.expireLock.run(hostsText([...row.lapsedHosts, row.host]), c.id);
    return { ok: true, token: c.token };
  }

  /**
   * An arrival at the barrier's current episode; a repeat of one recorded is answered as it was.
   * The arrival that makes `parties` opens the episode; the records of the episode before it go
   * (every party of it has left it, or it could not have arrived at the one that just opened).
   */
  private barrierArrive(c: Extract<PageCommand, { op: 'barrier-arrive' }>): ApplyResult {
    const bad = this.syncCompany(c.op, c.company);
    if (bad !== null) return bad;
    const r = this.st.barrier.get(c.name) as Row | undefined;
    const row = r === undefined ? null : toBarrier(r);
    if (row !== null && row.company !== c.company) return fail('conflict', `barrier ${c.name} belongs to company ${row.company}, not ${c.company}`);
    if (row !== null && row.parties !== c.parties) return fail('conflict', `barrier ${c.name} has ${row.parties} parties, not ${c.parties}`);
    const episode = row?.episode ?? 0;
    if (c.episode > episode) return fail('conflict', `barrier ${c.name} is at episode ${episode}, not ${c.episode}`);
    if (c.episode < episode || this.st.arrival.get(c.name, c.episode, c.host, c.thread) !== undefined) {
      if (c.episode < episode - 1) return fail('conflict', `barrier ${c.name}: episode ${c.episode} is long past (now ${episode})`);
      return { ok: true, opened: c.episode < episode };
    }
    if (row === null) this.st.insertBarrier.run(c.name, c.company, c.parties);
    const n = this.st.arrivalCount.get(c.name, c.episode) as number;
    this.st.insertArrival.run(c.name, c.episode, c.host, c.thread, n, c.published);
    if (n + 1 < c.parties) return { ok: true, opened: false };
    this.st.openEpisode.run(c.name);
    this.st.dropEpisodesBefore.run(c.name, c.episode);
    return { ok: true, opened: true };
  }

  private createCompany(company: number, firstPage: number, pages: number): ApplyResult {
    const same = this.ranges.find((r) => r.company === company);
    if (same !== undefined) {
      if (same.firstPage === firstPage && same.pages === pages) return OK;
      return fail('conflict', `company ${company} already holds pages ${same.firstPage}..${same.firstPage + same.pages - 1}`);
    }
    const end = firstPage + pages;
    const clash = this.ranges.find((r) => r.firstPage < end && firstPage < r.firstPage + r.pages);
    if (clash !== undefined) {
      return fail(
        'conflict',
        `pages ${firstPage}..${end - 1} overlap company ${clash.company} (pages ${clash.firstPage}..${clash.firstPage + clash.pages - 1})`,
      );
    }
    this.st.insertCompany.run(company, firstPage, pages);
    return OK;
  }

  private dropCompany(company: number): ApplyResult {
    const c = this.ranges.find((r) => r.company === company);
    if (c === undefined) return fail('unknown-company', `company ${company} is not held here`);
    const end = c.firstPage + c.pages;
    this.st.deleteLeasesIn.run(c.firstPage, end);
    this.st.deletePagesIn.run(c.firstPage, end);
    this.diffs.dropRange(company, c.firstPage, end);
    this.st.deleteAllocationsOf.run(company);
    this.st.deleteLocksOf.run(company);
    this.st.deleteHostRecordsOf.run(company);
    this.st.deleteArrivalsOf.run(company);
    this.st.deleteBarriersOf.run(company);
    this.st.deleteCompany.run(company);
    return OK;
  }

  private allocate(company: number, id: string, pages: number, owner: number): ApplyResult {
    const c = this.ranges.find((r) => r.company === company);
    if (c === undefined) return fail('unknown-company', `company ${company} is not held here`);
    const existing = this.st.allocationById.get(id) as Row | undefined;
    if (existing !== undefined) {
      // A client retrying a proposal can get the same allocate committed
      // twice: the second one answers with the run the first one made.
      const a = toAllocation(existing);
      if (a.company === company && a.pages === pages && a.owner === owner) return { ok: true, firstPage: a.firstPage };
      return fail('conflict', `allocation id ${JSON.stringify(id)} is already used by pages ${a.firstPage}..${a.firstPage + a.pages - 1} of company ${a.company}`);
    }
    // First fit: walk the live runs in page order and take the first gap wide enough.
    let start = c.firstPage;
    const end = c.firstPage + c.pages;
    let found = -1;
    for (const [first, n] of this.st.runsOf.iterate(company) as IterableIterator<[number, number]>) {
      if (first - start >= pages) {
        found = start;
        break;
      }
      start = first + n;
    }
    if (found < 0 && end - start >= pages) found = start;
    if (found < 0) return fail('no-space', `company ${company} has no run of ${pages} free pages`);
    this.st.insertAllocation.run(id, company, found, pages, owner);
    this.st.markRun.run(found, found + pages, company, id, this.zeroHash);
    return { ok: true, firstPage: found };
  }

  private free(company: number, firstPage: number, id: string): ApplyResult {
    const c = this.ranges.find((r) => r.company === company);
    if (c === undefined) return fail('unknown-company', `company ${company} is not held here`);
    const row = this.st.allocationAt.get(company, firstPage) as Row | undefined;
    if (row === undefined) return fail('not-allocated', `no allocated run starts at page ${firstPage} in company ${company}`);
    const a = toAllocation(row);
    if (a.id !== id) return fail('not-allocated', `the run at page ${firstPage} is allocation ${a.id}, not ${id}`);
    const end = a.firstPage + a.pages;
    // A host still holding a page of the run still has it mapped: the manager revokes first.
    for (let page = a.firstPage; page < end; page++) {
      const holders = this.holders(page);
      if (holders.length > 0) return fail('conflict', `page ${page} of the run is still held by host ${holders[0]!.host}`);
    }
    this.st.deleteAllocation.run(a.id);
    this.st.clearRun.run(this.zeroHash, a.firstPage, end);
    this.st.deleteLeasesIn.run(a.firstPage, end);
    this.diffs.dropRange(null, a.firstPage, end);
    return { ok: true, firstPage: a.firstPage };
  }

  /** Checks that shared by the lease commands: the page is held here and allocated. Returns its version. */
  private allocatedVersion(page: number): number | ApplyResult {
    if (this.companyOf(page) === null) return fail('unknown-company', `page ${page} is in no company held here`);
    const s = this.st.pageState.get(page) as { allocation: string | null; version: number } | undefined;
    if (s === undefined || s.allocation === null) return fail('not-allocated', `page ${page} is not allocated`);
    return s.version;
  }

  private grant(page: number, host: number, mode: LeaseMode, term: number, leaseUs: number, grantedAtUs: number): ApplyResult {
    const version = this.allocatedVersion(page);
    if (typeof version !== 'number') return version;
    let own: LeaseMode | null = null;
    for (const [h, m] of this.st.holderModes.iterate(page) as IterableIterator<[number, LeaseMode]>) {
      if (h === host) {
        own = m;
      } else if (mode === 'write') {
        return fail('conflict', `page ${page}: host ${h} holds a ${m} lease`);
      } else if (m === 'write') {
        return fail('conflict', `page ${page}: host ${h} holds the write lease`);
      }
    }
    // Re-granting the same or a weaker mode renews the lease but keeps it the same lease: its
    // fencing token (term, grantedAtUs) stays, so the holder's write-backs keep matching it.
    // Only an upgrade from read to write makes a new lease.
    if (own === 'write' || own === mode) return { ok: true, version };
    this.st.upsertLease.run(page, host, mode, term, leaseUs, grantedAtUs);
    return { ok: true, version };
  }

  /** With a token, only that lease goes: a late revoke or expire never drops a newer lease of the same host. */
  private dropLease(op: 'revoke' | 'expire', page: number, host: number, lease: LeaseToken | undefined): ApplyResult {
    if (this.companyOf(page) === null) return fail('unknown-company', `page ${page} is in no company held here`);
    if (lease !== undefined) {
      const row = this.holders(page).find((h) => h.host === host);
      if (row !== undefined && (row.term !== lease.term || row.grantedAtUs !== lease.grantedAtUs)) {
        return fail('conflict', `${op}: host ${host}'s lease on page ${page} is not the one granted in term ${lease.term} at ${lease.grantedAtUs}`);
      }
    }
    if (this.st.deleteLease.run(page, host).changes === 0) {
      return fail('not-holder', `${op}: host ${host} holds no lease on page ${page}`);
    }
    return OK;
  }

  private release(
    page: number, host: number, version: number, hash: string, data: string, keep: LeaseMode | null, lease: LeaseToken | undefined,
  ): ApplyResult {
    // Checks on the command itself first, so a malformed release is reported
    // as such whatever the state of the page.
    const bytes = Buffer.from(data, 'base64');
    if (bytes.length !== this.pageSize || bytes.toString('base64') !== data) {
      return fail('bad-command', `release: field 'data' must be canonical base64 of ${this.pageSize} bytes (decoded ${bytes.length})`);
    }
    // A holder that lies about its contents is caught here, on every member alike.
    const actual = pageHash(bytes);
    if (actual !== hash) return fail('bad-command', `release: hash ${hash} does not match the data (${actual})`);
    const current = this.allocatedVersion(page);
    if (typeof current !== 'number') return current;
    const held = this.st.leaseMode.get(page, host) as LeaseMode | undefined;
    if (held !== 'write') {
      return fail('not-holder', `release: host ${host} holds ${held === undefined ? 'no' : 'only a read'} lease on page ${page}`);
    }
    if (lease !== undefined) {
      const row = this.holders(page).find((h) => h.host === host);
      if (row === undefined || row.term !== lease.term || row.grantedAtUs !== lease.grantedAtUs) {
        return fail('conflict', `release: host ${host}'s lease on page ${page} is not the one granted in term ${lease.term} at ${lease.grantedAtUs}`);
      }
    }
    if (version !== current + 1) {
      return fail('conflict', `release: page ${page} is at version ${current}, so the next is ${current + 1}, not ${version}`);
    }
    this.st.writePage.run(version, hash, data, page);
    if (keep === null) this.st.deleteLease.run(page, host);
    else if (keep === 'read') this.st.setLeaseMode.run('read', page, host);
    return { ok: true, version };
  }

  /**
   * A diff of a page (release consistency), committed as pending: durable, not applied (see
   * release/diff-table.ts). A diff of an interval the table holds already from the host is a
   * retry: nothing changes.
   */
  private diff(c: Extract<PageCommand, { op: 'diff' }>): ApplyResult {
    const d = this.diffs.decode(c.diff, this.pageSize);
    if ('error' in d) return fail('bad-command', `diff: ${d.error}`);
    const current = this.allocatedVersion(c.page);
    if (typeof current !== 'number') return current;
    const company = this.companyOf(c.page)!.company;
    if (!this.diffs.holds(c.page, c.host, c.interval)) this.diffs.addPending(company, c);
    // The host's record rides with its diff (the page's company is its home): committed with it, or not at all.
    if (c.record !== undefined) {
      this.hostRecord({ op: 'host-record', company, host: c.host, incarnation: incarnationOf(c.interval), seq: c.record.seq, published: c.record.published });
    }
    return { ok: true, version: current };
  }

  /**
   * A fetch named intervals `upTo` (release consistency): the page's pending diffs of those
   * intervals are written over its row, in commit order, each as the next version. Also a read
   * barrier for the fetch: once applied in the manager's term, the table holds every committed diff.
   */
  private publishDiffs(page: number, upTo: VectorTime): ApplyResult {
    const version = this.allocatedVersion(page);
    if (typeof version !== 'number') return version;
    return { ok: true, version: this.applyPending(page, version, this.diffs.takeNamed(page, upTo)) };
  }

  /** Writes pending diffs (in commit order) over the page's row at `version`, each as the next version; returns the last. */
  private applyPending(page: number, version: number, diffs: PendingDiff[]): number {
    let data = (this.st.page.get(page) as Row)['data'] as string | null;
    let bytes: Buffer | null = null;
    for (const n of diffs) {
      const d = this.diffs.decode(n.diff, this.pageSize);
      if ('error' in d) continue; // checked when committed: cannot happen
      bytes = patched(data, this.pageSize, d);
      data = bytes.toString('base64');
      this.diffs.record(page, n, ++version);
    }
    if (bytes !== null) this.st.writePage.run(version, pageHash(bytes), data, page);
    return version;
  }

  private collectDiffs(company: number, floor: VectorTime): ApplyResult {
    const c = this.ranges.find((r) => r.company === company);
    if (c === undefined) return fail('unknown-company', `company ${company} is not held here`);
    // Pending diffs another host has seen were published: applied now, so pending ones never pile up.
    for (const [page, diffs] of this.diffs.takeSeen(company, c.firstPage, c.pages)) {
      const version = this.allocatedVersion(page);
      if (typeof version === 'number') this.applyPending(page, version, diffs);
    }
    this.diffs.collect(c.firstPage, c.pages, floor);
    return OK;
  }

  /** The diffs that bring a copy of the page at version `have` to the current one, or null if some were collected. */
  diffsSince(page: number, have: number): DiffRow[] | null {
    const row = this.page(page);
    if (row === null || have > row.version) return null;
    return this.diffs.since(page, have, row.version);
  }

  /** The diffs of a page still kept, oldest first (for inspection and tests). */
  diffsOf(page: number): DiffRow[] {
    return this.diffs.ofPage(page);
  }

  /** How many diffs of the page are kept, applied and pending (the manager collects past a bound). */
  diffsKept(page: number): number {
    return this.diffs.kept(page);
  }

  /** The committed diffs of a page no fetch named yet, in commit order. */
  pendingDiffsOf(page: number): PendingDiff[] {
    return this.diffs.pendingOf(page);
  }

  /** Per host, the last interval of it applied to the page. */
  appliedIntervals(page: number): VectorTime {
    return this.diffs.applied(page);
  }

  /** Whether a fetch of the page naming `need` can be answered from this table as it is (release/diff-table.ts: ready). */
  fetchReady(page: number, need: VectorTime): boolean {
    return this.diffs.ready(page, need);
  }

  /** The vector time all of `hosts` reached, as they reported it with their diffs to this company. */
  diffFloor(company: number, hosts: readonly number[]): VectorTime {
    return this.diffs.floor(company, hosts);
  }

  /** base64 of the serialized database; restore with PageTable.restore. */
  snapshot(): string {
    return this.db.serialize().toString('base64');
  }

  /**
   * sha256 hex over every row, table by table, in key order. With `company`,
   * only that company's rows (plus the page size): a host belongs to several
   * companies, and its fellow members in one of them hold different others,
   * so compare members of a company with hash(company).
   */
  hash(company?: number): string {
    const h = createHash('sha256');
    const feed = (tag: string, rows: IterableIterator<unknown[]>): void => {
      h.update(`${tag}\n`);
      for (const r of rows) h.update(`${JSON.stringify(r)}\n`);
    };
    // Release consistency's tables only when they hold rows: a table that never saw a diff hashes as before they existed.
    const feedRows = (tag: string, rows: IterableIterator<unknown[]>): void => {
      let first = true;
      for (const r of rows) {
        if (first) h.update(`${tag}\n`);
        first = false;
        h.update(`${JSON.stringify(r)}\n`);
      }
    };
    const st = this.st;
    feed('meta', st.hMeta.iterate() as IterableIterator<unknown[]>);
    if (company === undefined) {
      feed('companies', st.hCompanies.iterate() as IterableIterator<unknown[]>);
      feed('pages', st.hPages.iterate() as IterableIterator<unknown[]>);
      feed('leases', st.hLeases.iterate() as IterableIterator<unknown[]>);
      feed('allocations', st.hAllocations.iterate() as IterableIterator<unknown[]>);
      feed('locks', st.hLocks.iterate() as IterableIterator<unknown[]>);
      feedRows('host_records', st.hHostRecords.iterate() as IterableIterator<unknown[]>);
      feed('barriers', st.hBarriers.iterate() as IterableIterator<unknown[]>);
      feed('arrivals', st.hArrivals.iterate() as IterableIterator<unknown[]>);
      for (const [tag, rows] of this.diffs.hashFeeds(null)) feedRows(tag, rows);
    } else {
      feed('companies', st.hCompany.iterate(company) as IterableIterator<unknown[]>);
      const c = this.ranges.find((r) => r.company === company);
      if (c !== undefined) {
        const end = c.firstPage + c.pages;
        feed('pages', st.hPagesIn.iterate(c.firstPage, end) as IterableIterator<unknown[]>);
        feed('leases', st.hLeasesIn.iterate(c.firstPage, end) as IterableIterator<unknown[]>);
      }
      feed('allocations', st.hAllocationsOf.iterate(company) as IterableIterator<unknown[]>);
      feed('locks', st.hLocksOf.iterate(company) as IterableIterator<unknown[]>);
      feedRows('host_records', st.hHostRecordsOf.iterate(company) as IterableIterator<unknown[]>);
      feed('barriers', st.hBarriersOf.iterate(company) as IterableIterator<unknown[]>);
      feed('arrivals', st.hArrivalsOf.iterate(company) as IterableIterator<unknown[]>);
      if (c !== undefined) for (const [tag, rows] of this.diffs.hashFeeds({ company, firstPage: c.firstPage, end: c.firstPage + c.pages })) feedRows(tag, rows);
    }
    return h.digest('hex');
  }

  /** The page's row; a page of a held company that was never allocated reads as version 0, zeros. Null if no held company has it. */
  page(page: number): PageRow | null {
    const r = this.st.page.get(page) as Row | undefined;
    if (r !== undefined) return toPage(r);
    const c = this.companyOf(page);
    if (c === null) return null;
    return { page, company: c.company, allocation: null, version: 0, hash: this.zeroHash, data: null };
  }

  holders(page: number): LeaseRow[] {
    return (this.st.holders.all(page) as Row[]).map(toLease);
  }

  leasesOf(host: number): LeaseRow[] {
    return (this.st.leasesOf.all(host) as Row[]).map(toLease);
  }

  allocations(company?: number): AllocationRow[] {
    const rows = company === undefined ? this.st.allocations.all() : this.st.allocationsOf.all(company);
    return (rows as Row[]).map(toAllocation);
  }

  /** A lock's row (null: never acquired in this company). */
  lock(id: number): LockRow | null {
    const r = this.st.lock.get(id) as Row | undefined;
    return r === undefined ? null : toLock(r);
  }

  locks(company?: number): LockRow[] {
    return ((company === undefined ? this.st.locksAll.all() : this.st.locksOf.all(company)) as Row[]).map(toLock);
  }

  /** Host `host`'s latest records (host-record), one per incarnation, oldest incarnation first. */
  hostRecords(host: number): HostRecordRow[] {
    return this.st.hostRecordsOf.all(host) as HostRecordRow[];
  }

  /** A barrier's row (null: no party arrived yet). */
  barrier(name: number): BarrierRow | null {
    const r = this.st.barrier.get(name) as Row | undefined;
    return r === undefined ? null : toBarrier(r);
  }

  /** The arrivals at an episode of a barrier, in order of arrival (kept until the next episode opens). */
  arrivals(name: number, episode: number): ArrivalRow[] {
    return (this.st.arrivalsAt.all(name, episode) as Row[]).map(toArrival);
  }

  companies(): CompanyRow[] {
    return this.ranges.map((c) => ({ ...c }));
  }

  /** Everything, in key order. `pages` holds the pages ever allocated (allocated now, or freed but with a version to keep). */
  dump(): PageTableDump {
    return {
      companies: this.companies(),
      pages: (this.st.pagesAll.all() as Row[]).map(toPage),
      leases: (this.st.leasesAll.all() as Row[]).map(toLease),
      allocations: this.allocations(),
      locks: this.locks(),
      barriers: (this.st.barriersAll.all() as Row[]).map(toBarrier),
      arrivals: (this.st.arrivalsAll.all() as Row[]).map(toArrival),
    };
  }

  close(): void {
    this.db.close();
  }
}
