// Coverage-guided walks (after Go-Explore and coverage-guided fuzzing): keep
// a corpus of paths, each the first to cover some feature; each walk
// re-executes a corpus path chosen at random (the less chosen, the likelier)
// and goes on from its end with a short random walk, adding every path that
// covers a new feature. A feature is what two hosts believe at once: for
// each pair of hosts, each one's process state (up, waiting for its disk, or
// down) and its replicas' role, term, vote, commit and the terms of its log.
// Pairs, because Raft's bugs live in two logs that disagree; not the whole
// world, whose states are too many to cover. Deep states that need a chain of
// rare steps (several elections, each won with another voter) are reached a
// link at a time, where a walk from the start needs the whole chain at once.
import { streamFor } from '../rng.js';
import type { Choice } from './choice.js';
import type { SearchResult, Space } from './explorer.js';
import { StateTable } from './hash.js';
import type { ExploreSession } from './session.js';
import { randomPicker, isFault } from './walks.js';

export interface GuidedOptions {
  readonly depth: number;
  readonly walks?: number;
  /** Steps a walk takes past the end of its corpus path. */
  readonly extension: number;
}

interface Entry {
  readonly path: readonly Choice[];
  chosen: number;
}

const STOP_EVERY = 16;

export function guided(space: Space, o: GuidedOptions, stop: () => boolean): SearchResult {
  const table = new StateTable();
  const rng = streamFor(space.seed, 'explore-guided');
  const pick = randomPicker(rng);
  const r: SearchResult = {
    statesExplored: 0, distinctStates: 0, depthReached: 0, exhaustive: false, boundReached: false, walks: 0, replayedSteps: 0,
    violation: null, violatingPath: null,
  };
  const seen = new Set<string>();
  const corpus: Entry[] = [{ path: [], chosen: 0 }];
  const faultBudget = space.faults.crashes + space.faults.losses + space.faults.duplicates;
  const maxWalks = o.walks ?? Infinity;
  while (r.walks < maxWalks && r.violation === null) {
    if (r.walks % STOP_EVERY === 0 && stop()) break;
    r.walks++;
    const entry = choose(corpus, rng.next());
    entry.chosen++;
    const s = space.replay(entry.path);
    r.replayedSteps += entry.path.length;
    if (s.violation !== null) {
      r.violation = s.violation;
      r.violatingPath = [...entry.path];
      s.close();
      break;
    }
    if (seen.size === 0) for (const f of features(s)) seen.add(f);
    const path = [...entry.path];
    let faultsLeft = faultBudget - path.filter(isFault).length;
    const end = Math.min(o.depth, path.length + o.extension);
    while (path.length < end) {
      const enabled = s.enabled();
      if (enabled.length === 0) break;
      const faults = enabled.filter(isFault);
      const stepsLeft = end - path.length;
      const c = faults.length > 0 && faultsLeft > 0 && rng.next() < faultsLeft / stepsLeft
        ? rng.pick(faults)
        : pick(path.length, enabled.filter((x) => !isFault(x)));
      if (c === undefined) break;
      if (isFault(c)) faultsLeft--;
      path.push(c);
      const v = s.apply(c);
      r.statesExplored++;
      if (path.length > r.depthReached) r.depthReached = path.length;
      if (path.length === o.depth) r.boundReached = true;
      if (v !== null) {
        r.violation = v;
        r.violatingPath = path;
        break;
      }
      const [x, y] = space.fingerprint(s);
      table.visit(x, y, path.length);
      let covered = false;
      for (const f of features(s)) {
        if (seen.has(f)) continue;
        seen.add(f);
        covered = true;
      }
      if (covered) corpus.push({ path: [...path], chosen: 0 });
    }
    s.close();
  }
  r.distinctStates = table.size;
  return r;
}

/** A corpus entry, weighted by 1 / (1 + times chosen): new ones first, old ones still now and then. */
function choose(corpus: readonly Entry[], u: number): Entry {
  let total = 0;
  for (const e of corpus) total += 1 / (1 + e.chosen);
  let x = u * total;
  for (const e of corpus) {
    x -= 1 / (1 + e.chosen);
    if (x < 0) return e;
  }
  return corpus[corpus.length - 1]!;
}

/** The features a state covers (see the file comment). */
function features(s: ExploreSession): string[] {
  const views = s.world.hosts.map((h) => {
    const parts = [h.state === 'down' ? 'D' : h.disk.pendingCount() > 0 ? 'P' : 'U'];
    for (const r of h.replicas) {
      if (r === undefined) continue;
      const st = r.node.status();
      const terms: number[] = [];
      for (let i = st.snapshotIndex + 1; i <= st.lastIndex; i++) terms.push(r.node.termAt(i) ?? 0);
      parts.push(`${r.group}:${st.role[0]}${st.term}v${st.vote}c${st.commit}s${st.snapshotIndex}[${terms.join(',')}]`);
    }
    return `${h.id}${parts.join('')}`;
  });
  const out: string[] = [];
  for (let i = 0; i < views.length; i++) for (let j = i + 1; j < views.length; j++) out.push(`${views[i]}/${views[j]}`);
  return out;
}
