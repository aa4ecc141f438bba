// The Raft interaction scripts: every test/raft/testdata/*.txt, each on a fresh
// environment. REWRITE=1 (or --rewrite) writes the actual outputs back.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { defineScriptTests, scriptFiles, sourceDir } from '../datadriven/runner.js';
import { newRaftEnv } from './interaction.js';

const dir = sourceDir('test', 'raft', 'testdata');

test('the paper cases are all scripted', () => {
  const names = scriptFiles(dir).map((f) => f.slice(dir.length + 1));
  for (const want of ['split_vote.txt', 'stale_leader.txt', 'figure_7.txt', 'figure_8.txt', 'prevote.txt', 'checkquorum.txt', 'transfer_leadership.txt', 'snapshot_catch_up.txt']) {
    assert.ok(names.includes(want), `missing ${want} in ${dir}`);
  }
});

defineScriptTests(test, dir, newRaftEnv);

test.run();
