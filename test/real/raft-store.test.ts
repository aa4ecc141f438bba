// The real host's Raft store: what goes in comes back (also after a reopen, as
// after a restart), the log rules of a Ready hold (suffix overwrite, snapshot
// replaces the log, compaction keeps the suffix), it agrees with the
// simulator's record file on random histories, and nothing acknowledged is
// lost when the writing process is killed with SIGKILL.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { ConfState, Entry, HardState, Snapshot } from '../../src/raft/index.js';
import { RaftStore } from '../../src/real/raft-store.js';
import { INLINE_BELOW_US, probeSyncUs, WorkerDisk, writerFor } from '../../src/real/disk-port.js';
import type { PersistBatch } from '../../src/host/ports.js';
import { loadBootState, type RaftRecord } from '../../src/sim/raft-storage.js';
import { CHILD_GROUP, childData } from './raft-store-child.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const tmp = mkdtempSync(path.join(os.tmpdir(), 'gallocy-raft-store-'));
let dbs = 0;
const newFile = (): string => path.join(tmp, `db-${++dbs}`, 'raft.sqlite');

const GENESIS: ConfState = { voters: [1, 2, 3], learners: [] };
const ent = (index: number, term: number, data = `e${index}t${term}`): Entry => ({ term, index, kind: 'normal', data });
const range = (from: number, to: number, term: number): Entry[] =>
  Array.from({ length: to - from + 1 }, (_, i) => ent(from + i, term));
const snap = (index: number, term: number, data = `s${index}`): Snapshot => ({ index, term, conf: { voters: [1, 2], learners: [3] }, data });
const indexes = (es: readonly Entry[]): number[] => es.map((e) => e.index);

test('a new store is empty: the genesis configuration and a zero hard state', () => {
  const store = RaftStore.open(newFile());
  assert.equal(store.load(1, GENESIS), {
    hardState: { term: 0, vote: 0, commit: 0 }, snapshot: null, entries: [], conf: GENESIS, applied: 0,
  });
  assert.equal(store.groups(), []);
  store.close();
});

test('each open of a store may count a start of its host: 1, 2, 3 across reopenings (allocation ids of each start are its own)', () => {
  const file = newFile();
  for (const expected of [1, 2, 3]) {
    const store = RaftStore.open(file);
    assert.is(store.nextIncarnation(), expected);
    store.close();
  }
});

test('round trip: hard state and entries of several groups come back as written, groups apart', () => {
  const store = RaftStore.open(newFile());
  const conf: Entry = { term: 1, index: 2, kind: 'conf', data: '{"type":"addNode","node":4}' };
  store.persist(7, { hardState: { term: 1, vote: 2, commit: 1 }, entries: [ent(1, 1), conf], snapshot: null });
  store.persist(2, { hardState: { term: 5, vote: 0, commit: 0 }, entries: [], snapshot: null });
  store.persist(7, { hardState: null, entries: [ent(3, 1, 'é ünïcode and "quotes"\n')], snapshot: null });
  const seven = store.load(7, GENESIS);
  assert.equal(seven.hardState, { term: 1, vote: 2, commit: 1 });
  assert.equal(seven.entries, [ent(1, 1), conf, ent(3, 1, 'é ünïcode and "quotes"\n')]);
  assert.equal(store.load(2, GENESIS).hardState, { term: 5, vote: 0, commit: 0 });
  assert.equal(store.load(2, GENESIS).entries, []);
  assert.equal(store.groups(), [2, 7]);
  store.close();
});

test('an entry at index i replaces every stored entry from i on', () => {
  const store = RaftStore.open(newFile());
  store.persist(1, { hardState: null, entries: range(1, 6, 1), snapshot: null });
  store.persist(1, { hardState: null, entries: range(3, 4, 2), snapshot: null });
  const log = store.load(1, GENESIS).entries;
  assert.equal(indexes(log), [1, 2, 3, 4]);
  assert.equal(log.map((e) => e.term), [1, 1, 2, 2]);
  // Appending right after the end extends the log.
  store.persist(1, { hardState: null, entries: [ent(5, 3)], snapshot: null });
  assert.equal(store.load(1, GENESIS).entries.map((e) => e.term), [1, 1, 2, 2, 3]);
  store.close();
});

