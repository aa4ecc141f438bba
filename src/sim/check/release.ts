// The checks of a run under release consistency, fed online: every access and
// every synchronisation step go to the race detector and the DRF-SC read
// checker (races.ts). The first finding stops the run: a data race is the
// application's bug (reported with both accesses), a read that a sequentially
// consistent execution with the same synchronisation order does not allow is
// the memory's. Under release consistency hosts write their own copies of a
// page at once, so single-writer and word-by-word coherence do not apply;
// this is what the model promises instead.
//
// Locks stay with the host that last held them (src/vmm/sync/client.ts): its
// threads hand a lock to each other without publishing, and the host publishes
// only when the lock leaves it. So a lock's release is deferred: it counts as
// done once the host's giving back commits (what the section wrote is then
// durable), and if the lock passes to another host without that commit (the
// holding was waited out) every release of that holding is as a lost thread's.
import type { SyncEvent } from '../../vmm/sync/hooks.js';
import type { Access } from '../threads.js';
import { describeRace, describeStaleRead, RaceChecker } from './races.js';
import { violation } from './violation.js';

export class ReleaseChecks {
  private readonly checker = new RaceChecker(1);
  /** Each lock's holder (acquired, not released). */
  private readonly holders = new Map<number, number>();
  /** Each lock's releases since its holding host last gave it back: deferred, done when the giving back commits. */
  private readonly unpublished = new Map<number, { host: number; thread: number; at: number }[]>();
  /** Each lock's latest holding (token) whose release some replica applied: a replica behind applies older ones later. */
  private readonly releasedToken = new Map<number, number>();

  accessed(a: Access): void {
    const who = { host: a.host, thread: a.thread, at: a.ret, addr: a.addr };
    if (a.kind === 'add') this.checker.event({ ...who, kind: 'update', old: a.value, value: a.stored });
    else this.checker.event({ ...who, kind: a.kind, value: a.value });
    this.judge();
  }

  synced(e: SyncEvent): void {
    const who = { host: e.host, thread: e.thread, at: e.at };
    switch (e.kind) {
      case 'lock-acquired': {
        // Granted while another thread holds it: that holding ended by its lease (the holder was
        // cut off), whether or not the holder has heard yet. What it did since its last release
        // is as a lost thread's: nobody was promised it.
        const before = this.holders.get(e.id);
        if (before !== undefined && before !== e.thread) this.checker.event({ kind: 'lost', thread: before, at: e.at });
        // Likewise releases on another host whose giving back never committed (it stalled or was cut
        // off first): the lock passed on by the lease, and nobody was handed what those sections wrote.
        // On the same host it is a handoff between its threads (they share the memory).
        const unpublished = this.unpublished.get(e.id) ?? [];
        if (unpublished.some((r) => r.host !== e.host)) {
          for (const r of unpublished) this.checker.event({ kind: 'lost', thread: r.thread, at: e.at });
          this.unpublished.delete(e.id);
        }
        this.holders.set(e.id, e.thread);
        this.checker.event({ ...who, kind: 'acquire', obj: `lock:${e.id}` });
        return;
      }
      case 'lock-released':
        if (this.holders.get(e.id) === e.thread) this.holders.delete(e.id);
        this.unpublished.set(e.id, [...(this.unpublished.get(e.id) ?? []), { host: e.host, thread: e.thread, at: e.at }]);
        this.checker.event({ ...who, kind: 'release', obj: `lock:${e.id}`, deferred: true });
        return;
      case 'lock-lost':
        this.checker.event({ kind: 'lost', thread: e.thread, at: e.at });
        return;
      case 'barrier-arrived':
        this.checker.event({ ...who, kind: 'arrive', obj: `barrier:${e.name}:${e.episode}` });
        return;
      case 'barrier-departed':
        this.checker.event({ ...who, kind: 'depart', obj: `barrier:${e.name}:${e.episode}` });
        return;
    }
  }

  /**
   * A thread stopped (its host crashed, its lock's lease ran out, its writes were lost). What it
   * released stays published: the end check, which reads everything committed, comes after it.
   */
  lost(thread: number, host: number, at: number, endBarrier: string): void {
    this.checker.event({ kind: 'lost', thread, at });
    this.checker.event({ kind: 'arrive', host, thread, at, obj: endBarrier });
  }

  /**
   * A replica applied the release of holding `token` of a lock: its host gave it back, committed in
   * its company with what it published, so the releases of that holding are done. Only a holding later
   * than any applied before counts (a replica catching up applies earlier ones too); the first
   * replica applies it before the host can hold the lock again, so every release noted is of it.
   */
  releaseCommitted(id: number, _thread: number, token: number): void {
    if (token <= (this.releasedToken.get(id) ?? 0)) return;
    this.releasedToken.set(id, token);
    for (const r of this.unpublished.get(id) ?? []) this.checker.event({ kind: 'settle', thread: r.thread, upTo: r.at });
    this.unpublished.delete(id);
  }

  /** A thread's end published everything it did (its host's coherence model made it durable): nothing of it is lost any more. */
  ended(thread: number, at: number): void {
    this.checker.event({ kind: 'settle', thread, upTo: at });
  }

  /** malloc handed out a block: its words promise nothing until written. */
  fresh(addr: number, bytes: number, at: number): void {
    this.checker.event({ kind: 'fresh', addr, bytes, at });
  }

  private judge(): void {
    const r = this.checker.report;
    if (r.races.length > 0) violation('data-race', describeRace(r.races[0]!));
    if (r.staleReads.length > 0) violation('drf-sc', describeStaleRead(r.staleReads[0]!));
  }

  get counts(): { reads: number; writes: number } {
    return { reads: this.checker.report.reads, writes: this.checker.report.writes };
  }
}
