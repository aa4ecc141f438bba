// One world under exploration: the real World (hosts, runtimes, Raft, the
// VMM, the checkers) built from (scenario, seed), driven one chosen step at a
// time instead of in time order.
//
// Which steps are enabled: asynchronous work may be held up for any time, so
// every pending delivery, disk completion and tick is enabled (a message may
// overtake any other, a host may tick while another's ticks are held up:
// Raft's safety must not depend on its clocks). Timers measure time (lease
// deadlines, a manager waiting a lease out, a client's time-out), so they
// keep their order among themselves: only the timers due earliest are
// enabled. A step runs at its event's time, or now if that is past (nothing
// happens early; what was held up happens late), so always taking the
// earliest event replays the seed's own run. Faults, within a budget per
// path: crash an up host, restart a down one, lose or duplicate a message in
// flight.
import type { Violation } from '../result.js';
import type { Scenario } from '../scenario.js';
import type { PendingEvent } from '../scheduler.js';
import { kvLinearizability, World } from '../run.js';
import type { SimEnvelope } from '../kv-wire.js';
import { SimDsmApp } from '../dsm-app.js';
import type { Choice } from './choice.js';
import { choiceKey, isHostChoice } from './choice.js';
import type { Hasher } from './hash.js';

/** How many faults of each kind one path may take (restarts are free, for a host that is down). */
export interface FaultBudget {
  readonly crashes: number;
  readonly losses: number;
  readonly duplicates: number;
}

export const NO_FAULTS: FaultBudget = { crashes: 0, losses: 0, duplicates: 0 };

/**
 * Coarser steps, for deeper searches: each one cuts out choices (and the
 * bugs only they show), so both are off unless asked for.
 */
export interface Reductions {
  /**
   * A disk write completes within the step that made it: no step falls
   * between a write and its sync (no crash there, no message overtaking it).
   */
  readonly instantDisk: boolean;
  /**
   * A tick that changes nothing visible (no message sent, no replica's role
   * or term changed) is followed at once by the host's next tick, so a step
   * is a timeout rather than one count towards it.
   */
  readonly skipIdleTicks: boolean;
}

export const NO_REDUCTIONS: Reductions = { instantDisk: false, skipIdleTicks: false };

/** How many idle ticks one step runs at most (past any election timeout). */
const MAX_IDLE_TICKS = 64;

/**
 * The scenario as exploration runs it: no random nemesis (the explorer
 * chooses faults), no random loss, duplication or reordering (the explorer
 * chooses those too), no quiet period and no liveness check (a bounded path
 * cannot judge liveness). The explicit fault schedule stays.
 */
export function explorationScenario(s: Scenario): Scenario {
  const { nemesis: _nemesis, untilS: _untilS, ...faults } = s.faults;
  const { liveness: _liveness, ...rest } = s;
  return { ...rest, faults, network: { ...s.network, loss: 0, duplicate: 0, reorder: 0 } };
}

/** The faults a scenario's fault kinds and network allow, one of each by default. */
export function defaultBudget(s: Scenario): FaultBudget {
  const kinds = new Set([...(s.faults.nemesis?.kinds ?? []), ...s.faults.schedule.map((f) => f.kind)]);
  const partitions = kinds.has('partition') || kinds.has('partition-one-way') || kinds.has('partition-partial') || kinds.has('clog');
  return {
    crashes: kinds.has('crash') || kinds.has('corrupt-read') ? 1 : 0,
    losses: s.network.loss > 0 || kinds.has('flaky') || partitions ? 1 : 0,
    duplicates: s.network.duplicate > 0 || kinds.has('flaky') ? 1 : 0,
  };
}

const HOST_STATES = ['up', 'down', 'paused', 'stalled'] as const;
const KIND_CODES = { timer: 1, message: 2, disk: 3, tick: 4 } as const;

export class ExploreSession {
  readonly world: World;
  private readonly used = { crashes: 0, losses: 0, duplicates: 0 };
  /** The pending events of the current state (listed once per state). */
  private events: PendingEvent[] | null = null;
  /** Client operations completed when the history was last checked. */
  private checkedOps = 0;
  private found: Violation | null = null;

