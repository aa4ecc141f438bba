// End-to-end through the real simulator (src/sim/run.ts): the fuzz --json
// report, replay determinism across separate processes, and a deliberately
// buggy scenario that must fail with a replay command that reproduces it.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { findRepoRoot } from '../../src/cli/repo-root.js';
import { formatTraceEvent, type TraceEvent } from '../../src/host/trace-events.js';
import { checkTraceLine } from '../sim/trace-lines.js';

const repoRoot = findRepoRoot();
const bin = path.join(repoRoot, 'bin', 'gallocy.js');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'gallocy-run-'));

function gallocy(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: repoRoot, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

interface Replay { scenario: string; seed: number; traceHash: string; events: number; simSeconds: number; violation: unknown }

test('fuzz --json on raft-basic: one JSON object, no failures, exit 0', () => {
  const r = gallocy('fuzz', '--scenario', 'raft-basic', '--seeds', '4', '--start', '10', '--jobs', '2', '--json');
  assert.is(r.status, 0, r.stdout + r.stderr);
  const report = JSON.parse(r.stdout) as Record<string, unknown>;
  assert.equal(Object.keys(report).sort(), [
    'campaign', 'events', 'failures', 'faultPointsFired', 'probes', 'probesMissed', 'scenario', 'seeds', 'shard', 'simSeconds', 'start', 'wallSeconds',
  ]);
  assert.is(report.scenario, 'raft-basic');
  assert.is(report.seeds, 4);
  assert.is(report.start, 10);
  assert.equal(report.failures, []);
  assert.ok((report.events as number) > 0);
  assert.is(report.simSeconds, 4 * 30);
});

test('replay: the same seed gives the same trace hash in two processes; another seed differs', () => {
  const a = JSON.parse(gallocy('replay', '--scenario', 'raft-basic', '--seed', '5', '--json').stdout) as Replay;
  const b = JSON.parse(gallocy('replay', '--scenario', 'raft-basic', '--seed', '5', '--json').stdout) as Replay;
  const c = JSON.parse(gallocy('replay', '--scenario', 'raft-basic', '--seed', '6', '--json').stdout) as Replay;
  assert.equal(Object.keys(a).sort(), ['events', 'faultPointsFired', 'probes', 'scenario', 'seed', 'simSeconds', 'traceHash', 'violation']);
  assert.is(a.violation, null);
  assert.ok(a.traceHash.length > 0);
  assert.is(a.traceHash, b.traceHash);
  assert.is(a.events, b.events);
  assert.is.not(a.traceHash, c.traceHash);
});

test('replay --check-determinism --trace: exit 0, and the trace file is JSON lines', () => {
  const trace = path.join(tmp, 'trace.jsonl');
  const r = gallocy('replay', '--scenario', 'raft-basic', '--seed', '2', '--check-determinism', '--trace', trace, '--stop-at', '5');
  assert.is(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, 'a second run gave the same trace hash');
  const lines = readFileSync(trace, 'utf8').trimEnd().split('\n');
  assert.ok(lines.length > 10, `${lines.length} trace lines`);
  for (const l of lines) assert.is(checkTraceLine(l), null);
});

test('a buggy scenario (send before sync, with crashes) fails with a replay command that reproduces it', () => {
  const file = path.join(tmp, 'buggy.yaml');
  writeFileSync(
    file,
    [
      'name: buggy-send-before-sync',
      'durationS: 20',
      'hosts: 3',
      'disk: { syncMs: { minMs: 1, meanMs: 5, maxMs: 20 } }',
      'bugs: { sendBeforeSync: true }',
      'faults:',
      '  untilS: 15',
      '  nemesis: { kinds: [crash], meanIntervalMs: 500, minDurationMs: 100, maxDurationMs: 1000 }',
    ].join('\n'),
  );
  const r = gallocy('fuzz', '--scenario', file, '--seeds', '10', '--jobs', '2', '--json');
  assert.is(r.status, 1, r.stdout + r.stderr);
  const report = JSON.parse(r.stdout) as { failures: Array<{ seed: number; invariant: string; message: string; replay: string; lastEvents: TraceEvent[] }> };
  assert.ok(report.failures.length > 0);
  const first = report.failures[0]!;
  assert.is.not(first.invariant, 'crash', first.message);
  assert.is(first.replay, `gallocy replay --scenario ${file} --seed ${first.seed}`);
  // The printed command, run as printed, reproduces the same violation.
  const args = first.replay.split(' ').slice(1);
  const again = gallocy(...args, '--json');
  assert.is(again.status, 1, again.stderr);
  const replayed = JSON.parse(again.stdout) as { violation: { invariant: string; message: string; lastEvents: TraceEvent[] } };
  assert.is(replayed.violation.invariant, first.invariant);
  assert.is(replayed.violation.message, first.message);
  // The same window of named events in the fuzz worker and in the replay.
  assert.ok(first.lastEvents.length > 10);
  assert.equal(replayed.violation.lastEvents, first.lastEvents);
  // Printed as text, they read as `<seconds>s h<host> <kind> name=value ...`.
  const text = gallocy(...args);
  assert.match(text.stdout, `  last ${first.lastEvents.length} events:\n    ${formatTraceEvent(first.lastEvents[0]!)}\n`);
  assert.match(text.stdout, /\n    \d+\.\d{6}s h\d+ [\w:-]+( \w+=\S+)*\n/);
});

test('a scenario that varies per seed: replay says what the seed drew, --drawn writes a file that replays the same run, fuzz failures show the draw', () => {
  const file = path.join(tmp, 'varies.yaml');
  writeFileSync(file, [
    'name: varies',
    'durationS: 3',
    'hosts: { between: [3, 5] }',
    'raft: { electionTicks: { between: [5, 12] } }',
    'network: { loss: { between: [0, 0.05] } }',
  ].join('\n'));
  const drawnFile = path.join(tmp, 'drawn.yaml');
  const r = gallocy('replay', '--scenario', file, '--seed', '4', '--drawn', drawnFile, '--json');
  assert.is(r.status, 0, r.stdout + r.stderr);
  const a = JSON.parse(r.stdout) as Replay & { drew: Record<string, unknown>; drawn: { hosts: number } };
  assert.equal(Object.keys(a.drew), ['hosts', 'raft.electionTicks', 'network.loss']);
  assert.is(a.drawn.hosts, a.drew['hosts']);
  const text = readFileSync(drawnFile, 'utf8');
  assert.match(text, /^# varies as seed 4 drew it: hosts=\d raft\.electionTicks=\d+ loss=[\d.]+\n/);
  const b = JSON.parse(gallocy('replay', '--scenario', drawnFile, '--seed', '4', '--json').stdout) as Replay & { drew?: unknown };
  assert.is(b.traceHash, a.traceHash, 'the drawn file replays the same run');
  assert.is(b.drew, undefined, 'and draws nothing');
  assert.match(gallocy('replay', '--scenario', file, '--seed', '4').stdout, `  drew        hosts=${a.drew['hosts']} `);
  // A scenario expecting a violation it never finds fails every seed: each failure shows its draw.
  writeFileSync(file, `${readFileSync(file, 'utf8')}\nexpect: { violation: election-safety }\n`);
  const f = gallocy('fuzz', '--scenario', file, '--seeds', '2', '--jobs', '1');
  assert.is(f.status, 1, f.stdout + f.stderr);
  assert.match(f.stdout, /FAIL seed 1: expected-violation\n  drew: hosts=\d raft\.electionTicks=\d+ loss=[\d.]+\n/);
});

test.run();
