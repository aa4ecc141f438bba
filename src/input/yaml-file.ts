// Validated YAML input files (scenarios, cluster files): reading, YAML syntax
// errors with line and column, and schema issues as one line each,
// `FILE: field PATH: expected ... (line N)`. Every failure is an InputError
// (exit code 2), so users see one style of message for every file.
import { readFileSync } from 'node:fs';
import { LineCounter, parseDocument, type Document } from 'yaml';
import { InputError } from './errors.js';
import { expectedPart } from './issues.js';
import type { InputIssue } from './issues.js';


export type Validation<T> = { ok: true; value: T } | { ok: false; issues: InputIssue[] };

/** The file's text; `what` names the kind of file in the message ("scenario file"). */
export function readInputFile(file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : (err as Error).message;
    throw new InputError(`${file}: cannot read ${what}: ${why}`);
  }
}

/** Parses YAML text and validates it; `file` is only used in messages. */
export function parseYamlInput<T>(text: string, file: string, validate: (value: unknown) => Validation<T>): T {
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
  const checked = validate(doc.toJS());
  if (checked.ok) return checked.value;
  throw new InputError(checked.issues.flatMap((i) => describeIssue(i, file, doc, lineCounter)).join('\n'));
}

/** One line per issue: `FILE: field PATH: expected ... (line N)`. */
function describeIssue(issue: InputIssue, file: string, doc: Document, lc: LineCounter): string[] {
  const unknown = /^Unrecognized keys?: (.*)$/.exec(issue.message);
  if (unknown) {
    // zod reports unknown keys on the parent object; name each key as the field instead.
    const keys = [...unknown[1]!.matchAll(/"([^"]*)"/g)].map((m) => m[1]!);
    return keys.map((key) => {
      const field = issue.path === '(top level)' ? key : `${issue.path}.${key}`;
      return `${file}: field ${field}: expected a known field, got unrecognized key "${key}"${lineOf(field, doc, lc)}`;
    });
  }
  return [`${file}: field ${issue.path}: ${expectedPart(issue.message)}${lineOf(issue.path, doc, lc)}`];
}

/** " (line N)" for the field, or its nearest ancestor present in the file, or '' if none. */
function lineOf(field: string, doc: Document, lc: LineCounter): string {
  if (field === '(top level)') return '';
  const segments: Array<string | number> = [...field.matchAll(/\[(\d+)\]|([^.[\]]+)/g)].map((m) =>
    m[1] !== undefined ? Number(m[1]) : m[2]!,
  );
  for (let n = segments.length; n > 0; n--) {
    const node = doc.getIn(segments.slice(0, n), true) as { range?: [number, number, number] } | undefined;
    if (node && typeof node === 'object' && node.range) return ` (line ${lc.linePos(node.range[0]).line})`;
  }
  return '';
}
