// The smallest clusters in the simulator: one host, and hosts that each own a
// company alone (replication 1). Their Raft groups have a single voter and
// commit without any message; with the disk synced inline, as real mode's
// store does, a proposal is committed and applied before propose() returns.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadScenario } from '../../src/cli/scenario-file.js';
import { runSeed } from '../../src/sim/run.js';
import { scenarioSchema } from '../../src/sim/scenario.js';
import type { Scenario } from '../../src/sim/scenario.js';

const quiet = (hosts: number, dsm: object, disk: object = { syncInline: true }): Scenario => scenarioSchema.parse({
  name: 'test-small', durationS: 20, hosts, disk, dsm: { heap: { pageSize: 256, pages: 64 }, ...dsm }, liveness: { withinS: 15 },
});

for (const [what, hosts] of [['one host', 1], ['three hosts of one owner per company', 3]] as const) {
  test(`${what}, inline disk, no faults: the counter is exact (failing before: a commit inside propose() was never answered)`, () => {
    const s = quiet(hosts, { replication: 1, workload: 'counter', workloadOptions: { increments: 50, counters: 2, computeUs: 5000 } });
    const r = runSeed(s, 1, { inspect: true });
    assert.is(r.violation, null, r.violation?.message);
    assert.is(r.stats.verified, 1);
    assert.is(r.stats.threadsDone, hosts * 2);
    const voters = r.inspection!.flatMap((h) => h.groups.filter((g) => g.group > 0).map((g) => g.voters.join(',')));
    assert.equal(voters, hosts === 1 ? ['1'] : ['1', '2', '3'], 'every company has one voter');
  });
}

test('four threads of one host writing different pages all finish (failing before: waiting writers took the dirty page from each other)', () => {
  // Twelve registers over three pages; the disk is the simulator's usual one, with sync delays.
  const s = quiet(1, { threadsPerHost: 4, workload: 'registers', workloadOptions: { opsPerThread: 100, computeUs: 20000 } }, {});
  const r = runSeed(s, 1);
  assert.is(r.violation, null, r.violation?.message);
  assert.is(r.stats.threadsDone, 4);
  // Each write-back lets one thread write; thrashing took dozens per access.
  assert.ok(r.stats.writeBacks! < r.stats.accesses!, `${r.stats.writeBacks} write-backs for ${r.stats.accesses} accesses`);
});

for (const name of ['dsm-single', 'dsm-replication-1']) {
  test(`${name}: seeds run clean, with threads at work until the faults`, () => {
    const scenario = loadScenario(name).spec;
    for (const seed of [1, 2, 3]) {
      const r = runSeed(scenario, seed);
      assert.is(r.violation, null, `seed ${seed}: ${r.violation?.message}`);
      assert.is(r.stats.verified, 1, `seed ${seed}: the end check ran`);
      assert.ok(r.stats.accesses! > 300, `seed ${seed}: ${r.stats.accesses} accesses`);
    }
  });
}

test.run();
