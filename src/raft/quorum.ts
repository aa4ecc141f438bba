// Majority arithmetic over a voter set. Learners never appear here.

import type { NodeId } from './types.js';

export function quorumSize(voters: readonly NodeId[]): number {
  return Math.floor(voters.length / 2) + 1;
}

/**
 * The highest index that a majority of voters have matched. With no voters, 0 (nothing can be
 * committed by an empty configuration).
 */
export function majorityIndex(voters: readonly NodeId[], matchOf: (id: NodeId) => number): number {
  const n = voters.length;
  if (n === 0) return 0;
  // Sorted descending in a reused scratch array (insertion sort: a handful of
  // voters): a leader asks at every acknowledgement, and map and sort allocated.
  const m = scratch;
  for (let i = 0; i < n; i++) {
    const x = matchOf(voters[i]!);
    let j = i;
    for (; j > 0 && m[j - 1]! < x; j--) m[j] = m[j - 1]!;
    m[j] = x;
  }
  return m[quorumSize(voters) - 1]!;
}

const scratch: number[] = [];

export type VoteResult = 'won' | 'lost' | 'pending';

/** Tally votes (true = granted) from voters only; responses from non-voters are ignored. */
export function voteResult(voters: readonly NodeId[], votes: ReadonlyMap<NodeId, boolean>): VoteResult {
  if (voters.length === 0) return 'lost';
  const q = quorumSize(voters);
  let yes = 0;
  let no = 0;
  for (const v of voters) {
    const r = votes.get(v);
    if (r === true) yes++;
    else if (r === false) no++;
  }
  if (yes >= q) return 'won';
  if (voters.length - no < q) return 'lost';
  return 'pending';
}

/** Whether the ids for which active(id) holds form a majority of voters. */
export function hasQuorum(voters: readonly NodeId[], active: (id: NodeId) => boolean): boolean {
  if (voters.length === 0) return false;
  let n = 0;
  for (const v of voters) if (active(v)) n++;
  return n >= quorumSize(voters);
}
