// gallocy check and replay --choices, as processes: an exhaustive bound on
// raft-tiny (the same count twice), the --json report, a deliberate bug found
// with a choice file that replays to the same violation, and bad flags and
// files refused with exit 2 and a message naming them.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { findRepoRoot } from '../../src/cli/repo-root.js';

const repoRoot = findRepoRoot();
const bin = path.join(repoRoot, 'bin', 'gallocy.js');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'gallocy-check-'));

function gallocy(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: tmp, encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('check raft-tiny: exhaustive to the depth, no violation, the same count twice', () => {
  const a = gallocy('check', '--scenario', 'raft-tiny', '--depth', '5');
  assert.is(a.status, 0, a.stdout + a.stderr);
  const m = /exhaustive to depth 5: ([\d,]+) states, no violation/.exec(a.stdout);
  assert.ok(m !== null, a.stdout);
  assert.match(a.stdout, /states\/second\s+[\d,]+/);
  const b = gallocy('check', '--scenario', 'raft-tiny', '--depth', '5');
  assert.match(b.stdout, `exhaustive to depth 5: ${m[1]} states`);
});

test('check --json: one object with the counts', () => {
  const r = gallocy('check', '--scenario', 'raft-tiny', '--depth', '4', '--json');
  assert.is(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout) as Record<string, unknown>;
  assert.is(j.scenario, 'raft-tiny');
  assert.is(j.strategy, 'dfs');
  assert.is(j.exhaustive, true);
  assert.is(j.depthReached, 4);
  assert.is(j.violation, null);
  assert.is(j.choices, null);
  assert.ok((j.distinctStates as number) > 10 && (j.statesExplored as number) >= (j.distinctStates as number) - 1);
  assert.equal(j.faults, { crashes: 0, losses: 0, duplicates: 0 });
});

test('a deliberate bug: check exits 1 with a choice file; replay --choices reaches the same violation', () => {
  const scenario = path.join(tmp, 'tiny-bug.yaml');
  writeFileSync(scenario, `${readFileSync(path.join(repoRoot, 'scenarios', 'raft-tiny.yaml'), 'utf8').replace('name: raft-tiny', 'name: tiny-bug')}bugs: { sendBeforeSync: true }\n`);
  const out = path.join(tmp, 'bug.choices.json');
  const r = gallocy('check', '--scenario', scenario, '--depth', '30', '--out', out);
  assert.is(r.status, 1, r.stdout + r.stderr);
  assert.match(r.stdout, 'VIOLATION        committed-durable-on-quorum');
  assert.match(r.stdout, `replay:          gallocy replay --scenario ${scenario} --choices ${out}`);
  const file = JSON.parse(readFileSync(out, 'utf8')) as { violation: { invariant: string; message: string }; choices: { key: string; label: string }[] };
  assert.ok(file.choices.length > 10);
  assert.ok(file.choices.every((c) => c.label.length > 0));
  const again = gallocy('replay', '--scenario', scenario, '--choices', out, '--json');
  assert.is(again.status, 1, again.stderr);
  const rep = JSON.parse(again.stdout) as { same: boolean; steps: number; violation: { invariant: string; message: string } };
  assert.is(rep.same, true);
  assert.is(rep.steps, file.choices.length);
  assert.is(rep.violation.message, file.violation.message);
  const text = gallocy('replay', '--scenario', scenario, '--choices', out);
  assert.match(text.stdout, 'the same outcome as the file records');

  // The file belongs to its scenario; a broken file names its field.
  const wrong = gallocy('replay', '--scenario', 'raft-tiny', '--choices', out);
  assert.is(wrong.status, 2);
  assert.match(wrong.stderr, 'field scenario: expected "raft-tiny" (the scenario given), got "tiny-bug"');
  const broken = path.join(tmp, 'broken.json');
  writeFileSync(broken, JSON.stringify({ ...file, choices: [{ key: 'jump 1', label: '' }] }));
  const bad = gallocy('replay', '--scenario', scenario, '--choices', broken);
  assert.is(bad.status, 2);
  assert.match(bad.stderr, `${broken}: field choices[0].key: expected "run N"`);
  writeFileSync(broken, JSON.stringify({ ...file, choices: [{ key: 'crash 9', label: '' }] }));
  const mismatch = gallocy('replay', '--scenario', scenario, '--choices', broken);
  assert.is(mismatch.status, 2);
  assert.match(mismatch.stderr, 'choice 1 ("crash 9") is not enabled there');
});

test('bad flags exit 2 with a message naming the flag', () => {
  const cases: [string[], string][] = [
    [['check', '--scenario', 'raft-tiny', '--strategy', 'bfs'], '--strategy: expected one of dfs, random, pct, guided, got "bfs"'],
    [['check', '--scenario', 'raft-tiny', '--depth', '0'], '--depth: expected an integer from 1 to 100000, got 0'],
    [['check', '--scenario', 'raft-tiny', '--deviation', '2'], '--deviation: expected a probability > 0 and <= 1, got "2"'],
    [['check', '--scenario', 'raft-tiny', '--budget', 'soon'], '--budget: expected a number of seconds > 0'],
    [['check', '--scenario', 'raft-tiny', '--from', 'missing.json'], 'missing.json: cannot read choice file: no such file'],
    [['replay', '--scenario', 'raft-tiny', '--choices', 'x.json', '--seed', '1'], '--choices: expected no --seed'],
    [['replay', '--scenario', 'raft-tiny'], 'Missing required argument: seed (or give --choices)'],
  ];
  for (const [args, message] of cases) {
    const r = gallocy(...args);
    assert.is(r.status, 2, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, message);
  }
});

test.run();
