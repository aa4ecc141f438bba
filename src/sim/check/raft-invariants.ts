// Raft's safety invariants (Ongaro's dissertation, Figure 3.2, and etcd's TLA+
// spec), checked online as the replicas of one group report what they do. Each
// check is incremental, so it costs little per event.
import type { ConfChange, Entry } from '../../raft/index.js';
import type { DurableLog } from '../raft-storage.js';
import { violation } from './violation.js';

/** What the checker may look at in a replica. */
export interface ReplicaProbe {
  readonly host: number;
  readonly durable: DurableLog;
  termAt(index: number): number | null;
  snapshotIndex(): number;
  /** The replica's current term (0 where it does not run: a crashed host's disk). */
  currentTerm(): number;
}


/**
 * How many recent committed entries keep their data (and persisted entries
 * their record) for comparison. Older ones keep only their term, so a long
 * run's memory stays flat; replicas lagging further than this catch up by
 * snapshot, which the checks on snapshots cover.
 */
const DATA_WINDOW = 4096;

export class RaftInvariants {
  /** term -> the host that led it. */
  private leaders = new Map<number, number>();
  /** Terms of the entries applied anywhere, by index (1-based; slot 0 unused). */
  private committedTerms: number[] = [0];
  /**
   * For each, an upper bound of the term it was committed in: the term of the
   * replica that applied it first (a leader applying its own commit gives the
   * exact term; a follower may already have moved on).
   */
  private commitTerms: number[] = [0];
  /** Their data, for the last DATA_WINDOW indexes only. */
  private committedData = new Map<number, string>();
  /** index -> the entries seen persisted there anywhere, one per term (almost always one). */
  private persistedAt = new Map<number, PersistedEntry>();
  /** Voter sets in force from an index on (single-server changes: successive sets overlap). */
  private confs: { from: number; voters: number[] }[];
  /** Scratch for checkDurableOnQuorum. */
  private readonly holders: number[] = [];
  /** host -> [term, last index] at its last Ready as leader. */
  private leaderProgress = new Map<number, [number, number]>();

  constructor(readonly group: number, genesisVoters: number[], private readonly replicas: () => Iterable<ReplicaProbe>) {
    this.confs = [{ from: 0, voters: [...genesisVoters] }];
  }

  get committedIndex(): number {
    return this.committedTerms.length - 1;
  }

  /** Whether an index is committed (known to the checker: applied somewhere). */
  private isCommitted(index: number): boolean {
    return index >= 1 && index <= this.committedIndex;
  }

  /**
   * Election Safety: at most one leader per term. Leader Completeness on top:
   * a leader holds every entry committed in an earlier term (a stale leader of
   * an older term need not: it cannot commit anything).
   */
  becameLeader(r: ReplicaProbe, term: number): void {
    const previous = this.leaders.get(term);
    if (previous !== undefined && previous !== r.host) {
      violation('election-safety', `group ${this.group}: hosts ${previous} and ${r.host} both lead term ${term}`);
    }
    this.leaders.set(term, r.host);
    const from = Math.max(1, r.snapshotIndex() + 1);
    for (let i = from; i <= this.committedIndex; i++) {
      if (this.commitTerms[i]! >= term) continue;
      const committedTerm = this.committedTerms[i]!;
      const t = r.termAt(i);
      if (t !== committedTerm) {
        violation('leader-completeness',
          `group ${this.group}: host ${r.host} leads term ${term} without committed entry ${i} (term ${committedTerm}; it has ${t ?? 'none'})`);
      }
    }
  }

  /**
   * Leader Append-Only (a leader never overwrites or deletes its entries) and
   * Log Matching (entries with the same index and term hold the same data and
   * follow the same previous term; by induction, logs agree up to them).
   */
  persisted(r: ReplicaProbe, entries: readonly Entry[], leaderOfTerm: number | null): void {
    if (entries.length === 0) return;
    if (leaderOfTerm !== null) {
      const last = this.leaderProgress.get(r.host);
      if (last !== undefined && last[0] === leaderOfTerm && entries[0]!.index <= last[1]) {
        violation('leader-append-only',
          `group ${this.group}: leader ${r.host} of term ${leaderOfTerm} rewrote its log from index ${entries[0]!.index} (had ${last[1]})`);
      }
      this.leaderProgress.set(r.host, [leaderOfTerm, entries[entries.length - 1]!.index]);
    }
    for (const e of entries) {
      const prev = e.index === 1 ? 0 : r.durable.termAt(e.index - 1);
      const first = this.persistedAt.get(e.index);
      let seen = first;
      while (seen !== undefined && seen.term !== e.term) seen = seen.other;
      if (seen === undefined) {
        this.persistedAt.set(e.index, { term: e.term, data: e.data, prev, other: first });
        continue;
      }
      if (seen.data !== e.data) {
        violation('log-matching', `group ${this.group}: two entries at index ${e.index} term ${e.term} differ (host ${r.host})`);
      }
      if (seen.prev !== null && prev !== null && seen.prev !== prev) {
        violation('log-matching',
          `group ${this.group}: entry ${e.index} term ${e.term} follows term ${prev} on host ${r.host} but term ${seen.prev} elsewhere`);
      }
    }
  }

