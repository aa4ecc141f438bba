// Data races and what a data-race-free program may read, over a recorded
// history of memory accesses and synchronisation (both worlds can record one).
//
// Happens-before is program order plus the synchronisation order: a lock's
// release before its next acquire, every arrival at a barrier episode before
// every departure from it. It is tracked with a vector clock per thread, per
// lock and per barrier episode (Lamport; Fidge and Mattern). Two accesses to
// one word race if at least one writes, they come from different threads and
// neither happens before the other: an application bug, reported with both.
//
// For a program without races the memory model promises sequential
// consistency (Adve and Hill's DRF-SC): a read returns the last write to its
// word in happens-before order (all writes to a race-free word are ordered).
// A read that returns anything else is the memory's bug, not the program's.
//
// A thread stopped in the middle (its host crashed, or its lock's lease ran
// out) leaves writes made since its last release that nobody was promised:
// another host may or may not see them. They are indeterminate: a read may
// return one of them or the last determinate write, and they race with nothing
// (nor do its reads since then). A release counts as done only once the thread
// goes on past it: one the thread was lost in may never have completed. A
// deferred release (a lock that stays on its host, which publishes it only when
// the lock leaves) counts as done only at a later `settle` of the thread. Once
// a read has returned an indeterminate write, though, it happened: a read that
// happens after that read returns it or a later write, never what came before
// it (coherence: no host may see a write that another, told of more, does not).
import { vtGet, vtMax, vtSet, type VectorTime } from '../../vmm/release/vector-time.js';

interface Who {
  host: number;
  thread: number;
  /** When it happened (the simulator's true time, microseconds). */
  at: number;
}

export type HistoryEvent =
  | (Who & { kind: 'read' | 'write'; addr: number; value: number })
  /** An atomic read-modify-write (fetch-and-add): read `old`, wrote `value`. */
  | (Who & { kind: 'update'; addr: number; old: number; value: number })
  /** Synchronisation: `obj` names the lock ("lock:7") or barrier episode ("barrier:3:0"). */
  | (Who & { kind: 'acquire' | 'release' | 'arrive' | 'depart'; obj: string; deferred?: boolean })
  /** The thread's deferred releases up to `upTo` are published: what it did until then can no longer turn indeterminate. */
  | { kind: 'settle'; thread: number; upTo: number }
  /** A block handed out by malloc: its words hold no promised value until written. */
  | { kind: 'fresh'; addr: number; bytes: number; at: number }
  /** The thread stopped before its next release: its writes since its last one are indeterminate. */
  | { kind: 'lost'; thread: number; at: number };

export type Access = Who & { kind: 'read' | 'write' | 'update'; addr: number; value: number };

export interface Race {
  addr: number;
  first: Access;
  second: Access;
}

export interface StaleRead {
  read: Access;
  /** The values a sequentially consistent execution with this synchronisation order allows. */
  allowed: number[];
  /** The last write in happens-before order, if any (null: the word's initial contents). */
  lastWrite: Access | null;
}

interface WriteRec {
  access: Access;
  /** The writer's own clock entry at the write. */
  clock: number;
  indeterminate: boolean;
  /** The write before it to the word (kept while this one may still turn indeterminate). */
  prior: WriteRec | null;
}

interface Cell {
  /** The latest write; with its priors, back to the last determinate one. */
  last: WriteRec | null;
  /** Indeterminate writes concurrent with later ones: their host may still publish them. */
  late: WriteRec[];
  /** The word's value before its first write: 0 at genesis, unknown (null) in a fresh malloc block. */
  initial: number | null;
  /** The last read by each thread since the last write. */
  reads: Map<number, { access: Access; clock: number }>;
  /** An indeterminate write a read returned (the newest such): reads after that read see it or later. */
  seen: { write: WriteRec; reader: number; clock: number } | null;
  racy: boolean;
}

function newCell(initial: number | null): Cell {
  return { last: null, late: [], initial, reads: new Map(), seen: null, racy: false };
}

/** The writes of `maybe` but `w` and those before it in the word's chain: what may still be read after a read returned `w`. */
function notBefore(maybe: WriteRec[], w: WriteRec): WriteRec[] {
  const older = new Set<WriteRec>();
  for (let x = w.prior; x !== null; x = x.prior) older.add(x);
  return maybe.filter((x) => x !== w && !older.has(x));
}

