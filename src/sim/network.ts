// The simulated network: per-link latency, loss, duplication, reordering,
// one-way and two-way partitions, clogging.
//
// Hosts are small integers 0..maxHosts (the simulator uses 1..N). Link state
// (blocked, clogged, overrides) lives in flat arrays indexed by
// from * (maxHosts + 1) + to, so every lookup is O(1).
//
// Messages are never inspected or copied: they must be immutable plain data.
// A message is delivered by a scheduler event that calls `deliver`.
//
// Partitions drop in-flight packets: a message is dropped at send time if
// its link is blocked, and at delivery time if the link is blocked then OR
// was blocked at any moment since the message was sent (even if healed
// again). Messages held on a clogged link count as in flight.
//
// All randomness comes from the Rng handed in, drawn in a fixed order per
// send (loss, then duplicate, then a latency draw per copy), so a run is
// reproducible. Draws are skipped when the probability is 0.
//
// For systematic exploration (trackInFlight), the network also keeps the
// messages in flight by their delivery event, so an explorer can list them,
// deliver them in any order (through the scheduler), lose or duplicate one.
import type { Rng } from './rng.js';
import type { Scheduler } from './scheduler.js';

export interface LatencyDist {
  /** Minimum one-way latency, microseconds. */
  min: number;
  /** Mean latency; drawn as min + exponential(mean - min), clamped to max. */
  mean: number;
  max: number;
}

export interface NetworkConfig {
  latencyUs: LatencyDist;
  /** Probability a sent message is lost. */
  loss: number;
  /** Probability a sent message is delivered twice (independent latencies). */
  duplicate: number;
  /** Probability a message gets an extra delay (explicit reordering). Default 0. */
  reorder?: number;
  /** The extra delay is uniform in [0, reorderDelayUs). Default: latencyUs.max. */
  reorderDelayUs?: number;
  /** Highest host id. Default 64. */
  maxHosts?: number;
  /** Keep the messages in flight by delivery event (exploration). Default false. */
  trackInFlight?: boolean;
}

/** A message on its way, as exploration sees it: `event` is its delivery's scheduler event. */
export interface InFlight<M> {
  readonly event: number;
  readonly from: number;
  readonly to: number;
  readonly msg: M;
}

/** Per-link override; unset fields fall back to the network-wide values. */
export interface LinkConfig {
  latencyUs?: LatencyDist;
  loss?: number;
  duplicate?: number;
  reorder?: number;
  reorderDelayUs?: number;
}

export type DropReason = 'loss' | 'partition';

export interface NetworkStats {
  /** Calls to send(). */
  sent: number;
  /** Calls to deliver (duplicates count twice). */
  delivered: number;
  /** Messages dropped, for any reason (droppedLoss + droppedPartition). */
  dropped: number;
  droppedLoss: number;
  droppedPartition: number;
  /** Extra copies created by duplication. */
  duplicated: number;
}

interface Held<M> {
  from: number;
  to: number;
  msg: M;
  epoch: number;
}

interface Tracked<M> extends InFlight<M> {
  readonly idx: number;
  readonly epoch: number;
}

export class Network<M> {
  readonly stats: NetworkStats = {
    sent: 0,
    delivered: 0,
    dropped: 0,
    droppedLoss: 0,
    droppedPartition: 0,
    duplicated: 0,
  };
  /** Optional observer of drops (for traces). */
  onDrop: ((from: number, to: number, msg: M, reason: DropReason) => void) | undefined = undefined;

  readonly maxHosts: number;
  private readonly stride: number;
  private readonly scheduler: Scheduler;
  private readonly rng: Rng;
  private readonly deliverFn: (from: number, to: number, msg: M) => void;

  // Network-wide settings.
  private latMin: number;
  private latMean: number;
  private latMax: number;
  private loss: number;
  private duplicate: number;
  private reorder: number;
  private reorderDelay: number;

