// Reads a scenario file: by name from the repo's scenarios/ folder, or by path.
// All the I/O and YAML parsing lives here so src/sim only ever sees a parsed
// value (src/sim/scenario.ts validates it). Every failure is an InputError
// whose message names the file, the field and what was expected.
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { LineCounter, parseDocument, type Document } from 'yaml';
import { validateScenario, type Scenario, type ScenarioIssue } from '../sim/scenario.js';
import { InputError } from './errors.js';
import { findRepoRoot } from './repo-root.js';

/** The scenario `fuzz` and `replay` run when --scenario is omitted. */
export const DEFAULT_SCENARIO = 'dsm-chaos';

export interface LoadedScenario {
  scenario: Scenario;
  /** Absolute path of the file read. */
  file: string;
  /** What to pass to --scenario to load it again: the name if found by name, else the path as given. */
  ref: string;
}

export function scenariosDir(): string {
  return path.join(findRepoRoot(), 'scenarios');
}

/** Names of the shipped scenarios (scenarios/NAME.yaml), sorted. */
export function listScenarioNames(dir: string = scenariosDir()): string[] {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return [];
  }
  return entries.filter((f) => f.endsWith('.yaml')).map((f) => f.slice(0, -'.yaml'.length)).sort();
}

/** A bare word is a name; anything with a path separator or a YAML extension is a path. */
function looksLikePath(s: string): boolean {
  return s.includes('/') || s.includes(path.sep) || /\.ya?ml$/i.test(s);
}

export function loadScenario(nameOrPath: string): LoadedScenario {
  if (nameOrPath.trim() === '') throw new InputError('--scenario: expected a scenario name or a path to a .yaml file, got an empty string');
  if (looksLikePath(nameOrPath)) {
    const file = path.resolve(nameOrPath);
    return { scenario: parseScenarioText(readText(file), file), file, ref: nameOrPath };
  }
  const names = listScenarioNames();
  if (!names.includes(nameOrPath)) {
    throw new InputError(
      `unknown scenario "${nameOrPath}": expected one of ${names.join(', ') || '(none found)'}, or a path to a .yaml file`,
    );
  }
  const file = path.join(scenariosDir(), `${nameOrPath}.yaml`);
  return { scenario: parseScenarioText(readText(file), file), file, ref: nameOrPath };
}

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : (err as Error).message;
    throw new InputError(`${file}: cannot read scenario file: ${why}`);
  }
}

/** Parses and validates YAML text; `file` is only used in messages. */
export function parseScenarioText(text: string, file: string): Scenario {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  if (doc.errors.length > 0) {
    const lines = doc.errors.map((e) => {
      // e.pos is a character offset; the line counter turns it into 1-based line and column.
      const pos = e.linePos?.[0] ?? lineCounter.linePos(e.pos[0]);
      return `${file}:${pos.line}:${pos.col}: YAML syntax error (line ${pos.line}, column ${pos.col}): ${e.message.split('\n')[0]}`;
    });
    throw new InputError(lines.join('\n'));
  }
  const checked = validateScenario(doc.toJS());
  if (checked.ok) return checked.scenario;
  throw new InputError(checked.issues.flatMap((i) => describeIssue(i, file, doc, lineCounter)).join('\n'));
}

/** One line per issue: `FILE: field PATH: expected ... (line N)`. */
function describeIssue(issue: ScenarioIssue, file: string, doc: Document, lc: LineCounter): string[] {
  const unknown = /^Unrecognized keys?: (.*)$/.exec(issue.message);
  if (unknown) {
    // zod reports unknown keys on the parent object; name each key as the field instead.
    const keys = [...unknown[1]!.matchAll(/"([^"]*)"/g)].map((m) => m[1]!);
    return keys.map((key) => {
      const field = issue.path === '(top level)' ? key : `${issue.path}.${key}`;
      return `${file}: field ${field}: expected a known field, got unrecognized key "${key}"${lineOf(field, doc, lc)}`;
    });
  }
  // zod says "Too small: expected number to be >=1"; keep the part that says what was expected.
  const expected = /^[A-Z][\w ]*: (expected .*)$/s.exec(issue.message);
  const message = expected ? expected[1]! : issue.message;
  return [`${file}: field ${issue.path}: ${message}${lineOf(issue.path, doc, lc)}`];
}

/** " (line N)" for the field, or its nearest ancestor present in the file, or '' if none. */
function lineOf(field: string, doc: Document, lc: LineCounter): string {
  if (field === '(top level)') return '';
  const segments: Array<string | number> = [...field.matchAll(/\[(\d+)\]|([^.[\]]+)/g)].map((m) =>
    m[1] !== undefined ? Number(m[1]) : m[2]!,
  );
  for (let n = segments.length; n > 0; n--) {
    const node = doc.getIn(segments.slice(0, n), true) as { range?: [number, number, number] } | undefined;
    if (node && typeof node === 'object' && node.range) {
      return ` (line ${lc.linePos(node.range[0]).line})`;
    }
  }
  return '';
}
