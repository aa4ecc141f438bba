// gallocy merge, on shard reports made by fuzz itself (with a stand-in
// runSeed): merged shards equal one unsharded run; reports of different
// campaigns, missing or repeated shards and malformed files are refused with
// a message naming the file (and line) and the field.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fuzzCommand, type FuzzArgs, type FuzzReport } from '../../src/cli/fuzz.js';
import { mergeCommand } from '../../src/cli/merge.js';
import { InputError } from '../../src/input/errors.js';
import { capture, fakeFailures, writeFakeRunner } from './fake-runner.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'gallocy-merge-'));
const runnerModule = writeFakeRunner(tmp);

const args = (over: Partial<FuzzArgs>): FuzzArgs => ({ scenario: 'raft-basic', seeds: 14, start: 1, jobs: 1, json: true, stopOnFirst: false, ...over });

async function fuzz(over: Partial<FuzzArgs>): Promise<{ code: number; text: string; report: FuzzReport }> {
  const io = capture();
  const code = await fuzzCommand(args(over), { io, runnerModule });
  return { code, text: io.stdout(), report: JSON.parse(io.stdout()) as FuzzReport };
}

/** Runs shards 1..count of a campaign and writes each report to its own file. */
async function shardFiles(name: string, count: number, over: Partial<FuzzArgs> = {}): Promise<string[]> {
  const files: string[] = [];
  for (let index = 1; index <= count; index++) {
    const file = path.join(tmp, `${name}-${index}.json`);
    writeFileSync(file, (await fuzz({ ...over, shard: { index, count } })).text);
    files.push(file);
  }
  return files;
}

function merge(files: string[], json = true): { code: number; out: string } {
  const io = capture();
  const code = mergeCommand({ files, json }, { io });
  return { code, out: io.stdout() };
}

function mergeError(files: string[]): string {
  try {
    mergeCommand({ files, json: true }, { io: capture() });
  } catch (err) {
    if (err instanceof InputError) return err.message;
    throw err;
  }
  throw new Error('expected merge to refuse');
}

/** What one whole run and a merge of its shards must agree on (wall time and shard bookkeeping aside). */
const essence = (r: FuzzReport) => ({
  scenario: r.scenario, seeds: r.seeds, start: r.start, failures: r.failures, events: r.events, simSeconds: r.simSeconds,
  expectedViolations: r.expectedViolations, campaign: { ...r.campaign, shards: 0 }, rerun: r.rerun,
  probes: r.probes, probesMissed: r.probesMissed, faultPointsFired: r.faultPointsFired,
});

test('a shard report says which campaign and shard it is, and holds only its seeds', async () => {
  const { code, report } = await fuzz({ shard: { index: 2, count: 3 } });
  assert.is(code, 1);
  assert.is(report.shard, 2);
  assert.equal({ ...report.campaign, scenarioHash: '' }, { scenario: 'raft-basic', scenarioHash: '', start: 1, seeds: 14, shards: 3, stopOnFirst: false });
  assert.match(report.campaign.scenarioHash, /^[0-9a-f]{16}$/);
  assert.is(report.seeds, 5); // 2, 5, 8, 11, 14
  assert.equal(report.failures.map((f) => f.seed), [8]);
  assert.is(report.events, [2, 5, 8, 11, 14].reduce((s, k) => s + 100 + k, 0));
});

for (const [seeds, count] of [[14, 3], [14, 1], [5, 7]] as const) {
  test(`merging the ${count} shards of seeds 1..${seeds} gives what one unsharded run gives`, async () => {
    const whole = await fuzz({ seeds });
    const { code, out } = merge(await shardFiles(`eq-${seeds}-${count}`, count, { seeds }));
    const merged = JSON.parse(out) as FuzzReport;
    assert.equal(essence(merged), essence(whole.report));
    assert.equal(merged.failures.map((f) => f.seed), fakeFailures(Array.from({ length: seeds }, (_, i) => i + 1)));
    assert.is(merged.campaign.shards, count);
    assert.is(merged.shard, undefined);
    assert.ok(merged.merged!.wallSecondsMax > 0 && merged.merged!.wallSecondsMax <= merged.wallSeconds);
    assert.is(code, whole.code);
    // Seed 13 crashed: it reached nothing.
    const ran = Array.from({ length: seeds }, (_, i) => i + 1).filter((s) => s !== 13);
    assert.is(merged.probes['raft.snapshot-installed'], ran.filter((s) => s % 2 === 1).length);
    assert.ok(merged.probesMissed.includes('host.boot-failed') && !merged.probesMissed.includes('raft.snapshot-installed'));
    assert.equal(merged.faultPointsFired, { 'raft.split-ready': ran.filter((s) => s % 3 === 0).reduce((n, s) => n + s, 0) });
  });
}

test('merge text: the fuzz summary of the whole campaign, failures with replay commands; exit 0 when nothing failed', async () => {
  const files = await shardFiles('text', 3);
  const { code, out } = merge(files, false);
  assert.is(code, 1);
  assert.match(out, 'FAIL seed 4: election-safety\n  two leaders in term 4\n  last event:\n    0.001000s h1 leader group=0 term=4\n  replay: gallocy replay --scenario raft-basic --seed 4');
  assert.match(out, 'FAIL seed 13: crash');
  assert.match(out, 'raft-basic: 14 seeds (seeds 1..14, 3 shards merged), 4 failed');
  assert.match(out, /wall +[\d.]+ s summed over 3 shards, [\d.]+ s the longest/);
  const passing = merge(await shardFiles('pass', 2, { seeds: 3 }), false);
  assert.is(passing.code, 0);
  assert.match(passing.out, 'raft-basic: 3 seeds (seeds 1..3, 2 shards merged), 0 failed');
});