/** The last determinate write, and the indeterminate ones after it. */
function settled(c: Cell): { write: WriteRec | null; maybe: WriteRec[] } {
  const maybe: WriteRec[] = [...c.late];
  let w = c.last;
  while (w !== null && w.indeterminate) {
    maybe.push(w);
    w = w.prior;
  }
  return { write: w, maybe };
}

export interface RaceReport {
  races: Race[];
  staleReads: StaleRead[];
  reads: number;
  writes: number;
}

/** Checks a history given in the order things happened. `limit`: stop collecting after so many findings of each kind. */
export class RaceChecker {
  private clocks = new Map<number, VectorTime>();
  private syncClocks = new Map<string, VectorTime>();
  private cells = new Map<number, Cell>();
  /** Per thread, the writes since its last release (they become indeterminate if it is lost). */
  private unreleased = new Map<number, WriteRec[]>();
  /** Per thread, its reads since its last release: [address, the read as recorded]. */
  private unreleasedReads = new Map<number, [number, { access: Access; clock: number }][]>();
  /** Threads in a release they have not gone past yet. */
  private releasing = new Set<number>();
  readonly report: RaceReport = { races: [], staleReads: [], reads: 0, writes: 0 };

  constructor(private readonly limit = 20) {}

  private clockOf(thread: number): VectorTime {
    let c = this.clocks.get(thread);
    if (c === undefined) this.clocks.set(thread, (c = { [thread]: 1 }));
    return c;
  }

  private tick(thread: number): void {
    const c = this.clockOf(thread);
    this.clocks.set(thread, vtSet(c, thread, vtGet(c, thread) + 1));
  }

  private cell(addr: number): Cell {
    let c = this.cells.get(addr);
    if (c === undefined) this.cells.set(addr, (c = newCell(0)));
    return c;
  }

  event(e: HistoryEvent): void {
    // The thread goes on: its release before this is done, and what it did before is settled.
    if (e.kind !== 'fresh' && e.kind !== 'lost' && e.kind !== 'settle' && this.releasing.delete(e.thread)) this.settle(e.thread, Infinity);
    switch (e.kind) {
      case 'read':
        this.read(e, e.value);
        return;
      case 'write':
        this.write(e);
        return;
      case 'update':
        this.read({ ...e, kind: 'update', value: e.old }, e.old);
        this.write({ ...e, kind: 'update' });
        return;
      case 'release':
      case 'arrive': {
        const c = this.clockOf(e.thread);
        const prior = this.syncClocks.get(e.obj);
        // A lock holds the last releaser's time; a barrier episode gathers every arrival's.
        this.syncClocks.set(e.obj, e.kind === 'arrive' && prior !== undefined ? vtMax(prior, c) : c);
        this.tick(e.thread);
        if (e.deferred !== true) this.releasing.add(e.thread);
        return;
      }
      case 'acquire':
      case 'depart': {
        const s = this.syncClocks.get(e.obj);
        if (s !== undefined) this.clocks.set(e.thread, vtMax(this.clockOf(e.thread), s));
        return;
      }
      case 'settle':
        this.settle(e.thread, e.upTo);
        return;
      case 'fresh':
        for (let a = e.addr; a < e.addr + e.bytes; a += 4) this.cells.set(a, newCell(null));
        return;
      case 'lost':
        this.releasing.delete(e.thread);
        for (const w of this.unreleased.get(e.thread) ?? []) w.indeterminate = true;
        for (const [addr, r] of this.unreleasedReads.get(e.thread) ?? []) {
          const c = this.cells.get(addr);
          if (c?.reads.get(e.thread) === r) c.reads.delete(e.thread);
        }
        this.unreleased.delete(e.thread);
        this.unreleasedReads.delete(e.thread);
        return;
    }
  }

  /** The thread's release completed: its writes and reads until `upTo` can no longer turn indeterminate. */
  private settle(thread: number, upTo: number): void {
    const writes = (this.unreleased.get(thread) ?? []).filter((w) => {
      if (w.access.at > upTo) return true;
      w.prior = null;
      return false;
    });
    const reads = (this.unreleasedReads.get(thread) ?? []).filter(([, r]) => r.access.at > upTo);
    if (writes.length > 0) this.unreleased.set(thread, writes);
    else this.unreleased.delete(thread);
    if (reads.length > 0) this.unreleasedReads.set(thread, reads);
    else this.unreleasedReads.delete(thread);
  }

