// The host runtime, the same in both worlds: a host's Raft replicas (one per
// group it belongs to) opened from its disk, fed by the network and by ticks,
// and the service on top of them (the shared memory; the simulator's
// key-value store). It owns the Ready loop (replica.ts), booting and genesis,
// creating a replica when a group's leader first reaches this host, ticks,
// and timers on the monotonic clock. One instance is one incarnation of the
// process: a crash drops it, a restart builds a new one over the same disk.
import { noRefusals } from '../raft/index.js';
import type { ConfState, Entry, FaultPoints, Refusals, Role } from '../raft/index.js';
import type { StateMachineFactory } from '../vmm/state-machine.js';
import type { Envelope } from '../vmm/wire.js';
import { raftConfigOf } from './config.js';
import type { RaftSettings } from './config.js';
import type { AuthenticatedSender, ClockPort, DiskPort, HostObserver, InboundPort, NetworkPort } from './ports.js';
import { HostProbe } from './probes.js';
import { Replica } from './replica.js';

/** What a host runs over its replicas. */
export interface HostService {
  readonly machine: StateMachineFactory;
  /** A committed entry was applied to a group's state machine with this result. */
  applied(group: number, entry: Entry, result: unknown): void;
  /** A message that is not Raft's. */
  receive(from: number, env: Envelope): void;
  roleChanged(group: number, role: Role): void;
  /** The replicas at boot are open; the runtime is about to run. */
  started(): void;
  /** A tick went by (after the replicas' ticks). */
  ticked(): void;
  /** The process is gone (a crash or a stop): release what it holds. */
  close(): void;
}

export interface RuntimeConfig {
  readonly host: number;
  readonly raft: RaftSettings;
  /** The groups this host serves when its disk holds none (the registry and its companies at genesis). */
  readonly groupsAtBoot: readonly number[];
  /** The configuration a group starts from (its first members). */
  genesis(group: number): ConfState;
  /** Whether a group can exist: a leader's message for it creates an empty replica here. */
  knownGroup(group: number): boolean;
  /** The random source of one group's election timeouts. */
  random(group: number): () => number;
  /** The deliberate bug sendBeforeSync (scenarios only). */
  readonly sendBeforeSync?: boolean;
}

export interface RuntimePorts {
  readonly disk: DiskPort;
  readonly network: NetworkPort;
  readonly clock: ClockPort;
  readonly observer: HostObserver;
  /** The simulator's fault points and probes, for Raft, the VMM and the runtime (real hosts: inert). */
  readonly faults: FaultPoints;
}

/** Messages a host refused: its replicas' refusals (src/raft/bounds.ts) and forged senders. */
export interface HostRefusals extends Refusals {
  /** A Raft message whose `from` is not the peer the network authenticated. */
  forgedSender: number;
}

export class HostRuntime implements InboundPort {
  /** By group; only the groups this host belongs to. */
  readonly replicas: (Replica | undefined)[] = [];
  readonly service: HostService;
  private stopped = false;
  private forgedSenders = 0;

  constructor(readonly cfg: RuntimeConfig, readonly ports: RuntimePorts, service: (rt: HostRuntime) => HostService) {
    this.service = service(this);
  }

  get id(): number {
    return this.cfg.host;
  }

  /** Opens the replicas from disk and starts ticking. */
  start(): void {
    const groups = new Set(this.cfg.groupsAtBoot);
    // A group's state on disk means this host was (or became) a member of it.
    for (const g of this.ports.disk.groups()) if (this.cfg.knownGroup(g)) groups.add(g);
    for (const g of [...groups].sort((a, b) => a - b)) this.open(g);
    this.ports.clock.everyTick(() => this.tick());
    this.service.started();
    for (const r of this.replicas) r?.pump();
  }

  replica(group: number): Replica | undefined {
    return this.replicas[group];
  }

  /** Local monotonic time, whole microseconds. */
  now(): number {
    return this.ports.clock.now();
  }

  private open(group: number): Replica {
    const cfg = this.cfg;
    const r = new Replica({
      host: cfg.host,
      group,
      machine: this.service.machine,
      raft: { ...raftConfigOf(cfg.raft, cfg.host, cfg.random(group)), faults: this.ports.faults },
      genesis: cfg.genesis(group),
      snapshotEveryEntries: cfg.raft.snapshotEveryEntries,
      disk: this.ports.disk,
      network: this.ports.network,
      observer: this.ports.observer,
      faults: this.ports.faults,
      applied: (g, entry, result) => this.service.applied(g, entry, result),
      roleChanged: (g, role) => this.service.roleChanged(g, role),
      sendBeforeSync: cfg.sendBeforeSync ?? false,
    });
    this.replicas[group] = r;
    return r;
  }

  receive(from: AuthenticatedSender, env: Envelope): void {
    if (this.stopped) return;
    if (env.kind !== 'raft') {
      this.service.receive(from, env);
      return;
    }
    if (env.msg.from !== from) {
      // A peer speaking for another: nothing it says in that name counts.
      this.forgedSenders++;
      return;
    }
    // A group's leader reaching a host without a replica is adding it: start
    // an empty one, which catches up from the leader's log or snapshot.
    let r = this.replicas[env.group];
    if (r === undefined && this.cfg.knownGroup(env.group)) {
      this.ports.faults.probe(HostProbe.replicaOnFirstContact);
      r = this.open(env.group);
    }
    if (r === undefined) return;
    r.node.step(env.msg);
    r.pump();
  }

  /** What this incarnation refused so far, summed over its replicas (for metrics). */
  refusals(): HostRefusals {
    const sum: HostRefusals = { ...noRefusals(), forgedSender: this.forgedSenders };
    for (const r of this.replicas) {
      if (r === undefined) continue;
      const x = r.node.refusals();
      sum.malformed += x.malformed;
      sum.termBeyondBound += x.termBeyondBound;
      sum.indexBeyondBound += x.indexBeyondBound;
      sum.rivalLeader += x.rivalLeader;
    }
    return sum;
  }

  private tick(): void {
    if (this.stopped) return;
    this.ports.observer.event('tick');
    for (const r of this.replicas) {
      if (r === undefined) continue;
      r.node.tick();
      r.pump();
    }
    this.service.ticked();
  }

  /** Runs fn once the monotonic clock reads at least atUs; re-arms if it was woken early. */
  timer(atUs: number, fn: () => void): void {
    this.ports.clock.wakeAt(atUs, () => {
      if (this.stopped) return;
      if (this.ports.clock.now() < atUs) {
        this.ports.faults.probe(HostProbe.timerWokeEarly);
        this.timer(atUs, fn);
      } else fn();
    });
  }

  /** The process ends: nothing more runs, late completions are ignored, resources are freed. */
  close(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.service.close();
    for (const r of this.replicas) r?.close();
  }
}
