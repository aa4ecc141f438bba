// Which company manages a lock or a barrier: a deterministic spread over the
// companies by the object's number, so every host finds the same manager
// without being told, and locks and barriers do not all load one company.
import type { CompanyPlan } from '../placement.js';

export type SyncKind = 'lock' | 'barrier' | 'host';

/**
 * Lock id (or barrier name, or host id for a host's records) n goes to company plans[n mod C]; barriers
 * start one company further and hosts two, so lock 0, barrier 0 and host 0 part.
 */
export function companyOfSync(plans: readonly CompanyPlan[], kind: SyncKind, n: number): CompanyPlan {
  const shift = kind === 'barrier' ? 1 : kind === 'host' ? 2 : 0;
  return plans[(n + shift) % plans.length]!;
}
