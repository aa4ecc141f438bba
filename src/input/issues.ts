// Schema issues, the same way for every input: the field as a.b[2].c
// ('(top level)' for the root), and what was expected.
import type { z } from 'zod';

/** A schema issue: the field and what went wrong. */
export interface InputIssue { path: string; message: string }

export function fieldPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out === '' ? String(p) : `.${String(p)}`;
  return out === '' ? '(top level)' : out;
}

/** zod says "Too small: expected number to be >=1"; keep the part that says what was expected. */
export function expectedPart(message: string): string {
  return /^[A-Z][\w ]*: (expected .*)$/s.exec(message)?.[1] ?? message;
}

export function issuesOf(error: z.ZodError): InputIssue[] {
  return error.issues.map((i) => ({ path: fieldPath(i.path), message: i.message }));
}
