// Runs datadriven scripts: each block's command goes to a handler, whose
// output is compared with the golden text under the separator. A mismatch
// names the file and line of the command and shows a line diff; in rewrite
// mode the actual outputs are written back into the script instead.
//
// Golden files live in the source tree (test/<area>/testdata/*.txt) while the
// compiled tests run from dist/test/..., so paths are resolved from the
// repository root.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Test } from 'uvu';
import { lines as lineDiff } from 'uvu/diff';
import { findRepoRoot } from '../../src/cli/repo-root.js';
import { Command, ScriptError } from './command.js';
import { ParseError, parseScript, rewriteScript } from './parse.js';

/** Runs one command; returns its output (trailing newlines are ignored). */
export type Handler = (c: Command) => string;

export interface Mismatch {
  /** 1-based line of the command. */
  line: number;
  command: string;
  expected: string;
  actual: string;
}

export interface ScriptResult {
  mismatches: Mismatch[];
  /** The script with every output replaced by the actual one. */
  rewritten: string;
  /** One report for all mismatches, naming file and line ('' if none). */
  report: string;
}

const ANSI = /\x1b\[[0-9;]*m/g;

function normalize(output: string): string {
  return output.replace(/\s+$/, '').split('\n').map((l) => l.replace(/\s+$/, '')).join('\n');
}

function describeMismatch(file: string, m: Mismatch, outputLine: number): string {
  const diff = lineDiff(m.actual, m.expected, outputLine).replace(ANSI, '');
  return `${file}:${m.line}: ${m.command}\noutput differs from the golden text (rerun with REWRITE=1 to accept it):\n${diff}`;
}

/**
 * Runs a script's text through a handler. Any error a handler throws stops the
 * script, prefixed with the file and line of the command that threw; so do
 * arguments the handler never read.
 */
export function runScriptText(file: string, text: string, handler: Handler): ScriptResult {
  const script = parseScript(text, file);
  const outputs: string[] = [];
  const mismatches: Mismatch[] = [];
  const reports: string[] = [];
  for (const b of script.blocks) {
    const commandLine = script.lines[b.start]!;
    const c = new Command(b.cmd, b.args, b.input);
    let actual: string;
    try {
      actual = normalize(handler(c));
    } catch (e) {
      const why = e instanceof ScriptError ? e.message : (e as Error).stack ?? String(e);
      throw new ParseError(file, b.line, `${commandLine}: ${why}`);
    }
    const unused = c.unused();
    if (unused.length > 0) {
      const names = unused.map((a) => (a.vals.length === 0 ? a.key : `${a.key}=`)).join(', ');
      throw new ParseError(file, b.line, `${commandLine}: ${b.cmd} does not take ${names}`);
    }
    outputs.push(actual);
    if (actual !== normalize(b.expected)) {
      const m = { line: b.line, command: commandLine, expected: b.expected, actual };
      mismatches.push(m);
      reports.push(describeMismatch(file, m, b.start + b.headerLines + 1));
    }
  }
  return { mismatches, rewritten: rewriteScript(script, outputs), report: reports.join('\n') };
}

export interface RunOptions {
  rewrite: boolean;
  /** How the file is named in messages (default: relative to the repository root). */
  name?: string;
}

/** Runs a script file; in rewrite mode, writes the actual outputs back (only if they changed). */
export function runScriptFile(file: string, handler: Handler, opts: RunOptions): ScriptResult {
  const text = readFileSync(file, 'utf8');
  const name = opts.name ?? path.relative(findRepoRoot(), file);
  const r = runScriptText(name, text, handler);
  if (opts.rewrite && r.rewritten !== text) writeFileSync(file, r.rewritten);
  return r;
}

/** Whether golden outputs are to be rewritten: REWRITE=1 in the environment, or --rewrite. */
export function rewriteRequested(env: NodeJS.ProcessEnv = process.env, argv: readonly string[] = process.argv): boolean {
  const v = env['REWRITE'];
  return (v !== undefined && v !== '' && v !== '0' && v !== 'false') || argv.includes('--rewrite');
}

/** A directory of the source tree, e.g. sourceDir('test', 'raft', 'testdata'). */
export function sourceDir(...parts: string[]): string {
  return path.join(findRepoRoot(), ...parts);
}

/** The *.txt scripts of a directory, sorted by name. */
export function scriptFiles(dir: string): string[] {
  return readdirSync(dir).filter((f) => f.endsWith('.txt')).sort().map((f) => path.join(dir, f));
}

/**
 * One uvu test per script of `dir`, each on a fresh environment from
 * `newHandler`. A failing script throws the report, so uvu shows the file,
 * line and diff.
 */
export function defineScriptTests(test: Test, dir: string, newHandler: () => Handler): void {
  const rewrite = rewriteRequested();
  for (const file of scriptFiles(dir)) {
    test(`script ${path.basename(file)}`, () => {
      const r = runScriptFile(file, newHandler(), { rewrite });
      if (!rewrite && r.mismatches.length > 0) throw new Error(r.report);
    });
  }
}
