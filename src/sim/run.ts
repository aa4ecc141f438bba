// Runs one seed of a scenario: builds the world from (scenario, seed), lets the
// scheduler drive it, checks invariants as it goes and liveness once the
// faults stop, and reports the trace hash that a replay must reproduce.
import type { ConfState } from '../raft/index.js';
import { RaftInvariants } from './check/raft-invariants.js';
import { RaftRules } from './check/raft-rules.js';
import type { ReplicaProbe } from './check/raft-invariants.js';
import { checkLinearizable, describeOperation } from '../check/linearizability.js';
import { kvModel, type KvInput, type KvOp as KvHistoryOp } from '../check/kv-model.js';
import { InvariantViolation, violation } from './check/violation.js';
import { KvClient } from './client.js';
import { KvService } from './kv-service.js';
import { SimDsmApp } from './dsm-app.js';
import { DsmPart } from './dsm-world.js';
import type { HostRuntime } from '../host/runtime.js';
import { HostClock } from './clock.js';
import { SimHost } from './host.js';
import type { HostState, SimApp } from './host.js';
import { inspectHost } from './inspect.js';
import { encodeRegistryCommand } from '../vmm/registry.js';
import type { RegistryMachine } from '../vmm/registry.js';
import { SimFaultPoints } from './buggify.js';
import type { FaultPoints } from '../raft/index.js';
import { Nemesis } from './nemesis.js';
import type { FaultWorld } from './nemesis.js';
import { Network } from './network.js';
import type { RunOptions, RunResult } from './result.js';
import { streamFor } from './rng.js';
import type { Rng } from './rng.js';
import type { Scenario } from './scenario.js';
import { Scheduler } from './scheduler.js';
import { drawScenario, isSpec } from './swarm.js';
import type { ScenarioSpec } from './swarm.js';
import type { SimEnvelope } from './kv-wire.js';
import { Trace } from './trace.js';
import { recordDelivery } from './delivery-trace.js';
import { FaultyHost } from './byzantine/faulty-host.js';
import { twinOf } from './byzantine/twins.js';
import type { RecordEvent } from '../host/trace-events.js';

export interface WorldOptions extends RunOptions {
  /**
   * Built for systematic exploration (src/sim/explore): the network keeps the
   * messages in flight, and Raft's random draws are counted, for fingerprints.
   */
  readonly explore?: boolean;
}

export class World {
  readonly scheduler: Scheduler;
  readonly traceLog: Trace;
  /** Records an event now (HostEnv, FaultWorld, DsmHosts). */
  readonly trace: RecordEvent;
  readonly network: Network<SimEnvelope>;
  readonly hosts: SimHost[] = [];
  readonly clients: KvClient[] = [];
  readonly checkers: RaftInvariants[] = [];
  /** The per-step rules of every replica (src/sim/check/raft-rules.ts). */
  readonly rules: RaftRules;
  private readonly genesisConf: ConfState;
  readonly nemesis: Nemesis;
  readonly faults: SimFaultPoints;
  readonly dsm: DsmPart | null;
  /** The scenario's Byzantine host, if any; with twins, its second copy. */
  readonly faulty: FaultyHost | null;
  readonly twin: SimHost | null;
  private readonly syncRng: Rng;
  private readonly endUs: number;
  /** Byzantine runs: acknowledgements judged at the end, against what the correct hosts applied ([group, index, check]). */
  private readonly acksToJudge: [number, number, () => void][] = [];
  /** The verdict of the end-of-run history check ('unknown' if it ran out of steps). */
  linearizability = 'not checked';

  /** Draws from Raft's random streams by host and group, on each one's current incarnation (exploration only). */
  readonly raftDraws = new Map<string, number>();

