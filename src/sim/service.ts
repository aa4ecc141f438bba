// What a simulated host runs on top of its Raft replicas: the key-value
// service (Raft scenarios) or the distributed shared memory (DSM scenarios).
// The host owns processes, disks and the Ready loop; a service owns the
// state machine and everything that is not a Raft message.
import type { Entry, Role } from '../raft/index.js';
import type { SimEnvelope } from './kv-wire.js';
import type { StateMachineFactory } from '../vmm/state-machine.js';
import type { Replica } from './replica.js';

/** The host as a service sees it. */
export interface ServiceHost {
  readonly id: number;
  readonly epoch: number;
  readonly state: 'up' | 'down' | 'paused';
  replica(group: number): Replica | undefined;
  send(to: number, env: SimEnvelope): void;
  trace(kind: string, a: number, b: number): void;
}

export interface HostService {
  readonly machine: StateMachineFactory;
  /** A committed entry was applied to group's state machine with this result. */
  applied(group: number, entry: Entry, result: unknown): void;
  /** A message that is not for Raft. */
  receive(from: number, env: SimEnvelope): void;
  /** A replica's role changed. */
  roleChanged(group: number, role: Role): void;
  /** The process (re)started, its replicas open. */
  started(): void;
  /** The process lost its memory (a crash): forget everything volatile. */
  reset(): void;
  /** A tick of the host's clock went by (after the replicas' ticks). */
  ticked(): void;
  /** The process was paused, or resumed. */
  paused(): void;
  resumed(): void;
}
