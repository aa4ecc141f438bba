// Regressions of the heap bugs that alloc-churn found under partitions, pauses
// and membership changes (about one seed in two failed): each seed below
// failed before its fix, at the time given, and must now run clean. The
// scenario is the one they were found with; a seed reproduces only with it.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { World } from '../../src/sim/run.js';
import { scenarioSchema } from '../../src/sim/scenario.js';

const churn = scenarioSchema.parse({
  name: 'alloc-churn-under-faults',
  durationS: 60,
  hosts: 5,
  dsm: { heap: { pageSize: 256, pages: 128, rootPages: 2 }, workload: 'alloc-churn', workloadOptions: { rounds: 200, computeUs: 100000 } },
  faults: { untilS: 45, nemesis: { kinds: ['partition', 'pause', 'membership'], meanIntervalMs: 1500 } },
  liveness: { withinS: 15 },
});

/** Runs a seed up to a time past where it failed; returns the violation and the threads' failures. */
function runTo(seed: number, stopAtS: number): { violation: string | null; failures: readonly string[] } {
  const world = new World(churn, seed, { stopAtS });
  const r = world.run();
  return { violation: r.violation === null ? null : `${r.violation.invariant}: ${r.violation.message}`, failures: world.dsm!.failures };
}

test('seed 33: overlap before the fix (a retried free reached the owner after the block was handed out again, and freed it)', () => {
  // Was: allocator-safety at 12.074 s: host 3 got block [20480, 20533) overlapping live block [20480, 20542) of host 3.
  const r = runTo(33, 14);
  assert.is(r.violation, null);
  assert.equal(r.failures, []);
});

test('seed 20: "free of N: invalid" for allocated blocks before the fix (retries of a done free answered double free)', () => {
  const r = runTo(20, 30);
  assert.is(r.violation, null);
  assert.equal(r.failures.filter((f) => f.includes('invalid')), []);
});

test('seed 26: a deposed manager back from a pause answered not-allocated from its stale table before the fix', () => {
  // Was: host 4: access to page 77 failed: not-allocated at 12.114 s, then a thread waiting for ever (liveness).
  const r = runTo(26, 30);
  assert.is(r.violation, null);
  assert.equal(r.failures, []);
});

test('seed 27: a free went ahead of the write that took the block out of the mailbox, which was then lost (use after free) before the fix', () => {
  // Was: host 1: access to page 18 failed: not-allocated at 20.236 s, then liveness.
  const r = runTo(27, 22);
  assert.is(r.violation, null);
  assert.equal(r.failures.filter((f) => f.includes('access to page')), []);
});

test.run();