  constructor(readonly scenario: Scenario, readonly seed: number, private readonly options: WorldOptions) {
    // An explored world is rebuilt for every state it restores, and holds few events.
    this.scheduler = new Scheduler(options.explore === true ? 64 : 4096);
    this.traceLog = new Trace({ clock: this.scheduler, window: 48, sink: options.traceSink });
    this.trace = this.traceLog.record;
    this.endUs = Math.round((options.stopAtS ?? scenario.durationS) * 1e6);
    const voters = scenario.initialVoters ?? scenario.hosts;
    this.genesisConf = { voters: range(1, voters), learners: [] };
    const net = scenario.network;
    const us = (ms: number): number => Math.round(ms * 1000);
    const byz = scenario.byzantine;
    // A twin has a network slot of its own, after the clients.
    const twinSlot = scenario.hosts + scenario.workload.clients + 1;
    const twins = byz?.behaviour === 'twins';
    this.network = new Network<SimEnvelope>(this.scheduler, this.stream('network'), {
      latencyUs: { min: us(net.latency.minMs), mean: us(net.latency.meanMs), max: us(net.latency.maxMs) },
      loss: net.loss,
      duplicate: net.duplicate,
      reorder: net.reorder,
      maxHosts: scenario.hosts + scenario.workload.clients + (twins ? 1 : 0),
      trackInFlight: options.explore === true,
    }, (from, to, env) => this.deliver(from, to, env));
    this.faulty = byz === undefined ? null : new FaultyHost(byz, {
      scheduler: this.scheduler,
      network: this.network,
      hosts: scenario.hosts,
      quietAtUs: Math.round((scenario.faults.untilS ?? scenario.durationS) * 1e6),
      trace: (kind, host, side) => this.trace(kind, host, side),
    }, this.stream('byzantine'), twinSlot);
    this.syncRng = this.stream('disk-sync');
    this.faults = new SimFaultPoints(scenario.buggify, this.stream('buggify'), () => !this.nemesis.isQuiet, this.trace);
    this.dsm = scenario.dsm === undefined ? null : new DsmPart(scenario, scenario.dsm, this);
    const groups = this.dsm?.groups ?? scenario.groups;
    for (let g = 0; g < groups; g++) {
      this.checkers.push(new RaftInvariants(g, this.genesis(g).voters, () => this.probes(g)));
    }
    this.rules = new RaftRules(scenario.raft, this.checkers);
    const clockRng = this.stream('clocks');
    for (const id of range(1, scenario.hosts)) {
      const c = scenario.clock;
      const clock = new HostClock(
        Math.round(clockRng.between(-c.maxOffsetMs, c.maxOffsetMs) * 1000),
        clockRng.between(-c.maxDriftPpm, c.maxDriftPpm),
      );
      const mono = new HostClock(clock.offsetAt(0), clock.driftPpm);
      this.hosts.push(new SimHost(id, clock, mono, this));
    }
    this.twin = twins ? twinOf(this.hosts[byz.host - 1]!, this, twinSlot) : null;
    const w = scenario.workload;
    for (let i = 0; i < (this.dsm === null ? w.clients : 0); i++) {
      const id = scenario.hosts + 1 + i;
      this.clients.push(new KvClient(id, this.stream(`client-${id}`), {
        scheduler: this.scheduler,
        hosts: scenario.hosts,
        groups: scenario.groups,
        keys: w.keys,
        rateHz: w.rateHz,
        timeoutUs: us(w.timeoutMs),
        send: (from, to, env) => this.send(from, to, env),
        trace: this.trace,
        acknowledged: (group, index, term, client, seq) => {
          const check = (): void => this.checkers[group]!.acknowledged(
            index, term, (data) => data.startsWith(`{"client":${client},"seq":${seq},`), `client ${client} request ${seq}`);
          // A faulty leader answers before any correct host applies the entry: judge its answers once the run ends.
          if (this.faulty === null) check();
          else this.acksToJudge.push([group, index, check]);
        },
        accepting: () => this.scheduler.now < this.endUs,
      }));
    }
    const dsm = this.dsm;
    this.changeOwners = dsm === null ? undefined : (rng, action, hosts) => this.changeOwnersInDsm(dsm, rng, action, hosts);
    this.nemesis = new Nemesis(this, this.stream('nemesis'));
  }

  stream(name: string): Rng {
    return streamFor(this.seed, name);
  }

  // HostEnv

  genesis(group: number): ConfState {
    if (this.dsm === null) return this.genesisConf;
    if (group === 0) return { voters: [...this.dsm.owners], learners: [] };
    return { voters: this.dsm.plans.find((p) => p.company === group)?.members ?? [], learners: [] };
  }

  /** Key-value groups: every host keeps every group (hosts outside the first voters wait to be added). */
  groupsAtBoot(host: number): number[] {
    return this.dsm?.groupsOf(host) ?? range(0, this.scenario.groups);
  }

  app(host: SimHost, rt: HostRuntime): SimApp {
    if (this.dsm !== null) return new SimDsmApp(host, rt, this.dsm);
    return new KvService(rt, this, this.scenario.bugs?.localReads ?? false);
  }