  // Per-link state.
  private readonly blocked: Uint8Array;
  private readonly epochs: Uint32Array;
  private readonly clogged: Uint8Array;
  private readonly held: Array<Held<M>[] | undefined>;
  private readonly links: Array<LinkConfig | undefined>;
  private blockedCount = 0;
  private cloggedCount = 0;
  /** Messages in flight by delivery event, in send order (only with trackInFlight). */
  private readonly inFlightByEvent: Map<number, Tracked<M>> | null;

  constructor(
    scheduler: Scheduler,
    rng: Rng,
    config: NetworkConfig,
    deliver: (from: number, to: number, msg: M) => void,
  ) {
    this.scheduler = scheduler;
    this.rng = rng;
    this.deliverFn = deliver;
    checkLatency(config.latencyUs);
    this.latMin = config.latencyUs.min;
    this.latMean = config.latencyUs.mean;
    this.latMax = config.latencyUs.max;
    this.loss = checkP(config.loss, 'loss');
    this.duplicate = checkP(config.duplicate, 'duplicate');
    this.reorder = checkP(config.reorder ?? 0, 'reorder');
    this.reorderDelay = config.reorderDelayUs ?? config.latencyUs.max;
    const maxHosts = config.maxHosts ?? 64;
    if (!Number.isInteger(maxHosts) || maxHosts < 1 || maxHosts > 4096) {
      throw new RangeError(`Network: bad maxHosts ${maxHosts}`);
    }
    this.maxHosts = maxHosts;
    this.stride = maxHosts + 1;
    const n = this.stride * this.stride;
    this.blocked = new Uint8Array(n);
    this.epochs = new Uint32Array(n);
    this.clogged = new Uint8Array(n);
    this.held = new Array<Held<M>[] | undefined>(n).fill(undefined);
    this.links = new Array<LinkConfig | undefined>(n).fill(undefined);
    this.inFlightByEvent = config.trackInFlight === true ? new Map() : null;
  }

  // ---- sending ----

  /** Send msg from one host to another (subject to faults). */
  send(from: number, to: number, msg: M): void {
    const idx = this.index(from, to);
    this.stats.sent++;
    if (this.blocked[idx] !== 0) {
      this.drop(from, to, msg, 'partition');
      return;
    }
    const o = this.links[idx];
    const loss = o === undefined || o.loss === undefined ? this.loss : o.loss;
    if (loss > 0 && this.rng.next() < loss) {
      this.drop(from, to, msg, 'loss');
      return;
    }
    const dup = o === undefined || o.duplicate === undefined ? this.duplicate : o.duplicate;
    const epoch = this.epochs[idx]!;
    this.transmit(idx, from, to, msg, epoch, o);
    if (dup > 0 && this.rng.next() < dup) {
      this.stats.duplicated++;
      this.transmit(idx, from, to, msg, epoch, o);
    }
  }

  // ---- configuration ----

  /** Override settings for the directed link from -> to (merged with earlier overrides). */
  setLink(from: number, to: number, config: LinkConfig): void {
    const idx = this.index(from, to);
    if (config.latencyUs !== undefined) checkLatency(config.latencyUs);
    if (config.loss !== undefined) checkP(config.loss, 'loss');
    if (config.duplicate !== undefined) checkP(config.duplicate, 'duplicate');
    if (config.reorder !== undefined) checkP(config.reorder, 'reorder');
    this.links[idx] = { ...this.links[idx], ...config };
  }

  /** Remove the override of one link. */
  clearLink(from: number, to: number): void {
    this.links[this.index(from, to)] = undefined;
  }

  /** Network-wide loss probability (links with their own `loss` keep it). */
  setLoss(p: number): void {
    this.loss = checkP(p, 'loss');
  }

  /** Network-wide duplication probability (links with their own keep it). */
  setDuplicate(p: number): void {
    this.duplicate = checkP(p, 'duplicate');
  }

  /** Network-wide reorder probability and optional maximum extra delay. */
  setReorder(p: number, delayUs?: number): void {
    this.reorder = checkP(p, 'reorder');
    if (delayUs !== undefined) this.reorderDelay = delayUs;
  }

  /** Network-wide latency distribution. */
  setLatency(latencyUs: LatencyDist): void {
    checkLatency(latencyUs);
    this.latMin = latencyUs.min;
    this.latMean = latencyUs.mean;
    this.latMax = latencyUs.max;
  }