test('a gap in the log is refused and the whole persist rolls back', () => {
  const store = RaftStore.open(newFile());
  store.persist(1, { hardState: { term: 1, vote: 1, commit: 0 }, entries: range(1, 2, 1), snapshot: null });
  assert.throws(
    () => store.persist(1, { hardState: { term: 9, vote: 9, commit: 9 }, entries: [ent(5, 9)], snapshot: null }),
    /gap in the log: appending 5 after 2/,
  );
  assert.throws(
    () => store.persist(1, { hardState: { term: 9, vote: 9, commit: 9 }, entries: [ent(3, 9), ent(5, 9)], snapshot: null }),
    /not contiguous/,
  );
  const boot = store.load(1, GENESIS);
  assert.equal(boot.hardState, { term: 1, vote: 1, commit: 0 });
  assert.equal(indexes(boot.entries), [1, 2]);
  store.close();
});

test('a write rolled back with the log table it created leaves the store usable for that group', () => {
  const store = RaftStore.open(newFile(), { exclusive: true });
  // Group 3's first entry creates its table; group 4's gap rolls the whole batch back.
  assert.throws(() => store.write([
    { kind: 'persist', group: 3, batch: { hardState: null, entries: [ent(1, 1)], snapshot: null } },
    { kind: 'persist', group: 4, batch: { hardState: null, entries: [ent(5, 1)], snapshot: null } },
  ], true), /gap in the log/);
  assert.equal(store.groups(), []);
  store.persist(3, { hardState: { term: 1, vote: 1, commit: 0 }, entries: [ent(1, 1)], snapshot: null });
  assert.equal(store.load(3, GENESIS).entries, [ent(1, 1)]);
  store.close();
});

test('a snapshot from the leader replaces the whole log; entries in the same Ready follow it', () => {
  const store = RaftStore.open(newFile());
  store.persist(1, { hardState: { term: 1, vote: 1, commit: 3 }, entries: range(1, 20, 1), snapshot: null });
  store.persist(1, { hardState: { term: 2, vote: 0, commit: 3 }, entries: range(11, 12, 2), snapshot: snap(10, 2) });
  const boot = store.load(1, GENESIS);
  assert.equal(boot.snapshot, snap(10, 2));
  assert.equal(indexes(boot.entries), [11, 12]);
  // The snapshot holds committed state, so commit is at least its index; the state machine restarts from it.
  assert.is(boot.hardState.commit, 10);
  assert.is(boot.applied, 10);
  assert.is(boot.conf, GENESIS);
  // Entries the snapshot already covers are not stored again.
  store.persist(1, { hardState: null, entries: range(9, 13, 2), snapshot: null });
  assert.equal(indexes(store.load(1, GENESIS).entries), [11, 12, 13]);
  // A snapshot alone leaves an empty log after it.
  store.persist(1, { hardState: null, entries: [], snapshot: snap(30, 3) });
  assert.equal(store.load(1, GENESIS).entries, []);
  assert.equal(store.load(1, GENESIS).snapshot?.index, 30);
  store.close();
});

test('compaction stores the snapshot and drops the entries it covers, keeping the suffix', () => {
  const store = RaftStore.open(newFile());
  store.persist(4, { hardState: { term: 1, vote: 1, commit: 8 }, entries: range(1, 10, 1), snapshot: null });
  store.compact(4, snap(6, 1, 'state@6'));
  let boot = store.load(4, GENESIS);
  assert.equal(boot.snapshot, snap(6, 1, 'state@6'));
  assert.equal(indexes(boot.entries), [7, 8, 9, 10]);
  assert.is(boot.hardState.commit, 8);
  // An older snapshot changes nothing.
  store.compact(4, snap(3, 1, 'old'));
  assert.equal(store.load(4, GENESIS).snapshot, snap(6, 1, 'state@6'));
  // Appending continues after the compacted prefix.
  store.persist(4, { hardState: null, entries: range(11, 12, 1), snapshot: null });
  assert.equal(indexes(store.load(4, GENESIS).entries), [7, 8, 9, 10, 11, 12]);
  // A suffix that does not continue the snapshot's history (term differs at its index) goes with the prefix.
  store.compact(4, snap(9, 7));
  boot = store.load(4, GENESIS);
  assert.is(boot.snapshot?.index, 9);
  assert.equal(boot.entries, []);
  store.close();
});

