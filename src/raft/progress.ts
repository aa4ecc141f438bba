// The leader's view of one peer's log (etcd's tracker.Progress).
//
// probe:     we don't know where the peer's log matches; send one append at a time and wait.
// replicate: steady state; stream appends optimistically, bounded by an inflight window.
// snapshot:  a snapshot is on its way; send nothing until it is acknowledged (or times out).

export type ProgressState = 'probe' | 'replicate' | 'snapshot';

export class Progress {
  match = 0;
  next: number;
  state: ProgressState = 'probe';
  /** probe: an append is outstanding; pause until a response or heartbeat response. */
  probeSent = false;
  /** snapshot: the index of the snapshot sent. */
  pendingSnapshot = 0;
  /** snapshot: ticks spent waiting; a lost snapshot is retried after an election timeout. */
  snapshotTicks = 0;
  /** Heard from since the last check-quorum round. */
  recentActive = false;
  /** replicate: last index of each unacknowledged append, ascending. */
  private inflights: number[] = [];

  constructor(next: number, private readonly maxInflight: number) {
    this.next = next;
  }

  private resetState(state: ProgressState): void {
    this.state = state;
    this.probeSent = false;
    this.pendingSnapshot = 0;
    this.snapshotTicks = 0;
    this.inflights = [];
  }

  becomeProbe(): void {
    // After a snapshot, continue from after the snapshot even if its ack was lost.
    const snap = this.state === 'snapshot' ? this.pendingSnapshot : 0;
    this.resetState('probe');
    this.next = Math.max(this.match + 1, snap + 1);
  }

  becomeReplicate(): void {
    this.resetState('replicate');
    this.next = this.match + 1;
  }

  becomeSnapshot(index: number): void {
    this.resetState('snapshot');
    this.pendingSnapshot = index;
  }

  /** An append response acknowledged index n; returns whether match moved forward. */
  maybeUpdate(n: number): boolean {
    let updated = false;
    if (this.match < n) {
      this.match = n;
      updated = true;
      this.probeSent = false;
    }
    this.next = Math.max(this.next, n + 1);
    return updated;
  }

  /**
   * An append after `rejected` was refused; hint is the highest index that might match.
   * Returns false if the rejection is stale (answers an older probe).
   */
  maybeDecrTo(rejected: number, hint: number): boolean {
    if (this.state === 'replicate') {
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, hint + 1), this.match + 1);
    this.probeSent = false;
    return true;
  }

  /** Record an append ending at lastIndex (optimistically advancing next in replicate). */
  sentEntries(lastIndex: number, count: number): void {
    if (this.state === 'replicate') {
      if (count > 0) {
        this.next = lastIndex + 1;
        this.inflights.push(lastIndex);
      }
    } else if (this.state === 'probe') {
      this.probeSent = true;
    }
  }

  freeLE(index: number): void {
    let i = 0;
    while (i < this.inflights.length && this.inflights[i]! <= index) i++;
    if (i > 0) this.inflights = this.inflights.slice(i);
  }

  freeFirst(): void {
    if (this.inflights.length > 0) this.inflights = this.inflights.slice(1);
  }

  inflightFull(): boolean {
    return this.inflights.length >= this.maxInflight;
  }

  isPaused(): boolean {
    switch (this.state) {
      case 'probe':
        return this.probeSent;
      case 'replicate':
        return this.inflightFull();
      case 'snapshot':
        return true;
    }
  }
}
