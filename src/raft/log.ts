// The replicated log as one node sees it: an optional snapshot followed by entries.
// The whole post-snapshot log lives in memory; the driver mirrors it on disk via Ready.
//
//   snapshot.index (=offset)  stable          handedOut        lastIndex
//   |-- compacted --|-- persisted --|-- in a Ready not yet advanced --|-- not yet in a Ready --|

import type { Entry, Snapshot } from './types.js';

export class RaftLog {
  /** Latest snapshot (received from a leader, or taken locally by compact()); null = none. */
  private snap: Snapshot | null;
  /**
   * The snapshot's index and term (0 without one), kept as numbers: every log
   * read starts from the offset, and a read through a snapshot that is null
   * until the first one arrives would deoptimize every caller that inlined it.
   */
  private snapIndex: number;
  private snapTerm: number;
  /** Entries with indexes offset+1 .. offset+entries.length. */
  private entries: Entry[];
  committed: number;
  /** Highest index the driver has applied (acknowledged by advance). */
  applied: number;
  /** Highest index applied or handed to the driver for applying in a Ready. */
  appliedHandedOut: number;
  /** Highest index known to be on stable storage with the same content as in memory. */
  stable: number;
  /** Highest index handed to the driver in a Ready (persisted or being persisted). */
  handedOut: number;
  /** A snapshot received from the leader, not yet handed out in a Ready. */
  pendingSnapshot: Snapshot | null = null;

  constructor(snapshot: Snapshot | null, entries: Entry[], committed: number, applied: number) {
    this.snap = snapshot;
    this.snapIndex = snapshot ? snapshot.index : 0;
    this.snapTerm = snapshot ? snapshot.term : 0;
    const off = this.snapIndex;
    // Keep only a contiguous run directly after the snapshot; a malformed boot log is cut short.
    const kept: Entry[] = [];
    for (const e of entries) {
      if (e.index <= off) continue;
      if (e.index !== off + kept.length + 1) break;
      kept.push(e);
    }
    this.entries = kept;
    const last = this.lastIndex();
    this.committed = Math.min(Math.max(committed, off), last);
    this.applied = Math.min(Math.max(applied, off), this.committed);
    this.appliedHandedOut = this.applied;
    this.stable = last;
    this.handedOut = last;
  }

  get snapshot(): Snapshot | null {
    return this.snap;
  }

  private setSnapshot(s: Snapshot): void {
    this.snap = s;
    this.snapIndex = s.index;
    this.snapTerm = s.term;
  }

  offset(): number {
    return this.snapIndex;
  }

  firstIndex(): number {
    return this.offset() + 1;
  }

  lastIndex(): number {
    return this.offset() + this.entries.length;
  }

  lastTerm(): number {
    return this.termAt(this.lastIndex()) ?? 0;
  }

  /** Term of the entry at index, the snapshot's term at its index, or null if unknown. */
  termAt(index: number): number | null {
    const off = this.offset();
    if (index === off) return this.snapTerm;
    if (index < off || index > this.lastIndex()) return null;
    return this.entries[index - off - 1]!.term;
  }

  matchTerm(index: number, term: number): boolean {
    return this.termAt(index) === term;
  }

  /** The entry at index if it is still in memory (no copy). */
  at(index: number): Entry | undefined {
    const off = this.offset();
    return index > off ? this.entries[index - off - 1] : undefined;
  }

  /** Entries [lo, hi) that are still in memory. */
  slice(lo: number, hi: number): Entry[] {
    const off = this.offset();
    const a = Math.max(lo, off + 1);
    const b = Math.min(hi, this.lastIndex() + 1);
    if (a >= b) return [];
    return this.entries.slice(a - off - 1, b - off - 1);
  }

  entryAt(index: number): Entry | null {
    const off = this.offset();
    if (index <= off || index > this.lastIndex()) return null;
    return this.entries[index - off - 1]!;
  }

  /** Raft's up-to-date rule (§5.4.1): compare last terms, then last indexes. */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const myTerm = this.lastTerm();
    return lastTerm > myTerm || (lastTerm === myTerm && lastIndex >= this.lastIndex());
  }

  /** Append entries that directly follow lastIndex (leader path). */
  appendLocal(e: Entry): void {
    this.entries.push(e);
  }

  /**
   * Follower path: entries from a leader following (prevIndex, prevTerm) which already matched.
   * Skips entries we already have, truncates at the first conflict. Refuses (and changes
   * nothing) if the conflict would be at or below the commit index: that can only come from a
   * faulty peer, and committed entries are never rewritten.
   */
  appendFromLeader(ents: Entry[]): 'appended' | 'truncated' | 'refused' {
    let i = 0;
    while (i < ents.length) {
      const e = ents[i]!;
      const t = this.termAt(e.index);
      if (t === null || t !== e.term) break;
      i++;
    }
    if (i === ents.length) return 'appended';
    const first = ents[i]!;
    if (first.index <= this.committed) return 'refused';
    if (first.index > this.lastIndex() + 1) return 'refused';
    const conflict = first.index <= this.lastIndex();
    this.truncateFrom(first.index);
    for (let j = i; j < ents.length; j++) this.entries.push(ents[j]!);
    return conflict ? 'truncated' : 'appended';
  }

  /** Drop entries >= index; storage will be overwritten by the next Ready. */
  private truncateFrom(index: number): void {
    const off = this.offset();
    this.entries.length = Math.max(0, index - off - 1);
    this.handedOut = Math.min(this.handedOut, index - 1);
    this.stable = Math.min(this.stable, index - 1);
  }

  /**
   * Largest index <= index whose term is <= term (etcd's findConflictByTerm). Used by both sides
   * of the fast log back-off to skip a whole term of conflicting entries per round trip.
   */
  findConflictByTerm(index: number, term: number): number {
    let i = Math.min(index, this.lastIndex());
    while (i > this.offset()) {
      const t = this.termAt(i);
      if (t === null || t <= term) break;
      i--;
    }
    return i;
  }

  commitTo(index: number): boolean {
    const to = Math.min(index, this.lastIndex());
    if (to > this.committed) {
      this.committed = to;
      return true;
    }
    return false;
  }

  /** Replace the whole log with a snapshot from the leader. */
  restore(s: Snapshot): void {
    this.setSnapshot(s);
    this.entries = [];
    this.committed = s.index;
    this.stable = s.index;
    this.handedOut = s.index;
    this.appliedHandedOut = Math.max(this.appliedHandedOut, s.index);
    this.pendingSnapshot = s;
  }

  /** Local compaction: the application's snapshot s covers everything <= s.index. */
  compact(s: Snapshot): void {
    const off = this.offset();
    this.entries = this.entries.slice(s.index - off);
    this.setSnapshot(s);
  }

  /** Entries not yet handed out in a Ready. */
  unhandedEntries(): Entry[] {
    return this.slice(this.handedOut + 1, this.lastIndex() + 1);
  }

  /** Committed entries not yet handed out for applying. */
  unappliedCommitted(): Entry[] {
    return this.slice(this.appliedHandedOut + 1, this.committed + 1);
  }

  /** The driver persisted entries up to lastWritten (from a Ready taken before any truncation). */
  stableTo(lastWritten: number): void {
    // If entries were truncated since that Ready, handedOut fell below the truncation point and
    // only the prefix up to it is known to match what is on disk.
    this.stable = Math.max(this.stable, Math.min(lastWritten, this.handedOut));
  }
}
