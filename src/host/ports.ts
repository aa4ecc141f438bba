// The ports of the host runtime: everything a host needs from its world. The
// simulator implements them with its scheduler, simulated disks, network and
// drifting clocks; real mode with SQLite, TCP, monotonic timers and the native
// heap. The runtime (runtime.ts) never reaches around them, so the simulator
// checks the very code that drives a real host.
import type { BootState, ConfState, Entry, HardState, Ready, Role, Snapshot } from '../raft/index.js';
import type { Envelope } from '../vmm/wire.js';
import type { RecordHostEvent } from './trace-events.js';

/** What of a Ready goes to disk. */
export type PersistBatch = Pick<Ready, 'hardState' | 'snapshot' | 'mustSync'> & { entries: readonly Entry[] };

/** One host's Raft storage: a log, a hard state and a snapshot per group. */
export interface DiskPort {
  /** Groups with state on this disk, ascending. */
  groups(): number[];
  /** What a group's replica restarts from (genesis: its configuration when the disk has none). */
  load(group: number, genesis: ConfState): BootState;
  /** Writes a Ready's records: a snapshot replaces the log, an entry at i replaces stored entries >= i. */
  append(group: number, batch: PersistBatch): void;
  /**
   * Calls done once what was appended for the group (with mustSync, in the
   * same turn) is durable: from a later event (real mode's disk worker
   * reporting its fsynced commit, the simulator's disk delay) or at once if
   * nothing is waiting for the disk. A crash in between loses the write and
   * the call.
   */
  sync(group: number, done: () => void): void;
  /**
   * Replaces what the log holds up to the snapshot's index by the snapshot,
   * keeping `rest` (the entries after it) and the hard state; atomic, and
   * durable on return (the simulator) or along with the writes of the same
   * turn (real mode): a crash before loses only the compaction, since the
   * entries it replaces are still on disk.
   */
  compact(group: number, snapshot: Snapshot, hardState: HardState, rest: readonly Entry[]): void;
}

export interface NetworkPort {
  /** Sends to a peer; delivery is never promised (the protocols retry). */
  send(to: number, env: Envelope): void;
}

/**
 * The host id the network vouches for as a message's sender: the simulator's
 * true source of the delivery, real mode's peer id bound to the connection's
 * certificate. Never a field the sender wrote into the message.
 */
export type AuthenticatedSender = number;

/**
 * The other half of the network port, which the runtime implements: what
 * arrives, with its authenticated sender. A Raft message whose own `from`
 * differs from it is dropped and counted (VMM messages carry no sender of
 * their own: the VMM takes this one).
 */
export interface InboundPort {
  receive(sender: AuthenticatedSender, env: Envelope): void;
}

export interface ClockPort {
  /** The local monotonic clock in whole microseconds: leases are judged on it. */
  now(): number;
  /**
   * Calls fn at about local time atUs. It may fire early (a drifting or coarse
   * clock): the runtime checks and re-arms.
   */
  wakeAt(atUs: number, fn: () => void): void;
  /** Calls fn every Raft tick (the simulator's ticks follow the host's wall clock, with its jumps). */
  everyTick(fn: () => void): void;
}

/** A read-only view of one replica, for observers. */
export interface ReplicaView {
  readonly host: number;
  readonly group: number;
  readonly role: Role;
  readonly lead: number;
  term(): number;
  termAt(index: number): number | null;
  snapshotIndex(): number;
}

/** What one replica reports as it runs: the simulator's invariants listen here. */
export interface ReplicaObserver {
  /** It became leader of this term. */
  leader(term: number): void;
  /** The batch's records are durable (leaderOfTerm: its term if it leads, else null). */
  persisted(batch: PersistBatch, leaderOfTerm: number | null): void;
  /** The log was compacted locally to this snapshot (the entries after it are kept). */
  compacted(index: number, term: number, rest: readonly Entry[]): void;
  /** These committed entries are about to be applied, in order. */
  applying(entries: readonly Entry[]): void;
}

export interface HostObserver {
  /** A replica of a group opened (at boot or on first contact); what it reports goes to the returned observer. */
  replicaOpened(replica: ReplicaView, boot: BootState): ReplicaObserver;
  /** A replica's role changed. */
  roleChanged(replica: ReplicaView): void;
  /** A named event of the runtime (tick, company change): the simulator's trace. */
  readonly event: RecordHostEvent;
  /** A Ready could not be handled (a bug): the group cannot go on, the host must stop rather than wedge. */
  failed(group: number, err: Error): void;
}

/** An observer that watches nothing (real hosts log roles and failures through their own hooks). */
export const quietReplica: ReplicaObserver = {
  leader: () => undefined,
  persisted: () => undefined,
  compacted: () => undefined,
  applying: () => undefined,
};
