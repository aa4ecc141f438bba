// One Raft group's replica on a host, in both worlds: the RawNode, the state
// machine it drives, and the Ready loop in the order Raft demands: the
// messages Raft allows out at once, then persist and wait for the disk, then
// the messages that promise what was persisted, then apply, then advance.
import { applyCommitted, RawNode } from '../raft/index.js';
import type { BootState, ConfState, Entry, FaultPoints, Message, RaftConfig, Ready, Role } from '../raft/index.js';
import { HostPoint } from './fault-points.js';
import type { StateMachine, StateMachineFactory } from '../vmm/state-machine.js';
import type { DiskPort, HostObserver, NetworkPort, ReplicaObserver, ReplicaView } from './ports.js';

export interface ReplicaOptions {
  host: number;
  group: number;
  machine: StateMachineFactory;
  raft: RaftConfig;
  genesis: ConfState;
  snapshotEveryEntries: number;
  disk: DiskPort;
  network: NetworkPort;
  observer: HostObserver;
  faults: FaultPoints;
  /** Every applied command and its result, to answer whoever asked for it. */
  applied(group: number, entry: Entry, result: unknown): void;
  roleChanged(group: number, role: Role): void;
  /** The deliberate bug sendBeforeSync: what Raft holds back until the disk sync leaves at once. */
  sendBeforeSync: boolean;
}

export class Replica implements ReplicaView {
  readonly node: RawNode;
  machine: StateMachine;
  role: Role = 'follower';
  lead = 0;
  /** Entries applied here since the process started (all kinds). */
  appliedCount = 0;
  private applyIndex: number;
  private snapIndex: number;
  /** A Ready's records wait for the disk. */
  private syncing = false;
  /** Handling a Ready threw: the group is stuck mid-Ready (fail-stop, never wedge silently). */
  private broken = false;
  private closed = false;
  private readonly watch: ReplicaObserver;
  /** The Ready whose records the disk is syncing (one at a time), and whether its held-back messages left already. */
  private syncRd: Ready | null = null;
  private syncSentEarly = false;
  /** Inside the disk's sync call: a completion now is inline, and the Ready loop goes on where it is. */
  private inSyncCall = false;
  private syncedInline = false;

  constructor(private readonly opts: ReplicaOptions) {
    const boot: BootState = opts.disk.load(opts.group, opts.genesis);
    this.machine = opts.machine(opts.group, boot.snapshot?.data ?? null);
    this.applyIndex = boot.snapshot?.index ?? 0;
    this.snapIndex = this.applyIndex;
    this.node = new RawNode(opts.raft, boot);
    this.watch = opts.observer.replicaOpened(this, boot);
  }

  get host(): number {
    return this.opts.host;
  }

  get group(): number {
    return this.opts.group;
  }

  get appliedIndex(): number {
    return this.applyIndex;
  }

  term(): number {
    return this.node.term();
  }

  termAt(index: number): number | null {
    return this.node.termAt(index);
  }

  snapshotIndex(): number {
    return this.node.snapshotIndex();
  }

  /** The process is gone: late disk completions are ignored and the state machine's resources freed. */
  close(): void {
    this.closed = true;
    this.machine.close?.();
  }

  /**
   * Handles every Ready there is; call after any input. A pump from inside
   * apply (a proposal the VMM makes on an applied entry) finds the Ready
   * still outstanding and returns; the loop picks its work up after advance.
   */
  pump(): void {
    if (this.broken || this.closed) return;
    // No closure here: pump runs after every input.
    try {
      this.handleReadies();
    } catch (err) {
      this.fail(err);
    }
  }

  private fail(err: unknown): void {
    this.broken = true;
    this.opts.observer.failed(this.opts.group, err instanceof Error ? err : new Error(String(err)));
  }

