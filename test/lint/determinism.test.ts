// The simulated core must get time and randomness only from the simulator:
// any of these calls in src/raft, src/vmm, src/host, src/sim or src/check (whose
// checkers run inside the simulator) would make a seed replay differently.
import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { findRepoRoot as repoRoot } from '../../src/cli/repo-root.js';
import { codeOnly, tsFiles } from './source.js';

const FORBIDDEN: [RegExp, string][] = [
  [/\bMath\.random\b/, 'Math.random'],
  [/\bDate\b/, 'Date'],
  [/\bsetTimeout\b/, 'setTimeout'],
  [/\bsetImmediate\b/, 'setImmediate'],
  [/\bsetInterval\b/, 'setInterval'],
  [/\bperformance\.now\b/, 'performance.now'],
  [/\bprocess\.hrtime\b/, 'process.hrtime'],
  [/\bcrypto\.random\w*/, 'crypto.random*'],
  [/\brandom(Bytes|UUID|Int|Fill)\b/, 'crypto random functions'],
  [/\basync\b|\bawait\b|\bPromise\b/, 'async code'],
];

export function findForbidden(source: string): string[] {
  const lines = codeOnly(source).split('\n');
  const hits: string[] = [];
  lines.forEach((line, i) => {
    const found = FORBIDDEN.find(([re]) => re.test(line));
    if (found) hits.push(`line ${i + 1}: ${found[1]}`);
  });
  return hits;
}

test('the detector finds each forbidden call and ignores comments and strings', () => {
  assert.equal(findForbidden('const x = Math.random();').length, 1);
  assert.equal(findForbidden('const t = Date.now();').length, 1);
  assert.equal(findForbidden('setTimeout(f, 1);').length, 1);
  assert.equal(findForbidden('const t = performance.now();').length, 1);
  assert.equal(findForbidden('process.hrtime.bigint()').length, 1);
  assert.equal(findForbidden('crypto.randomBytes(4)').length, 1);
  assert.equal(findForbidden('async function f() {}').length, 1);
  assert.equal(findForbidden('// no Math.random here\nconst s = "Date";').length, 0);
  assert.equal(findForbidden('/* setTimeout */ const a = 1;').length, 0);
});

test('src/raft, src/vmm, src/host, src/sim and src/check use no clock, timer or randomness of their own', () => {
  const root = repoRoot();
  const hits: string[] = [];
  let files = 0;
  for (const part of ['src/raft', 'src/vmm', 'src/host', 'src/sim', 'src/check']) {
    let list: string[];
    try {
      list = tsFiles(join(root, part));
    } catch {
      continue; // a folder that does not exist yet holds nothing forbidden
    }
    for (const file of list) {
      files++;
      for (const h of findForbidden(readFileSync(file, 'utf8'))) hits.push(`${relative(root, file)} ${h}`);
    }
  }
  assert.ok(files > 10, `expected to scan the simulated core, scanned ${files} files`);
  assert.equal(hits, [], hits.join('\n'));
});

test.run();
