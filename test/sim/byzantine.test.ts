// One Byzantine host in the simulator (src/sim/byzantine): caught where plain
// mode must catch it, tolerated where the bounds and sender checks must
// tolerate it, never a false alarm against an honest faulty host, and
// deterministic.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadScenario } from '../../src/cli/scenario-file.js';
import { runSeed, World } from '../../src/sim/run.js';
import { expectedViolations, scenarioSchema } from '../../src/sim/scenario.js';
import type { Scenario } from '../../src/sim/scenario.js';
import { drawScenario, validateSpec } from '../../src/sim/swarm.js';

const drawn = (name: string, seed: number, byz: Partial<NonNullable<Scenario['byzantine']>> = {}): Scenario => {
  const s = drawScenario(loadScenario(name).spec, seed).scenario;
  return scenarioSchema.parse({ ...s, byzantine: { ...s.byzantine!, ...byz } });
};

test('the term-inflation heartbeat is refused and counted, and after a restart of every host the cluster still makes progress', () => {
  const s = drawn('raft-byz-inflate-term', 1, { probability: 1 });
  const w = new World(scenarioSchema.parse({ ...s, durationS: 30, faults: { schedule: [] }, liveness: undefined }), 1, {});
  w.start();
  w.advance(5e6);
  const before = w.checkers[0]!.committedIndex;
  const refused = w.hosts.filter((h) => h.id !== s.byzantine!.host).reduce((n, h) => n + h.runtime!.refusals().termBeyondBound, 0);
  assert.ok(before > 0, 'commits before the restart');
  assert.ok(refused > 0, 'the inflated terms were refused');
  for (const h of w.hosts) h.crash(false);
  for (const h of w.hosts) w.scheduler.withOwner(h.id, () => h.start());
  w.advance(25e6);
  const r = w.finish();
  assert.is(r.violation, null, r.violation?.message);
  assert.ok(w.checkers[0]!.committedIndex > before + 10, `progress after the restart: ${before} -> ${w.checkers[0]!.committedIndex}`);
  for (const h of w.hosts) assert.ok(h.replicas[0]!.node.term() < 2 ** 40, `host ${h.id} term ${h.replicas[0]!.node.term()}`);
});

test('a faulty host that never lies is never caught: invariants judge correct hosts, and count what its disk truly holds', () => {
  for (const name of ['raft-byz-false-ack', 'raft-byz-equivocate', 'raft-byz-small-scope', 'raft-byz-nonsense', 'raft-byz-inflate-term-bounded', 'dsm-byz-false-page', 'dsm-byz-equivocate']) {
    for (const seed of [1, 2, 3]) {
      const r = runSeed(drawn(name, seed, { probability: 0 }), seed);
      assert.is(r.violation, null, `${name} seed ${seed}: ${r.violation?.invariant} ${r.violation?.message}`);
    }
  }
});

test('forged senders and replays under others\' names are dropped and counted, and the cluster stays safe and live', () => {
  for (const name of ['raft-byz-forge-sender', 'raft-byz-replay']) {
    const r = runSeed(loadScenario(name).spec, 2);
    assert.is(r.violation, null, `${name}: ${r.violation?.message}`);
    assert.ok((r.stats['refused.forgedSender'] ?? 0) > 0, `${name} counted forged senders`);
  }
});

test('every behaviour plain mode must catch is caught within a few seeds, by one of the invariants its scenario lists', () => {
  for (const name of ['raft-byz-false-ack', 'raft-byz-inflate-term-bounded', 'raft-byz-twins', 'raft-byz-small-scope', 'raft-byz-equivocate', 'dsm-byz-false-page']) {
    const { spec } = loadScenario(name);
    const expected = expectedViolations(spec.base)!;
    let caught = 0;
    for (let seed = 1; seed <= 8 && caught === 0; seed++) {
      const v = runSeed(spec, seed).violation;
      if (v !== null) {
        assert.ok(expected.includes(v.invariant), `${name} seed ${seed}: ${v.invariant}`);
        caught++;
      }
    }
    assert.ok(caught > 0, `${name}: no seed of 1..8 caught it`);
  }
});

test('a Byzantine run replays to the same trace hash, twins included', () => {
  for (const name of ['raft-byz-twins', 'raft-byz-nonsense']) {
    const { spec } = loadScenario(name);
    assert.is(runSeed(spec, 4).traceHash, runSeed(spec, 4).traceHash, name);
  }
});

test('the Byzantine draws (host, behaviour, probability) leave every other draw of a seed as it was', () => {
  const { spec } = loadScenario('raft-byz-swarm');
  const { byzantine: _, expect: __, ...rest } = spec.raw;
  const plain = validateSpec(rest);
  assert.ok(plain.ok);
  const behaviours = new Set<string>();
  for (let seed = 1; seed <= 30; seed++) {
    const withByz = drawScenario(spec, seed);
    const others = withByz.drew.filter(([p]) => !p.startsWith('byzantine.'));
    assert.equal(others, drawScenario(plain.ok ? plain.spec : spec, seed).drew, `seed ${seed}`);
    const b = withByz.scenario.byzantine!;
    assert.ok(b.host >= 1 && b.host <= withByz.scenario.hosts);
    behaviours.add(b.behaviour);
  }
  assert.ok(behaviours.size >= 5, `30 seeds drew ${[...behaviours].join(', ')}`);
});

test('the faulty host must be one of the hosts, and twins run in Raft scenarios only', () => {
  const base = { name: 'x', durationS: 1, hosts: 3 };
  assert.not.ok(scenarioSchema.safeParse({ ...base, byzantine: { host: 4, behaviour: 'replay' } }).success);
  assert.not.ok(scenarioSchema.safeParse({ ...base, dsm: {}, byzantine: { host: 1, behaviour: 'twins' } }).success);
  assert.ok(scenarioSchema.safeParse({ ...base, byzantine: { host: 3, behaviour: 'twins' } }).success);
});

test.run();
