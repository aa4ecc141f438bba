// Single-server membership changes as pure functions over ConfState.

import type { ConfChange, ConfState, NodeId } from './types.js';

function isId(x: unknown): x is NodeId {
  return typeof x === 'number' && Number.isSafeInteger(x) && x > 0;
}

/** Parse a conf entry's data; null if it is not a well-formed ConfChange. */
export function parseConfChange(data: string): ConfChange | null {
  let v: unknown;
  try {
    v = JSON.parse(data);
  } catch {
    return null;
  }
  return isConfChange(v) ? { type: v.type, node: v.node } : null;
}

export function isConfChange(v: unknown): v is ConfChange {
  if (typeof v !== 'object' || v === null) return false;
  const o = v as Record<string, unknown>;
  return (o['type'] === 'addNode' || o['type'] === 'removeNode' || o['type'] === 'addLearner') && isId(o['node']);
}

export function encodeConfChange(cc: ConfChange): string {
  return JSON.stringify({ type: cc.type, node: cc.node });
}

const sorted = (ids: NodeId[]): NodeId[] => [...ids].sort((a, b) => a - b);

/**
 * Apply a change. Idempotent: re-applying a change already in effect returns an equal state,
 * which lets a restarted node replay conf entries the driver applies again.
 * addLearner on an existing voter is a no-op (demotion is not supported).
 */
export function applyConfChangeTo(c: ConfState, cc: ConfChange): ConfState {
  const voters = c.voters.filter((v) => v !== cc.node);
  const learners = c.learners.filter((v) => v !== cc.node);
  switch (cc.type) {
    case 'addNode':
      voters.push(cc.node);
      break;
    case 'addLearner':
      if (c.voters.includes(cc.node)) voters.push(cc.node);
      else learners.push(cc.node);
      break;
    case 'removeNode':
      break;
  }
  return { voters: sorted(voters), learners: sorted(learners) };
}

/** Whether a proposed change would actually change c (and leave at least one voter). */
export function isEffectiveChange(c: ConfState, cc: ConfChange): boolean {
  switch (cc.type) {
    case 'addNode':
      return !c.voters.includes(cc.node);
    case 'addLearner':
      return !c.voters.includes(cc.node) && !c.learners.includes(cc.node);
    case 'removeNode':
      if (c.voters.includes(cc.node)) return c.voters.length > 1;
      return c.learners.includes(cc.node);
  }
}

export function cloneConf(c: ConfState): ConfState {
  return { voters: sorted(c.voters), learners: sorted(c.learners.filter((l) => !c.voters.includes(l))) };
}

export function confEqual(a: ConfState, b: ConfState): boolean {
  return (
    a.voters.length === b.voters.length &&
    a.learners.length === b.learners.length &&
    a.voters.every((v, i) => v === b.voters[i]) &&
    a.learners.every((v, i) => v === b.learners[i])
  );
}
