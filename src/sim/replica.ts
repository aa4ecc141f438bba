// One Raft group's replica on a simulated host: the RawNode, the state
// state machine it drives, and the Ready loop in the order the design demands:
// persist, (wait for the disk's sync), send, apply, advance.
import { applyCommitted, RawNode } from '../raft/index.js';
import type { ConfState, Entry, RaftConfig, Ready, Role } from '../raft/index.js';
import type { RaftInvariants, ReplicaProbe } from './check/raft-invariants.js';
import { DurableLog, encodeRecord, loadBootState } from './raft-storage.js';
import type { SimDisk } from './disk.js';
import type { StateMachine, StateMachineFactory } from '../vmm/state-machine.js';
import type { Envelope } from '../vmm/wire.js';
import type { RecordHostEvent } from '../host/trace-events.js';

/** What a replica needs from its host: the seam between a group and the world. */
export interface ReplicaHost {
  readonly id: number;
  readonly disk: SimDisk;
  /** Incarnation: bumps at every crash, so callbacks from before it are ignored. */
  readonly epoch: number;
  send(to: number, env: Envelope): void;
  /** Runs fn when a disk sync started now completes (after a simulated delay). */
  afterSync(fn: () => void): void;
  /** Told about every applied command and its result, to answer whoever asked for it. */
  applied(group: number, entry: Entry, result: unknown): void;
  /** Told when this replica's role changes (it became leader, or stopped being it). */
  roleChanged(group: number, role: Role): void;
  readonly trace: RecordHostEvent;
}

export interface ReplicaOptions {
  group: number;
  machine: StateMachineFactory;
  raft: Omit<RaftConfig, 'id' | 'random'>;
  random: () => number;
  genesis: ConfState;
  snapshotEveryEntries: number;
  checker: RaftInvariants;
  sendBeforeSync: boolean;
  forgetVote: boolean;
}

export class Replica implements ReplicaProbe {
  readonly node: RawNode;
  readonly durable: DurableLog;
  readonly file: string;
  machine: StateMachine;
  role: Role = 'follower';
  lead = 0;
  private applyIndex: number;
  private snapIndex: number;
  private inFlight = false;

  constructor(private readonly hostRef: ReplicaHost, private readonly opts: ReplicaOptions) {
    this.file = `raft-${opts.group}`;
    const boot = loadBootState(hostRef.disk.read(this.file), opts.genesis);
    if (opts.forgetVote) boot.hardState = { ...boot.hardState, vote: 0 };
    this.durable = DurableLog.fromBoot(boot);
    this.machine = opts.machine(opts.group, boot.snapshot?.data ?? null);
    this.applyIndex = boot.snapshot?.index ?? 0;
    this.snapIndex = this.applyIndex;
    this.node = new RawNode({ ...opts.raft, id: hostRef.id, random: opts.random }, boot);
  }

  get host(): number {
    return this.hostRef.id;
  }

  termAt(index: number): number | null {
    return this.node.termAt(index);
  }

  snapshotIndex(): number {
    return this.node.snapshotIndex();
  }

  currentTerm(): number {
    return this.node.term();
  }

  /** The process is gone: release the state machine's resources. */
  close(): void {
    this.machine.close?.();
  }

  /** Handles every Ready there is, one at a time; call after any input. */
  pump(): void {
    while (!this.inFlight && this.node.hasReady()) {
      const rd = this.node.ready();
      this.noteRole(rd);
      this.persist(rd);
      if (!rd.mustSync) {
        // Nothing here needs the disk's sync (a commit index is learned again if lost).
        this.finish(rd, false);
        continue;
      }
      const early = this.sendsEarly();
      if (early) this.sendAll(rd);
      this.inFlight = true;
      const epoch = this.hostRef.epoch;
      this.hostRef.afterSync(() => {
        if (this.hostRef.epoch !== epoch) return; // crashed meanwhile: the write is lost
        this.hostRef.disk.sync(this.file);
        this.synced(rd);
        this.inFlight = false;
        this.finish(rd, early);
        this.pump();
      });
      return;
    }
  }

