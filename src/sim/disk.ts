// A simulated disk of append-only record files, with pending vs durable
// writes.
//
// Model, per file:
//   durable   records that survive a crash
//   pending   an optional whole-file replacement (rewrite) plus appended
//             records; visible to readVisible(), made durable by sync(),
//             lost by crash()
// Records are values; the disk turns one into its bytes (the encoder given
// at construction) only when a fault needs them: a crash tearing it, a read
// flipping one of its bits, or exploration hashing the files. Appends and
// restarts are on the simulator's hot path, and the bytes of an intact record
// are exactly what was appended, so encoding every record (and parsing it
// back at each restart) would only cost time.
//
// Every record carries a 32-bit checksum (FNV-1a over the UTF-16 code units,
// which detects any single changed code unit) of what was appended. It never
// needs computing: an intact record matches its own by construction, and the
// two ways a record can be damaged are both ones the checksum always detects
// (a strict prefix whose sum crash() makes differ, and one flipped bit). So a
// damaged record is marked as such, with the same outcome as comparing sums.
//
// Faults:
//   crash(rng, { tornWrites: true }): for each file with pending appends, with
//     probability 1/2 a truncated fragment of the first pending record (the
//     bytes physically next to the durable tail) survives. Its checksum no
//     longer matches; read() drops it (and truncates it away, as log
//     recovery does) and counts it in stats.tornDropped.
//   corruptRead(p, rng): each read() of a non-empty file, with probability p,
//     flips one bit of one record as it is read. The checksum catches it and
//     read() throws DiskCorruptionError(file, recordIndex); the stored data is
//     not damaged, so a retry may succeed.
//
// File creation and remove() are metadata operations that are durable at
// once, except that a file that was never synced does not survive a crash.
// File names are iterated in sorted order wherever order matters.
import type { Rng } from './rng.js';

export class DiskCorruptionError extends Error {
  readonly file: string;
  readonly recordIndex: number;
  constructor(file: string, recordIndex: number) {
    super(`disk corruption in ${file} at record ${recordIndex}`);
    this.name = 'DiskCorruptionError';
    this.file = file;
    this.recordIndex = recordIndex;
  }
}

export interface DiskStats {
  appends: number;
  rewrites: number;
  syncs: number;
  crashes: number;
  /** Pending records discarded by crashes. */
  lostRecords: number;
  /** Torn fragments left behind by crashes. */
  tornWrites: number;
  /** Torn / corrupt tail records dropped by read(). */
  tornDropped: number;
  /** Corrupted reads detected (DiskCorruptionError thrown). */
  corruptReads: number;
}

/** A stored record: an intact value, or the torn fragment of one (bytes only). */
interface Rec<R> {
  /** The record as appended; null for a torn fragment, whose checksum cannot match. */
  readonly value: R | null;
  /** Its bytes: made on first need for an intact record, the fragment's for a torn one. */
  bytes: string | null;
}

interface SimFile<R> {
  durable: Rec<R>[];
  /** Pending whole-file replacement, or null. */
  base: Rec<R>[] | null;
  appends: Rec<R>[];
  /** Ever synced (survives a crash as a file, possibly empty). */
  durableExists: boolean;
  /** The last durable record is a torn fragment not yet dropped. */
  tornTail: boolean;
}

/** 32-bit FNV-1a over the UTF-16 code units of s: the records' checksum, whose guarantee the model above rests on. */
export function checksum(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  }
  return h >>> 0;
}

/**
 * A disk of record files. R is what a record holds (strings by default); the
 * encoder gives its bytes, which faults act on.
 */
export class SimDisk<R = string> {
  readonly stats: DiskStats = {
    appends: 0,
    rewrites: 0,
    syncs: 0,
    crashes: 0,
    lostRecords: 0,
    tornWrites: 0,
    tornDropped: 0,
    corruptReads: 0,
  };
  private readonly fs = new Map<string, SimFile<R>>();
  private corruptP = 0;
  private corruptRng: Rng | null = null;

  constructor(private readonly encode: (record: R) => string = String) {}

  /** Append a record (pending until sync). Creates the file if needed. */
  append(file: string, record: R): void {
    this.open(file).appends.push({ value: record, bytes: null });
    this.stats.appends++;
  }

  /** Make pending writes durable: one file, or all files if none given. */
  sync(file?: string): void {
    this.stats.syncs++;
    if (file !== undefined) {
      const f = this.fs.get(file);
      if (f !== undefined) syncFile(f);
      return;
    }
    for (const f of this.fs.values()) syncFile(f);
  }

  /**
   * Pending replacement of the whole file (for compaction). It becomes
   * durable at the next sync; a crash before that keeps the old durable
   * contents. Appends made after the rewrite follow it.
   */
  rewrite(file: string, records: readonly R[]): void {
    const f = this.open(file);
    f.base = records.map((value) => ({ value, bytes: null }));
    f.appends = [];
    this.stats.rewrites++;
  }

  /** Delete a file, durably and at once. */
  remove(file: string): void {
    this.fs.delete(file);
  }

