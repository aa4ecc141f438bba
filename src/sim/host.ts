// A simulated host: the process around the shared host runtime. It gives the
// runtime its ports over the simulated world (disk, network, clocks, the
// checkers as observer) and models what happens to a process: it crashes
// (losing unsynced writes and all memory, the runtime dropped), restarts (a
// new runtime over the same disk), pauses (nothing runs, threads included)
// and stalls (its event loop is stuck: no message, timer or disk completion
// is handled, while application threads keep running on the pages they hold).
import type { BootState, ConfState, FaultPoints } from '../raft/index.js';
import { HostRuntime } from '../host/runtime.js';
import type { HostService, RuntimeConfig } from '../host/runtime.js';
import type { HostObserver, ReplicaView } from '../host/ports.js';
import { HostProbe } from '../host/probes.js';
import type { Replica } from '../host/replica.js';
import type { RaftInvariants, ReplicaProbe } from './check/raft-invariants.js';
import type { RaftRules } from './check/raft-rules.js';
import type { HostClock } from './clock.js';
import { DiskCorruptionError, SimDisk } from './disk.js';
import { LiveProbe } from './check/replica-probe.js';
import { encodeRecord, SimRaftDisk } from './raft-storage.js';
import type { RaftRecord } from './raft-storage.js';
import type { Rng } from './rng.js';
import type { Scenario } from './scenario.js';
import type { Scheduler } from './scheduler.js';
import type { KvEnvelope, SimEnvelope } from './kv-wire.js';
import type { RecordEvent, RecordHostEvent, TraceKind } from '../host/trace-events.js';

export type HostState = 'up' | 'down' | 'paused' | 'stalled';

/** What one incarnation of a host runs on top of its replicas, and how it hears of the process's fate. */
export interface SimApp {
  readonly service: HostService;
  /** The runtime started: its replicas are open. */
  started(): void;
  /** The process crashed: note what is lost before the runtime goes. */
  crashed(): void;
  /** The process runs again after a pause or stall (threads carry on). */
  resumed(): void;
  /** A key-value client's message (Raft scenarios): the runtime carries only Raft and VMM traffic. */
  request?(from: number, env: KvEnvelope): void;
}

/** The world as a host sees it. */
export interface HostEnv {
  readonly scheduler: Scheduler;
  readonly scenario: Scenario;
  readonly checkers: readonly RaftInvariants[];
  /** The configuration a group starts from (its first members). */
  genesis(group: number): ConfState;
  /** The groups a host keeps a replica of when it boots with an empty disk. */
  groupsAtBoot(host: number): number[];
  /** What this incarnation runs over its replicas. */
  app(host: SimHost, rt: HostRuntime): SimApp;
  send(from: number, to: number, env: SimEnvelope): void;
  readonly trace: RecordEvent;
  /** A simulated fsync's duration, in microseconds. */
  syncDelayUs(): number;
  /** A stream for Raft's election timeouts on this host and group. */
  raftRandom(host: number, group: number, incarnation: number): () => number;
  diskRng(host: number): Rng;
  /** The fault points and probes a host's code reaches. */
  faultPoints(host: number): FaultPoints;
  /** Whether the checkers judge this host (not a Byzantine one). */
  judged(host: number): boolean;
  /** The per-step Raft rules: they look at a replica around every message it steps and tick. */
  readonly rules: RaftRules;
}

/** Shared by every host's observer (not a closure per host: the runtime's calls stay monomorphic). */
function ignoreRole(): void {}

/** An invariant's violation (or a bug) ends the run with its report. */
function failRun(_group: number, err: Error): void {
  throw err;
}

/** Every empty inbox comes from here: one allocation site, so the arrays all take the same elements kind. */
function noMessages(): [number, SimEnvelope][] {
  return [];
}

