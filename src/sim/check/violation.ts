// A broken invariant. Checkers throw it from inside an event handler; the run
// catches it, stops, and reports it with the last events of the trace.
export class InvariantViolation extends Error {
  constructor(readonly invariant: string, message: string) {
    super(`${invariant}: ${message}`);
    this.name = 'InvariantViolation';
  }
}

export function violation(invariant: string, message: string): never {
  throw new InvariantViolation(invariant, message);
}