  // ---- partitions ----

  /** Cut the directed link from -> to (one-way). In-flight messages on it are dropped. */
  block(from: number, to: number): void {
    const idx = this.index(from, to);
    if (this.blocked[idx] !== 0) return;
    this.blocked[idx] = 1;
    this.epochs[idx] = (this.epochs[idx]! + 1) >>> 0;
    this.blockedCount++;
  }

  /** Restore the directed link from -> to. */
  unblock(from: number, to: number): void {
    const idx = this.index(from, to);
    if (this.blocked[idx] === 0) return;
    this.blocked[idx] = 0;
    this.blockedCount--;
  }

  isBlocked(from: number, to: number): boolean {
    return this.blocked[this.index(from, to)] !== 0;
  }

  /** Two-way partition: no host of sideA can talk to any host of sideB and vice versa. */
  partition(sideA: readonly number[], sideB: readonly number[]): void {
    for (const a of sideA) {
      for (const b of sideB) {
        if (a === b) continue;
        this.block(a, b);
        this.block(b, a);
      }
    }
  }

  /** Cut `host` off from every other host in `hosts`, both ways. */
  isolate(host: number, hosts: readonly number[]): void {
    this.partition([host], hosts);
  }

  /**
   * Partial partition: block exactly the given directed pairs [from, to],
   * e.g. a node that still sees some peers but not others, or a link that
   * works one way only.
   */
  partial(pairs: ReadonlyArray<readonly [number, number]>): void {
    for (const [from, to] of pairs) this.block(from, to);
  }

  /** Remove every block (clogs are kept; see unclogAll). */
  heal(): void {
    if (this.blockedCount === 0) return;
    this.blocked.fill(0);
    this.blockedCount = 0;
  }

  /** Number of directed links currently blocked. */
  blockedLinks(): number {
    return this.blockedCount;
  }

  // ---- clogging ----

  /** Hold messages on the directed link from -> to until unclog. */
  clog(from: number, to: number): void {
    const idx = this.index(from, to);
    if (this.clogged[idx] !== 0) return;
    this.clogged[idx] = 1;
    this.cloggedCount++;
  }

  /**
   * Release the messages held on from -> to. Each gets a fresh latency draw
   * from now, but they stay in the order they were sent (a released message
   * is never delivered before one released ahead of it).
   */
  unclog(from: number, to: number): void {
    const idx = this.index(from, to);
    if (this.clogged[idx] === 0) return;
    this.clogged[idx] = 0;
    this.cloggedCount--;
    const held = this.held[idx];
    if (held === undefined) return;
    this.held[idx] = undefined;
    const o = this.links[idx];
    const now = this.scheduler.now;
    let t = now;
    for (const h of held) {
      const at = now + this.drawDelay(o);
      if (at > t) t = at;
      this.schedule(t, idx, h.from, h.to, h.msg, h.epoch);
    }
  }

  isClogged(from: number, to: number): boolean {
    return this.clogged[this.index(from, to)] !== 0;
  }

  /** Messages currently held on from -> to. */
  heldCount(from: number, to: number): number {
    return this.held[this.index(from, to)]?.length ?? 0;
  }

  /** Unclog every clogged link, in link-index order (deterministic). */
  unclogAll(): void {
    if (this.cloggedCount === 0) return;
    const s = this.stride;
    for (let idx = 0; idx < this.clogged.length; idx++) {
      if (this.clogged[idx] !== 0) this.unclog(Math.floor(idx / s), idx % s);
    }
  }

  // ---- exploration ----

  /** The messages in flight (only with trackInFlight), in send order. */
  inFlight(): InFlight<M>[] {
    return this.inFlightByEvent === null ? [] : [...this.inFlightByEvent.values()];
  }

  /** The message a pending delivery event carries, if it is one (only with trackInFlight). */
  inFlightAt(event: number): InFlight<M> | undefined {
    return this.inFlightByEvent?.get(event);
  }

