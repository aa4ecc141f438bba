// The page table's records for release consistency: diffs applied in commit
// order as versions, retries never applied twice, collection by vector time,
// per-company hashes and snapshots that carry them, and validation.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { type ApplyResult, PageTable, validateCommand } from '../../../src/vmm/page-table.js';
import { encodeDiff, makeDiff } from '../../../src/vmm/release/diff.js';

const PAGE = 64;

function ok(r: ApplyResult): number {
  if (!r.ok) assert.unreachable(`expected ok, got ${r.error}: ${r.detail}`);
  return (r as { version?: number }).version ?? -1;
}

function table(): PageTable {
  const t = new PageTable({ pageSize: PAGE });
  ok(t.apply({ op: 'create-company', company: 1, firstPage: 0, pages: 8 }));
  ok(t.apply({ op: 'allocate', company: 1, id: 'a', pages: 2, owner: 1 }));
  return t;
}

/** A diff that sets word `word` to `value` in a page of zeros. */
function set(word: number, value: number): string {
  const p = new Uint8Array(PAGE);
  new DataView(p.buffer).setUint32(word * 4, value, true);
  return encodeDiff(makeDiff(new Uint8Array(PAGE), p));
}

function wordOf(t: PageTable, page: number, word: number): number {
  const data = t.page(page)!.data;
  return data === null ? 0 : Buffer.from(data, 'base64').readUInt32LE(word * 4);
}

test('diffs of different words of one page both land, as successive versions', () => {
  const t = table();
  assert.is(ok(t.apply({ op: 'diff', page: 0, host: 1, interval: 1, vt: { 1: 1 }, diff: set(0, 11) })), 1);
  assert.is(ok(t.apply({ op: 'diff', page: 0, host: 2, interval: 1, vt: { 2: 1 }, diff: set(1, 22) })), 2);
  assert.is(wordOf(t, 0, 0), 11);
  assert.is(wordOf(t, 0, 1), 22);
  assert.equal(t.diffsSince(0, 0)!.map((d) => [d.host, d.version]), [[1, 1], [2, 2]]);
  assert.equal(t.diffsSince(0, 1)!.map((d) => d.version), [2]);
  assert.equal(t.diffsSince(0, 2), []);
});

test('a retried diff is answered with its version and never applied again', () => {
  const t = table();
  assert.is(ok(t.apply({ op: 'diff', page: 0, host: 1, interval: 5, vt: { 1: 5 }, diff: set(0, 1) })), 1);
  assert.is(ok(t.apply({ op: 'diff', page: 0, host: 2, interval: 1, vt: { 1: 5, 2: 1 }, diff: set(0, 2) })), 2);
  // host 1's interval 5 again (a retry whose first answer was lost): host 2's later word stays
  assert.is(ok(t.apply({ op: 'diff', page: 0, host: 1, interval: 5, vt: { 1: 5 }, diff: set(0, 1) })), 1);
  assert.is(ok(t.apply({ op: 'diff', page: 0, host: 1, interval: 4, vt: { 1: 4 }, diff: set(0, 1) })), 2);
  assert.is(wordOf(t, 0, 0), 2);
  assert.is(t.page(0)!.version, 2);
});

test('diffs every host has seen are collected; a fetch then needs the whole page', () => {
  const t = table();
  ok(t.apply({ op: 'diff', page: 0, host: 1, interval: 1, vt: { 1: 1 }, diff: set(0, 1) }));
  ok(t.apply({ op: 'diff', page: 0, host: 2, interval: 1, vt: { 2: 1 }, diff: set(1, 1) }));
  assert.equal(t.diffFloor(1, [1, 2]), {});
  ok(t.apply({ op: 'diff', page: 1, host: 2, interval: 2, vt: { 1: 1, 2: 2 }, diff: set(0, 1) }));
  // host 2 has seen host 1's interval 1, host 1 not host 2's; host 3 never reported
  assert.equal(t.diffFloor(1, [1, 2]), { 1: 1 });
  assert.equal(t.diffFloor(1, [1, 2, 3]), {});
  ok(t.apply({ op: 'collect-diffs', company: 1, floor: t.diffFloor(1, [1, 2]) }));
  assert.equal(t.diffsOf(0).map((d) => d.host), [2]);
  ok(t.apply({ op: 'diff', page: 1, host: 1, interval: 2, vt: { 1: 2, 2: 2 }, diff: set(1, 1) }));
  ok(t.apply({ op: 'collect-diffs', company: 1, floor: t.diffFloor(1, [1, 2]) }));
  assert.is(t.diffsOf(0).length, 0);
  assert.is(t.diffsSince(0, 0), null);
  assert.is(wordOf(t, 0, 0), 1);
});

test('diff rows are in the company hash and the snapshot; freeing the run drops them', () => {
  const a = table();
  const b = table();
  assert.is(a.hash(1), b.hash(1));
  ok(a.apply({ op: 'diff', page: 0, host: 1, interval: 1, vt: { 1: 1 }, diff: set(0, 1) }));
  assert.is.not(a.hash(1), b.hash(1));
  const r = PageTable.restore(a.snapshot(), { pageSize: PAGE });
  assert.is(r.hash(1), a.hash(1));
  assert.is(r.diffsOf(0).length, 1);
  ok(a.apply({ op: 'free', company: 1, firstPage: 0, by: 1, id: 'a' }));
  assert.is(a.diffsOf(0).length, 0);
});

test('diff commands are checked field by field', () => {
  const t = table();
  const bad: [unknown, RegExp][] = [
    [{ op: 'diff', page: -1, host: 1, interval: 1, vt: {}, diff: '' }, /'page'/],
    [{ op: 'diff', page: 0, host: 0, interval: 1, vt: {}, diff: '' }, /'host'/],
    [{ op: 'diff', page: 0, host: 1, interval: 0, vt: {}, diff: '' }, /'interval'/],
    [{ op: 'diff', page: 0, host: 1, interval: 1, vt: [], diff: '' }, /'vt'/],
    [{ op: 'diff', page: 0, host: 1, interval: 1, vt: {}, diff: 3 }, /'diff'/],
    [{ op: 'collect-diffs', company: 1, floor: { 1: -1 } }, /'floor'/],
  ];
  for (const [cmd, why] of bad) {
    const v = validateCommand(cmd);
    assert.ok('error' in v, JSON.stringify(cmd));
    assert.match((v as { error: string }).error, why);
  }
  const past = Buffer.from(new Uint32Array([20, 1, 7]).buffer).toString('base64');
  const r = t.apply({ op: 'diff', page: 0, host: 1, interval: 1, vt: {}, diff: past });
  assert.ok(!r.ok && r.error === 'bad-command' && /past the page/.test(r.detail));
  const r2 = t.apply({ op: 'diff', page: 5, host: 1, interval: 1, vt: {}, diff: set(0, 1) });
  assert.ok(!r2.ok && r2.error === 'not-allocated');
  assert.is(t.page(0)!.version, 0);
});

test.run();
