// The fuzz pool and the fuzz/replay commands, driven by a stand-in runSeed so
// the orchestration is tested apart from the simulator: every seed gets
// exactly one outcome, crashes and dying workers count as failures, the JSON
// report has its documented shape, and replay streams traces and catches
// non-determinism.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fuzzCommand, type FuzzArgs, type FuzzReport } from '../../src/cli/fuzz.js';
import { capture } from './fake-runner.js';
import { runPool, type SeedOutcome } from '../../src/cli/pool.js';
import { replayCommand } from '../../src/cli/replay.js';
import { PROBE_NAMES } from '../../src/host/probes.js';
import { loadScenario } from '../../src/cli/scenario-file.js';
import type { RunOptions, RunResult } from '../../src/sim/result.js';
import type { Scenario } from '../../src/sim/scenario.js';
import type { TraceEvent } from '../../src/host/trace-events.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'gallocy-pool-'));

// Seed 3 throws, seed 5 kills its worker thread, seed 7 loops a little, every
// 4th seed reports an election-safety violation, the rest pass.
const runnerFile = path.join(tmp, 'fake-runner.mjs');
writeFileSync(
  runnerFile,
  `export function runSeed(scenario, seed) {
    if (seed === 3) throw new Error('boom at seed 3');
    if (seed === 5) process.exit(7);
    if (seed === 7) { let x = 0; for (let i = 0; i < 2e6; i++) x += i; }
    const violation = seed % 4 === 0
      ? { invariant: 'election-safety', message: 'two leaders in term ' + seed, timeUs: 1000,
          lastEvents: Array.from({ length: seed }, (_, i) => ({ t: 100 * i, host: 1 + (i % 3), kind: 'leader', group: 0, term: i })) }
      : null;
    return { scenario: scenario.name, seed, traceHash: 'h' + seed, events: 100 + seed, simSeconds: 2,
             violation, faultKinds: [], stats: {}, probes: { 'raft.snapshot-installed': seed % 2, 'vmm.lost-writes': 0 },
             faultPointsFired: seed % 2 === 0 ? { 'raft.split-ready': seed } : {} };
  }\n`,
);
const runnerModule = pathToFileURL(runnerFile).href;


const scenario = loadScenario('raft-basic').spec;
const args = (over: Partial<FuzzArgs>): FuzzArgs => ({ scenario: 'raft-basic', seeds: 12, start: 1, jobs: 3, json: true, stopOnFirst: false, ...over });

test('pool: one outcome per seed, crashes and dead workers included', async () => {
  const seeds = Array.from({ length: 12 }, (_, i) => i + 1);
  const seen: SeedOutcome[] = [];
  const r = await runPool({ scenario, seeds, jobs: 3, runnerModule, onOutcome: (o) => void seen.push(o) });
  assert.is(r.stopped, false);
  assert.equal(r.outcomes.map((o) => o.seed).sort((a, b) => a - b), seeds);
  assert.is(seen.length, 12);
  const bySeed = new Map(r.outcomes.map((o) => [o.seed, o]));
  const three = bySeed.get(3)!;
  assert.is(three.kind, 'crash');
  if (three.kind === 'crash') assert.match(three.stack, 'boom at seed 3');
  const five = bySeed.get(5)!;
  assert.is(five.kind, 'crash');
  if (five.kind === 'crash') assert.match(five.stack, 'exited with code 7');
  const eight = bySeed.get(8)!;
  assert.is(eight.kind, 'result');
  if (eight.kind === 'result') assert.is(eight.result.violation?.invariant, 'election-safety');
});

test('pool: a missing runner module fails every seed instead of hanging', async () => {
  const r = await runPool({
    scenario, seeds: [1, 2, 3], jobs: 2, runnerModule: pathToFileURL(path.join(tmp, 'absent.mjs')).href, onOutcome: () => {},
  });
  assert.is(r.outcomes.length, 3);
  for (const o of r.outcomes) assert.is(o.kind, 'crash');
});