test('reopening after close gives the same BootState, as a restarted host would see', () => {
  const file = newFile();
  const store = RaftStore.open(file);
  store.persist(1, { hardState: { term: 3, vote: 2, commit: 14 }, entries: range(1, 15, 3), snapshot: null });
  store.compact(1, snap(12, 3));
  store.persist(2, { hardState: { term: 1, vote: 1, commit: 0 }, entries: range(1, 2, 1), snapshot: null });
  const before = [store.load(1, GENESIS), store.load(2, GENESIS)];
  store.close();
  assert.throws(() => store.load(1, GENESIS), /closed/);
  store.close(); // a second close is harmless

  // The file itself says WAL (journal_mode is persistent), whoever opens it.
  const raw = new Database(file, { readonly: true });
  assert.is(raw.pragma('journal_mode', { simple: true }), 'wal');
  raw.close();

  const again = RaftStore.open(file);
  assert.equal([again.load(1, GENESIS), again.load(2, GENESIS)], before);
  assert.equal(again.groups(), [1, 2]);
  again.close();
});

test('a file from a newer schema version is refused, not misread', () => {
  const file = newFile();
  RaftStore.open(file).close();
  const raw = new Database(file);
  raw.pragma('user_version = 99');
  raw.close();
  assert.throws(() => RaftStore.open(file), /schema version 99 is newer/);
});

test('a Ready that only moves the commit index leaves the hard state row alone and keeps the commit beside its entries', () => {
  const file = newFile();
  const store = RaftStore.open(file, { exclusive: true });
  store.persist(1, { hardState: { term: 2, vote: 1, commit: 0 }, entries: range(1, 3, 2), snapshot: null });
  store.persist(1, { hardState: { term: 2, vote: 1, commit: 3 }, entries: range(4, 4, 2), snapshot: null });
  store.persist(1, { hardState: null, entries: range(5, 5, 2), snapshot: null });
  assert.equal(store.load(1, GENESIS).hardState, { term: 2, vote: 1, commit: 3 });
  // A new term is the row's again; a commit with no entry to ride on too.
  store.persist(1, { hardState: { term: 3, vote: 0, commit: 4 }, entries: range(6, 6, 3), snapshot: null });
  store.persist(1, { hardState: { term: 3, vote: 0, commit: 6 }, entries: [], snapshot: null, mustSync: false });
  store.close();
  const raw = new Database(file, { readonly: true });
  try {
    assert.equal(raw.prepare('SELECT term, vote, commit_index FROM hard_state WHERE "group" = 1').get(), { term: 3, vote: 0, commit_index: 6 });
    assert.equal(raw.prepare('SELECT idx, commit_index FROM log_1 ORDER BY idx').all().map((r) => Object.values(r as object)), [[1, 0], [2, 0], [3, 0], [4, 3], [5, 3], [6, 4]]);
  } finally {
    raw.close();
  }
  const again = RaftStore.open(file, { exclusive: true });
  assert.equal(again.load(1, GENESIS).hardState, { term: 3, vote: 0, commit: 6 });
  // A compaction that drops the whole log keeps a commit index that lived beside it.
  again.persist(1, { hardState: { term: 3, vote: 0, commit: 7 }, entries: range(7, 8, 3), snapshot: null });
  again.compact(1, snap(7, 99));
  assert.equal(again.load(1, GENESIS).hardState, { term: 3, vote: 0, commit: 7 });
  again.close();
});

