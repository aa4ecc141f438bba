// The discrete-event scheduler: virtual time in integer microseconds.
//
// Events are kept in a binary min-heap ordered by (time, insertion sequence),
// so two events at the same time run in the order they were scheduled. The
// heap is three parallel typed arrays (time, sequence, slot); the callback
// lives in a slot table indexed by slot, and slots are recycled through a
// free list, so scheduling allocates nothing beyond the caller's closure.
//
// Cancellation is lazy: cancel() clears the slot's callback and the heap
// entry is discarded when it reaches the top.
//
// An event id encodes (slot, generation): id = generation * MAX_SLOTS + slot.
// Ids are unique within a scheduler and deterministic, but not ordered;
// cancelling an id whose event already ran or was cancelled is a no-op.
//
// Every event also records its kind (a timer, a message delivery, a disk
// completion, a tick) and its owner (the host or client it runs for: given,
// or inherited from the event that scheduled it). Time order ignores both;
// systematic exploration (src/sim/explore) reads them to decide which events
// may run in which order, and runs the one it picks with runEvent().

const MAX_SLOTS = 1 << 22; // max events pending at once (about 4 million)
const MAX_TIME = Number.MAX_SAFE_INTEGER;

/**
 * What an event stands for. A timer fires once some time has passed (it
 * measures time); the others are asynchronous work whose delay is arbitrary
 * (a delivery, a disk completion) or does not matter to safety (Raft's ticks).
 */
export type EventKind = 'timer' | 'message' | 'disk' | 'tick';
const KIND_CODES: Readonly<Record<EventKind, number>> = { timer: 0, message: 1, disk: 2, tick: 3 };
const KINDS: readonly EventKind[] = ['timer', 'message', 'disk', 'tick'];

/** A pending event as exploration sees it. */
export interface PendingEvent {
  readonly id: number;
  readonly time: number;
  /** Insertion sequence: unique and deterministic, so a stable name for the event. */
  readonly seq: number;
  readonly kind: EventKind;
  readonly owner: number;
}

export class Scheduler {
  /** Current virtual time, integer microseconds. */
  now = 0;
  /** Number of events run so far (cancelled events are not counted). */
  eventsRun = 0;
  /** The owner of the event running now (0 outside events, unless set by withOwner). */
  owner = 0;

  // Heap, parallel arrays, size `size`.
  private hTime: Float64Array;
  private hSeq: Float64Array;
  private hSlot: Int32Array;
  private size = 0;
  private seq = 0;

  // Slot table.
  private fns: Array<(() => void) | null>;
  private gens: Float64Array;
  private kinds: Uint8Array;
  private owners: Int32Array;
  private free: Int32Array;
  private freeTop = 0;
  private slotCount = 0;
  private live = 0;

  constructor(initialCapacity = 1024) {
    const cap = Math.max(16, initialCapacity | 0);
    this.hTime = new Float64Array(cap);
    this.hSeq = new Float64Array(cap);
    this.hSlot = new Int32Array(cap);
    this.fns = new Array<(() => void) | null>(cap).fill(null);
    this.gens = new Float64Array(cap);
    this.kinds = new Uint8Array(cap);
    this.owners = new Int32Array(cap);
    this.free = new Int32Array(cap);
  }

  /**
   * Schedule fn at absolute virtual time `time` (microseconds). Non-integer
   * times are rounded; times in the past are clamped to now. The owner
   * defaults to the running event's. Returns the event id.
   */
  at(time: number, fn: () => void, kind: EventKind = 'timer', owner: number = this.owner): number {
    let t = Math.round(time);
    if (t < this.now) t = this.now;
    else if (!(t <= MAX_TIME)) throw new RangeError(`Scheduler.at: bad time ${time}`);
    return this.push(t, fn, KIND_CODES[kind], owner);
  }

  /** Schedule fn `delayUs` microseconds from now (negative delays clamp to 0). */
  after(delayUs: number, fn: () => void, kind: EventKind = 'timer', owner: number = this.owner): number {
    return this.at(this.now + delayUs, fn, kind, owner);
  }

  /** Runs fn as if inside an event of `owner`, so what it schedules is owned by it. */
  withOwner(owner: number, fn: () => void): void {
    const outer = this.owner;
    this.owner = owner;
    try {
      fn();
    } finally {
      this.owner = outer;
    }
  }

  /** Cancel a pending event; a no-op if it already ran or was cancelled. */
  cancel(id: number): void {
    const gen = Math.floor(id / MAX_SLOTS);
    const slot = id - gen * MAX_SLOTS;
    if (slot < 0 || slot >= this.slotCount) return;
    if (this.gens[slot] !== gen || this.fns[slot] === null) return;
    this.fns[slot] = null;
    this.live--;
  }

  /** Run the next event. Returns false if there is none. */
  step(): boolean {
    while (this.size > 0) if (this.runTop()) return true;
    return false;
  }

  /**
   * Run events with time <= timeUs in order, calling stop() after each and
   * returning early if it says true (now is then the time of the last event
   * run). If the queue runs out of such events, now is set to timeUs (if
   * timeUs is later than now and finite; runUntil(Infinity) drains the queue).
   */
  runUntil(timeUs: number, stop?: () => boolean): void {
    // Re-read the arrays each round: a callback may have grown them.
    while (this.size > 0 && this.hTime[0]! <= timeUs) {
      if (this.runTop() && stop !== undefined && stop()) return;
    }
    if (timeUs > this.now && timeUs <= MAX_TIME) this.now = Math.floor(timeUs);
  }