  private handleReadies(): void {
    while (!this.syncing && this.node.hasReady()) {
      const rd = this.node.ready();
      this.noteRole(rd);
      this.send(rd.messages);
      const early = this.opts.sendBeforeSync;
      if (early) this.send(rd.messagesAfterPersist);
      if (rd.hardState !== null || rd.snapshot !== null || rd.entries.length > 0) this.opts.disk.append(this.opts.group, rd);
      if (!rd.mustSync) {
        // Nothing here needs the sync (a lost commit index is learned again from the leader).
        this.finish(rd, early);
        continue;
      }
      this.syncing = true;
      this.syncRd = rd;
      this.syncSentEarly = early;
      this.syncedInline = false;
      this.inSyncCall = true;
      try {
        this.opts.disk.sync(this.opts.group, this.onSynced);
      } finally {
        this.inSyncCall = false;
      }
      if (!this.syncedInline) return;
    }
  }

  /**
   * The disk's completion of the sync in flight. One function for every sync
   * (not a closure per Ready): only one Ready syncs at a time.
   */
  private readonly onSynced = (): void => {
    if (this.closed) return; // crashed meanwhile: the write is lost
    const rd = this.syncRd!;
    this.syncRd = null;
    if (this.inSyncCall) {
      this.syncedInline = true;
      this.synced(rd, this.syncSentEarly);
      return;
    }
    if (this.broken) return;
    try {
      this.synced(rd, this.syncSentEarly);
      this.handleReadies();
    } catch (err) {
      this.fail(err);
    }
  };

  /** The disk made rd durable: what it promised may now leave. */
  private synced(rd: Ready, alreadySent: boolean): void {
    this.syncing = false;
    this.watch.persisted(rd, this.role === 'leader' ? this.node.term() : null);
    this.finish(rd, alreadySent);
  }

  private noteRole(rd: Ready): void {
    if (rd.softState === null) return;
    this.lead = rd.softState.lead;
    const was = this.role;
    this.role = rd.softState.role;
    if (this.role === 'leader' && was !== 'leader') this.watch.leader(this.node.term());
    if (this.role !== was) {
      this.opts.observer.roleChanged(this);
      this.opts.roleChanged(this.opts.group, this.role);
    }
  }

  private finish(rd: Ready, alreadySent: boolean): void {
    if (rd.snapshot !== null) {
      this.machine.close?.();
      this.machine = this.opts.machine(this.opts.group, rd.snapshot.data);
      this.applyIndex = rd.snapshot.index;
      this.snapIndex = rd.snapshot.index;
    }
    if (!alreadySent) this.send(rd.messagesAfterPersist);
    this.apply(rd.committedEntries);
    this.node.advance(rd);
    this.maybeCompact();
  }

  /** One entry to the state machine, its result to whoever asked (made once: apply runs at every commit). */
  private readonly applyOne = (e: Entry): void => this.opts.applied(this.opts.group, e, this.machine.apply(e));

  private send(messages: readonly Message[]): void {
    const group = this.opts.group;
    for (const msg of messages) this.opts.network.send(msg.to, { kind: 'raft', group, msg });
  }

  private apply(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    this.watch.applying(entries);
    const from = this.applyIndex;
    this.applyIndex = applyCommitted(this.node, entries, from, this.applyOne);
    this.appliedCount += this.applyIndex - from;
  }

  /**
   * Snapshots the state machine so neither the log in memory nor the disk
   * grows with the run. Called with no write in flight.
   */
  private maybeCompact(): void {
    const index = this.applyIndex;
    const due = index - this.snapIndex >= this.opts.snapshotEveryEntries;
    if (!due && !(index > this.snapIndex && this.opts.faults.buggify(HostPoint.compactEarly))) return;
    const term = this.node.termAt(index);
    if (term === null) return;
    const data = this.machine.snapshot();
    const status = this.node.status();
    const rest = this.node.entriesFrom(index + 1, status.lastIndex + 1);
    this.node.compact(index, data);
    this.snapIndex = index;
    this.opts.disk.compact(this.opts.group, { index, term, conf: status.conf, data }, { term: status.term, vote: status.vote, commit: status.commit }, rest);
    this.watch.compacted(index, term, rest);
  }
}
