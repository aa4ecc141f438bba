import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Command } from './command.js';
import { parseCommandLine, parseScript } from './parse.js';
import { rewriteRequested, runScriptFile, runScriptText } from './runner.js';

const SCRIPT = `# A comment, then two blocks.
echo a b
----
a b

# Fenced output keeps its blank line.
echo-lines x "" y
----
----
x

y
----
----
`;

/** echo prints its bare words; echo-lines one per line; sum adds n= values. */
function handler(c: Command): string {
  switch (c.cmd) {
    case 'echo':
      return c.positional().join(' ');
    case 'echo-lines':
      return c.positional().join('\n');
    case 'sum':
      return String((c.ints('n') ?? []).reduce((a, b) => a + b, 0));
    case 'input':
      return c.input.toUpperCase();
    default:
      throw new Error(`unknown command ${c.cmd}`);
  }
}

test('command lines: bare words, key=value, lists, quotes', () => {
  const { cmd, args } = parseCommandLine('add-nodes 3 voters=(1, 2,3) prevote=true "a b" k="x y" empty=()');
  assert.is(cmd, 'add-nodes');
  assert.equal(args, [
    { key: '3', vals: [] },
    { key: 'voters', vals: ['1', '2', '3'] },
    { key: 'prevote', vals: ['true'] },
    { key: 'a b', vals: [] },
    { key: 'k', vals: ['x y'] },
    { key: 'empty', vals: [] },
  ]);
  assert.throws(() => parseCommandLine('x voters=(1,2', 'f.txt', 7), /f\.txt:7: unbalanced '\('/);
  assert.throws(() => parseCommandLine('x "open', 'f.txt', 2), /f\.txt:2: unterminated string/);
});

test('scripts: blocks with lines, input, and fenced output', () => {
  const s = parseScript(`${SCRIPT}\ninput\nhello\n----\nHELLO\n`, 'f.txt');
  assert.equal(s.blocks.map((b) => [b.line, b.cmd, b.input, b.expected]), [
    [2, 'echo', '', 'a b'],
    [7, 'echo-lines', '', 'x\n\ny'],
    [16, 'input', 'hello', 'HELLO'],
  ]);
});

test('a command without a separator is reported with its file and line', () => {
  assert.throws(() => parseScript('echo a\n\necho b\n----\nb\n', 'g.txt'), /g\.txt:1: command "echo a" has no '----'/);
  assert.throws(() => parseScript('echo\n----\n----\nx\n', 'g.txt'), /g\.txt:1: .*never closed/);
});

test('matching outputs pass; trailing whitespace does not count', () => {
  const r = runScriptText('f.txt', SCRIPT.replace('a b\n', 'a b   \n'), handler);
  assert.equal(r.mismatches, []);
  assert.is(r.report, '');
});

test('a mismatch names the file, the line of the command, and shows a diff', () => {
  const text = 'echo a\n----\na\n\n# wrong golden text:\necho b c\n----\nb d\n';
  const r = runScriptText('dir/h.txt', text, handler);
  assert.is(r.mismatches.length, 1);
  assert.equal(r.mismatches[0], { line: 6, command: 'echo b c', expected: 'b d', actual: 'b c' });
  assert.match(r.report, /^dir\/h\.txt:6: echo b c\n/);
  assert.match(r.report, /--b·c/); // actual
  assert.match(r.report, /\+\+b·d/); // expected
  assert.match(r.report, /L0*8 \+\+b·d/); // the golden line's number in the file
});

test('errors in a handler and arguments it never read stop the script at their line', () => {
  assert.throws(() => runScriptText('e.txt', 'echo a\n----\na\n\nnope 1\n----\n', handler), /e\.txt:5: nope 1: .*unknown command nope/);
  assert.throws(() => runScriptText('e.txt', 'sum n=(1,2) m=3\n----\n3\n', handler), /e\.txt:1: sum n=\(1,2\) m=3: sum does not take m=/);
  assert.throws(() => runScriptText('e.txt', 'sum n=(1,x)\n----\n', handler), /e\.txt:1: .*argument 'n' must be a non-negative integer, got "x"/);
});

test('rewrite puts the actual outputs in place and keeps comments and layout', () => {
  const stale = 'echo a b\n----\nold\n\n# keep me\necho-lines x "" y\n----\nold\n\n\necho new\n----\n';
  const r = runScriptText('f.txt', stale, handler);
  assert.is(r.mismatches.length, 3);
  assert.is(r.rewritten, 'echo a b\n----\na b\n\n# keep me\necho-lines x "" y\n----\n----\nx\n\ny\n----\n----\n\n\necho new\n----\nnew\n');
  // The rewritten script passes, and rewriting it again changes nothing.
  const again = runScriptText('f.txt', r.rewritten, handler);
  assert.equal(again.mismatches, []);
  assert.is(again.rewritten, r.rewritten);
  // A fence that is no longer needed goes.
  const unfenced = runScriptText('f.txt', 'echo z\n----\n----\nold\n\nold\n----\n----\n', handler);
  assert.is(unfenced.rewritten, 'echo z\n----\nz\n');
});

test('rewrite mode writes the file; otherwise the file is left alone', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'datadriven-'));
  try {
    const file = path.join(dir, 's.txt');
    writeFileSync(file, 'echo a\n----\nstale\n');
    const r = runScriptFile(file, handler, { rewrite: false, name: 's.txt' });
    assert.is(r.mismatches.length, 1);
    assert.is(readFileSync(file, 'utf8'), 'echo a\n----\nstale\n');
    runScriptFile(file, handler, { rewrite: true, name: 's.txt' });
    assert.is(readFileSync(file, 'utf8'), 'echo a\n----\na\n');
    assert.equal(runScriptFile(file, handler, { rewrite: false, name: 's.txt' }).mismatches, []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('rewrite is asked for with REWRITE=1 or --rewrite', () => {
  assert.is(rewriteRequested({}, []), false);
  assert.is(rewriteRequested({ REWRITE: '0' }, []), false);
  assert.is(rewriteRequested({ REWRITE: '1' }, []), true);
  assert.is(rewriteRequested({}, ['node', 'x.js', '--rewrite']), true);
});

test.run();
