// Checks one trace file line against the vocabulary: a JSON object whose keys
// are exactly t, host, kind, then the kind's fields in order (and its note),
// each of the right type. Returns what is wrong, or null.
import { traceEventSpec } from '../../src/host/trace-events.js';

export function checkTraceLine(line: string): string | null {
  let e: unknown;
  try {
    e = JSON.parse(line);
  } catch {
    return `not JSON: ${line}`;
  }
  if (typeof e !== 'object' || e === null || Array.isArray(e)) return `not an object: ${line}`;
  const o = e as Record<string, unknown>;
  const spec = typeof o.kind === 'string' ? traceEventSpec(o.kind) : undefined;
  if (spec === undefined) return `unknown kind ${JSON.stringify(o.kind)}: ${line}`;
  const expected = ['t', 'host', 'kind', ...spec.fields, ...(spec.note !== undefined ? [spec.note] : [])];
  if (Object.keys(o).join() !== expected.join()) return `expected keys ${expected.join()}, got ${Object.keys(o).join()}: ${line}`;
  for (const name of ['t', 'host', ...spec.fields]) {
    if (typeof o[name] !== 'number') return `${name}: expected a number, got ${JSON.stringify(o[name])}: ${line}`;
  }
  if (spec.note !== undefined && typeof o[spec.note] !== 'string') {
    return `${spec.note}: expected a string, got ${JSON.stringify(o[spec.note])}: ${line}`;
  }
  return null;
}
