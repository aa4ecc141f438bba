// RawNode: the driver-facing wrapper (etcd's RawNode). The driver loops:
//   if (node.hasReady()) {
//     rd = node.ready(); send(rd.messages); persist(rd) and wait for it to be durable;
//     send(rd.messagesAfterPersist); apply(rd.committedEntries); node.advance(rd)
//   }
// with tick()/step()/propose() allowed at any time, including while a Ready is being persisted.
// Only one Ready is outstanding at a time. The core, not the driver, decides which messages
// depend on the Ready's durable state: those are in messagesAfterPersist.

import { cloneConf } from './confchange.js';
import { inertFaultPoints, RaftPoint } from './fault-points.js';
import type { FaultPoints } from './fault-points.js';
import { Raft } from './raft.js';
import type { Refusals } from './bounds.js';
import type { BootState, ConfChange, ConfState, Entry, HardState, Message, NodeId, RaftConfig, Ready, Snapshot, SoftState, Status } from './types.js';

/** What peek() writes: Status's scalars and the live voter list. */
export type PeekStatus = Omit<Status, 'id' | 'firstIndex' | 'conf'> & { voters: readonly NodeId[] };

export class RawNode {
  private readonly raft: Raft;
  private prevSoft: SoftState;
  private prevHard: HardState;
  /** The Ready handed out and not yet advanced. */
  private inflight: Ready | null = null;
  private readonly faults: FaultPoints;

  constructor(config: RaftConfig, boot: BootState) {
    this.raft = new Raft(config, boot);
    this.faults = config.faults ?? inertFaultPoints;
    this.prevSoft = this.softState();
    this.prevHard = this.hardState();
  }

  private softState(): SoftState {
    return { lead: this.raft.lead, role: this.raft.role };
  }

  private hardState(): HardState {
    return { term: this.raft.term, vote: this.raft.vote, commit: this.raft.log.committed };
  }

  private softChanged(): boolean {
    return this.raft.lead !== this.prevSoft.lead || this.raft.role !== this.prevSoft.role;
  }

  private hardChanged(): boolean {
    const r = this.raft;
    const p = this.prevHard;
    return r.term !== p.term || r.vote !== p.vote || r.log.committed !== p.commit;
  }

  tick(): void {
    this.raft.tick();
  }

  /** Feed a message from the network. Malformed, misaddressed or irrelevant input is dropped. */
  step(m: Message): void {
    this.raft.step(m);
  }

  propose(data: string): boolean {
    return this.raft.propose(data);
  }

  proposeConfChange(cc: ConfChange): boolean {
    return this.raft.proposeConfChange(cc);
  }

  applyConfChange(cc: ConfChange): ConfState {
    return this.raft.applyConfChange(cc);
  }

  transferLeadership(to: NodeId): void {
    this.raft.transferLeadership(to);
  }

  campaign(): void {
    this.raft.hup(false);
  }

  hasReady(): boolean {
    if (this.inflight) return false;
    const r = this.raft;
    const log = r.log;
    // Compared field by field, no state objects built: the drivers ask after every input.
    return (
      this.softChanged() ||
      this.hardChanged() ||
      log.pendingSnapshot !== null ||
      log.handedOut < log.lastIndex() ||
      r.msgs.length > 0 ||
      r.msgsAfterPersist.length > 0 ||
      log.appliedHandedOut < log.committed
    );
  }

