// The floor's database: what one Raft persist costs at least, shared by the
// floor's commit series and the bare round's three processes.
import Database from 'better-sqlite3';

/** A database at `file`: WAL, synchronous=FULL, and its commit: a one-row transaction. */
export function floorDatabase(file: string): { db: Database.Database; commit: () => void } {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.exec('CREATE TABLE t (k INTEGER PRIMARY KEY, v BLOB)');
  const insert = db.prepare('INSERT INTO t (v) VALUES (?)');
  const value = Buffer.alloc(256, 1);
  return { db, commit: () => db.transaction(() => insert.run(value))() };
}
