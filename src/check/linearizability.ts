/**
 * Linearizability checker, after Porcupine (Anish Athalye) and the
 * Wing & Gong / Lowe "just-in-time linearization" search it implements.
 *
 * The whole interface is a sequential model (`init`, `step`, optional
 * `equal`/`key` for memoizing states, optional `partition` to split a history
 * into independent parts) and a history of operations with call and return
 * times. The checker is pure and synchronous: no clocks, no randomness, no
 * I/O, so it can run inside the simulator and its verdict is reproducible.
 * Instead of a wall-clock timeout it takes a step budget (`maxSteps`) and
 * answers `unknown` when the budget runs out.
 */

/** One operation of a history. Times are logical (any monotone numbering). */
export interface Operation<I, O> {
  /** Who issued it (informational: the checker orders by times only). */
  readonly client: number;
  readonly input: I;
  /**
   * What it returned. Ignored (the model is given `undefined`) when
   * `ret === Infinity`, because then the outcome is unknown.
   */
  readonly output: O;
  readonly call: number;
  /**
   * Return time, or `Infinity` when the outcome is unknown (Jepsen's :info,
   * or still pending at the end of the history): such an operation may take
   * effect at any moment after `call`, or never.
   */
  readonly ret: number;
}

/**
 * A sequential specification. `step` says whether `input` may produce
 * `output` in `state`, and the state after it. `output` is `undefined` for an
 * operation whose outcome is unknown; the model should then accept any
 * outcome that the input could have had in that state.
 */
export interface Model<S, I, O> {
  init(): S;
  step(state: S, input: I, output: O | undefined): [boolean, S];
  /** State equality for memoization; defaults to `===`. */
  equal?(a: S, b: S): boolean;
  /**
   * A string that identifies the state (equal states, equal keys). Preferred
   * over `equal`: it lets the cache be one hash lookup.
   */
  key?(state: S): string;
  /** Split into independent sub-histories (e.g. by key); order is kept. */
  partition?(history: readonly Operation<I, O>[]): Operation<I, O>[][];
  /**
   * Optional cheap, sound pre-pass over one partition: returns operations
   * that together cannot be linearized (a witness), or undefined if it found
   * nothing. It must never flag a linearizable history; the search decides
   * everything it does not flag.
   */
  precheck?(history: readonly Operation<I, O>[]): Operation<I, O>[] | undefined;
  /** Words for one operation in reports; `output` is undefined when unknown. */
  describeOperation?(input: I, output: O | undefined): string;
}

/** The model's words for an operation (JSON when it has none); an unknown outcome is not shown. */
export function describeOperation<S, I, O>(model: Model<S, I, O>, op: Operation<I, O>): string {
  const output = op.ret === Infinity ? undefined : op.output;
  if (model.describeOperation) return model.describeOperation(op.input, output);
  return `${JSON.stringify(op.input)} -> ${output === undefined ? '?' : JSON.stringify(output)}`;
}

export interface CheckOptions {
  /** Search steps allowed over all partitions; verdict `unknown` beyond it. */
  readonly maxSteps?: number;
  /** Skip the model's precheck (to test the search on its own). */
  readonly noPrecheck?: boolean;
}

export type Verdict = 'linearizable' | 'not-linearizable' | 'unknown';

export interface CheckResult<I, O> {
  /** True only when the history was proven linearizable. */
  readonly ok: boolean;
  readonly verdict: Verdict;
  readonly partitions: number;
  /** Index (in `partition()` order) of the first partition that failed. */
  readonly failedPartition?: number;
  /**
   * For a violation: the longest linearizable prefix the search found, in
   * linearization order. Empty when the precheck found the violation.
   */
  readonly linearizedPrefix?: Operation<I, O>[];
  /**
   * For a violation: the operations that could not be placed next after
   * `linearizedPrefix` (the first is the one whose return forced a choice;
   * the rest were the concurrent candidates, none of which led anywhere).
   * From the precheck: the witness operations.
   */
  readonly unordered?: Operation<I, O>[];
  /** Search steps used (all partitions). */
  readonly steps: number;
}

/**
 * Check a history against a model. Exact (a complete search with
 * memoization), partition by partition; stops at the first failing one.
 */
export function checkLinearizable<S, I, O>(
  model: Model<S, I, O>,
  history: readonly Operation<I, O>[],
  options: CheckOptions = {},
): CheckResult<I, O> {
  for (const op of history) {
    if (!(op.call <= op.ret) || Number.isNaN(op.call)) {
      throw new Error(`operation of client ${op.client} has call ${op.call} after return ${op.ret}`);
    }
  }
  const parts = model.partition ? model.partition(history) : [history.slice()];
  let budget = options.maxSteps ?? Infinity;
  let steps = 0;
  let unknown = false;
  for (let p = 0; p < parts.length; p++) {
    const part = parts[p]!;
    if (model.precheck && !options.noPrecheck) {
      const witness = model.precheck(part);
      if (witness) {
        return { ok: false, verdict: 'not-linearizable', partitions: parts.length, failedPartition: p, linearizedPrefix: [], unordered: witness, steps };
      }
    }
    const r = searchPartition(model, part, budget);
    steps += r.steps;
    budget -= r.steps;
    if (r.kind === 'fail') {
      return {
        ok: false,
        verdict: 'not-linearizable',
        partitions: parts.length,
        failedPartition: p,
        linearizedPrefix: r.prefix.map((i) => part[i]!),
        unordered: r.unordered.map((i) => part[i]!),
        steps,
      };
    }
    if (r.kind === 'unknown') {
      // Keep going: a later partition may still prove a violation, which is
      // a definite answer even though this one ran out of budget.
      unknown = true;
      budget = Math.max(budget, 0);
    }
  }
  return unknown
    ? { ok: false, verdict: 'unknown', partitions: parts.length, steps }
    : { ok: true, verdict: 'linearizable', partitions: parts.length, steps };
}

