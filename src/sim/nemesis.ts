// Faults: the scenario's explicit schedule plus a random nemesis. With swarm
// testing each seed enables its own subset of fault kinds, so a campaign
// explores runs dominated by one kind as well as mixtures. Every fault heals
// when its time is up, and all of them heal when the quiet period starts.
import type { FaultKind, Scenario, ScheduledFault } from './scenario.js';
import { FAULT_KINDS } from './scenario.js';
import type { Network } from './network.js';
import type { SimEnvelope } from './kv-wire.js';
import type { Rng } from './rng.js';
import type { Scheduler } from './scheduler.js';
import type { SimHost } from './host.js';
import type { RecordEvent } from '../host/trace-events.js';

/** The parts of the world faults act on. */
export interface FaultWorld {
  readonly scheduler: Scheduler;
  readonly scenario: Scenario;
  readonly network: Network<SimEnvelope>;
  readonly hosts: readonly SimHost[];
  readonly trace: RecordEvent;
  stream(name: string): Rng;
  /**
   * Where membership lives elsewhere (the shared memory's registry): an owner
   * joins or leaves there, and the groups follow. Returns the change made, or null if it could not.
   */
  changeOwners?(rng: Rng, action: 'add' | 'remove' | undefined, hosts: readonly number[] | undefined): { action: 'add' | 'remove'; host: number } | null;
}

const NETWORK_KINDS: ReadonlySet<FaultKind> = new Set(['partition', 'partition-one-way', 'partition-partial', 'clog', 'flaky']);

export class Nemesis {
  readonly enabled: FaultKind[];
  injected = 0;
  /**
   * Every fault applied so far, with each random choice it made written in
   * (hosts, peers, links, amount, action), one entry per membership change:
   * as `faults.schedule` without a nemesis, it makes the same faults again.
   */
  readonly made: ScheduledFault[] = [];
  private heals = new Map<number, () => void>();
  private nextHealId = 0;
  private networkHeal: (() => void) | null = null;
  private quiet = false;

  constructor(private readonly world: FaultWorld, private readonly rng: Rng) {
    const nemesis = world.scenario.faults.nemesis;
    const kinds = nemesis ? [...new Set(nemesis.kinds)].sort((a, b) => FAULT_KINDS.indexOf(a) - FAULT_KINDS.indexOf(b)) : [];
    this.enabled = nemesis?.swarm && kinds.length > 0 ? rng.subset(kinds) : kinds;
  }

  start(): void {
    const { scheduler, scenario } = this.world;
    // Each scheduled fault is queued when the one before it fires, as the random
    // nemesis queues its next fault: a schedule written from a run
    // (src/sim/shrink) then orders its faults among events of the same
    // microsecond as the run did, and replays it exactly.
    const schedule = [...scenario.faults.schedule].sort((a, b) => a.atMs - b.atMs);
    const queue = (i: number): void => {
      const f = schedule[i];
      if (f === undefined) return;
      scheduler.at(f.atMs * 1000, () => {
        this.inject(f);
        queue(i + 1);
      });
    };
    queue(0);
    if (this.enabled.length > 0) this.scheduleRandom();
    const until = scenario.faults.untilS;
    if (until !== undefined) scheduler.at(until * 1e6, () => this.healAll());
  }

  /** Whether the run is past the fault period. */
  get isQuiet(): boolean {
    return this.quiet;
  }

  private scheduleRandom(): void {
    const n = this.world.scenario.faults.nemesis!;
    this.world.scheduler.after(Math.round(this.rng.exponential(n.meanIntervalMs * 1000)), () => {
      if (this.quiet) return;
      const kind = this.rng.pick(this.enabled);
      const forMs = this.rng.between(n.minDurationMs, n.maxDurationMs);
      const burst = kind === 'membership' ? n.membershipBurst : undefined;
      this.inject({ atMs: this.world.scheduler.now / 1000, kind, forMs, count: burst?.count ?? 1, everyMs: burst?.everyMs ?? 0 });
      this.scheduleRandom();
    });
  }

