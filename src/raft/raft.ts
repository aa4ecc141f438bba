// The Raft state machine: step (messages), tick (time), local requests. No I/O: outgoing
// messages accumulate in `msgs`, durable state is read by RawNode when it builds a Ready.

import { MAX_INDEX_STEP, MAX_TERM_STEP, noRefusals } from './bounds.js';
import type { Refusals } from './bounds.js';
import { applyConfChangeTo, cloneConf, encodeConfChange, isConfChange, isEffectiveChange, parseConfChange } from './confchange.js';
import { inertFaultPoints, RaftPoint, RaftProbe } from './fault-points.js';
import type { FaultPoints } from './fault-points.js';
import { RaftLog } from './log.js';
import { Progress } from './progress.js';
import { hasQuorum, majorityIndex, voteResult } from './quorum.js';
import type { BootState, ConfChange, ConfState, Entry, Message, MessageType, NodeId, RaftConfig, Role } from './types.js';
import { isValidMessage } from './validate.js';

const DEFAULT_MAX_ENTRIES = 64;
const DEFAULT_MAX_INFLIGHT = 256;

type Outgoing = Partial<Message> & { type: MessageType; to: NodeId };

export class Raft {
  readonly id: NodeId;
  term: number;
  vote: NodeId;
  lead: NodeId = 0;
  role: Role = 'follower';
  readonly log: RaftLog;
  conf: ConfState;
  /** Outgoing messages since the last Ready. */
  /** Messages that may leave before this node's pending records are durable. */
  msgs: Message[] = [];
  /** Messages that promise durable state (votes, acks): they leave only once the Ready holding it is persisted. */
  msgsAfterPersist: Message[] = [];
  leadTransferee: NodeId = 0;
  /** Messages refused as malformed or beyond the bounds (bounds.ts), by reason. */
  readonly refused: Refusals = noRefusals();

  private readonly electionTick: number;
  private readonly heartbeatTick: number;
  private readonly preVote: boolean;
  private readonly checkQuorum: boolean;
  private readonly random: () => number;
  private readonly maxEntries: number;
  private readonly maxInflight: number;
  private readonly faults: FaultPoints;
  /** Configuration to start from when there is no snapshot. */
  private readonly bootConf: ConfState;

  private electionElapsed = 0;
  private heartbeatElapsed = 0;
  private randomizedElectionTimeout = 0;
  private votes = new Map<NodeId, boolean>();
  /** Leader only: one entry per member (voters and learners, including itself). */
  private prs = new Map<NodeId, Progress>();
  /** Leader only: index of the last conf entry proposed; no new change until it is applied. */
  private pendingConfIndex = 0;

  constructor(cfg: RaftConfig, boot: BootState) {
    if (!(Number.isSafeInteger(cfg.id) && cfg.id > 0)) throw new Error('raft: id must be a positive integer');
    if (!(cfg.heartbeatTick >= 1 && cfg.electionTick > cfg.heartbeatTick)) {
      throw new Error('raft: need 1 <= heartbeatTick < electionTick');
    }
    this.id = cfg.id;
    this.electionTick = cfg.electionTick;
    this.heartbeatTick = cfg.heartbeatTick;
    this.preVote = cfg.preVote;
    this.checkQuorum = cfg.checkQuorum;
    this.random = cfg.random;
    this.maxEntries = Math.max(1, cfg.maxEntriesPerMsg ?? DEFAULT_MAX_ENTRIES);
    this.maxInflight = Math.max(1, cfg.maxInflight ?? DEFAULT_MAX_INFLIGHT);
    this.faults = cfg.faults ?? inertFaultPoints;

    const snap = boot.snapshot;
    this.bootConf = cloneConf(boot.conf);
    const applied = boot.applied ?? (snap ? snap.index : 0);
    this.log = new RaftLog(snap, boot.entries, boot.hardState.commit, applied);
    this.term = boot.hardState.term;
    this.vote = boot.hardState.vote;
    // Configuration = base + conf entries already applied; the driver re-applies later ones.
    this.conf = this.confAt(this.log.applied);
    this.becomeFollower(this.term, 0);
  }

  // ---------------------------------------------------------------- helpers

