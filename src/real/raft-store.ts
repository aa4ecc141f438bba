// Durable Raft state for one real host: hard state, log entries and snapshots
// of every Raft group the host runs, in one SQLite database in its data
// directory (design section 8). It is the real counterpart of the simulator's
// record file (src/sim/raft-storage.ts) and rebuilds the same BootState.
//
// Durability: the database runs in WAL mode with synchronous=FULL. Each
// write() is one transaction, so when it returns its records have been
// fsynced and the driver may send the messages that depend on them. A host
// does not call it on its main thread: its disk port (disk-port.ts) hands
// every turn's Readies of all its groups to a worker thread (disk-worker.ts),
// which writes all that arrived while it was busy in one batch: one
// transaction, one fsync. A crash at any point leaves either all of a batch
// or none of it.
import { chmodSync, closeSync, mkdirSync, openSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { BootState, ConfState, Entry, HardState, Ready, Snapshot } from '../raft/index.js';

/**
 * A write the disk had no room for (SQLITE_FULL, ENOSPC): the transaction
 * was rolled back, so the store holds everything it acknowledged before and
 * nothing of this write. The host must stop: Raft cannot go on without its
 * log, and nothing that depends on the failed write has been sent.
 */
export class DiskFullError extends Error {
  constructor(
    /** The data directory whose file system is full. */
    readonly dir: string,
    /** What was being written, for the operator. */
    readonly writing: string,
    cause: unknown,
  ) {
    super(`disk full: the file system of data directory ${dir} has no room for ${writing} (${cause instanceof Error ? cause.message : String(cause)}); free space there and start the host again: nothing acknowledged was lost`, { cause });
    this.name = 'DiskFullError';
  }
}

/** True for SQLite's and the OS's ways of saying a file system is full. */
export function isDiskFullError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'SQLITE_FULL' || code === 'ENOSPC' || code === 'EDQUOT' || (typeof code === 'string' && code.startsWith('SQLITE_IOERR') && /disk is full|no space/i.test(String((err as Error).message)));
}

/** What a Ready asks to make durable (a Ready itself fits). */
export type PersistBatch = Pick<Ready, 'hardState' | 'snapshot'> & { entries: readonly Entry[]; mustSync?: boolean };

/** One write of a batch: a Ready's records, or a local compaction of a group's log to a snapshot. */
export type StoreWrite =
  | { readonly kind: 'persist'; readonly group: number; readonly batch: PersistBatch }
  | { readonly kind: 'compact'; readonly group: number; readonly snapshot: Snapshot };

/**
 * Bumped when the tables change shape; a file from a newer version is refused
 * rather than misread, an older one is brought up to date as it opens
 * (migrate). 2: each group's log in a table of its own, keyed by index, with
 * the commit index beside the entries (was: one entries table for all groups).
 */
const SCHEMA_VERSION = 2;

// "group" is an SQL keyword, hence the quotes; idx/term/commit_index avoid the
// keywords INDEX and COMMIT.
const SCHEMA = `
CREATE TABLE IF NOT EXISTS hard_state (
  "group" INTEGER PRIMARY KEY,
  term INTEGER NOT NULL,
  vote INTEGER NOT NULL,
  commit_index INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS incarnations (
  only INTEGER PRIMARY KEY CHECK (only = 1),
  count INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS snapshots (
  "group" INTEGER PRIMARY KEY,
  idx INTEGER NOT NULL,
  term INTEGER NOT NULL,
  conf TEXT NOT NULL,
  data TEXT NOT NULL
);
`;

/**
 * A group's log: its own table, the entry's index its rowid, so an append
 * writes one B-tree (its rightmost leaf, and the overflow pages of a large
 * entry's data) and no index beside it (a table keyed by (group, idx) keeps
 * a second B-tree for that key, and a WITHOUT ROWID one spills its large rows
 * over more pages). commit_index: the group's commit index when the entry was
 * written. A write with entries leaves the hard state row alone when only the
 * commit index moved and keeps the commit beside its newest entry instead,
 * one page fewer per commit (what load reads back: the larger of the two).
 * Raft does not need a durable commit index; a stale one only replays less
 * at a restart, until the leader tells it again.
 */
