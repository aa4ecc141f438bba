// Regression seeds of the small-scope DSM scenarios: each failed before the
// fix named, with the check that caught it.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { loadScenario, parseScenarioText } from '../../src/cli/scenario-file.js';
import { runSeed } from '../../src/sim/run.js';

test('dsm-late-release seed 36: a give-back refused by a write-back proposed beside it left the holder open while the table still listed it (lease-dropped-open before write-backs of a page were committed one at a time)', () => {
  const r = runSeed(loadScenario('dsm-late-release').spec, 36);
  assert.is(r.violation, null, r.violation?.message);
});

test('dsm-alloc-loss seed 181: a late copy of an earlier write-back committed as the next version and rolled the page back (coherence, before the manager refused write-backs older than the last under the same lease)', () => {
  const r = runSeed(loadScenario('dsm-alloc-loss').spec, 181);
  assert.is(r.violation, null, r.violation?.message);
});

test('drift at the bound with 1 s leases: a wait-out of lease * (1 + 2 bound) expired leases with up to 10 ms left on the holder\'s clock (lease-waited-out, seeds 6 and 11, before the stretch (1 + b) / (1 - b))', () => {
  const { file } = loadScenario('dsm-drift-edge');
  const text = readFileSync(file, 'utf8').replace('leaseMs: 500', 'leaseMs: 1000').replace('maxDurationMs: 1500', 'maxDurationMs: 2500');
  const s = parseScenarioText(text, file);
  for (const seed of [6, 11]) {
    const r = runSeed(s, seed);
    assert.is(r.violation, null, `seed ${seed}: ${r.violation?.message}`);
  }
});

test.run();