  /** Loses a message in flight: its delivery never happens. Returns false if it is not in flight. */
  loseInFlight(event: number): boolean {
    const m = this.inFlightByEvent?.get(event);
    if (m === undefined) return false;
    this.inFlightByEvent!.delete(event);
    this.scheduler.cancel(event);
    this.drop(m.from, m.to, m.msg, 'loss');
    return true;
  }

  /** Delivers a message in flight twice: a second delivery event (returned) joins the first. */
  duplicateInFlight(event: number): number | null {
    const m = this.inFlightByEvent?.get(event);
    if (m === undefined) return null;
    this.stats.duplicated++;
    return this.schedule(this.scheduler.now, m.idx, m.from, m.to, m.msg, m.epoch);
  }

  // ---- internals ----

  private index(from: number, to: number): number {
    const m = this.maxHosts;
    if (!(from >= 0 && from <= m && to >= 0 && to <= m) || (from | 0) !== from || (to | 0) !== to) {
      throw new RangeError(`Network: bad link ${from} -> ${to} (hosts are 0..${m})`);
    }
    return from * this.stride + to;
  }

  private transmit(
    idx: number,
    from: number,
    to: number,
    msg: M,
    epoch: number,
    o: LinkConfig | undefined,
  ): void {
    if (this.clogged[idx] !== 0) {
      let q = this.held[idx];
      if (q === undefined) {
        q = [];
        this.held[idx] = q;
      }
      q.push({ from, to, msg, epoch });
      return;
    }
    this.schedule(this.scheduler.now + this.drawDelay(o), idx, from, to, msg, epoch);
  }

  /** A delivery event, owned by the receiver. */
  private schedule(time: number, idx: number, from: number, to: number, msg: M, epoch: number): number {
    const tracked = this.inFlightByEvent;
    if (tracked === null) return this.scheduler.at(time, () => this.arrive(idx, from, to, msg, epoch), 'message', to);
    const event = this.scheduler.at(time, () => {
      tracked.delete(event);
      this.arrive(idx, from, to, msg, epoch);
    }, 'message', to);
    tracked.set(event, { event, from, to, msg, idx, epoch });
    return event;
  }

  private arrive(idx: number, from: number, to: number, msg: M, epoch: number): void {
    if (this.blocked[idx] !== 0 || this.epochs[idx] !== epoch) {
      this.drop(from, to, msg, 'partition');
      return;
    }
    this.stats.delivered++;
    this.deliverFn(from, to, msg);
  }

  private drop(from: number, to: number, msg: M, reason: DropReason): void {
    this.stats.dropped++;
    if (reason === 'loss') this.stats.droppedLoss++;
    else this.stats.droppedPartition++;
    if (this.onDrop !== undefined) this.onDrop(from, to, msg, reason);
  }

  /** One latency draw (integer microseconds), including any reorder delay. */
  private drawDelay(o: LinkConfig | undefined): number {
    let min = this.latMin;
    let mean = this.latMean;
    let max = this.latMax;
    let reorder = this.reorder;
    let reorderDelay = this.reorderDelay;
    if (o !== undefined) {
      const l = o.latencyUs;
      if (l !== undefined) {
        min = l.min;
        mean = l.mean;
        max = l.max;
      }
      if (o.reorder !== undefined) reorder = o.reorder;
      if (o.reorderDelayUs !== undefined) reorderDelay = o.reorderDelayUs;
    }
    let d = mean > min ? min + this.rng.exponential(mean - min) : min;
    if (d > max) d = max;
    if (reorder > 0 && this.rng.next() < reorder) d += this.rng.next() * reorderDelay;
    return Math.round(d);
  }
}

function checkP(p: number, what: string): number {
  if (!(p >= 0 && p <= 1)) throw new RangeError(`Network: ${what} probability ${p} not in [0, 1]`);
  return p;
}

function checkLatency(l: LatencyDist): void {
  if (!(l.min >= 0 && l.mean >= l.min && l.max >= l.mean)) {
    throw new RangeError(`Network: bad latency {min ${l.min}, mean ${l.mean}, max ${l.max}}`);
  }
}
