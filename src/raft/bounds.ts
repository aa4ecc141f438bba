// How far one message may move a replica's term or log. Peers may be faulty
// (or Byzantine in simulation), and a term or index is durable: a message that
// pushed one to the end of its range (the wire carries safe integers, so
// 2^53 - 1) would leave every group unable to campaign again, across
// restarts. So a replica refuses, and counts, a message whose term is more
// than MAX_TERM_STEP beyond its own, or whose snapshot lies more than
// MAX_INDEX_STEP beyond its log.
//
// Why legitimate traffic never comes near these bounds:
// - A term rises by one per election, and a replica runs at most one election
//   per randomized election timeout (at least two ticks of at least 1 ms). A
//   correct peer can be ahead of us only by the elections we missed: 2^32 of
//   them take at least 99 days of back-to-back failed elections at the
//   fastest timing the configuration allows (with pre-vote, which gallocy's
//   defaults enable, a cut-off replica does not raise its term at all). A
//   replica that was away that long is replaced by a membership change.
// - A snapshot moves a follower at most as far as the group has committed
//   while it was away: 2^48 entries are 89 years at 100,000 commits per
//   second.
// Exhausting the range then takes 2^21 accepted term jumps (or 2^5 snapshot
// jumps from a host accepted as the leader of the current term): never one
// message, never a peer outside the cluster (the runtime checks that a
// message's sender is the peer the network authenticated), and every jump is
// counted. Byzantine-tolerant mode removes what a faulty member can still do.
export const MAX_TERM_STEP = 2 ** 32;
export const MAX_INDEX_STEP = 2 ** 48;

/** Messages a replica refused, by reason (the host's metrics show them). */
export interface Refusals {
  /** Not a well-formed message, or not addressed to this replica. */
  malformed: number;
  /** A term more than MAX_TERM_STEP beyond the replica's own. */
  termBeyondBound: number;
  /** A snapshot more than MAX_INDEX_STEP beyond the replica's log. */
  indexBeyondBound: number;
  /** An append, heartbeat or snapshot from a second leader of the term the replica already follows a leader in. */
  rivalLeader: number;
}

export function noRefusals(): Refusals {
  return { malformed: 0, termBeyondBound: 0, indexBeyondBound: 0, rivalLeader: 0 };
}
