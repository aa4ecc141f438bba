// The viewer's model from traces: lanes per host, spans of host faults and
// network faults, leaders per group, page holders, the violation and the
// events that led to it; bad trace lines are named.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { findRepoRoot } from '../../src/cli/repo-root.js';
import { buildViewModel } from '../../src/cli/view-model.js';

const repoRoot = findRepoRoot();
const bin = path.join(repoRoot, 'bin', 'gallocy.js');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'gallocy-view-'));
const gallocy = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { cwd: tmp, encoding: 'utf8', timeout: 120_000 });
const line = (o: object): string => JSON.stringify(o);

test('two leaders of one term both show, the rival in a slot of its own; a later term ends both', () => {
  const lines = [
    line({ t: 0, host: 1, kind: 'start', epoch: 1 }),
    line({ t: 0, host: 2, kind: 'start', epoch: 1 }),
    line({ t: 0, host: 3, kind: 'start', epoch: 1 }),
    line({ t: 100, host: 3, kind: 'leader', group: 0, term: 1 }),
    line({ t: 200, host: 2, kind: 'leader', group: 0, term: 1 }),
    line({ t: 300, host: 1, kind: 'leader', group: 0, term: 2 }),
    line({ t: 400, host: 1, kind: 'tick' }),
  ];
  const m = buildViewModel(lines, 'x');
  const lane = (h: string): number => m.laneNames.indexOf(h);
  assert.equal(m.leaders, [
    { group: 0, lane: lane('h3'), from: 100, to: 300, term: 1, slot: 0 },
    { group: 0, lane: lane('h2'), from: 200, to: 300, term: 1, slot: 1 },
    { group: 0, lane: lane('h1'), from: 300, to: 400, term: 2, slot: 0 },
  ]);
});

test('spans, leaders, holders and arrows come from the events', () => {
  const lines = [
    line({ t: 0, host: 1, kind: 'start', epoch: 1 }),
    line({ t: 0, host: 2, kind: 'start', epoch: 1 }),
    line({ t: 100, host: 1, kind: 'tick' }),
    line({ t: 150, host: 2, kind: 'vote', group: 0, from: 1, term: 1, index: 0, logTerm: 0, transfer: 0 }),
    line({ t: 300, host: 1, kind: 'leader', group: 0, term: 1 }),
    line({ t: 400, host: 0, kind: 'fault:partition', n: 1, forMs: 1 }),
    line({ t: 500, host: 2, kind: 'grant', from: 1, req: 1, page: 3, version: 1, index: 5, leaseUs: 10000, mode: 'write' }),
    line({ t: 600, host: 2, kind: 'crash', epoch: 1 }),
    line({ t: 900, host: 2, kind: 'start', epoch: 2 }),
    line({ t: 950, host: 1, kind: 'leader', group: 0, term: 2 }),
    line({ t: 950, host: 0, kind: 'violation', invariant: 'coherence', message: 'page 3 lost', window: 2 }),
  ];
  const m = buildViewModel(lines, 'x');
  assert.equal(m.laneNames, ['h1', 'h2']);
  assert.is(m.t.length, 10);
  assert.equal(m.spans, [{ lane: 1, from: 600, to: 900, what: 'down' }]);
  assert.equal(m.netFaults, [{ from: 400, to: 950, kind: 'partition' }]); // cut at the trace's end
  assert.equal(m.leaders, [{ group: 0, lane: 0, from: 300, to: 950, term: 1, slot: 0 }, { group: 0, lane: 0, from: 950, to: 950, term: 2, slot: 0 }]);
  // The crash of its holder ends the hold.
  assert.equal(m.holders, [{ page: 3, lane: 1, from: 500, to: 600, mode: 'write' }]);
  // The vote is a message from h1, sent at h1's last event before it (its tick).
  assert.is(m.fromLane[3], 0);
  assert.is(m.sentAt[3], 100);
  assert.equal(m.notes, ['write']);
  // The window (the last two events) and, before it, every event of page 3.
  assert.equal(m.violation?.related, [6, 8, 9]);
});

test('gallocy view names the line it cannot read, and exits 2', () => {
  const file = path.join(tmp, 'bad.jsonl');
  writeFileSync(file, `${line({ t: 0, host: 1, kind: 'start', epoch: 1 })}\n${line({ t: 1, host: 1, kind: 'warp' })}\n`);
  const r = gallocy('view', file);
  assert.is(r.status, 2);
  assert.match(r.stderr, 'bad.jsonl: line 2: unknown event kind "warp"');
  writeFileSync(file, 'not json\n');
  assert.match(gallocy('view', file).stderr, 'line 1: expected a JSON object');
  assert.match(gallocy('view', path.join(tmp, 'none.jsonl')).stderr, 'cannot read the trace file');
});

test('replay --view writes the trace with its violation, and a page with no reference to the network', () => {
  const page = path.join(tmp, 'bug.html');
  const r = gallocy('replay', '--scenario', path.join(repoRoot, 'bench', 'shrink', 'send-before-sync.minimal.yaml'), '--seed', '5', '--view', page);
  assert.is(r.status, 1, r.stderr);
  const trace = readFileSync(path.join(tmp, 'bug.jsonl'), 'utf8').trimEnd().split('\n');
  const last = JSON.parse(trace.at(-1)!) as { kind: string; invariant: string };
  assert.is(last.kind, 'violation');
  assert.is(last.invariant, 'committed-durable-on-quorum');
  const html = readFileSync(page, 'utf8');
  assert.not.match(html, /(src|href)=["']?https?:|fetch\(|XMLHttpRequest|WebSocket|<link/);
  assert.match(html, "default-src 'none'");
});

test.run();