test('a file of schema 1 (one entries table for all groups) is brought to schema 2 as it opens, and reads back the same', () => {
  const file = newFile();
  mkdirSync(path.dirname(file), { recursive: true });
  const old = new Database(file);
  old.pragma('journal_mode = WAL');
  old.exec(`
    CREATE TABLE hard_state ("group" INTEGER PRIMARY KEY, term INTEGER NOT NULL, vote INTEGER NOT NULL, commit_index INTEGER NOT NULL);
    CREATE TABLE entries ("group" INTEGER NOT NULL, idx INTEGER NOT NULL, term INTEGER NOT NULL, kind TEXT NOT NULL CHECK (kind IN ('normal', 'conf')), data TEXT NOT NULL, PRIMARY KEY ("group", idx));
    CREATE TABLE incarnations (only INTEGER PRIMARY KEY CHECK (only = 1), count INTEGER NOT NULL);
    CREATE TABLE snapshots ("group" INTEGER PRIMARY KEY, idx INTEGER NOT NULL, term INTEGER NOT NULL, conf TEXT NOT NULL, data TEXT NOT NULL);
    INSERT INTO hard_state VALUES (0, 2, 1, 2), (3, 1, 1, 1);
    INSERT INTO entries VALUES (0, 1, 1, 'normal', ''), (0, 2, 2, 'conf', '{"type":"addNode","node":4}'), (3, 1, 1, 'normal', 'x');
    INSERT INTO incarnations VALUES (1, 5);
    INSERT INTO snapshots VALUES (5, 9, 2, '{"voters":[1],"learners":[]}', 'state');
  `);
  old.pragma('user_version = 1');
  old.close();
  const store = RaftStore.open(file, { exclusive: true });
  assert.equal(store.groups(), [0, 3, 5]);
  assert.equal(store.load(0, GENESIS), {
    hardState: { term: 2, vote: 1, commit: 2 }, snapshot: null, conf: GENESIS, applied: 0,
    entries: [{ term: 1, index: 1, kind: 'normal', data: '' }, { term: 2, index: 2, kind: 'conf', data: '{"type":"addNode","node":4}' }],
  });
  assert.equal(store.load(3, GENESIS).entries, [{ term: 1, index: 1, kind: 'normal', data: 'x' }]);
  assert.equal(store.load(5, GENESIS).snapshot, { index: 9, term: 2, conf: { voters: [1], learners: [] }, data: 'state' });
  assert.is(store.nextIncarnation(), 6);
  store.persist(3, { hardState: { term: 1, vote: 1, commit: 2 }, entries: range(2, 2, 1), snapshot: null });
  store.close();
  const raw = new Database(file, { readonly: true });
  try {
    assert.is(raw.pragma('user_version', { simple: true }), 2);
    assert.is((raw.prepare("SELECT COUNT(*) AS n FROM sqlite_master WHERE name = 'entries'").get() as { n: number }).n, 0, 'the old table is gone');
  } finally {
    raw.close();
  }
  const again = RaftStore.open(file);
  assert.equal(again.load(3, GENESIS).hardState, { term: 1, vote: 1, commit: 2 });
  again.close();
});

// Random histories, compared with the simulator's record file (loadBootState),
// which is the reference for what a restart must see.
type Op =
  | { t: 'append'; at: number; n: number; term: number; hs: boolean }
  | { t: 'snapshot'; ahead: number; term: number; n: number }
  | { t: 'compact'; at: number; wrongTerm: boolean };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ t: fc.constant('append' as const), at: fc.nat(50), n: fc.integer({ min: 1, max: 4 }), term: fc.integer({ min: 1, max: 6 }), hs: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('snapshot' as const), ahead: fc.nat(4), term: fc.integer({ min: 1, max: 6 }), n: fc.nat(3) }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('compact' as const), at: fc.nat(50), wrongTerm: fc.boolean() }) },
);

