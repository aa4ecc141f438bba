// Swarm over configuration: a spec's draws are deterministic per seed, within
// their ranges and choices, constrained by the fields they depend on, valid
// scenarios every time, independent of each other, and different across
// seeds; bad specs fail with the field and what was expected.
import fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadScenario, parseScenarioText } from '../../src/cli/scenario-file.js';
import { scenarioSchema } from '../../src/sim/scenario.js';
import type { Scenario } from '../../src/sim/scenario.js';
import { describeDraws, drawScenario, validateSpec } from '../../src/sim/swarm.js';
import type { ScenarioSpec } from '../../src/sim/swarm.js';
import { inputError } from '../input/input-error.js';

function spec(value: object): ScenarioSpec {
  const v = validateSpec({ name: 'swarm-test', durationS: 10, ...value });
  if (!v.ok) assert.unreachable(`spec invalid: ${JSON.stringify(v.issues)}`);
  return (v as { ok: true; spec: ScenarioSpec }).spec;
}

function issues(value: object): string[] {
  const v = validateSpec({ name: 'swarm-test', durationS: 10, ...value });
  if (v.ok) assert.unreachable('expected the spec to be refused');
  return v.ok ? [] : v.issues.map((i) => `${i.path}: ${i.message}`);
}

const SEEDS = Array.from({ length: 200 }, (_, i) => i + 1);

const wide = spec({
  hosts: { between: [1, 7] },
  raft: { electionTicks: { between: [2, 12] }, heartbeatTicks: { between: [1, 6] }, preVote: { oneOf: [true, false] } },
  network: { latency: { minMs: { between: [0, 3] }, meanMs: { between: [0, 5] }, maxMs: { between: [1, 9] } }, loss: { between: [0, 0.2] } },
  clock: { maxDriftPpm: { between: [0, 5000] } },
  dsm: {
    heap: { pageSize: { between: [64, 1000] }, pages: { between: [2, 40] }, rootPages: { between: [1, 30] } },
    replication: { between: [1, 7] },
    leases: { leaseMs: { between: [2, 500] }, driftBoundPpm: { between: [0, 2000] }, minHoldMs: { between: [0, 400] } },
    workloads: { registers: { opsPerThread: { between: [1, 50] }, writeRatio: { between: [0, 1] } }, 'alloc-churn': { rounds: 20 } },
  },
});

test('the coherence model is drawn per seed, from its own stream (the other draws stay as they were)', () => {
  const models = spec({ hosts: { between: [3, 5] }, dsm: { coherence: { oneOf: ['sequential', 'release'] }, workload: 'false-sharing' } });
  const plain = spec({ hosts: { between: [3, 5] }, dsm: { workload: 'false-sharing' } });
  const drawn = SEEDS.map((seed) => drawScenario(models, seed));
  assert.equal(new Set(drawn.map((d) => d.scenario.dsm!.coherence)), new Set(['sequential', 'release']));
  for (const [i, d] of drawn.entries()) assert.is(d.scenario.hosts, drawScenario(plain, SEEDS[i]!).scenario.hosts);
  assert.match(describeDraws(drawn[0]!), /coherence=(sequential|release)/);
  assert.ok(issues({ dsm: { coherence: { oneOf: ['sequential', 'lazy'] } } }).some((i) => /coherence/.test(i)));
});

test('the same seed draws the same scenario; a spec without draws is its scenario', () => {
  for (const seed of [1, 7, 123456]) assert.equal(drawScenario(wide, seed), drawScenario(wide, seed));
  const fixed = spec({ hosts: 4 });
  assert.equal(drawScenario(fixed, 9).scenario, fixed.base);
  assert.equal(drawScenario(fixed, 9).drew, []);
});

