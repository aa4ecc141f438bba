// Properties of the pure parts of lazy release consistency: diffs, vector time, write notices.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { applyDiff, decodeDiff, diffWords, encodeDiff, makeDiff } from '../../../src/vmm/release/diff.js';
import { vtCompare, vtLeq, vtMax, vtMin, vtSum, validateVectorTime, type VectorTime } from '../../../src/vmm/release/vector-time.js';
import { decodePublished, encodePublished, IntervalLog, type Interval } from '../../../src/vmm/release/notices.js';

const PAGE = 64;
const page = fc.uint8Array({ minLength: PAGE, maxLength: PAGE });
/** A page and an edit of some of its words (sparse, so runs and gaps both occur). */
const edited = fc.tuple(page, fc.array(fc.tuple(fc.nat(PAGE / 4 - 1), fc.nat(0xffffffff)), { maxLength: 20 })).map(([twin, edits]) => {
  const p = twin.slice();
  const v = new DataView(p.buffer);
  for (const [w, x] of edits) v.setUint32(w * 4, x, true);
  return { twin, page: p };
});

test('apply(twin, diff(twin, page)) == page, through the wire form too', () => {
  fc.assert(fc.property(edited, ({ twin, page: p }) => {
    const d = makeDiff(twin, p);
    const t = twin.slice();
    applyDiff(t, d);
    assert.equal(t, p);
    const back = decodeDiff(encodeDiff(d), PAGE);
    if ('error' in back) assert.unreachable(back.error);
    const t2 = twin.slice();
    applyDiff(t2, back as ReturnType<typeof makeDiff>);
    assert.equal(t2, p);
  }));
});

test('a diff holds only changed words, and a diff of a page with itself is empty', () => {
  fc.assert(fc.property(edited, ({ twin, page: p }) => {
    let changed = 0;
    for (let w = 0; w < PAGE / 4; w++) if (Buffer.compare(twin.subarray(w * 4, w * 4 + 4), p.subarray(w * 4, w * 4 + 4)) !== 0) changed++;
    assert.is(diffWords(makeDiff(twin, p)), changed);
    assert.is(makeDiff(p, p).length, 0);
  }));
});

test('diffs of disjoint words from one twin commute (false sharing loses nothing)', () => {
  fc.assert(fc.property(page, fc.array(fc.nat(0xffffffff), { minLength: PAGE / 4, maxLength: PAGE / 4 }), fc.array(fc.boolean(), { minLength: PAGE / 4, maxLength: PAGE / 4 }), (twin, values, mine) => {
    const a = twin.slice();
    const b = twin.slice();
    for (let w = 0; w < PAGE / 4; w++) new DataView((mine[w] ? a : b).buffer).setUint32(w * 4, values[w]!, true);
    const da = makeDiff(twin, a);
    const db = makeDiff(twin, b);
    const ab = twin.slice();
    applyDiff(ab, da);
    applyDiff(ab, db);
    const ba = twin.slice();
    applyDiff(ba, db);
    applyDiff(ba, da);
    assert.equal(ab, ba);
    for (let w = 0; w < PAGE / 4; w++) assert.is(new DataView(ab.buffer).getUint32(w * 4, true), values[w]);
  }));
});

test('decodeDiff refuses malformed diffs with a reason', () => {
  const enc = (u: number[]): string => Buffer.from(new Uint32Array(u).buffer).toString('base64');
  const bad: [unknown, RegExp][] = [
    [42, /base64 string/],
    ['a', /canonical/],
    [Buffer.from([1, 2, 3]).toString('base64'), /whole words/],
    [enc([0]), /no count/],
    [enc([0, 0]), /empty/],
    [enc([3, 1, 7, 2, 1, 9]), /ascend/],
    [enc([3, 1, 7, 4, 1, 9]), /ascend/],
    [enc([15, 2, 1, 2]), /past the page/],
    [enc([0, 3, 1]), /cut short/],
  ];
  for (const [text, why] of bad) {
    const r = decodeDiff(text, PAGE);
    assert.ok('error' in r, `accepted ${String(text)}`);
    assert.match((r as { error: string }).error, why);
  }
});

const vt = fc.dictionary(fc.integer({ min: 1, max: 5 }).map(String), fc.nat(20)).map((d) => {
  const out: Record<number, number> = {};
  for (const [k, v] of Object.entries(d)) if (v > 0) out[Number(k)] = v;
  return out as VectorTime;
});

