// Which owners replicate which range of pages. Deterministic: every host
// computes the same plan from the same inputs, so no one has to be told.

export interface CompanyPlan {
  /** Company id, 1-based; it is also the company's Raft group id. */
  company: number;
  firstPage: number;
  pages: number;
  /** The owners that replicate it, sorted. */
  members: number[];
}

export interface PlacementInput {
  /** Pages in the whole heap. */
  pages: number;
  /** Owner host ids. */
  owners: readonly number[];
  /** Owners per company. */
  replication: number;
}

/**
 * Splits the heap into ceil(owners / replication) contiguous ranges of equal
 * size (the last takes the remainder) and gives company c the `replication`
 * owners that follow owner (c-1)*replication around the sorted owner list, so
 * every owner serves at least one company and load spreads evenly.
 */
export function planCompanies(input: PlacementInput): CompanyPlan[] {
  const owners = [...new Set(input.owners)].sort((a, b) => a - b);
  if (owners.length === 0) throw new RangeError('placement: no owners');
  if (!Number.isInteger(input.replication) || input.replication < 1) throw new RangeError('placement: replication must be a positive integer');
  const replication = Math.min(input.replication, owners.length);
  const count = Math.max(1, Math.min(Math.ceil(owners.length / replication), input.pages));
  const per = Math.floor(input.pages / count);
  const plans: CompanyPlan[] = [];
  for (let i = 0; i < count; i++) {
    const members = new Set<number>();
    for (let k = 0; k < replication; k++) members.add(owners[(i * replication + k) % owners.length]!);
    plans.push({
      company: i + 1,
      firstPage: i * per,
      pages: i === count - 1 ? input.pages - i * per : per,
      members: [...members].sort((a, b) => a - b),
    });
  }
  return plans;
}

/** The company whose range holds a page. */
export function companyOfPage(plans: readonly CompanyPlan[], page: number): CompanyPlan | undefined {
  for (const p of plans) if (page >= p.firstPage && page < p.firstPage + p.pages) return p;
  return undefined;
}
