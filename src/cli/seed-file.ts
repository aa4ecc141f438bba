// The seed file of past failures (`fuzz --seed-file FILE`, TigerBeetle keeps
// such a database): JSON lines, one failing seed each. A campaign re-runs the
// seeds recorded for its scenario before its own range, so a regression shows
// up first, and appends the failures it finds that were not recorded yet.
// Lines are kept forever: a fixed bug's seed stays a regression test.
//
//   {"scenario":"buggy","scenarioHash":"3f1c...","seed":17,"invariant":"committed-durable-on-quorum","firstSeen":"2025-01-31T12:00:00.000Z"}
//
// Only scenario and seed are required (add seeds by hand with just those);
// other fields are kept as written. A line is for a campaign when its scenario
// name or its scenarioHash matches; a shard re-runs only the seeds it owns.
import { appendFileSync, closeSync, fstatSync, mkdirSync, openSync, readFileSync, readSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { InputError } from '../input/errors.js';
import type { Campaign } from './campaign.js';
import { jsonLines, parseJsonInput } from '../input/json-input.js';

const pastFailureSchema = z.looseObject({
  scenario: z.string().min(1),
  seed: z.int().min(0),
  scenarioHash: z.string().optional(),
  invariant: z.string().optional(),
  firstSeen: z.string().optional(),
});

export type PastFailure = z.infer<typeof pastFailureSchema>;

/** Every line of the file; a file that does not exist yet holds none. */
export function readSeedFile(file: string): PastFailure[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return [];
    throw new InputError(`${file}: cannot read seed file: ${code === 'EISDIR' ? 'is a directory' : (err as Error).message}`);
  }
  return jsonLines(text).map((l) => parseJsonInput(l.text, `${file}:${l.line}`, 'a past failure', pastFailureSchema));
}

function isFor(p: PastFailure, campaign: Campaign): boolean {
  return p.scenario === campaign.scenario || p.scenarioHash === campaign.scenarioHash;
}

/** The recorded seeds of the campaign's scenario that the given shard re-runs, ascending, each once. */
export function seedsToRerun(past: readonly PastFailure[], campaign: Campaign, owns: (seed: number) => boolean): number[] {
  const seeds = new Set(past.filter((p) => isFor(p, campaign) && owns(p.seed)).map((p) => p.seed));
  return [...seeds].sort((a, b) => a - b);
}

/** Appends the failures not recorded yet for this scenario; returns how many. */
export function recordNewFailures(
  file: string,
  past: readonly PastFailure[],
  campaign: Campaign,
  failures: ReadonlyArray<{ seed: number; invariant: string }>,
): number {
  const lines = newPastFailures(past, campaign, failures, new Date().toISOString());
  appendToSeedFile(file, lines);
  return lines.length;
}

/** The summary line that says what was recorded. */
export function formatRecorded(file: string, recorded: number): string {
  return `  seed file  ${file}: ${recorded} new ${recorded === 1 ? 'failure' : 'failures'} recorded\n`;
}

/** Lines for the failures not recorded yet for this scenario. */
function newPastFailures(
  past: readonly PastFailure[],
  campaign: Campaign,
  failures: ReadonlyArray<{ seed: number; invariant: string }>,
  firstSeen: string,
): PastFailure[] {
  const known = new Set(past.filter((p) => isFor(p, campaign)).map((p) => p.seed));
  return failures
    .filter((f) => !known.has(f.seed))
    .map((f) => ({ scenario: campaign.scenario, scenarioHash: campaign.scenarioHash, seed: f.seed, invariant: f.invariant, firstSeen }));
}

/** Appends in one write, so shards sharing a file on one machine do not interleave their lines. */
function appendToSeedFile(file: string, lines: readonly PastFailure[]): void {
  if (lines.length === 0) return;
  try {
    mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    const text = lines.map((l) => `${JSON.stringify(l)}\n`).join('');
    appendFileSync(file, endsMidLine(file) ? `\n${text}` : text);
  } catch (err) {
    throw new InputError(`${file}: cannot append to seed file: ${(err as Error).message}`);
  }
}

/** Whether the file exists and its last line has no newline (a hand edit), so appending would join two lines. */
function endsMidLine(file: string): boolean {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return false;
  }
  try {
    const size = fstatSync(fd).size;
    if (size === 0) return false;
    const last = Buffer.alloc(1);
    readSync(fd, last, 0, 1, size - 1);
    return last[0] !== 0x0a;
  } finally {
    closeSync(fd);
  }
}
