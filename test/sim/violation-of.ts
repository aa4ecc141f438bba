// Runs a check and says which invariant it reported (null if none).
import { InvariantViolation } from '../../src/sim/check/violation.js';

export function violationOf(fn: () => void): string | null {
  try {
    fn();
    return null;
  } catch (err) {
    if (err instanceof InvariantViolation) return err.invariant;
    throw err;
  }
}