// Exclusive: the disk worker's connection, which keeps each group's log bounds in memory instead of asking SQLite.
for (const exclusive of [false, true]) test(`on random histories the store (exclusive: ${exclusive}) rebuilds what the simulator's record file rebuilds, also after a reopen`, () => {
  fc.assert(
    fc.property(fc.array(opArb, { minLength: 1, maxLength: 25 }), (ops) => {
      const file = newFile();
      let store = RaftStore.open(file, { exclusive });
      const records: RaftRecord[] = [];
      try {
        for (const [k, op] of ops.entries()) {
          const model = loadBootState(records, GENESIS);
          const snapIndex = model.snapshot?.index ?? 0;
          const last = model.entries.at(-1)?.index ?? snapIndex;
          if (op.t === 'append') {
            // As Raft writes: no append rewrites a committed entry and the commit index never goes
            // down (the store keeps it beside the newest entry and reads back the larger one).
            const committed = Math.min(last, Math.max(snapIndex, model.hardState.commit));
            const from = committed + 1 + (op.at % (last - committed + 1));
            const entries = range(from, from + op.n - 1, op.term);
            const hardState: HardState | null = op.hs ? { term: op.term, vote: 1, commit: Math.max(model.hardState.commit, from - 1) } : null;
            store.persist(1, { hardState, entries, snapshot: null });
            records.push({ t: 'ents', e: entries });
            if (hardState) records.push({ t: 'hs', hs: hardState });
          } else if (op.t === 'snapshot') {
            const s = snap(Math.max(snapIndex + 1, last + op.ahead), op.term, `leader-${k}`);
            const entries = range(s.index + 1, s.index + op.n, op.term);
            store.persist(1, { hardState: null, entries, snapshot: s });
            records.push({ t: 'snap', s }, { t: 'ents', e: entries });
          } else {
            if (last === snapIndex) continue; // nothing to compact
            const at = snapIndex + 1 + (op.at % (last - snapIndex));
            const term = model.entries.find((e) => e.index === at)!.term + (op.wrongTerm ? 100 : 0);
            const s = snap(at, term, `app-${k}`);
            store.compact(1, s);
            // The simulator writes a compaction as the snapshot followed by the suffix it keeps.
            const kept = op.wrongTerm ? [] : model.entries.filter((e) => e.index > at);
            records.push({ t: 'snap', s }, { t: 'ents', e: kept });
          }
          assert.equal(store.load(1, GENESIS), loadBootState(records, GENESIS), `after op ${k}`);
        }
        store.close();
        store = RaftStore.open(file, { exclusive });
        assert.equal(store.load(1, GENESIS), loadBootState(records, GENESIS), 'after reopen');
      } finally {
        store.close();
      }
    }),
    { numRuns: 40 },
  );
});

for (const writer of ['worker', 'inline'] as const) test(`SIGKILL mid-run loses nothing the child acknowledged (writer ${writer})`, async () => {
  const file = newFile();
  const child = spawn(process.execPath, [path.join(here, 'raft-store-child.js'), file, writer], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  // Kill once enough has been acknowledged that compactions happened too, at an arbitrary point in the loop.
  const WANT = 300;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`child acknowledged too little in 30 s: ${out.slice(-200)} ${err}`)), 30_000);
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = [...out.slice(-200).matchAll(/ack (\d+)\n/g)].at(-1);
      if (m && Number(m[1]) >= WANT) {
        clearTimeout(timer);
        child.kill('SIGKILL');
        resolve();
      }
    });
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      if (signal !== 'SIGKILL') reject(new Error(`child exited by itself (code ${code}, signal ${signal}): ${err}`));
    });
  });
  const { signal } = await exited;
  assert.is(signal, 'SIGKILL');
  // Everything the child wrote before it died; reading after exit catches lines still in the pipe.
  await new Promise<void>((r) => (child.stdout.readableEnded ? r() : child.stdout.once('end', () => r())));
  const acked = [...out.matchAll(/^ack (\d+)$/gm)].map((m) => Number(m[1]));
  assert.ok(acked.length > 0 && acked.at(-1)! >= WANT, `acknowledged: ${acked.length}`);
  assert.ok(/^compacted \d+$/m.test(out), 'the run included compactions');

  const store = RaftStore.open(file);
  const boot = store.load(CHILD_GROUP, { voters: [1], learners: [] });
  store.close();
  const snapIndex = boot.snapshot?.index ?? 0;
  const byIndex = new Map(boot.entries.map((e) => [e.index, e]));
  const lastAck = acked.at(-1)!;
  // Every index up to the last acknowledged batch is in the log itself or under the snapshot.
  for (let i = 1; i <= lastAck; i++) {
    if (i <= snapIndex) continue;
    const e = byIndex.get(i);
    assert.ok(e !== undefined, `acknowledged index ${i} is missing (snapshot ${snapIndex}, log ${boot.entries[0]?.index}..${boot.entries.at(-1)?.index})`);
    assert.is(e.data, childData(i), `data at ${i}`);
  }
  assert.ok(boot.hardState.commit >= lastAck, `commit ${boot.hardState.commit} < acknowledged ${lastAck}`);
  // Compactions the child finished are durable as well.
  const compacted = [...out.matchAll(/^compacted (\d+)$/gm)].map((m) => Number(m[1]));
  assert.ok(snapIndex >= compacted.at(-1)!, `snapshot ${snapIndex} < acknowledged compaction ${compacted.at(-1)}`);
  assert.is(boot.snapshot?.data, `snap-${snapIndex}`);
});