type SearchOutcome =
  | { kind: 'ok'; steps: number }
  | { kind: 'unknown'; steps: number }
  | { kind: 'fail'; steps: number; prefix: number[]; unordered: number[] };

/** 32-bit mixer (splitmix-like) giving each operation a Zobrist value. */
function mix32(x: number): number {
  let z = (x + 0x9e3779b9) | 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

function sameBits(a: Uint32Array, b: Uint32Array): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}


/** True if every bit of `a` is set in `b`. */
function subsetBits(a: Uint32Array, b: Uint32Array): boolean {
  for (let i = 0; i < a.length; i++) if ((a[i]! & ~b[i]!) !== 0) return false;
  return true;
}

/**
 * The memo of visited search nodes: (set of linearized operations, state).
 * Revisiting one is pointless, the search from there depends on the pair
 * alone. The set is split into known-outcome operations (`known`, exact
 * match) and unknown-outcome ones (`unknown`), with a subsumption rule for
 * the latter: an unknown-outcome operation never has to be linearized, so
 * any completion from (K ∪ U, s) is also one from (K ∪ U', s) when U' ⊆ U;
 * having visited (K ∪ U', s) without success, (K ∪ U, s) needs no visit.
 * Without this, histories with many timed-out writes explode into subsets.
 * Lookups hash the known set (an incrementally kept XOR hash) and the state.
 */
interface Memo<S> {
  /** Insert; returns false if it was already there or is subsumed. */
  add(known: Uint32Array, unknown: Uint32Array, hash: number, state: S): boolean;
}

interface MemoEntry {
  readonly known: Uint32Array;
  readonly unknown: Uint32Array;
}

function covered(bucket: readonly MemoEntry[], known: Uint32Array, unknown: Uint32Array): boolean {
  for (const e of bucket) if (sameBits(e.known, known) && subsetBits(e.unknown, unknown)) return true;
  return false;
}

const NO_BITS = new Uint32Array(0);

/** Copy for storage; the common empty unknown-set is shared, not copied. */
function keep(bits: Uint32Array): Uint32Array {
  return bits.length === 0 ? NO_BITS : bits.slice();
}

function makeMemo<S, I, O>(model: Model<S, I, O>): Memo<S> {
  const keyOf = model.key;
  if (keyOf) {
    const byKey = new Map<string, MemoEntry[]>();
    return {
      add(known, unknown, hash, state) {
        const k = hash + '|' + keyOf(state);
        const bucket = byKey.get(k);
        const entry = { known: keep(known), unknown: keep(unknown) };
        if (!bucket) {
          byKey.set(k, [entry]);
          return true;
        }
        if (covered(bucket, known, unknown)) return false;
        bucket.push(entry);
        return true;
      },
    };
  }
  const eq = model.equal ?? ((a: S, b: S) => a === b);
  const byHash = new Map<number, Array<MemoEntry & { readonly state: S }>>();
  return {
    add(known, unknown, hash, state) {
      const bucket = byHash.get(hash);
      const entry = { known: keep(known), unknown: keep(unknown), state };
      if (!bucket) {
        byHash.set(hash, [entry]);
        return true;
      }
      if (covered(bucket.filter((e) => eq(e.state, state)), known, unknown)) return false;
      bucket.push(entry);
      return true;
    },
  };
}

/**
 * Lowe's just-in-time linearization search over one partition.
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
 */
