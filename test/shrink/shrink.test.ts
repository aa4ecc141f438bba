// Shrinking: a seed's faults written out replay the same run; the shrinker
// cuts a planted bug's failure down while it fails the same invariant; the
// file it writes replays to that invariant; bad input exits 2.
import { spawnSync } from 'node:child_process';
import { isDeepStrictEqual } from 'node:util';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { findRepoRoot } from '../../src/cli/repo-root.js';
import { loadScenario } from '../../src/cli/scenario-file.js';
import { World } from '../../src/sim/run.js';
import { scenarioSchema, type Scenario } from '../../src/sim/scenario.js';
import { explicitScenario } from '../../src/sim/shrink/explicit.js';
import { shrinkInteger, withDuration } from '../../src/sim/shrink/candidates.js';
import { withoutDefaults } from '../../src/sim/shrink/prune.js';
import { shrinkFailure } from '../../src/sim/shrink/shrink.js';
import { drawScenario } from '../../src/sim/swarm.js';
import { Space } from '../../src/sim/explore/explorer.js';
import { choiceKey, type Choice } from '../../src/sim/explore/choice.js';
import { NO_REDUCTIONS } from '../../src/sim/explore/session.js';
import { scheduleOfPath } from '../../src/sim/shrink/path-schedule.js';

type RunChoice = Extract<Choice, { kind: 'run' }>;

const repoRoot = findRepoRoot();
const bin = path.join(repoRoot, 'bin', 'gallocy.js');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'gallocy-shrink-'));
const gallocy = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { cwd: tmp, encoding: 'utf8', timeout: 300_000 });
const bench = (name: string, seed: number): Scenario => drawScenario(loadScenario(path.join(repoRoot, 'bench', 'shrink', `${name}.yaml`)).spec, seed).scenario;

test('every kind of fault the nemesis makes, written out as a schedule, replays the same run', () => {
  const s = scenarioSchema.parse({
    name: 'all-faults', durationS: 12, hosts: 5, groups: 2, clock: { maxJumpMs: 50, maxDriftPpm: 100 },
    faults: { untilS: 10, nemesis: { kinds: ['partition', 'partition-one-way', 'partition-partial', 'clog', 'flaky', 'crash', 'pause', 'stall', 'clock-jump', 'clock-drift', 'membership', 'transfer'], meanIntervalMs: 300 } },
  });
  for (const seed of [1, 2]) {
    const original = new World(s, seed, {}).run();
    const written = explicitScenario(s, seed);
    assert.is(written.scenario.faults.nemesis, undefined);
    assert.ok(written.scenario.faults.schedule.length > 10, `${written.scenario.faults.schedule.length} faults`);
    assert.is(new World(written.scenario, seed, {}).run().traceHash, original.traceHash, `seed ${seed}`);
  }
  // The shared memory: owners join and leave through the registry, companies transfer leadership.
  const dsm = drawScenario(loadScenario('dsm-churn').spec, 2).scenario;
  const w = explicitScenario(dsm, 2);
  assert.is(new World(w.scenario, 2, {}).run().traceHash, w.result.traceHash);
});

test('fast-check shrinks integers toward the target first, then closer to the value', () => {
  assert.equal([...shrinkInteger(1000, 0)].slice(0, 3), [0, 500, 750]);
  assert.equal([...shrinkInteger(5, 5)], []);
});

test('a shorter run keeps its faults, quiet period and liveness bound inside it', () => {
  const s = scenarioSchema.parse({ name: 'x', durationS: 30, hosts: 3, faults: { untilS: 20, schedule: [{ atMs: 1000, kind: 'crash' }, { atMs: 15000, kind: 'pause' }] }, liveness: { withinS: 10 } });
  const short = scenarioSchema.parse(withDuration(s, 12));
  assert.equal(short.faults.schedule.map((f) => f.kind), ['crash']);
  assert.is(short.faults.untilS, 12);
  assert.is(short.liveness, undefined);
});

test('a scenario without its defaults parses back to itself', () => {
  const s = bench('skip-write-back', 2);
  const pruned = withoutDefaults(s);
  assert.ok(isDeepStrictEqual(scenarioSchema.parse(pruned), s));
  assert.ok(!('raft' in pruned), 'default Raft settings are left out');
  assert.equal(Object.keys(pruned).slice(0, 3), ['name', 'durationS', 'hosts']);
});

