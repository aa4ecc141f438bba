// Bounded walks from the initial state: uniformly random, or PCT.
//
// Faults are spread over a walk rather than drawn with every other choice
// (a host can crash at any of a few dozen steps, and would at the first
// one): a walk takes a fault when one is enabled with probability
// (faults left) / (steps left).
//
// PCT: each walk gives the hosts, the clients and the world distinct random
// priorities and picks `changes` random steps. Each step runs the
// highest-priority owner's earliest enabled event; at the j-th change step,
// that owner drops below every other (priority changes - j). Ticks and
// timers are always enabled (a host always has a next tick, a client a next
// time-out), so they run only when nothing else can: time passes when the
// hosts have nothing left to say, and who times out first is the
// priorities' choice. Otherwise the top owner would tick forever.
import { streamFor } from '../rng.js';
import type { Rng } from '../rng.js';
import type { Choice } from './choice.js';
import type { SearchResult, Space } from './explorer.js';
import { StateTable } from './hash.js';

export interface WalkOptions {
  readonly depth: number;
  readonly pct: boolean;
  /** Walks at most (default: until stopped). */
  readonly walks?: number;
  /** pct: priority change points per walk. */
  readonly changes: number;
  /**
   * random: the probability that a step is chosen at random rather than the
   * earliest event taken (1: every step at random; small: walks that stay
   * near the seed's own run, with a few steps out of order).
   */
  readonly deviation: number;
}

const STOP_EVERY = 64;

export function walks(space: Space, o: WalkOptions, stop: () => boolean): SearchResult {
  const table = new StateTable();
  const rng = streamFor(space.seed, o.pct ? 'explore-pct' : 'explore-random');
  const r: SearchResult = {
    statesExplored: 0, distinctStates: 0, depthReached: 0, exhaustive: false, boundReached: false, walks: 0, replayedSteps: 0,
    violation: null, violatingPath: null,
  };
  const maxWalks = o.walks ?? Infinity;
  const faultBudget = space.faults.crashes + space.faults.losses + space.faults.duplicates;
  let since = 0;
  while (r.walks < maxWalks && r.violation === null) {
    if (since >= STOP_EVERY) {
      since = 0;
      if (stop()) break;
    }
    r.walks++;
    const s = space.fresh();
    if (s.violation !== null) {
      r.violation = s.violation;
      r.violatingPath = [];
      s.close();
      break;
    }
    const [a, b] = space.fingerprint(s);
    table.visit(a, b, 0);
    const pick = o.pct ? pctPicker(rng, o.changes, o.depth) : deviating(rng, o.deviation, randomPicker(rng));
    const path: Choice[] = [];
    let faultsLeft = faultBudget;
    for (let step = 1; step <= o.depth; step++) {
      const enabled = s.enabled();
      if (enabled.length === 0) break;
      const faults = enabled.filter(isFault);
      const takeFault = faults.length > 0 && faultsLeft > 0 && rng.next() < faultsLeft / (o.depth - step + 1);
      const c = takeFault ? rng.pick(faults) : pick(step, enabled.filter((x) => !isFault(x)));
      if (c === undefined) break;
      if (isFault(c)) faultsLeft--;
      path.push(c);
      const v = s.apply(c);
      r.statesExplored++;
      since++;
      if (step > r.depthReached) r.depthReached = step;
      if (step === o.depth) r.boundReached = true;
      if (v !== null) {
        r.violation = v;
        r.violatingPath = path;
        break;
      }
      const [x, y] = space.fingerprint(s);
      table.visit(x, y, step);
    }
    s.close();
  }
  r.distinctStates = table.size;
  return r;
}

export function isFault(c: Choice): boolean {
  return c.kind === 'crash' || c.kind === 'lose' || c.kind === 'duplicate';
}

/** The earliest choice, except with probability p another picker's. */
function deviating(rng: Rng, p: number, other: Picker): Picker {
  if (p >= 1) return other;
  return (step, choices) => (rng.next() < p ? other(step, choices) : choices[0]);
}

export type Picker = (step: number, choices: readonly Choice[]) => Choice | undefined;

/**
 * How often a random walk lets time pass (a tick or a timer) while
 * deliveries or disk completions could happen instead. Uniform choice would
 * let a client's 50 ms retries race a cluster whose messages take a
 * millisecond; real networks are faster than timers, but not always.
 */
const TIME_BIAS = 0.2;

export function randomPicker(rng: Rng): Picker {
  return (_step, choices) => {
    if (choices.length === 0) return undefined;
    const work = choices.filter((c) => !passesTime(c));
    if (work.length === 0 || work.length === choices.length || rng.next() < TIME_BIAS) {
      return rng.pick(work.length === choices.length ? work : choices.filter(passesTime));
    }
    return rng.pick(work);
  };
}

function pctPicker(rng: Rng, changes: number, depth: number): Picker {
  const priority = new Map<number, number>();
  const changeAt = new Map<number, number>();
  for (let j = 1; j <= changes; j++) changeAt.set(rng.int(1, depth + 1), j);
  /** An owner met for the first time gets a random priority above every change's. */
  const priorityOf = (owner: number): number => {
    let p = priority.get(owner);
    if (p === undefined) {
      p = changes + 1 + rng.next();
      priority.set(owner, p);
    }
    return p;
  };
  return (step, choices) => {
    let best: Choice | undefined;
    let bestP = -Infinity;
    let timeOnly = true;
    for (const c of choices) if (!passesTime(c)) timeOnly = false;
    for (const c of choices) {
      if (!timeOnly && passesTime(c)) continue;
      const p = priorityOf(ownerOf(c));
      if (p > bestP) {
        best = c;
        bestP = p;
      }
    }
    const j = changeAt.get(step);
    if (best !== undefined && j !== undefined) priority.set(ownerOf(best), changes - j);
    return best;
  };
}

function passesTime(c: Choice): boolean {
  return c.kind === 'run' && (c.event === 'tick' || c.event === 'timer');
}

function ownerOf(c: Choice): number {
  return c.kind === 'run' ? c.owner : c.kind === 'crash' || c.kind === 'restart' ? c.host : 0;
}
