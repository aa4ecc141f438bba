// Every shipped scenario, run briefly with a trace sink: each line the run
// writes names a kind of the vocabulary and carries exactly its fields, in
// order. The kinds seen across the runs cover every family of events, so
// the check looked at real traffic.
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { findRepoRoot } from '../../src/cli/repo-root.js';
import { loadScenario } from '../../src/cli/scenario-file.js';
import { runSeed } from '../../src/sim/run.js';
import type { Scenario } from '../../src/sim/scenario.js';
import { drawScenario } from '../../src/sim/swarm.js';
import { checkTraceLine } from './trace-lines.js';

const dir = path.join(findRepoRoot(), 'scenarios');
const files = readdirSync(dir).filter((f) => f.endsWith('.yaml')).sort();

/** The scenario cut to 12 s, its faults to the first 8 (so the quiet period comes too). */
function brief(s: Scenario): Scenario {
  const untilS = s.faults.untilS === undefined ? undefined : Math.min(s.faults.untilS, 8);
  return { ...s, durationS: Math.min(s.durationS, 12), faults: { ...s.faults, ...(untilS !== undefined ? { untilS } : {}) } };
}

const seen = new Set<string>();

for (const file of files) {
  test(`${file}: every trace line is in the vocabulary`, () => {
    // A scenario that varies per seed: what seed 1 draws.
    const scenario = drawScenario(loadScenario(path.join(dir, file)).spec, 1).scenario;
    const problems: string[] = [];
    let lines = 0;
    const r = runSeed(brief(scenario), 1, {
      traceSink: (line) => {
        lines++;
        const wrong = checkTraceLine(line);
        if (wrong !== null && problems.length < 5) problems.push(wrong);
        if (wrong === null) seen.add((JSON.parse(line) as { kind: string }).kind);
      },
    });
    assert.equal(problems, []);
    // A scenario that expects a violation may find it early (a Byzantine host caught at once).
    assert.ok(lines > 500 || (scenario.expect !== undefined && r.violation !== null), `${lines} lines`);
  });
}

test('the runs covered every family of events', () => {
  assert.ok(files.length >= 10, `${files.length} scenarios`);
  const expected = [
    'app', 'appResp', 'heartbeat', 'heartbeatResp', 'vote', 'voteResp', 'preVote', 'preVoteResp', // Raft
    'acquire', 'grant', 'revoke', 'revoked', 'release', 'released', 'alloc', // the VMM
    'kv-request', 'kv-response', 'kv-not-leader', 'kv-ok', // key-value clients
    'start', 'tick', 'sync', 'leader', 'crash', 'pause', 'resume', 'quiet', 'clock-jump', 'clock-drift', // hosts and faults
    'thread-wait', 'thread-ready', 'thread-malloc', // application threads
  ];
  assert.equal(expected.filter((k) => !seen.has(k)), []);
  assert.ok([...seen].filter((k) => k.startsWith('fault:')).length >= 8, [...seen].sort().join(' '));
});

test.run();
