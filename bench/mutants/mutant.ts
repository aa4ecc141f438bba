// A mutant: one planted bug, kept as a search/replace patch in its own file
// (bench/mutants/NAME.mutant), and applying it to a tree in memory. The format:
//
//   # name: raft-commit-old-term          (must match the file name)
//   # family: raft                        (raft | dsm | heap | host: which scenarios hunt it)
//   # class: what kind of bug it is
//   # source: where such a bug was reported
//   # checker: the invariant that should fire
//   # equivalent: why it cannot be told apart   (only for an equivalent mutant)
//   # any other comment line: prose; "#   more" continues the field above
//   @@ src/raft/raft.ts
//   <<<<<<< SEARCH
//   lines that must occur exactly once in the file
//   =======
//   what they become
//   >>>>>>> REPLACE
//
// Search text is matched exactly (whitespace included) and must be unique, so a
// patch either applies as written or is reported stale: code that moved never
// gets mutated somewhere else by accident.

export const FAMILIES = ['raft', 'dsm', 'heap', 'host'] as const;
export type Family = (typeof FAMILIES)[number];

export interface Replacement {
  /** Line of the mutant file where the block starts (for messages). */
  line: number;
  search: string;
  replace: string;
}

export interface FilePatch {
  path: string;
  blocks: Replacement[];
}

export interface Mutant {
  name: string;
  family: Family;
  bugClass: string;
  source: string;
  checker: string;
  /** Set for an equivalent mutant: the argument that no run can tell it from the original. */
  equivalent: string | null;
  files: FilePatch[];
}

/** A mutant file that does not follow the format; the message names the file and line. */
export class MutantFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MutantFormatError';
  }
}

const REQUIRED = ['name', 'family', 'class', 'source', 'checker'] as const;
const FIELDS = new Set<string>([...REQUIRED, 'equivalent']);
const SEARCH = '<<<<<<< SEARCH';
const DIVIDER = '=======';
const REPLACE = '>>>>>>> REPLACE';

/** Parses a mutant file's text; `file` is used in messages only. */
export function parseMutant(text: string, file: string): Mutant {
  const lines = text.split('\n');
  const fields = new Map<string, string>();
  let i = 0;
  let last: string | null = null;
  for (; i < lines.length && lines[i]!.startsWith('#'); i++) {
    const body = lines[i]!.slice(1);
    const field = /^ ([a-z]+): (.*)$/.exec(body);
    if (field !== null && FIELDS.has(field[1]!)) {
      if (fields.has(field[1]!)) throw new MutantFormatError(`${file}:${i + 1}: field '${field[1]}' given twice`);
      fields.set(field[1]!, field[2]!.trim());
      last = field[1]!;
    } else if (last !== null && /^ {3}\S/.test(body)) {
      fields.set(last, `${fields.get(last)!} ${body.trim()}`);
    } else {
      last = null;
    }
  }
  for (const f of REQUIRED) {
    if (!fields.get(f)) throw new MutantFormatError(`${file}: missing header field '# ${f}: ...'`);
  }
  const family = fields.get('family')!;
  if (!(FAMILIES as readonly string[]).includes(family)) {
    throw new MutantFormatError(`${file}: field 'family': expected one of ${FAMILIES.join(', ')}, got '${family}'`);
  }
  const files = parseBlocks(lines, i, file);
  if (files.length === 0) throw new MutantFormatError(`${file}: no '@@ path' section after the header`);
  return {
    name: fields.get('name')!,
    family: family as Family,
    bugClass: fields.get('class')!,
    source: fields.get('source')!,
    checker: fields.get('checker')!,
    equivalent: fields.get('equivalent') ?? null,
    files,
  };
}

function parseBlocks(lines: string[], from: number, file: string): FilePatch[] {
  const files: FilePatch[] = [];
  let current: FilePatch | null = null;
  let i = from;
  const at = (n: number): string => `${file}:${n + 1}`;
  while (i < lines.length) {
    const line = lines[i]!;
    if (line.trim() === '') {
      i++;
      continue;
    }
    if (line.startsWith('@@ ')) {
      const path = line.slice(3).trim();
      if (path === '' || path.startsWith('/') || path.split('/').includes('..')) {
        throw new MutantFormatError(`${at(i)}: expected a path inside the repository after '@@ ', got '${path}'`);
      }
      current = { path, blocks: [] };
      files.push(current);
      i++;
      continue;
    }
    if (line !== SEARCH) throw new MutantFormatError(`${at(i)}: expected '@@ path' or '${SEARCH}', got '${line}'`);
    if (current === null) throw new MutantFormatError(`${at(i)}: a '${SEARCH}' block before any '@@ path' line`);
    const start = i;
    const divider = lines.indexOf(DIVIDER, i + 1);
    const end = divider < 0 ? -1 : lines.indexOf(REPLACE, divider + 1);
    if (divider < 0 || end < 0) throw new MutantFormatError(`${at(start)}: block not closed by '${DIVIDER}' and '${REPLACE}'`);
    const search = lines.slice(i + 1, divider).join('\n');
    const replace = lines.slice(divider + 1, end).join('\n');
    if (search.trim() === '') throw new MutantFormatError(`${at(start)}: empty search text`);
    if (search === replace) throw new MutantFormatError(`${at(start)}: the replacement equals the search text`);
    current.blocks.push({ line: start + 1, search, replace });
    i = end + 1;
  }
  for (const f of files) {
    if (f.blocks.length === 0) throw new MutantFormatError(`${file}: '@@ ${f.path}' has no ${SEARCH} block`);
  }
  return files;
}

/** How many times `needle` occurs in `hay` (overlaps included). */
function occurrences(hay: string, needle: string): number {
  let n = 0;
  for (let at = hay.indexOf(needle); at >= 0; at = hay.indexOf(needle, at + 1)) n++;
  return n;
}

export type ApplyOutcome =
  | { ok: true; files: Map<string, string> }
  /** The patch no longer fits the code: each problem names the file and the block. */
  | { ok: false; problems: string[] };

/**
 * Applies a mutant to the files `read` returns (null: no such file), in
 * memory. Blocks of one file apply in order, each to the text the previous
 * ones left.
 */
export function applyMutant(m: Mutant, read: (path: string) => string | null): ApplyOutcome {
  const out = new Map<string, string>();
  const problems: string[] = [];
  for (const f of m.files) {
    let text = out.get(f.path) ?? read(f.path);
    if (text === null) {
      problems.push(`${f.path}: no such file`);
      continue;
    }
    for (const b of f.blocks) {
      const n = occurrences(text, b.search);
      if (n !== 1) {
        problems.push(`${f.path}: the block at line ${b.line} of the mutant ${n === 0 ? 'is not in the file' : `occurs ${n} times`}`);
        continue;
      }
      const at = text.indexOf(b.search);
      text = text.slice(0, at) + b.replace + text.slice(at + b.search.length);
    }
    out.set(f.path, text);
  }
  return problems.length > 0 ? { ok: false, problems } : { ok: true, files: out };
}
