// `gallocy lincheck` against histories with known answers (Porcupine's test
// data, in test/data/linearizability): exit 0 when linearizable, 1 when not, 2
// for a file that cannot be read or parsed.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { findRepoRoot } from '../../src/cli/repo-root.js';
import { expectedVerdicts, historyData } from '../check/history-data.js';
import { lincheckText } from '../../src/cli/lincheck.js';

const repoRoot = findRepoRoot();
const bin = path.join(repoRoot, 'bin', 'gallocy.js');
const data = historyData();
const expected = expectedVerdicts();
const tmp = mkdtempSync(path.join(os.tmpdir(), 'gallocy-lincheck-'));

function gallocy(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: repoRoot, encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

// A few of each answer and each format, kept small so the file stays quick.
const pick = (pred: (name: string, ok: boolean) => boolean, n: number): string[] =>
  Object.entries(expected).filter(([name, ok]) => pred(name, ok)).slice(0, n).map(([name]) => name);
const goodRegister = pick((n, ok) => n.startsWith('jepsen-etcd/') && ok, 2);
const badRegister = pick((n, ok) => n.startsWith('jepsen-etcd/') && !ok, 2);
const goodKv = pick((n, ok) => n.startsWith('kv/') && ok && n.includes('c01'), 1);
const badKv = pick((n, ok) => n.startsWith('kv/') && !ok && n.includes('c01'), 1);

test('each history gets the known answer, as exit code and --json verdict', () => {
  for (const name of [...goodRegister, ...badRegister, ...goodKv, ...badKv]) {
    const file = path.join(data, name);
    const r = gallocy('lincheck', file, '--json');
    assert.is(r.status, expected[name] ? 0 : 1, `${name}: ${r.stderr}`);
    const out = JSON.parse(r.stdout) as { linearizable: boolean; results: Array<{ file: string; linearizable: boolean }> };
    assert.is(out.linearizable, expected[name], name);
    assert.is(out.results.length, 1);
    assert.is(out.results[0]!.linearizable, expected[name], name);
  }
});

test('several files: exit 1 if any is not linearizable; text names each file', () => {
  const files = [...goodRegister, badRegister[0]!].map((n) => path.join(data, n));
  const r = gallocy('lincheck', ...files);
  assert.is(r.status, 1, r.stderr);
  for (const f of files) assert.match(r.stdout, f);
  assert.match(r.stdout, 'NOT linearizable');
  const ok = gallocy('lincheck', ...goodRegister.map((n) => path.join(data, n)));
  assert.is(ok.status, 0, ok.stderr);
});

test('an unreadable or unparseable file: exit 2 naming the file', () => {
  const missing = path.join(tmp, 'missing.log');
  const r = gallocy('lincheck', missing);
  assert.is(r.status, 2);
  assert.match(r.stderr, missing);
  const garbage = path.join(tmp, 'garbage.log');
  writeFileSync(garbage, 'this is not a history\n{:process oops\n');
  const g = gallocy('lincheck', path.join(data, goodRegister[0]!), garbage);
  assert.is(g.status, 2, g.stdout);
  assert.match(g.stderr, garbage);
});

test('a violation names the stuck operations by process, model description and place in the file', () => {
  const J = (p: number, type: string, f: string, v: string): string => `INFO  jepsen.util - ${p}\t:${type}\t:${f}\t${v}`;
  const log = [J(0, 'invoke', 'write', '1'), J(0, 'ok', 'write', '1'), J(1, 'invoke', 'read', 'nil'), J(1, 'ok', 'read', '2'), J(2, 'invoke', 'write', '3')].join('\n');
  const r = lincheckText('stale.log', log);
  assert.is(r.verdict, 'not-linearizable');
  assert.equal(r.unordered?.map((o) => o.description), ['process 1: read -> 2 (lines 3..4)']);
  const rec = (thread: number, kind: string, value: number, call: number, ret: number): string => JSON.stringify({ host: 1, thread, kind, addr: 64, value, call, ret });
  const records = lincheckText('records.jsonl', [rec(0, 'write', 5, 10, 20), rec(1, 'read', 0, 30, 40)].join('\n'));
  assert.equal(records.linearizedPrefix?.map((o) => o.description), ['process 0: write 5 [key 64] (10..20 us)']);
  assert.equal(records.unordered?.map((o) => o.description), ['process 1: read -> nil [key 64] (30..40 us)']);
});

test.run();