  private send(o: Outgoing): void {
    const out = leavesBeforePersist(o.type) ? this.msgs : this.msgsAfterPersist;
    out.push({
      type: o.type,
      from: this.id,
      to: o.to,
      term: o.term ?? this.term,
      logTerm: o.logTerm ?? 0,
      index: o.index ?? 0,
      entries: o.entries ?? [],
      commit: o.commit ?? 0,
      reject: o.reject ?? false,
      rejectHint: o.rejectHint ?? 0,
      snapshot: o.snapshot ?? null,
      transfer: o.transfer ?? false,
    });
  }

  /** Only voters in their own configuration may campaign or lead. */
  promotable(): boolean {
    return this.conf.voters.includes(this.id);
  }

  private members(): NodeId[] {
    return [...this.conf.voters, ...this.conf.learners];
  }

  /** Configuration in effect after applying everything up to index (index >= snapshot index). */
  confAt(index: number): ConfState {
    let c = this.log.snapshot ? cloneConf(this.log.snapshot.conf) : cloneConf(this.bootConf);
    for (const e of this.log.slice(this.log.firstIndex(), index + 1)) {
      if (e.kind !== 'conf') continue;
      const cc = parseConfChange(e.data);
      if (cc) c = applyConfChangeTo(c, cc);
    }
    return c;
  }

  private resetRandomizedElectionTimeout(): void {
    const r = this.random();
    const f = r >= 0 && r < 1 ? r : 0; // a broken random source must not break the timeout range
    this.randomizedElectionTimeout = this.electionTick + Math.floor(f * this.electionTick);
  }

  private reset(term: number): void {
    if (term !== this.term) {
      this.term = term;
      this.vote = 0;
    }
    this.lead = 0;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.resetRandomizedElectionTimeout();
    this.leadTransferee = 0;
    this.votes = new Map();
    this.prs = new Map();
    this.pendingConfIndex = 0;
  }

  // ---------------------------------------------------------------- role changes

  becomeFollower(term: number, lead: NodeId): void {
    this.reset(term);
    this.role = 'follower';
    this.lead = lead;
  }

  private becomePreCandidate(): void {
    // A pre-candidate keeps its term and vote: nothing durable changes until it may win.
    this.votes = new Map();
    this.role = 'preCandidate';
    this.lead = 0;
    this.electionElapsed = 0;
    this.resetRandomizedElectionTimeout();
  }

  private becomeCandidate(): void {
    this.reset(this.term + 1);
    this.vote = this.id;
    this.role = 'candidate';
  }

  private becomeLeader(): void {
    this.reset(this.term);
    this.role = 'leader';
    this.lead = this.id;
    const next = this.log.lastIndex() + 1;
    for (const id of this.members()) this.prs.set(id, new Progress(next, this.maxInflight));
    const self = this.prs.get(this.id);
    if (self) {
      // The leader counts only what it has persisted toward commitment.
      self.maybeUpdate(this.log.stable);
      self.recentActive = true;
    }
    // The no-op lets the leader commit (and learn the commit index of) earlier terms' entries.
    this.appendEntry('normal', '');
    // No conf change until this term's no-op (and everything before it) has been applied.
    this.pendingConfIndex = this.log.lastIndex();
  }

  // ---------------------------------------------------------------- time

  tick(): void {
    if (this.role === 'leader') this.tickHeartbeat();
    else this.tickElection();
  }

  private tickElection(): void {
    this.electionElapsed++;
    if (this.promotable() && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0;
      this.hup(false);
    }
  }

  private tickHeartbeat(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    for (const id of this.members()) {
      const pr = this.prs.get(id);
      // A snapshot message may be lost; retry after an election timeout without an ack.
      if (pr && pr.state === 'snapshot' && ++pr.snapshotTicks >= this.electionTick) {
        this.faults.probe(RaftProbe.snapshotRetried);
        pr.becomeProbe();
      }
    }
    if (this.electionElapsed >= this.electionTick) {
      this.electionElapsed = 0;
      if (this.checkQuorum && !this.quorumActive()) {
        this.faults.probe(RaftProbe.checkQuorumStepDown);
        this.becomeFollower(this.term, 0);
        return;
      }
      // A transfer that has not completed within an election timeout is abandoned.
      if (this.leadTransferee !== 0) this.faults.probe(RaftProbe.transferAbandoned);
      this.leadTransferee = 0;
    }
    if (this.heartbeatElapsed >= this.heartbeatTick) {
      this.heartbeatElapsed = 0;
      this.bcastHeartbeat();
    }
  }

  /** Whether a quorum of voters was heard from since the last check; resets the marks. */
  private quorumActive(): boolean {
    const ok = hasQuorum(this.conf.voters, (id) => id === this.id || this.prs.get(id)?.recentActive === true);
    for (const [id, pr] of this.prs) pr.recentActive = id === this.id;
    return ok;
  }