test('draws stay within their ranges, integers where the field is one, reals to 0.001, and make valid scenarios', () => {
  for (const seed of SEEDS) {
    const d = drawScenario(wide, seed);
    const s = d.scenario;
    assert.ok(scenarioSchema.safeParse(d.raw).success, `seed ${seed}: the drawn file is a valid scenario`);
    assert.ok(Number.isInteger(s.hosts) && s.hosts >= 1 && s.hosts <= 7, `hosts ${s.hosts}`);
    const ps = s.dsm!.heap.pageSize;
    assert.ok(ps % 8 === 0 && ps >= 64 && ps <= 1000, `pageSize ${ps} is a multiple of 8 in range`);
    const loss = s.network.loss;
    assert.ok(loss >= 0 && loss <= 0.2 && Math.abs(loss * 1000 - Math.round(loss * 1000)) < 1e-6, `loss ${loss}`);
    assert.ok([true, false].includes(s.raft.preVote));
    const w = s.dsm!;
    assert.ok(w.workload === 'registers' || w.workload === 'alloc-churn');
    if (w.workload === 'registers') {
      const ops = w.workloadOptions['opsPerThread']!;
      assert.ok(Number.isInteger(ops) && ops >= 1 && ops <= 50, `opsPerThread ${ops}`);
    } else {
      assert.equal(w.workloadOptions, { rounds: 20 }, 'only the drawn workload\'s options');
    }
  }
});

test('dependent draws are constrained: replication <= hosts, rootPages < pages, heartbeat < election, minHold < lease, latency in order, drift within the bound', () => {
  for (const seed of SEEDS) {
    const s: Scenario = drawScenario(wide, seed).scenario;
    const m = s.dsm!;
    assert.ok(m.replication! <= s.hosts, `seed ${seed}: replication ${m.replication} <= hosts ${s.hosts}`);
    assert.ok(m.heap.rootPages < m.heap.pages, `seed ${seed}: rootPages ${m.heap.rootPages} < pages ${m.heap.pages}`);
    assert.ok(s.raft.heartbeatTicks < s.raft.electionTicks, `seed ${seed}: heartbeat ${s.raft.heartbeatTicks} < election ${s.raft.electionTicks}`);
    assert.ok(m.leases.minHoldMs < m.leases.leaseMs, `seed ${seed}: minHold ${m.leases.minHoldMs} < lease ${m.leases.leaseMs}`);
    const l = s.network.latency;
    assert.ok(l.minMs <= l.meanMs && l.meanMs <= l.maxMs, `seed ${seed}: latency ${JSON.stringify(l)}`);
    assert.ok(s.clock.maxDriftPpm <= m.leases.driftBoundPpm, `seed ${seed}: drift ${s.clock.maxDriftPpm} within ${m.leases.driftBoundPpm}`);
  }
  // A scenario that expects the violation may draw past the bound.
  const unsafe = spec({ hosts: 3, clock: { maxDriftPpm: { between: [0, 900000] } }, dsm: { leases: { driftBoundPpm: 100 } }, expect: { violation: 'single-writer' } });
  assert.ok(SEEDS.some((seed) => drawScenario(unsafe, seed).scenario.clock.maxDriftPpm > 100));
});

test('different seeds draw differently, and every choice comes up', () => {
  const hosts = new Set(SEEDS.map((seed) => drawScenario(wide, seed).scenario.hosts));
  assert.equal([...hosts].sort(), [1, 2, 3, 4, 5, 6, 7]);
  const workloads = new Set(SEEDS.map((seed) => drawScenario(wide, seed).scenario.dsm!.workload));
  assert.equal([...workloads].sort(), ['alloc-churn', 'registers']);
  assert.ok(new Set(SEEDS.map((seed) => drawScenario(wide, seed).scenario.network.loss)).size > 100, 'reals vary');
});

test('each field draws from its own stream: adding a drawn field leaves the others as they were', () => {
  const one = spec({ hosts: { between: [3, 9] }, network: { loss: { between: [0, 0.1] } } });
  const two = spec({ hosts: { between: [3, 9] }, groups: { between: [1, 4] }, network: { loss: { between: [0, 0.1] }, reorder: { between: [0, 0.5] } } });
  for (const seed of SEEDS.slice(0, 50)) {
    const a = drawScenario(one, seed).scenario;
    const b = drawScenario(two, seed).scenario;
    assert.is(b.hosts, a.hosts);
    assert.is(b.network.loss, a.network.loss);
  }
});

