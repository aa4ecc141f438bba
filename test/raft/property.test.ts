// Property test over random schedules; see fuzz.ts for the model and checks.
import fc from 'fast-check';
import { test } from 'uvu';
import { action, run } from './fuzz.js';

test('random schedules never break election safety or state machine safety', () => {
  fc.assert(
    fc.property(fc.array(action, { minLength: 50, maxLength: 600, size: 'max' }), fc.boolean(), fc.boolean(), fc.nat(1000), (actions, pv, cq, seed) => {
      run(actions, pv, cq, seed);
    }),
    { numRuns: 500 },
  );
});

test.run();