const logTable = (group: number): string => `log_${group}`;
const LOG_SCHEMA = (group: number): string => `
CREATE TABLE IF NOT EXISTS ${logTable(group)} (
  idx INTEGER PRIMARY KEY,
  term INTEGER NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('normal', 'conf')),
  data TEXT NOT NULL,
  commit_index INTEGER NOT NULL
);
`;
const LOG_TABLE_NAME = /^log_(0|[1-9][0-9]{0,15})$/;

interface HardStateRow { term: number; vote: number; commit_index: number }
interface EntryRow { idx: number; term: number; kind: string; data: string }
interface SnapshotRow { idx: number; term: number; conf: string; data: string }

type Statement = Database.Statement<unknown[], unknown>;

/** A group's log table's statements (prepared once the table exists). */
interface LogStatements {
  entries: Statement;
  last: Statement;
  termAt: Statement;
  put: Statement;
  deleteFrom: Statement;
  deleteThrough: Statement;
  deleteAll: Statement;
}

/** What the writer knows a group's store holds (see RaftStore.known). */
interface Known {
  snap: number;
  last: number;
  /** The hard state as load() would read it back. */
  hard: HardState;
}

export class RaftStore {
  private closed = false;
  // Prepared once: persist runs for every Ready, so parsing SQL each time would show.
  private readonly st: {
    getHard: Statement;
    putHard: Statement;
    getSnap: Statement;
    snapIndex: Statement;
    putSnap: Statement;
    groups: Statement;
  };
  /** Each group's log table's statements, by group, for the tables that exist. */
  private readonly logs = new Map<number, LogStatements>();
  /**
   * Each group's snapshot index, last log index and hard state, as the store
   * holds them: kept by the writer that holds the file exclusively (open's
   * `exclusive`), which no one else can change under it, so an append needs
   * no queries to check that it continues the log, and knows whether its
   * Ready changed more than the commit index. Dropped when a transaction
   * fails (it was rolled back).
   */
  private readonly known: Map<number, Known> | null;
  private readonly writeTx: (writes: readonly StoreWrite[]) => void;

  private constructor(private readonly db: Database.Database, readonly file: string, exclusive: boolean) {
    this.known = exclusive ? new Map() : null;
    this.st = {
      getHard: db.prepare('SELECT term, vote, commit_index FROM hard_state WHERE "group" = ?'),
      putHard: db.prepare(
        'INSERT INTO hard_state ("group", term, vote, commit_index) VALUES (?, ?, ?, ?) ' +
          'ON CONFLICT ("group") DO UPDATE SET term = excluded.term, vote = excluded.vote, commit_index = excluded.commit_index',
      ),
      getSnap: db.prepare('SELECT idx, term, conf, data FROM snapshots WHERE "group" = ?'),
      // The index alone, so checks on every append do not read the snapshot's data.
      snapIndex: db.prepare('SELECT idx FROM snapshots WHERE "group" = ?'),
      putSnap: db.prepare(
        'INSERT INTO snapshots ("group", idx, term, conf, data) VALUES (?, ?, ?, ?, ?) ' +
          'ON CONFLICT ("group") DO UPDATE SET idx = excluded.idx, term = excluded.term, conf = excluded.conf, data = excluded.data',
      ),
      groups: db.prepare('SELECT "group" AS g FROM hard_state UNION SELECT "group" FROM snapshots ORDER BY g'),
    };
    for (const g of logGroups(db)) this.prepareLog(g);
    this.writeTx = db.transaction((writes: readonly StoreWrite[]) => {
      for (const w of writes) {
        if (w.kind === 'persist') this.persistIn(w.group, w.batch);
        else this.compactIn(w.group, w.snapshot);
      }
    });
  }

