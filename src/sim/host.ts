// A simulated host: a process with its own clock and disk, running one Raft
// replica per group side by side. It can crash (losing unsynced writes and all
// memory), restart from its disk, and pause (messages wait in its socket
// buffers until it resumes).
import type { ConfState, Entry, Role } from '../raft/index.js';
import type { RaftInvariants, ReplicaProbe } from './check/raft-invariants.js';
import type { HostClock } from './clock.js';
import { SimDisk } from './disk.js';
import type { SimEnvelope } from './kv-wire.js';
import { Replica } from './replica.js';
import type { ReplicaHost } from './replica.js';
import type { HostService, ServiceHost } from './service.js';
import type { Rng } from './rng.js';
import type { Scenario } from './scenario.js';
import type { Scheduler } from './scheduler.js';

export type HostState = 'up' | 'down' | 'paused';

/** The world as a host sees it. */
export interface HostEnv {
  readonly scheduler: Scheduler;
  readonly scenario: Scenario;
  readonly checkers: readonly RaftInvariants[];
  /** The configuration a group starts from (its first members). */
  genesis(group: number): ConfState;
  /** The groups a host keeps a replica of when it boots with an empty disk. */
  groupsAtBoot(host: number): number[];
  /** The service this host runs over its replicas. */
  service(host: ServiceHost): HostService;
  send(from: number, to: number, env: SimEnvelope): void;
  trace(kind: string, host: number, a: number, b: number): void;
  /** A simulated fsync's duration, in microseconds. */
  syncDelayUs(): number;
  /** A stream for Raft's election timeouts on this host and group. */
  raftRandom(host: number, group: number, incarnation: number): () => number;
  diskRng(host: number): Rng;
}

export class SimHost implements ReplicaHost, ServiceHost {
  state: HostState = 'down';
  epoch = 0;
  /** By group; a host keeps replicas only of the groups it belongs to. */
  replicas: (Replica | undefined)[] = [];
  readonly service: HostService;
  readonly disk = new SimDisk();
  private inbox: [number, SimEnvelope][] = [];
  /** While down, the checkers still see what each group's log made durable. */
  private downProbes: (ReplicaProbe | undefined)[] = [];
  /** Only the newest chain of tick events runs: a resume or restart starts a new one. */
  private tickChain = 0;

  /**
   * `clock` is the wall clock (it drifts and jumps: Raft's ticks follow it);
   * `mono` the monotonic clock (it only drifts: leases are judged on it).
   */
  constructor(readonly id: number, readonly clock: HostClock, readonly mono: HostClock, private readonly env: HostEnv) {
    this.service = env.service(this);
  }

  /** Boots (or reboots) the process from what its disk holds. */
  start(): void {
    this.state = 'up';
    this.epoch++;
    this.replicas = [];
    // A group's file on disk means this host was (or became) a member of it.
    const groups = new Set(this.env.groupsAtBoot(this.id));
    for (const file of this.disk.files()) if (file.startsWith('raft-')) groups.add(Number(file.slice(5)));
    for (const group of [...groups].sort((a, b) => a - b)) this.openReplica(group);
    this.env.trace('start', this.id, this.epoch, 0);
    this.scheduleTick();
    this.service.started();
    for (const r of this.replicas) r?.pump();
  }

  replica(group: number): Replica | undefined {
    return this.replicas[group];
  }

  /** Starts a replica of a group from this host's disk (empty if it never had one). */
  private openReplica(group: number): Replica {
    const { scenario } = this.env;
    const raft = scenario.raft;
    const r = new Replica(this, {
      group,
      machine: this.service.machine,
      raft: {
        electionTick: raft.electionTicks,
        heartbeatTick: raft.heartbeatTicks,
        preVote: raft.preVote,
        checkQuorum: raft.checkQuorum,
        maxEntriesPerMsg: raft.maxEntriesPerMsg,
      },
      random: this.env.raftRandom(this.id, group, this.epoch),
      genesis: this.env.genesis(group),
      snapshotEveryEntries: raft.snapshotEveryEntries,
      checker: this.env.checkers[group]!,
      sendBeforeSync: scenario.bugs?.sendBeforeSync ?? false,
      forgetVote: (scenario.bugs?.forgetVote ?? false) && this.epoch > 1,
    });
    this.replicas[group] = r;
    return r;
  }

  crash(tornWrites: boolean): void {
    if (this.state === 'down') return;
    this.state = 'down';
    this.epoch++;
    this.downProbes = this.replicas.map((r) => {
      if (r === undefined) return undefined;
      const durable = r.durable;
      return { host: this.id, durable, termAt: (i: number) => durable.termAt(i), snapshotIndex: () => durable.snapIndex, currentTerm: () => 0 };
    });
    for (const r of this.replicas) r?.close();
    this.replicas = [];
    this.inbox = [];
    this.service.reset();
    this.tickChain++;
    this.disk.crash(this.env.diskRng(this.id), { tornWrites });
    this.env.trace('crash', this.id, this.epoch, 0);
  }

  pause(): void {
    if (this.state !== 'up') return;
    this.state = 'paused';
    this.env.trace('pause', this.id, 0, 0);
    this.service.paused();
  }

  resume(): void {
    if (this.state !== 'paused') return;
    this.state = 'up';
    this.env.trace('resume', this.id, 0, 0);
    this.service.resumed();
    const waiting = this.inbox;
    this.inbox = [];
    for (const [from, env] of waiting) this.receive(from, env);
    this.scheduleTick();
  }

  /** The checkers' view of one group here: the live replica, or the crashed one's disk. */
  probe(group: number): ReplicaProbe | undefined {
    return this.replicas[group] ?? this.downProbes[group];
  }

  deliver(from: number, env: SimEnvelope): void {
    if (this.state === 'down') return;
    if (this.state === 'paused') {
      this.inbox.push([from, env]);
      return;
    }
    this.receive(from, env);
  }

  // ReplicaHost

  send(to: number, env: SimEnvelope): void {
    this.env.send(this.id, to, env);
  }

  afterSync(fn: () => void): void {
    this.env.scheduler.after(this.env.syncDelayUs(), () => {
      this.env.trace('sync', this.id, this.epoch, 0);
      fn();
    });
  }

  applied(group: number, entry: Entry, result: unknown): void {
    this.service.applied(group, entry, result);
  }

  roleChanged(group: number, role: Role): void {
    this.service.roleChanged(group, role);
  }

  trace(kind: string, a: number, b: number): void {
    this.env.trace(kind, this.id, a, b);
  }

  private receive(from: number, env: SimEnvelope): void {
    if (env.kind !== 'raft') {
      this.service.receive(from, env);
      return;
    }
    // A group's leader reaching a host without a replica is adding it: start
    // an empty one, which catches up from the leader's log or snapshot.
    const r = this.replicas[env.group] ?? (this.env.checkers[env.group] ? this.openReplica(env.group) : undefined);
    if (r === undefined) return;
    r.node.step(env.msg);
    r.pump();
  }

  /** Ticks come from the local clock, so drift and jumps change their pace. */
  private scheduleTick(chain = ++this.tickChain): void {
    const sched = this.env.scheduler;
    const dueLocal = this.clock.local(sched.now) + this.env.scenario.raft.tickMs * 1000;
    sched.at(this.clock.globalFor(dueLocal, sched.now), () => {
      if (this.tickChain !== chain || this.state !== 'up') return;
      this.env.trace('tick', this.id, 0, 0);
      for (const r of this.replicas) {
        if (r === undefined) continue;
        r.node.tick();
        r.pump();
      }
      this.service.ticked();
      this.scheduleTick(chain);
    });
  }
}
