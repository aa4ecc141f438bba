// Fault points (BUGGIFY) and coverage probes in simulated runs: the scenario
// switch, FoundationDB's enable-per-seed rule, every point firing in a run
// that stays clean, a bug on a path only a fault point reaches being caught,
// and a short campaign of the chaos scenarios reaching most probes.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadScenario } from '../../src/cli/scenario-file.js';
import { FAULT_POINTS } from '../../src/host/fault-points.js';
import { PROBE_NAMES } from '../../src/host/probes.js';
import { SimFaultPoints } from '../../src/sim/buggify.js';
import type { RunResult } from '../../src/sim/result.js';
import { streamFor } from '../../src/sim/rng.js';
import { runSeed } from '../../src/sim/run.js';
import { scenarioSchema, validateScenario } from '../../src/sim/scenario.js';
import type { Scenario } from '../../src/sim/scenario.js';
import { drawScenario, type ScenarioSpec } from '../../src/sim/swarm.js';
import { Requests } from '../../src/vmm/requests.js';

// The chaos scenarios vary per seed: `drawn` is what a seed runs.
const raftChaos = loadScenario('raft-chaos').spec;
const dsmChaos = loadScenario('dsm-chaos').spec;
const drawn = (spec: ScenarioSpec, seed: number): Scenario => drawScenario(spec, seed).scenario;
const only = (s: Scenario, point: string): Scenario => ({ ...s, buggify: { points: [point], enableProbability: 1 } });
const off = (s: Scenario): Scenario => ({ ...s, buggify: undefined });

test('buggify: true enables every point at 1/4 per seed; points must be known by name', () => {
  const base = { name: 't', durationS: 5, hosts: 3 };
  assert.equal(scenarioSchema.parse({ ...base, buggify: true }).buggify, { enableProbability: 0.25 });
  assert.is(scenarioSchema.parse({ ...base, buggify: false }).buggify, undefined);
  assert.is(scenarioSchema.parse(base).buggify, undefined);
  assert.equal(raftChaos.base.buggify, { enableProbability: 0.25 }, 'on in the chaos scenarios');
  const bad = validateScenario({ ...base, buggify: { points: ['raft.nope'] } });
  assert.ok(!bad.ok && bad.issues[0]!.path === 'buggify.points[0]' && bad.issues[0]!.message.includes('raft.truncate-append'), JSON.stringify(bad));
  const odd = validateScenario({ ...base, buggify: 3 });
  assert.ok(!odd.ok && odd.issues[0]!.path === 'buggify' && odd.issues[0]!.message.includes('expected true, false'), JSON.stringify(odd));
});

test('each point is enabled per seed with the given probability, fires only while faults may start', () => {
  let enabled = 0;
  const seeds = 400;
  for (let seed = 1; seed <= seeds; seed++) {
    const f = new SimFaultPoints({ enableProbability: 0.25 }, streamFor(seed, 'buggify'), () => true, () => undefined);
    enabled += Object.keys(f.firedByPoint()).length;
  }
  const share = enabled / (seeds * FAULT_POINTS.length);
  assert.ok(share > 0.2 && share < 0.3, `share of points enabled: ${share}`);

  let active = true;
  const traced: number[] = [];
  const f = new SimFaultPoints({ points: ['raft.slow-backoff'], enableProbability: 1 }, streamFor(1, 'buggify'), () => active, (_kind, _host, ...fields) => void traced.push(Number(fields[0])));
  const port = f.forHost(2);
  const slow = FAULT_POINTS.findIndex((p) => p.name === 'raft.slow-backoff');
  const split = FAULT_POINTS.findIndex((p) => p.name === 'raft.split-ready');
  let fires = 0;
  for (let i = 0; i < 1000; i++) if (port.buggify(slow)) fires++;
  assert.ok(fires > 400 && fires < 600, `fires ${fires} of 1000 at 0.5`);
  assert.is(Array.from({ length: 100 }).filter(() => port.buggify(split)).length, 0, 'a point not chosen never fires');
  active = false;
  assert.is(Array.from({ length: 100 }).filter(() => port.buggify(slow)).length, 0, 'nothing fires in the quiet period');
  assert.equal(f.firedByPoint(), { 'raft.slow-backoff': fires });
  assert.is(traced.length, fires);
});

