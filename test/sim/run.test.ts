// Whole runs of the simulated world: healthy runs make progress without
// violations, seeds are deterministic, deliberate bugs and lost liveness are
// caught, and random fault schedules never break an invariant.
import fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runSeed } from '../../src/sim/run.js';
import { FAULT_KINDS, scenarioSchema } from '../../src/sim/scenario.js';
import type { Scenario } from '../../src/sim/scenario.js';
import { checkTraceLine } from './trace-lines.js';

const scenario = (value: object): Scenario => scenarioSchema.parse({ name: 'test', ...value });

test('a healthy cluster elects a leader and commits client requests', () => {
  const r = runSeed(scenario({ durationS: 20, hosts: 3 }), 1);
  assert.is(r.violation, null);
  assert.ok(r.stats.requests! > 50, `expected requests to complete, got ${r.stats.requests}`);
  assert.ok(r.stats.committed! >= r.stats.requests!, 'every answered request is a committed entry');
  assert.is(r.simSeconds, 20);
});

test('several Raft groups run side by side on the same hosts', () => {
  const r = runSeed(scenario({ durationS: 20, hosts: 3, groups: 3 }), 4);
  assert.is(r.violation, null);
  assert.ok(r.stats.committed! > 3 * 10, `expected commits in all groups, got ${r.stats.committed}`);
});

test('the same seed gives the same trace hash; different seeds differ', () => {
  const s = scenario({
    durationS: 15, hosts: 5, network: { loss: 0.02, duplicate: 0.02, reorder: 0.1 },
    faults: { nemesis: { kinds: [...FAULT_KINDS], meanIntervalMs: 500, swarm: true } },
  });
  const a = runSeed(s, 11);
  const b = runSeed(s, 11);
  const c = runSeed(s, 12);
  assert.is(a.traceHash, b.traceHash);
  assert.is(a.events, b.events);
  assert.is.not(a.traceHash, c.traceHash);
});

test('membership faults add and remove voters while requests flow', () => {
  const s = scenario({
    durationS: 40, hosts: 6, initialVoters: 3,
    faults: { untilS: 30, nemesis: { kinds: ['membership'], meanIntervalMs: 1000 } }, liveness: { withinS: 10 },
  });
  const r = runSeed(s, 3, { inspect: true });
  assert.is(r.violation, null, r.violation?.message);
  const leader = r.inspection!.flatMap((h) => h.groups).find((g) => g.role === 'leader');
  assert.ok(leader !== undefined);
  assert.is.not(leader.voters.join(','), '1,2,3', 'the voters changed');
});

test('sending before the disk sync is caught as a committed entry not durable on a quorum', () => {
  const s = scenario({
    durationS: 30, hosts: 5, bugs: { sendBeforeSync: true },
    faults: { nemesis: { kinds: ['crash'], meanIntervalMs: 1000 } },
  });
  const found = [1, 2, 3].map((seed) => runSeed(s, seed).violation?.invariant);
  assert.ok(found.includes('committed-durable-on-quorum'), `found ${found.join(', ')}`);
});

test('a cluster that cannot elect a leader in time fails the liveness check', () => {
  // Every host restarts 0.1 s before the quiet period; an election takes at
  // least one election timeout (1 s), longer than the 0.3 s allowed.
  const crashAll = [1, 2, 3].map((h) => ({ atMs: 9800, kind: 'crash', forMs: 100, hosts: [h] }));
  const s = scenario({ durationS: 12, hosts: 3, faults: { untilS: 10, schedule: crashAll }, liveness: { withinS: 0.3 } });
  assert.is(runSeed(s, 1).violation?.invariant, 'liveness');
  const patient = scenario({ durationS: 16, hosts: 3, faults: { untilS: 10, schedule: crashAll }, liveness: { withinS: 5 } });
  assert.is(runSeed(patient, 1).violation, null);
});

test('a violation reports its time and the last events before it', () => {
  const s = scenario({ durationS: 30, hosts: 3, bugs: { sendBeforeSync: true } });
  const v = runSeed(s, 2).violation;
  assert.ok(v !== null);
  assert.ok(v.timeUs > 0);
  assert.ok(v.lastEvents.length > 10, 'keeps a window of recent events');
  assert.ok(v.message.length > 10);
  // The window holds named events of the vocabulary, oldest first, none after the violation.
  for (const e of v.lastEvents) assert.is(checkTraceLine(JSON.stringify(e)), null);
  const times = v.lastEvents.map((e) => e.t);
  assert.equal(times, [...times].sort((a, b) => a - b));
  assert.ok(times.at(-1)! <= v.timeUs);
});

const faultArb = fc.record({
  atMs: fc.integer({ min: 0, max: 12_000 }),
  kind: fc.constantFrom(...FAULT_KINDS),
  forMs: fc.integer({ min: 0, max: 4000 }),
  hosts: fc.option(fc.uniqueArray(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 3 }), { nil: undefined }),
});

test('random fault schedules never break a safety invariant or liveness', () => {
  fc.assert(
    fc.property(fc.array(faultArb, { maxLength: 25 }), fc.integer({ min: 1, max: 1_000_000 }), (schedule, seed) => {
      const s = scenario({
        durationS: 25, hosts: 5, network: { loss: 0.01, duplicate: 0.01, reorder: 0.05 },
        disk: { tornWrites: true }, clock: { maxDriftPpm: 100, maxJumpMs: 500 },
        faults: { untilS: 15, schedule }, liveness: { withinS: 10 },
      });
      const r = runSeed(s, seed);
      if (r.violation !== null) throw new Error(`${r.violation.invariant}: ${r.violation.message} (seed ${seed})`);
    }),
    { numRuns: 40 },
  );
});

test.run();