  private prepareLog(group: number): LogStatements {
    const t = logTable(group);
    const st: LogStatements = {
      entries: this.db.prepare(`SELECT idx, term, kind, data FROM ${t} ORDER BY idx`),
      last: this.db.prepare(`SELECT idx, commit_index FROM ${t} ORDER BY idx DESC LIMIT 1`),
      termAt: this.db.prepare(`SELECT term FROM ${t} WHERE idx = ?`),
      put: this.db.prepare(`INSERT INTO ${t} (idx, term, kind, data, commit_index) VALUES (?, ?, ?, ?, ?)`),
      deleteFrom: this.db.prepare(`DELETE FROM ${t} WHERE idx >= ?`),
      deleteThrough: this.db.prepare(`DELETE FROM ${t} WHERE idx <= ?`),
      deleteAll: this.db.prepare(`DELETE FROM ${t}`),
    };
    this.logs.set(group, st);
    return st;
  }

  /** The group's log table, created (in the transaction under way) on its first entry. */
  private logFor(group: number): LogStatements {
    const st = this.logs.get(group);
    if (st !== undefined) return st;
    this.db.exec(LOG_SCHEMA(group));
    return this.prepareLog(group);
  }

  /**
   * Opens (creating if needed, along with its folder) the database file at
   * `file`. `exclusive`: for the one writer of a running host (its disk
   * worker). The connection locks the file for as long as it is open
   * (SQLite's locking_mode EXCLUSIVE, set before its first access, so the
   * WAL index lives in its own memory): a commit takes no file locks and
   * reads no shared memory (about 6 fcntl and a pread fewer per commit), and
   * no other connection, in this process or another, can open the file
   * meanwhile.
   */
  static open(file: string, opts: { exclusive?: boolean } = {}): RaftStore {
    const exclusive = opts.exclusive === true;
    mkdirSync(path.dirname(path.resolve(file)), { recursive: true, mode: 0o700 });
    // The store holds page contents: 0600. SQLite creates its -wal and -shm files with the
    // database file's mode, so creating that one first (and tightening an older one) covers all three.
    closeSync(openSync(file, 'a', 0o600));
    chmodSync(file, 0o600);
    const db = new Database(file);
    try {
      if (exclusive && db.pragma('locking_mode = EXCLUSIVE', { simple: true }) !== 'exclusive') throw new Error(`${file}: cannot lock the Raft store exclusively`);
      const mode = db.pragma('journal_mode = WAL', { simple: true });
      // WAL can be refused (e.g. some network file systems); running on without it would break the durability promise.
      if (String(mode).toLowerCase() !== 'wal') throw new Error(`${file}: cannot use WAL journal mode (got ${String(mode)})`);
      db.pragma('synchronous = FULL');
      const version = Number(db.pragma('user_version', { simple: true }));
      if (version > SCHEMA_VERSION) {
        throw new Error(`${file}: Raft store schema version ${version} is newer than this gallocy understands (${SCHEMA_VERSION})`);
      }
      if (version < SCHEMA_VERSION) {
        db.transaction(() => {
          db.exec(SCHEMA);
          if (version === 1) migrateFrom1(db);
          db.pragma(`user_version = ${SCHEMA_VERSION}`);
        })();
      }
      const store = new RaftStore(db, file, exclusive);
      // Checked last: compiling a pragma applies it, so a statement prepared for later would have changed it.
      if (db.pragma('synchronous', { simple: true }) !== 2) throw new Error(`${file}: cannot set synchronous = FULL`);
      return store;
    } catch (err) {
      db.close();
      throw err;
    }
  }

  /**
   * Counts this start of the host and returns the count (1 for the first),
   * durable on return: the VMM's allocation ids of this incarnation are
   * named by it, so they never repeat those of a run before a crash.
   */
  nextIncarnation(): number {
    const row = this.db.prepare('INSERT INTO incarnations (only, count) VALUES (1, 1) ON CONFLICT (only) DO UPDATE SET count = count + 1 RETURNING count').get() as { count: number };
    return row.count;
  }

