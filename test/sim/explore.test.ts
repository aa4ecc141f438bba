// Systematic exploration over the real simulated world: a clean tiny world
// explored exhaustively finds nothing and counts the same twice; always
// taking the earliest event is the seed's own run; paths that commute reach
// one fingerprint; every deliberate bug is found, and its path replays to the
// same violation (also through a choice file).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadScenario } from '../../src/cli/scenario-file.js';
import { choiceFile, validateChoiceFile } from '../../src/sim/explore/choice-file.js';
import { choiceKey } from '../../src/sim/explore/choice.js';
import { explore, replayChoices, Space } from '../../src/sim/explore/explorer.js';
import type { ExploreOptions, ExploreReport } from '../../src/sim/explore/explorer.js';
import { explorationScenario, NO_FAULTS, NO_REDUCTIONS } from '../../src/sim/explore/session.js';
import type { ExploreSession, FaultBudget } from '../../src/sim/explore/session.js';
import { World } from '../../src/sim/run.js';
import { scenarioSchema } from '../../src/sim/scenario.js';
import type { Scenario } from '../../src/sim/scenario.js';

const raftTiny = loadScenario('raft-tiny').spec.base;
const dsmTiny = loadScenario('dsm-tiny').spec.base;
const withBugs = (s: Scenario, bugs: object, extra: object = {}): Scenario => scenarioSchema.parse({ ...s, name: `${s.name}-bug`, bugs, ...extra });

test('a clean tiny world explored exhaustively to a depth finds nothing, and the counts are the same twice', () => {
  const run = (): ExploreReport => explore({ scenario: raftTiny, seed: 1, strategy: 'dfs', depth: 7, faults: NO_FAULTS });
  const a = run();
  const b = run();
  assert.is(a.violation, null);
  assert.ok(a.exhaustive && a.boundReached);
  assert.is(a.depthReached, 7);
  assert.ok(a.distinctStates > 500, `${a.distinctStates} states`);
  assert.ok(a.statesExplored > a.distinctStates, 'paths that meet a state seen before are pruned');
  assert.equal([b.statesExplored, b.distinctStates, b.replayedSteps], [a.statesExplored, a.distinctStates, a.replayedSteps]);
  const deeper = explore({ scenario: raftTiny, seed: 1, strategy: 'dfs', depth: 8, faults: NO_FAULTS });
  assert.ok(deeper.distinctStates > a.distinctStates);
});

test('with a crash allowed, the exhaustive search also covers crashed and restarted hosts, without a violation', () => {
  const r = explore({ scenario: raftTiny, seed: 1, strategy: 'dfs', depth: 6, faults: { crashes: 1, losses: 1, duplicates: 1 } });
  assert.is(r.violation, null);
  assert.ok(r.exhaustive);
  const plain = explore({ scenario: raftTiny, seed: 1, strategy: 'dfs', depth: 6, faults: NO_FAULTS });
  assert.ok(r.distinctStates > 2 * plain.distinctStates, `${r.distinctStates} vs ${plain.distinctStates}`);
});

test('taking the earliest event at every step is the seed\'s own run, event for event', () => {
  for (const scenario of [raftTiny, dsmTiny]) {
    const space = new Space(scenario, 3, NO_FAULTS);
    const s = space.fresh();
    const world = new World(explorationScenario(scenario), 3, {});
    world.start();
    for (let i = 0; i < 300; i++) {
      const first = s.enabled()[0];
      if (first === undefined) break;
      assert.is(s.apply(first), null);
      world.scheduler.step();
    }
    assert.is(s.world.traceLog.hash(), world.traceLog.hash(), scenario.name);
    assert.is(s.world.scheduler.eventsRun, world.scheduler.eventsRun);
    s.close();
    world.close();
  }
});

/** Takes the choices whose descriptions match, one after another. */
function walk(s: ExploreSession, labels: readonly RegExp[]): void {
  for (const re of labels) {
    const c = s.enabled().find((x) => re.test(s.describe(x)));
    if (c === undefined) throw new Error(`no choice like ${re} among ${s.enabled().map((x) => s.describe(x)).join('; ')}`);
    assert.is(s.apply(c), null);
  }
}

test('two deliveries to different hosts in either order reach one fingerprint; other paths do not', () => {
  const space = new Space(raftTiny, 1, NO_FAULTS);
  const timeout = [/tick on host 1/, /tick on host 1/, /tick on host 1/];
  const fp = (labels: RegExp[]): [number, number] => {
    const s = space.fresh();
    walk(s, labels);
    const f = space.fingerprint(s);
    s.close();
    return f;
  };
  // Host 1's timeout is three ticks on this seed: then its two pre-votes are in flight.
  const to2 = /deliver preVote term 1 1->2/;
  const to3 = /deliver preVote term 1 1->3/;
  const both = fp([...timeout, to2, to3]);
  assert.equal(fp([...timeout, to3, to2]), both);
  assert.not.equal(fp([...timeout, to2]), both);
  assert.not.equal(fp([...timeout, to2, /tick on host 2/]), both);
  assert.equal(fp([/tick on host 2/, /tick on host 3/]), fp([/tick on host 3/, /tick on host 2/]), 'ticks on two hosts commute');
});