  private inject(f: ScheduledFault): void {
    if (this.quiet) return;
    if (f.kind === 'membership' && f.count > 1) {
      // The rest of the burst follows, whether or not this change could be made.
      this.world.scheduler.after(Math.round(f.everyMs * 1000), () => this.inject({ ...f, count: f.count - 1 }));
    }
    const made: ScheduledFault = { atMs: this.world.scheduler.now / 1000, kind: f.kind, forMs: f.forMs, count: 1, everyMs: 0 };
    const heal = this.apply(f, made);
    if (heal === null) return;
    this.made.push(made);
    this.injected++;
    this.world.trace(`fault:${f.kind}`, 0, this.injected, Math.round(f.forMs));
    if (NETWORK_KINDS.has(f.kind)) {
      // One network fault at a time: a new one replaces the last.
      this.networkHeal?.();
      this.networkHeal = heal;
      this.world.scheduler.after(f.forMs * 1000, () => {
        if (this.networkHeal === heal) {
          heal();
          this.networkHeal = null;
        }
      });
      return;
    }
    const id = this.nextHealId++;
    this.heals.set(id, heal);
    this.world.scheduler.after(f.forMs * 1000, () => {
      const h = this.heals.get(id);
      if (h === undefined) return;
      this.heals.delete(id);
      h();
    });
  }

  /** Applies a fault, writing the choices it made into `made`; returns how to heal it, or null if it could not apply. */
  private apply(f: ScheduledFault, made: ScheduledFault): (() => void) | null {
    const { network, scenario, scheduler } = this.world;
    const ids = this.world.hosts.map((h) => h.id);
    const pickHost = (pred: (h: SimHost) => boolean): SimHost | null => {
      const given = f.hosts?.map((id) => this.world.hosts[id - 1]!).filter(pred);
      const pool = given ?? this.world.hosts.filter(pred);
      const h = pool.length === 0 ? null : this.rng.pick(pool);
      if (h !== null) made.hosts = [h.id];
      return h;
    };
    switch (f.kind) {
      case 'partition': {
        const side = f.hosts ?? this.rng.subset(ids).slice(0, Math.max(1, Math.floor(ids.length / 2)));
        made.hosts = side;
        const other = ids.filter((id) => !side.includes(id));
        network.partition(side, other);
        return () => network.heal();
      }
      case 'partition-one-way': {
        const h = pickHost(() => true)!;
        made.peers = f.peers?.filter((x) => x !== h.id) ?? this.rng.subset(ids.filter((x) => x !== h.id));
        for (const id of made.peers) network.block(h.id, id);
        return () => network.heal();
      }
      case 'partition-partial': {
        const h = pickHost(() => true)!;
        const others = ids.filter((x) => x !== h.id);
        const cut = f.peers?.filter((x) => x !== h.id) ?? this.rng.subset(others).slice(0, Math.max(1, others.length - 1));
        made.peers = cut;
        network.partial(cut.flatMap((id) => [[h.id, id], [id, h.id]] as [number, number][]));
        return () => network.heal();
      }
      case 'clog': {
        const links: [number, number][] = f.links?.map(([a, b]) => [a, b]) ?? [];
        if (f.links === undefined) for (const a of ids) for (const b of ids) if (a !== b && this.rng.bool(0.3)) links.push([a, b]);
        made.links = links;
        for (const [a, b] of links) network.clog(a, b);
        return () => network.unclogAll();
      }
      case 'flaky': {
        const base = scenario.network;
        network.setLoss(Math.max(base.loss, 0.2));
        network.setDuplicate(Math.max(base.duplicate, 0.1));
        network.setReorder(Math.max(base.reorder, 0.3));
        return () => {
          network.setLoss(base.loss);
          network.setDuplicate(base.duplicate);
          network.setReorder(base.reorder);
        };
      }
      case 'crash': {
        const h = pickHost((x) => x.state !== 'down');
        if (h === null) return null;
        h.crash(scenario.disk.tornWrites);
        return () => h.start();
      }
      case 'pause': {
        const h = pickHost((x) => x.state === 'up');
        if (h === null) return null;
        h.pause();
        return () => h.resume();
      }
      case 'corrupt-read': {
        // Records are read only at boot: restart the host while reads flip bits.
        const h = pickHost((x) => x.state === 'up');
        if (h === null) return null;
        h.crash(false);
        h.disk.corruptRead(0.5, this.world.stream(`corrupt-read-${h.id}`));
        h.start();
        return () => {
          h.disk.corruptRead(0, this.rng);
          if (h.state === 'down') h.start();
        };
      }
      case 'stall': {
        const h = pickHost((x) => x.state === 'up');
        if (h === null) return null;
        h.stall();
        return () => h.resume();
      }
      case 'clock-jump': {
        const h = pickHost(() => true)!;
        const max = scenario.clock.maxJumpMs * 1000;
        const delta = f.amount !== undefined ? Math.round(f.amount * 1000) : Math.round(this.rng.between(-max, max));
        made.amount = delta / 1000;
        h.clock.jump(delta, scheduler.now);
        this.world.trace('clock-jump', h.id, delta);
        return () => undefined;
      }
      case 'clock-drift': {
        const h = pickHost(() => true)!;
        const max = scenario.clock.maxDriftPpm;
        const ppm = f.amount ?? this.rng.between(-max, max);
        made.amount = ppm;
        h.clock.setDrift(ppm, scheduler.now);
        h.mono.setDrift(ppm, scheduler.now);
        this.world.trace('clock-drift', h.id, ppm);
        return () => undefined;
      }
      case 'membership': {
        const changes = this.world.changeOwners !== undefined
          ? [this.world.changeOwners(this.rng, f.action, f.hosts)].filter((c) => c !== null).map((c) => ({ ...c, ok: true }))
          : this.changeMembership(f);
        if (!changes.some((c) => c.ok)) return null;
        if (changes.every((c) => c.action === changes[0]!.action)) made.action = changes[0]!.action;
        made.hosts = changes.map((c) => c.host);
        return () => undefined;
      }
      case 'transfer': {
        const targets: number[] = [];
        for (const h of this.world.hosts) {
          for (const r of h.replicas) {
            if (r === undefined || r.role !== 'leader') continue;
            const voters = r.node.status().conf.voters.filter((v) => v !== h.id);
            if (voters.length === 0) continue;
            // A written schedule names each leader's target in turn (a hand-written one may name one for all).
            const given = f.peers !== undefined && f.peers.length > 1 ? [f.peers[targets.length]] : f.peers;
            const target = given?.find((v) => v !== undefined && voters.includes(v)) ?? this.rng.pick(voters);
            r.node.transferLeadership(target);
            r.pump();
            targets.push(target);
          }
        }
        if (targets.length === 0) return null;
        made.peers = targets;
        return () => undefined;
      }
    }
  }

