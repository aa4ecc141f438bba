// JSON read back from files gallocy (or a user) wrote: fuzz reports given to
// `gallocy merge`, lines of a seed file. Same message style as the YAML inputs
// (src/input/yaml-file.ts): `WHERE: field PATH: expected ...`, one line per
// issue, as an InputError (exit 2). WHERE is a file, or file:line for JSON lines.
import type { z } from 'zod';
import { InputError } from './errors.js';
import { expectedPart, fieldPath } from './issues.js';

/** Parses one JSON document and validates it against `schema`. */
export function parseJsonInput<T>(text: string, where: string, what: string, schema: z.ZodType<T>): T {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new InputError(`${where}: expected ${what} as JSON, got a syntax error: ${(err as Error).message}`);
  }
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  throw new InputError(parsed.error.issues.map((i) => `${where}: field ${fieldPath(i.path)}: ${expectedPart(i.message)}`).join('\n'));
}

/** The non-blank lines of a JSON-lines text, with their 1-based line numbers. */
export function jsonLines(text: string): Array<{ line: number; text: string }> {
  return text
    .split('\n')
    .map((t, i) => ({ line: i + 1, text: t.trim() }))
    .filter((l) => l.text !== '');
}
