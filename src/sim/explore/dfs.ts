// Depth-first search to a depth bound, pruning states already seen at the
// same depth or shallower. The world is at the node on top of the stack
// while the search descends; stepping to a sibling needs the parent again,
// which a fresh world re-executing the path gives.
import type { Choice } from './choice.js';
import type { SearchResult, Space } from './explorer.js';
import { StateTable } from './hash.js';
import type { ExploreSession } from './session.js';

interface Frame {
  readonly choices: readonly Choice[];
  next: number;
}

/** How many rounds of the loop go by between asking whether to stop. */
const STOP_EVERY = 64;

export function depthFirst(space: Space, maxDepth: number, stop: () => boolean): SearchResult {
  const table = new StateTable();
  let session: ExploreSession = space.fresh();
  const r: SearchResult = {
    statesExplored: 0, distinctStates: 0, depthReached: 0, exhaustive: false, boundReached: false, walks: 0, replayedSteps: 0,
    violation: session.violation, violatingPath: session.violation === null ? null : [],
  };
  if (r.violation !== null) return r;
  const [a, b] = space.fingerprint(session);
  table.visit(a, b, 0);
  const path: Choice[] = [];
  const stack: Frame[] = [{ choices: session.enabled(), next: 0 }];
  /** Whether the session is at the node on top of the stack. */
  let atTop = true;
  let stopped = false;
  let rounds = 0;
  while (stack.length > 0) {
    if (++rounds % STOP_EVERY === 0 && stop()) {
      stopped = true;
      break;
    }
    const top = stack[stack.length - 1]!;
    if (top.next >= top.choices.length) {
      stack.pop();
      path.pop();
      atTop = false;
      continue;
    }
    const c = top.choices[top.next++]!;
    if (!atTop) {
      session.close();
      session = space.replay(path);
      r.replayedSteps += path.length;
    }
    const v = session.apply(c);
    r.statesExplored++;
    const depth = path.length + 1;
    if (depth > r.depthReached) r.depthReached = depth;
    atTop = false;
    if (v !== null) {
      r.violation = v;
      r.violatingPath = [...path, c];
      break;
    }
    const [x, y] = space.fingerprint(session);
    if (!table.visit(x, y, depth)) continue;
    if (depth >= maxDepth) {
      r.boundReached = true;
      continue;
    }
    const next = session.enabled();
    if (next.length === 0) continue;
    path.push(c);
    stack.push({ choices: next, next: 0 });
    atTop = true;
  }
  session.close();
  r.distinctStates = table.size;
  r.exhaustive = !stopped && r.violation === null;
  return r;
}
