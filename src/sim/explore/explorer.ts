// Systematic exploration of one scenario's choices (src/sim/explore/session.ts
// says which). Strategies:
//   dfs     depth-first search to a depth bound, pruning states seen before
//           by fingerprint: exhaustive within the bound for small worlds;
//   random  bounded random walks, each from the initial state;
//   pct     bounded walks with random priorities (Burckhardt et al., "A
//           Randomized Scheduler with Probabilistic Guarantees of Finding
//           Bugs", ASPLOS 2010): each walk ranks the hosts and clients at
//           random, always runs the highest-ranked one that can move, and
//           demotes the running one at a few random steps.
// States are restored by re-execution: a fresh world replays the choice
// prefix (determinism makes that exact, as in VeriSoft and CHESS); worlds are
// closures all the way down, so there is nothing to snapshot.
import type { Violation } from '../result.js';
import type { Scenario } from '../scenario.js';
import type { Choice } from './choice.js';
import { choiceKey } from './choice.js';
import { depthFirst } from './dfs.js';
import { Hasher } from './hash.js';
import { ExploreSession, explorationScenario, RecordHashes } from './session.js';
import type { FaultBudget, Reductions } from './session.js';
import { NO_REDUCTIONS } from './session.js';
import { guided } from './guided.js';
import { walks } from './walks.js';

import type { Strategy } from './strategy.js';

export { STRATEGIES } from './strategy.js';
export type { Strategy } from './strategy.js';

export interface ExploreOptions {
  /** The scenario as loaded; exploration runs explorationScenario() of it. */
  readonly scenario: Scenario;
  /** The world's seed: clocks, latencies' nominal values, Raft's timeouts, clients' requests. */
  readonly seed: number;
  readonly strategy: Strategy;
  /** Steps per path at most. */
  readonly depth: number;
  readonly faults: FaultBudget;
  /** Coarser steps (default none). */
  readonly reductions?: Reductions;
  /**
   * Choice keys (a choice file's) to take first: the search starts where they
   * lead, e.g. near a state a fuzz failure or an earlier search reached.
   */
  readonly prefix?: readonly string[];
  /** random and pct: how many walks at most (default: until stopped). */
  readonly walks?: number;
  /** random: the probability that a step is random rather than the earliest event (default 1). */
  readonly deviation?: number;
  /** guided: steps a walk takes past the end of its corpus path. */
  readonly extension?: number;
  /** pct: priority changes per walk (the bug depth it aims at, minus one). */
  readonly priorityChanges?: number;
  /** Asked every few states; true stops the exploration (the caller's wall-clock budget). */
  readonly shouldStop?: () => boolean;
}

/** One step of a path, as a choice file keeps it. */
export interface PathStep {
  readonly key: string;
  readonly label: string;
}

export interface ExploreReport {
  readonly strategy: Strategy;
  readonly depthBound: number;
  /** Steps taken into states (each new step of a path; re-executed prefixes not counted). */
  readonly statesExplored: number;
  readonly distinctStates: number;
  /** The longest path taken. */
  readonly depthReached: number;
  /** dfs: every state within the bound was explored (no stop, no violation). */
  readonly exhaustive: boolean;
  /** dfs: some path was cut at the bound (false with exhaustive: the whole state space is within it). */
  readonly boundReached: boolean;
  /** random and pct: walks made. */
  readonly walks: number;
  /** Steps re-executed to restore states (the cost of stateless search). */
  readonly replayedSteps: number;
  readonly violation: Violation | null;
  /** The path to the violation, replayable with replayChoices(). */
  readonly path: PathStep[] | null;
}

/** What a strategy hands back; the explorer adds the labelled path. */
export interface SearchResult {
  statesExplored: number;
  distinctStates: number;
  depthReached: number;
  exhaustive: boolean;
  boundReached: boolean;
  walks: number;
  replayedSteps: number;
  violation: Violation | null;
  violatingPath: Choice[] | null;
}

/** Builds sessions and fingerprints states; shared by the strategies. */
export class Space {
  readonly scenario: Scenario;
  private readonly hasher = new Hasher();
  private readonly records = new RecordHashes();
  /** The prefix's choices, resolved once; every session starts after them. */
  private readonly start: Choice[];

