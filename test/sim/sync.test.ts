// Locks and barriers in whole simulated runs: the three synchronising
// workloads verify with the lock and barrier checkers on; a leader change loses
// no lock; a crashed holder's lock frees itself by its lease; and each planted
// bug (a grant before the release, a barrier that opens early, a holder that
// runs on past its lease) is caught by the checkers.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadScenario } from '../../src/cli/scenario-file.js';
import { BarrierSafety, LockSafety } from '../../src/sim/check/sync.js';
import { runSeed } from '../../src/sim/run.js';
import { scenarioSchema } from '../../src/sim/scenario.js';
import type { Scenario } from '../../src/sim/scenario.js';
import { drawScenario } from '../../src/sim/swarm.js';
import type { SyncEvent } from '../../src/vmm/sync/hooks.js';

const dsm = (workload: string, options: object, extra: object = {}): Scenario => scenarioSchema.parse({
  name: `test-${workload}`, durationS: 30, hosts: 3,
  dsm: { heap: { pageSize: 256, pages: 64, rootPages: 2 }, workload, workloadOptions: options, threadsPerHost: 2 },
  liveness: { withinS: 25 }, ...extra,
});

const contendedList = { inserts: 15, buckets: 2, removeEvery: 3, computeUs: 100 };

for (const [workload, options] of [
  ['false-sharing', { rounds: 25, threadsPerLock: 3, computeUs: 100 }],
  ['matrix-barrier', { n: 6, iterations: 2, computeUsPerRow: 100 }],
  ['locked-list', contendedList],
] as const) {
  test(`${workload}: verifies, with lock and barrier safety checked online`, () => {
    const r = runSeed(dsm(workload, options), 1);
    assert.is(r.violation, null, r.violation?.message);
    assert.is(r.stats.verified, 1);
    assert.is(r.stats.threadsLost, 0);
    if (workload === 'matrix-barrier') assert.is(r.stats.barrierDepartures, 6 * (2 + 2 * 2), 'every thread left every episode');
    else {
      assert.ok(r.stats.locksAcquired! >= 6 * 15, `locks acquired: ${r.stats.locksAcquired}`);
      assert.ok(r.stats.lockQueued! > 0, 'threads waited for held locks');
    }
  });
}

test('the same seed of the chaos scenario replays to the same trace', () => {
  const s = drawScenario(loadScenario('dsm-locks-chaos').spec, 4).scenario;
  const short = { ...s, durationS: 15, faults: { ...s.faults, untilS: 8 }, liveness: { withinS: 6 } };
  assert.is(runSeed(short, 4).traceHash, runSeed(short, 4).traceHash);
});

test('leadership transfers of the managing companies lose no lock: the list stays exact', () => {
  const s = dsm('locked-list', contendedList, { faults: { untilS: 20, nemesis: { kinds: ['transfer'], meanIntervalMs: 300 } }, liveness: { withinS: 10 } });
  for (const seed of [1, 2]) {
    const r = runSeed(s, seed);
    assert.is(r.violation, null, r.violation?.message);
    assert.ok(r.stats.faults! >= 10, `${r.stats.faults} transfers`);
    assert.is(r.stats.verified, 1);
  }
});

test('a crashed holder\'s lock frees itself by its lease: the other hosts finish', () => {
  // One lock for every thread; host 3 crashes while holding it and stays down.
  const s = dsm('false-sharing', { rounds: 40, threadsPerLock: 6, computeUs: 100 }, {
    faults: { schedule: [{ atMs: 1500, kind: 'crash', hosts: [3], forMs: 20000 }] },
  });
  const r = runSeed(s, 3);
  assert.is(r.violation, null, r.violation?.message);
  // The host holds the lock whether or not one of its threads is inside it at the crash.
  assert.ok(r.probes['vmm.lock-waited-out']! >= 1, 'the crashed host held the lock: its lease was waited out');
  assert.is(r.stats.threadsDone, 4, 'the threads of hosts 1 and 2 finished');
});

for (const [bug, scenario, seeds, invariant] of [
  ['grantBeforeRelease', () => dsm('locked-list', contendedList), [1], 'lock-safety'],
  ['barrierEarly', () => dsm('matrix-barrier', { n: 6, iterations: 1, computeUsPerRow: 100 }), [1], 'barrier-safety'],
  ['ignoreLockLease', (seed: number) => drawScenario(loadScenario('dsm-locks-stall').spec, seed).scenario, [1, 7], 'lock-safety'],
] as const) {
  test(`planted bug ${bug} is caught (${invariant}); the same seeds pass without it`, () => {
    for (const seed of seeds) {
      const s = scenario(seed);
      const bad = runSeed({ ...s, bugs: { ...s.bugs, [bug]: true } } as Scenario, seed);
      assert.is(bad.violation?.invariant, invariant, bad.violation?.message ?? 'no violation');
      const good = runSeed(s, seed);
      assert.is(good.violation, null, good.violation?.message);
    }
  });
}

// The checkers on hand-made histories.

const lockEv = (kind: 'lock-acquired' | 'lock-released' | 'lock-lost', host: number, at: number): SyncEvent => ({ kind, host, thread: host, id: 1, at });

test('lock safety: a new holder while the old one is stopped is fine; the old one acting after is not', () => {
  const ok = new LockSafety();
  for (const e of [lockEv('lock-acquired', 1, 10), lockEv('lock-acquired', 2, 50), lockEv('lock-lost', 1, 40), lockEv('lock-released', 2, 60)]) ok.event(e);
  const late = new LockSafety();
  late.event(lockEv('lock-acquired', 1, 10));
  late.event(lockEv('lock-acquired', 2, 50));
  assert.throws(() => late.acted(1, 1, 51), /lock-safety: lock 1: thread 1 of host 1, holding it since .* accessed memory at .* after thread 2 of host 2/);
  const released = new LockSafety();
  released.event(lockEv('lock-acquired', 1, 10));
  released.event(lockEv('lock-acquired', 2, 50));
  assert.throws(() => released.event(lockEv('lock-released', 1, 55)), /released it/);
});

const barrierEv = (kind: 'barrier-arrived' | 'barrier-departed', thread: number, episode: number, at: number): SyncEvent =>
  ({ kind, host: 1, thread, name: 3, episode, parties: 2, at });

test('barrier safety: nobody leaves before every party arrived; episodes in order', () => {
  const ok = new BarrierSafety();
  for (const e of [barrierEv('barrier-arrived', 0, 0, 1), barrierEv('barrier-arrived', 1, 0, 2), barrierEv('barrier-departed', 1, 0, 3),
    barrierEv('barrier-arrived', 1, 1, 4), barrierEv('barrier-departed', 0, 0, 5)]) ok.event(e);
  const early = new BarrierSafety();
  early.event(barrierEv('barrier-arrived', 0, 0, 1));
  assert.throws(() => early.event(barrierEv('barrier-departed', 0, 0, 2)), /barrier-safety: barrier 3, episode 0: .* after only 1 of 2 parties arrived/);
  const skip = new BarrierSafety();
  assert.throws(() => skip.event(barrierEv('barrier-arrived', 0, 1, 1)), /its next episode is 0/);
});

test.run();
