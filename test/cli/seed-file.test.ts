// The seed file of past failures: fuzz re-runs the recorded seeds of its
// scenario before its range (shown with --stop-on-first), records new failures
// once, splits re-runs among shards by seed, and names file:line for a bad line.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fuzzCommand, type FuzzArgs, type FuzzReport } from '../../src/cli/fuzz.js';
import { mergeCommand } from '../../src/cli/merge.js';
import { readSeedFile, type PastFailure } from '../../src/cli/seed-file.js';
import { InputError } from '../../src/input/errors.js';
import { capture, writeFakeRunner } from './fake-runner.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'gallocy-seeds-'));
const runnerModule = writeFakeRunner(tmp);
let files = 0;

/** A seed file holding these lines (objects as JSON, strings as written). */
function seedFile(lines: Array<Partial<PastFailure> | string>): string {
  const file = path.join(tmp, `seeds-${++files}.jsonl`);
  writeFileSync(file, lines.map((l) => `${typeof l === 'string' ? l : JSON.stringify(l)}\n`).join(''));
  return file;
}

async function fuzz(over: Partial<FuzzArgs>): Promise<{ code: number; report: FuzzReport; text: string }> {
  const args: FuzzArgs = { scenario: 'raft-basic', seeds: 5, start: 100, jobs: 1, json: true, stopOnFirst: false, ...over };
  const io = capture();
  const code = await fuzzCommand(args, { io, runnerModule });
  return { code, text: io.stdout(), report: args.json ? (JSON.parse(io.stdout()) as FuzzReport) : ({} as FuzzReport) };
}

const events = (seeds: number[]): number => seeds.reduce((s, k) => s + 100 + k, 0);

test('past failures run before the range: with --stop-on-first the recorded seed stops the campaign before seed 100', async () => {
  const plain = await fuzz({ stopOnFirst: true });
  assert.equal(plain.report.failures.map((f) => f.seed), [100]);
  const file = seedFile([{ scenario: 'raft-basic', seed: 8 }]);
  const { code, report } = await fuzz({ stopOnFirst: true, seedFile: file });
  assert.is(code, 1);
  assert.equal(report.rerun, { seeds: 1, failures: [{ seed: 8, invariant: 'election-safety', message: 'two leaders in term 8', replay: 'gallocy replay --scenario raft-basic --seed 8', shrink: 'gallocy shrink --scenario raft-basic --seed 8', lastEvents: [{ t: 1000, host: 1, kind: 'leader', group: 0, term: 8 }] }] });
  assert.is(report.seeds, 0);
  assert.equal(report.failures, []);
});

test('new failures are appended once, with scenario, hash, seed, invariant and first seen; recorded seeds are not added again', async () => {
  const file = seedFile([{ scenario: 'raft-basic', seed: 8, note: 'kept as written' } as Partial<PastFailure>]);
  const first = await fuzz({ seedFile: file });
  assert.equal(first.report.failures.map((f) => f.seed), [100, 104]);
  const lines = readSeedFile(file);
  assert.is(lines.length, 3);
  assert.equal(lines[0], { scenario: 'raft-basic', seed: 8, note: 'kept as written' });
  for (const [i, seed] of [[1, 100], [2, 104]] as const) {
    const l = lines[i]!;
    assert.equal({ ...l, firstSeen: '' }, { scenario: 'raft-basic', scenarioHash: first.report.campaign.scenarioHash, seed, invariant: 'election-safety', firstSeen: '' });
    assert.ok(!Number.isNaN(Date.parse(l.firstSeen!)), l.firstSeen);
  }
  // Again: 100 and 104 are now past failures inside the range; each runs once and counts for both.
  const again = await fuzz({ seedFile: file });
  assert.equal(again.report.rerun!.failures.map((f) => f.seed), [8, 100, 104]);
  assert.is(again.report.rerun!.seeds, 3);
  assert.is(again.report.seeds, 5);
  assert.is(again.report.events, events([100, 101, 102, 103, 104]));
  assert.is(readSeedFile(file).length, 3);
});

test('only lines of this scenario re-run: by name, or by content hash under another name', async () => {
  const hash = (await fuzz({ seeds: 1 })).report.campaign.scenarioHash;
  const file = seedFile([
    { scenario: 'dsm-chaos', seed: 1 },
    { scenario: 'renamed', scenarioHash: hash, seed: 2 },
    { scenario: 'raft-basic', seed: 3 },
    { scenario: 'raft-basic', seed: 3 },
  ]);
  const { report } = await fuzz({ seedFile: file, seeds: 1, start: 50 });
  assert.is(report.rerun!.seeds, 2); // 2 and 3; 3 once
  assert.equal(report.rerun!.failures, []);
});

