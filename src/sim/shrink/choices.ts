// Shrinking a path that `gallocy check` found (a choice file): the fewest
// choices, and the fewest faults among them (crashes, restarts, lost and
// duplicated messages), that still end in the same failure (signature.ts). A path is taken
// leniently: a choice that names an event no longer pending (removing an
// earlier one changed what is pending) is passed over, and the path ends at
// its violation. Chunks of choices are removed as delta debugging does,
// the faults first.
import { Space } from '../explore/explorer.js';
import type { FaultBudget, Reductions } from '../explore/session.js';
import { choiceKey } from '../explore/choice.js';
import type { Violation } from '../result.js';
import type { Scenario } from '../scenario.js';
import { sameFailure } from './signature.js';

export interface PathSize {
  choices: number;
  /** Crashes, restarts, lost and duplicated messages among them. */
  faults: number;
}

export interface PathShrinkReport {
  invariant: string;
  original: PathSize;
  shrunk: PathSize & { keys: string[]; violation: Violation };
  runs: number;
  budgetSpent: boolean;
}

const isFault = (key: string): boolean => !key.startsWith('run ');

export function pathSize(keys: readonly string[]): PathSize {
  return { choices: keys.length, faults: keys.filter(isFault).length };
}

/** Takes `keys` from the initial state, passing over any not enabled; the choices taken and the violation reached. */
export function takeLeniently(scenario: Scenario, seed: number, faults: FaultBudget, reductions: Reductions, keys: readonly string[]): { taken: string[]; violation: Violation | null } {
  const s = new Space(scenario, seed, faults, reductions).initial();
  const taken: string[] = [];
  let violation = s.violation;
  try {
    for (const key of keys) {
      if (violation !== null) break;
      const c = s.find(key);
      if (c === undefined) continue;
      taken.push(choiceKey(c));
      violation = s.apply(c);
    }
  } finally {
    s.close();
  }
  return { taken, violation };
}

export function shrinkPath(scenario: Scenario, seed: number, faults: FaultBudget, reductions: Reductions, keys: readonly string[], maxRuns: number, anyMessage = false): PathShrinkReport {
  const first = takeLeniently(scenario, seed, faults, reductions, keys);
  if (first.violation === null) throw new Error(`the path of ${keys.length} choices ends in no violation: there is nothing to shrink`);
  const target = first.violation;
  const invariant = target.invariant;
  let cur = first.taken;
  let violation = target;
  let runs = 1;
  const attempt = (candidate: string[]): boolean => {
    if (runs >= maxRuns) return false;
    runs++;
    const r = takeLeniently(scenario, seed, faults, reductions, candidate);
    if (r.violation === null || !sameFailure(target, r.violation, anyMessage)) return false;
    cur = r.taken;
    violation = r.violation;
    return true;
  };
  // Faults first (each a single choice), then chunks of any choices, halves down to single ones.
  let progress = true;
  while (progress && runs < maxRuns) {
    progress = false;
    for (let i = cur.length - 1; i >= 0; i--) {
      if (i < cur.length && isFault(cur[i]!) && attempt([...cur.slice(0, i), ...cur.slice(i + 1)])) progress = true;
    }
    for (let size = Math.max(1, Math.floor(cur.length / 2)); size >= 1; size = size === 1 ? 0 : Math.max(1, Math.floor(size / 2))) {
      for (let at = 0; at + size <= cur.length; ) {
        if (attempt([...cur.slice(0, at), ...cur.slice(at + size)])) progress = true;
        else at += size;
      }
    }
  }
  return {
    invariant,
    original: pathSize(first.taken),
    shrunk: { ...pathSize(cur), keys: cur, violation },
    runs,
    budgetSpent: runs >= maxRuns,
  };
}
