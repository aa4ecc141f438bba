// Every fault point of the code the simulator runs (BUGGIFY): Raft's, the
// VMM's and the host runtime's own, in id order. Each is a behaviour the
// protocols must already tolerate (a delay, a refusal, a smaller batch, an
// early compaction), so correct code stays correct with any of them firing;
// what they buy is reaching rare interleavings far more often than faults
// from outside alone do. The simulator enables each point for a run with
// some probability and fires an enabled one with its `fires` probability
// each time it is reached; real hosts pass the inert port.
import { declareFaultPoints, RAFT_FAULT_POINTS } from '../raft/index.js';
import type { FaultPointInfo } from '../raft/index.js';
import { VMM_FAULT_POINTS } from '../vmm/fault-points.js';

const POINTS = declareFaultPoints('host', RAFT_FAULT_POINTS.length + VMM_FAULT_POINTS.length, {
  compactEarly: { fires: 0.02, what: 'a replica snapshots its state machine and compacts its log long before snapshotEveryEntries' },
});

export const HostPoint = POINTS.ids;

/** All fault points; a point's id is its index here. */
export const FAULT_POINTS: readonly FaultPointInfo[] = [...RAFT_FAULT_POINTS, ...VMM_FAULT_POINTS, ...POINTS.rows];

export const FAULT_POINT_NAMES: readonly string[] = FAULT_POINTS.map((p) => p.name);
