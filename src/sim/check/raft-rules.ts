// The rules each Raft replica must follow at every step, checked from outside
// as the simulator delivers a message to a replica or ticks its host: what a
// step may change is read off the replica before and after it. These are the
// rules of the Raft paper's Figure 2, the dissertation's sections 4.1
// (membership), 6.2 (check-quorum) and 9.6 (pre-vote), stated as
// assertions. The group-wide invariants (raft-invariants.ts) catch a broken
// rule only once its consequence (two leaders, a lost commit) happens; these
// catch the step that breaks it, which a run reaches far more often.
import type { Entry, Message, NodeId, Role } from '../../raft/index.js';
import type { RaftInvariants } from './raft-invariants.js';
import { violation } from './violation.js';

/** What the rules read of a replica (the host runtime's Replica in the simulator). */
export interface RuleSubject {
  readonly host: number;
  readonly group: number;
  readonly node: {
    peek(): Readonly<{ term: number; vote: NodeId; role: Role; lead: NodeId; commit: number; applied: number; lastIndex: number; snapshotIndex: number; leadTransferee: NodeId; voters: readonly NodeId[] }>;
    termAt(index: number): number | null;
    entriesFrom(lo: number, hi: number): Entry[];
    /** Messages the core refused (malformed, beyond the bounds, a rival leader's): live counters. */
    refusals(): Readonly<{ malformed: number; termBeyondBound: number; indexBeyondBound: number; rivalLeader: number }>;
  };
}

function refusedSoFar(r: RuleSubject): number {
  const x = r.node.refusals();
  return x.malformed + x.termBeyondBound + x.indexBeyondBound + x.rivalLeader;
}

type Status = ReturnType<RuleSubject['node']['peek']>;

export interface RuleSettings {
  readonly electionTicks: number;
  readonly checkQuorum: boolean;
}

/** A delivery in progress: the replica as it was, and what the message would change. */
export interface Delivery {
  readonly replica: RuleSubject;
  readonly msg: Message;
  readonly before: Status;
  readonly lastTermBefore: number | null;
  /** app: whether an entry of the message conflicts with the receiver's log. */
  readonly conflicts: boolean;
  /** The replica's refusals before the step: a message the core refuses obeys no rule but one. */
  readonly refusedBefore: number;
}

/** A leader's contact with its voters, for check-quorum (counted in its host's ticks). */
interface Contact {
  term: number;
  /** The tick from which the leader has led with this configuration and no transfer under way. */
  since: number;
  voters: string;
  /** voter -> the tick count at the last response of this term from it. */
  heard: Map<NodeId, number>;
}

export class RaftRules {
  /** host -> ticks run. */
  private readonly ticks = new Map<number, number>();
  /** "host/group" -> contact while it leads. */
  private readonly contact = new Map<string, Contact>();

  constructor(private readonly settings: RuleSettings, private readonly groups: readonly RaftInvariants[]) {}

  /** Call before a Raft message is stepped on a running replica; pass the result to delivered(). */
  delivering(replica: RuleSubject, msg: Message): Delivery {
    const before = replica.node.peek();
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
    return { replica, msg, before, lastTermBefore: replica.node.termAt(before.lastIndex), conflicts, refusedBefore: refusedSoFar(replica) };
  }

  delivered(d: Delivery): void {
    const { replica: r, msg: m, before: b } = d;
    const a = r.node.peek();
    const changed = (): boolean => a.term !== b.term || a.vote !== b.vote || a.lead !== b.lead || a.commit !== b.commit
      || a.lastIndex !== b.lastIndex || r.node.termAt(b.lastIndex) !== d.lastTermBefore;
    if (refusedSoFar(r) > d.refusedBefore) {
      // Refused by the core's guards against a faulty peer (src/raft/bounds.ts): it changes nothing, and no other rule applies.
      if (changed()) violation('refused-changes-nothing', `${place(r)} refused a ${describeMessage(m)} yet changed: ${describeChange(b, a)}`);
      return;
    }
    if (m.term < b.term) {
      // Figure 2: a message of an older term is refused (answered at most): it changes nothing.
      if (changed()) violation('stale-term-refused', `${place(r)} at term ${b.term} took a ${describeMessage(m)}: ${describeChange(b, a)}`);
    }
    if (m.type === 'preVote' && (a.term !== b.term || a.vote !== b.vote)) {
      // Dissertation 9.6: a pre-vote has no side effects on the receiver.
      violation('pre-vote-no-side-effects', `${place(r)} changed its term or vote on a ${describeMessage(m)}: ${describeChange(b, a)}`);
    }
    if (m.term > b.term && m.type !== 'vote' && m.type !== 'preVote' && m.type !== 'preVoteResp' && a.term < m.term) {
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
      const c = this.contact.get(`${r.host}/${r.group}`);
      if (c !== undefined && c.term === a.term) c.heard.set(m.from, this.ticks.get(r.host) ?? 0);
    }
    this.checkState(r, a);
  }

  /** After a host's tick: its replicas' state, and check-quorum's bound for the leaders among them. */
  ticked(host: number, replicas: readonly (RuleSubject | undefined)[]): void {
    const now = (this.ticks.get(host) ?? 0) + 1;
    this.ticks.set(host, now);
    for (const r of replicas) {
      if (r === undefined) continue;
      const s = r.node.peek();
      this.checkState(r, s);
      if (this.settings.checkQuorum) this.checkQuorumBound(r, s, now);
    }
  }

  /** A host crashed: its leaders' contact is gone with it. */
  crashed(host: number): void {
    for (const key of [...this.contact.keys()]) if (key.startsWith(`${host}/`)) this.contact.delete(key);
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
    const own = r.node.entriesFrom(s.applied + 1, s.lastIndex + 1).filter((e) => e.kind === 'conf' && e.term === s.term);
    if (own.length === 0) return;
    if (own.length > 1) {
      violation('one-conf-change-at-a-time', `${place(r)}, leader of term ${s.term}, has conf entries at ${own.map((e) => e.index).join(', ')} none applied (applied ${s.applied})`);
    }
    if (r.node.termAt(s.commit) !== s.term && s.commit < own[0]!.index) {
      violation('conf-change-after-own-commit', `${place(r)}, leader of term ${s.term}, proposed a conf change at ${own[0]!.index} before committing an entry of its term (commit ${s.commit}, of term ${r.node.termAt(s.commit)})`);
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
    const key = `${r.host}/${r.group}`;
    if (s.role !== 'leader') {
      this.contact.delete(key);
      return;
    }
    const voters = [...s.voters].sort((x, y) => x - y).join(',');
    let c = this.contact.get(key);
    if (c === undefined || c.term !== s.term) {
      c = { term: s.term, since: now, voters, heard: new Map() };
      this.contact.set(key, c);
    }
    if (c.voters !== voters || s.leadTransferee !== 0) {
      c.voters = voters;
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
  if (a.length !== b.length) return false;
  for (const x of a) if (!b.includes(x)) return false;
  return true;
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
