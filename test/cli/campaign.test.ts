// Shards of a campaign: every seed of the range belongs to exactly one shard
// (property tests), shards are balanced and interleaved, --shard is validated,
// and the scenario hash tells edited scenarios apart but not reordered keys.
import fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { inShard, scenarioHash, shardFlag, shardOf, shardSeeds, shardSize, type Campaign } from '../../src/cli/campaign.js';
import { parseScenarioText } from '../../src/cli/scenario-file.js';

const campaignOf = (start: number, seeds: number, shards: number): Campaign =>
  ({ scenario: 's', scenarioHash: 'h', start, seeds, shards, stopOnFirst: false });

const ranges = fc.record({
  start: fc.oneof(fc.nat(1000), fc.nat(Number.MAX_SAFE_INTEGER - 10_000)),
  seeds: fc.integer({ min: 1, max: 400 }),
  count: fc.integer({ min: 1, max: 40 }),
});

test('property: the shards of a range hold every seed exactly once, and each seed is in the shard shardOf names', () => {
  fc.assert(
    fc.property(ranges, ({ start, seeds, count }) => {
      const all: number[] = [];
      for (let index = 1; index <= count; index++) {
        const mine = shardSeeds(start, seeds, { index, count });
        assert.is(mine.length, shardSize(seeds, { index, count }));
        for (const s of mine) {
          assert.is(shardOf(s, start, count), index);
          assert.ok(inShard(s, campaignOf(start, seeds, count), index));
          if (count > 1) assert.not.ok(inShard(s, campaignOf(start, seeds, count), (index % count) + 1));
        }
        all.push(...mine);
      }
      assert.equal(all.sort((a, b) => a - b), Array.from({ length: seeds }, (_, i) => start + i));
    }),
  );
});

test('property: shards are balanced (sizes differ by at most one) and interleaved (each ascends by N)', () => {
  fc.assert(
    fc.property(ranges, ({ start, seeds, count }) => {
      const sizes = Array.from({ length: count }, (_, i) => shardSize(seeds, { index: i + 1, count }));
      assert.ok(Math.max(...sizes) - Math.min(...sizes) <= 1, `sizes ${sizes.join(',')}`);
      const first = shardSeeds(start, seeds, { index: 1, count });
      for (let k = 1; k < first.length; k++) assert.is(first[k]! - first[k - 1]!, count);
    }),
  );
});

test('property: shardOf names a shard from 1 to N for any seed, also below the start, and seeds outside the range are in no shard', () => {
  fc.assert(
    fc.property(ranges, fc.nat(Number.MAX_SAFE_INTEGER), ({ start, seeds, count }, seed) => {
      const shard = shardOf(seed, start, count);
      assert.ok(Number.isInteger(shard) && shard >= 1 && shard <= count, `${shard}`);
      const inside = seed >= start && seed < start + seeds;
      if (!inside) for (let i = 1; i <= count; i++) assert.not.ok(inShard(seed, campaignOf(start, seeds, count), i));
    }),
  );
});

test('shards by example: 1/3 of 1..10 is 1, 4, 7, 10; 3/3 is 3, 6, 9; more shards than seeds leaves some empty', () => {
  assert.equal(shardSeeds(1, 10, { index: 1, count: 3 }), [1, 4, 7, 10]);
  assert.equal(shardSeeds(1, 10, { index: 3, count: 3 }), [3, 6, 9]);
  assert.equal(shardSeeds(5, 2, { index: 3, count: 4 }), []);
  assert.is(shardOf(0, 5, 3), 2); // 0 is 5 below the start: -5 mod 3 = 1, so shard 2
});

test('--shard: I/N with 1 <= I <= N; anything else names the flag and what was expected', () => {
  assert.equal(shardFlag('2/3'), { index: 2, count: 3 });
  assert.equal(shardFlag('1/1'), { index: 1, count: 1 });
  for (const bad of ['0/3', '4/3', '3', '1/0', '-1/3', '1/3/4', 'a/b', '1.5/3', '', '1/2000000']) {
    assert.throws(() => shardFlag(bad), (e: Error) => e.message.startsWith('--shard: ') && /expected I\/N with 1 <= I <= N|non-empty/.test(e.message), bad);
  }
  assert.throws(() => shardFlag(['1/2', '2/2']), /--shard: expected one value/);
});

test('scenario hash: the same for reordered keys and spelled-out defaults, different for an edit', () => {
  const a = parseScenarioText('name: h\ndurationS: 10\nhosts: 3\n', 'a.yaml');
  const b = parseScenarioText('hosts: 3\nname: h\ndurationS: 10\n', 'b.yaml');
  const c = parseScenarioText('name: h\ndurationS: 10\nhosts: 4\n', 'c.yaml');
  const d = parseScenarioText('name: h\ndurationS: 10\nhosts: 3\nfaults: { schedule: [] }\n', 'd.yaml');
  assert.is(scenarioHash(a), scenarioHash(b));
  assert.is(scenarioHash(a), scenarioHash(d));
  assert.is.not(scenarioHash(a), scenarioHash(c));
  assert.match(scenarioHash(a), /^[0-9a-f]{16}$/);
});

test.run();
