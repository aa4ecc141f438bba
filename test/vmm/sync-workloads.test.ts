// The synchronising workloads in the reference interpreter: each verifies under
// many schedules, and each verify notices when the lock or the barrier it
// relies on does not do its job (so a broken lock in the simulator or on real
// hosts shows in the result too, not only in the safety checkers).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  falseSharingWorkload, lockedListKeys, lockedListWorkload, matrixBarrierExpected, matrixBarrierWorkload, workloadOf,
} from '../../src/vmm/workloads/index.js';
import { runWorkload } from './interpreter.js';

const SEEDS = [1, 2, 3, 4, 5];

for (const [name, w] of [
  ['false-sharing, a lock per thread', falseSharingWorkload({ rounds: 20, computeUs: 0 })],
  ['false-sharing, 3 threads per lock', falseSharingWorkload({ rounds: 20, threadsPerLock: 3, computeUs: 0 })],
  ['matrix-barrier', matrixBarrierWorkload({ n: 5, iterations: 2, computeUsPerRow: 0 })],
  ['locked-list', lockedListWorkload({ inserts: 12, buckets: 3, removeEvery: 2, computeUs: 0 })],
] as const) {
  test(`${name}: verifies under every schedule`, () => {
    for (const seed of SEEDS) {
      for (const threads of [1, 2, 4, 7]) {
        const r = runWorkload(w, { threads, seed, pageSize: 256, rootBytes: 256 });
        assert.is(r.verdict, null, `seed ${seed}, ${threads} threads: ${r.verdict}`);
      }
    }
  });
}

test('locks that do not exclude lose updates and links: verify says so', () => {
  const fs = falseSharingWorkload({ rounds: 30, threadsPerLock: 4, computeUs: 0 });
  // No removals: with them a thread may walk into a node freed under it, which the interpreter stops at.
  const list = lockedListWorkload({ inserts: 30, buckets: 1, removeEvery: 0, computeUs: 0 });
  const broken = { locksDoNotExclude: true };
  const fsBad = SEEDS.map((seed) => runWorkload(fs, { threads: 4, seed, faults: broken }).verdict);
  const listBad = SEEDS.map((seed) => runWorkload(list, { threads: 4, seed, faults: broken }).verdict);
  assert.ok(fsBad.every((v) => v !== null && /group 0's word is \d+, expected 120/.test(v)), fsBad.join(' | '));
  assert.ok(listBad.every((v) => v !== null && /missing/.test(v)), listBad.join(' | '));
});

test('barriers that do not wait let a phase read rows not written yet: verify says so', () => {
  const w = matrixBarrierWorkload({ n: 6, iterations: 2, computeUsPerRow: 0 });
  const verdicts = SEEDS.map((seed) => runWorkload(w, { threads: 3, seed, faults: { barriersDoNotWait: true } }).verdict);
  assert.ok(verdicts.every((v) => v !== null), verdicts.join(' | '));
});

test('locked-list: the keys removed are earlier keys of the same thread, each once', () => {
  const k = lockedListKeys({ inserts: 10, buckets: 2, removeEvery: 3, computeUs: 0 }, 2);
  assert.equal(k.inserted, [21, 22, 23, 24, 25, 26, 27, 28, 29, 30]);
  assert.equal(k.removed, [21, 24, 27]);
  assert.equal(lockedListKeys({ inserts: 4, buckets: 2, removeEvery: 0, computeUs: 0 }, 0).removed, []);
});

test('matrix-barrier: the expected result is A0 x B^k', () => {
  const one = matrixBarrierExpected(3, 1);
  assert.equal(one.a, one.c);
  assert.equal([...matrixBarrierExpected(2, 0).a], [1, 2, 2, 3]);
});

test('options are checked, naming the option', () => {
  assert.throws(() => workloadOf('false-sharing', { threadsPerLock: 0 }), /false-sharing: option threadsPerLock must be an integer in \[1,/);
  assert.throws(() => workloadOf('matrix-barrier', { iterations: 17 }), /matrix-barrier: option iterations/);
  assert.throws(() => workloadOf('locked-list', { buckets: 0 }), /locked-list: option buckets/);
});

test.run();