  /** DSM membership: an owner joins or leaves through the registry's leader (absent for key-value runs). */
  readonly changeOwners: FaultWorld['changeOwners'];

  private changeOwnersInDsm(dsm: DsmPart, rng: Rng, action: 'add' | 'remove' | undefined, hosts: readonly number[] | undefined): { action: 'add' | 'remove'; host: number } | null {
    const leader = this.hosts.find((h) => h.state === 'up' && h.replicas[0]?.role === 'leader');
    const r = leader?.replicas[0];
    if (r === undefined) return null;
    const owners = (r.machine as RegistryMachine).owners;
    const outside = this.hosts.map((h) => h.id).filter((id) => !owners.includes(id));
    const canLeave = owners.length > dsm.replication;
    const act = action ?? (outside.length === 0 ? 'remove' : !canLeave ? 'add' : rng.pick(['add', 'remove'] as const));
    const pool = act === 'add' ? outside : canLeave ? owners : [];
    const chosen = hosts?.find((h) => pool.includes(h)) ?? (pool.length > 0 ? rng.pick(pool) : undefined);
    if (chosen === undefined) return null;
    const ok = r.node.propose(encodeRegistryCommand({ op: act === 'add' ? 'join' : 'leave', host: chosen }));
    if (ok) {
      this.trace(`owner-${act}`, chosen);
      r.pump();
    }
    return ok ? { action: act, host: chosen } : null;
  }

  // DsmHosts

  hostState(host: number): HostState {
    return this.hosts[host - 1]!.state;
  }

  appOf(host: number): SimDsmApp | null {
    const app = this.hosts[host - 1]!.app;
    return app instanceof SimDsmApp ? app : null;
  }

  monotonicClock(host: number): HostClock {
    return this.hosts[host - 1]!.mono;
  }

  send(from: number, to: number, env: SimEnvelope): void {
    const f = this.faulty;
    if (f === null) {
      this.network.send(from, to, env);
      return;
    }
    const slot = to === f.self ? f.slotFor(from) : to;
    if (from === f.self || from === f.twinSlot) f.send(from, slot, env);
    else this.network.send(from, slot, env);
  }

  /** Invariants judge correct hosts only (HostEnv). */
  judged(host: number): boolean {
    return this.faulty?.correct(host) ?? true;
  }

  syncDelayUs(): number {
    const s = this.scenario.disk.syncMs;
    return Math.round(Math.min(s.maxMs, s.minMs + this.syncRng.exponential(s.meanMs - s.minMs)) * 1000);
  }

  raftRandom(host: number, group: number, incarnation: number): () => number {
    const rng = this.stream(`raft-${host}-${group}-${incarnation}`);
    if (this.options.explore !== true) return () => rng.next();
    const key = `${host}-${group}`;
    this.raftDraws.set(key, 0);
    return () => {
      this.raftDraws.set(key, this.raftDraws.get(key)! + 1);
      return rng.next();
    };
  }

  diskRng(host: number): Rng {
    return this.stream(`disk-${host}`);
  }

  faultPoints(host: number): FaultPoints {
    return this.faults.forHost(host);
  }

  private deliver(fromSlot: number, toSlot: number, sent: SimEnvelope): void {
    const f = this.faulty;
    let env: SimEnvelope | null = sent;
    let from = fromSlot;
    let to = toSlot;
    if (f !== null) {
      // A twin speaks and hears as the identity it shares.
      if (fromSlot === f.twinSlot) from = f.self;
      if (toSlot === f.twinSlot) to = f.self;
      if (to === f.self) env = f.receive(from, sent);
      if (env === null) return;
    }
    recordDelivery(this.trace, from, to, env);
    if (toSlot === f?.twinSlot) this.twin!.deliver(from, env);
    else if (to <= this.hosts.length) this.hosts[to - 1]!.deliver(from, env);
    else this.clients[to - this.hosts.length - 1]?.receive(env);
  }

  /** An array, not a generator: the durability check asks at every commit. */
  private probes(group: number): ReplicaProbe[] {
    // Every host's disk, a faulty one's and its twin's included: durability counts what they truly hold.
    const out: ReplicaProbe[] = [];
    for (const h of this.hosts) {
      const p = h.probe(group);
      if (p !== undefined) out.push(p);
    }
    const t = this.twin?.probe(group);
    if (t !== undefined) out.push(t);
    return out;
  }