  /** `scenario` as explorationScenario() gives it. */
  constructor(readonly scenario: Scenario, readonly seed: number, readonly budget: FaultBudget, readonly reductions: Reductions = NO_REDUCTIONS) {
    this.world = new World(scenario, seed, { explore: true });
    this.world.start();
    this.found = this.world.act(() => undefined);
  }

  get violation(): Violation | null {
    return this.found;
  }

  get now(): number {
    return this.world.scheduler.now;
  }

  private pending(): PendingEvent[] {
    return (this.events ??= this.world.scheduler.pendingEvents());
  }

  /** The steps enabled here, in a fixed order: events by time, then faults. */
  enabled(): Choice[] {
    if (this.found !== null) return [];
    const { world } = this;
    const out: Choice[] = [];
    const events = this.pending();
    let firstTimer = Infinity;
    for (const e of events) if (e.kind === 'timer' && e.time < firstTimer) firstTimer = e.time;
    for (const e of events) {
      if (e.kind === 'timer' ? e.time === firstTimer : this.runs(e.owner)) {
        out.push({ kind: 'run', seq: e.seq, id: e.id, atUs: e.time, event: e.kind, owner: e.owner });
      }
    }
    for (const h of world.hosts) if (h.state === 'down') out.push({ kind: 'restart', host: h.id });
    if (this.used.crashes < this.budget.crashes) {
      for (const h of world.hosts) if (h.state === 'up') out.push({ kind: 'crash', host: h.id });
    }
    const lose = this.used.losses < this.budget.losses;
    const dup = this.used.duplicates < this.budget.duplicates;
    if (lose || dup) {
      for (const e of events) {
        if (e.kind !== 'message' || !this.runs(e.owner)) continue;
        if (lose) out.push({ kind: 'lose', seq: e.seq, id: e.id });
        if (dup) out.push({ kind: 'duplicate', seq: e.seq, id: e.id });
      }
    }
    return out;
  }

  /** Whether work owned by this host or client can run: a down host's wait until it restarts (or never). */
  private runs(owner: number): boolean {
    const h = this.world.hosts[owner - 1];
    return h === undefined || h.state !== 'down';
  }

  /** Takes one step; returns the violation it found, if any. */
  apply(c: Choice): Violation | null {
    if (this.found !== null) return this.found;
    const { world } = this;
    this.events = null;
    this.found = world.act(() => {
      const ticking = this.reductions.skipIdleTicks && c.kind === 'run' && c.event === 'tick' ? c.owner : 0;
      const before = ticking === 0 ? '' : this.visible(ticking);
      this.take(c);
      if (ticking !== 0) this.tickWhileIdle(ticking, before);
      if (this.reductions.instantDisk) this.flushDisks();
    });
    if (this.found === null) this.checkHistory();
    return this.found;
  }

  private take(c: Choice): void {
    const { world } = this;
    {
      switch (c.kind) {
        case 'run':
          if (!world.scheduler.runEvent(c.id, c.atUs)) throw new Error(`explore: event ${c.seq} is not pending`);
          return;
        case 'lose': {
          const m = world.network.inFlightAt(c.id);
          if (m === undefined || !world.network.loseInFlight(c.id)) throw new Error(`explore: event ${c.seq} is not a message in flight`);
          this.used.losses++;
          world.trace('explore-lose', m.to, m.from, c.seq);
          return;
        }
        case 'duplicate': {
          const m = world.network.inFlightAt(c.id);
          if (m === undefined || world.network.duplicateInFlight(c.id) === null) throw new Error(`explore: event ${c.seq} is not a message in flight`);
          this.used.duplicates++;
          world.trace('explore-duplicate', m.to, m.from, c.seq);
          return;
        }
        case 'crash':
          this.crash(c.host);
          return;
        case 'restart': {
          const h = world.hosts[c.host - 1]!;
          world.scheduler.withOwner(h.id, () => h.start());
          return;
        }
      }
    }
  }

  /** What a tick could change that others see: messages sent, replicas' roles and terms. */
  private visible(host: number): string {
    const h = this.world.hosts[host - 1]!;
    return `${this.world.network.stats.sent} ${h.replicas.map((r) => (r === undefined ? '' : `${r.role}${r.term()}`)).join(',')}`;
  }