/** The first of a few seeds on which the point fired; every run must be clean. */
function firstFiring(s: ScenarioSpec, name: string): RunResult | null {
  for (let seed = 1; seed <= 4; seed++) {
    const r = runSeed(only(drawn(s, seed), name), seed);
    assert.is(r.violation, null, `${name}, seed ${seed}: ${r.violation?.invariant}: ${r.violation?.message}`);
    if ((r.faultPointsFired[name] ?? 0) > 0) return r;
  }
  return null;
}

for (const point of FAULT_POINTS) {
  test(`fault point ${point.name} fires, and the run stays clean`, () => {
    const r = firstFiring(point.name.startsWith('vmm.') ? dsmChaos : raftChaos, point.name);
    assert.ok(r !== null, `${point.name} never fired in seeds 1-4`);
    assert.equal(Object.keys(r.faultPointsFired), [point.name]);
  });
}

test('fired points change the run and replay identically; none fires in the quiet period', () => {
  const s: Scenario = { ...drawn(raftChaos, 3), buggify: { enableProbability: 1 } };
  const times: number[] = [];
  const a = runSeed(s, 3, {
    traceSink: (line) => {
      const e = JSON.parse(line) as { t: number; kind: string };
      if (e.kind === 'buggify') times.push(e.t);
    },
  });
  const b = runSeed(s, 3);
  assert.is(a.traceHash, b.traceHash);
  assert.equal(a.faultPointsFired, b.faultPointsFired);
  assert.equal(a.probes, b.probes);
  assert.is.not(a.traceHash, runSeed(off(s), 3).traceHash);
  const fired = Object.values(a.faultPointsFired).reduce((n, x) => n + x, 0);
  assert.ok(fired > 0 && times.length === fired, `${fired} fires, ${times.length} traced`);
  assert.ok(Math.max(...times) < s.faults.untilS! * 1e6, 'every fire before the quiet period');
});

test('a probe counts each time its path is taken (boot-failed against the trace)', () => {
  let traced = 0;
  let seed = 0;
  let r: RunResult | null = null;
  while (traced === 0 && seed < 20) {
    traced = 0;
    seed++;
    r = runSeed(off(drawn(raftChaos, seed)), seed, { traceSink: (line) => void (line.includes('"kind":"boot-failed"') && traced++) });
  }
  assert.ok(traced > 0, 'some seed failed a boot on corrupted reads');
  assert.is(r!.probes['host.boot-failed'], traced);
  assert.equal(Object.keys(r!.probes), [...PROBE_NAMES]);
});

test('a bug on a path only a fault point reaches is caught: busy answers dropped', () => {
  // The planted bug: a request refused busy is abandoned instead of asked again.
  // No shipped workload fills a page's queue, so only vmm.refuse-busy takes the path.
  const proto = Requests.prototype as unknown as { reply: Requests['reply']; close(o: unknown): void; open: Map<number, unknown> };
  const reply = proto.reply;
  proto.reply = function (this: typeof proto, from, msg) {
    if (msg.t !== 'refuse' || msg.why !== 'busy') return reply.call(this, from, msg);
    const o = this.open.get(msg.req);
    if (o !== undefined) this.close(o);
    return o !== undefined;
  };
  try {
    const caught = runSeed(only(drawn(dsmChaos, 1), 'vmm.refuse-busy'), 1);
    assert.is(caught.violation?.invariant, 'liveness', JSON.stringify(caught.violation));
    assert.is(runSeed(off(drawn(dsmChaos, 1)), 1).violation, null, 'without the fault point the same seed passes');
  } finally {
    proto.reply = reply;
  }
});

test('a short campaign of the chaos scenarios reaches at least half of the probes', () => {
  const total = new Map<string, number>(PROBE_NAMES.map((n) => [n, 0]));
  const add = (r: RunResult): void => {
    assert.is(r.violation, null, `${r.scenario} seed ${r.seed}: ${r.violation?.message}`);
    for (const [n, c] of Object.entries(r.probes)) total.set(n, total.get(n)! + c);
  };
  for (let seed = 1; seed <= 20; seed++) add(runSeed(raftChaos, seed));
  for (let seed = 1; seed <= 3; seed++) add(runSeed(dsmChaos, seed));
  const missed = [...total].filter(([, n]) => n === 0).map(([name]) => name);
  assert.ok(missed.length * 2 <= PROBE_NAMES.length, `reached ${PROBE_NAMES.length - missed.length} of ${PROBE_NAMES.length}; never: ${missed.join(', ')}`);
});

test.run();