  /**
   * What the group's node restarts from: as loadBootState does for the
   * simulator, commit is at least the snapshot's index and applied is the
   * snapshot's index (the state machine restarts from the snapshot).
   */
  load(group: number, genesis: ConfState): BootState {
    this.check(group);
    const hs = this.st.getHard.get(group) as HardStateRow | undefined;
    const snapshot = this.snapshotOf(group);
    const log = this.logs.get(group);
    const entries = log === undefined ? [] : (log.entries.all() as EntryRow[]).map(toEntry);
    // Every write keeps the log contiguous after the snapshot; anything else is a damaged file.
    const first = (snapshot?.index ?? 0) + 1;
    entries.forEach((e, i) => {
      if (e.index !== first + i) {
        throw new Error(`${this.file}: group ${group}: log is not contiguous: expected index ${first + i}, found ${e.index}`);
      }
    });
    const hardState = this.hardStateOf(group, hs, snapshot?.index ?? 0);
    return { hardState, snapshot, entries, conf: genesis, applied: snapshot?.index ?? 0 };
  }

  /** Every group's BootState (conf: `genesis` of each), read at once: what a host's disk port reads before its worker locks the file. */
  loadAll(genesis: ConfState): Map<number, BootState> {
    return new Map(this.groups().map((g) => [g, this.load(g, genesis)]));
  }

  /**
   * Makes a Ready's records durable in one transaction: a snapshot replaces the
   * group's whole log, an entry at index i replaces stored entries >= i, and
   * the hard state replaces the previous one. Durable when it returns, unless
   * the batch says it need not be (mustSync false: see Ready.mustSync).
   */
  persist(group: number, rd: PersistBatch): void {
    this.write([{ kind: 'persist', group, batch: rd }], rd.mustSync !== false);
  }

  /**
   * Writes a batch in one transaction, in order (the Readies and compactions
   * of several groups: one fsync for all of them), fsynced at its commit if
   * `sync`; without, it only moves commit indexes or compacts, and the next
   * synced commit makes it durable with it (the WAL is appended in order).
   * All or nothing: a failed write (a full disk, a gap in a log: a bug) rolls
   * the whole batch back and is thrown. Returns whether it wrote anything
   * (a batch of empty Readies skips the transaction and its fsync).
   */
  write(writes: readonly StoreWrite[], sync: boolean): boolean {
    this.checkOpen();
    for (const w of writes) this.check(w.group);
    const todo = writes.filter((w) => w.kind === 'compact' || !isEmpty(w.batch));
    if (todo.length === 0) return false;
    // Not prepared statements: SQLite applies this pragma when it compiles it, so one prepared here would
    // set it once, at prepare time, and do nothing when run.
    if (!sync) this.db.pragma('synchronous = NORMAL');
    try {
      this.writeTx(todo);
    } catch (err) {
      // Rolled back: what they said may not hold any more, and a log table created in it is gone.
      this.known?.clear();
      this.logs.clear();
      for (const g of logGroups(this.db)) this.prepareLog(g);
      throw this.diskFull(err, todo.map(describe).join('; '));
    } finally {
      if (!sync) this.db.pragma('synchronous = FULL');
    }
    return true;
  }

  /** A DiskFullError naming what was being written, if err says the disk is full; else err. */
  private diskFull(err: unknown, writing: string): unknown {
    if (!isDiskFullError(err)) return err;
    return new DiskFullError(path.dirname(path.resolve(this.file)), `${writing} in ${path.basename(this.file)}`, err);
  }

  /**
   * Stores the application's snapshot at its applied index and deletes the
   * entries it covers, keeping the suffix after it; durable on return. A
   * snapshot no newer than the stored one changes nothing.
   */
  compact(group: number, snapshot: Snapshot): void {
    this.write([{ kind: 'compact', group, snapshot }], true);
  }

  /** Groups with any durable state, ascending. */
  groups(): number[] {
    this.checkOpen();
    const groups = new Set((this.st.groups.all() as Array<{ g: number }>).map((r) => r.g));
    for (const g of this.logs.keys()) groups.add(g);
    return [...groups].sort((a, b) => a - b);
  }

