import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fc from 'fast-check';
import { HostClock } from '../../src/sim/clock.js';

test('offset and no drift', () => {
  const c = new HostClock(500, 0);
  assert.is(c.local(0), 500);
  assert.is(c.local(1_000_000), 1_000_500);
  assert.is(c.offsetAt(77), 500);
  assert.is(c.driftPpm, 0);
});

test('drift maths', () => {
  const fast = new HostClock(0, 100); // gains 100 us per second
  assert.is(fast.local(1_000_000), 1_000_100);
  assert.is(fast.local(10_000_000), 10_001_000);
  assert.is(fast.local(9_999), 9_999, 'floor: 0.9999 us gained is not yet visible');
  assert.is(fast.local(10_000), 10_001);
  const slow = new HostClock(-2000, -250);
  assert.is(slow.local(4_000_000), 4_000_000 - 1000 - 2000);
  const frac = new HostClock(0, 0.5);
  assert.is(frac.local(2_000_000), 2_000_001);
  for (const c of [fast, slow, frac]) for (let g = 0; g < 5_000_000; g += 12_345) assert.ok(Number.isInteger(c.local(g)));
});

test('local is monotone between jumps, for any drift', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: -1_000_000, max: 1_000_000 }),
      fc.integer({ min: -500_000, max: 500_000 }),
      fc.integer({ min: 0, max: 1_000_000_000 }),
      (offset, ppm, g) => {
        const c = new HostClock(offset, ppm);
        assert.ok(c.local(g + 1) >= c.local(g));
        assert.ok(c.local(g + 1_000_000) > c.local(g));
      },
    ),
  );
});

test('setDrift is continuous and changes the rate from then on', () => {
  const c = new HostClock(0, 0);
  c.setDrift(1000, 1_000_000);
  assert.is(c.driftPpm, 1000);
  assert.is(c.local(1_000_000), 1_000_000);
  assert.is(c.local(2_000_000), 2_001_000);
  assert.is(c.local(500_000), 500_000, 'the past is still read with the old rate');
  c.setDrift(-1000, 3_000_000);
  assert.is(c.local(3_000_000), 3_002_000);
  assert.is(c.local(4_000_000), 4_001_000);
  assert.is(c.changes, 2);
});

test('jumps: forward skips, backward goes back', () => {
  const c = new HostClock(0, 0);
  c.jump(5000, 1_000_000);
  assert.is(c.local(999_999), 999_999);
  assert.is(c.local(1_000_000), 1_005_000);
  c.jump(-20_000, 2_000_000);
  assert.is(c.local(1_999_999), 2_004_999);
  assert.is(c.local(2_000_000), 1_985_000, 'backward jump: local goes back');
  assert.is(c.local(2_000_001), 1_985_001);
  assert.throws(() => c.jump(1, 1_500_000), /before the last change/);
  assert.throws(() => new HostClock(0, -1_000_000));
});

test('globalFor: earliest global time at which local reaches a reading', () => {
  const c = new HostClock(1000, 100);
  const g = c.globalFor(2_000_000, 0);
  assert.ok(c.local(g) >= 2_000_000);
  assert.ok(c.local(g - 1) < 2_000_000);
  // Already reached: now.
  assert.is(c.globalFor(10, 5000), 5000);
  // Exact inverse with no drift.
  assert.is(new HostClock(250, 0).globalFor(10_250, 0), 10_000);
});

test('globalFor across a later segment (timer computed in the past)', () => {
  const c = new HostClock(0, 0);
  c.jump(-1000, 5000); // at 5000 local drops to 4000
  // From global 0, local first reaches 4500 at global 4500 (before the jump).
  assert.is(c.globalFor(4500, 0), 4500);
  // Local 5500 is not reached before the jump at 5000 (reads 4999 at most), so after: 5000 + 1500.
  assert.is(c.globalFor(5500, 0), 6500);
  assert.ok(c.local(6500) >= 5500 && c.local(6499) < 5500);
});

test('globalFor is the exact inverse (property)', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: -1_000_000, max: 1_000_000 }),
      fc.integer({ min: -200_000, max: 200_000 }),
      fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 1, max: 2_000_000 }), fc.integer({ min: -100_000, max: 100_000 })), {
        maxLength: 4,
      }),
      fc.integer({ min: 0, max: 10_000_000 }),
      fc.integer({ min: 0, max: 5_000_000 }),
      (offset, ppm, changes, now, ahead) => {
        const c = new HostClock(offset, ppm);
        let at = 0;
        for (const [isJump, dt, v] of changes) {
          at += dt;
          if (isJump) c.jump(v, at);
          else c.setDrift(v, at);
        }
        const target = c.local(now) + ahead;
        const g = c.globalFor(target, now);
        assert.ok(Number.isInteger(g));
        assert.ok(g >= now);
        assert.ok(c.local(g) >= target, `local(${g}) = ${c.local(g)} < ${target}`);
        // Earliest: no earlier time in [now, g) reaches it. Check the step
        // before and, cheaply, a sample of earlier times.
        if (g > now) {
          assert.ok(c.local(g - 1) < target);
          for (let k = 1; k <= 8; k++) {
            const x = now + Math.floor(((g - now) * k) / 9);
            if (x < g) assert.ok(c.local(x) < target, `local(${x}) already reaches ${target}`);
          }
        }
      },
    ),
    { numRuns: 500 },
  );
});

test.run();