  ready(): Ready {
    if (this.inflight) {
      // One Ready at a time: a second call before advance() gets nothing new.
      return { softState: null, hardState: null, entries: [], snapshot: null, messages: [], messagesAfterPersist: [], committedEntries: [], mustSync: false };
    }
    const r = this.raft;
    const log = r.log;
    // New state objects only when the state changed (the unchanged ones stay as they were handed out).
    const softChanged = this.softChanged();
    const hardChanged = this.hardChanged();
    const s = softChanged ? this.softState() : this.prevSoft;
    const h = hardChanged ? this.hardState() : this.prevHard;
    const snapshot = log.pendingSnapshot;
    let entries = log.unhandedEntries();
    // Split: the first half of the entries now; what promises the rest (acks, votes) waits for the next Ready.
    const split = snapshot === null && entries.length >= 2 && this.faults.buggify(RaftPoint.splitReady);
    if (split) entries = entries.slice(0, entries.length >> 1);
    const handedOut = split ? entries[entries.length - 1]!.index : log.lastIndex();
    let committedEntries = log.unappliedCommitted();
    if (split) committedEntries = committedEntries.filter((e) => e.index <= handedOut);
    const rd: Ready = {
      softState: softChanged ? s : null,
      hardState: hardChanged ? h : null,
      entries,
      snapshot,
      messages: r.msgs,
      messagesAfterPersist: split ? [] : r.msgsAfterPersist,
      // Every committed entry is <= handedOut, hence persisted already or in rd.entries.
      committedEntries,
      mustSync: entries.length > 0 || snapshot !== null || h.term !== this.prevHard.term || h.vote !== this.prevHard.vote,
    };
    r.msgs = [];
    if (!split) r.msgsAfterPersist = [];
    this.prevSoft = s;
    this.prevHard = h;
    log.handedOut = handedOut;
    log.pendingSnapshot = null;
    const lastCommitted = rd.committedEntries[rd.committedEntries.length - 1];
    if (lastCommitted) log.appliedHandedOut = lastCommitted.index;
    this.inflight = rd;
    return rd;
  }

  /** The driver persisted, sent and applied exactly what the outstanding Ready held. */
  advance(_rd: Ready): void {
    const rd = this.inflight;
    if (!rd) return;
    this.inflight = null;
    const log = this.raft.log;
    const lastEntry: Entry | undefined = rd.entries[rd.entries.length - 1];
    if (lastEntry) log.stableTo(lastEntry.index);
    if (rd.snapshot) log.applied = Math.max(log.applied, rd.snapshot.index);
    const lastApplied = rd.committedEntries[rd.committedEntries.length - 1];
    if (lastApplied) log.applied = Math.max(log.applied, lastApplied.index);
    this.raft.onPersisted();
  }

  compact(index: number, data: string): void {
    this.raft.compact(index, data);
  }

  /** The latest snapshot this node holds (taken by compact() or received), for storage. */
  lastSnapshot(): Snapshot | null {
    return this.raft.log.snapshot;
  }

  status(): Status {
    const r = this.raft;
    const log = r.log;
    return {
      id: r.id,
      term: r.term,
      vote: r.vote,
      role: r.role,
      lead: r.lead,
      commit: log.committed,
      applied: log.applied,
      lastIndex: log.lastIndex(),
      firstIndex: log.firstIndex(),
      conf: cloneConf(r.conf),
      snapshotIndex: log.offset(),
      leadTransferee: r.leadTransferee,
    };
  }

  /** Messages refused as malformed or beyond the bounds (src/raft/bounds.ts), by reason; live counters. */
  refusals(): Readonly<Refusals> {
    return this.raft.refused;
  }

  /**
   * What status() gives, without copying the configuration and without
   * allocating: written into `into`, whose voters are the live list, to read
   * before the next input (the simulator's per-step rules look at every
   * replica before and after every step).
   */
  peek(into: PeekStatus): void {
    const r = this.raft;
    const log = r.log;
    into.term = r.term;
    into.vote = r.vote;
    into.role = r.role;
    into.lead = r.lead;
    into.commit = log.committed;
    into.applied = log.applied;
    into.lastIndex = log.lastIndex();
    into.snapshotIndex = log.offset();
    into.leadTransferee = r.leadTransferee;
    into.voters = r.conf.voters;
  }

  /** The entry at an index still in memory, without copying (checkers read it; never change it). */
  entryAt(index: number): Readonly<Entry> | undefined {
    return this.raft.log.at(index);
  }

  /** The current term, without building a whole Status (hot path for drivers and checkers). */
  term(): number {
    return this.raft.term;
  }

  /** Index of the last snapshot (0 if none), likewise cheap. */
  snapshotIndex(): number {
    return this.raft.log.offset();
  }

  termAt(index: number): number | null {
    return this.raft.log.termAt(index);
  }

  entriesFrom(lo: number, hi: number): Entry[] {
    return this.raft.log.slice(lo, hi);
  }
}