  /** Closes the database (checkpointing the WAL); later calls other than close throw. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
  }

  private persistIn(group: number, rd: PersistBatch): void {
    // Order as etcd's storage: the snapshot first, then the entries that follow it, then the hard state.
    const k = this.knownOf(group);
    if (rd.snapshot !== null) {
      this.logs.get(group)?.deleteAll.run();
      this.putSnapshot(group, rd.snapshot);
      k.snap = rd.snapshot.index;
      k.last = rd.snapshot.index;
    }
    const hs = rd.hardState;
    const wrote = rd.entries.length > 0 && this.append(group, k, rd.entries, hs?.commit ?? k.hard.commit);
    if (hs === null) return;
    // The commit index alone moved and rides beside the entries just written: the row stays.
    if (!(wrote && hs.term === k.hard.term && hs.vote === k.hard.vote)) this.st.putHard.run(group, hs.term, hs.vote, hs.commit);
    k.hard = { term: hs.term, vote: hs.vote, commit: Math.max(hs.commit, k.hard.commit) };
  }

  /** Appends entries with the group's commit index beside them; returns whether it wrote any. */
  private append(group: number, k: Known, entries: readonly Entry[], commit: number): boolean {
    // Entries the snapshot already covers are re-confirmations (as in DurableLog.append): nothing to store.
    const start = entries.findIndex((e) => e.index > k.snap);
    if (start < 0) return false;
    const add = entries.slice(start);
    const first = add[0]!.index;
    add.forEach((e, i) => {
      if (e.index !== first + i) throw new Error(`persist: group ${group}: entries not contiguous at ${e.index} (expected ${first + i})`);
    });
    // A hole would make load() refuse the file; refusing the write keeps the damage at the bug that caused it.
    if (first > k.last + 1) throw new Error(`persist: group ${group}: gap in the log: appending ${first} after ${k.last}`);
    const log = this.logFor(group);
    if (first <= k.last) log.deleteFrom.run(first); // a new leader's suffix replaces ours
    for (const e of add) log.put.run(e.index, e.term, e.kind, e.data, commit);
    k.last = add[add.length - 1]!.index;
    return true;
  }

  private compactIn(group: number, snapshot: Snapshot): void {
    const k = this.knownOf(group);
    if (snapshot.index <= k.snap) return;
    const log = this.logs.get(group);
    const at = log?.termAt.get(snapshot.index) as { term: number } | undefined;
    // Keep the suffix only if it continues this snapshot's history (as DurableLog.installSnapshot does).
    const keep = at !== undefined && at.term === snapshot.term;
    if (keep) log?.deleteThrough.run(snapshot.index);
    else {
      log?.deleteAll.run();
      // The commit index kept beside the entries goes with them: keep it in the row.
      if (k.hard.commit > snapshot.index) this.st.putHard.run(group, k.hard.term, k.hard.vote, k.hard.commit);
    }
    this.putSnapshot(group, snapshot);
    k.snap = snapshot.index;
    if (!keep) k.last = snapshot.index;
  }

  /** What the group's store holds: remembered by the exclusive writer, else read (and then written through once). */
  private knownOf(group: number): Known {
    const remembered = this.known?.get(group);
    if (remembered !== undefined) return remembered;
    const snap = this.snapshotIndex(group);
    const last = (this.logs.get(group)?.last.get() as { idx: number } | undefined)?.idx ?? snap;
    const k: Known = { snap, last, hard: this.hardStateOf(group, this.st.getHard.get(group) as HardStateRow | undefined, snap) };
    this.known?.set(group, k);
    return k;
  }

  /** The hard state load() returns: the row's, with the larger of its commit and the one beside the newest entry (and at least the snapshot's index). */
  private hardStateOf(group: number, hs: HardStateRow | undefined, snapIndex: number): HardState {
    const beside = (this.logs.get(group)?.last.get() as { commit_index: number } | undefined)?.commit_index ?? 0;
    return { term: hs?.term ?? 0, vote: hs?.vote ?? 0, commit: Math.max(hs?.commit_index ?? 0, beside, snapIndex) };
  }

