/**
 * Lowe's just-in-time linearization search over one partition, as Porcupine
 * implements it, made resumable so that a check can share its steps among
 * partitions (see checkLinearizable).
 *
 * Events (calls, and returns of operations with a known outcome) sit in a
 * doubly linked list sorted by time, calls before returns on equal times
 * (equal times count as concurrent). Walking from the head, any call met
 * before the first return is a candidate to linearize next; linearizing one
 * ("lifting") unlinks its call and return and restarts from the head. Meeting
 * a return means the operation returning there must already have been
 * linearized, so the search backtracks (pops, relinks in LIFO order, tries
 * the next candidate).
 *
 * Operations with an unknown outcome have no return event, so they may be
 * linearized any time after their call. Their calls live in a second list and
 * are tried only after the known-outcome candidates (those with a call no
 * later than the first pending return): most of them are irrelevant, and
 * trying them first makes the search wander through their subsets. The
 * search succeeds once every known-outcome operation is linearized; the
 * unknown ones left over are omitted, the "never took effect" case.
 * Candidate order does not affect the verdict, only the time to reach it.
 *
 * Reads (operations the model calls read-only) need no choice: one that is a
 * candidate and legal now can be linearized now. Any linearization that puts
 * it later stays one with it moved here (every operation that returned
 * before its call is linearized already, and it changes no state), so if
 * nothing follows from linearizing it now, nothing follows from here at all
 * and the search backtracks past this level. So each level first looks for
 * such a read, and only then tries the other candidates one by one. A read
 * with an unknown outcome constrains nothing and is left out.
 */
import type { Model, Operation } from './linearizability.js';
import { RankSet, Visited, type VisitedBudget } from './visited.js';

export type SearchStatus = 'linearizable' | 'not-linearizable' | 'running';

/** 32-bit mixer (splitmix-like) giving each rank a Zobrist value. */
function mix32(x: number): number {
  let z = (x + 0x9e3779b9) | 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return z ^ (z >>> 16);
}

export class PartitionSearch<S, I, O> {
  status: SearchStatus = 'running';
  /** Loop iterations so far. */
  steps = 0;
  /** Once not linearizable: the deepest prefix that led nowhere, by index into the partition. */
  prefix: number[] = [];
  /** And the operations that could not follow it (the one whose return forced a choice first). */
  unordered: number[] = [];

  private readonly n: number;
  private readonly finite: Uint8Array;
  private readonly readOnly: Uint8Array;
  /** Known-outcome operations: rank by return; unknown ones: rank by call. */
  private readonly rank: Int32Array;
  private readonly next: Int32Array;
  private readonly prev: Int32Array;
  private readonly head: number;
  private readonly headUnknown: number;
  private readonly known: RankSet;
  private readonly unknown: RankSet;
  private readonly visited: Visited<S>;
  private remaining = 0;
  private hash = 0;
  private state: S;
  private readonly stackOp: number[] = [];
  private readonly stackState: S[] = [];
  /** The first pending return at the level where each operation was chosen. */
  private readonly stackBarrier: number[] = [];
  /** The stack is unchanged below this height since `prefix` was last taken from it. */
  private lowWater = 0;
  /**
   * Where the current level is in its scan: reads in the main list (which
   * also finds `barrier`, the first pending return), then the other calls
   * before `barrier`, then the unknown-outcome calls made no later than it.
   */
  private phase: 0 | 1 | 2 = 0;
  private barrier = -1;
  private entry: number;