  run(): RunResult {
    this.start();
    this.advance(this.endUs);
    return this.finish();
  }

  /** Boots every host and client and arms the faults and the liveness check. */
  start(): void {
    this.guard(() => {
      for (const h of this.hosts) this.scheduler.withOwner(h.id, () => h.start());
      if (this.twin !== null) this.scheduler.withOwner(this.twin.id, () => this.twin!.start());
      this.faulty?.start();
      for (const c of this.clients) this.scheduler.withOwner(c.id, () => c.start());
      this.nemesis.start();
      this.scheduleLiveness();
    });
  }

  /**
   * Runs one step an explorer chose (an event, a crash, a restart); a
   * violation it raises ends the world, as in a run. Returns the violation
   * found so far, if any.
   */
  act(step: () => void): RunResult['violation'] {
    this.guard(step);
    return this.found;
  }

  /** Runs events up to a simulated time (bounded by the run's end); stops at a violation. */
  advance(untilUs: number): void {
    this.guard(() => this.scheduler.runUntil(Math.min(untilUs, this.endUs)));
  }

  private found: RunResult['violation'] = null;

  private guard(fn: () => void): void {
    if (this.found !== null) return;
    try {
      fn();
    } catch (e) {
      if (!(e instanceof InvariantViolation)) throw e;
      this.found = { invariant: e.invariant, message: e.message.slice(e.invariant.length + 2), timeUs: this.scheduler.now, lastEvents: this.traceLog.last() };
    }
  }

  /** Ends the run: end-of-run checks, then the report. */
  finish(): RunResult {
    const report = this.report();
    this.close();
    return report;
  }

  /** Frees the world without judging it. The page tables' databases live outside the JS heap: free them now, not at some GC. */
  close(): void {
    for (const h of this.hosts) h.runtime?.close();
    this.twin?.runtime?.close();
  }

  private report(): RunResult {
    const s = this.scenario;
    let found = this.found;
    for (const c of this.clients) c.finish();
    // An answer for an index no correct host applied yet is left to the linearizability check.
    this.guard(() => {
      for (const [group, index, check] of this.acksToJudge) if (index <= this.checkers[group]!.committedIndex) check();
    });
    found = this.found;
    if (found === null && this.scheduler.now >= Math.round(s.durationS * 1e6)) {
      const dsm = this.dsm;
      if (dsm !== null) {
        this.guard(() => dsm.checkEnd(s.liveness !== undefined));
        found = this.found;
      } else {
        found = this.checkHistory();
      }
    }
    return {
      ...(this.options.inspect ? { inspection: this.hosts.map((h) => inspectHost(h, h.mono.local(this.scheduler.now), this.dsm !== null)) } : {}),
      scenario: s.name,
      seed: this.seed,
      traceHash: this.traceLog.hash(),
      events: this.scheduler.eventsRun,
      simSeconds: this.scheduler.now / 1e6,
      violation: found,
      faultKinds: [...this.nemesis.enabled],
      probes: this.faults.probes(),
      faultPointsFired: this.faults.firedByPoint(),
      stats: {
        faults: this.nemesis.injected,
        messages: this.network.stats.sent,
        corruptReads: this.hosts.reduce((n, h) => n + h.disk.stats.corruptReads, 0),
        committed: this.checkers.reduce((n, c) => n + c.committedIndex, 0),
        ...(this.faulty === null ? {} : this.refusedByCorrectHosts()),
        requests: this.clients.reduce((n, c) => n + c.completed, 0),
        ...(this.dsm === null ? { linearizable: this.linearizability === 'linearizable' ? 1 : 0 } : { ...this.dsm.stats, writeBacks: this.dsm.clientStats().writeBacks ?? 0,
          evictions: this.dsm.clientStats().evictions ?? 0, lostWrites: this.dsm.clientStats().lostWrites ?? 0, ...this.dsm.syncStats() }),
      },
    };
  }

  /** What the correct hosts' current incarnations refused (src/raft/bounds.ts, forged senders), for Byzantine runs' reports. */
  private refusedByCorrectHosts(): Record<string, number> {
    const sum: Record<string, number> = {};
    for (const h of this.hosts) {
      if (!this.judged(h.id)) continue;
      for (const [k, v] of Object.entries(h.runtime?.refusals() ?? {})) sum[`refused.${k}`] = (sum[`refused.${k}`] ?? 0) + v;
    }
    return sum;
  }

