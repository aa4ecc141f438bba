// Which company manages a lock or a barrier: a deterministic spread over the
// companies by the object's number, so every host finds the same manager
// without being told, and locks and barriers do not all load one company.
import type { CompanyPlan } from '../placement.js';

export type SyncKind = 'lock' | 'barrier';

/** Lock id (or barrier name) n goes to company plans[n mod C]; barriers start one company further, so lock 0 and barrier 0 part. */
export function companyOfSync(plans: readonly CompanyPlan[], kind: SyncKind, n: number): CompanyPlan {
  const shift = kind === 'barrier' ? 1 : 0;
  return plans[(n + shift) % plans.length]!;
}
