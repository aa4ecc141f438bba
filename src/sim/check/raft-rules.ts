// The rules each Raft replica must follow at every step, checked from outside
// as the simulator delivers a message to a replica or ticks its host: what a
// step may change is read off the replica before and after it. These are the
// rules of the Raft paper's Figure 2, the dissertation's sections 4.1
// (membership), 6.2 (check-quorum) and 9.6 (pre-vote), stated as
// assertions. The group-wide invariants (raft-invariants.ts) catch a broken
// rule only once its consequence (two leaders, a lost commit) happens; these
// catch the step that breaks it, which a run reaches far more often.
import type { Entry, Message, NodeId, PeekStatus } from '../../raft/index.js';
import type { RaftInvariants } from './raft-invariants.js';
import { violation } from './violation.js';

/** What the rules read of a replica (the host runtime's Replica in the simulator). */
export interface RuleSubject {
  readonly host: number;
  readonly group: number;
  readonly node: {
    /** Writes the replica's state into `into` (no allocation: the rules look at every step). */
    peek(into: PeekStatus): void;
    termAt(index: number): number | null;
    /** The entry at an index still in memory, uncopied. */
    entryAt(index: number): Readonly<Entry> | undefined;
    /** Messages the core refused (malformed, beyond the bounds, a rival leader's): live counters. */
    refusals(): Readonly<{ malformed: number; termBeyondBound: number; indexBeyondBound: number; rivalLeader: number }>;
  };
}

function refusedSoFar(r: RuleSubject): number {
  const x = r.node.refusals();
  return x.malformed + x.termBeyondBound + x.indexBeyondBound + x.rivalLeader;
}

type Status = Readonly<PeekStatus>;

function blankStatus(): PeekStatus {
  return { term: 0, vote: 0, role: 'follower', lead: 0, commit: 0, applied: 0, lastIndex: 0, snapshotIndex: 0, leadTransferee: 0, voters: [] };
}

export interface RuleSettings {
  readonly electionTicks: number;
  readonly checkQuorum: boolean;
}

/**
 * A delivery in progress: the replica as it was, and what the message would
 * change. The rules reuse one between steps (a step allocates nothing); a
 * delivery that is never finished only costs the next one an allocation.
 */
export class Delivery {
  replica!: RuleSubject;
  msg!: Message;
  readonly before: PeekStatus = blankStatus();
  lastTermBefore: number | null = null;
  /** app: whether an entry of the message conflicts with the receiver's log. */
  conflicts = false;
  /** The replica's refusals before the step: a message the core refuses obeys no rule but one. */
  refusedBefore = 0;
}

/** A leader's contact with its voters, for check-quorum (counted in its host's ticks). */
interface Contact {
  term: number;
  /** The tick from which the leader has led with this configuration and no transfer under way. */
  since: number;
  /** The voters it led with since then (a copy). */
  voters: NodeId[];
  /** voter -> the tick count at the last response of this term from it. */
  heard: Map<NodeId, number>;
}

export class RaftRules {
  /** host -> ticks run. */
  private readonly ticks: number[] = [];
  /** host -> group -> contact while it leads. */
  private readonly contact: (Contact | undefined)[][] = [];
  /** The delivery not in use, if any. */
  private spare: Delivery | null = new Delivery();
  /** A replica's state after a step or tick (read, judged and dropped before the next). */
  private readonly after: PeekStatus = blankStatus();

  constructor(private readonly settings: RuleSettings, private readonly groups: readonly RaftInvariants[]) {}

  /** Call before a Raft message is stepped on a running replica; pass the result to delivered(). */
  delivering(replica: RuleSubject, msg: Message): Delivery {
    const d = this.spare ?? new Delivery();
    this.spare = null;
    const before = d.before;
    replica.node.peek(before);
    // A change proposed since the last step (the nemesis asks leaders directly) is judged before
    // this step can commit it; the rest of the state was checked after the last step.
    if (before.role === 'leader') this.checkLeaderConfChanges(replica, before);
    let conflicts = false;
    if (msg.type === 'app') {
      for (const e of msg.entries) {
        const t = replica.node.termAt(e.index);
        if (t !== null && t !== e.term) conflicts = true;
      }
    }
    d.replica = replica;
    d.msg = msg;
    d.lastTermBefore = replica.node.termAt(before.lastIndex);
    d.conflicts = conflicts;
    d.refusedBefore = refusedSoFar(replica);
    return d;
  }

