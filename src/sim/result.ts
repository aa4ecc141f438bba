// What one simulated run reports, and how a run is judged. Shared by the
// simulator (which produces it) and the command line (which prints it).
import type { HostInspection } from './inspect.js';
import { expectedViolations, expectLabel } from './scenario.js';
import type { Scenario } from './scenario.js';
import type { TraceEvent } from '../host/trace-events.js';

export interface Violation {
  /** The invariant's name, e.g. 'election-safety'. */
  invariant: string;
  message: string;
  /** Global simulated time of the event after which the check failed. */
  timeUs: number;
  /** The last events of the trace before the violation, oldest first. */
  lastEvents: TraceEvent[];
}

export interface RunResult {
  scenario: string;
  seed: number;
  traceHash: string;
  events: number;
  simSeconds: number;
  violation: Violation | null;
  /** Fault kinds this seed enabled (swarm testing picks a subset per seed). */
  faultKinds: string[];
  /** Every coverage probe (src/host/probes.ts) by name, with how often this run took its path. */
  probes: Record<string, number>;
  /** The fault points this run enabled (buggify), by name, with how often each fired. */
  faultPointsFired: Record<string, number>;
  /** Counters worth printing: commits, messages, faults injected, ... */
  stats: Record<string, number>;
  /** Each host's state at the end (or at stopAtS), if asked for. */
  inspection?: HostInspection[];
}

export interface RunOptions {
  /** Receives every trace event as one JSON line (replay --trace). */
  traceSink?: (line: string) => void;
  /** Stop the run at this simulated time instead of the scenario's end. */
  stopAtS?: number;
  /** Report each host's replicas, page tables and held pages at the end. */
  inspect?: boolean;
}

/**
 * A seed fails when it finds a violation, or, in a scenario that expects one
 * (a deliberately unsafe configuration), when it finds none or a different one.
 */
export function judge(scenario: Scenario, result: RunResult): { failed: boolean; reason: string } {
  const names = expectedViolations(scenario);
  const expected = expectLabel(scenario);
  if (names === null || expected === undefined) {
    return result.violation
      ? { failed: true, reason: `${result.violation.invariant}: ${result.violation.message}` }
      : { failed: false, reason: '' };
  }
  if (result.violation === null) return { failed: true, reason: `expected a ${expected} violation, found none` };
  if (!names.includes(result.violation.invariant)) {
    return { failed: true, reason: `expected a ${expected} violation, found ${result.violation.invariant}: ${result.violation.message}` };
  }
  return { failed: false, reason: '' };
}