  constructor(
    private readonly model: Model<S, I, O>,
    private readonly ops: readonly Operation<I, O>[],
    budget: VisitedBudget,
  ) {
    const n = (this.n = ops.length);
    this.finite = new Uint8Array(n);
    this.readOnly = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      if (ops[i]!.ret !== Infinity) {
        this.finite[i] = 1;
        this.remaining++;
      }
      if (model.readOnly?.(ops[i]!.input)) this.readOnly[i] = 1;
    }
    // Nodes: 0..n-1 are calls of op i, n..2n-1 returns of op i - n; 2n heads
    // the main list (known-outcome calls and returns), 2n+1 the list of
    // unknown-outcome calls.
    this.head = 2 * n;
    this.headUnknown = 2 * n + 1;
    this.next = new Int32Array(2 * n + 2).fill(-1);
    this.prev = new Int32Array(2 * n + 2).fill(-1);
    // Events sorted by time, calls before returns on equal times, then by
    // node (so the order does not depend on the sort algorithm); times are
    // read from an array rather than through the operations.
    const time = new Float64Array(2 * n);
    let nEvents = 0;
    let nUnknown = 0;
    for (let i = 0; i < n; i++) {
      time[i] = ops[i]!.call;
      if (this.finite[i]) {
        time[n + i] = ops[i]!.ret;
        nEvents += 2;
      } else if (!this.readOnly[i]) nUnknown++;
    }
    const events = new Int32Array(nEvents);
    const unknownCalls = new Int32Array(nUnknown);
    for (let i = 0, e = 0, u = 0; i < n; i++) {
      if (this.finite[i]) {
        events[e++] = i;
        events[e++] = n + i;
      } else if (!this.readOnly[i]) unknownCalls[u++] = i;
    }
    const byTime = (a: number, b: number): number => time[a]! - time[b]! || (a < n ? 0 : 1) - (b < n ? 0 : 1) || a - b;
    events.sort(byTime);
    unknownCalls.sort(byTime);
    this.chain(this.head, events);
    this.chain(this.headUnknown, unknownCalls);

    this.rank = new Int32Array(n);
    let nk = 0;
    for (const e of events) if (e >= n) this.rank[e - n] = nk++;
    unknownCalls.forEach((i, r) => (this.rank[i] = r));
    this.known = new RankSet(nk);
    this.unknown = new RankSet(unknownCalls.length);

