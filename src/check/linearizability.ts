/**
 * Linearizability checker, after Porcupine (Anish Athalye) and the
 * Wing & Gong / Lowe "just-in-time linearization" search it implements.
 *
 * The whole interface is a sequential model (`init`, `step`; optionally
 * `equal` and `hash` for recognising states, `readOnly` to mark reads,
 * `partition` to split a history into independent parts, and
 * `describeOperation` for reports) and a history of operations with call and
 * return times. The checker is pure and
 * synchronous: no clocks, no randomness, no I/O, so it can run inside the
 * simulator and its verdict is reproducible. Instead of a wall-clock timeout
 * it takes a step budget (`maxSteps`) and answers `unknown` when the budget
 * runs out; its memory is bounded (`maxVisited`) whatever the history.
 */
import { PartitionSearch } from './search.js';
import { VisitedBudget } from './visited.js';

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
  /** State equality, to recognise a configuration seen before; defaults to `===`. */
  equal?(a: S, b: S): boolean;
  /** A hash of the state consistent with `equal` (equal states, equal hashes): fewer `equal` calls. */
  hash?(state: S): number;
  /**
   * True for an operation that never changes the state, whatever it is (a
   * read). Optional, and only a hint for speed: the search need not try such
   * an operation anywhere later than the first moment it is legal.
   */
  readOnly?(input: I): boolean;
  /** Split into independent sub-histories (e.g. by key); order is kept. */
  partition?(history: readonly Operation<I, O>[]): Operation<I, O>[][];
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
  /**
   * Configurations remembered at once over all partitions (default
   * 1,000,000: tens of bytes each, plus their states). Beyond it they are
   * forgotten, which may cost time but never changes a verdict.
   */
  readonly maxVisited?: number;
}

export type Verdict = 'linearizable' | 'not-linearizable' | 'unknown';

export interface CheckResult<I, O> {
  /** True only when the history was proven linearizable. */
  readonly ok: boolean;
  readonly verdict: Verdict;
  readonly partitions: number;
  /** Index (in `partition()` order) of the partition found not linearizable. */
  readonly failedPartition?: number;
  /**
   * For a violation: the longest linearizable prefix the search found, in
   * linearization order.
   */
  readonly linearizedPrefix?: Operation<I, O>[];
  /**
   * For a violation: the operations that could not be placed next after
   * `linearizedPrefix` (the first is the one whose return forced a choice;
   * the rest were the concurrent candidates, none of which led anywhere).
   */
  readonly unordered?: Operation<I, O>[];
  /** Search steps used (all partitions). */
  readonly steps: number;
}

/** Steps a partition runs before the next one gets its turn. */
const SLICE = 4096;

/**
 * Check a history against a model: exact (a complete search, remembering
 * configurations explored), each partition on its own. Partitions take turns
 * in slices of steps, as Porcupine runs them in parallel, so one that is
 * quick to fail is found even beside one whose search is long; the first
 * failure decides.
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
  const partitions = parts.length;
  const budget = new VisitedBudget(options.maxVisited ?? 1_000_000);
  // Searches start at their partition's first turn, so the many small
  // partitions of a history split by key come and go one at a time.
  let open: Array<{ readonly p: number; search?: PartitionSearch<S, I, O> }> = parts.map((_, p) => ({ p }));
  const releaseAll = (): void => open.forEach((o) => o.search?.release());
  let left = options.maxSteps ?? Infinity;
  let steps = 0;
  while (open.length > 0) {
    if (left <= 0) {
      releaseAll();
      return { ok: false, verdict: 'unknown', partitions, steps };
    }
    const next: typeof open = [];
    for (const o of open) {
      if (left <= 0) {
        next.push(o);
        continue;
      }
      const search = (o.search ??= new PartitionSearch(model, parts[o.p]!, budget));
      const before = search.steps;
      const status = search.run(Math.min(SLICE, left));
      left -= search.steps - before;
      steps += search.steps - before;
      if (status === 'running') next.push(o);
      else if (status === 'linearizable') o.search = undefined; // garbage while young: cheap to collect
      else {
        releaseAll();
        const part = parts[o.p]!;
        return {
          ok: false,
          verdict: 'not-linearizable',
          partitions,
          failedPartition: o.p,
          linearizedPrefix: search.prefix.map((i) => part[i]!),
          unordered: search.unordered.map((i) => part[i]!),
          steps,
        };
      }
    }
    open = next;
  }
  return { ok: true, verdict: 'linearizable', partitions, steps };
}