  // ---------------------------------------------------------------- elections

  /** Start an election; transfer = on the leader's request (skips pre-vote, breaks leases). */
  hup(transfer: boolean): void {
    if (this.role === 'leader' || !this.promotable()) return;
    // A configuration change committed but not applied may change who votes: wait for it.
    const pending = this.log.slice(this.log.applied + 1, this.log.committed + 1);
    if (pending.some((e) => e.kind === 'conf')) {
      this.faults.probe(RaftProbe.campaignDeferredConf);
      return;
    }
    this.campaign(this.preVote && !transfer ? 'preCandidate' : 'candidate', transfer);
  }

  private campaign(kind: 'preCandidate' | 'candidate', transfer: boolean): void {
    let voteTerm: number;
    let type: MessageType;
    if (kind === 'preCandidate') {
      this.becomePreCandidate();
      voteTerm = this.term + 1;
      type = 'preVote';
    } else {
      this.becomeCandidate();
      voteTerm = this.term;
      type = 'vote';
    }
    if (this.poll(this.id, true)) return;
    for (const id of this.conf.voters) {
      if (id === this.id) continue;
      this.send({ type, to: id, term: voteTerm, index: this.log.lastIndex(), logTerm: this.log.lastTerm(), transfer });
    }
  }

  /** Record a vote; returns true if the election was decided. */
  private poll(from: NodeId, granted: boolean): boolean {
    if (!this.votes.has(from)) this.votes.set(from, granted);
    const res = voteResult(this.conf.voters, this.votes);
    if (res === 'won') {
      if (this.role === 'preCandidate') this.campaign('candidate', false);
      else if (this.promotable()) {
        this.becomeLeader();
        this.bcastAppend();
      } else this.becomeFollower(this.term, 0);
      return true;
    }
    if (res === 'lost') {
      this.becomeFollower(this.term, 0);
      return true;
    }
    return false;
  }

  // ---------------------------------------------------------------- step

  step(m: Message): void {
    if (!isValidMessage(m) || m.to !== this.id || m.from === this.id) {
      this.refused.malformed++;
      return;
    }
    if (m.term > this.term + MAX_TERM_STEP) {
      this.refused.termBeyondBound++;
      return;
    }
    if (m.snapshot !== null && m.snapshot.index > this.log.lastIndex() + MAX_INDEX_STEP) {
      this.refused.indexBeyondBound++;
      return;
    }
    if (!this.stepTerm(m)) return;
    switch (m.type) {
      case 'vote':
      case 'preVote':
        this.handleVoteRequest(m);
        return;
    }
    switch (this.role) {
      case 'leader':
        this.stepLeader(m);
        return;
      case 'candidate':
      case 'preCandidate':
        this.stepCandidate(m);
        return;
      case 'follower':
        this.stepFollower(m);
        return;
    }
  }

  /** Term comparison common to all roles. Returns false if the message is consumed. */
  private stepTerm(m: Message): boolean {
    if (m.term > this.term) {
      if (m.type === 'vote' || m.type === 'preVote') {
        // Leader lease: having heard from a live leader within an election timeout, ignore
        // would-be disruptors. Pre-votes always honour it; real votes only with check-quorum
        // (a transfer's campaign is sanctioned by the leader and breaks the lease).
        const inLease = this.lead !== 0 && this.electionElapsed < this.electionTick;
        if (!m.transfer && inLease && (this.checkQuorum || m.type === 'preVote')) {
          this.faults.probe(RaftProbe.leaseIgnoredVote);
          return false;
        }
      }
      if (m.type === 'preVote') return true; // pre-votes never change our term
      if (m.type === 'preVoteResp' && !m.reject) return true; // a grant carries the proposed term
      const fromLeader = m.type === 'app' || m.type === 'heartbeat' || m.type === 'snap';
      this.becomeFollower(m.term, fromLeader ? m.from : 0);
      return true;
    }
    if (m.term < this.term) {
      if ((this.checkQuorum || this.preVote) && (m.type === 'app' || m.type === 'heartbeat')) {
        // A stale leader (e.g. we were partitioned and bumped our term): tell it our term so the
        // cluster moves past it rather than us staying stuck forever.
        this.faults.probe(RaftProbe.staleLeaderTold);
        this.send({ type: 'appResp', to: m.from });
      } else if (m.type === 'preVote') {
        this.faults.probe(RaftProbe.preVoteRejected);
        this.send({ type: 'preVoteResp', to: m.from, reject: true });
      }
      return false;
    }
    return true;
  }

