// Reads a cluster file (YAML) for `gallocy serve`. The I/O and YAML parsing
// live here so cluster.ts only sees a parsed value. Every failure is an
// InputError (exit 2) whose message names the file, the field and what was
// expected, in the same form as scenario files: `FILE: field PATH: expected ...`.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { LineCounter, parseDocument, type Document } from 'yaml';
import { InputError } from '../cli/errors.js';
import { resolveCluster, validateCluster, type Cluster, type ClusterIssue } from './cluster.js';

export interface LoadedCluster {
  cluster: Cluster;
  /** Absolute path of the file read. */
  file: string;
}

export function loadCluster(file: string): LoadedCluster {
  const abs = path.resolve(file);
  return { cluster: parseClusterText(readText(abs), abs), file: abs };
}

/** Parses and validates YAML text; `file` names it in messages and its folder anchors relative paths. */
export function parseClusterText(text: string, file: string): Cluster {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  if (doc.errors.length > 0) {
    throw new InputError(
      doc.errors
        .map((e) => {
          const pos = e.linePos?.[0] ?? lineCounter.linePos(e.pos[0]);
          return `${file}:${pos.line}:${pos.col}: YAML syntax error (line ${pos.line}, column ${pos.col}): ${e.message.split('\n')[0]}`;
        })
        .join('\n'),
    );
  }
  const checked = validateCluster(doc.toJS());
  if (!checked.ok) throw new InputError(checked.issues.flatMap((i) => describeIssue(i, file, doc, lineCounter)).join('\n'));
  return resolveCluster(checked.cluster, path.dirname(path.resolve(file)));
}

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : (err as Error).message;
    throw new InputError(`${file}: cannot read cluster file: ${why}`);
  }
}

// The two helpers below follow src/cli/scenario-file.ts, which does not export
// its own; the wording must stay the same so users see one style of message.

/** One line per issue: `FILE: field PATH: expected ... (line N)`. */
function describeIssue(issue: ClusterIssue, file: string, doc: Document, lc: LineCounter): string[] {
  const unknown = /^Unrecognized keys?: (.*)$/.exec(issue.message);
  if (unknown) {
    // zod reports unknown keys on the parent object; name each key as the field instead.
    const keys = [...unknown[1]!.matchAll(/"([^"]*)"/g)].map((m) => m[1]!);
    return keys.map((key) => {
      const field = issue.path === '(top level)' ? key : `${issue.path}.${key}`;
      return `${file}: field ${field}: expected a known field, got unrecognized key "${key}"${lineOf(field, doc, lc)}`;
    });
  }
  // zod says "Invalid input: expected string, received number"; keep the part that says what was expected.
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
    if (node && typeof node === 'object' && node.range) return ` (line ${lc.linePos(node.range[0]).line})`;
  }
  return '';
}
