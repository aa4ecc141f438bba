// Regressions of bugs the configuration swarm of dsm-chaos found: each test
// is the scenario a seed drew (as `gallocy replay --drawn` writes it), which
// failed before its fix and must now run clean. (Seed 367, the end check
// started early, is in test/sim/dsm-world.test.ts.)
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runSeed } from '../../src/sim/run.js';
import { scenarioSchema } from '../../src/sim/scenario.js';

test('dsm-chaos seed 183 (3 threads per host): livelock before the fix (38ca356), threads of one host writing different pages took the dirty page from each other for ever', () => {
  // Was: liveness: thread 0 on host 1 has waited for a page since 28.834 s, 15 s after faults stopped.
  const s = scenarioSchema.parse({
    name: 'dsm-chaos', durationS: 60, hosts: 5,
    raft: { electionTicks: 10, maxEntriesPerMsg: 64 },
    network: { latency: { minMs: 0.2, meanMs: 2.895, maxMs: 7.63 }, loss: 0.015, duplicate: 0.01, reorder: 0.05 },
    disk: { tornWrites: true },
    clock: { maxOffsetMs: 50, maxDriftPpm: 190.751, maxJumpMs: 1000 },
    dsm: {
      heap: { pageSize: 256, pages: 37, rootPages: 4 }, replication: 3, leases: { leaseMs: 982.846 }, threadsPerHost: 3,
      workload: 'alloc-churn', workloadOptions: { rounds: 200, computeUs: 281029, largeRatio: 0.193 },
    },
    faults: {
      untilS: 45,
      nemesis: {
        kinds: ['partition', 'partition-one-way', 'partition-partial', 'clog', 'flaky', 'crash', 'pause', 'stall', 'corrupt-read', 'clock-jump', 'clock-drift', 'membership', 'transfer'],
        meanIntervalMs: 2000, minDurationMs: 200, maxDurationMs: 3000, swarm: true,
      },
    },
    liveness: { withinS: 15 },
  });
  const r = runSeed(s, 183);
  assert.is(r.violation, null, r.violation?.message);
});

test.run();
