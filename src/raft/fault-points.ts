// In-code fault points (FoundationDB's BUGGIFY) and coverage probes: the port
// through which the simulator reaches inside the code. At a fault point the
// code asks whether to take a path that is legal but unusual (a shorter
// batch, an early compaction, a refusal); at a probe it reports that it took
// a rare path. Real hosts pass the inert implementation: nothing fires,
// nothing is counted. Ids are small integers, so a call costs an array access
// in the simulator; each layer declares its own, numbered after the layer
// below it (src/host/fault-points.ts and src/host/probes.ts list them all).

export interface FaultPoints {
  /** Whether fault point `point` fires now (never outside the simulator). */
  buggify(point: number): boolean;
  /** The rare path `probe` was taken. */
  probe(probe: number): void;
}

export const inertFaultPoints: FaultPoints = {
  buggify: () => false,
  probe: () => undefined,
};

export interface FaultPointInfo {
  /** layer.kebab-name, e.g. raft.truncate-append. */
  readonly name: string;
  /** Chance it fires each time it is reached, in a run that enabled it. */
  readonly fires: number;
  /** What firing does, and why the protocol must tolerate it. */
  readonly what: string;
}

export interface ProbeInfo {
  readonly name: string;
  /** The rare path, in one line. */
  readonly what: string;
}

/** A layer's declarations: ids numbered from `base`, and the table rows in id order. */
export interface Declared<K extends string, Row> {
  readonly ids: Readonly<Record<K, number>>;
  readonly rows: readonly Row[];
}

const kebab = (key: string): string => key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

export function declareFaultPoints<K extends string>(
  layer: string, base: number, table: Readonly<Record<K, { fires: number; what: string }>>,
): Declared<K, FaultPointInfo> {
  return declare(base, table, (key, v) => ({ name: `${layer}.${kebab(key)}`, fires: v.fires, what: v.what }));
}

export function declareProbes<K extends string>(layer: string, base: number, table: Readonly<Record<K, string>>): Declared<K, ProbeInfo> {
  return declare(base, table, (key, what) => ({ name: `${layer}.${kebab(key)}`, what }));
}

function declare<K extends string, V, Row>(base: number, table: Readonly<Record<K, V>>, row: (key: string, v: V) => Row): Declared<K, Row> {
  const keys = Object.keys(table) as K[];
  const ids = Object.fromEntries(keys.map((k, i) => [k, base + i])) as Record<K, number>;
  return { ids: Object.freeze(ids), rows: keys.map((k) => row(k, table[k])) };
}

const RAFT_POINTS_DECLARED = declareFaultPoints('raft', 0, {
  truncateAppend: { fires: 0.2, what: 'a leader sends one entry where it could send a batch (as under a small maxEntriesPerMsg)' },
  refuseProposal: { fires: 0.05, what: 'a leader refuses a proposal, as one in a leadership transfer does; the proposer retries' },
  abandonProposal: { fires: 0.003, what: 'a leader appends a proposal to its log, then steps down before sending it (as a leader cut off just then)' },
  slowBackoff: { fires: 0.5, what: 'a follower rejects an append without the fast back-off hint: the leader probes one entry back' },
  splitReady: { fires: 0.1, what: 'a Ready carries only the first half of the new entries; the rest, and what depends on them, come in the next' },
});

export const RaftPoint = RAFT_POINTS_DECLARED.ids;
export const RAFT_FAULT_POINTS = RAFT_POINTS_DECLARED.rows;

const RAFT_PROBES_DECLARED = declareProbes('raft', 0, {
  snapshotInstalled: 'a follower replaced its log with a snapshot from the leader',
  snapshotCaughtUp: 'a follower already held the last entry of a snapshot it was sent: it only moved its commit index',
  snapshotRetried: 'a leader heard nothing of a snapshot for an election timeout and probes the follower again',
  conflictTruncated: 'a follower truncated a conflicting suffix of its log',
  appendRejected: 'a follower rejected an append whose previous entry it does not hold (the leader backs off)',
  checkQuorumStepDown: 'a leader heard from no quorum for an election timeout and stepped down',
  preVoteRejected: 'a pre-vote was rejected (a stale or less up-to-date candidate, or a live leader known)',
  leaseIgnoredVote: 'a vote or pre-vote request was ignored because a live leader was heard within the election timeout',
  staleLeaderTold: 'a message from a leader of an old term was answered with the current term',
  transferCampaign: 'a follower campaigned at once on a leadership transfer (timeoutNow)',
  transferAbandoned: 'a leadership transfer did not complete within an election timeout and was abandoned',
  removedLeaderStepsDown: 'a leader applied its own removal from the configuration and stepped down',
  campaignDeferredConf: 'a node put off campaigning while a committed configuration change was not yet applied',
});

export const RaftProbe = RAFT_PROBES_DECLARED.ids;
export const RAFT_PROBES = RAFT_PROBES_DECLARED.rows;