  delivered(d: Delivery): void {
    const { replica: r, msg: m, before: b } = d;
    const a = this.after;
    r.node.peek(a);
    this.spare = d;
    if (refusedSoFar(r) > d.refusedBefore) {
      // Refused by the core's guards against a faulty peer (src/raft/bounds.ts): it changes nothing, and no other rule applies.
      if (changed(r, d, a)) violation('refused-changes-nothing', `${place(r)} refused a ${describeMessage(m)} yet changed: ${describeChange(b, a)}`);
      return;
    }
    if (m.term < b.term) {
      // Figure 2: a message of an older term is refused (answered at most): it changes nothing.
      if (changed(r, d, a)) violation('stale-term-refused', `${place(r)} at term ${b.term} took a ${describeMessage(m)}: ${describeChange(b, a)}`);
    }
    // Compared at every step, not only for the rare messages they concern (a comparison first run
    // at a run's first pre-vote or higher term deoptimized this whole check and what it inlines).
    const termOrVoteChanged = a.term !== b.term || a.vote !== b.vote;
    const keptLowerTerm = a.term < m.term;
    if (m.type === 'preVote' && termOrVoteChanged) {
      // Dissertation 9.6: a pre-vote has no side effects on the receiver.
      violation('pre-vote-no-side-effects', `${place(r)} changed its term or vote on a ${describeMessage(m)}: ${describeChange(b, a)}`);
    }
    if (m.term > b.term && m.type !== 'vote' && m.type !== 'preVote' && m.type !== 'preVoteResp' && keptLowerTerm) {
      // Figure 2, all servers: a higher term in any request or response is adopted (votes
      // may be ignored under a leader's lease; pre-votes propose a term, they do not hold one).
      violation('higher-term-adopted', `${place(r)} at term ${a.term} (role ${a.role}) kept its term on a ${describeMessage(m)}`);
    }
    if (m.type === 'app' && a.term === m.term && a.role === 'follower') {
      const lastNew = m.index + m.entries.length;
      if (a.commit > Math.max(b.commit, lastNew)) {
        // Figure 2, AppendEntries rule 5: commitIndex = min(leaderCommit, index of last new entry).
        violation('append-commit-bound', `${place(r)} committed to ${a.commit} on a ${describeMessage(m)} whose last entry is ${lastNew} (commit was ${b.commit})`);
      }
      if (!d.conflicts && (a.lastIndex < b.lastIndex || r.node.termAt(b.lastIndex) !== d.lastTermBefore)) {
        // Figure 2, AppendEntries rule 3: entries are deleted only from a conflict on.
        violation('append-keeps-log', `${place(r)} shortened its log from ${b.lastIndex} to ${a.lastIndex} on a ${describeMessage(m)} [${m.index + 1}, ${lastNew}] that conflicts with nothing`);
      }
    }
    if (b.role === 'leader' && a.role === 'leader' && a.term === b.term && a.commit > b.commit && r.node.termAt(a.commit) !== a.term) {
      // Figure 2, leaders: commit only an entry of the current term by counting (Figure 8).
      violation('leader-commits-own-term', `${place(r)}, leader of term ${a.term}, committed to ${a.commit}, an entry of term ${r.node.termAt(a.commit)}`);
    }
    if (a.role === 'leader' && a.term === m.term && (m.type === 'appResp' || m.type === 'heartbeatResp')) {
      const c = this.contact[r.host]?.[r.group];
      if (c !== undefined && c.term === a.term) c.heard.set(m.from, this.ticks[r.host] ?? 0);
    }
    this.checkState(r, a);
  }

  /** After a host's tick: its replicas' state, and check-quorum's bound for the leaders among them. */
  ticked(host: number, replicas: readonly (RuleSubject | undefined)[]): void {
    const now = (this.ticks[host] ?? 0) + 1;
    this.ticks[host] = now;
    const s = this.after;
    for (const r of replicas) {
      if (r === undefined) continue;
      r.node.peek(s);
      this.checkState(r, s);
      if (this.settings.checkQuorum) this.checkQuorumBound(r, s, now);
    }
  }

  /** A host crashed: its leaders' contact is gone with it. */
  crashed(host: number): void {
    this.contact[host] = [];
  }

  /** What must hold of a replica between steps. */
  private checkState(r: RuleSubject, s: Status): void {
    if (!(s.snapshotIndex <= s.commit && s.commit <= s.lastIndex && s.applied <= s.commit)) {
      violation('commit-bounds', `${place(r)} has snapshot ${s.snapshotIndex}, applied ${s.applied}, commit ${s.commit}, last index ${s.lastIndex} (expected snapshot <= commit <= last, applied <= commit)`);
    }
    const group = this.groups[r.group];
    if (group !== undefined) {
      // Changes take effect when applied (etcd's rule, which this Raft follows), so a replica's
      // voters are those of the group's committed configuration at its applied index (or at the
      // snapshot it installed, whose configuration it takes before the snapshot is applied).
      const at = Math.max(s.applied, s.snapshotIndex);
      const expected = group.votersAfter(at);
      if (!sameMembers(expected, s.voters)) {
        violation('conf-at-applied', `${place(r)} counts voters [${s.voters.join(', ')}] at applied index ${at}, where the group's configuration is [${expected.join(', ')}]`);
      }
    }
    if (s.role === 'leader') this.checkLeaderConfChanges(r, s);
  }

