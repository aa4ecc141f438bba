// One benchmark figure: printed as one JSON line by `npm run bench`.
export interface BenchResult {
  name: string;
  value: number;
  unit: string;
}

/** Rounds to a few significant digits, so the lines stay readable. */
export function figure(name: string, value: number, unit: string): BenchResult {
  const digits = Math.abs(value) >= 100 ? 0 : Math.abs(value) >= 1 ? 2 : 4;
  return { name, value: Number(value.toFixed(digits)), unit };
}
