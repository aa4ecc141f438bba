// The built-in workloads, by name, with their default options. Factories are
// exported too, for runs that pick other sizes.
import type { Workload } from '../thread.js';
import { allocChurnWorkload } from './alloc-churn.js';
import { counterWorkload } from './counter.js';
import { matrixWorkload } from './matrix.js';
import { registersWorkload } from './registers.js';

export * from './alloc-churn.js';
export * from './counter.js';
export * from './matrix.js';
export * from './registers.js';

export const WORKLOADS: Readonly<Record<string, Workload>> = Object.freeze({
  registers: registersWorkload(),
  counter: counterWorkload(),
  matrix: matrixWorkload(),
  'alloc-churn': allocChurnWorkload(),
});

export const WORKLOAD_NAMES: readonly string[] = Object.keys(WORKLOADS);

/** The default instance of a built-in workload; throws, listing the names, for an unknown one. */
export function workloadByName(name: string): Workload {
  const w = Object.hasOwn(WORKLOADS, name) ? WORKLOADS[name] : undefined;
  if (w === undefined) throw new Error(`unknown workload "${name}" (known: ${WORKLOAD_NAMES.join(', ')})`);
  return w;
}
