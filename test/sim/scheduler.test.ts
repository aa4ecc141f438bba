import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fc from 'fast-check';
import { Scheduler } from '../../src/sim/scheduler.js';

test('runs events in time order, ties in insertion order', () => {
  const s = new Scheduler();
  const log: string[] = [];
  s.at(30, () => log.push('c30'));
  s.at(10, () => log.push('a10'));
  s.at(20, () => log.push('b20-1'));
  s.at(20, () => log.push('b20-2'));
  s.at(10, () => log.push('a10-2'));
  while (s.step()) log.push(`@${s.now}`);
  assert.equal(log, ['a10', '@10', 'a10-2', '@10', 'b20-1', '@20', 'b20-2', '@20', 'c30', '@30']);
  assert.is(s.eventsRun, 5);
  assert.is(s.step(), false);
});

test('after is relative to now; events scheduled from events', () => {
  const s = new Scheduler();
  const times: number[] = [];
  s.at(100, () => {
    times.push(s.now);
    s.after(50, () => times.push(s.now));
    s.after(0, () => times.push(s.now));
  });
  while (s.step());
  assert.equal(times, [100, 100, 150]);
});

test('past times clamp to now, fractional times round', () => {
  const s = new Scheduler();
  const times: number[] = [];
  s.at(1000, () => {
    s.at(5, () => times.push(s.now));
    s.after(-20, () => times.push(s.now));
    s.after(2.6, () => times.push(s.now));
  });
  while (s.step());
  assert.equal(times, [1000, 1000, 1003]);
  assert.throws(() => s.at(Number.NaN, () => {}));
  assert.throws(() => s.at(Infinity, () => {}));
});

test('cancel is lazy and exact', () => {
  const s = new Scheduler();
  const log: number[] = [];
  const a = s.at(10, () => log.push(1));
  const b = s.at(20, () => log.push(2));
  s.at(30, () => log.push(3));
  assert.is(s.pending(), 3);
  s.cancel(b);
  assert.is(s.pending(), 2);
  s.cancel(b); // twice: no-op
  assert.is(s.pending(), 2);
  s.cancel(a);
  assert.is(s.peekTime(), 30);
  while (s.step());
  assert.equal(log, [3]);
  assert.is(s.pending(), 0);
  assert.is(s.eventsRun, 1);
  assert.is(s.peekTime(), null);
});

test('cancelling a stale id does not cancel the slot reuser', () => {
  const s = new Scheduler();
  const log: string[] = [];
  const old = s.at(1, () => log.push('old'));
  s.step();
  // The slot of `old` is now free and will be reused.
  s.at(5, () => log.push('new'));
  s.cancel(old);
  assert.is(s.pending(), 1);
  while (s.step());
  assert.equal(log, ['old', 'new']);
  s.cancel(123456789); // unknown id
  assert.is(s.pending(), 0);
});

test('an event can cancel a later one', () => {
  const s = new Scheduler();
  const log: number[] = [];
  let later = -1;
  s.at(1, () => s.cancel(later));
  later = s.at(2, () => log.push(2));
  s.at(3, () => log.push(3));
  while (s.step());
  assert.equal(log, [3]);
});

test('runUntil runs events <= t and leaves now = t', () => {
  const s = new Scheduler();
  const log: number[] = [];
  for (const t of [5, 10, 15, 20]) s.at(t, () => log.push(t));
  s.runUntil(15);
  assert.equal(log, [5, 10, 15]);
  assert.is(s.now, 15);
  s.runUntil(18);
  assert.is(s.now, 18);
  assert.equal(log, [5, 10, 15]);
  s.runUntil(100);
  assert.equal(log, [5, 10, 15, 20]);
  assert.is(s.now, 100);
  s.runUntil(50); // never goes back
  assert.is(s.now, 100);
});

test('runUntil stop() is checked after each event', () => {
  const s = new Scheduler();
  let n = 0;
  for (let t = 1; t <= 10; t++) s.at(t, () => n++);
  s.runUntil(100, () => n === 3);
  assert.is(n, 3);
  assert.is(s.now, 3, 'now stays at the stopping event');
  s.runUntil(100);
  assert.is(n, 10);
});

test('grows past the initial capacity', () => {
  const s = new Scheduler(16);
  const out: number[] = [];
  for (let i = 0; i < 5000; i++) s.at(5000 - i, () => out.push(5000 - i));
  assert.is(s.pending(), 5000);
  s.runUntil(Infinity);
  assert.is(out.length, 5000);
  for (let i = 1; i < out.length; i++) assert.ok(out[i - 1]! < out[i]!);
  assert.is(s.now, 5000);
});

type Op = { kind: 'at'; time: number } | { kind: 'cancel'; which: number } | { kind: 'step' };

test('fuzz: matches a sorted reference (time, insertion order), with cancels', () => {
  const op: fc.Arbitrary<Op> = fc.oneof(
    fc.record({ kind: fc.constant('at' as const), time: fc.integer({ min: 0, max: 60 }) }),
    fc.record({ kind: fc.constant('cancel' as const), which: fc.nat({ max: 200 }) }),
    fc.record({ kind: fc.constant('step' as const) }),
  );
  fc.assert(
    fc.property(fc.array(op, { maxLength: 300 }), (ops) => {
      const s = new Scheduler(16);
      const ran: number[] = [];
      // Reference: live events as [time, seq]; run order is min (time, seq).
      const ref: Array<{ time: number; seq: number }> = [];
      const refRan: number[] = [];
      const ids: number[] = [];
      let seq = 0;
      const refStep = (): boolean => {
        if (ref.length === 0) return false;
        let best = 0;
        for (let i = 1; i < ref.length; i++) {
          const a = ref[i]!;
          const b = ref[best]!;
          if (a.time < b.time || (a.time === b.time && a.seq < b.seq)) best = i;
        }
        refRan.push(ref[best]!.seq);
        ref.splice(best, 1);
        return true;
      };
      let refNow = 0;
      for (const o of ops) {
        if (o.kind === 'at') {
          const my = seq++;
          const t = Math.max(o.time, refNow);
          ids.push(s.at(o.time, () => ran.push(my)));
          ref.push({ time: t, seq: my });
        } else if (o.kind === 'cancel') {
          if (ids.length === 0) continue;
          const k = o.which % ids.length;
          s.cancel(ids[k]!);
          const j = ref.findIndex((e) => e.seq === k);
          if (j >= 0) ref.splice(j, 1);
        } else {
          const before = ref.length > 0;
          if (before) {
            let best = ref[0]!;
            for (const e of ref) if (e.time < best.time || (e.time === best.time && e.seq < best.seq)) best = e;
            refNow = best.time;
          }
          assert.is(s.step(), refStep());
          if (before) assert.is(s.now, refNow);
        }
        assert.is(s.pending(), ref.length);
      }
      while (s.step());
      while (refStep());
      assert.equal(ran, refRan);
    }),
    { numRuns: 300 },
  );
});

test.run();