  private handleVoteRequest(m: Message): void {
    const resp: MessageType = m.type === 'vote' ? 'voteResp' : 'preVoteResp';
    const canVote =
      this.vote === m.from ||
      (this.vote === 0 && this.lead === 0) ||
      (m.type === 'preVote' && m.term > this.term);
    if (canVote && this.log.isUpToDate(m.index, m.logTerm)) {
      // The response carries the candidate's term; for a real vote it is ours now too, and the
      // vote is in the same Ready as this message, so it is durable before the reply leaves.
      this.send({ type: resp, to: m.from, term: m.term });
      if (m.type === 'vote') {
        this.electionElapsed = 0;
        this.vote = m.from;
      }
    } else {
      if (m.type === 'preVote') this.faults.probe(RaftProbe.preVoteRejected);
      this.send({ type: resp, to: m.from, reject: true });
    }
  }

  private stepCandidate(m: Message): void {
    switch (m.type) {
      case 'app':
      case 'heartbeat':
      case 'snap':
        // Someone won this term.
        this.becomeFollower(this.term, m.from);
        this.stepFollower(m);
        return;
      case 'voteResp':
        if (this.role === 'candidate') this.poll(m.from, !m.reject);
        return;
      case 'preVoteResp':
        // Only grants for the term we would campaign at count; rejections at our term count too.
        if (this.role !== 'preCandidate') return;
        if (!m.reject && m.term !== this.term + 1) return;
        this.poll(m.from, !m.reject);
        return;
      default:
        return;
    }
  }

  private stepFollower(m: Message): void {
    if ((m.type === 'app' || m.type === 'heartbeat' || m.type === 'snap') && this.lead !== 0 && this.lead !== m.from) {
      // Election Safety gives a term one leader: a second one is a faulty peer, not news.
      this.refused.rivalLeader++;
      return;
    }
    switch (m.type) {
      case 'app':
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleAppend(m);
        return;
      case 'heartbeat':
        this.electionElapsed = 0;
        this.lead = m.from;
        this.log.commitTo(m.commit);
        this.send({ type: 'heartbeatResp', to: m.from });
        return;
      case 'snap':
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleSnapshot(m);
        return;
      case 'timeoutNow':
        this.faults.probe(RaftProbe.transferCampaign);
        this.hup(true);
        return;
      default:
        return;
    }
  }

  private handleAppend(m: Message): void {
    const log = this.log;
    if (m.index < log.committed) {
      this.send({ type: 'appResp', to: m.from, index: log.committed });
      return;
    }
    if (log.matchTerm(m.index, m.logTerm)) {
      const appended = log.appendFromLeader(m.entries);
      if (appended === 'refused') return; // would rewrite committed entries: faulty peer
      if (appended === 'truncated') this.faults.probe(RaftProbe.conflictTruncated);
      const lastNew = m.index + m.entries.length;
      log.commitTo(Math.min(m.commit, lastNew));
      this.send({ type: 'appResp', to: m.from, index: lastNew });
      return;
    }
    this.faults.probe(RaftProbe.appendRejected);
    if (this.faults.buggify(RaftPoint.slowBackoff)) {
      // The classic back-off: the entry before the rejected one, no term to skip by.
      this.send({ type: 'appResp', to: m.from, index: m.index, reject: true, rejectHint: Math.min(m.index - 1, log.lastIndex()) });
      return;
    }
    // Fast back-off: suggest the last index whose term is <= the leader's term at m.index, so
    // the leader skips every entry of a conflicting term in one round trip.
    const hint = log.findConflictByTerm(Math.min(m.index, log.lastIndex()), m.logTerm);
    this.send({
      type: 'appResp', to: m.from, index: m.index, reject: true,
      rejectHint: hint, logTerm: log.termAt(hint) ?? 0,
    });
  }

  private handleSnapshot(m: Message): void {
    const s = m.snapshot;
    if (!s) return;
    const log = this.log;
    if (s.index <= log.committed) {
      this.send({ type: 'appResp', to: m.from, index: log.committed });
      return;
    }
    if (log.matchTerm(s.index, s.term)) {
      // We already hold the snapshot's last entry: just fast-forward the commit index.
      this.faults.probe(RaftProbe.snapshotCaughtUp);
      log.commitTo(s.index);
      this.send({ type: 'appResp', to: m.from, index: log.committed });
      return;
    }
    this.faults.probe(RaftProbe.snapshotInstalled);
    log.restore(s);
    this.conf = cloneConf(s.conf);
    this.send({ type: 'appResp', to: m.from, index: log.lastIndex() });
  }