test('fuzz --json: the documented shape, failures sorted, replay commands, exit 1', async () => {
  const io = capture();
  const code = await fuzzCommand(args({}), { io, runnerModule });
  assert.is(code, 1);
  const report = JSON.parse(io.stdout()) as FuzzReport;
  assert.equal(Object.keys(report).sort(), [
    'campaign', 'events', 'failures', 'faultPointsFired', 'probes', 'probesMissed', 'scenario', 'seeds', 'shard', 'simSeconds', 'start', 'wallSeconds',
  ]);
  assert.is(report.scenario, 'raft-basic');
  assert.is(report.seeds, 12);
  assert.is(report.start, 1);
  assert.equal(report.failures.map((f) => f.seed), [3, 4, 5, 8, 12]);
  assert.equal(report.failures.map((f) => f.invariant), ['crash', 'election-safety', 'crash', 'election-safety', 'election-safety']);
  assert.is(report.failures[1]!.message, 'two leaders in term 4');
  assert.is(report.failures[1]!.replay, 'gallocy replay --scenario raft-basic --seed 4');
  assert.equal(report.failures[1]!.lastEvents.at(-1), { t: 300, host: 1, kind: 'leader', group: 0, term: 3 });
  assert.equal(report.failures.map((f) => f.lastEvents.length), [0, 4, 0, 8, 12]);
  // Seeds 3 and 5 produced no result; the other ten did.
  const ran = [1, 2, 4, 6, 7, 8, 9, 10, 11, 12];
  assert.is(report.events, ran.reduce((s, k) => s + 100 + k, 0));
  assert.is(report.simSeconds, 20);
  // Probe totals over the seeds that ran (the stand-in reaches one probe on odd seeds), every probe listed.
  assert.equal(Object.keys(report.probes), [...PROBE_NAMES]);
  assert.is(report.probes['raft.snapshot-installed'], 4);
  assert.equal(report.probesMissed, PROBE_NAMES.filter((n) => n !== 'raft.snapshot-installed'));
  assert.equal(report.faultPointsFired, { 'raft.split-ready': 2 + 4 + 6 + 8 + 10 + 12 });
  assert.ok(report.wallSeconds > 0);
  assert.is(io.stderr(), '');
});

test('fuzz: all seeds pass -> exit 0; text summary on stdout', async () => {
  const io = capture();
  const code = await fuzzCommand(args({ seeds: 2, start: 1, json: false }), { io, runnerModule });
  assert.is(code, 0);
  assert.match(io.stdout(), 'raft-basic: 2 seeds (seeds 1..2), 0 failed');
  assert.match(io.stdout(), /events\s+203/);
  assert.match(io.stdout(), 'events per wall second');
  assert.match(io.stdout(), `probes     1 of ${PROBE_NAMES.length} reached\n  never reached: raft.snapshot-caught-up, `);
  assert.match(io.stdout(), '  buggify    raft.split-ready 2\n');
});

test('fuzz text: each failure with invariant, seed, message and replay command', async () => {
  const io = capture();
  await fuzzCommand(args({ seeds: 4, start: 9, json: false, jobs: 2 }), { io, runnerModule });
  // The text shows the last ten of the twelve events, readably.
  assert.match(io.stdout(), 'FAIL seed 12: election-safety\n  two leaders in term 12\n  last 10 events:\n    0.000200s h3 leader group=0 term=2\n');
  assert.match(io.stdout(), '    0.001100s h3 leader group=0 term=11\n  replay: gallocy replay --scenario raft-basic --seed 12');
  assert.match(io.stdout(), '4 seeds (seeds 9..12), 1 failed');
});

test('fuzz --stop-on-first: stops handing out seeds after the first failure', async () => {
  const io = capture();
  const code = await fuzzCommand(args({ stopOnFirst: true, jobs: 1 }), { io, runnerModule });
  assert.is(code, 1);
  const report = JSON.parse(io.stdout()) as FuzzReport;
  assert.is(report.seeds, 3);
  assert.equal(report.failures.map((f) => f.seed), [3]);
});

test('fuzz with expect.violation: counts seeds that found it; a seed without it fails', async () => {
  const file = path.join(tmp, 'expects.yaml');
  writeFileSync(file, 'name: expects\ndurationS: 5\nhosts: 3\nexpect: { violation: election-safety }\n');
  const io = capture();
  const code = await fuzzCommand(args({ scenario: file, seeds: 4, start: 4 }), { io, runnerModule });
  assert.is(code, 1);
  const report = JSON.parse(io.stdout()) as FuzzReport;
  assert.is(report.expectedViolations, 1); // seed 4; 5 crashes, 6 and 7 find nothing
  assert.equal(report.failures.map((f) => [f.seed, f.invariant]), [[5, 'crash'], [6, 'expected-violation'], [7, 'expected-violation']]);
  assert.match(report.failures[1]!.message, 'expected a election-safety violation, found none');
  assert.is(report.failures[1]!.replay, `gallocy replay --scenario ${file} --seed 6`);
});