  /** Names of existing files, sorted. */
  files(): string[] {
    return [...this.fs.keys()].sort();
  }

  exists(file: string): boolean {
    return this.fs.has(file);
  }

  /**
   * The durable records of a file, in order, checksum-verified. A corrupt
   * record at the tail (a torn write) is dropped, truncated away and counted.
   * A corrupt record elsewhere, or an injected corrupted read, throws
   * DiskCorruptionError. A missing file reads as [].
   */
  read(file: string): R[] {
    const f = this.fs.get(file);
    if (f === undefined) return [];
    const recs = f.durable;
    let n = recs.length;
    if (n > 0 && recs[n - 1]!.value === null) {
      recs.pop();
      n--;
      f.tornTail = false;
      this.stats.tornDropped++;
    }
    let flipAt = -1;
    if (this.corruptP > 0 && n > 0 && this.corruptRng !== null) {
      const rng = this.corruptRng;
      if (rng.next() < this.corruptP) {
        const i = rng.int(0, n);
        const length = this.bytesOf(recs[i]!).length;
        if (length > 0) {
          // Which bit of which byte: drawn as a real flip would be, though the outcome is known.
          rng.int(0, length);
          rng.int(0, 8);
          flipAt = i;
        }
      }
    }
    const out: R[] = new Array<R>(n);
    for (let i = 0; i < n; i++) {
      const value = recs[i]!.value;
      if (i === flipAt || value === null) {
        this.stats.corruptReads++;
        throw new DiskCorruptionError(file, i);
      }
      out[i] = value;
    }
    return out;
  }

  /**
   * What a process on the live host sees: durable records overlaid with
   * pending writes (rewrite, then appends). Not checksum-verified, no faults.
   */
  readVisible(file: string): string[] {
    const f = this.fs.get(file);
    if (f === undefined) return [];
    const base = f.base ?? f.durable;
    const out: string[] = [];
    for (const r of base) out.push(this.bytesOf(r));
    for (const r of f.appends) out.push(this.bytesOf(r));
    return out;
  }

  /** Number of pending (unsynced) records in a file, or in all files. */
  pendingCount(file?: string): number {
    if (file !== undefined) {
      const f = this.fs.get(file);
      return f === undefined ? 0 : pendingOf(f);
    }
    let n = 0;
    for (const f of this.fs.values()) n += pendingOf(f);
    return n;
  }

  /**
   * Power loss: pending writes are lost; files never synced disappear. With
   * tornWrites (and an rng), a file with pending appends may keep a torn
   * fragment of its first pending record, which read() detects and drops.
   */
  crash(rng?: Rng, opts?: { tornWrites?: boolean }): void {
    this.stats.crashes++;
    const torn = opts?.tornWrites === true && rng !== undefined;
    for (const name of this.files()) {
      const f = this.fs.get(name)!;
      this.stats.lostRecords += pendingOf(f);
      const first = f.base === null ? f.appends[0] : undefined;
      f.base = null;
      f.appends = [];
      if (torn && first !== undefined && rng.bool(0.5)) {
        // A strict prefix of the record, with the checksum of the whole one,
        // which it cannot match (an empty record torn to nothing, or a 2^-32
        // collision, has its stored sum changed so that it does not).
        const bytes = this.bytesOf(first);
        const keep = bytes.length === 0 ? 0 : rng.int(0, bytes.length);
        if (f.tornTail) f.durable.pop(); // at most one torn fragment, at the tail
        f.durable.push({ value: null, bytes: bytes.slice(0, keep) });
        f.durableExists = true;
        f.tornTail = true;
        this.stats.tornWrites++;
      }
      if (!f.durableExists) this.fs.delete(name);
    }
  }

  /**
   * Inject corrupted reads: from now on each read() of a non-empty file
   * flips a bit with probability p (0 turns it off).
   */
  corruptRead(p: number, rng: Rng): void {
    if (!(p >= 0 && p <= 1)) throw new RangeError(`SimDisk: corruptRead p ${p} not in [0, 1]`);
    this.corruptP = p;
    this.corruptRng = rng;
  }

  private bytesOf(r: Rec<R>): string {
    if (r.bytes === null) r.bytes = this.encode(r.value!);
    return r.bytes;
  }

  private open(file: string): SimFile<R> {
    let f = this.fs.get(file);
    if (f === undefined) {
      f = { durable: [], base: null, appends: [], durableExists: false, tornTail: false };
      this.fs.set(file, f);
    }
    return f;
  }
}

function pendingOf<R>(f: SimFile<R>): number {
  return (f.base === null ? 0 : f.base.length) + f.appends.length;
}

function syncFile<R>(f: SimFile<R>): void {
  if (f.base !== null) {
    f.durable = f.base;
    f.base = null;
    f.tornTail = false;
  } else if (f.tornTail && f.appends.length > 0) {
    // A torn tail never read back is overwritten by the next write.
    f.durable.pop();
    f.tornTail = false;
  }
  for (const r of f.appends) f.durable.push(r);
  f.appends = [];
  f.durableExists = true;
}