  constructor(scenario: Scenario, readonly seed: number, readonly faults: FaultBudget, readonly reductions: Reductions = NO_REDUCTIONS, prefix: readonly string[] = []) {
    this.scenario = explorationScenario(scenario);
    this.start = [];
    const s = this.initial();
    try {
      for (const key of prefix) {
        const c = s.find(key);
        if (c === undefined) throw new ChoiceMismatch(this.start.length, key, s.enabled().map(choiceKey));
        this.start.push(c);
        if (s.apply(c) !== null) break;
      }
    } finally {
      s.close();
    }
  }

  /** The choices every session starts with (a prefix given to the search). */
  get prefix(): readonly Choice[] {
    return this.start;
  }

  /** A world at the initial state. */
  initial(): ExploreSession {
    return new ExploreSession(this.scenario, this.seed, this.faults, this.reductions);
  }

  /** A world at the search's starting state. */
  fresh(): ExploreSession {
    const s = this.initial();
    for (const c of this.start) if (s.apply(c) !== null) break;
    return s;
  }

  /** A fresh world taken along a path (each choice as it was chosen, ids and all). */
  replay(path: readonly Choice[]): ExploreSession {
    const s = this.fresh();
    for (const c of path) {
      if (s.apply(c) !== null) break;
    }
    return s;
  }

  fingerprint(s: ExploreSession): [number, number] {
    return s.fingerprint(this.hasher, this.records);
  }
}

export function explore(o: ExploreOptions): ExploreReport {
  if (!(Number.isInteger(o.depth) && o.depth >= 1)) throw new RangeError(`explore: depth must be a positive integer, got ${o.depth}`);
  const space = new Space(o.scenario, o.seed, o.faults, o.reductions, o.prefix);
  const stop = o.shouldStop ?? (() => false);
  const r = o.strategy === 'dfs'
    ? depthFirst(space, o.depth, stop)
    : o.strategy === 'guided'
    ? guided(space, { depth: o.depth, extension: o.extension ?? 12, ...(o.walks !== undefined ? { walks: o.walks } : {}) }, stop)
    : walks(space, { depth: o.depth, pct: o.strategy === 'pct', ...(o.walks !== undefined ? { walks: o.walks } : {}), changes: o.priorityChanges ?? 2, deviation: o.deviation ?? 1 }, stop);
  return {
    strategy: o.strategy,
    depthBound: o.depth,
    statesExplored: r.statesExplored,
    distinctStates: r.distinctStates,
    depthReached: r.depthReached,
    exhaustive: r.exhaustive,
    boundReached: r.boundReached,
    walks: r.walks,
    replayedSteps: r.replayedSteps,
    violation: r.violation,
    path: r.violatingPath === null ? null : labelled(space, [...space.prefix, ...r.violatingPath]),
  };
}

/** Names each step of a path from the initial state, re-executing it to see what each choice stood for. */
function labelled(space: Space, path: readonly Choice[]): PathStep[] {
  const s = space.initial();
  const out: PathStep[] = [];
  for (const c of path) {
    out.push({ key: choiceKey(c), label: s.describe(c) });
    if (s.apply(c) !== null) break;
  }
  s.close();
  return out;
}

export interface ReplayReport {
  readonly steps: number;
  readonly violation: Violation | null;
  /** The trace hash of the world after the path. */
  readonly traceHash: string;
  readonly simSeconds: number;
}

/**
 * Re-executes a path of choice keys (a choice file's) from the initial
 * state. Throws ChoiceMismatch at the first key not enabled where it is
 * taken (the file was made for another scenario, seed or version).
 */
export function replayChoices(scenario: Scenario, seed: number, faults: FaultBudget, reductions: Reductions, keys: readonly string[]): ReplayReport {
  const s = new Space(scenario, seed, faults, reductions).initial();
  let steps = 0;
  let violation = s.violation;
  for (const key of keys) {
    if (violation !== null) break;
    const c = s.find(key);
    if (c === undefined) {
      const enabled = s.enabled().map(choiceKey);
      s.close();
      throw new ChoiceMismatch(steps, key, enabled);
    }
    violation = s.apply(c);
    steps++;
  }
  const report = { steps, violation, traceHash: s.world.traceLog.hash(), simSeconds: s.now / 1e6 };
  s.close();
  return report;
}

export class ChoiceMismatch extends Error {
  constructor(readonly step: number, readonly key: string, readonly enabled: readonly string[]) {
    super(`choice ${step + 1} ("${key}") is not enabled there; enabled: ${enabled.slice(0, 12).join(', ')}${enabled.length > 12 ? ', ...' : ''}`);
    this.name = 'ChoiceMismatch';
  }
}
