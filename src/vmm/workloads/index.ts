// The built-in workloads, by name, with their default options. Factories are
// exported too, for runs that pick other sizes.
import type { Workload } from '../thread.js';
import { ALLOC_CHURN_DEFAULTS, allocChurnWorkload } from './alloc-churn.js';
import { COUNTER_DEFAULTS, counterWorkload } from './counter.js';
import { FALSE_SHARING_DEFAULTS, falseSharingWorkload } from './false-sharing.js';
import { LOCKED_LIST_DEFAULTS, lockedListWorkload } from './locked-list.js';
import { MATRIX_BARRIER_DEFAULTS, matrixBarrierWorkload } from './matrix-barrier.js';
import { MATRIX_DEFAULTS, matrixWorkload } from './matrix.js';
import { REGISTERS_DEFAULTS, registersWorkload } from './registers.js';

export * from './alloc-churn.js';
export * from './counter.js';
export * from './false-sharing.js';
export * from './locked-list.js';
export * from './matrix-barrier.js';
export * from './matrix.js';
export * from './registers.js';

export const WORKLOADS: Readonly<Record<string, Workload>> = Object.freeze({
  registers: registersWorkload(),
  counter: counterWorkload(),
  matrix: matrixWorkload(),
  'alloc-churn': allocChurnWorkload(),
  'false-sharing': falseSharingWorkload(),
  'matrix-barrier': matrixBarrierWorkload(),
  'locked-list': lockedListWorkload(),
});

export const WORKLOAD_NAMES: readonly string[] = Object.keys(WORKLOADS);

/** The default instance of a built-in workload; throws, listing the names, for an unknown one. */
export function workloadByName(name: string): Workload {
  const w = Object.hasOwn(WORKLOADS, name) ? WORKLOADS[name] : undefined;
  if (w === undefined) throw new Error(`unknown workload "${name}" (known: ${WORKLOAD_NAMES.join(', ')})`);
  return w;
}

/** Each built-in workload's options with their defaults (an integer default means an integer option). */
export const WORKLOAD_OPTION_DEFAULTS: Readonly<Record<string, Readonly<Record<string, number>>>> = Object.freeze({
  registers: { ...REGISTERS_DEFAULTS },
  counter: { ...COUNTER_DEFAULTS },
  matrix: { ...MATRIX_DEFAULTS },
  'alloc-churn': { ...ALLOC_CHURN_DEFAULTS },
  'false-sharing': { ...FALSE_SHARING_DEFAULTS },
  'matrix-barrier': { ...MATRIX_BARRIER_DEFAULTS },
  'locked-list': { ...LOCKED_LIST_DEFAULTS },
});

/** A built-in workload with these options; throws, naming the option, for a bad value. */
export function workloadOf(name: string, options: Readonly<Record<string, number>>): Workload {
  switch (name) {
    case 'registers': return registersWorkload(options);
    case 'counter': return counterWorkload(options);
    case 'matrix': return matrixWorkload(options);
    case 'alloc-churn': return allocChurnWorkload(options);
    case 'false-sharing': return falseSharingWorkload(options);
    case 'matrix-barrier': return matrixBarrierWorkload(options);
    case 'locked-list': return lockedListWorkload(options);
    default: return workloadByName(name);
  }
}