  // ---------------------------------------------------------------- leader

  private stepLeader(m: Message): void {
    const pr = this.prs.get(m.from);
    if (!pr) return; // not (or no longer) a member
    switch (m.type) {
      case 'appResp':
        pr.recentActive = true;
        this.handleAppendResponse(m, pr);
        return;
      case 'heartbeatResp':
        pr.recentActive = true;
        pr.probeSent = false;
        if (pr.state === 'replicate' && pr.inflightFull()) pr.freeFirst();
        if (pr.match < this.log.lastIndex() || pr.state === 'probe') this.sendAppend(m.from, true);
        return;
      default:
        return;
    }
  }

  private handleAppendResponse(m: Message, pr: Progress): void {
    const log = this.log;
    if (m.reject) {
      let probe = m.rejectHint;
      if (m.logTerm > 0) probe = log.findConflictByTerm(m.rejectHint, m.logTerm);
      if (pr.maybeDecrTo(m.index, probe)) {
        if (pr.state === 'replicate') pr.becomeProbe();
        this.sendAppend(m.from, true);
      }
      return;
    }
    if (m.index > log.lastIndex()) return; // acknowledges entries we never had: faulty peer
    const wasPaused = pr.isPaused();
    if (pr.maybeUpdate(m.index)) {
      if (pr.state === 'probe') pr.becomeReplicate();
      else if (pr.state === 'snapshot' && pr.match >= pr.pendingSnapshot) pr.becomeProbe();
      else if (pr.state === 'replicate') pr.freeLE(m.index);
      if (this.maybeCommit()) this.bcastAppend();
      else if (wasPaused) this.sendAppend(m.from, true);
      while (this.sendAppend(m.from, false)) {
        // stream until the window is full or the follower is caught up
      }
      if (m.from === this.leadTransferee && pr.match === log.lastIndex()) {
        this.send({ type: 'timeoutNow', to: m.from });
      }
    }
  }

  /** Send the next append (or a snapshot) to a peer; returns whether something was sent. */
  private sendAppend(to: NodeId, sendIfEmpty: boolean): boolean {
    const pr = this.prs.get(to);
    if (!pr || to === this.id || pr.isPaused()) return false;
    const log = this.log;
    const prevIndex = pr.next - 1;
    const prevTerm = log.termAt(prevIndex);
    if (prevTerm === null || pr.next < log.firstIndex()) {
      const snap = log.snapshot;
      if (!snap || prevIndex > log.lastIndex()) return false;
      pr.becomeSnapshot(snap.index);
      this.send({ type: 'snap', to, snapshot: snap });
      return true;
    }
    const batch = pr.next < log.lastIndex() && this.faults.buggify(RaftPoint.truncateAppend) ? 1 : this.maxEntries;
    const entries = log.slice(pr.next, pr.next + batch);
    if (entries.length === 0 && !sendIfEmpty) return false;
    this.send({ type: 'app', to, index: prevIndex, logTerm: prevTerm, entries, commit: log.committed });
    pr.sentEntries(prevIndex + entries.length, entries.length);
    return true;
  }

  private bcastAppend(): void {
    for (const id of this.members()) if (id !== this.id) this.sendAppend(id, true);
  }

  private bcastHeartbeat(): void {
    for (const id of this.members()) {
      if (id === this.id) continue;
      const pr = this.prs.get(id);
      if (!pr) continue;
      // Clamp: a follower may not yet hold (matching) entries beyond its match.
      this.send({ type: 'heartbeat', to: id, commit: Math.min(pr.match, this.log.committed) });
    }
  }

  /** A voter's match index (made once: maybeCommit asks at every acknowledgement). */
  private readonly matchOf = (id: NodeId): number => this.prs.get(id)?.match ?? 0;

  /** Commit by counting only entries of the current term (Figure 8). */
  maybeCommit(): boolean {
    const idx = majorityIndex(this.conf.voters, this.matchOf);
    if (idx > this.log.committed && this.log.termAt(idx) === this.term) return this.log.commitTo(idx);
    return false;
  }