  /** Runs the host's next ticks for as long as they change nothing visible since `before`. */
  private tickWhileIdle(host: number, before: string): void {
    const { world } = this;
    const h = world.hosts[host - 1]!;
    for (let i = 0; i < MAX_IDLE_TICKS && h.state === 'up' && this.visible(host) === before; i++) {
      const next = world.scheduler.pendingEvents().find((e) => e.kind === 'tick' && e.owner === host);
      if (next === undefined) return;
      world.scheduler.runEvent(next.id, next.time);
    }
  }

  /** Completes every pending disk write, and those the completions lead to. */
  private flushDisks(): void {
    const sched = this.world.scheduler;
    for (;;) {
      const disk = sched.pendingEvents().find((e) => e.kind === 'disk' && this.runs(e.owner));
      if (disk === undefined) return;
      sched.runEvent(disk.id, disk.time);
    }
  }

  private crash(id: number): void {
    const { world } = this;
    const h = world.hosts[id - 1]!;
    h.crash(world.scenario.disk.tornWrites);
    this.used.crashes++;
    // Its ticks and disk completions belong to the dead incarnation (they would run as no-ops): gone.
    for (const e of world.scheduler.pendingEvents()) {
      if (e.owner === id && (e.kind === 'tick' || e.kind === 'disk')) world.scheduler.cancel(e.id);
    }
  }

  /** The key-value history, whenever an operation completed, with the requests in flight left open. */
  private checkHistory(): void {
    const clients = this.world.clients;
    let ops = 0;
    for (const c of clients) ops += c.completed;
    if (ops === this.checkedOps) return;
    this.checkedOps = ops;
    const { message } = kvLinearizability(clients, true);
    if (message !== null) {
      this.found = { invariant: 'linearizability', message, timeUs: this.now, lastEvents: this.world.traceLog.last() };
    }
  }

  /** A human-readable name of a choice enabled here (call before applying it). */
  describe(c: Choice): string {
    const { world } = this;
    if (isHostChoice(c)) return `${c.kind} host ${c.host}`;
    const m = world.network.inFlightAt(c.id);
    if (m !== undefined) return `${c.kind === 'run' ? 'deliver' : c.kind} ${describeEnvelope(m.msg)} ${m.from}->${m.to}`;
    const e = this.pending().find((x) => x.id === c.id);
    if (e === undefined) return `event ${c.seq}`;
    const who = e.owner === 0 ? 'the world' : e.owner <= world.hosts.length ? `host ${e.owner}` : `client ${e.owner}`;
    switch (e.kind) {
      case 'tick': return `tick on ${who}`;
      case 'disk': return `disk sync on ${who}`;
      default: return `timer of ${who} at ${(e.time / 1e6).toFixed(6)} s`;
    }
  }

