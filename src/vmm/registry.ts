// The registry company: a Raft group of every owner that holds the
// membership (which hosts are owners). The companies' ranges are fixed at
// genesis; who serves each follows from the current owners, and each
// company's leader moves its group toward that, one Raft membership change
// at a time, so pages and leases travel with the group's log and snapshots.
import type { ConfChange, Entry } from '../raft/index.js';
import type { StateMachine } from './state-machine.js';

export type RegistryCommand = { op: 'join' | 'leave'; host: number };

export interface RegistryApplied {
  registry: true;
  cmd: RegistryCommand;
  ok: boolean;
  owners: readonly number[];
}

export function encodeRegistryCommand(c: RegistryCommand): string {
  return JSON.stringify(c);
}

export class RegistryMachine implements StateMachine {
  private ownerSet: Set<number>;
  /** Current owners, sorted; a new array after every change (callers may cache by identity). */
  owners: readonly number[];

  constructor(initialOwners: readonly number[], snapshot: string | null, private readonly minOwners: number) {
    this.ownerSet = new Set(snapshot === null ? initialOwners : (JSON.parse(snapshot) as { owners: number[] }).owners);
    this.owners = this.sorted();
  }

  private sorted(): number[] {
    return [...this.ownerSet].sort((a, b) => a - b);
  }

  apply(entry: Entry): RegistryApplied | null {
    if (entry.data === '') return null;
    let cmd: RegistryCommand;
    try {
      cmd = JSON.parse(entry.data) as RegistryCommand;
    } catch {
      return null;
    }
    const valid = (cmd.op === 'join' || cmd.op === 'leave') && Number.isSafeInteger(cmd.host) && cmd.host > 0;
    // Never fewer owners than a company needs: a leave below that is refused, the same on every member.
    const ok = valid && (cmd.op === 'join' ? !this.ownerSet.has(cmd.host) : this.ownerSet.has(cmd.host) && this.ownerSet.size > this.minOwners);
    if (ok) {
      if (cmd.op === 'join') this.ownerSet.add(cmd.host);
      else this.ownerSet.delete(cmd.host);
      this.owners = this.sorted();
    }
    return { registry: true, cmd, ok, owners: [...this.owners] };
  }

  snapshot(): string {
    return JSON.stringify({ owners: this.owners });
  }
}

/**
 * The members company `company` (1-based, of `companies`) should have with
 * these owners: the `replication` owners that follow owner (company-1) *
 * replication around the sorted list, as at genesis.
 */
export function targetMembers(company: number, owners: readonly number[], replication: number): number[] {
  const sorted = [...owners].sort((a, b) => a - b);
  const r = Math.min(replication, sorted.length);
  const members = new Set<number>();
  for (let k = 0; k < r; k++) members.add(sorted[((company - 1) * replication + k) % sorted.length]!);
  return [...members].sort((a, b) => a - b);
}

/**
 * The next single-server change that moves `voters` toward `target`: add a
 * missing member first (so the group never shrinks below its size), then
 * remove one that should go (the leader itself last). Null when they agree.
 */
export function nextConfChange(voters: readonly number[], target: readonly number[], leader: number): ConfChange | null {
  const missing = target.find((h) => !voters.includes(h));
  if (missing !== undefined) return { type: 'addNode', node: missing };
  const extra = voters.filter((h) => !target.includes(h)).sort((a, b) => (a === leader ? 1 : b === leader ? -1 : a - b));
  return extra.length > 0 ? { type: 'removeNode', node: extra[0]! } : null;
}
