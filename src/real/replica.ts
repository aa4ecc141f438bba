// One Raft group's replica on a real host: the RawNode, the state machine it
// drives, and the Ready loop in the order Raft demands: persist (one SQLite
// transaction, fsynced before it returns), send, apply, advance. The same
// loop as the simulator's replica (src/sim/replica.ts), without its simulated
// disk delay and checkers.
import { applyCommitted, RawNode } from '../raft/index.js';
import type { ConfState, Entry, Message, RaftConfig, Ready, Role } from '../raft/index.js';
import type { GroupReplica } from '../vmm/host-companies.js';
import type { StateMachine, StateMachineFactory } from '../vmm/state-machine.js';
import type { Envelope } from '../vmm/wire.js';
import type { RaftStore } from './raft-store.js';

export interface RealReplicaOptions {
  host: number;
  group: number;
  store: RaftStore;
  machine: StateMachineFactory;
  raft: Omit<RaftConfig, 'id' | 'random'>;
  genesis: ConfState;
  snapshotEveryEntries: number;
  send(to: number, env: Envelope): void;
  applied(group: number, entry: Entry, result: unknown): void;
  roleChanged(group: number, role: Role): void;
  /** Handling a Ready threw: the group is stuck mid-Ready and the host must stop (fail-stop, not wedge). */
  failed(err: Error): void;
}

export class RealReplica implements GroupReplica {
  readonly node: RawNode;
  machine: StateMachine;
  role: Role = 'follower';
  lead = 0;
  /** Entries applied here since the process started (all kinds). */
  appliedCount = 0;
  private applyIndex: number;
  private snapIndex: number;
  private broken = false;

  constructor(private readonly opts: RealReplicaOptions) {
    const boot = opts.store.load(opts.group, opts.genesis);
    this.machine = opts.machine(opts.group, boot.snapshot?.data ?? null);
    this.applyIndex = boot.snapshot?.index ?? 0;
    this.snapIndex = this.applyIndex;
    // Election timeouts need only be random, not reproducible, outside the simulator.
    this.node = new RawNode({ ...opts.raft, id: opts.host, random: Math.random }, boot);
  }

  get appliedIndex(): number {
    return this.applyIndex;
  }

  /**
   * Handles every Ready there is. A pump from inside apply (a proposal the VMM
   * makes on an applied entry) finds the Ready still outstanding and returns;
   * this loop picks its work up after advance.
   */
  pump(): void {
    if (this.broken) return;
    try {
      this.handleReadies();
    } catch (err) {
      this.broken = true;
      this.opts.failed(err instanceof Error ? err : new Error(String(err)));
    }
  }

  private handleReadies(): void {
    while (this.node.hasReady()) {
      const rd = this.node.ready();
      this.noteRole(rd);
      this.send(rd.messages);
      this.opts.store.persist(this.opts.group, rd);
      if (rd.snapshot !== null) {
        this.machine.close?.();
        this.machine = this.opts.machine(this.opts.group, rd.snapshot.data);
        this.applyIndex = rd.snapshot.index;
        this.snapIndex = rd.snapshot.index;
      }
      this.send(rd.messagesAfterPersist);
      this.apply(rd.committedEntries);
      this.node.advance(rd);
      this.maybeCompact();
    }
  }

  close(): void {
    this.machine.close?.();
  }

  private send(messages: readonly Message[]): void {
    for (const msg of messages) this.opts.send(msg.to, { kind: 'raft', group: this.opts.group, msg });
  }

  private noteRole(rd: Ready): void {
    if (rd.softState === null) return;
    this.lead = rd.softState.lead;
    const was = this.role;
    this.role = rd.softState.role;
    if (this.role !== was) this.opts.roleChanged(this.opts.group, this.role);
  }

  private apply(entries: readonly Entry[]): void {
    const from = this.applyIndex;
    this.applyIndex = applyCommitted(this.node, entries, from, (e) => this.opts.applied(this.opts.group, e, this.machine.apply(e)));
    this.appliedCount += this.applyIndex - from;
  }

  /** Snapshots the state machine so neither the log in memory nor the database grows without bound. */
  private maybeCompact(): void {
    const index = this.applyIndex;
    if (index - this.snapIndex < this.opts.snapshotEveryEntries) return;
    const term = this.node.termAt(index);
    if (term === null) return;
    const data = this.machine.snapshot();
    const conf = this.node.status().conf;
    this.node.compact(index, data);
    this.opts.store.compact(this.opts.group, { index, term, conf, data });
    this.snapIndex = index;
  }
}
