import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { SimDisk, DiskCorruptionError, checksum } from '../../src/sim/disk.js';
import { streamFor } from '../../src/sim/rng.js';

test('appends are pending until sync; read shows durable records only', () => {
  const d = new SimDisk();
  d.append('log', 'a');
  d.append('log', 'b');
  assert.equal(d.read('log'), []);
  assert.equal(d.readVisible('log'), ['a', 'b']);
  assert.is(d.pendingCount('log'), 2);
  d.sync('log');
  assert.equal(d.read('log'), ['a', 'b']);
  assert.is(d.pendingCount(), 0);
  assert.equal(d.read('missing'), []);
});

test('crash loses unsynced writes and keeps synced ones', () => {
  const d = new SimDisk();
  d.append('log', 'a');
  d.sync();
  d.append('log', 'b');
  d.append('log', 'c');
  d.append('other', 'x'); // never synced: the file vanishes
  d.crash();
  assert.equal(d.read('log'), ['a']);
  assert.equal(d.readVisible('log'), ['a']);
  assert.equal(d.files(), ['log']);
  assert.is(d.stats.lostRecords, 3);
  assert.is(d.stats.crashes, 1);
  d.append('log', 'd');
  d.sync('log');
  assert.equal(d.read('log'), ['a', 'd']);
});

test('sync(file) syncs only that file', () => {
  const d = new SimDisk();
  d.append('a', '1');
  d.append('b', '2');
  d.sync('a');
  d.crash();
  assert.equal(d.files(), ['a']);
  assert.equal(d.read('a'), ['1']);
});

test('files() is sorted; remove deletes', () => {
  const d = new SimDisk();
  for (const f of ['zeta', 'alpha', 'mid']) d.append(f, f);
  d.sync();
  assert.equal(d.files(), ['alpha', 'mid', 'zeta']);
  d.remove('mid');
  assert.equal(d.files(), ['alpha', 'zeta']);
  d.crash();
  assert.equal(d.files(), ['alpha', 'zeta']);
  assert.not.ok(d.exists('mid'));
});

test('torn writes: a torn tail survives a crash, is detected and dropped', () => {
  let torn = 0;
  for (let seed = 0; seed < 40; seed++) {
    const rng = streamFor(seed, 'disk');
    const d = new SimDisk();
    d.append('log', 'first');
    d.sync();
    d.append('log', 'second-record-is-long');
    d.append('log', 'third');
    d.crash(rng, { tornWrites: true });
    if (d.stats.tornWrites === 1) {
      torn++;
      assert.equal(d.read('log'), ['first']);
      assert.is(d.stats.tornDropped, 1);
      // Dropped once; the tail is truncated away.
      assert.equal(d.read('log'), ['first']);
      assert.is(d.stats.tornDropped, 1);
    } else {
      assert.equal(d.read('log'), ['first']);
      assert.is(d.stats.tornDropped, 0);
    }
    d.append('log', 'after');
    d.sync();
    assert.equal(d.read('log'), ['first', 'after']);
  }
  assert.ok(torn > 5 && torn < 35, `torn in ${torn} of 40 crashes`);
});

test('torn tail never read back is replaced by the next synced write', () => {
  for (let seed = 0; seed < 20; seed++) {
    const d = new SimDisk();
    d.append('log', 'ok');
    d.sync();
    d.append('log', 'pending-record');
    d.crash(streamFor(seed, 'disk'), { tornWrites: true });
    d.append('log', 'next');
    d.sync();
    assert.equal(d.read('log'), ['ok', 'next']);
    // Twice torn in a row leaves at most one fragment.
    d.append('log', 'p1');
    d.crash(streamFor(seed, 'disk2'), { tornWrites: true });
    d.append('log', 'p2');
    d.crash(streamFor(seed, 'disk3'), { tornWrites: true });
    assert.equal(d.read('log'), ['ok', 'next']);
  }
});

test('without tornWrites a crash leaves nothing torn', () => {
  const d = new SimDisk();
  d.append('log', 'a');
  d.crash(streamFor(1, 'x'));
  assert.is(d.stats.tornWrites, 0);
  assert.equal(d.read('log'), []);
});

test('rewrite is atomic at sync', () => {
  const d = new SimDisk();
  for (const r of ['1', '2', '3', '4']) d.append('log', r);
  d.sync();
  d.rewrite('log', ['snap', '4']);
  d.append('log', '5');
  assert.equal(d.readVisible('log'), ['snap', '4', '5']);
  assert.equal(d.read('log'), ['1', '2', '3', '4']);
  d.crash(streamFor(1, 'x'), { tornWrites: true });
  assert.equal(d.read('log'), ['1', '2', '3', '4'], 'crash before sync keeps the old contents');
  d.rewrite('log', ['snap', '4']);
  d.append('log', '5');
  d.sync();
  d.crash();
  assert.equal(d.read('log'), ['snap', '4', '5']);
  assert.is(d.stats.rewrites, 2);
});

test('corrupted reads are detected by the checksum and reported', () => {
  const d = new SimDisk();
  for (let i = 0; i < 10; i++) d.append('log', `record-${i}`);
  d.sync();
  d.corruptRead(0.5, streamFor(1, 'corrupt'));
  let errors = 0;
  let ok = 0;
  for (let i = 0; i < 200; i++) {
    try {
      const rs = d.read('log');
      assert.is(rs.length, 10);
      ok++;
    } catch (e) {
      assert.instance(e, DiskCorruptionError);
      const err = e as DiskCorruptionError;
      assert.is(err.file, 'log');
      assert.ok(err.recordIndex >= 0 && err.recordIndex < 10);
      errors++;
    }
  }
  assert.ok(errors > 70 && errors < 130, `errors ${errors}`);
  assert.is(d.stats.corruptReads, errors);
  assert.is(ok + errors, 200);
  d.corruptRead(0, streamFor(1, 'corrupt'));
  assert.equal(d.read('log'), Array.from({ length: 10 }, (_, i) => `record-${i}`), 'stored data undamaged');
});

test('checksum detects any single changed character', () => {
  const s = 'hello, world: {"term":3,"index":17}';
  const base = checksum(s);
  for (let i = 0; i < s.length; i++) {
    for (let bit = 0; bit < 16; bit++) {
      const t = s.slice(0, i) + String.fromCharCode(s.charCodeAt(i) ^ (1 << bit)) + s.slice(i + 1);
      assert.is.not(checksum(t), base);
    }
  }
});

test.run();
