// Membership bursts: a membership fault of the nemesis becomes several changes
// in quick succession, and that catches a Raft that lets a second change start
// while one is in flight (the bug Raft's one-change-at-a-time rule prevents),
// which membership changes seconds apart never do.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadScenario } from '../../src/cli/scenario-file.js';
import { Raft } from '../../src/raft/raft.js';
import { runSeed } from '../../src/sim/run.js';
import { scenarioSchema } from '../../src/sim/scenario.js';

test('each membership fault is a burst of count changes, everyMs apart', () => {
  const s = scenarioSchema.parse({
    name: 'burst', durationS: 10, hosts: 6, initialVoters: 3,
    faults: { untilS: 8, nemesis: { kinds: ['membership'], meanIntervalMs: 2000, membershipBurst: { count: 3, everyMs: 7 } } },
  });
  const times: number[] = [];
  runSeed(s, 3, { traceSink: (line) => {
    const e = JSON.parse(line) as { t: number; kind: string };
    if (e.kind === 'fault:membership') times.push(e.t);
  } });
  assert.ok(times.length >= 3, `${times.length} membership changes`);
  // Changes of one burst are 7 ms apart (a change Raft refused, one still in flight, leaves a gap of 14).
  const gaps = times.slice(1).map((t, i) => t - times[i]!);
  assert.ok(gaps.some((g) => g === 7000), `gaps ${gaps.join(', ')}`);
  assert.ok(gaps.every((g) => g % 7000 === 0 || g > 100_000), `gaps ${gaps.join(', ')}`);
});

/** Runs seeds with Raft's guard against a second change in flight taken out; returns the violations found. */
function withConcurrentChanges(scenario: string, seeds: number[]): string[] {
  const guarded = Raft.prototype.proposeConfChange;
  Raft.prototype.proposeConfChange = function (this: Raft, cc) {
    (this as unknown as { pendingConfIndex: number }).pendingConfIndex = 0; // the planted bug
    return guarded.call(this, cc);
  };
  try {
    const spec = loadScenario(scenario).spec;
    return seeds.flatMap((seed) => {
      const v = runSeed(spec, seed).violation;
      return v === null ? [] : [`seed ${seed}: ${v.invariant}`];
    });
  } finally {
    Raft.prototype.proposeConfChange = guarded;
  }
}

test('raft-membership-burst catches two membership changes in flight at once; it runs clean without the bug', () => {
  const seeds = [1, 2, 3, 4, 5, 6, 7, 8];
  const found = withConcurrentChanges('raft-membership-burst', seeds);
  assert.ok(found.length >= 2, `found ${found.join('; ') || 'nothing'}`);
  // The per-step rule (src/sim/check/raft-rules.ts) catches the second change as it is proposed,
  // before the consequences the group-wide checks see.
  const caught = ['one-conf-change-at-a-time', 'committed-durable-on-quorum', 'election-safety', 'linearizability'];
  assert.ok(found.every((f) => caught.some((c) => f.endsWith(c))), found.join('; '));
  const spec = loadScenario('raft-membership-burst').spec;
  for (const seed of seeds.slice(0, 3)) assert.is(runSeed(spec, seed).violation, null);
});

test.run();
