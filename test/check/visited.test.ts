import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { RankSet, Visited, VisitedBudget } from '../../src/check/visited.js';

function set(capacity: number, members: number[]): RankSet {
  const s = new RankSet(capacity);
  for (const m of members) s.add(m);
  return s;
}

function pastFirst(s: RankSet): number[] {
  const out: number[] = [];
  s.membersPastFirst(out);
  return out;
}

test('rank set: the first clear rank and the members past it follow adds and LIFO removes', () => {
  const s = set(100, [0, 1, 5, 40, 2, 70]);
  assert.is(s.first, 3);
  assert.is(s.size, 6);
  assert.equal(pastFirst(s), [5, 40, 70]);
  s.add(3);
  s.add(4);
  assert.is(s.first, 6, 'filling the gap moves past the members beyond it');
  assert.equal(pastFirst(s), [40, 70]);
  s.remove(4);
  s.remove(3);
  assert.is(s.first, 3);
  assert.equal(pastFirst(s), [5, 40, 70]);
  const full = set(3, [2, 1, 0]);
  assert.is(full.first, 3);
  assert.equal(pastFirst(full), []);
});

test('property: a rank set agrees with a plain set under adds and LIFO removes', () => {
  fc.assert(
    fc.property(fc.array(fc.nat(99), { maxLength: 60 }), fc.nat(60), (adds, undo) => {
      const s = new RankSet(100);
      const added: number[] = [];
      for (const r of adds) {
        if (s.has(r)) continue;
        s.add(r);
        added.push(r);
      }
      for (let k = 0; k < undo && added.length > 0; k++) s.remove(added.pop()!);
      const members = [...new Set(added)].sort((a, b) => a - b);
      let first = 0;
      while (members.includes(first)) first++;
      return s.first === first && s.size === members.length && JSON.stringify(pastFirst(s)) === JSON.stringify(members.filter((m) => m > first));
    }),
    { numRuns: 300 },
  );
});

test('visited: a configuration is found again only with the same known set and state; fewer unknown members cover more', () => {
  const budget = new VisitedBudget(100);
  const v = new Visited<number>((a, b) => a === b, budget);
  const none = new RankSet(8);
  assert.ok(v.add(set(10, [0, 1, 4]), none, 7, 42));
  assert.not.ok(v.add(set(10, [0, 1, 4]), none, 7, 42), 'the same configuration');
  assert.ok(v.add(set(10, [0, 1, 4]), none, 7, 43), 'another state');
  assert.ok(v.add(set(10, [0, 1, 5]), none, 7, 42), 'another known set under the same hash');
  assert.ok(v.add(set(10, [0, 1]), none, 7, 42), 'a subset of a known set is no match');
  // (K ∪ {u2}) explored: (K ∪ {u2, u5}) is covered, (K ∪ {u5}) is not.
  const k = set(10, [3]);
  assert.ok(v.add(k, set(8, [2]), 9, 1));
  assert.not.ok(v.add(k, set(8, [2, 5]), 9, 1));
  assert.ok(v.add(k, set(8, [5]), 9, 1));
  assert.is(v.size, 6);
});

test('visited: beyond the budget every set of the check forgets all it holds', () => {
  const budget = new VisitedBudget(3);
  const a = new Visited<number>((x, y) => x === y, budget);
  const b = new Visited<number>((x, y) => x === y, budget);
  const none = new RankSet(1);
  assert.ok(a.add(set(4, [0]), none, 1, 0));
  assert.ok(a.add(set(4, [1]), none, 2, 0));
  assert.ok(b.add(set(4, [2]), none, 3, 0));
  assert.is(budget.resets, 0);
  assert.ok(b.add(set(4, [3]), none, 4, 0), 'the fourth entry forgets the first three');
  assert.is(budget.resets, 1);
  assert.is(a.size, 0);
  assert.is(b.size, 1);
  assert.ok(a.add(set(4, [0]), none, 1, 0), 'forgotten, so new again');
  b.release();
  assert.ok(a.add(set(4, [1]), none, 2, 0), "a released set's entries no longer count");
  assert.is(budget.resets, 1);
  assert.throws(() => new VisitedBudget(0), /at least 1/);
});

test('visited: grows past its first table and pool without losing entries', () => {
  const v = new Visited<number>((a, b) => a === b, new VisitedBudget(1e6));
  const none = new RankSet(1);
  // Entry i: known set {i mod 100, 100 + i mod 7}, state i div 100, a few hashes.
  const add = (i: number): boolean => v.add(set(107, [i % 100, 100 + (i % 7)]), none, i & 15, Math.floor(i / 100));
  for (let i = 0; i < 5000; i++) assert.ok(add(i), `entry ${i} is new`);
  for (let i = 0; i < 5000; i++) assert.not.ok(add(i), `entry ${i} is found again`);
  assert.is(v.size, 5000);
});

test.run();