  /**
   * The clients' history must be linearizable: every get returns what the
   * puts and appends before it, in some order consistent with real time, made.
   */
  private checkHistory(): RunResult['violation'] {
    const result = kvLinearizability(this.clients, false);
    this.linearizability = result.verdict;
    if (result.message === null) return null;
    return { invariant: 'linearizability', message: result.message, timeUs: this.scheduler.now, lastEvents: this.traceLog.last() };
  }

  /**
   * Liveness: once faults stop, within the scenario's bound every group has a
   * leader that a quorum of its voters follows, and every request pending when
   * the quiet period began has been answered.
   */
  private scheduleLiveness(): void {
    const l = this.scenario.liveness;
    if (l === undefined) return;
    const quietUs = Math.round((this.scenario.faults.untilS ?? 0) * 1e6);
    const checkUs = quietUs + Math.round(l.withinS * 1e6);
    if (checkUs > this.endUs) return;
    this.scheduler.at(checkUs, () => {
      for (let g = 0; g < this.checkers.length; g++) {
        if (this.genesis(g).voters.length > 0) this.checkLeader(g, l.withinS);
      }
      this.dsm?.checkLiveness(quietUs, l.withinS);
      for (const c of this.clients) {
        const since = c.outstandingSince;
        if (since !== null && since < quietUs) {
          violation('liveness', `client ${c.id}'s request sent at ${(since / 1e6).toFixed(3)} s is still unanswered ${l.withinS} s after faults stopped`);
        }
        if (c.lastCompletionUs < quietUs && this.scenario.workload.rateHz * l.withinS >= 3) {
          violation('liveness', `client ${c.id} completed no request in the ${l.withinS} s after faults stopped`);
        }
      }
    });
  }

  private checkLeader(group: number, withinS: number): void {
    for (const h of this.hosts) {
      const r = h.replicas[group];
      if (r === undefined || r.role !== 'leader') continue;
      const st = r.node.status();
      const followers = st.conf.voters.filter((v) => {
        const x = this.hosts[v - 1]?.replicas[group];
        return x !== undefined && x.lead === h.id && x.node.status().term === st.term;
      });
      if (followers.length * 2 > st.conf.voters.length) return;
    }
    violation('liveness', `group ${group} has no leader followed by a quorum ${withinS} s after faults stopped`);
  }
}

/**
 * Checks the key-value clients' history; with `pending`, each client's
 * request still in flight is in it with its outcome unknown. The message
 * names the operations that could not be ordered, if any.
 */
export function kvLinearizability(clients: readonly KvClient[], pending: boolean): { verdict: string; message: string | null } {
  const history = kvHistory(clients, pending);
  const result = checkLinearizable(kvModel, history, { maxSteps: 2_000_000 });
  if (result.verdict !== 'not-linearizable') return { verdict: result.verdict, message: null };
  const ops = (result.unordered ?? []).map((o) => `client ${o.client} ${describeOperation(kvModel, o)} [${o.call}, ${o.ret}] us`);
  return { verdict: result.verdict, message: `the key-value history is not linearizable; these operations could not be ordered: ${ops.join('; ')}` };
}

/** The key-value clients' history as the checker takes it; with `pending`, each request still in flight, its outcome unknown. */
export function kvHistory(clients: readonly KvClient[], pending: boolean): KvHistoryOp[] {
  const history: KvHistoryOp[] = [];
  const add = (client: number, op: KvClient['history'][number]['op'], output: string | null, call: number, ret: number): void => {
    const input: KvInput = op.op === 'get' ? { kind: 'get', key: op.key } : { kind: op.op, key: op.key, value: op.value };
    history.push({ client, input, output, call, ret });
  };
  for (const c of clients) {
    for (const h of c.history) add(h.client, h.op, h.output, h.call, h.ret);
    const p = pending ? c.pending : null;
    if (p !== null) add(c.id, p.op, null, p.call, Infinity);
  }
  return history;
}

function range(from: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => from + i);
}

/** Runs one seed; a scenario whose fields vary per seed is drawn first, from the seed. */
export function runSeed(scenario: Scenario | ScenarioSpec, seed: number, options: RunOptions = {}): RunResult {
  return new World(isSpec(scenario) ? drawScenario(scenario, seed).scenario : scenario, seed, options).run();
}