export class SimHost {
  state: HostState = 'down';
  /** Incarnation: bumps at every crash and restart, so callbacks from an earlier one are dropped. */
  epoch = 0;
  runtime: HostRuntime | null = null;
  app: SimApp | null = null;
  readonly disk = new SimDisk<RaftRecord>(encodeRecord);
  /** Deliveries that arrived while the process was not running. */
  private inbox = noMessages();
  /** Timers, disk completions and faults that came due while the process was not running, in order. */
  private deferred: (() => void)[] = [];
  /** The checkers' view of each group here: live replicas, or a crashed one's disk. */
  private probes: (ReplicaProbe | undefined)[] = [];
  /** Only the newest chain of tick events runs: a resume or restart starts a new one. */
  private tickChain = 0;

  /**
   * `clock` is the wall clock (it drifts and jumps: Raft's ticks follow it);
   * `mono` the monotonic clock (it only drifts: leases are judged on it).
   */
  constructor(readonly id: number, readonly clock: HostClock, readonly mono: HostClock, private readonly env: HostEnv) {}

  /** Records an event of this host. */
  readonly trace: RecordHostEvent = ((kind: TraceKind, a?: number | string, b?: number | string, c?: number | string, d?: number | string) =>
    // Positional, not rest and spread: ticks and syncs record through here, and must not allocate.
    (this.env.trace as (k: TraceKind, host: number, ...f: (number | string | undefined)[]) => void)(kind, this.id, a, b, c, d)) as RecordHostEvent;

  get replicas(): readonly (Replica | undefined)[] {
    return this.runtime?.replicas ?? [];
  }

  replica(group: number): Replica | undefined {
    return this.runtime?.replica(group);
  }

  /**
   * Boots (or reboots) the process from what its disk holds. A disk whose
   * records fail their checksums on every read stops the boot: the host stays
   * down (until the next restart), as a real host that cannot read its state.
   */
  start(): void {
    const onDisk = this.probes;
    try {
      this.boot();
    } catch (err) {
      if (!(err instanceof DiskCorruptionError)) throw err;
      this.runtime?.close();
      this.runtime = null;
      this.app = null;
      this.state = 'down';
      this.epoch++;
      this.probes = onDisk;
      this.env.faultPoints(this.id).probe(HostProbe.bootFailed);
      this.trace('boot-failed', this.epoch, err.recordIndex);
    }
  }

  private boot(): void {
    this.state = 'up';
    this.epoch++;
    this.probes = [];
    this.deferred = [];
    const { scenario } = this.env;
    const epoch = this.epoch;
    const cfg: RuntimeConfig = {
      host: this.id,
      raft: scenario.raft,
      groupsAtBoot: this.env.groupsAtBoot(this.id),
      genesis: (g) => this.env.genesis(g),
      knownGroup: (g) => this.env.checkers[g] !== undefined,
      random: (g) => this.env.raftRandom(this.id, g, epoch),
      sendBeforeSync: scenario.bugs?.sendBeforeSync ?? false,
    };
    const disk = new SimRaftDisk(this.disk, {
      forgetVote: (scenario.bugs?.forgetVote ?? false) && epoch > 1,
      sync: (file, done) => {
        const synced = (): void => {
          if (this.epoch !== epoch) return; // crashed meanwhile: the write is lost
          this.trace('sync', epoch);
          this.disk.sync(file);
          this.whenRunning(epoch, done);
        };
        if (scenario.disk.syncInline) synced();
        else this.env.scheduler.after(this.env.syncDelayUs(), synced, 'disk');
      },
    });
    this.runtime = new HostRuntime(cfg, {
      disk,
      network: { send: (to, e) => this.env.send(this.id, to, e) },
      clock: {
        now: () => this.mono.local(this.env.scheduler.now),
        wakeAt: (at, fn) => this.env.scheduler.at(this.mono.globalFor(at, this.env.scheduler.now), () => this.whenRunning(epoch, fn)),
        everyTick: (fn) => this.scheduleTick(fn),
      },
      observer: this.observer(),
      faults: this.env.faultPoints(this.id),
    }, (rt) => {
      this.app = this.env.app(this, rt);
      return this.app.service;
    });
    this.trace('start', epoch);
    this.runtime.start();
    this.app!.started();
  }