  /**
   * The state's fingerprint: what determines what can happen next, as far as
   * it can be read from outside the closures. In it: each host's
   * process state and incarnation, each replica's whole Raft state (term,
   * vote, log, commit, role, leader, election and heartbeat counters,
   * progress of followers, votes, the Ready in flight) and how far its random
   * stream was drawn, each disk's durable and pending records, the shared
   * memory's frames, protections, page client and managers, application
   * threads' progress, the clients, the messages in flight (a multiset), the
   * other pending events (kind, owner, and a timer's time), and the faults
   * used. Left out, because they only record the past: the checkers' history,
   * the trace, statistics, event ids. Left out, because only order matters:
   * the clock (what runs next is decided by the order of the timers, which is
   * in) and the nominal times of asynchronous work (it may run at any time). Also left out, because closures hide
   * them: the positions of the clients' and threads' random streams (they
   * follow from how many requests and operations were made), the key-value
   * service's table of whom to answer (it follows from the log), and what a
   * thread's generator will do next (it follows from its operations so far).
   * Two states that differ only there are taken as one, so a search may miss
   * a future of the second; the checks on every state stay exact.
   */
  fingerprint(h: Hasher, records: RecordHashes): [number, number] {
    const { world } = this;
    h.reset();
    for (const host of world.hosts) {
      h.word(HOST_STATES.indexOf(host.state));
      h.word(host.epoch);
      const rt = host.runtime;
      if (rt !== null) {
        for (const r of rt.replicas) {
          if (r === undefined) continue;
          h.word(r.group);
          h.word(world.raftDraws.get(`${host.id}-${r.group}`) ?? 0);
          h.value(r.node);
        }
      }
      for (const file of host.disk.files()) {
        h.str(file);
        const recs = host.disk.readVisible(file);
        h.word(recs.length);
        h.word(host.disk.pendingCount(file));
        for (const rec of recs) records.hash(rec, h);
      }
      const app = host.app;
      if (app instanceof SimDsmApp) {
        const mem = app.memory;
        for (let page = 0; page < mem.pages; page++) {
          const prot = mem.protection(page);
          h.word(prot === 'none' ? 0 : prot === 'read' ? 1 : 2);
        }
        h.value(app.vmm);
        h.word(app.threads.opSeq);
        h.word(app.threads.active);
        h.value(app.threads.waitingSince);
        for (let page = 0; page < mem.pages; page++) h.value(mem.read(page));
      }
    }
    if (world.clients.length > 0) h.value(clientStates(world.clients));
    h.unordered(world.network.inFlight(), (m) => {
      h.word(m.from);
      h.word(m.to);
      h.frozen(m.msg);
    });
    h.unordered(this.pending(), (e) => {
      if (e.kind === 'message') return;
      h.word(KIND_CODES[e.kind]);
      h.word(e.owner);
      if (e.kind === 'timer') h.num(e.time);
    });
    h.word(this.used.crashes);
    h.word(this.used.losses);
    h.word(this.used.duplicates);
    return h.lanes();
  }

  /** Frees the world's resources (the page tables' databases). */
  close(): void {
    this.world.close();
  }

  /** A choice's key, if it is enabled here. */
  find(key: string): Choice | undefined {
    return this.enabled().find((c) => choiceKey(c) === key);
  }
}

/**
 * The clients' state for fingerprints: their operations, with each call and
 * return time replaced by its rank among them (linearizability depends on
 * their order only, and the order of two paths that commute is the same).
 */
function clientStates(clients: World['clients']): unknown {
  const times: number[] = [];
  for (const c of clients) {
    for (const o of c.history) times.push(o.call, o.ret);
    if (c.pending !== null) times.push(c.pending.call);
  }
  const rank = new Map([...new Set(times)].sort((a, b) => a - b).map((t, i) => [t, i]));
  return clients.map((c) => ({
    ops: c.history.map((o) => [o.op, o.output, rank.get(o.call), rank.get(o.ret)]),
    pending: c.pending === null ? null : [c.pending.op, rank.get(c.pending.call)],
  }));
}

function describeEnvelope(e: SimEnvelope): string {
  switch (e.kind) {
    case 'raft': {
      const m = e.msg;
      const ents = m.entries.length > 0 ? ` [${m.entries.map((x) => `${x.index}@${x.term}`).join(' ')}]` : '';
      return `${m.type} term ${m.term}${m.reject ? ' reject' : ''}${ents}`;
    }
    case 'kv-request': return `kv ${e.op.op} ${e.op.key} (client ${e.client} #${e.seq})`;
    case 'kv-response': return `kv ${e.status} (client ${e.client} #${e.seq})`;
    case 'vmm': return `vmm ${e.msg.t} page ${'page' in e.msg ? e.msg.page : '-'}`;
  }
}

/**
 * Hashes of disk records, by content: a record is hashed once per
 * exploration, however many states hold it.
 */
export class RecordHashes {
  private readonly cache = new Map<string, number>();

  hash(rec: string, h: Hasher): void {
    let x = this.cache.get(rec);
    if (x === undefined) {
      x = checksum32(rec);
      this.cache.set(rec, x);
    }
    h.word(x);
    h.word(rec.length);
  }
}

/** 32-bit FNV-1a, enough for one record among a path's (the length goes in too). */
function checksum32(s: string): number {
  let x = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) x = Math.imul(x ^ s.charCodeAt(i), 0x01000193);
  return x | 0;
}
