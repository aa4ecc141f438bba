// The page table's records for release consistency: diffs committed pending
// and applied only when a fetch names their interval (the fence against a
// diff whose release never committed), in commit order as versions; retries
// never taken twice; collection by vector time; per-company hashes and
// snapshots that carry them; validation.
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

/** A fetch naming `upTo`: applies the page's pending diffs of those intervals; the page's version after. */
function publish(t: PageTable, page: number, upTo: Record<number, number>): number {
  return ok(t.apply({ op: 'publish-diffs', page, upTo }));
}

test('a committed diff is pending: not applied until a fetch names its interval, then applied as the next version', () => {
  const t = table();
  assert.is(ok(t.apply({ op: 'diff', page: 0, host: 1, interval: 1, vt: { 1: 1 }, diff: set(0, 11) })), 0);
  assert.is(ok(t.apply({ op: 'diff', page: 0, host: 2, interval: 1, vt: { 2: 1 }, diff: set(1, 22) })), 0);
  assert.is(wordOf(t, 0, 0), 0);
  assert.equal(t.pendingDiffsOf(0).map((d) => d.host), [1, 2]);
  assert.not.ok(t.fetchReady(0, { 1: 1 }), 'a named pending diff must be applied first');
  assert.ok(t.fetchReady(0, {}), 'naming nothing: the page as it is');
  // Naming host 2's interval applies it alone; host 1's stays pending.
  assert.is(publish(t, 0, { 2: 1 }), 1);
  assert.is(wordOf(t, 0, 1), 22);
  assert.is(wordOf(t, 0, 0), 0);
  assert.equal(t.appliedIntervals(0), { 2: 1 });
  assert.is(publish(t, 0, { 1: 1, 2: 1 }), 2);
  assert.is(wordOf(t, 0, 0), 11);
  assert.equal(t.appliedIntervals(0), { 1: 1, 2: 1 });
  assert.ok(t.fetchReady(0, { 1: 1, 2: 1 }));
  assert.not.ok(t.fetchReady(0, { 1: 2 }), 'an interval not committed here: through the log');
  assert.equal(t.diffsSince(0, 0)!.map((d) => [d.host, d.version]), [[2, 1], [1, 2]]);
  assert.equal(t.diffsSince(0, 1)!.map((d) => d.version), [2]);
  assert.equal(t.diffsSince(0, 2), []);
});

test('naming an interval names the host\'s earlier ones of its incarnation, applied in commit order; an earlier incarnation\'s stay pending', () => {
  const t = table();
  const inc = (i: number, n: number): number => i * 2 ** 32 + n;
  ok(t.apply({ op: 'diff', page: 0, host: 1, interval: inc(1, 1), vt: {}, diff: set(0, 1) }));
  ok(t.apply({ op: 'diff', page: 0, host: 1, interval: inc(1, 2), vt: {}, diff: set(0, 2) }));
  ok(t.apply({ op: 'diff', page: 0, host: 1, interval: inc(2, 1), vt: {}, diff: set(1, 3) }));
  assert.is(publish(t, 0, { 1: inc(1, 2) }), 2);
  assert.is(wordOf(t, 0, 0), 2);
  assert.is(wordOf(t, 0, 1), 0);
  ok(t.apply({ op: 'diff', page: 0, host: 1, interval: inc(1, 3), vt: {}, diff: set(0, 4) }));
  // The new incarnation's interval is named; the old one's third interval was never published by it.
  assert.is(publish(t, 0, { 1: inc(2, 1) }), 3);
  assert.is(wordOf(t, 0, 1), 3);
  assert.is(wordOf(t, 0, 0), 2);
  assert.equal(t.pendingDiffsOf(0).map((d) => d.interval), [inc(1, 3)]);
});

test('a retried diff is never taken twice, pending or applied: a later writer\'s word stays', () => {
  const t = table();
  ok(t.apply({ op: 'diff', page: 0, host: 1, interval: 5, vt: { 1: 5 }, diff: set(0, 1) }));
  ok(t.apply({ op: 'diff', page: 0, host: 1, interval: 5, vt: { 1: 5 }, diff: set(0, 1) }));
  assert.is(t.pendingDiffsOf(0).length, 1);
  publish(t, 0, { 1: 5 });
  ok(t.apply({ op: 'diff', page: 0, host: 2, interval: 1, vt: { 1: 5, 2: 1 }, diff: set(0, 2) }));
  publish(t, 0, { 1: 5, 2: 1 });
  // host 1's interval 5 again (a retry whose first answer was lost), and an older one: nothing taken
  ok(t.apply({ op: 'diff', page: 0, host: 1, interval: 5, vt: { 1: 5 }, diff: set(0, 1) }));
  ok(t.apply({ op: 'diff', page: 0, host: 1, interval: 4, vt: { 1: 4 }, diff: set(0, 1) }));
  assert.is(t.pendingDiffsOf(0).length, 0);
  publish(t, 0, { 1: 5, 2: 1 });
  assert.is(wordOf(t, 0, 0), 2);
  assert.is(t.page(0)!.version, 2);
});