  /** Called after the driver persisted entries: the leader may now count its own copy. */
  onPersisted(): void {
    if (this.role !== 'leader') return;
    const self = this.prs.get(this.id);
    if (self && self.maybeUpdate(this.log.stable) && this.maybeCommit()) this.bcastAppend();
  }

  private appendEntry(kind: 'normal' | 'conf', data: string): Entry {
    const e: Entry = { term: this.term, index: this.log.lastIndex() + 1, kind, data };
    this.log.appendLocal(e);
    return e;
  }

  // ---------------------------------------------------------------- local requests

  propose(data: string): boolean {
    if (this.role !== 'leader' || this.leadTransferee !== 0 || typeof data !== 'string') return false;
    if (this.faults.buggify(RaftPoint.refuseProposal)) return false;
    this.appendEntry('normal', data);
    if (this.faults.buggify(RaftPoint.abandonProposal)) {
      // Taken but never sent: the entry stays an uncommitted suffix that a later leader may overwrite.
      this.becomeFollower(this.term, 0);
      return true;
    }
    this.bcastAppend();
    return true;
  }

  proposeConfChange(cc: ConfChange): boolean {
    if (this.role !== 'leader' || this.leadTransferee !== 0 || !isConfChange(cc)) return false;
    // One change at a time, and only once this term's no-op is committed and applied (the fix
    // for the single-server change bug in Ongaro's dissertation).
    if (this.pendingConfIndex > this.log.applied) return false;
    if (this.log.termAt(this.log.committed) !== this.term) return false;
    if (!isEffectiveChange(this.conf, cc)) return false;
    const e = this.appendEntry('conf', encodeConfChange(cc));
    this.pendingConfIndex = e.index;
    this.bcastAppend();
    return true;
  }

  applyConfChange(cc: ConfChange): ConfState {
    if (!isConfChange(cc)) return cloneConf(this.conf);
    this.conf = applyConfChangeTo(this.conf, cc);
    if (this.role === 'leader') this.syncProgress();
    return cloneConf(this.conf);
  }

  /** Leader: make progress tracking follow the configuration. */
  private syncProgress(): void {
    if (!this.promotable()) {
      // Removed: step down; the remaining voters elect a leader among themselves.
      this.faults.probe(RaftProbe.removedLeaderStepsDown);
      this.becomeFollower(this.term, 0);
      return;
    }
    const members = this.members();
    for (const id of [...this.prs.keys()]) if (!members.includes(id)) this.prs.delete(id);
    for (const id of members) {
      if (this.prs.has(id)) continue;
      const pr = new Progress(this.log.lastIndex() + 1, this.maxInflight);
      pr.recentActive = true; // give a new member a full timeout before check-quorum counts it out
      this.prs.set(id, pr);
      this.sendAppend(id, true);
    }
    if (this.leadTransferee !== 0 && !this.conf.voters.includes(this.leadTransferee)) this.leadTransferee = 0;
    if (this.maybeCommit()) this.bcastAppend();
  }

  transferLeadership(to: NodeId): void {
    if (this.role !== 'leader' || to === this.id || this.leadTransferee === to) return;
    if (!this.conf.voters.includes(to)) return;
    const pr = this.prs.get(to);
    if (!pr) return;
    this.leadTransferee = to;
    this.electionElapsed = 0; // the transfer gets one election timeout to complete
    if (pr.match === this.log.lastIndex()) this.send({ type: 'timeoutNow', to });
    else this.sendAppend(to, true);
  }

  /** Local snapshot of the application at index (<= applied); entries <= index are dropped. */
  compact(index: number, data: string): void {
    const log = this.log;
    if (!Number.isSafeInteger(index) || index <= log.offset() || index > log.applied || index > log.stable) return;
    const term = log.termAt(index);
    if (term === null) return;
    log.compact({ index, term, conf: this.confAt(index), data });
  }
}

/**
 * Which messages may leave before the sender's own records of the same Ready
 * are durable (etcd's msgs vs msgsAfterAppend). Only a leader sends these:
 * its appends and heartbeats promise nothing about its own disk, since it
 * counts itself toward a commit only once persisted (Raft thesis 10.2.1), so
 * its fsync and its followers' overlap. Everything else (votes, vote and
 * append responses, campaigns) states a term, vote or log that must survive a
 * crash first.
 */
function leavesBeforePersist(type: MessageType): boolean {
  return type === 'app' || type === 'heartbeat' || type === 'snap' || type === 'timeoutNow';
}