test('sendBeforeSync shrinks to no faults on two hosts, failing the same invariant', () => {
  const r = shrinkFailure(bench('send-before-sync', 5), 5, { maxRuns: 5000 });
  assert.is(r.invariant, 'committed-durable-on-quorum');
  assert.is(r.shrunk.result.violation?.invariant, r.invariant);
  assert.ok(r.explicitExact);
  assert.is(r.shrunk.size.faults, 0);
  assert.is(r.shrunk.size.hosts, 2);
  assert.ok(r.shrunk.size.events * 10 < r.original.size.events, `${r.shrunk.size.events} of ${r.original.size.events} events`);
  // The shrunk scenario fails again when run anew (with the seed it reports).
  assert.is(new World(r.shrunk.scenario, r.shrunkSeed, {}).run().violation?.invariant, r.invariant);
});

test('gallocy shrink writes a scenario of a few faults that gallocy replay fails with the same invariant', () => {
  const out = path.join(tmp, 'forget-vote.yaml');
  const r = gallocy('shrink', '--scenario', path.join(repoRoot, 'bench', 'shrink', 'forget-vote.yaml'), '--seed', '4', '--out', out, '--max-runs', '3000', '--json');
  assert.is(r.status, 1, r.stderr);
  const report = JSON.parse(r.stdout) as { invariant: string; original: { faults: number }; shrunk: { faults: number; events: number }; runs: number; shrunkSeed: number; replay: string };
  assert.is(report.invariant, 'election-safety');
  assert.ok(report.original.faults > 100 && report.shrunk.faults <= 20, `${report.original.faults} -> ${report.shrunk.faults} faults`);
  // The failure comes in one of the first elections, not seconds into the run (12,789 events before shrinking).
  assert.ok(report.shrunk.events <= 200, `${report.shrunk.events} events`);
  assert.ok(report.runs <= 3000);
  const text = readFileSync(out, 'utf8');
  assert.match(text, /^# Shrunk by: gallocy shrink/);
  assert.not.match(text, /nemesis/);
  const replay = gallocy('replay', '--scenario', out, '--seed', String(report.shrunkSeed), '--json');
  assert.is(replay.status, 1, replay.stderr);
  assert.is((JSON.parse(replay.stdout) as { violation: { invariant: string } }).violation.invariant, 'election-safety');
});

test('a seed that does not fail, or a bad flag, exits 2 with a message', () => {
  const pass = gallocy('shrink', '--scenario', 'raft-basic', '--seed', '1', '--max-runs', '5');
  assert.is(pass.status, 2);
  assert.match(pass.stderr, 'finds no violation');
  const bad = gallocy('shrink', '--scenario', 'raft-basic', '--seed', '1', '--max-runs', 'many');
  assert.is(bad.status, 2);
  assert.match(bad.stderr, '--max-runs: expected an integer');
});

test('fuzz prints the shrink command beside each replay command, and --shrink shrinks the first failure', () => {
  const scenario = path.join(repoRoot, 'bench', 'shrink', 'send-before-sync.yaml');
  const r = gallocy('fuzz', '--scenario', scenario, '--seeds', '2', '--jobs', '1', '--shrink');
  assert.is(r.status, 1, r.stderr);
  assert.match(r.stdout, `shrink: gallocy shrink --scenario ${scenario} --seed 1`);
  assert.match(r.stdout, 'shrunk the first failure:');
  assert.match(r.stdout, /shrunk\s+0 faults, 2 hosts/);
  assert.ok(readFileSync(path.join(tmp, 'shrunk-bench-send-before-sync-1.yaml'), 'utf8').includes('sendBeforeSync: true'));
});

test('a path written as a schedule: a crash for as long as the host was down, a lost message as a 0 ms one-way partition of its link, a held-up event as a pause of its host', () => {
  const s = drawScenario(loadScenario('raft-tiny').spec, 1).scenario;
  const budget = { crashes: 1, losses: 1, duplicates: 0 };
  const session = new Space(s, 1, budget, NO_REDUCTIONS).initial();
  const keys: string[] = [];
  const take = (c: Choice): void => {
    keys.push(choiceKey(c));
    session.apply(c);
  };
  const runs = (): RunChoice[] => session.enabled().filter((c): c is RunChoice => c.kind === 'run').sort((a, b) => a.atUs - b.atUs);
  while (session.world.network.inFlight().length === 0) take(runs()[0]!);
  const crashAt = session.now;
  take({ kind: 'crash', host: 2 });
  const lose = session.enabled().find((c) => c.kind === 'lose')!;
  const m = session.world.network.inFlightAt((lose as { id: number }).id)!;
  const loseAt = session.now;
  take(lose);
  // The latest host event first: the earliest one of another host then runs late.
  const pending = runs().filter((c) => c.owner >= 1 && c.owner <= 3);
  const last = pending[pending.length - 1]!;
  const late = pending.find((c) => c.owner !== last.owner && c.atUs < last.atUs)!;
  take(last);
  const lateRanAt = session.now;
  take(late);
  const restartAt = session.now;
  take({ kind: 'restart', host: 2 });
  session.close();
  const plan = scheduleOfPath(s, 1, budget, NO_REDUCTIONS, keys);
  const faults = plan.scenario.faults.schedule;
  assert.equal(faults.find((f) => f.kind === 'crash'), { atMs: crashAt / 1000, kind: 'crash', hosts: [2], forMs: (restartAt - crashAt) / 1000, count: 1, everyMs: 0 });
  assert.equal(faults.find((f) => f.kind === 'partition-one-way'), { atMs: loseAt / 1000, kind: 'partition-one-way', hosts: [m.from], peers: [m.to], forMs: 0, count: 1, everyMs: 0 });
  assert.equal(faults.find((f) => f.kind === 'pause' && f.hosts![0] === late.owner), { atMs: late.atUs / 1000, kind: 'pause', hosts: [late.owner], forMs: (lateRanAt - late.atUs) / 1000, count: 1, everyMs: 0 });
  assert.is(plan.crashes, 1);
  assert.is(plan.losses, 1);
  assert.is(plan.scenario.faults.nemesis, undefined);
  // A plain run of it makes every one of those faults.
  const r = new World(scenarioSchema.parse(plan.scenario), 1, {}).run();
  assert.is(r.stats.faults, faults.length);
});

test('shrink --choices cuts a check path, and writes it as a YAML scenario that gallocy replay fails with the same invariant', () => {
  const scenario = path.join(tmp, 'raft-tiny-forget-vote.yaml');
  writeFileSync(scenario, `${readFileSync(path.join(repoRoot, 'scenarios', 'raft-tiny.yaml'), 'utf8').replace(/^name: raft-tiny$/m, 'name: raft-tiny-forget-vote')}\nbugs: { forgetVote: true }\n`);
  const found = gallocy('check', '--scenario', scenario, '--strategy', 'random', '--depth', '40', '--walks', '20000', '--crashes', '1', '--budget', '120', '--out', 'fv.choices.json');
  assert.is(found.status, 1, found.stdout + found.stderr);
  const r = gallocy('shrink', '--scenario', scenario, '--choices', 'fv.choices.json', '--out', 'fv.shrunk.yaml', '--max-runs', '3000', '--json');
  assert.is(r.status, 1, r.stderr);
  const report = JSON.parse(r.stdout) as {
    invariant: string;
    path: { original: { choices: number }; shrunk: { choices: number; faults: number }; file: string };
    schedule: { crashes: number; failingSeed: number | null };
    shrunk: { shrunkSeed: number; file: string; invariant: string; shrunk: { faults: number } } | null;
  };
  assert.is(report.invariant, 'election-safety');
  assert.ok(report.path.shrunk.choices < report.path.original.choices, `${report.path.original.choices} -> ${report.path.shrunk.choices} choices`);
  // The path itself, cut down, replays exactly.
  const replayPath = gallocy('replay', '--scenario', scenario, '--choices', report.path.file);
  assert.is(replayPath.status, 1, replayPath.stderr);
  assert.match(replayPath.stdout, 'VIOLATION   election-safety');
  assert.match(replayPath.stdout, 'the same outcome as the file records');
  // The path's crash is in the schedule, and a plain run of the shrunk scenario fails the same invariant.
  assert.is(report.schedule.crashes, 1);
  assert.ok(report.shrunk !== null, 'a seed fails with the schedule');
  assert.is(report.shrunk.file, 'fv.shrunk.yaml');
  const text = readFileSync(path.join(tmp, 'fv.shrunk.yaml'), 'utf8');
  assert.match(text, /kind: crash/);
  assert.not.match(text, /nemesis/);
  const replay = gallocy('replay', '--scenario', 'fv.shrunk.yaml', '--seed', String(report.shrunk.shrunkSeed), '--json');
  assert.is(replay.status, 1, replay.stderr);
  assert.is((JSON.parse(replay.stdout) as { violation: { invariant: string } }).violation.invariant, 'election-safety');
  assert.is(gallocy('shrink', '--scenario', scenario, '--choices', 'fv.choices.json', '--seed', '3').status, 2);
});

test.run();
