// What makes a smaller failure the same failure. The invariant alone is too
// loose: `liveness` fires for an unanswered client, a group without a leader
// and a thread waiting for a page, and a shrink that took every cut still
// failing `liveness` could drift from the bug it was given to another one.
// The message says which check fired; its numbers (hosts, indexes, times)
// are what shrinking is expected to change, so they are left out.
import type { Violation } from '../result.js';

/** A run of numbers, decimals and lists of them ("1, 2 and 3"): one placeholder. */
const NUMBERS = /\d+(?:\.\d+)?(?:(?:\s*,\s*|\s+and\s+|\.\.)\d+(?:\.\d+)?)*/g;

/**
 * The invariant and the shape of the message's first clause (a workload's
 * message lists up to three failed checks, separated by '; ').
 */
export function failureSignature(v: Pick<Violation, 'invariant' | 'message'>): string {
  const first = (v.message.split('\n')[0] ?? '').split('; ')[0] ?? '';
  return `${v.invariant}: ${first.replace(NUMBERS, '#')}`;
}

/** Whether `r` fails as `target` does: the same signature, or (`anyMessage`) only the same invariant. */
export function sameFailure(target: Pick<Violation, 'invariant' | 'message'>, r: Pick<Violation, 'invariant' | 'message'> | null, anyMessage: boolean): boolean {
  if (r === null || r.invariant !== target.invariant) return false;
  return anyMessage || failureSignature(r) === failureSignature(target);
}
