// Latency percentiles shared by the benches that time real requests (etcd
// baseline, real mode), so both report the same definition of p50/p99.

/**
 * Nearest-rank percentiles (the smallest sample with at least p% of samples at
 * or below it): always an observed value, never an interpolation, which keeps
 * p99 honest when there are few samples. NaN for an empty list.
 */
export function latencyPercentiles(samplesUs: readonly number[]): { p50: number; p99: number } {
  if (samplesUs.length === 0) return { p50: NaN, p99: NaN };
  const sorted = Float64Array.from(samplesUs).sort(); // numeric sort, unlike Array#sort
  const rank = (p: number): number => sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)];
  return { p50: rank(50), p99: rank(99) };
}
