// A simulated host: a process with its own clock and disk, running one Raft
// replica per group side by side. It can crash (losing unsynced writes and all
// memory), restart from its disk, and pause (messages wait in its socket
// buffers until it resumes).
import type { ConfState, Entry } from '../raft/index.js';
import type { RaftInvariants, ReplicaProbe } from './check/raft-invariants.js';
import type { HostClock } from './clock.js';
import { SimDisk } from './disk.js';
import type { KvResult } from './kv.js';
import { encodeCommand } from './kv.js';
import type { Envelope } from './messages.js';
import { Replica } from './replica.js';
import type { ReplicaHost } from './replica.js';
import type { Rng } from './rng.js';
import type { Scenario } from './scenario.js';
import type { Scheduler } from './scheduler.js';

export type HostState = 'up' | 'down' | 'paused';

/** The world as a host sees it. */
export interface HostEnv {
  readonly scheduler: Scheduler;
  readonly scenario: Scenario;
  readonly genesis: ConfState;
  readonly checkers: readonly RaftInvariants[];
  send(from: number, to: number, env: Envelope): void;
  trace(kind: string, host: number, a: number, b: number): void;
  /** A simulated fsync's duration, in microseconds. */
  syncDelayUs(): number;
  /** A stream for Raft's election timeouts on this host and group. */
  raftRandom(host: number, group: number, incarnation: number): () => number;
  diskRng(host: number): Rng;
}

export class SimHost implements ReplicaHost {
  state: HostState = 'down';
  epoch = 0;
  replicas: Replica[] = [];
  readonly disk = new SimDisk();
  private inbox: [number, Envelope][] = [];
  /** While down, the checkers still see what each group's log made durable. */
  private downProbes: ReplicaProbe[] = [];
  /** Client requests this host proposed as leader: "client:seq" -> the client to answer. */
  private pending = new Map<string, number>();
  /** Only the newest chain of tick events runs: a resume or restart starts a new one. */
  private tickChain = 0;

  constructor(readonly id: number, readonly clock: HostClock, private readonly env: HostEnv) {}

  /** Boots (or reboots) the process from what its disk holds. */
  start(): void {
    this.state = 'up';
    this.epoch++;
    const { scenario } = this.env;
    const raft = scenario.raft;
    this.replicas = this.env.checkers.map((checker, group) => new Replica(this, {
      group,
      raft: {
        electionTick: raft.electionTicks,
        heartbeatTick: raft.heartbeatTicks,
        preVote: raft.preVote,
        checkQuorum: raft.checkQuorum,
        maxEntriesPerMsg: raft.maxEntriesPerMsg,
      },
      random: this.env.raftRandom(this.id, group, this.epoch),
      genesis: this.env.genesis,
      snapshotEveryEntries: raft.snapshotEveryEntries,
      checker,
      sendBeforeSync: scenario.bugs?.sendBeforeSync ?? false,
      forgetVote: (scenario.bugs?.forgetVote ?? false) && this.epoch > 1,
    }));
    this.env.trace('start', this.id, this.epoch, 0);
    this.scheduleTick();
    for (const r of this.replicas) r.pump();
  }

  crash(tornWrites: boolean): void {
    if (this.state === 'down') return;
    this.state = 'down';
    this.epoch++;
    this.downProbes = this.replicas.map((r) => {
      const durable = r.durable;
      return { host: this.id, durable, termAt: (i: number) => durable.termAt(i), snapshotIndex: () => durable.snapIndex };
    });
    this.replicas = [];
    this.inbox = [];
    this.pending.clear();
    this.tickChain++;
    this.disk.crash(this.env.diskRng(this.id), { tornWrites });
    this.env.trace('crash', this.id, this.epoch, 0);
  }

  pause(): void {
    if (this.state !== 'up') return;
    this.state = 'paused';
    this.env.trace('pause', this.id, 0, 0);
  }

  resume(): void {
    if (this.state !== 'paused') return;
    this.state = 'up';
    this.env.trace('resume', this.id, 0, 0);
    const waiting = this.inbox;
    this.inbox = [];
    for (const [from, env] of waiting) this.receive(from, env);
    this.scheduleTick();
  }

  /** The checkers' view of one group here: the live replica, or the crashed one's disk. */
  probe(group: number): ReplicaProbe | undefined {
    return this.replicas[group] ?? this.downProbes[group];
  }

  deliver(from: number, env: Envelope): void {
    if (this.state === 'down') return;
    if (this.state === 'paused') {
      this.inbox.push([from, env]);
      return;
    }
    this.receive(from, env);
  }

  // ReplicaHost

  send(to: number, env: Envelope): void {
    this.env.send(this.id, to, env);
  }

  afterSync(fn: () => void): void {
    this.env.scheduler.after(this.env.syncDelayUs(), () => {
      this.env.trace('sync', this.id, this.epoch, 0);
      fn();
    });
  }

  applied(group: number, entry: Entry, result: KvResult): void {
    const key = `${result.client}:${result.seq}`;
    const client = this.pending.get(key);
    if (client === undefined) return;
    this.pending.delete(key);
    this.send(client, {
      kind: 'kv-response', client: result.client, seq: result.seq, status: 'ok',
      index: entry.index, term: entry.term, value: result.value,
    });
    void group;
  }

  trace(kind: string, a: number, b: number): void {
    this.env.trace(kind, this.id, a, b);
  }

  private receive(from: number, env: Envelope): void {
    if (env.kind === 'raft') {
      const r = this.replicas[env.group];
      if (r === undefined) return;
      r.node.step(env.msg);
      r.pump();
    } else if (env.kind === 'kv-request') {
      this.propose(from, env);
    }
  }

  private propose(from: number, req: Extract<Envelope, { kind: 'kv-request' }>): void {
    const r = this.replicas[req.group];
    if (r === undefined) return;
    if (req.op.op === 'get' && this.env.scenario.bugs?.localReads) {
      const value = r.kv.get(req.op.key);
      this.send(from, { kind: 'kv-response', client: req.client, seq: req.seq, status: 'ok', index: 0, term: 0, value });
      return;
    }
    if (r.role !== 'leader' || !r.node.propose(encodeCommand({ client: req.client, seq: req.seq, cmd: req.op }))) {
      this.send(from, { kind: 'kv-response', client: req.client, seq: req.seq, status: 'not-leader', leader: r.lead });
      return;
    }
    this.pending.set(`${req.client}:${req.seq}`, from);
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
        r.node.tick();
        r.pump();
      }
      this.scheduleTick(chain);
    });
  }
}