  /**
   * A Byzantine host (unjudged) applied these: what it applies first extends
   * the committed log (its code is correct; a faulty leader applies, and
   * snapshots, before anyone else can), but nothing it does is a violation.
   */
  appliedUnjudged(entries: readonly Entry[]): void {
    for (const e of entries) {
      if (e.index !== this.committedIndex + 1) continue;
      this.committedTerms.push(e.term);
      this.commitTerms.push(e.term);
      this.committedData.set(e.index, e.data);
      this.committedData.delete(e.index - DATA_WINDOW);
      if (e.kind === 'conf') this.noteConfChange(e);
    }
  }

  /**
   * State Machine Safety (no two hosts apply different entries at one index)
   * and durability (an entry is durable on a quorum when it is first applied,
   * which is when its commitment can first be observed).
   */
  applied(r: ReplicaProbe, entries: readonly Entry[]): void {
    for (const e of entries) {
      if (this.isCommitted(e.index)) {
        // Data is kept for the last DATA_WINDOW indexes only.
        const term = this.committedTerms[e.index]!;
        const data = this.committedData.get(e.index);
        if (term !== e.term || (data !== undefined && data !== e.data)) {
          violation('state-machine-safety',
            `group ${this.group}: host ${r.host} applied entry ${e.index} term ${e.term}, but term ${term} was applied there before`);
        }
        continue;
      }
      if (e.index !== this.committedIndex + 1) {
        violation('state-machine-safety', `group ${this.group}: host ${r.host} applied entry ${e.index} before entry ${this.committedIndex + 1}`);
      }
      this.checkDurableOnQuorum(e);
      this.committedTerms.push(e.term);
      this.commitTerms.push(r.currentTerm());
      this.committedData.set(e.index, e.data);
      this.committedData.delete(e.index - DATA_WINDOW);
      this.persistedAt.delete(e.index - DATA_WINDOW);
      if (e.kind === 'conf') this.noteConfChange(e);
    }
  }

  /** Entries at or below a snapshot a host installed were applied through it. */
  installedSnapshot(r: ReplicaProbe, index: number, term: number): void {
    if (this.isCommitted(index) && this.committedTerms[index] !== term) {
      violation('state-machine-safety', `group ${this.group}: host ${r.host} installed a snapshot at ${index} term ${term}, but term ${this.committedTerms[index]} was applied there`);
    }
    if (index > this.committedIndex) {
      violation('state-machine-safety', `group ${this.group}: host ${r.host} installed a snapshot at ${index} beyond anything applied (${this.committedIndex})`);
    }
  }

  /** Every write acknowledged to a client is the committed entry at its index. */
  acknowledged(index: number, term: number, matches: (data: string) => boolean, what: string): void {
    const data = this.committedData.get(index);
    if (!this.isCommitted(index) || this.committedTerms[index] !== term || (data !== undefined && !matches(data))) {
      violation('acked-write-committed', `group ${this.group}: ${what} was acknowledged at index ${index} term ${term}, but the committed log does not hold it there`);
    }
  }

  private checkDurableOnQuorum(e: Entry): void {
    const current = this.confFor(e.index);
    // Reused: this runs for every entry committed.
    const holders = this.holders;
    holders.length = 0;
    for (const r of this.replicas()) if (r.durable.holds(e.index, e.term)) holders.push(r.host);
    if (heldByQuorum(current.voters, holders)) return;
    const previous = this.previousConf(current);
    if (previous !== undefined && heldByQuorum(previous.voters, holders)) return;
    const hosts = [...new Set(holders)].sort((a, b) => a - b);
    violation('committed-durable-on-quorum',
      `group ${this.group}: entry ${e.index} term ${e.term} was applied while durable only on hosts [${hosts.join(', ')}] of voters [${current.voters.join(', ')}]`);
  }

  /** The voters in force once everything up to `applied` is applied (changes take effect when applied). */
  votersAfter(applied: number): readonly number[] {
    return this.confFor(applied + 1).voters;
  }

  private confFor(index: number): { from: number; voters: number[] } {
    // From the newest: the per-step rules ask about recent indexes, and a run's changes pile up.
    const confs = this.confs;
    for (let i = confs.length - 1; i > 0; i--) if (confs[i]!.from < index) return confs[i]!;
    return confs[0]!;
  }

  private previousConf(c: { from: number }): { from: number; voters: number[] } | undefined {
    const i = this.confs.findIndex((x) => x.from === c.from);
    return i > 0 ? this.confs[i - 1] : undefined;
  }

  private noteConfChange(e: Entry): void {
    const cc = JSON.parse(e.data) as ConfChange;
    const voters = new Set(this.confs[this.confs.length - 1]!.voters);
    if (cc.type === 'addNode') voters.add(cc.node);
    else voters.delete(cc.node); // a removed voter, or one demoted to learner
    this.confs.push({ from: e.index, voters: [...voters].sort((a, b) => a - b) });
  }
}

/** An entry seen persisted at an index: its term, data, the term before it, and another term's entry there. */
interface PersistedEntry {
  readonly term: number;
  readonly data: string;
  readonly prev: number | null;
  readonly other: PersistedEntry | undefined;
}

/** Whether a majority of the voters are among the holders (a host may appear twice: a twin's disk). */
function heldByQuorum(voters: readonly number[], holders: readonly number[]): boolean {
  let held = 0;
  for (const v of voters) if (holders.includes(v)) held++;
  return held * 2 > voters.length;
}