/** Finds the violation, then replays its path (through a choice file) to the same one. */
function findsAndReplays(o: ExploreOptions, invariant: string | RegExp): void {
  const r = explore(o);
  assert.ok(r.violation !== null, `${o.scenario.name}: no violation in ${r.statesExplored} states, ${r.walks} walks`);
  if (typeof invariant === 'string') assert.is(r.violation.invariant, invariant, r.violation.message);
  else assert.match(r.violation.invariant, invariant);
  const file = JSON.parse(JSON.stringify(choiceFile({
    scenario: o.scenario.name, seed: o.seed, strategy: o.strategy, faults: o.faults, reductions: o.reductions ?? NO_REDUCTIONS, violation: r.violation, path: r.path!,
  }))) as unknown;
  const v = validateChoiceFile(file);
  assert.ok(v.ok);
  const again = replayChoices(o.scenario, v.value.seed, v.value.faults, v.value.reductions, v.value.choices.map((c) => c.key));
  assert.is(again.steps, r.path!.length);
  assert.is(again.violation?.invariant, r.violation.invariant);
  assert.is(again.violation?.message, r.violation.message);
}

const crash: FaultBudget = { crashes: 1, losses: 0, duplicates: 0 };

test('sendBeforeSync: depth-first search finds an entry applied before a quorum made it durable', () => {
  findsAndReplays({ scenario: withBugs(raftTiny, { sendBeforeSync: true }), seed: 1, strategy: 'dfs', depth: 30, faults: NO_FAULTS }, 'committed-durable-on-quorum');
});

test('forgetVote: random walks with a crash find two leaders of one term', () => {
  findsAndReplays({ scenario: withBugs(raftTiny, { forgetVote: true }), seed: 1, strategy: 'random', depth: 40, walks: 20_000, faults: crash }, 'election-safety');
});

test('localReads: random walks find a stale read from a follower (two clients)', () => {
  const scenario = withBugs(raftTiny, { localReads: true }, { workload: { ...raftTiny.workload, clients: 2 } });
  findsAndReplays({ scenario, seed: 1, strategy: 'random', depth: 60, walks: 20_000, faults: NO_FAULTS }, 'linearizability');
});

test('skipWriteBack: walks near the seed\'s own run find a lost write where the run itself finds none', () => {
  const scenario = withBugs(dsmTiny, { skipWriteBack: true });
  // Seed 8's own run (the earliest event at every step) is clean: the first path of a search is.
  const own = explore({ scenario, seed: 8, strategy: 'random', depth: 400, walks: 1, deviation: 1e-9, faults: NO_FAULTS });
  assert.is(own.violation, null);
  findsAndReplays({ scenario, seed: 8, strategy: 'random', depth: 400, walks: 200, deviation: 0.05, faults: NO_FAULTS }, /coherence|linearizability/);
});

test('the same searches on the correct code find nothing', () => {
  for (const o of [
    { scenario: raftTiny, strategy: 'random', depth: 40, walks: 2000, faults: crash },
    { scenario: dsmTiny, seed: 4, strategy: 'random', depth: 400, walks: 30, deviation: 0.05, faults: NO_FAULTS },
  ] as const) {
    const r = explore({ seed: 1, ...o });
    assert.is(r.violation, null, r.violation?.message);
  }
});

test('choice keys name choices: a path taken by key reaches what the choices reached', () => {
  const space = new Space(raftTiny, 1, NO_FAULTS);
  const s = space.fresh();
  const keys: string[] = [];
  for (let i = 0; i < 25; i++) {
    const e = s.enabled();
    const c = e[(i * 7) % e.length]!;
    keys.push(choiceKey(c));
    s.apply(c);
  }
  const r = replayChoices(raftTiny, 1, NO_FAULTS, NO_REDUCTIONS, keys);
  assert.is(r.traceHash, s.world.traceLog.hash());
  s.close();
  assert.throws(() => replayChoices(raftTiny, 1, NO_FAULTS, NO_REDUCTIONS, ['run 0', 'crash 1']), /choice 2 \("crash 1"\) is not enabled/);
});

test('a choice file with a bad field is refused, naming the field', () => {
  const v = validateChoiceFile({ format: 'gallocy-choices/1', scenario: 'x', seed: -1, faults: { crashes: 0, losses: 0, duplicates: 0 },
    reductions: { instantDisk: false, skipIdleTicks: false }, violation: null, choices: [{ key: 'jump 3' }] });
  assert.ok(!v.ok);
  const paths = v.issues.map((i) => i.path).sort();
  assert.equal(paths, ['choices[0].key', 'seed']);
  assert.match(v.issues.find((i) => i.path === 'choices[0].key')!.message, 'expected "run N"');
});

test.run();
