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

/** Bumped when the tables change shape; a file from a newer version is refused rather than misread. */
const SCHEMA_VERSION = 1;

// "group" is an SQL keyword, hence the quotes; idx/term/commit_index avoid the
// keywords INDEX and COMMIT. Entries are not WITHOUT ROWID: their data carries
// page contents, and large rows are what rowid tables are for.
const SCHEMA = `
CREATE TABLE IF NOT EXISTS hard_state (
  "group" INTEGER PRIMARY KEY,
  term INTEGER NOT NULL,
  vote INTEGER NOT NULL,
  commit_index INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS entries (
  "group" INTEGER NOT NULL,
  idx INTEGER NOT NULL,
  term INTEGER NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('normal', 'conf')),
  data TEXT NOT NULL,
  PRIMARY KEY ("group", idx)
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

interface HardStateRow { term: number; vote: number; commit_index: number }
interface EntryRow { idx: number; term: number; kind: string; data: string }
interface SnapshotRow { idx: number; term: number; conf: string; data: string }

type Statement = Database.Statement<unknown[], unknown>;

export class RaftStore {
  private closed = false;
  // Prepared once: persist runs for every Ready, so parsing SQL each time would show.
  private readonly st: {
    getHard: Statement;
    putHard: Statement;
    getSnap: Statement;
    snapIndex: Statement;
    putSnap: Statement;
    entries: Statement;
    lastIndex: Statement;
    termAt: Statement;
    putEntry: Statement;
    deleteFrom: Statement;
    deleteThrough: Statement;
    deleteAll: Statement;
    groups: Statement;
  };
  /**
   * Each group's snapshot index and last log index, as the store holds them:
   * kept by the writer that holds the file exclusively (open's `exclusive`),
   * which no one else can change under it, so an append needs no queries to
   * check that it continues the log. Dropped when a transaction fails (it
   * was rolled back).
   */
  private readonly bounds: Map<number, { snap: number; last: number }> | null;
  private readonly writeTx: (writes: readonly StoreWrite[]) => void;

  private constructor(private readonly db: Database.Database, readonly file: string, exclusive: boolean) {
    this.bounds = exclusive ? new Map() : null;
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
      entries: db.prepare('SELECT idx, term, kind, data FROM entries WHERE "group" = ? ORDER BY idx'),
      lastIndex: db.prepare('SELECT MAX(idx) AS last FROM entries WHERE "group" = ?'),
      termAt: db.prepare('SELECT term FROM entries WHERE "group" = ? AND idx = ?'),
      putEntry: db.prepare('INSERT INTO entries ("group", idx, term, kind, data) VALUES (?, ?, ?, ?, ?)'),
      deleteFrom: db.prepare('DELETE FROM entries WHERE "group" = ? AND idx >= ?'),
      deleteThrough: db.prepare('DELETE FROM entries WHERE "group" = ? AND idx <= ?'),
      deleteAll: db.prepare('DELETE FROM entries WHERE "group" = ?'),
      groups: db.prepare(
        'SELECT "group" AS g FROM hard_state UNION SELECT "group" FROM snapshots UNION SELECT "group" FROM entries ORDER BY g',
      ),
    };
    this.writeTx = db.transaction((writes: readonly StoreWrite[]) => {
      for (const w of writes) {
        if (w.kind === 'persist') this.persistIn(w.group, w.batch);
        else this.compactIn(w.group, w.snapshot);
      }
    });
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
      db.exec(SCHEMA);
      if (version < SCHEMA_VERSION) db.pragma(`user_version = ${SCHEMA_VERSION}`);
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
    const entries = (this.st.entries.all(group) as EntryRow[]).map(toEntry);
    // Every write keeps the log contiguous after the snapshot; anything else is a damaged file.
    const first = (snapshot?.index ?? 0) + 1;
    entries.forEach((e, i) => {
      if (e.index !== first + i) {
        throw new Error(`${this.file}: group ${group}: log is not contiguous: expected index ${first + i}, found ${e.index}`);
      }
    });
    let hardState: HardState = hs ? { term: hs.term, vote: hs.vote, commit: hs.commit_index } : { term: 0, vote: 0, commit: 0 };
    if (snapshot !== null && hardState.commit < snapshot.index) hardState = { ...hardState, commit: snapshot.index };
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
      this.bounds?.clear(); // rolled back: what they said may not hold any more
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
    return (this.st.groups.all() as Array<{ g: number }>).map((r) => r.g);
  }

  /** Closes the database (checkpointing the WAL); later calls other than close throw. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
  }

  private persistIn(group: number, rd: PersistBatch): void {
    // Order as etcd's storage: the snapshot first, then the entries that follow it, then the hard state.
    if (rd.snapshot !== null) {
      this.st.deleteAll.run(group);
      this.putSnapshot(group, rd.snapshot);
      this.bounds?.set(group, { snap: rd.snapshot.index, last: rd.snapshot.index });
    }
    if (rd.entries.length > 0) this.append(group, rd.entries);
    if (rd.hardState !== null) {
      const hs = rd.hardState;
      this.st.putHard.run(group, hs.term, hs.vote, hs.commit);
    }
  }

  private append(group: number, entries: readonly Entry[]): void {
    const b = this.boundsOf(group);
    // Entries the snapshot already covers are re-confirmations (as in DurableLog.append): nothing to store.
    const start = entries.findIndex((e) => e.index > b.snap);
    if (start < 0) return;
    const add = entries.slice(start);
    const first = add[0]!.index;
    add.forEach((e, i) => {
      if (e.index !== first + i) throw new Error(`persist: group ${group}: entries not contiguous at ${e.index} (expected ${first + i})`);
    });
    // A hole would make load() refuse the file; refusing the write keeps the damage at the bug that caused it.
    if (first > b.last + 1) throw new Error(`persist: group ${group}: gap in the log: appending ${first} after ${b.last}`);
    if (first <= b.last) this.st.deleteFrom.run(group, first); // a new leader's suffix replaces ours
    for (const e of add) this.st.putEntry.run(group, e.index, e.term, e.kind, e.data);
    this.bounds?.set(group, { snap: b.snap, last: add[add.length - 1]!.index });
  }

  private compactIn(group: number, snapshot: Snapshot): void {
    const b = this.boundsOf(group);
    if (snapshot.index <= b.snap) return;
    const at = this.st.termAt.get(group, snapshot.index) as { term: number } | undefined;
    // Keep the suffix only if it continues this snapshot's history (as DurableLog.installSnapshot does).
    const keep = at !== undefined && at.term === snapshot.term;
    if (keep) this.st.deleteThrough.run(group, snapshot.index);
    else this.st.deleteAll.run(group);
    this.putSnapshot(group, snapshot);
    this.bounds?.set(group, { snap: snapshot.index, last: keep ? b.last : snapshot.index });
  }

  /** The group's snapshot index and last log index (the snapshot's when the log after it is empty). */
  private boundsOf(group: number): { snap: number; last: number } {
    const known = this.bounds?.get(group);
    if (known !== undefined) return known;
    const snap = this.snapshotIndex(group);
    const b = { snap, last: (this.st.lastIndex.get(group) as { last: number | null }).last ?? snap };
    this.bounds?.set(group, b);
    return b;
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
