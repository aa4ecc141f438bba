// A failing run written out: the scenario the seed drew, with the faults its
// nemesis made as an explicit schedule and no nemesis. The nemesis records
// every choice a fault made (src/sim/nemesis.ts), and every other component
// draws from its own stream, so the explicit scenario replays the same run,
// event for event, with the same seed.
import { World } from '../run.js';
import type { RunResult } from '../result.js';
import type { Scenario } from '../scenario.js';

export interface ExplicitRun {
  scenario: Scenario;
  result: RunResult;
}

/** Runs a seed and returns its scenario with the faults it made as `faults.schedule`. */
export function explicitScenario(scenario: Scenario, seed: number): ExplicitRun {
  const world = new World(scenario, seed, {});
  const result = world.run();
  const { nemesis: _, ...faults } = scenario.faults;
  const schedule = [...world.nemesis.made];
  return { scenario: { ...scenario, faults: { ...faults, schedule } }, result };
}