test('a file may hold several reports, one per line (as parallel or kubectl logs collect them)', async () => {
  const files = await shardFiles('lines', 3);
  const all = path.join(tmp, 'lines.jsonl');
  writeFileSync(all, files.map((f) => readFileSync(f, 'utf8')).join('\n'));
  const merged = JSON.parse(merge([all]).out) as FuzzReport;
  assert.is(merged.seeds, 14);
  // A pretty-printed single report (jq's output) is one report, not one per line.
  const pretty = path.join(tmp, 'pretty.json');
  writeFileSync(pretty, JSON.stringify((await fuzz({ seeds: 3 })).report, null, 2));
  assert.is((JSON.parse(merge([pretty]).out) as FuzzReport).seeds, 3);
});

test('reports of different campaigns are refused, naming both files and the field', async () => {
  const [a1, a2] = await shardFiles('camp-a', 2);
  const [, b2] = await shardFiles('camp-b', 2, { seeds: 20 });
  assert.match(mergeError([a1!, b2!]), `${b2}: campaign.seeds is 20 but ${a1} has 14: reports of different campaigns cannot be merged`);
  const [, c2] = await shardFiles('camp-c', 2, { start: 5 });
  assert.match(mergeError([a1!, c2!]), `${c2}: campaign.start is 5 but ${a1} has 1`);
  const [, d2] = await shardFiles('camp-d', 3);
  assert.match(mergeError([a1!, a2!, d2!]), `${d2}: campaign.shards is 3 but ${a1} has 2`);
  // The same scenario name, edited between shards: told apart by its hash.
  const edited = path.join(tmp, 'raft-edited.yaml');
  writeFileSync(edited, 'name: raft-basic\ndurationS: 30\nhosts: 4\n');
  const [, e2] = await shardFiles('camp-e', 2, { scenario: edited });
  assert.match(mergeError([a1!, e2!]), new RegExp(`${e2}: campaign.scenarioHash is "[0-9a-f]+" but .* has "[0-9a-f]+" \\(the scenario was edited between shards`));
  const [, f2] = await shardFiles('camp-f', 2, { stopOnFirst: true });
  assert.match(mergeError([a1!, f2!]), 'campaign.stopOnFirst is true but');
});

test('missing and repeated shards are reported, all at once', async () => {
  const [s1, s2, s3, s4] = await shardFiles('cover', 4);
  assert.is(
    mergeError([s1!, s3!]),
    'campaign raft-basic (seeds 1..14 in 4 shards): expected one report per shard, but shards 2, 4 (of 4) are missing',
  );
  assert.is(
    mergeError([s2!, s1!, s2!, s3!]),
    `campaign raft-basic (seeds 1..14 in 4 shards): expected one report per shard, but shard 2/4 is given 2 times: ${s2}, ${s2}; shard 4 (of 4) is missing`,
  );
  assert.is(merge([s4!, s3!, s2!, s1!]).code, 1); // any order
  const many = await shardFiles('many', 9, { seeds: 3 });
  assert.match(mergeError([many[0]!, many[4]!]), 'shards 2..4, 6..9 (of 9) are missing');
});

test('bad files: the message names the file (and line) and the field', async () => {
  const good = (await fuzz({ shard: { index: 1, count: 2 } })).report;
  const cases: Array<[string, string, string]> = [
    ['empty.json', '\n', 'empty.json: expected a fuzz report (the output of gallocy fuzz --json), got an empty file'],
    ['syntax.json', '{"scenario": ', 'syntax.json: expected a fuzz report (the output of gallocy fuzz --json) as JSON, got a syntax error'],
    ['type.json', JSON.stringify({ ...good, events: 'many' }), 'type.json: field events: expected number, received string'],
    ['nocampaign.json', JSON.stringify({ ...good, campaign: undefined }), 'nocampaign.json: field campaign: expected object'],
    ['seed.json', JSON.stringify({ ...good, failures: [{ ...good.failures[0]!, seed: 6 }] }), 'seed.json: field failures[0].seed: expected a seed of shard 1/2 of seeds 1..14, got 6'],
    ['shard.json', JSON.stringify({ ...good, shard: 3 }), 'shard.json: field shard: expected a shard from 1 to 2 (campaign.shards), got 3'],
    ['count.json', JSON.stringify({ ...good, seeds: 8 }), 'count.json: field seeds: expected at most 7 (the seeds of shard 1/2), got 8'],
    ['merged.json', JSON.stringify({ ...good, shard: undefined, merged: { wallSecondsMax: 1 } }), 'merged.json: field merged: expected the report of one shard, got a merged report'],
  ];
  for (const [name, text, message] of cases) {
    const file = path.join(tmp, name);
    writeFileSync(file, text);
    assert.match(mergeError([file]), `${file.slice(0, -name.length)}${message}`, name);
  }
  const lines = path.join(tmp, 'lines-bad.jsonl');
  writeFileSync(lines, `${JSON.stringify(good)}\n\n${JSON.stringify({ ...good, start: -1 })}\n`);
  assert.match(mergeError([lines]), `${lines}:3: field start: expected number to be >=0`);
  assert.match(mergeError([path.join(tmp, 'absent.json')]), `${path.join(tmp, 'absent.json')}: cannot read fuzz report: no such file`);
});

test.run();
