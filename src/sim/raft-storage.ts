// Raft's durable state as records in a file of the simulated disk: hard state,
// appended entries and snapshots, replayed in order at restart. The same record
// shapes could go to a real file; only the disk differs.
import type { BootState, ConfState, Entry, HardState, Snapshot } from '../raft/index.js';
import type { DiskPort, PersistBatch } from '../host/ports.js';
import { DiskCorruptionError } from './disk.js';
import type { SimDisk } from './disk.js';

/**
 * A record of the file. Records hold the very objects the Ready carried: the
 * core never changes an entry, snapshot or hard state once handed out, so a
 * restart may share them as it would share copies parsed from bytes.
 */
export type RaftRecord =
  | { readonly t: 'hs'; readonly hs: HardState }
  | { readonly t: 'ents'; readonly e: readonly Entry[] }
  | { readonly t: 'snap'; readonly s: Snapshot };

export function encodeRecord(r: RaftRecord): string {
  if (r.t !== 'ents') return JSON.stringify(r);
  return `{"t":"ents","e":[${r.e.map(encodeEntry).join(',')}]}`;
}

/**
 * Each entry's JSON, once: in the simulator every replica persists the very
 * same (immutable) entry object, and page contents make entries large.
 */
const encoded = new WeakMap<Entry, string>();

function encodeEntry(e: Entry): string {
  let s = encoded.get(e);
  if (s === undefined) {
    s = JSON.stringify(e);
    encoded.set(e, s);
  }
  return s;
}

/** Rebuilds what a restarting node knows from its file's durable records. */
export function loadBootState(records: readonly RaftRecord[], genesis: ConfState): BootState {
  let hardState: HardState = { term: 0, vote: 0, commit: 0 };
  let snapshot: Snapshot | null = null;
  let entries: Entry[] = [];
  for (const r of records) {
    if (r.t === 'hs') hardState = r.hs;
    else if (r.t === 'snap') {
      // A snapshot replaces the whole log; a compaction rewrites the entries after it.
      snapshot = r.s;
      entries = [];
    } else entries = appendEntries(entries, r.e);
  }
  if (snapshot !== null && hardState.commit < snapshot.index) {
    hardState = { ...hardState, commit: snapshot.index };
  }
  const applied = snapshot?.index ?? 0;
  return { hardState, snapshot, entries, conf: genesis, applied };
}

/** An entry at index i replaces every stored entry at i or after. */
function appendEntries(log: Entry[], add: readonly Entry[]): Entry[] {
  if (add.length === 0) return log;
  const first = add[0]!.index;
  const kept = log.length > 0 && log[0]!.index < first ? log.slice(0, first - log[0]!.index) : [];
  return kept.concat(add);
}

/**
 * Which (index, term) pairs a node has made durable: the checkers' view of its
 * disk, kept up to date on every sync and rebuilt at restart.
 */
export class DurableLog {
  snapIndex = 0;
  snapTerm = 0;
  /** terms[i] is the term of the entry at snapIndex + 1 + i. */
  private terms: number[] = [];

  get lastIndex(): number {
    return this.snapIndex + this.terms.length;
  }

  append(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    const first = entries[0]!.index;
    if (first <= this.snapIndex) {
      // Entries already covered by the snapshot are only re-confirmations.
      const skip = this.snapIndex + 1 - first;
      this.append(entries.slice(skip));
      return;
    }
    this.terms.length = Math.min(this.terms.length, first - this.snapIndex - 1);
    if (this.terms.length !== first - this.snapIndex - 1) {
      throw new Error(`durable log gap: appending ${first} after ${this.lastIndex}`);
    }
    for (const e of entries) this.terms.push(e.term);
  }

  /** A snapshot from the leader replaces the log; a local compaction keeps the suffix. */
  installSnapshot(index: number, term: number, keepSuffix: boolean): void {
    if (index <= this.snapIndex) return;
    const keep = keepSuffix && this.termAt(index) === term ? this.terms.slice(index - this.snapIndex) : [];
    this.snapIndex = index;
    this.snapTerm = term;
    this.terms = keep;
  }

  termAt(index: number): number | null {
    if (index === this.snapIndex) return this.snapTerm;
    if (index < this.snapIndex || index > this.lastIndex) return null;
    return this.terms[index - this.snapIndex - 1]!;
  }

  /** True if the entry is durable here, itself or inside a snapshot. */
  holds(index: number, term: number): boolean {
    if (index <= this.snapIndex) return true;
    return this.termAt(index) === term;
  }

  static fromBoot(boot: BootState): DurableLog {
    const d = new DurableLog();
    if (boot.snapshot) {
      d.snapIndex = boot.snapshot.index;
      d.snapTerm = boot.snapshot.term;
    }
    d.append(boot.entries);
    return d;
  }
}

export interface SimRaftDiskOptions {
  /** The deliberate bug forgetVote: a restarted node forgets whom it voted for. */
  forgetVote: boolean;
  /** Makes a file's pending records durable after a simulated delay, then calls done. */
  sync(file: string, done: () => void): void;
}

/** The host runtime's disk port over a simulated disk: one record file per group. */
export class SimRaftDisk implements DiskPort {
  constructor(private readonly disk: SimDisk<RaftRecord>, private readonly opts: SimRaftDiskOptions) {}

  groups(): number[] {
    return this.disk.files().filter((f) => f.startsWith('raft-')).map((f) => Number(f.slice(5))).sort((a, b) => a - b);
  }

  load(group: number, genesis: ConfState): BootState {
    const boot = loadBootState(this.readVerified(fileOf(group)), genesis);
    if (this.opts.forgetVote) boot.hardState = { ...boot.hardState, vote: 0 };
    return boot;
  }

  /**
   * A read the checksums reject is read again, as a real disk's driver
   * would; a file that keeps failing stops the boot (DiskCorruptionError).
   */
  private readVerified(file: string): RaftRecord[] {
    for (let attempt = 1; ; attempt++) {
      try {
        return this.disk.read(file);
      } catch (err) {
        if (!(err instanceof DiskCorruptionError) || attempt === READ_ATTEMPTS) throw err;
      }
    }
  }

  append(group: number, b: PersistBatch): void {
    const file = fileOf(group);
    if (b.snapshot !== null) this.disk.append(file, { t: 'snap', s: b.snapshot });
    if (b.entries.length > 0) this.disk.append(file, { t: 'ents', e: b.entries });
    if (b.hardState !== null) this.disk.append(file, { t: 'hs', hs: b.hardState });
  }

  sync(group: number, done: () => void): void {
    this.opts.sync(fileOf(group), done);
  }

  /** A rewrite of the whole file (atomic, a rename), synced at once. */
  compact(group: number, snapshot: Snapshot, hardState: HardState, rest: readonly Entry[]): void {
    const records: RaftRecord[] = [{ t: 'snap', s: snapshot }, { t: 'hs', hs: hardState }];
    if (rest.length > 0) records.push({ t: 'ents', e: rest });
    const file = fileOf(group);
    this.disk.rewrite(file, records);
    this.disk.sync(file);
  }
}

const READ_ATTEMPTS = 3;

/** File names by group, made once: every append and sync names its file. */
const fileNames: string[] = [];

function fileOf(group: number): string {
  return (fileNames[group] ??= `raft-${group}`);
}
