// Corrupted disk reads (a bit flipped as a record is read): the checksums
// catch every one, the host reads again or fails its boot and stays down until
// the next restart, and the run stays safe and live.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runSeed } from '../../src/sim/run.js';
import { scenarioSchema } from '../../src/sim/scenario.js';

const scenario = (hosts: number, dsm: boolean) => scenarioSchema.parse({
  name: 'corrupt-read', durationS: 30, hosts,
  ...(dsm ? { dsm: { heap: { pageSize: 256, pages: 16 }, workload: 'registers', workloadOptions: { opsPerThread: 60, computeUs: 100000 } } } : {}),
  faults: { untilS: 20, nemesis: { kinds: ['corrupt-read'], meanIntervalMs: 800 } },
  liveness: { withinS: 9 },
});

for (const dsm of [false, true]) {
  test(`${dsm ? 'shared memory' : 'key-value'}: corrupted reads are caught, hosts recover, no violation`, () => {
    let corrupt = 0;
    let faults = 0;
    for (let seed = 1; seed <= 4; seed++) {
      const r = runSeed(scenario(3, dsm), seed);
      assert.is(r.violation, null, `seed ${seed}: ${r.violation?.invariant} ${r.violation?.message}`);
      corrupt += r.stats.corruptReads!;
      faults += r.stats.faults!;
    }
    assert.ok(faults > 20, `faults injected: ${faults}`);
    assert.ok(corrupt > 0, `corrupted reads caught: ${corrupt}`);
  });
}

test.run();