const readyOf = (hs: HardState | null, entries: Entry[], mustSync = true): PersistBatch => ({ hardState: hs, entries, snapshot: null, mustSync });
const nextTurn = (): Promise<void> => new Promise((r) => setImmediate(r));
const synced = (disk: WorkerDisk, group: number): Promise<void> => new Promise((r) => disk.sync(group, r));
const count = (file: string, sql: string): number => {
  const db = new Database(file, { readonly: true });
  try {
    return (db.prepare(sql).get() as { n: number }).n;
  } finally {
    db.close();
  }
};

test('the disk port hands a turn\'s Readies of all groups to its worker at once, commits them in one transaction, then does their syncs in order', async () => {
  const file = newFile();
  const store = RaftStore.open(file);
  const failures: Error[] = [];
  const disk = new WorkerDisk(store, (err) => failures.push(err));
  const done: string[] = [];
  let again: Promise<void> | null = null;
  disk.append(0, readyOf({ term: 1, vote: 1, commit: 0 }, [ent(1, 1)]));
  disk.sync(0, () => done.push('0'));
  disk.append(1, readyOf({ term: 2, vote: 3, commit: 0 }, [ent(1, 2), ent(2, 2)]));
  disk.sync(1, () => {
    done.push('1');
    // A sync's callback may write again: the next turn's batch.
    disk.append(1, readyOf({ term: 2, vote: 3, commit: 2 }, [], false));
    again = synced(disk, 1);
  });
  disk.append(2, readyOf({ term: 1, vote: 0, commit: 0 }, [], false));
  assert.equal(done, [], 'nothing is durable within the turn');
  await synced(disk, 2);
  assert.equal(done, ['0', '1']);
  assert.is(disk.stats().entries, 3);
  await again;
  const { handedOver, transactions, fsyncs, entries, entryBytes } = disk.stats();
  assert.equal({ handedOver, transactions, fsyncs }, { handedOver: 2, transactions: 2, fsyncs: 1 }, 'one fsynced commit for the turn; the commit index its callback moved, without an fsync');
  assert.equal({ entries, entryBytes }, { entries: 3, entryBytes: 'e1t1e1t2e2t2'.length });
  assert.throws(() => disk.load(1, GENESIS), /loaded after writes through the disk port/);
  // The worker holds the file: no other connection can read it until the port closes.
  assert.throws(() => count(file, 'SELECT COUNT(*) AS n FROM log_0'), /database is locked/);
  await disk.close();
  assert.is(count(file, 'SELECT (SELECT COUNT(*) FROM log_0) + (SELECT COUNT(*) FROM log_1) AS n'), 3);
  const back = RaftStore.open(file);
  assert.equal(back.load(1, GENESIS).hardState, { term: 2, vote: 3, commit: 2 });
  assert.equal(indexes(back.load(1, GENESIS).entries), [1, 2]);
  assert.equal(back.load(2, GENESIS).hardState, { term: 1, vote: 0, commit: 0 });
  back.close();
  assert.equal(failures, []);
});

