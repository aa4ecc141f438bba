// Plain data types shared by the Raft core and its drivers.
// Everything here is JSON-serializable and treated as immutable once created.
import type { FaultPoints } from './fault-points.js';

export type NodeId = number;

/** A log entry. The leader's no-op on election is kind 'normal' with data ''. */
export interface Entry {
  term: number;
  index: number;
  kind: 'normal' | 'conf';
  data: string;
}

/** What must be durable before any message depending on it is sent. vote 0 = none. */
export interface HardState {
  term: number;
  vote: NodeId;
  commit: number;
}

/** Cluster configuration; both arrays sorted ascending, disjoint. */
export interface ConfState {
  voters: NodeId[];
  learners: NodeId[];
}

/** A single-server membership change, stored as JSON in a 'conf' entry's data. */
export type ConfChange = { type: 'addNode' | 'removeNode' | 'addLearner'; node: NodeId };

export interface Snapshot {
  index: number;
  term: number;
  conf: ConfState;
  data: string;
}

export type MessageType =
  | 'app'           // append entries (index/logTerm = the entry preceding `entries`)
  | 'appResp'       // index = last index known to match, or the rejected index when reject
  | 'heartbeat'     // commit is clamped to the follower's match
  | 'heartbeatResp'
  | 'vote'          // index/logTerm = candidate's last entry
  | 'voteResp'
  | 'preVote'       // term = the term the candidate would campaign at (not persisted)
  | 'preVoteResp'
  | 'snap'          // install snapshot
  | 'timeoutNow';   // leadership transfer: campaign immediately

/**
 * A message between peers. Every field is always present (no optional fields), so a
 * JSON round trip yields an identical object.
 */
export interface Message {
  type: MessageType;
  from: NodeId;
  to: NodeId;
  term: number;
  logTerm: number;
  index: number;
  entries: Entry[];
  commit: number;
  reject: boolean;
  /** On a rejected append: the follower's suggested probe index (its logTerm in logTerm). */
  rejectHint: number;
  snapshot: Snapshot | null;
  /** On vote requests: campaign triggered by leadership transfer (bypasses the leader lease). */
  transfer: boolean;
}

export interface BootState {
  hardState: HardState;
  snapshot: Snapshot | null;
  /** Stored entries after the snapshot (or from index 1). */
  entries: Entry[];
  /** Starting configuration when there is no snapshot. */
  conf: ConfState;
  /** Highest index already applied to the state machine (default: snapshot index or 0). */
  applied?: number;
}

export interface RaftConfig {
  id: NodeId;
  electionTick: number;
  heartbeatTick: number;
  preVote: boolean;
  checkQuorum: boolean;
  /** Injected randomness in [0, 1); the only source of nondeterminism. */
  random: () => number;
  maxEntriesPerMsg?: number;
  maxInflight?: number;
  /** The simulator's fault points and probes (default: inert). */
  faults?: FaultPoints;
}

export type Role = 'follower' | 'preCandidate' | 'candidate' | 'leader';

export interface SoftState {
  lead: NodeId;
  role: Role;
}

export interface Ready {
  /** Non-null when changed since the last Ready. */
  softState: SoftState | null;
  /** Non-null when changed; persist before sending messages. */
  hardState: HardState | null;
  /** Append to stable storage; an entry at index i replaces any stored entry >= i. */
  entries: Entry[];
  /** From the leader: persist it (discarding all stored entries) and restore the state machine. */
  snapshot: Snapshot | null;
  /** May be sent at once, before or while the above is persisted (a leader's appends and heartbeats). */
  messages: Message[];
  /** Send only once the above is durable: they promise this Ready's term, vote or log (etcd's msgsAfterAppend). */
  messagesAfterPersist: Message[];
  /** Apply in order after persisting. */
  committedEntries: Entry[];
  /**
   * Whether persisting this Ready needs an fsync before the messages go
   * (etcd's MustSync): entries, a snapshot, or a new term or vote. A hard
   * state that only moves the commit index may be written lazily: a node that
   * forgets it learns it again from the leader.
   */
  mustSync: boolean;
}

export interface Status {
  id: NodeId;
  term: number;
  vote: NodeId;
  role: Role;
  lead: NodeId;
  commit: number;
  applied: number;
  lastIndex: number;
  firstIndex: number;
  conf: ConfState;
  snapshotIndex: number;
  /** Non-zero while this leader is transferring leadership. */
  leadTransferee: NodeId;
}
