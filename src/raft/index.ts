export * from './types.js';
export { RawNode } from './rawnode.js';
export { applyConfChangeTo, parseConfChange, encodeConfChange, isConfChange } from './confchange.js';
export { isValidMessage } from './validate.js';
export { applyCommitted } from './apply.js';
export { inertFaultPoints, RaftPoint, RaftProbe, RAFT_FAULT_POINTS, RAFT_PROBES, declareFaultPoints, declareProbes } from './fault-points.js';
export type { FaultPoints, FaultPointInfo, ProbeInfo } from './fault-points.js';
export { MAX_INDEX_STEP, MAX_TERM_STEP, noRefusals } from './bounds.js';
export type { Refusals } from './bounds.js';