  /** Runs fn now if this incarnation runs, later if it is paused or stalled, never if it crashed. */
  whenRunning(epoch: number, fn: () => void): void {
    if (this.epoch !== epoch) return;
    if (this.state === 'up') fn();
    else this.deferred.push(fn);
  }

  private observer(): HostObserver {
    return {
      replicaOpened: (r: ReplicaView, boot: BootState) => {
        // Invariants judge correct hosts only; a faulty host's disk still counts for what it truly holds.
        const probe = new LiveProbe(r, boot, this.env.checkers[r.group]!, this.trace, this.env.judged(this.id));
        this.probes[r.group] = probe;
        return probe;
      },
      roleChanged: ignoreRole,
      event: this.trace,
      failed: failRun,
    };
  }

  crash(tornWrites: boolean): void {
    if (this.state === 'down') return;
    this.state = 'down';
    this.epoch++;
    this.probes = this.probes.map((p) => (p === undefined ? undefined : (p as LiveProbe).onDisk()));
    this.app?.crashed();
    this.runtime?.close();
    this.runtime = null;
    this.app = null;
    this.inbox = noMessages();
    this.deferred = [];
    this.tickChain++;
    this.disk.crash(this.env.diskRng(this.id), { tornWrites });
    this.trace('crash', this.epoch);
    this.env.rules.crashed(this.id);
  }

  pause(): void {
    if (this.state !== 'up') return;
    this.state = 'paused';
    this.trace('pause');
  }

  /** The event loop stalls; application threads run on. */
  stall(): void {
    if (this.state !== 'up') return;
    this.state = 'stalled';
    this.trace('stall');
  }

  resume(): void {
    if (this.state !== 'paused' && this.state !== 'stalled') return;
    this.state = 'up';
    this.trace('resume');
    // What came due meanwhile runs first (leases that ran out end), then threads carry on.
    const due = this.deferred;
    this.deferred = [];
    for (const fn of due) fn();
    this.app?.resumed();
    const waiting = this.inbox;
    this.inbox = noMessages();
    for (const [from, env] of waiting) this.deliver(from, env);
    if (this.state === 'up' && this.runtime !== null) this.scheduleTick(this.tickFn);
  }

  /** The checkers' view of one group here: the live replica, or the crashed one's disk. */
  probe(group: number): ReplicaProbe | undefined {
    return this.probes[group];
  }

  deliver(from: number, env: SimEnvelope): void {
    if (this.state === 'down') return;
    if (this.state !== 'up') {
      this.inbox.push([from, env]);
      return;
    }
    if (env.kind === 'raft') {
      // Here the replica steps it (also for a message held while paused): the rules look before and after.
      const r = this.replica(env.group);
      // A message whose sender is forged never reaches the replica (the runtime drops it): no rule to judge.
      const d = r === undefined || !this.env.judged(this.id) || env.msg.from !== from ? null : this.env.rules.delivering(r, env.msg);
      this.runtime!.receive(from, env);
      if (d !== null && this.state === 'up') this.env.rules.delivered(d);
    } else if (env.kind === 'vmm') this.runtime!.receive(from, env);
    else this.app!.request?.(from, env);
  }

  private tickFn: () => void = () => undefined;

  /** Ticks come from the local wall clock, so drift and jumps change their pace; they stop while the host does not run. */
  private scheduleTick(fn: () => void, chain = ++this.tickChain): void {
    this.tickFn = fn;
    const sched = this.env.scheduler;
    const dueLocal = this.clock.local(sched.now) + this.env.scenario.raft.tickMs * 1000;
    sched.at(this.clock.globalFor(dueLocal, sched.now), () => {
      if (this.tickChain !== chain || this.state !== 'up') return;
      fn();
      if (this.env.judged(this.id)) this.env.rules.ticked(this.id, this.replicas);
      this.scheduleTick(fn, chain);
    }, 'tick');
  }
}