test('vector time: max is the least upper bound, min the greatest lower bound', () => {
  fc.assert(fc.property(vt, vt, vt, (a, b, c) => {
    const m = vtMax(a, b);
    assert.ok(vtLeq(a, m) && vtLeq(b, m));
    if (vtLeq(a, c) && vtLeq(b, c)) assert.ok(vtLeq(m, c));
    const n = vtMin([a, b]);
    assert.ok(vtLeq(n, a) && vtLeq(n, b));
    if (vtLeq(c, a) && vtLeq(c, b)) assert.ok(vtLeq(c, n));
    assert.equal(vtMax(a, b), vtMax(b, a));
    const o = vtCompare(a, b);
    if (o === 'before') assert.ok(vtSum(a) < vtSum(b));
    assert.is(vtCompare(b, a), o === 'before' ? 'after' : o === 'after' ? 'before' : o);
  }));
});

test('vector time: validation', () => {
  assert.equal(validateVectorTime({ 1: 3, 2: 0 }, 'vt'), { 1: 3 });
  for (const bad of [null, [], 'x', { '-1': 2 }, { a: 1 }, { 1: -1 }, { 1: 1.5 }, { '01': 1 }]) assert.ok('error' in validateVectorTime(bad, 'vt'), JSON.stringify(bad));
});

/** Random histories of hosts exchanging published records: merge keeps happens-before. */
test('write notices: what an acquirer learns is closed under happens-before and comes in its order', () => {
  fc.assert(fc.property(fc.array(fc.tuple(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 4 }), fc.nat(7)), { maxLength: 40 }), (steps) => {
    const logs = new Map<number, IntervalLog>();
    const log = (h: number): IntervalLog => logs.get(h) ?? (logs.set(h, new IntervalLog()), logs.get(h)!);
    const seqs = new Map<number, number>();
    const all: Interval[] = [];
    for (const [writer, acquirer, p] of steps) {
      // writer ends an interval and releases; acquirer takes in what it published
      const seq = (seqs.get(writer) ?? 0) + 1;
      seqs.set(writer, seq);
      const w = log(writer);
      const iv: Interval = { host: writer, seq, vt: { ...w.vt, [writer]: seq }, notices: [p] };
      w.addOwn(iv);
      all.push(iv);
      const text = encodePublished(w.published(), 1 << 20);
      const decoded = decodePublished(text);
      if ('error' in decoded) assert.unreachable(decoded.error);
      const before = log(acquirer).vt;
      const fresh = acquirer === writer ? [] : log(acquirer).merge(decoded as ReturnType<typeof w.published>);
      // Everything the writer had seen, the acquirer has now seen.
      assert.ok(vtLeq(w.vt, log(acquirer).vt));
      // Fresh intervals are exactly the ones the acquirer had not seen, in an order consistent with happens-before.
      for (const f of fresh) assert.ok(f.seq > (before[f.host] ?? 0));
      for (let i = 0; i < fresh.length; i++) for (let j = i + 1; j < fresh.length; j++) assert.not.ok(vtLeq(fresh[j]!.vt, fresh[i]!.vt) && vtCompare(fresh[j]!.vt, fresh[i]!.vt) !== 'equal');
      for (const known of all) if (vtLeq(known.vt, w.vt)) assert.ok((log(acquirer).vt[known.host] ?? 0) >= known.seq);
    }
  }));
});

test('write notices: an oversize record says all, and bad records are refused with a reason', () => {
  const l = new IntervalLog();
  l.addOwn({ host: 1, seq: 1, vt: { 1: 1 }, notices: Array.from({ length: 100 }, (_, i) => i) });
  const p = decodePublished(encodePublished(l.published(), 200));
  assert.ok(!('error' in p) && p.all === true && p.intervals.length === 0);
  for (const [bad, why] of [
    ['{', /not JSON/],
    ['[]', /object/],
    ['{"vt":{},"intervals":{}}', /intervals must be an array/],
    ['{"vt":{},"intervals":[{"host":0,"seq":1,"vt":{},"notices":[]}]}', /host/],
    ['{"vt":{},"intervals":[{"host":1,"seq":1,"vt":{},"notices":[[1, 2]]}]}', /pages/],
    ['{"vt":{},"intervals":[{"host":1,"seq":1,"vt":{},"notices":[-1]}]}', /pages/],
    ['{"vt":{"x":1},"intervals":[]}', /vt/],
    ['{"vt":{},"intervals":[],"all":false}', /all/],
  ] as const) {
    const r = decodePublished(bad);
    assert.ok('error' in r, bad);
    assert.match((r as { error: string }).error, why);
  }
});

test('write notices: prune forgets what every host has seen, and merge still skips it', () => {
  const a = new IntervalLog();
  a.addOwn({ host: 1, seq: 1, vt: { 1: 1 }, notices: [5] });
  a.addOwn({ host: 1, seq: 2, vt: { 1: 2 }, notices: [5] });
  a.prune({ 1: 1 });
  assert.is(a.size, 1);
  const b = new IntervalLog();
  b.merge({ vt: { 1: 1 }, intervals: [] });
  assert.equal(b.merge(a.published()).map((i) => i.seq), [2]);
});

test.run();