test('group commit: turns that arrive while the worker is busy share one transaction and one fsync; a compaction keeps its place among them', async () => {
  const file = newFile();
  const store = RaftStore.open(file);
  const disk = new WorkerDisk(store, (err) => assert.unreachable(err.message));
  const TURNS = 6;
  const acked: number[] = [];
  // Handed over long before the worker thread has even opened the database (tens of ms): all queue behind the first.
  for (let i = 1; i <= TURNS; i++) {
    disk.append(1, readyOf({ term: 1, vote: 1, commit: i }, [ent(i, 1)]));
    disk.sync(1, () => acked.push(i));
    if (i === 4) disk.compact(1, snap(3, 1, 'state@3'));
    await Promise.resolve();
  }
  await synced(disk, 1);
  assert.equal(acked, [1, 2, 3, 4, 5, 6]);
  const stats = disk.stats();
  assert.is(stats.handedOver, TURNS);
  assert.ok(stats.fsyncs < TURNS && stats.transactions < TURNS, `fewer commits than turns: ${JSON.stringify(stats)}`);
  await disk.close();
  const back = RaftStore.open(file);
  const boot = back.load(1, GENESIS);
  back.close();
  assert.equal(boot.snapshot, snap(3, 1, 'state@3'));
  assert.equal(indexes(boot.entries), [4, 5, 6]);
  assert.is(boot.hardState.commit, 6);
});

for (const writer of ['worker', 'inline'] as const) {
  test(`the disk port, writer ${writer}: a failed write (a gap: a bug) rolls back its whole batch, reports it once, runs none of its syncs and ends the port`, async () => {
    const file = newFile();
    const store = RaftStore.open(file);
    const failures: Error[] = [];
    const disk = new WorkerDisk(store, (err) => failures.push(err), undefined, writer);
    disk.append(0, readyOf({ term: 1, vote: 0, commit: 0 }, [ent(1, 1)]));
    await synced(disk, 0);
    let ran = false;
    disk.append(0, readyOf({ term: 1, vote: 0, commit: 1 }, [], false));
    disk.append(1, readyOf(null, [ent(5, 1)]));
    disk.sync(1, () => (ran = true));
    while (failures.length === 0) await nextTurn();
    assert.match(failures[0]!.message, /gap in the log: appending 5 after 0/);
    assert.not.ok(ran, 'the sync of a failed batch never runs');
    assert.throws(() => disk.append(0, readyOf({ term: 2, vote: 0, commit: 1 }, [])), /gap in the log/);
    await disk.close();
    assert.is(failures.length, 1);
    const back = RaftStore.open(file);
    assert.equal(back.load(0, GENESIS).hardState, { term: 1, vote: 0, commit: 0 }, 'the commit index of the failed batch is not there');
    back.close();
  });
}

test('the disk port reads the store once, when it opens: each group on disk loads once, a group with nothing on disk loads empty', async () => {
  const file = newFile();
  const before = RaftStore.open(file);
  before.persist(4, { hardState: { term: 2, vote: 1, commit: 1 }, entries: [ent(1, 2)], snapshot: null });
  before.close();
  const disk = new WorkerDisk(RaftStore.open(file), (err) => assert.unreachable(err.message));
  assert.equal(disk.groups(), [4]);
  const conf: ConfState = { voters: [4, 5], learners: [] };
  assert.equal(disk.load(4, conf), { hardState: { term: 2, vote: 1, commit: 1 }, snapshot: null, entries: [ent(1, 2)], conf, applied: 0 });
  assert.throws(() => disk.load(4, conf), /group 4 loaded twice/);
  assert.equal(disk.load(9, conf), { hardState: { term: 0, vote: 0, commit: 0 }, snapshot: null, entries: [], conf, applied: 0 });
  disk.append(4, readyOf({ term: 2, vote: 1, commit: 2 }, [ent(2, 2)]));
  await synced(disk, 4);
  await disk.close();
  const back = RaftStore.open(file);
  assert.equal(indexes(back.load(4, GENESIS).entries), [1, 2]);
  back.close();
});