  /**
   * Dissertation 4.1 and Ongaro's 2015 fix for single-server changes: a leader
   * proposes a change only once an entry of its term is committed, and one
   * change at a time (none while an earlier one is not applied). Read off the
   * leader's log: a conf entry of its term may sit after its applied index
   * only alone, and only once the commit index has reached its term.
   */
  private checkLeaderConfChanges(r: RuleSubject, s: Status): void {
    if (s.applied >= s.lastIndex || s.snapshotIndex >= s.lastIndex) return;
    // Read in place, not sliced: a leader has unapplied entries at most of its steps.
    let first = 0;
    let count = 0;
    for (let i = s.applied + 1; i <= s.lastIndex; i++) {
      const e = r.node.entryAt(i);
      if (e === undefined) continue;
      // The term compared for every entry, not only conf ones: a comparison that first runs at a
      // leader's first conf entry deoptimized every step that had inlined this check.
      const ofTerm = e.term === s.term;
      if (e.kind !== 'conf' || !ofTerm) continue;
      if (count++ === 0) first = i;
    }
    if (count === 0) return;
    if (count > 1) {
      const own: number[] = [];
      for (let i = s.applied + 1; i <= s.lastIndex; i++) {
        const e = r.node.entryAt(i);
        if (e !== undefined && e.kind === 'conf' && e.term === s.term) own.push(i);
      }
      violation('one-conf-change-at-a-time', `${place(r)}, leader of term ${s.term}, has conf entries at ${own.join(', ')} none applied (applied ${s.applied})`);
    }
    if (r.node.termAt(s.commit) !== s.term && s.commit < first) {
      violation('conf-change-after-own-commit', `${place(r)}, leader of term ${s.term}, proposed a conf change at ${first} before committing an entry of its term (commit ${s.commit}, of term ${r.node.termAt(s.commit)})`);
    }
  }

  /**
   * Dissertation 6.2: with check-quorum, a leader that hears from no quorum of
   * its voters (itself counted once) for an election timeout steps down. It
   * checks every electionTicks ticks, so a leader that has heard from no
   * quorum during its last 2 * electionTicks + 1 ticks (with one
   * configuration, no transfer resetting its count) must have stepped down.
   */
  private checkQuorumBound(r: RuleSubject, s: Status, now: number): void {
    const byGroup = (this.contact[r.host] ??= []);
    if (s.role !== 'leader') {
      byGroup[r.group] = undefined;
      return;
    }
    let c = byGroup[r.group];
    if (c === undefined || c.term !== s.term) {
      c = { term: s.term, since: now, voters: [...s.voters], heard: new Map() };
      byGroup[r.group] = c;
    }
    if (!sameMembers(c.voters, s.voters) || s.leadTransferee !== 0) {
      c.voters = [...s.voters];
      c.since = now;
    }
    const window = 2 * this.settings.electionTicks + 1;
    if (now - c.since < window) return;
    let heard = s.voters.includes(r.host) ? 1 : 0;
    for (const v of s.voters) if (v !== r.host && (c.heard.get(v) ?? -Infinity) >= now - window) heard++;
    if (heard * 2 <= s.voters.length) {
      violation('check-quorum', `group ${r.group}: host ${r.host} still leads term ${s.term} having heard from ${heard} of voters [${s.voters.join(', ')}] (itself included) in its last ${window} ticks`);
    }
  }
}

// Messages are built only for a violation: the rules run at every step.
function place(r: RuleSubject): string {
  return `group ${r.group}: host ${r.host}`;
}

function describeMessage(m: Message): string {
  return `${m.type} of term ${m.term} from host ${m.from}`;
}

/** Whether two small lists of distinct ids hold the same ids (no allocation: this runs at every step). */
function sameMembers(a: readonly NodeId[], b: readonly NodeId[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  // Both are usually sorted: the same order is the same members.
  let i = 0;
  while (i < a.length && a[i] === b[i]) i++;
  for (; i < a.length; i++) if (!b.includes(a[i]!)) return false;
  return true;
}

/** Whether a step changed the replica in what a refused message may not change. */
function changed(r: RuleSubject, d: Delivery, a: Status): boolean {
  const b = d.before;
  return a.term !== b.term || a.vote !== b.vote || a.lead !== b.lead || a.commit !== b.commit
    || a.lastIndex !== b.lastIndex || r.node.termAt(b.lastIndex) !== d.lastTermBefore;
}

function describeChange(b: Status, a: Status): string {
  const parts: string[] = [];
  const note = (name: string, x: number | string, y: number | string): void => {
    if (x !== y) parts.push(`${name} ${x} -> ${y}`);
  };
  note('term', b.term, a.term);
  note('vote', b.vote, a.vote);
  note('role', b.role, a.role);
  note('leader', b.lead, a.lead);
  note('commit', b.commit, a.commit);
  note('last index', b.lastIndex, a.lastIndex);
  return parts.length > 0 ? parts.join(', ') : 'its last entry changed';
}