  private putSnapshot(group: number, s: Snapshot): void {
    this.st.putSnap.run(group, s.index, s.term, JSON.stringify(s.conf), s.data);
  }

  private snapshotOf(group: number): Snapshot | null {
    const row = this.st.getSnap.get(group) as SnapshotRow | undefined;
    if (row === undefined) return null;
    return { index: row.idx, term: row.term, conf: parseConf(row.conf, this.file, group), data: row.data };
  }

  private snapshotIndex(group: number): number {
    const row = this.st.snapIndex.get(group) as { idx: number } | undefined;
    return row?.idx ?? 0;
  }

  private checkOpen(): void {
    if (this.closed) throw new Error(`${this.file}: Raft store is closed`);
  }

  private check(group: number): void {
    this.checkOpen();
    if (!Number.isSafeInteger(group) || group < 0) throw new RangeError(`Raft store: group must be a non-negative integer, got ${group}`);
  }
}

/** What load() returns for a group with nothing on disk. */
export function newGroupBootState(genesis: ConfState): BootState {
  return { hardState: { term: 0, vote: 0, commit: 0 }, snapshot: null, entries: [], conf: genesis, applied: 0 };
}

function isEmpty(rd: PersistBatch): boolean {
  return rd.hardState === null && rd.snapshot === null && rd.entries.length === 0;
}

/** What a write writes, for the operator. */
function describe(w: StoreWrite): string {
  if (w.kind === 'compact') return `Raft group ${w.group}'s snapshot at index ${w.snapshot.index} (${w.snapshot.data.length} bytes)`;
  const rd = w.batch;
  const what = [
    rd.snapshot !== null ? `a snapshot at index ${rd.snapshot.index}` : '',
    rd.entries.length > 0 ? `entries ${rd.entries[0]!.index}..${rd.entries[rd.entries.length - 1]!.index} (${rd.entries.reduce((n, e) => n + e.data.length, 0)} bytes)` : '',
    rd.hardState !== null ? 'the hard state' : '',
  ].filter((x) => x !== '').join(', ');
  return `Raft group ${w.group}'s ${what}`;
}

function toEntry(r: EntryRow): Entry {
  return { term: r.term, index: r.idx, kind: r.kind === 'conf' ? 'conf' : 'normal', data: r.data };
}

function parseConf(text: string, file: string, group: number): ConfState {
  const v = JSON.parse(text) as Partial<ConfState>;
  const ids = (a: unknown): a is number[] => Array.isArray(a) && a.every((x) => Number.isInteger(x));
  if (!ids(v.voters) || !ids(v.learners)) throw new Error(`${file}: group ${group}: damaged snapshot configuration ${text}`);
  return { voters: v.voters, learners: v.learners };
}

/** The groups whose log table exists in the file, ascending. */
function logGroups(db: Database.Database): number[] {
  const names = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'log\\_%' ESCAPE '\\'").all() as Array<{ name: string }>;
  return names.flatMap((r) => (LOG_TABLE_NAME.test(r.name) ? [Number(r.name.slice('log_'.length))] : [])).sort((a, b) => a - b);
}

/** Schema 1 kept every group's entries in one table keyed by (group, idx): each group's move to its own log table. */
function migrateFrom1(db: Database.Database): void {
  const groups = db.prepare('SELECT DISTINCT "group" AS g FROM entries ORDER BY g').all() as Array<{ g: number }>;
  for (const { g } of groups) {
    if (!Number.isSafeInteger(g) || g < 0) throw new Error(`Raft store schema 1: damaged group ${String(g)} in entries`);
    db.exec(LOG_SCHEMA(g));
    db.prepare(`INSERT INTO ${logTable(g)} (idx, term, kind, data, commit_index) SELECT idx, term, kind, data, 0 FROM entries WHERE "group" = ? ORDER BY idx`).run(g);
  }
  db.exec('DROP TABLE entries');
}