  /** Pops the earliest event and runs it; false if it had been cancelled. */
  private runTop(): boolean {
    const slot = this.hSlot[0]!;
    const time = this.hTime[0]!;
    this.popTop();
    const fn = this.fns[slot];
    const owner = this.owners[slot]!;
    this.releaseSlot(slot);
    if (fn === null) return false;
    this.live--;
    this.now = time;
    this.eventsRun++;
    // Not reset in a finally: an event that throws ends the run.
    this.owner = owner;
    fn();
    this.owner = 0;
    return true;
  }

  // ---- exploration: any pending event, in any order ----

  /** The live events, in time order (ties in insertion order). */
  pendingEvents(): PendingEvent[] {
    const out: PendingEvent[] = [];
    for (let i = 0; i < this.size; i++) {
      const slot = this.hSlot[i]!;
      if (this.fns[slot] === null) continue;
      out.push({
        id: this.gens[slot]! * MAX_SLOTS + slot,
        time: this.hTime[i]!,
        seq: this.hSeq[i]!,
        kind: KINDS[this.kinds[slot]!]!,
        owner: this.owners[slot]!,
      });
    }
    return out.sort((a, b) => a.time - b.time || a.seq - b.seq);
  }

  /**
   * Runs a pending event now, out of time order, with the clock at `atUs`
   * (never moved back). Its heap entry stays behind, dead, as a cancelled
   * event's does. Returns false if the id is not pending.
   */
  runEvent(id: number, atUs: number): boolean {
    const gen = Math.floor(id / MAX_SLOTS);
    const slot = id - gen * MAX_SLOTS;
    if (slot < 0 || slot >= this.slotCount || this.gens[slot] !== gen) return false;
    const fn = this.fns[slot];
    if (fn === null || fn === undefined) return false;
    this.fns[slot] = null;
    this.live--;
    if (atUs > this.now) this.now = Math.floor(atUs);
    this.eventsRun++;
    const outer = this.owner;
    this.owner = this.owners[slot]!;
    try {
      fn();
    } finally {
      this.owner = outer;
    }
    return true;
  }

  /** Number of scheduled events that are not cancelled and have not run. */
  pending(): number {
    return this.live;
  }

  /** Time of the next live event, or null if none. */
  peekTime(): number | null {
    while (this.size > 0) {
      const slot = this.hSlot[0]!;
      if (this.fns[slot] !== null) return this.hTime[0]!;
      this.popTop();
      this.releaseSlot(slot);
    }
    return null;
  }

  // ---- internals ----

  private push(t: number, fn: () => void, kind: number, owner: number): number {
    // Allocate a slot.
    let slot: number;
    if (this.freeTop > 0) {
      slot = this.free[--this.freeTop]!;
    } else {
      slot = this.slotCount;
      if (slot >= this.fns.length) this.growSlots();
      this.slotCount++;
    }
    this.fns[slot] = fn;
    this.kinds[slot] = kind;
    this.owners[slot] = owner;
    this.live++;
    const id = this.gens[slot]! * MAX_SLOTS + slot;

    // Sift up.
    if (this.size === this.hTime.length) this.growHeap();
    const hTime = this.hTime;
    const hSeq = this.hSeq;
    const hSlot = this.hSlot;
    const s = this.seq++;
    let i = this.size++;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const pt = hTime[p]!;
      if (pt < t || (pt === t && hSeq[p]! < s)) break;
      hTime[i] = pt;
      hSeq[i] = hSeq[p]!;
      hSlot[i] = hSlot[p]!;
      i = p;
    }
    hTime[i] = t;
    hSeq[i] = s;
    hSlot[i] = slot;
    return id;
  }

  /** Remove the heap's top entry (does not touch the slot). */
  private popTop(): void {
    const n = --this.size;
    if (n === 0) return;
    const hTime = this.hTime;
    const hSeq = this.hSeq;
    const hSlot = this.hSlot;
    // Move the last entry down from the root.
    const t = hTime[n]!;
    const s = hSeq[n]!;
    const sl = hSlot[n]!;
    let i = 0;
    const half = n >> 1;
    while (i < half) {
      let c = 2 * i + 1;
      let ct = hTime[c]!;
      let cs = hSeq[c]!;
      const r = c + 1;
      if (r < n) {
        const rt = hTime[r]!;
        if (rt < ct || (rt === ct && hSeq[r]! < cs)) {
          c = r;
          ct = rt;
          cs = hSeq[r]!;
        }
      }
      if (t < ct || (t === ct && s < cs)) break;
      hTime[i] = ct;
      hSeq[i] = cs;
      hSlot[i] = hSlot[c]!;
      i = c;
    }
    hTime[i] = t;
    hSeq[i] = s;
    hSlot[i] = sl;
  }

  private releaseSlot(slot: number): void {
    this.fns[slot] = null;
    this.gens[slot] += 1;
    this.free[this.freeTop++] = slot;
  }

  private growHeap(): void {
    const cap = this.hTime.length * 2;
    const t = new Float64Array(cap);
    t.set(this.hTime);
    this.hTime = t;
    const s = new Float64Array(cap);
    s.set(this.hSeq);
    this.hSeq = s;
    const sl = new Int32Array(cap);
    sl.set(this.hSlot);
    this.hSlot = sl;
  }

  private growSlots(): void {
    const old = this.fns.length;
    if (old >= MAX_SLOTS) throw new RangeError('Scheduler: too many pending events');
    const cap = Math.min(old * 2, MAX_SLOTS);
    for (let i = old; i < cap; i++) this.fns.push(null);
    const g = new Float64Array(cap);
    g.set(this.gens);
    this.gens = g;
    const k = new Uint8Array(cap);
    k.set(this.kinds);
    this.kinds = k;
    const o = new Int32Array(cap);
    o.set(this.owners);
    this.owners = o;
    const f = new Int32Array(cap);
    f.set(this.free);
    this.free = f;
  }
}
