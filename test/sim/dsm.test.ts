// Whole runs of the shared memory in the simulator: every workload passes its
// own end check with the memory checkers on, runs are deterministic, and
// unsafe configurations or planted bugs are caught.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadScenario } from '../../src/cli/scenario-file.js';
import { runSeed } from '../../src/sim/run.js';
import { scenarioSchema } from '../../src/sim/scenario.js';
import { drawScenario } from '../../src/sim/swarm.js';
import type { Scenario } from '../../src/sim/scenario.js';

const dsm = (workload: string, extra: object = {}): Scenario => scenarioSchema.parse({
  name: `test-${workload}`, durationS: 30, hosts: 5, dsm: { heap: { pageSize: 256, pages: 64 }, workload, ...extra }, liveness: { withinS: 25 },
});

for (const workload of ['registers', 'counter', 'matrix', 'alloc-churn']) {
  test(`${workload}: passes its own end check with every memory checker on`, () => {
    const r = runSeed(dsm(workload), 3);
    assert.is(r.violation, null, r.violation?.message);
    assert.is(r.stats.verified, 1, 'the workload verified its result');
    assert.ok(r.stats.faultsServed! > 10, `pages moved between hosts (${r.stats.faultsServed} faults served)`);
    assert.is(r.stats.threadsLost, 0);
  });
}

test('under a memory limit a host drops pages it only reads, and memory stays correct', () => {
  const r = runSeed(dsm('registers', { memoryLimitPages: 1, workloadOptions: { opsPerThread: 60, writeRatio: 0.2 } }), 2);
  assert.is(r.violation, null, r.violation?.message);
  assert.ok(r.stats.evictions! > 0, `pages were dropped (${r.stats.evictions})`);
  assert.is(r.stats.verified, 1);
});

test('the same seed replays to the same trace hash; another seed differs', () => {
  const scenario = drawScenario(loadScenario('dsm-chaos').spec, 5).scenario;
  const short = { ...scenario, durationS: 20, faults: { ...scenario.faults, untilS: 10 }, liveness: { withinS: 10 } };
  const a = runSeed(short, 5);
  const b = runSeed(short, 5);
  assert.is(a.traceHash, b.traceHash);
  assert.is(a.events, b.events);
  assert.is.not(runSeed(short, 6).traceHash, a.traceHash);
});

test('crashes and partitions keep registers linearizable, with lost writes left open', () => {
  const scenario = loadScenario('dsm-crashes').spec;
  for (const seed of [1, 2]) {
    const r = runSeed(scenario, seed);
    assert.is(r.violation, null, r.violation?.message);
  }
});

test('owners leave and join through the registry; companies follow without losing a page', () => {
  const scenario = loadScenario('dsm-churn').spec;
  const r = runSeed(scenario, 2, { inspect: true });
  assert.is(r.violation, null, r.violation?.message);
  const voters = r.inspection!.flatMap((h) => h.groups.filter((g) => g.group > 0 && g.role === 'leader').map((g) => g.voters.join(',')));
  assert.ok(voters.some((v) => v !== '1,2,3' && v !== '1,4,5'), `some company moved (leaders' voters: ${voters.join(' | ')})`);
});

test('drift beyond the lease bound is caught: a lease is expired while it still runs on its holder\'s clock', () => {
  const scenario = loadScenario('dsm-clock-unsafe').spec;
  const found = [1, 2, 3, 4, 5].map((seed) => runSeed(scenario, seed).violation?.invariant);
  assert.ok(found.filter((v) => v === 'lease-waited-out').length >= 3, `found ${found.join(', ')}`);
});

test('answering a revoke without writing the page back is caught', () => {
  const s = scenarioSchema.parse({
    name: 'bug', durationS: 30, hosts: 5, bugs: { skipWriteBack: true },
    dsm: { heap: { pageSize: 256, pages: 64 }, workload: 'registers', workloadOptions: { opsPerThread: 100, computeUs: 20000 } },
  });
  const found = [1, 2, 3].map((seed) => runSeed(s, seed).violation?.invariant);
  assert.ok(found.some((v) => v === 'coherence' || v === 'linearizability'), `found ${found.join(', ')}`);
});

test.run();