    const eq = model.equal ?? ((a: S, b: S) => a === b);
    this.visited = new Visited<S>(eq, budget, this.remaining + 1);
    this.state = model.init();
    this.entry = this.next[this.head]!;
    // The start needs no entry among the visited: the search never comes back to it.
    if (this.remaining === 0) this.finish('linearizable');
  }

  /** Runs up to `budget` more steps; the status says whether it is decided. */
  run(budget: number): SearchStatus {
    const { n, ops, next, readOnly } = this;
    for (let left = budget; left > 0 && this.status === 'running'; left--) {
      this.steps++;
      const e = this.entry;
      if (this.phase === 0) {
        if (e >= n) {
          this.barrier = e;
          this.phase = 1;
          this.entry = next[this.head]!;
        } else if (e === -1) {
          // Cannot happen while a known-outcome operation remains: its return
          // event would have been met first. Guard against a broken invariant.
          throw new Error('linearizability search ran off the event list');
        } else if (readOnly[e] === 0 || !this.tryCandidate(e)) {
          this.entry = next[e]!;
        }
      } else if (this.phase === 1) {
        // Before the barrier every event is a call (the barrier is the first return).
        if (e === this.barrier) {
          this.phase = 2;
          this.entry = next[this.headUnknown]!;
        } else if (readOnly[e] === 1 || !this.tryCandidate(e)) {
          this.entry = next[e]!;
        }
      } else if (e !== -1 && ops[e]!.call <= ops[this.barrier - n]!.ret) {
        if (!this.tryCandidate(e)) this.entry = next[e]!;
      } else {
        this.recordDeadEnd();
        this.backtrack();
      }
    }
    return this.status;
  }

  /**
   * Steps operation i from the current state and, if legal and new, makes it
   * the next in the linearization. False if the scan should move on to the
   * next candidate; true if the search moved (deeper, or back for a read).
   */
  private tryCandidate(i: number): boolean {
    const op = this.ops[i]!;
    const [legal, after] = this.model.step(this.state, op.input, this.finite[i] ? op.output : undefined);
    if (!legal) return false;
    if (this.lift(i, after)) return true;
    if (this.readOnly[i] === 0) return false;
    this.backtrack(); // explored with this read already: nothing follows from here
    return true;
  }

  /** Frees the visited configurations (the search cannot go on after). */
  release(): void {
    this.visited.release();
  }

  private chain(h: number, list: Iterable<number>): void {
    let last = h;
    for (const e of list) {
      this.next[last] = e;
      this.prev[e] = last;
      last = e;
    }
  }

  private keyHash(state: S): number {
    const h = this.model.hash;
    return h === undefined ? this.hash : this.hash ^ Math.imul(h(state) | 0, 0x9e3779b1);
  }

  /** Linearizes operation i next, unless that configuration was explored already. */
  private lift(i: number, after: S): boolean {
    const r = this.rank[i]!;
    const isKnown = this.finite[i] === 1;
    if (isKnown && this.remaining === 1) {
      this.finish('linearizable');
      return true;
    }
    if (isKnown) {
      this.known.add(r);
      this.hash ^= mix32(r);
    } else this.unknown.add(r);
    if (!this.visited.add(this.known, this.unknown, this.keyHash(after), after)) {
      this.unmark(i);
      return false;
    }
    this.stackOp.push(i);
    this.stackState.push(this.state);
    this.stackBarrier.push(this.barrier);
    this.state = after;
    this.unlink(i);
    if (isKnown) {
      this.unlink(this.n + i);
      this.remaining--;
    }
    this.phase = 0;
    this.barrier = -1;
    this.entry = this.next[this.head]!;
    return true;
  }

  private unmark(i: number): void {
    const r = this.rank[i]!;
    if (this.finite[i] === 1) {
      this.known.remove(r);
      this.hash ^= mix32(r);
    } else this.unknown.remove(r);
  }

  /**
   * Every candidate failed: the operation returning at `barrier` cannot be
   * linearized in time after the current prefix. Remember the deepest such
   * dead end for the report: the stack as it is, and what could not follow.
   */
  private recordDeadEnd(): void {
    const { n, ops, next, stackOp, prefix } = this;
    if (stackOp.length <= prefix.length && this.unordered.length > 0) return;
    // Copy only what changed since the last copy: a full copy at each deeper
    // dead end would make long histories quadratic.
    prefix.length = Math.min(this.lowWater, prefix.length);
    for (let j = prefix.length; j < stackOp.length; j++) prefix.push(stackOp[j]!);
    this.lowWater = stackOp.length;
    const barrier = this.barrier;
    const stuck: number[] = [barrier - n];
    for (let e = next[this.head]!; e !== barrier && e !== -1; e = next[e]!) if (e < n && e !== barrier - n) stuck.push(e);
    const limit = ops[barrier - n]!.ret;
    for (let e = next[this.headUnknown]!; e !== -1 && ops[e]!.call <= limit; e = next[e]!) stuck.push(e);
    this.unordered = stuck;
  }

  /**
   * Undoes the latest choice and moves on to the next candidate at its
   * level; a read was no choice (see above), so its level fails as well.
   */
  private backtrack(): void {
    const { n, next } = this;
    for (;;) {
      if (this.stackOp.length === 0) {
        this.finish('not-linearizable');
        return;
      }
      const i = this.stackOp.pop()!;
      this.lowWater = Math.min(this.lowWater, this.stackOp.length);
      this.state = this.stackState.pop()!;
      this.barrier = this.stackBarrier.pop()!;
      this.unmark(i);
      if (this.finite[i] === 1) {
        this.relink(n + i);
        this.remaining++;
      }
      this.relink(i);
      this.entry = next[i]!;
      this.phase = this.finite[i] === 1 ? 1 : 2;
      if (this.readOnly[i] === 0) return;
    }
  }

  private finish(status: Exclude<SearchStatus, 'running'>): void {
    this.status = status;
    this.release();
  }

  // Unlinking and relinking a call and its return; relinking must undo
  // unlinks in reverse order (dancing links), which the stack guarantees.
  private unlink(e: number): void {
    const p = this.prev[e]!;
    const q = this.next[e]!;
    this.next[p] = q;
    if (q !== -1) this.prev[q] = p;
  }

  private relink(e: number): void {
    const p = this.prev[e]!;
    const q = this.next[e]!;
    this.next[p] = e;
    if (q !== -1) this.prev[q] = e;
  }
}