  /**
   * Adds a host to, or removes one from, each group through its leader. Keeps
   * at least three voters, so a single crash cannot stop the group for good.
   */
  private changeMembership(f: ScheduledFault): Array<{ action: 'add' | 'remove'; host: number; ok: boolean }> {
    const changes: Array<{ action: 'add' | 'remove'; host: number; ok: boolean }> = [];
    for (const h of this.world.hosts) {
      if (h.state !== 'up') continue;
      for (const r of h.replicas) {
        if (r === undefined || r.role !== 'leader') continue;
        const voters = r.node.status().conf.voters;
        const outside = this.world.hosts.filter((x) => !voters.includes(x.id)).map((x) => x.id);
        // A written schedule names each leader's host in turn (a hand-written one may name one for all),
        // and without an action, a host outside the group is added, one inside removed.
        const turn = f.hosts !== undefined && f.hosts.length > 1 ? f.hosts[changes.length] : undefined;
        const given = turn !== undefined ? [turn] : f.hosts;
        const implied = turn === undefined ? undefined : outside.includes(turn) ? 'add' : voters.includes(turn) ? 'remove' : undefined;
        const action = f.action ?? implied ?? (outside.length === 0 ? 'remove' : voters.length <= 3 ? 'add' : this.rng.pick(['add', 'remove'] as const));
        if (action === 'add' && outside.length > 0) {
          const node = given?.find((id) => outside.includes(id)) ?? this.rng.pick(outside);
          changes.push({ action, host: node, ok: r.node.proposeConfChange({ type: 'addNode', node }) });
        } else if (action === 'remove' && voters.length > 3) {
          const node = given?.find((id) => voters.includes(id)) ?? this.rng.pick(voters);
          changes.push({ action, host: node, ok: r.node.proposeConfChange({ type: 'removeNode', node }) });
        }
        r.pump();
      }
    }
    return changes;
  }

  /** The quiet period: heal everything and inject nothing more. */
  healAll(): void {
    this.quiet = true;
    this.networkHeal?.();
    this.networkHeal = null;
    const heals = [...this.heals.values()];
    this.heals.clear();
    for (const h of heals) h();
    this.world.network.heal();
    this.world.network.unclogAll();
    for (const h of this.world.hosts) {
      if (h.state === 'down') h.start();
      else if (h.state === 'paused' || h.state === 'stalled') h.resume();
    }
    this.world.trace('quiet', 0);
  }
}