test('collection applies the pending diffs another host has seen (so they were published), then drops what every host has seen', () => {
  const t = table();
  ok(t.apply({ op: 'diff', page: 0, host: 1, interval: 1, vt: { 1: 1 }, diff: set(0, 1) }));
  ok(t.apply({ op: 'diff', page: 0, host: 2, interval: 1, vt: { 2: 1 }, diff: set(1, 1) }));
  assert.equal(t.diffFloor(1, [1, 2]), {});
  ok(t.apply({ op: 'diff', page: 1, host: 2, interval: 2, vt: { 1: 1, 2: 2 }, diff: set(0, 1) }));
  // host 2 has seen host 1's interval 1, host 1 not host 2's; host 3 never reported
  assert.equal(t.diffFloor(1, [1, 2]), { 1: 1 });
  assert.equal(t.diffFloor(1, [1, 2, 3]), {});
  ok(t.apply({ op: 'collect-diffs', company: 1, floor: t.diffFloor(1, [1, 2]) }));
  // host 1's interval 1 was applied (host 2 saw it) and then dropped (everyone saw it); host 2's stay pending
  assert.is(wordOf(t, 0, 0), 1);
  assert.is(t.diffsOf(0).length, 0);
  assert.equal(t.pendingDiffsOf(0).map((d) => d.host), [2]);
  assert.equal(t.pendingDiffsOf(1).map((d) => d.host), [2]);
  ok(t.apply({ op: 'diff', page: 1, host: 1, interval: 2, vt: { 1: 2, 2: 2 }, diff: set(1, 1) }));
  ok(t.apply({ op: 'collect-diffs', company: 1, floor: t.diffFloor(1, [1, 2]) }));
  assert.is(t.pendingDiffsOf(0).length + t.diffsOf(0).length, 0);
  assert.is(t.diffsSince(0, 0), null);
  assert.is(wordOf(t, 0, 1), 1);
  // host 1's interval 2 was seen by nobody else: still pending
  assert.equal(t.pendingDiffsOf(1).map((d) => d.host), [1]);
});

test('diff rows are in the company hash and the snapshot; freeing the run drops them and keeps the intervals done with', () => {
  const a = table();
  const b = table();
  assert.is(a.hash(1), b.hash(1));
  ok(a.apply({ op: 'diff', page: 0, host: 1, interval: 1, vt: { 1: 1 }, diff: set(0, 1) }));
  assert.is.not(a.hash(1), b.hash(1));
  const r = PageTable.restore(a.snapshot(), { pageSize: PAGE });
  assert.is(r.hash(1), a.hash(1));
  assert.is(r.pendingDiffsOf(0).length, 1);
  publish(a, 0, { 1: 1 });
  ok(a.apply({ op: 'diff', page: 0, host: 2, interval: 3, vt: { 2: 3 }, diff: set(1, 1) }));
  ok(a.apply({ op: 'free', company: 1, firstPage: 0, by: 1, id: 'a' }));
  assert.is(a.diffsOf(0).length + a.pendingDiffsOf(0).length, 0);
  // A copy of the next allocation is told both intervals are done with; a late retry is not taken.
  assert.equal(a.appliedIntervals(0), { 1: 1, 2: 3 });
  ok(a.apply({ op: 'allocate', company: 1, id: 'b', pages: 2, owner: 1 }));
  ok(a.apply({ op: 'diff', page: 0, host: 2, interval: 3, vt: { 2: 3 }, diff: set(1, 1) }));
  assert.is(a.pendingDiffsOf(0).length, 0);
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
    [{ op: 'publish-diffs', page: -1, upTo: {} }, /'page'/],
    [{ op: 'publish-diffs', page: 0, upTo: { x: 1 } }, /'upTo'/],
    [{ op: 'diff', page: 0, host: 1, interval: 1, vt: {}, diff: '', record: 'r' }, /'record' must be \{ seq, published \}/],
    [{ op: 'diff', page: 0, host: 1, interval: 1, vt: {}, diff: '', record: { seq: 0, published: 'r' } }, /diff\.record: field 'seq'/],
    [{ op: 'diff', page: 0, host: 1, interval: 1, vt: {}, diff: '', record: { seq: 1, published: null } }, /diff\.record: field 'published'/],
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

test('a diff carrying its host\'s record commits the record in its company with it, of the interval\'s incarnation; a refused diff commits neither', () => {
  const t = table();
  const inc2 = 2 * 2 ** 32 + 5;
  const published = '{"vt":{"3":' + inc2 + '},"intervals":[]}';
  ok(t.apply({ op: 'diff', page: 0, host: 3, interval: inc2, vt: {}, diff: set(0, 1), record: { seq: 4, published } }));
  assert.equal(t.hostRecords(3).map((r) => [r.incarnation, r.company, r.seq, r.published]), [[2, 1, 4, published]]);
  // A retry (the same diff, the same record) changes nothing; an older record of the incarnation neither.
  ok(t.apply({ op: 'diff', page: 0, host: 3, interval: inc2, vt: {}, diff: set(0, 1), record: { seq: 4, published } }));
  ok(t.apply({ op: 'host-record', company: 1, host: 3, incarnation: 2, seq: 3, published: 'older' }));
  assert.equal(t.hostRecords(3).map((r) => r.seq), [4]);
  const r = t.apply({ op: 'diff', page: 5, host: 3, interval: inc2 + 1, vt: {}, diff: set(0, 2), record: { seq: 5, published: 'newer' } });
  assert.ok(!r.ok && r.error === 'not-allocated');
  assert.equal(t.hostRecords(3).map((x) => x.published), [published], 'the record goes only with its diff');
});

test.run();