for (const writer of ['worker', 'inline'] as const) {
  test(`closing the disk port, writer ${writer}, writes what the last turn handed over, and nothing after`, async () => {
    const file = newFile();
    const disk = new WorkerDisk(RaftStore.open(file), (err) => assert.unreachable(err.message), undefined, writer);
    disk.append(3, readyOf({ term: 4, vote: 2, commit: 0 }, [ent(1, 4)]));
    await disk.close();
    assert.throws(() => disk.append(3, readyOf(null, [ent(2, 4)])), /closed/);
    const back = RaftStore.open(file);
    assert.equal(indexes(back.load(3, GENESIS).entries), [1]);
    back.close();
  });
}

test('writer inline: a turn\'s Readies of all groups are committed in one transaction at the end of the turn, on this thread, then their syncs run in order', async () => {
  const file = newFile();
  const failures: Error[] = [];
  const disk = new WorkerDisk(RaftStore.open(file), (err) => failures.push(err), undefined, 'inline');
  const done: string[] = [];
  disk.append(0, readyOf({ term: 1, vote: 1, commit: 0 }, [ent(1, 1)]));
  disk.sync(0, () => done.push('0'));
  disk.append(1, readyOf({ term: 2, vote: 3, commit: 0 }, [ent(1, 2), ent(2, 2)]));
  let again: Promise<void> | null = null;
  disk.sync(1, () => {
    done.push('1');
    // A sync's callback may write again: the next turn's batch.
    disk.append(1, readyOf({ term: 2, vote: 3, commit: 2 }, [], false));
    again = synced(disk, 1);
  });
  assert.equal(done, [], 'nothing is durable within the turn');
  // Two microtasks later (behind the transport's end-of-turn write), before any I/O of the next turn.
  await Promise.resolve();
  await Promise.resolve();
  await Promise.resolve();
  assert.equal(done, ['0', '1']);
  await again;
  const { handedOver, transactions, fsyncs, entries, writer } = disk.stats();
  assert.equal({ handedOver, transactions, fsyncs, entries, writer }, { handedOver: 2, transactions: 2, fsyncs: 1, entries: 3, writer: 'inline' });
  // The port's own connection holds the file exclusively, as the worker does.
  assert.throws(() => count(file, 'SELECT COUNT(*) AS n FROM log_0'), /database is locked/);
  await disk.close();
  const back = RaftStore.open(file);
  assert.equal(back.load(1, GENESIS).hardState, { term: 2, vote: 3, commit: 2 });
  assert.equal(indexes(back.load(1, GENESIS).entries), [1, 2]);
  back.close();
  assert.equal(failures, []);
});

test('writerFor: the environment forces a writer or is refused; otherwise the data directory\'s fsync decides', () => {
  const dir = path.dirname(newFile());
  mkdirSync(dir, { recursive: true });
  assert.equal(writerFor(dir, 'worker'), { writer: 'worker', syncUs: null });
  assert.equal(writerFor(dir, 'inline'), { writer: 'inline', syncUs: null });
  assert.throws(() => writerFor(dir, 'fast'), /GALLOCY_DISK_WRITER=fast: expected worker, inline or auto/);
  const auto = writerFor(dir, 'auto');
  assert.ok(auto.syncUs !== null && auto.syncUs >= 0);
  assert.is(auto.writer, auto.syncUs! < INLINE_BELOW_US ? 'inline' : 'worker');
  assert.ok(probeSyncUs(dir, 3) >= 0);
  assert.equal(readdirSync(dir), [], 'the probe file is removed');
});

test.after(() => rmSync(tmp, { recursive: true, force: true }));

test.run();
