// The replicated application a Raft group's committed entries are applied to:
// the page table of a company, or the simulator's key-value store.
import type { Entry } from '../raft/index.js';

export interface StateMachine {
  /** Applies a committed normal entry (a leader's empty no-op included); the result goes to the host. */
  apply(entry: Entry): unknown;
  /** The whole state, for a Raft snapshot. */
  snapshot(): string;
  /** Releases what it holds outside the JS heap (a database); it is not used after. */
  close?(): void;
}

/** Builds a group's state machine, empty (its genesis state) or from a snapshot's data. */
export type StateMachineFactory = (group: number, snapshot: string | null) => StateMachine;
