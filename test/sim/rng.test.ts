import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Rng, streamFor } from '../../src/sim/rng.js';

const PINNED = [2178233537, 3513368437, 2674303792];

function draws(r: Rng, n: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(r.next());
  return out;
}

test('same seed and name give the same sequence', () => {
  assert.equal(draws(streamFor(42, 'net'), 100), draws(streamFor(42, 'net'), 100));
  assert.equal(draws(streamFor('42', 'net'), 10), draws(streamFor(42, 'net'), 10));
});

test('known values are stable across processes', () => {
  // Pinned so a change of generator or seeding (which would break replay of
  // recorded seeds) is caught.
  const r = streamFor(1, 'pin');
  const got = [r.uint32(), r.uint32(), r.uint32()];
  const again = streamFor(1, 'pin');
  assert.equal([again.uint32(), again.uint32(), again.uint32()], got);
  assert.equal(got, PINNED);
});

test('different names and seeds give different streams', () => {
  const a = draws(streamFor(42, 'net'), 20);
  const b = draws(streamFor(42, 'disk'), 20);
  const c = draws(streamFor(43, 'net'), 20);
  assert.not.equal(a, b);
  assert.not.equal(a, c);
});

test('a stream is not perturbed by draws on another stream', () => {
  const x1 = streamFor(7, 'x');
  const expected = draws(x1, 10);
  const y = streamFor(7, 'y');
  const x2 = streamFor(7, 'x');
  const got: number[] = [];
  for (let i = 0; i < 10; i++) {
    y.next();
    y.next();
    got.push(x2.next());
  }
  assert.equal(got, expected);
});

test('fork derives an independent deterministic child', () => {
  const p = streamFor(5, 'host');
  p.next();
  const c1 = draws(p.fork('timer'), 10);
  p.next();
  const c2 = draws(p.fork('timer'), 10);
  assert.equal(c1, c2, 'fork does not depend on parent draws');
  assert.equal(c1, draws(streamFor(5, 'host/timer'), 10));
  assert.not.equal(c1, draws(p.fork('other'), 10));
});

test('next, int, between, bool ranges', () => {
  const r = streamFor(1, 'ranges');
  const seen = new Set<number>();
  for (let i = 0; i < 10000; i++) {
    const x = r.next();
    assert.ok(x >= 0 && x < 1);
    const k = r.int(-3, 4);
    assert.ok(Number.isInteger(k) && k >= -3 && k < 4, `int ${k}`);
    seen.add(k);
    const f = r.between(2.5, 3.5);
    assert.ok(f >= 2.5 && f < 3.5);
  }
  assert.is(seen.size, 7, 'every value of a small range occurs');
  assert.throws(() => r.int(3, 3));
  let trues = 0;
  for (let i = 0; i < 10000; i++) if (r.bool(0.3)) trues++;
  assert.ok(trues > 2700 && trues < 3300, `bool(0.3) gave ${trues}/10000`);
  for (let i = 0; i < 100; i++) {
    assert.is(r.bool(0), false);
    assert.is(r.bool(1), true);
  }
});

test('exponential has the right mean and is non-negative', () => {
  const r = streamFor(1, 'exp');
  let sum = 0;
  const n = 20000;
  for (let i = 0; i < n; i++) {
    const x = r.exponential(100);
    assert.ok(x >= 0 && Number.isFinite(x));
    sum += x;
  }
  const mean = sum / n;
  assert.ok(mean > 95 && mean < 105, `mean ${mean}`);
  assert.is(r.exponential(0), 0);
});

test('pick and shuffle', () => {
  const r = streamFor(1, 'pick');
  const xs = ['a', 'b', 'c'] as const;
  const counts = new Map<string, number>();
  for (let i = 0; i < 3000; i++) {
    const p = r.pick(xs);
    counts.set(p, (counts.get(p) ?? 0) + 1);
  }
  for (const x of xs) assert.ok((counts.get(x) ?? 0) > 800, `pick ${x}`);
  assert.throws(() => r.pick([]));

  const arr = Array.from({ length: 50 }, (_, i) => i);
  const same = arr;
  const out = r.shuffle(arr);
  assert.ok(out === same, 'in place');
  assert.equal([...out].sort((a, b) => a - b), Array.from({ length: 50 }, (_, i) => i));
  assert.not.equal(out, Array.from({ length: 50 }, (_, i) => i));
  // Deterministic.
  const a1 = streamFor(9, 's').shuffle([1, 2, 3, 4, 5, 6, 7, 8]);
  const a2 = streamFor(9, 's').shuffle([1, 2, 3, 4, 5, 6, 7, 8]);
  assert.equal(a1, a2);
  // Every position reachable: first element of a 4-shuffle takes all values.
  const firsts = new Set<number>();
  for (let i = 0; i < 200; i++) firsts.add(r.shuffle([1, 2, 3, 4])[0]!);
  assert.is(firsts.size, 4);
});

test('subset is non-empty, ordered, and varies', () => {
  const r = streamFor(1, 'subset');
  const xs = [1, 2, 3, 4, 5];
  const seen = new Set<string>();
  for (let i = 0; i < 500; i++) {
    const s = r.subset(xs);
    assert.ok(s.length >= 1 && s.length <= 5);
    for (let j = 1; j < s.length; j++) assert.ok(s[j - 1]! < s[j]!, 'order kept');
    for (const x of s) assert.ok(xs.includes(x));
    seen.add(s.join(','));
  }
  assert.ok(seen.size > 20, `only ${seen.size} distinct subsets`);
  assert.equal(r.subset([9]), [9]);
  assert.throws(() => r.subset([]));
});

test.run();