  /**
   * A leader's messages may leave while its own write syncs (Raft thesis
   * 10.2.1, as etcd does): it counts itself toward a commit only once synced,
   * so its appends and heartbeats depend on nothing unsynced. Anyone else
   * sending early is the deliberate bug sendBeforeSync.
   */
  private sendsEarly(): boolean {
    return this.role === 'leader' || this.opts.sendBeforeSync;
  }

  private noteRole(rd: Ready): void {
    if (rd.softState === null) return;
    this.lead = rd.softState.lead;
    const was = this.role;
    this.role = rd.softState.role;
    if (this.role === 'leader' && was !== 'leader') {
      const term = this.node.term();
      this.hostRef.trace('leader', this.opts.group, term);
      this.opts.checker.becameLeader(this, term);
    }
    if (this.role !== was) this.hostRef.roleChanged(this.opts.group, this.role);
  }

  private persist(rd: Ready): void {
    const disk = this.hostRef.disk;
    if (rd.snapshot !== null) disk.append(this.file, encodeRecord({ t: 'snap', s: rd.snapshot }));
    if (rd.entries.length > 0) disk.append(this.file, encodeRecord({ t: 'ents', e: rd.entries }));
    if (rd.hardState !== null) disk.append(this.file, encodeRecord({ t: 'hs', hs: rd.hardState }));
  }

  /** The disk has made rd durable: update the checkers' view of this disk. */
  private synced(rd: Ready): void {
    if (rd.snapshot !== null) {
      this.durable.installSnapshot(rd.snapshot.index, rd.snapshot.term, false);
      this.opts.checker.installedSnapshot(this, rd.snapshot.index, rd.snapshot.term);
    }
    this.durable.append(rd.entries);
    const leaderOfTerm = this.role === 'leader' ? this.node.term() : null;
    this.opts.checker.persisted(this, rd.entries, leaderOfTerm);
  }

  private finish(rd: Ready, alreadySent: boolean): void {
    if (rd.snapshot !== null) {
      this.machine.close?.();
      this.machine = this.opts.machine(this.opts.group, rd.snapshot.data);
      this.applyIndex = rd.snapshot.index;
      this.snapIndex = rd.snapshot.index;
    }
    if (!alreadySent) this.sendAll(rd);
    this.apply(rd.committedEntries);
    this.node.advance(rd);
    this.maybeCompact();
  }

  private sendAll(rd: Ready): void {
    const group = this.opts.group;
    for (const msg of rd.messages) this.hostRef.send(msg.to, { kind: 'raft', group, msg });
  }

  private apply(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    this.opts.checker.applied(this, entries);
    this.applyIndex = applyCommitted(this.node, entries, this.applyIndex, (e) => this.hostRef.applied(this.opts.group, e, this.machine.apply(e)));
  }

  /**
   * Snapshots the state machine and rewrites the file as snapshot, hard state
   * and the entries after it, so neither memory nor disk grows with the run.
   * Called with no write in flight; the rewrite is atomic (a rename) and synced.
   */
  private maybeCompact(): void {
    const index = this.applyIndex;
    if (index - this.snapIndex < this.opts.snapshotEveryEntries) return;
    const term = this.node.termAt(index);
    if (term === null) return;
    const data = this.machine.snapshot();
    const status = this.node.status();
    const rest = this.node.entriesFrom(index + 1, status.lastIndex + 1);
    this.node.compact(index, data);
    this.snapIndex = index;
    const records = [encodeRecord({ t: 'snap', s: { index, term, conf: status.conf, data } })];
    records.push(encodeRecord({ t: 'hs', hs: { term: status.term, vote: status.vote, commit: status.commit } }));
    if (rest.length > 0) records.push(encodeRecord({ t: 'ents', e: rest }));
    this.hostRef.disk.rewrite(this.file, records);
    this.hostRef.disk.sync(this.file);
    this.durable.installSnapshot(index, term, true);
    this.durable.append(rest);
  }
}
