// A campaign on an existing engine, as the README shows it: three shards of a
// scenario with a planted bug, run by GNU parallel (through its --sshlogin
// machinery, with ':' standing for this machine), their JSON reports collected
// from parallel's stdout into one file and merged. The merge must equal one
// unsharded run: the same failures and the same event count. Skipped only
// where `parallel` is absent and CI is not set (in CI it must run).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { FuzzReport } from '../../src/cli/fuzz.js';
import { shellQuote } from '../../src/cli/output.js';
import { findRepoRoot } from '../../src/cli/repo-root.js';

const repoRoot = findRepoRoot();
const bin = path.join(repoRoot, 'bin', 'gallocy.js');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'gallocy-parallel-'));

function run(cmd: string, args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, { cwd: tmp, encoding: 'utf8', timeout: 180_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const gallocy = (...args: string[]) => run(process.execPath, [bin, ...args]);

const missing = spawnSync('parallel', ['--version'], { encoding: 'utf8' }).status !== 0;

if (missing && process.env['CI'] === undefined) {
  console.log('parallel.test: skipped: GNU parallel is not installed (apt-get install parallel)');
  test('shards through GNU parallel (skipped: GNU parallel is not installed)', () => {});
} else {
  test('3 shards through GNU parallel, merged, equal one unsharded run', () => {
    assert.not.ok(missing, 'CI is set, so GNU parallel must be installed (.ci/run installs it)');
    // Reads answered locally see stale values under partitions: some seeds fail, others pass.
    const scenario = path.join(tmp, 'local-reads.yaml');
    writeFileSync(
      scenario,
      [
        'name: buggy-local-reads',
        'durationS: 10',
        'hosts: 3',
        'bugs: { localReads: true }',
        'faults:',
        '  untilS: 8',
        '  nemesis: { kinds: [partition], meanIntervalMs: 300, minDurationMs: 100, maxDurationMs: 1000 }',
      ].join('\n'),
    );
    const campaign = ['fuzz', '--scenario', scenario, '--seeds', '12', '--jobs', '1', '--json'];

    const command = [process.execPath, bin, ...campaign].map(shellQuote).join(' ');
    const par = run('parallel', ['--will-cite', '--sshlogin', '3/:', `${command} --shard {}/3`, ':::', '1', '2', '3']);
    const shards = par.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as FuzzReport);
    assert.equal(shards.map((s) => s.shard).sort(), [1, 2, 3], par.stderr);
    // parallel exits with the number of jobs that failed: the shards that found a bug.
    assert.is(par.status, shards.filter((s) => s.failures.length > 0).length, par.stderr);
    const collected = path.join(tmp, 'shards.jsonl');
    writeFileSync(collected, par.stdout);

    const merge = gallocy('merge', collected, '--json');
    const whole = gallocy(...campaign);
    assert.is(whole.status, 1, whole.stderr);
    assert.is(merge.status, whole.status, merge.stderr);
    const merged = JSON.parse(merge.stdout) as FuzzReport;
    const one = JSON.parse(whole.stdout) as FuzzReport;
    assert.ok(one.failures.length > 0 && one.failures.length < 12, `${one.failures.length} of 12 seeds failed: expected a mix`);
    assert.equal(merged.failures, one.failures);
    assert.is(merged.events, one.events);
    assert.is(merged.simSeconds, one.simSeconds);
    assert.is(merged.seeds, 12);
    assert.equal({ ...merged.campaign, shards: 1 }, one.campaign);

    const text = gallocy('merge', collected);
    assert.match(text.stdout, `buggy-local-reads: 12 seeds (seeds 1..12, 3 shards merged), ${one.failures.length} failed`);
  });
}

test.run();