test('shards split the re-runs by seed: each past failure runs in exactly one shard, the one that owns its seed', async () => {
  const recorded = [8, 100, 101, 102, 0];
  const file = seedFile(recorded.map((seed) => ({ scenario: 'raft-basic', seed })));
  const ran: number[] = [];
  for (let index = 1; index <= 3; index++) {
    const { report } = await fuzz({ seedFile: file, seeds: 9, start: 1, shard: { index, count: 3 } });
    ran.push(...report.rerun!.failures.map((f) => f.seed));
    if (index === 2) assert.is(report.rerun!.seeds, 2); // 8 and 101: offsets 7 and 100 from 1 are 1 modulo 3
  }
  assert.equal(ran.sort((a, b) => a - b), [0, 8, 100]); // the failing ones of the recorded seeds, each once
});

test('text summary: a re-run line; failures of past seeds printed with the rest; what was recorded', async () => {
  const file = seedFile([{ scenario: 'raft-basic', seed: 8 }, { scenario: 'raft-basic', seed: 9 }]);
  const { text } = await fuzz({ seedFile: file, json: false });
  assert.match(text, 'FAIL seed 8: election-safety');
  assert.match(text, 'FAIL seed 100: election-safety');
  assert.match(text, '  re-run     2 past failures first, 1 failed again (seeds 8)\n');
  assert.match(text, `  seed file  ${file}: 2 new failures recorded\n`);
});

test('a missing seed file (and its directory) is created on the first failure; a last line without newline is not joined', async () => {
  const file = path.join(tmp, 'fresh', '.gallocy', 'failures.jsonl');
  await fuzz({ seedFile: file });
  assert.equal(readSeedFile(file).map((l) => l.seed), [100, 104]);
  const handEdited = path.join(tmp, 'hand.jsonl');
  writeFileSync(handEdited, '{"scenario":"raft-basic","seed":7}');
  await fuzz({ seedFile: handEdited });
  assert.equal(readSeedFile(handEdited).map((l) => l.seed), [7, 100, 104]);
  assert.is(readFileSync(handEdited, 'utf8').split('\n').length, 4);
});

test('a bad line: the message names file:line, the field and what was expected', async () => {
  const cases: Array<[string, string]> = [
    ['{"scenario": "raft-basic", "seed": ', ':2: expected a past failure as JSON, got a syntax error'],
    ['{"scenario": "raft-basic", "seed": -1}', ':2: field seed: expected number to be >=0'],
    ['{"seed": 4}', ':2: field scenario: expected string, received undefined'],
    ['{"scenario": "raft-basic", "seed": 4, "invariant": 3}', ':2: field invariant: expected string, received number'],
    ['[4]', ':2: field (top level): expected object, received array'],
  ];
  for (const [bad, message] of cases) {
    const file = seedFile([{ scenario: 'raft-basic', seed: 1 }, bad, '']);
    const err = await fuzz({ seedFile: file }).then(() => null, (e: unknown) => e);
    assert.instance(err, InputError, bad);
    assert.match((err as Error).message, `${file}${message}`, bad);
  }
});

test('merge: shards that re-ran past failures merge their re-runs; merge --seed-file records the campaign\'s new failures', async () => {
  const file = seedFile([{ scenario: 'raft-basic', seed: 8 }, { scenario: 'raft-basic', seed: 9 }]);
  const reports: string[] = [];
  for (let index = 1; index <= 2; index++) {
    const { report } = await fuzz({ seedFile: file, start: 1, seeds: 12, shard: { index, count: 2 } });
    reports.push(path.join(tmp, `rerun-shard-${index}.json`));
    writeFileSync(reports[index - 1]!, JSON.stringify(report));
  }
  const io = capture();
  const target = path.join(tmp, 'merged-seeds.jsonl');
  assert.is(mergeCommand({ files: reports, json: true, seedFile: target }, { io }), 1);
  const merged = JSON.parse(io.stdout()) as FuzzReport;
  assert.equal(merged.rerun!.seeds, 2);
  assert.equal(merged.rerun!.failures.map((f) => f.seed), [8]);
  assert.equal(readSeedFile(target).map((l) => l.seed), [4, 8, 12]);
  // A shard without re-runs does not merge with shards that had them.
  const plain = path.join(tmp, 'plain-shard-2.json');
  writeFileSync(plain, JSON.stringify((await fuzz({ start: 1, seeds: 12, shard: { index: 2, count: 2 } })).report));
  assert.throws(() => mergeCommand({ files: [reports[0]!, plain], json: true }, { io: capture() }), /has no rerun \(fuzz ran without --seed-file\)/);
});

test.run();