test('the shipped chaos scenarios run every workload, 3 to 6 hosts, and say what they drew', () => {
  const chaos = loadScenario('dsm-chaos').spec;
  const drawn = SEEDS.slice(0, 100).map((seed) => drawScenario(chaos, seed));
  assert.equal([...new Set(drawn.map((d) => d.scenario.dsm!.workload))].sort(), ['alloc-churn', 'counter', 'matrix', 'registers']);
  assert.equal([...new Set(drawn.map((d) => d.scenario.hosts))].sort(), [3, 4, 5, 6]);
  assert.match(describeDraws(drawn[0]!), /^hosts=\d .*pages=\d+x(256|512)B .*replication=\d lease=[\d.]+ms workload=[a-z-]+ /);
  const raft = loadScenario('raft-chaos').spec;
  assert.ok(new Set(SEEDS.slice(0, 40).map((seed) => drawScenario(raft, seed).scenario.raft.maxEntriesPerMsg)).has(1), 'batches of one entry come up');
});

test('bad draws are refused with the field and what was expected', () => {
  assert.match(issues({ hosts: 3, durationS: { between: [5, 10] } }).join('\n'), 'durationS: expected a fixed value: this field cannot vary per seed');
  assert.match(issues({ hosts: { between: [5, 3] } }).join('\n'), 'hosts.between: expected low <= high, got [5, 3]');
  assert.match(issues({ hosts: { between: [2.5, 4] } }).join('\n'), 'hosts.between: expected [low, high], two integers, got [2.5,4]');
  assert.match(issues({ hosts: 3, raft: { preVote: { between: [0, 1] } } }).join('\n'), 'raft.preVote.between: expected oneOf');
  assert.match(issues({ hosts: { oneOf: [] } }).join('\n'), 'hosts.oneOf: expected a non-empty list');
  assert.match(issues({ hosts: { between: [1, 3], oneOf: [2] } }).join('\n'), 'hosts: expected a value, { between: [low, high] } or { oneOf: [...] }');
  // The ends of a range must be valid values.
  assert.match(issues({ hosts: 3, network: { loss: { between: [0, 2] } } }).join('\n'), /network\.loss: .*<=1; between \[0, 2\] can draw 2/);
  assert.match(issues({ hosts: { oneOf: [3, 0] } }).join('\n'), /hosts: .*>=1; oneOf \[3,0\] can draw 0/);
  // A fixed drift past the leases' bound is unsafe, unless the scenario expects the violation.
  assert.match(issues({ hosts: 3, clock: { maxDriftPpm: 5000 }, dsm: {} }).join('\n'), 'clock.maxDriftPpm: expected at most dsm.leases.driftBoundPpm (1000)');
  // A range the fields it depends on leave empty.
  assert.match(issues({ hosts: { between: [2, 3] }, dsm: { replication: { between: [4, 5] } } }).join('\n'), 'dsm.replication: expected a range that allows a value at most hosts, got between [4, 5]');
  assert.match(issues({ hosts: 3, raft: { electionTicks: 2, heartbeatTicks: { oneOf: [2, 3] } } }).join('\n'), 'raft.heartbeatTicks: expected a choice fewer than raft.electionTicks');
});

test('workload choices: known names, their own options, not with a fixed workload', () => {
  assert.match(issues({ hosts: 3, dsm: { workloads: { registers: {}, sorting: {} } } }).join('\n'), 'dsm.workloads.sorting: expected a workload name: one of registers, counter, matrix, alloc-churn');
  assert.match(issues({ hosts: 3, dsm: { workload: 'counter', workloads: { registers: {} } } }).join('\n'), 'dsm.workload: expected either dsm.workloads');
  assert.match(issues({ hosts: 3, dsm: { workloads: {} } }).join('\n'), 'dsm.workloads: expected a map of workload names');
  assert.match(issues({ hosts: 3, dsm: { workloads: { counter: { rounds: 5 } } } }).join('\n'), 'dsm.workloads.counter: expected options of counter (increments, counters, computeUs), got rounds');
  assert.match(issues({ hosts: 3, dsm: { workload: 'matrix', workloadOptions: { n: 300 } } }).join('\n'), 'dsm.workloadOptions.n: expected an integer in [1, 256], got 300');
  assert.match(issues({ hosts: 3, dsm: { workloads: { registers: { writeRatio: { between: [0, 3] } } } } }).join('\n'), 'dsm.workloads.registers.writeRatio: expected a number in [0, 1], got 3; between [0, 3] can draw 3');
  // A real option (its default is not an integer) draws reals; an integer one integers only.
  assert.match(issues({ hosts: 3, dsm: { workloads: { counter: { increments: { between: [1.5, 4] } } } } }).join('\n'), 'dsm.workloads.counter.increments.between: expected [low, high], two integers');
});

