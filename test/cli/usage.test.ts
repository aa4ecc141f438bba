// The binary's contract for bad usage and bad input: exit 2 with a message
// that names the file, the field and what was expected (design section 9).
// These run the real bin/gallocy.js in a child process.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { findRepoRoot } from '../../src/cli/repo-root.js';

const repoRoot = findRepoRoot();
const bin = path.join(repoRoot, 'bin', 'gallocy.js');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'gallocy-usage-'));

function gallocy(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: repoRoot, encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function tempFile(name: string, text: string): string {
  const file = path.join(tmp, name);
  writeFileSync(file, text);
  return file;
}

test('a bad scenario file: exit 2 naming the file, the field and what was expected', () => {
  const file = tempFile('bad-field.yaml', 'name: bad\ndurationS: 10\nhosts: 0\n');
  for (const cmd of [['fuzz', '--seeds', '1'], ['replay', '--seed', '1']]) {
    const r = gallocy(...cmd, '--scenario', file);
    assert.is(r.status, 2, r.stderr);
    assert.match(r.stderr, `${file}: field hosts: expected number to be >=1 (line 3)`);
    assert.is(r.stdout, '');
  }
});

test('an unknown scenario name: exit 2 listing the names', () => {
  const r = gallocy('fuzz', '--scenario', 'no-such-scenario', '--seeds', '1');
  assert.is(r.status, 2);
  assert.match(r.stderr, 'unknown scenario "no-such-scenario"');
  assert.match(r.stderr, /expected one of .*raft-basic.*raft-chaos/);
});

test('a YAML syntax error: exit 2 with file and line', () => {
  const file = tempFile('syntax.yaml', 'name: s\ndurationS: 10\nhosts: [3\n');
  const r = gallocy('fuzz', '--scenario', file, '--seeds', '1');
  assert.is(r.status, 2);
  assert.match(r.stderr, new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+:\\d+: YAML syntax error \\(line \\d+`));
});

test('a missing scenario file: exit 2 naming it', () => {
  const r = gallocy('replay', '--scenario', path.join(tmp, 'absent.yaml'), '--seed', '1');
  assert.is(r.status, 2);
  assert.match(r.stderr, `${path.join(tmp, 'absent.yaml')}: cannot read scenario file: no such file`);
});

test('bad flag values: exit 2 naming the flag', () => {
  const cases: Array<[string[], string]> = [
    [['fuzz', '--seeds', '0'], '--seeds: expected an integer from 1'],
    [['fuzz', '--seeds', 'abc'], '--seeds: expected an integer from 1'],
    [['fuzz', '--seeds', '1.5'], '--seeds: expected an integer'],
    [['fuzz', '--seeds', '1e3'], '--seeds: expected an integer'],
    [['fuzz', '--jobs', '0'], '--jobs: expected an integer from 1 to 64'],
    [['fuzz', '--jobs', '65'], '--jobs: expected an integer from 1 to 64'],
    [['fuzz', '--start', '-1'], '--start: expected an integer >= 0'],
    [['fuzz', '--seeds', '1', '--seeds', '2'], '--seeds: expected one value'],
    [['fuzz', '--start', '9007199254740991', '--seeds', '2'], '--start: expected start + seeds - 1 <= 9007199254740991'],
    [['replay'], 'Missing required argument: seed'],
    [['replay', '--seed', 'x'], '--seed: expected an integer >= 0'],
    [['replay', '--seed', '1', '--stop-at', '0'], '--stop-at: expected a number of seconds > 0'],
    [['replay', '--seed', '1', '--stop-at', '99999', '--scenario', 'raft-basic'], "--stop-at: expected at most the scenario's durationS (30)"],
    [['lincheck'], 'Not enough non-option arguments'],
    [['fuzz', '--shard', '4/3'], '--shard: expected I/N with 1 <= I <= N'],
    [['fuzz', '--shard', '2'], '--shard: expected I/N with 1 <= I <= N'],
    [['fuzz', '--seed-file', ''], '--seed-file: expected a non-empty value'],
    [['merge'], 'Not enough non-option arguments'],
  ];
  for (const [args, message] of cases) {
    const r = gallocy(...args);
    assert.is(r.status, 2, `${args.join(' ')}: status ${r.status}, stderr ${r.stderr}`);
    assert.match(r.stderr, message, args.join(' '));
  }
});

test('a bad shard report or seed-file line: exit 2 naming the file (and line) and the field, before any seed runs', () => {
  const report = tempFile('report.json', '{"scenario": "raft-basic", "seeds": "many"}\n');
  const merge = gallocy('merge', report);
  assert.is(merge.status, 2, merge.stderr);
  assert.match(merge.stderr, `${report}: field seeds: expected number, received string`);
  const seeds = tempFile('seeds.jsonl', '{"scenario": "raft-basic", "seed": 1}\n{"scenario": "raft-basic", "seed": "x"}\n');
  const fuzz = gallocy('fuzz', '--scenario', 'raft-basic', '--seeds', '1', '--seed-file', seeds);
  assert.is(fuzz.status, 2, fuzz.stderr);
  assert.match(fuzz.stderr, `${seeds}:2: field seed: expected number, received string`);
  assert.is(fuzz.stdout, '');
});

test('unknown flags and commands: exit 2', () => {
  const flag = gallocy('fuzz', '--seeds', '1', '--sedes', '3');
  assert.is(flag.status, 2);
  assert.match(flag.stderr, /Unknown argument/);
  const cmd = gallocy('fuz');
  assert.is(cmd.status, 2);
  const none = gallocy();
  assert.is(none.status, 2);
  assert.match(none.stderr, 'expected a command: fuzz, merge, replay, shrink, view, check, lincheck, serve, status or certs');
});

test('--help on every command: exit 0, usage on stdout', () => {
  for (const args of [['--help'], ['fuzz', '--help'], ['merge', '--help'], ['replay', '--help'], ['lincheck', '--help']]) {
    const r = gallocy(...args);
    assert.is(r.status, 0, args.join(' '));
    assert.match(r.stdout, /Options:/, args.join(' '));
  }
  assert.match(gallocy('fuzz', '--help').stdout, '--stop-on-first');
  assert.match(gallocy('fuzz', '--help').stdout, '--shard');
  assert.match(gallocy('replay', '--help').stdout, '--check-determinism');
});

test('bin/gallocy.js without dist/: exit 2 with a build hint', () => {
  const fake = path.join(tmp, 'pkg', 'bin');
  mkdirSync(fake, { recursive: true });
  copyFileSync(bin, path.join(fake, 'gallocy.js'));
  const r = spawnSync(process.execPath, [path.join(fake, 'gallocy.js'), '--help'], { encoding: 'utf8' });
  assert.is(r.status, 2);
  assert.match(r.stderr, 'gallocy is not built: run npm install (or npm run build)');
});

test.run();
