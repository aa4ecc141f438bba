// The Raft interaction scripts: every test/raft/testdata/*.txt, each on a fresh
// environment. REWRITE=1 (or --rewrite) writes the actual outputs back.
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { defineScriptTests, runScriptFile, scriptFiles, sourceDir } from '../datadriven/runner.js';
import { newRaftEnv } from './interaction.js';

const dir = sourceDir('test', 'raft', 'testdata');

test('the paper cases are all scripted', () => {
  const names = scriptFiles(dir).map((f) => path.basename(f));
  for (const want of ['split_vote.txt', 'stale_leader.txt', 'figure_7.txt', 'figure_8.txt', 'prevote.txt', 'checkquorum.txt', 'transfer_leadership.txt', 'snapshot_catch_up.txt']) {
    assert.ok(names.includes(want), `missing ${want} in ${dir}`);
  }
});

test('a driver that sends votes before they are durable fails persist_before_send.txt', () => {
  const r = runScriptFile(path.join(dir, 'persist_before_send.txt'), newRaftEnv({ sendBeforePersist: true }), { rewrite: false });
  // The reply that must wait for the disk is out while the write is still pending.
  const early = r.mismatches.find((m) => m.command === 'deliver-msgs 1');
  assert.ok(early, r.report);
  assert.match(early.actual, /^2->1 MsgVoteResp Term:1/);
});

defineScriptTests(test, dir, newRaftEnv);

test.run();