// --- replay, with a stand-in runSeed ---

function fakeRun(hashFor: (call: number) => string, violation: RunResult['violation'] = null) {
  let calls = 0;
  return (sc: Scenario, seed: number, options: RunOptions): RunResult => {
    calls++;
    for (let i = 0; i < 5000; i++) options.traceSink?.(JSON.stringify({ i, seed }));
    return { scenario: sc.name, seed, traceHash: hashFor(calls), events: 5000, simSeconds: options.stopAtS ?? sc.durationS, violation, faultKinds: [], stats: {}, probes: { 'raft.snapshot-installed': 1, 'vmm.lost-writes': 0 }, faultPointsFired: {} };
  };
}

test('replay --trace streams every line, in order, to the file', async () => {
  const io = capture();
  const trace = path.join(tmp, 'trace.jsonl');
  const code = await replayCommand({ scenario: 'raft-basic', seed: 9, json: true, checkDeterminism: false, trace }, { io, runSeed: fakeRun(() => 'abc') });
  assert.is(code, 0);
  const lines = readFileSync(trace, 'utf8').trimEnd().split('\n');
  assert.is(lines.length, 5000);
  assert.equal(lines.map((l) => (JSON.parse(l) as { i: number }).i), Array.from({ length: 5000 }, (_, i) => i));
  assert.equal(JSON.parse(io.stdout()), {
    scenario: 'raft-basic', seed: 9, traceHash: 'abc', events: 5000, simSeconds: 30, violation: null,
    probes: { 'raft.snapshot-installed': 1, 'vmm.lost-writes': 0 }, faultPointsFired: {},
  });
});

test('replay --check-determinism: differing hashes exit 1 with a clear message', async () => {
  const io = capture();
  const code = await replayCommand({ scenario: 'raft-basic', seed: 2, json: false, checkDeterminism: true }, { io, runSeed: fakeRun((n) => `h${n}`) });
  assert.is(code, 1);
  assert.match(io.stderr(), 'NOT DETERMINISTIC: seed 2 of raft-basic gave trace hash h1');
  const same = capture();
  assert.is(await replayCommand({ scenario: 'raft-basic', seed: 2, json: false, checkDeterminism: true }, { io: same, runSeed: fakeRun(() => 'x') }), 0);
  assert.match(same.stdout(), 'a second run gave the same trace hash');
});

test('replay: a violation exits 1 and prints invariant, time and last events', async () => {
  const io = capture();
  const lastEvents: TraceEvent[] = [
    { t: 1_499_000, host: 2, kind: 'app', group: 0, from: 1, term: 3, index: 4, logTerm: 3, entries: 1, commit: 3 },
    { t: 1_500_000, host: 4, kind: 'refuse', from: 1, req: 9, page: 2, leader: 3, version: 0, why: 'not-leader' },
  ];
  const v = { invariant: 'log-matching', message: 'logs differ at index 4', timeUs: 1_500_000, lastEvents };
  const code = await replayCommand({ scenario: 'raft-basic', seed: 3, json: false, checkDeterminism: false, stopAt: 2 }, { io, runSeed: fakeRun(() => 'x', v) });
  assert.is(code, 1);
  assert.match(io.stdout(), 'VIOLATION   log-matching at 1.500000 s: logs differ at index 4');
  assert.match(io.stdout(), '  last 2 events:\n    1.499000s h2 app group=0 from=1 term=3 index=4 logTerm=3 entries=1 commit=3\n' +
    '    1.500000s h4 refuse from=1 req=9 page=2 leader=3 version=0 why=not-leader\n');
  assert.match(io.stdout(), 'simulated   2.000 s');
});

test('replay --probes: each reached probe with its count, then the ones never reached; only on asking', async () => {
  const io = capture();
  assert.is(await replayCommand({ scenario: 'raft-basic', seed: 3, json: false, checkDeterminism: false, probes: true }, { io, runSeed: fakeRun(() => 'x') }), 0);
  assert.match(io.stdout(), '  probes      1 of 2 reached\n    raft.snapshot-installed  1\n    never reached: vmm.lost-writes\n');
  const quiet = capture();
  await replayCommand({ scenario: 'raft-basic', seed: 3, json: false, checkDeterminism: false }, { io: quiet, runSeed: fakeRun(() => 'x') });
  assert.not.match(quiet.stdout(), 'probes');
});

test.run();
