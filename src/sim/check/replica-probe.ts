// What the Raft invariants see of one replica: its live log while the process
// runs, and what its disk made durable (kept up to date on every sync, and
// all that is left of it after a crash).
import type { BootState, Entry } from '../../raft/index.js';
import type { PersistBatch, ReplicaObserver, ReplicaView } from '../../host/ports.js';
import type { RecordHostEvent } from '../../host/trace-events.js';
import { DurableLog } from '../raft-storage.js';
import type { RaftInvariants, ReplicaProbe } from './raft-invariants.js';

export class LiveProbe implements ReplicaProbe, ReplicaObserver {
  readonly durable: DurableLog;

  constructor(
    private readonly replica: ReplicaView,
    boot: BootState,
    private readonly checker: RaftInvariants,
    private readonly trace: RecordHostEvent,
    /** False for a Byzantine host: its disk still counts toward durability (what it truly holds), but nothing it does is judged. */
    private readonly judged = true,
  ) {
    this.durable = DurableLog.fromBoot(boot);
  }

  get host(): number {
    return this.replica.host;
  }

  termAt(index: number): number | null {
    return this.replica.termAt(index);
  }

  snapshotIndex(): number {
    return this.replica.snapshotIndex();
  }

  currentTerm(): number {
    return this.replica.term();
  }

  /** The process crashed: only its disk is left to look at. */
  onDisk(): ReplicaProbe {
    const durable = this.durable;
    return { host: this.host, durable, termAt: (i) => durable.termAt(i), snapshotIndex: () => durable.snapIndex, currentTerm: () => 0 };
  }

  leader(term: number): void {
    this.trace('leader', this.replica.group, term);
    if (this.judged) this.checker.becameLeader(this, term);
  }

  persisted(b: PersistBatch, leaderOfTerm: number | null): void {
    if (b.snapshot !== null) {
      this.durable.installSnapshot(b.snapshot.index, b.snapshot.term, false);
      if (this.judged) this.checker.installedSnapshot(this, b.snapshot.index, b.snapshot.term);
    }
    this.durable.append(b.entries);
    if (this.judged) this.checker.persisted(this, b.entries, leaderOfTerm);
  }

  compacted(index: number, term: number, rest: readonly Entry[]): void {
    this.durable.installSnapshot(index, term, true);
    this.durable.append(rest);
  }

  applying(entries: readonly Entry[]): void {
    if (this.judged) this.checker.applied(this, entries);
    else this.checker.appliedUnjudged(entries);
  }
}