function searchPartition<S, I, O>(model: Model<S, I, O>, ops: readonly Operation<I, O>[], budget: number): SearchOutcome {
  const n = ops.length;
  let remaining = 0; // operations with a known outcome not yet linearized
  for (const op of ops) if (op.ret !== Infinity) remaining++;
  if (remaining === 0) return { kind: 'ok', steps: 0 };

  const finite = new Uint8Array(n);
  for (let i = 0; i < n; i++) finite[i] = ops[i]!.ret !== Infinity ? 1 : 0;

  // Nodes: 0..n-1 are calls of op i, n..2n-1 returns of op i - n; 2n heads
  // the main list (known-outcome calls and returns), 2n+1 the list of
  // unknown-outcome calls.
  const head = 2 * n;
  const headU = 2 * n + 1;
  const next = new Int32Array(2 * n + 2).fill(-1);
  const prev = new Int32Array(2 * n + 2).fill(-1);
  const events: number[] = [];
  const unknownCalls: number[] = [];
  for (let i = 0; i < n; i++) {
    if (finite[i]) events.push(i, n + i);
    else unknownCalls.push(i);
  }
  const timeOf = (e: number): number => (e < n ? ops[e]!.call : ops[e - n]!.ret);
  const byTime = (a: number, b: number): number => {
    const ta = timeOf(a);
    const tb = timeOf(b);
    if (ta !== tb) return ta - tb;
    const ka = a < n ? 0 : 1;
    const kb = b < n ? 0 : 1;
    if (ka !== kb) return ka - kb;
    return a - b; // deterministic order, independent of the sort algorithm
  };
  const chain = (h: number, list: number[]): void => {
    list.sort(byTime);
    let last = h;
    for (const e of list) {
      next[last] = e;
      prev[e] = last;
      last = e;
    }
  };
  chain(head, events);
  chain(headU, unknownCalls);

  // Unlinking and relinking a call and its return; relinking must undo
  // unlinks in reverse order (dancing links), which the stack guarantees.
  const unlink = (e: number): void => {
    const p = prev[e]!;
    const q = next[e]!;
    next[p] = q;
    if (q !== -1) prev[q] = p;
  };
  const relink = (e: number): void => {
    const p = prev[e]!;
    const q = next[e]!;
    next[p] = e;
    if (q !== -1) prev[q] = e;
  };

  // Each operation's bit: in `kbits` (known outcome) or `ubits` (unknown);
  // only known ones feed the hash, see Memo.
  const slot = new Int32Array(n);
  let nk = 0;
  let nu = 0;
  for (let i = 0; i < n; i++) slot[i] = finite[i] ? nk++ : nu++;
  const zob = new Uint32Array(n);
  for (let i = 0; i < n; i++) zob[i] = finite[i] ? mix32(slot[i]!) : 0;
  const kbits = new Uint32Array((nk + 31) >>> 5);
  const ubits = new Uint32Array((nu + 31) >>> 5);
  const flip = (i: number): void => {
    const b = finite[i] ? kbits : ubits;
    const j = slot[i]!;
    b[j >>> 5] = b[j >>> 5]! ^ (1 << (j & 31));
    hash = (hash ^ zob[i]!) >>> 0;
  };
  let hash = 0;
  const memo = makeMemo(model);

  const stackOp: number[] = [];
  const stackState: S[] = [];
  /** The first pending return at the level where each op was chosen. */
  const stackBarrier: number[] = [];
  let state = model.init();
  memo.add(kbits, ubits, hash, state);

  let best = -1;
  let bestPrefix: number[] = [];
  let bestUnordered: number[] = [];

  // Either scanning the main list (barrier = -1) or, past the first pending
  // return `barrier`, scanning unknown-outcome calls made no later than it.
  let barrier = -1;
  let entry = next[head]!;
  let steps = 0;
  for (;;) {
    if (++steps > budget) return { kind: 'unknown', steps: steps - 1 };
    if (barrier === -1 && entry >= n) {
      // Reached the first pending return: now the unknown-outcome candidates.
      barrier = entry;
      entry = next[headU]!;
      continue;
    }
    if (entry === -1 && barrier === -1) {
      // Cannot happen while a known-outcome operation remains: its return
      // event would have been met first. Guard against a broken invariant.
      throw new Error('linearizability search ran off the event list');
    }
    if (barrier === -1 || (entry !== -1 && ops[entry]!.call <= ops[barrier - n]!.ret)) {
      const i = entry;
      const op = ops[i]!;
      const [legal, after] = model.step(state, op.input, finite[i] ? op.output : undefined);
      if (legal) {
        flip(i);
        if (memo.add(kbits, ubits, hash, after)) {
          stackOp.push(i);
          stackState.push(state);
          stackBarrier.push(barrier);
          state = after;
          unlink(i);
          if (finite[i]) {
            unlink(n + i);
            if (--remaining === 0) return { kind: 'ok', steps };
          }
          barrier = -1;
          entry = next[head]!;
          continue;
        }
        flip(i);
      }
      entry = next[i]!;
      continue;
    }
    // Every candidate failed: the operation returning at `barrier` cannot be
    // linearized in time after the current prefix. Remember the deepest such
    // dead end for the report, then backtrack.
    if (stackOp.length > best) {
      best = stackOp.length;
      bestPrefix = stackOp.slice();
      const stuck: number[] = [barrier - n];
      for (let e = next[head]!; e !== barrier && e !== -1; e = next[e]!) if (e < n && e !== barrier - n) stuck.push(e);
      const limit = ops[barrier - n]!.ret;
      for (let e = next[headU]!; e !== -1 && ops[e]!.call <= limit; e = next[e]!) stuck.push(e);
      bestUnordered = stuck;
    }
    if (stackOp.length === 0) return { kind: 'fail', steps, prefix: bestPrefix, unordered: bestUnordered };
    const i = stackOp.pop()!;
    state = stackState.pop()!;
    barrier = stackBarrier.pop()!;
    flip(i);
    if (finite[i]) {
      relink(n + i);
      remaining++;
    }
    relink(i);
    entry = next[i]!;
  }
}
