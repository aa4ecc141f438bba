// Parses datadriven script files (the format of github.com/cockroachdb/datadriven):
//
//   # a comment
//   command arg1 key=value key=(a,b,c) key="quoted value"
//   optional input lines
//   ----
//   expected output, up to the next blank line
//
// An expected output that itself holds blank lines is fenced by a doubled separator:
//
//   command
//   ----
//   ----
//   output with
//
//   a blank line
//   ----
//   ----
//
// Everything outside blocks (comments, blank lines) is kept as it is, so a
// file can be written back with new outputs and no other change.

export const SEPARATOR = '----';

/** One argument: `key` (no values), `key=value`, or `key=(v1,v2)`. */
export interface Arg {
  key: string;
  vals: string[];
}

export interface Block {
  /** 1-based line of the command. */
  line: number;
  cmd: string;
  args: Arg[];
  /** The lines between the command and the separator, joined with newlines ('' if none). */
  input: string;
  expected: string;
  /** 0-based line range [start, end) the block occupies, separators and output included. */
  start: number;
  end: number;
  /** How many lines of the block come before its output: the command, input and separator(s). */
  headerLines: number;
}

export interface Script {
  lines: string[];
  blocks: Block[];
}

export class ParseError extends Error {
  constructor(readonly file: string, readonly line: number, detail: string) {
    super(`${file}:${line}: ${detail}`);
  }
}

/**
 * Splits a command line into words: whitespace separates them, except inside
 * parentheses or double quotes. A quoted word is a JSON string.
 */
function words(text: string, file: string, line: number): string[] {
  const out: string[] = [];
  let cur = '';
  let depth = 0;
  let quoted = false;
  let inWord = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      cur += c;
      if (c === '\\') cur += text[++i] ?? '';
      else if (c === '"') quoted = false;
      continue;
    }
    if (/\s/.test(c) && depth === 0) {
      if (inWord) out.push(cur);
      cur = '';
      inWord = false;
      continue;
    }
    inWord = true;
    cur += c;
    if (c === '"') quoted = true;
    else if (c === '(') depth++;
    else if (c === ')' && --depth < 0) throw new ParseError(file, line, `unbalanced ')' in ${JSON.stringify(text)}`);
  }
  if (quoted) throw new ParseError(file, line, `unterminated string in ${JSON.stringify(text)}`);
  if (depth !== 0) throw new ParseError(file, line, `unbalanced '(' in ${JSON.stringify(text)}`);
  if (inWord) out.push(cur);
  return out;
}

function unquote(word: string, file: string, line: number): string {
  if (!word.startsWith('"')) return word;
  try {
    return JSON.parse(word) as string;
  } catch {
    throw new ParseError(file, line, `bad string ${word} (expected a JSON string)`);
  }
}

function parseArg(word: string, file: string, line: number): Arg {
  const eq = word.startsWith('"') ? -1 : word.indexOf('=');
  if (eq < 0) return { key: unquote(word, file, line), vals: [] };
  const key = word.slice(0, eq);
  const value = word.slice(eq + 1);
  if (key === '') throw new ParseError(file, line, `argument ${JSON.stringify(word)} has no key before '='`);
  if (value.startsWith('(') && value.endsWith(')')) {
    const inner = value.slice(1, -1).trim();
    return { key, vals: inner === '' ? [] : inner.split(',').map((v) => unquote(v.trim(), file, line)) };
  }
  return { key, vals: [unquote(value, file, line)] };
}

/** The command and arguments of one command line. */
export function parseCommandLine(text: string, file = '<input>', line = 1): { cmd: string; args: Arg[] } {
  const ws = words(text, file, line);
  const cmd = ws[0];
  if (cmd === undefined) throw new ParseError(file, line, 'empty command');
  return { cmd, args: ws.slice(1).map((w) => parseArg(w, file, line)) };
}

const isBlank = (s: string): boolean => s.trim() === '';
const isComment = (s: string): boolean => s.trimStart().startsWith('#');

export function parseScript(text: string, file = '<input>'): Script {
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop(); // the file's final newline
  const blocks: Block[] = [];
  let i = 0;
  while (i < lines.length) {
    const l = lines[i]!;
    if (isBlank(l) || isComment(l)) {
      i++;
      continue;
    }
    const start = i;
    const { cmd, args } = parseCommandLine(l, file, i + 1);
    i++;
    const input: string[] = [];
    while (i < lines.length && lines[i] !== SEPARATOR) {
      if (isBlank(lines[i]!)) throw new ParseError(file, start + 1, `command ${JSON.stringify(l)} has no '${SEPARATOR}' line before its output`);
      input.push(lines[i]!);
      i++;
    }
    if (i >= lines.length) throw new ParseError(file, start + 1, `command ${JSON.stringify(l)} has no '${SEPARATOR}' line before its output`);
    i++; // the separator
    const output: string[] = [];
    let headerLines = i - start;
    if (lines[i] === SEPARATOR) {
      // Fenced output: up to a doubled separator.
      i++;
      headerLines++;
      for (;;) {
        if (i >= lines.length) throw new ParseError(file, start + 1, `output of ${JSON.stringify(l)} opened with '${SEPARATOR}' twice is never closed by '${SEPARATOR}' twice`);
        if (lines[i] === SEPARATOR && lines[i + 1] === SEPARATOR) {
          i += 2;
          break;
        }
        output.push(lines[i]!);
        i++;
      }
    } else {
      while (i < lines.length && !isBlank(lines[i]!)) output.push(lines[i++]!);
    }
    blocks.push({ line: start + 1, cmd, args, input: input.join('\n'), expected: output.join('\n'), start, end: i, headerLines });
  }
  return { lines, blocks };
}

/** The output as it is written after a block's separator. */
export function formatOutput(output: string): string[] {
  if (output === '') return [];
  const out = output.split('\n');
  if (out.some(isBlank)) return [SEPARATOR, ...out, SEPARATOR, SEPARATOR];
  return out;
}

/**
 * The script with each block's output replaced by outputs[k] (the command,
 * its input, comments and blank lines unchanged). A block left without
 * output keeps its old one.
 */
export function rewriteScript(script: Script, outputs: readonly (string | undefined)[]): string {
  const out: string[] = [];
  let at = 0;
  script.blocks.forEach((b, k) => {
    out.push(...script.lines.slice(at, b.start));
    const header = script.lines.slice(b.start, b.start + b.headerLines);
    const actual = outputs[k];
    if (actual === undefined) {
      out.push(...script.lines.slice(b.start, b.end));
    } else {
      // Drop an old fence: formatOutput adds one back if the new output needs it.
      const plainHeader = header[header.length - 1] === SEPARATOR && header[header.length - 2] === SEPARATOR ? header.slice(0, -1) : header;
      out.push(...plainHeader, ...formatOutput(actual));
    }
    at = b.end;
  });
  out.push(...script.lines.slice(at));
  return out.length === 0 ? '' : `${out.join('\n')}\n`;
}