test('a spec file: issues name the file, the field and the line', () => {
  const text = ['name: x', 'durationS: 10', 'hosts: { between: [3, 6] }', 'dsm:', '  replication: { between: [7, 8] }'].join('\n');
  assert.match(inputError(() => parseScenarioText(text, '/tmp/x.yaml')).message, '/tmp/x.yaml: field dsm.replication: expected a range that allows a value at most hosts, got between [7, 8] (line 5)');
});

// A random spec over a few fields: ranges in and out of bounds, choices, dependencies.
const rangeOf = (lo: number, hi: number, ints: boolean): fc.Arbitrary<unknown> => {
  const n = ints ? fc.integer({ min: lo, max: hi }) : fc.double({ min: lo, max: hi, noNaN: true });
  return fc.oneof(n, fc.tuple(n, n).map(([a, b]) => ({ between: [Math.min(a, b), Math.max(a, b)] })), fc.array(n, { minLength: 1, maxLength: 4 }).map((xs) => ({ oneOf: xs })));
};
const specArb = fc.record({
  hosts: rangeOf(0, 8, true),
  raft: fc.record({ electionTicks: rangeOf(2, 8, true), heartbeatTicks: rangeOf(1, 4, true) }),
  network: fc.record({ loss: rangeOf(0, 1.05, false), latency: fc.record({ minMs: rangeOf(0, 1, false), meanMs: rangeOf(0.5, 3, false), maxMs: rangeOf(2, 6, false) }) }),
  dsm: fc.record({
    heap: fc.record({ pageSize: rangeOf(64, 300, true).map((p) => (typeof p === 'number' ? p - (p % 8) : p)), pages: rangeOf(2, 20, true), rootPages: rangeOf(1, 20, true) }),
    replication: rangeOf(1, 8, true),
    leases: fc.record({ leaseMs: rangeOf(3, 50, false), minHoldMs: rangeOf(0, 50, false) }),
  }),
});

test('property: a spec that validates draws a valid scenario for every seed, within its ranges; one that does not names its fields', () => {
  let accepted = 0;
  let refused = 0;
  fc.assert(
    fc.property(specArb, fc.integer({ min: 0, max: 1e9 }), (raw, seed) => {
      const v = validateSpec({ name: 'p', durationS: 5, ...raw });
      if (!v.ok) {
        refused++;
        assert.ok(v.issues.length > 0 && v.issues.every((i) => i.path !== '' && i.message !== ''));
        return;
      }
      accepted++;
      for (const s of [seed, seed + 1, seed + 2]) {
        const d = drawScenario(v.spec, s);
        assert.ok(scenarioSchema.safeParse(d.raw).success);
        assert.equal(drawScenario(v.spec, s), d);
        const hosts = raw.hosts as number | { between?: [number, number]; oneOf?: number[] };
        if (typeof hosts === 'number') assert.is(d.scenario.hosts, hosts);
        else if (hosts.between !== undefined) assert.ok(d.scenario.hosts >= hosts.between[0] && d.scenario.hosts <= hosts.between[1]);
        else assert.ok(hosts.oneOf!.includes(d.scenario.hosts));
      }
    }),
    { numRuns: 400, seed: 20240901 },
  );
  assert.ok(accepted > 40 && refused > 40, `${accepted} of 400 random specs validated, ${refused} were refused`);
});

test.run();
