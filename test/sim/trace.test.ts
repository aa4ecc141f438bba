import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Trace } from '../../src/sim/trace.js';

const PINNED = '972b272a8b226bc6';

type Ev = [number, string, number, number, number, string?];

function events(n: number): Ev[] {
  const out: Ev[] = [];
  for (let i = 0; i < n; i++) {
    out.push([i * 137, ['send', 'recv', 'tick'][i % 3]!, 1 + (i % 5), i * 3, -i, i % 7 === 0 ? `n${i}` : undefined]);
  }
  return out;
}

function hashOf(evs: Ev[]): string {
  const t = new Trace();
  for (const e of evs) t.record(e[0], e[1], e[2], e[3], e[4], e[5]);
  return t.hash();
}

test('same events give the same hash; the hash is 16 hex chars', () => {
  const h = hashOf(events(1000));
  assert.match(h, /^[0-9a-f]{16}$/);
  assert.is(hashOf(events(1000)), h);
  assert.is.not(new Trace().hash(), h);
});

test('the hash is pinned (identical across processes and machines)', () => {
  // If this changes, recorded trace hashes of old runs no longer replay.
  assert.is(hashOf(events(100)), PINNED);
});

test('changing any one field changes the hash', () => {
  const base = events(50);
  const h = hashOf(base);
  const variants: Array<(e: Ev) => Ev> = [
    (e) => [e[0] + 1, e[1], e[2], e[3], e[4], e[5]],
    (e) => [e[0], e[1] + 'x', e[2], e[3], e[4], e[5]],
    (e) => [e[0], e[1], e[2] + 1, e[3], e[4], e[5]],
    (e) => [e[0], e[1], e[2], e[3] + 1, e[4], e[5]],
    (e) => [e[0], e[1], e[2], e[3], e[4] - 1, e[5]],
    (e) => [e[0], e[1], e[2], e[3], e[4], 'note'],
    (e) => [e[0], e[1], e[2], e[3], e[4] + 2 ** 40, e[5]],
    (e) => [e[0], e[1], e[2], e[3], e[4] + 0.5, e[5]],
  ];
  const seen = new Set<string>([h]);
  for (const v of variants) {
    for (const at of [0, 25, 49]) {
      const evs = base.slice();
      evs[at] = v(evs[at]!);
      const h2 = hashOf(evs);
      assert.is.not(h2, h);
      seen.add(h2);
    }
  }
  // Swapping a and b, or two events, changes it too.
  const swapped = base.slice();
  swapped[10] = [base[10]![0], base[10]![1], base[10]![2], base[10]![4], base[10]![3], base[10]![5]];
  assert.is.not(hashOf(swapped), h);
  const reordered = base.slice();
  [reordered[3], reordered[4]] = [reordered[4]!, reordered[3]!];
  assert.is.not(hashOf(reordered), h);
  // One event fewer.
  assert.is.not(hashOf(base.slice(0, 49)), h);
  assert.is(seen.size, 1 + variants.length * 3, 'all variants distinct');
});

test('large and non-integer numbers hash without loss', () => {
  const one = (v: number): string => {
    const t = new Trace();
    t.record(v, 'k', 1, 0, 0);
    return t.hash();
  };
  const hs = [0, 1, -1, 2 ** 32, 2 ** 32 + 1, 2 ** 53 - 1, 0.1, 0.2, NaN, Infinity, -Infinity].map(one);
  assert.is(new Set(hs).size, hs.length);
  assert.is(one(2 ** 40), one(2 ** 40));
});

test('count and window keep the last N, oldest first', () => {
  const t = new Trace({ window: 4 });
  assert.equal(t.last(), []);
  t.record(1, 'a', 1, 0, 0);
  t.record(2, 'b', 2, 5, 6, 'hello');
  assert.equal(t.last(), ['1us h1 a 0 0', '2us h2 b 5 6 hello']);
  for (let i = 3; i <= 10; i++) t.record(i, 'e', 1, i, 0);
  assert.is(t.count, 10);
  assert.equal(t.last(), ['7us h1 e 7 0', '8us h1 e 8 0', '9us h1 e 9 0', '10us h1 e 10 0']);
  const d = new Trace();
  for (let i = 0; i < 100; i++) d.record(i, 'x', 0, 0, 0);
  assert.is(d.last().length, 64);
  assert.is(d.last()[0], '36us h0 x 0 0');
  const none = new Trace({ window: 0 });
  none.record(1, 'x', 0, 0, 0);
  assert.equal(none.last(), []);
  assert.is(none.count, 1);
});

test('window size does not affect the hash', () => {
  const a = new Trace({ window: 2 });
  const b = new Trace({ window: 1000 });
  for (const e of events(300)) {
    a.record(e[0], e[1], e[2], e[3], e[4], e[5]);
    b.record(e[0], e[1], e[2], e[3], e[4], e[5]);
  }
  assert.is(a.hash(), b.hash());
});

test('sink receives every event as a JSON line', () => {
  const lines: string[] = [];
  const t = new Trace({ sink: (l) => lines.push(l) });
  t.record(5, 'send', 1, 2, 3);
  t.record(6, 'recv', 2, 1, 3, 'append "x"');
  assert.is(lines.length, 2);
  assert.equal(JSON.parse(lines[0]!), { t: 5, kind: 'send', host: 1, a: 2, b: 3 });
  assert.equal(JSON.parse(lines[1]!), { t: 6, kind: 'recv', host: 2, a: 1, b: 3, note: 'append "x"' });
  for (const l of lines) assert.not.ok(l.includes('\n'));
});

test.run();
