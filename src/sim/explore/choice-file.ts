// The choice file: a path an exploration took to a violation, with all it
// needs to be taken again (scenario name, seed, fault budget, reductions), as
// JSON. This module only builds and validates the value; src/cli reads and
// writes the file.
import { z } from 'zod';
import type { Violation } from '../result.js';
import { isChoiceKey } from './choice.js';
import type { PathStep, Strategy } from './explorer.js';
import type { FaultBudget, Reductions } from './session.js';

export const CHOICE_FILE_FORMAT = 'gallocy-choices/1';

const count = z.number().int().nonnegative();

export const choiceFileSchema = z
  .object({
    format: z.literal(CHOICE_FILE_FORMAT),
    scenario: z.string().min(1),
    seed: z.number().int().nonnegative(),
    strategy: z.string().optional(),
    faults: z.object({ crashes: count, losses: count, duplicates: count }).strict(),
    reductions: z.object({ instantDisk: z.boolean(), skipIdleTicks: z.boolean() }).strict(),
    violation: z.object({ invariant: z.string(), message: z.string() }).strict().nullable(),
    choices: z.array(
      z.object({
        key: z.string().refine(isChoiceKey, { message: 'expected "run N", "lose N", "duplicate N", "crash H" or "restart H"' }),
        label: z.string().default(''),
      }).strict(),
    ),
  })
  .strict();

export type ChoiceFile = z.infer<typeof choiceFileSchema>;

export interface ChoiceFileInput {
  scenario: string;
  seed: number;
  strategy: Strategy;
  faults: FaultBudget;
  reductions: Reductions;
  violation: Violation | null;
  path: readonly PathStep[];
}

export function choiceFile(i: ChoiceFileInput): ChoiceFile {
  return {
    format: CHOICE_FILE_FORMAT,
    scenario: i.scenario,
    seed: i.seed,
    strategy: i.strategy,
    faults: { ...i.faults },
    reductions: { ...i.reductions },
    violation: i.violation === null ? null : { invariant: i.violation.invariant, message: i.violation.message },
    choices: i.path.map((p) => ({ key: p.key, label: p.label })),
  };
}

export type ChoiceFileIssue = { path: string; message: string };

export function validateChoiceFile(value: unknown): { ok: true; value: ChoiceFile } | { ok: false; issues: ChoiceFileIssue[] } {
  const r = choiceFileSchema.safeParse(value);
  if (r.success) return { ok: true, value: r.data };
  return {
    ok: false,
    issues: r.error.issues.map((i) => ({
      path: i.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('').replace(/^\./, '') || '(top level)',
      message: i.message,
    })),
  };
}