  /** `w` happens before the current point of `thread`. */
  private before(writer: number, clock: number, thread: number): boolean {
    return writer === thread || clock <= vtGet(this.clockOf(thread), writer);
  }

  private race(addr: number, first: Access, second: Access, c: Cell): void {
    c.racy = true;
    if (this.report.races.length < this.limit) this.report.races.push({ addr, first, second });
  }

  private read(a: Access, value: number): void {
    this.report.reads++;
    const c = this.cell(a.addr);
    const { write, maybe } = settled(c);
    if (write !== null && !c.racy && !this.before(write.access.thread, write.clock, a.thread)) this.race(a.addr, write.access, a, c);
    const rec = { access: a, clock: vtGet(this.clockOf(a.thread), a.thread) };
    c.reads.set(a.thread, rec);
    let mine = this.unreleasedReads.get(a.thread);
    if (mine === undefined) this.unreleasedReads.set(a.thread, (mine = []));
    mine.push([a.addr, rec]);
    if (c.racy) return;
    // After a read that returned an indeterminate write: that write or the ones after it, not older ones.
    const seen = c.seen !== null && this.before(c.seen.reader, c.seen.clock, a.thread) ? c.seen.write : null;
    const candidates = seen === null ? maybe : notBefore(maybe, seen);
    const allowed = new Set<number>(candidates.map((w) => w.access.value));
    if (seen !== null) allowed.add(seen.access.value);
    else if (write !== null) allowed.add(write.access.value);
    else if (c.initial !== null) allowed.add(c.initial);
    else return; // nothing promised yet: a fresh block read before any write
    if (!allowed.has(value)) {
      if (this.report.staleReads.length < this.limit) {
        this.report.staleReads.push({ read: { ...a, value }, allowed: [...allowed], lastWrite: seen?.access ?? write?.access ?? null });
      }
      return;
    }
    // An indeterminate write read here (the determinate one's value is not told apart): it happened.
    const returned = value === (seen ?? write)?.access.value ? null : candidates.find((w) => w.access.value === value);
    if (returned !== undefined && returned !== null) c.seen = { write: returned, reader: a.thread, clock: rec.clock };
  }

  private write(a: Access): void {
    this.report.writes++;
    const c = this.cell(a.addr);
    if (!c.racy) {
      const { write } = settled(c);
      if (write !== null && !this.before(write.access.thread, write.clock, a.thread)) this.race(a.addr, write.access, a, c);
      else {
        for (const [t, r] of c.reads) {
          if (!this.before(t, r.clock, a.thread)) {
            this.race(a.addr, r.access, a, c);
            break;
          }
        }
      }
    }
    // An indeterminate write this one does not follow may still land after it (its host published it late),
    // unless a read this write follows returned it: it landed before.
    const { maybe } = settled(c);
    const landed = c.seen !== null && this.before(c.seen.reader, c.seen.clock, a.thread) ? c.seen.write : null;
    c.late = maybe.filter((x) => x !== landed && !this.before(x.access.thread, x.clock, a.thread));
    c.seen = null;
    const rec: WriteRec = { access: a, clock: vtGet(this.clockOf(a.thread), a.thread), indeterminate: false, prior: c.last };
    c.last = rec;
    c.reads.clear();
    let mine = this.unreleased.get(a.thread);
    if (mine === undefined) this.unreleased.set(a.thread, (mine = []));
    mine.push(rec);
  }
}

/** Checks a whole history. */
export function checkRaces(history: Iterable<HistoryEvent>, limit = 20): RaceReport {
  const c = new RaceChecker(limit);
  for (const e of history) c.event(e);
  return c.report;
}

export function describeAccess(a: Access): string {
  return `${a.kind} of ${a.value} at address ${a.addr} by thread ${a.thread} on host ${a.host} at ${(a.at / 1e6).toFixed(6)} s`;
}

export function describeRace(r: Race): string {
  return `data race (an application bug) on address ${r.addr}: ${describeAccess(r.first)} and ${describeAccess(r.second)}, neither happens before the other`;
}

export function describeStaleRead(s: StaleRead): string {
  const last = s.lastWrite === null ? 'the initial contents' : `the last write before it (${describeAccess(s.lastWrite)})`;
  return `${describeAccess(s.read)} in a data-race-free run, where sequential consistency allows only ${s.allowed.join(' or ')}: ${last}`;
}
