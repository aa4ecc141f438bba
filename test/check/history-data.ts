// Porcupine's histories with known answers, kept in the project
// (test/data/linearizability, see its README for source and licence).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { findRepoRoot } from '../../src/cli/repo-root.js';

/** A path inside the histories folder (the folder itself with no parts). */
export function historyData(...parts: string[]): string {
  return path.join(findRepoRoot(), 'test', 'data', 'linearizability', ...parts);
}

/** Each history file (relative to the folder) and whether it is linearizable. */
export function expectedVerdicts(): Record<string, boolean> {
  return JSON.parse(readFileSync(historyData('expected.json'), 'utf8')) as Record<string, boolean>;
}

export function readHistory(file: string): string {
  return readFileSync(historyData(file), 'utf8');
}
