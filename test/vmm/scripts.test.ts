// The page-manager interaction scripts: every test/vmm/testdata/*.txt, each on
// a fresh environment. REWRITE=1 (or --rewrite) writes the actual outputs back.
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { defineScriptTests, runScriptFile, scriptFiles, sourceDir } from '../datadriven/runner.js';
import { newVmmEnv } from './interaction.js';

const dir = sourceDir('test', 'vmm', 'testdata');

test('the fault cases are all scripted', () => {
  const names = scriptFiles(dir).map((f) => path.basename(f));
  for (const want of ['read_fault.txt', 'write_fault_revokes_readers.txt', 'write_fault_revokes_writer.txt']) {
    assert.ok(names.includes(want), `missing ${want} in ${dir}`);
  }
});

test('a writer that skips its write-back fails write_fault_revokes_writer.txt', () => {
  const r = runScriptFile(path.join(dir, 'write_fault_revokes_writer.txt'), newVmmEnv({ bugs: { skipWriteBack: true } }), { rewrite: false });
  assert.ok(r.mismatches.length > 0, 'the script did not notice');
  // No release goes out, and the reader gets the old contents: 0, not 42.
  assert.ok(r.mismatches.some((m) => m.actual.includes('3 read page 5 word 0: 0')), r.report);
  assert.not.ok(r.mismatches.some((m) => m.actual.includes('release')), r.report);
});

defineScriptTests(test, dir, newVmmEnv);

test.run();
