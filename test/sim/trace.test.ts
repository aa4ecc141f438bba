import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { formatTraceEvent, MAX_TRACE_FIELDS, TRACE_EVENTS } from '../../src/host/trace-events.js';
import type { RecordEvent, TraceEventSpec, TraceKind } from '../../src/host/trace-events.js';
import { FAULT_KINDS } from '../../src/sim/scenario.js';
import { Trace } from '../../src/sim/trace.js';
import { checkTraceLine } from './trace-lines.js';

const PINNED = '61bd141c6fb3c136';

/** An event as a test writes it: time, kind, host, then the kind's fields (numbers, then its note). */
type Ev = [number, TraceKind, number, ...(number | string)[]];

function events(n: number): Ev[] {
  const out: Ev[] = [];
  for (let i = 0; i < n; i++) {
    const t = i * 137;
    const host = 1 + (i % 5);
    switch (i % 4) {
      case 0: out.push([t, 'app', host, 1, 2, i, 3 * i, i - 1, i % 3, 100 - i]); break;
      case 1: out.push([t, 'leader', host, i % 2, i]); break;
      case 2: out.push([t, 'tick', host]); break;
      default: out.push([t, 'acquire', host, 2, i, 7, -1, i % 2 === 0 ? 'read' : 'write']);
    }
  }
  return out;
}

/** Calls a recorder with an event's fields, as their count varies (the types check real callers). */
function play(t: Trace, clock: { now: number }, evs: readonly Ev[]): void {
  const record = t.record as unknown as (kind: string, host: number, ...fields: (number | string)[]) => void;
  for (const [time, kind, host, ...fields] of evs) {
    clock.now = time;
    record(kind, host, ...fields);
  }
}

function traced(evs: readonly Ev[], opts: { window?: number; sink?: (l: string) => void } = {}): Trace {
  const clock = { now: 0 };
  const t = new Trace({ clock, ...opts });
  play(t, clock, evs);
  return t;
}

const hashOf = (evs: readonly Ev[]): string => traced(evs).hash();

test('same events give the same hash; the hash is 16 hex chars', () => {
  const h = hashOf(events(1000));
  assert.match(h, /^[0-9a-f]{16}$/);
  assert.is(hashOf(events(1000)), h);
  assert.is.not(new Trace({ clock: { now: 0 } }).hash(), h);
});

test('the hash is pinned (identical across processes and machines)', () => {
  // If this changes, recorded trace hashes of old runs no longer replay.
  assert.is(hashOf(events(100)), PINNED);
});

test('changing the time, kind, host, any field or the note changes the hash', () => {
  const base = events(48);
  const h = hashOf(base);
  const variants: Array<(e: Ev) => Ev> = [
    (e) => [e[0] + 1, e[1], e[2], ...e.slice(3)] as Ev,
    (e) => [e[0], e[1], e[2] + 1, ...e.slice(3)] as Ev,
    // Another kind with the same fields.
    (e) => [e[0], e[1] === 'app' ? 'appResp' : e[1] === 'leader' ? 'company-addNode' : e[1] === 'tick' ? 'pause' : 'release', e[2], ...e.slice(3)] as Ev,
  ];
  for (let j = 3; j < 3 + MAX_TRACE_FIELDS; j++) {
    variants.push((e) => {
      const c = e.slice() as Ev;
      if (j < c.length) c[j] = typeof c[j] === 'string' ? `${String(c[j])}x` : (c[j] as number) + 1;
      return c;
    });
  }
  const seen = new Set<string>([h]);
  // Events 0, 1, 2, 3 are one of each kind; 44..47 too.
  for (const v of variants) {
    for (const at of [0, 1, 2, 3, 44, 45, 46, 47]) {
      const evs = base.slice();
      evs[at] = v(evs[at]!);
      if (JSON.stringify(evs[at]) === JSON.stringify(base[at])) continue; // the kind has no field j
      const h2 = hashOf(evs);
      assert.is.not(h2, h, `variant of event ${at}: ${JSON.stringify(evs[at])}`);
      assert.not.ok(seen.has(h2), 'all variants distinct');
      seen.add(h2);
    }
  }
  assert.ok(seen.size > 40, `${seen.size} variants`);
  // Swapping two fields, or two events, or dropping one, changes it too.
  const swapped = base.slice();
  const e0 = base[0]!;
  swapped[0] = [e0[0], e0[1], e0[2], e0[4]!, e0[3]!, ...e0.slice(5)] as Ev;
  assert.is.not(hashOf(swapped), h);
  const reordered = base.slice();
  [reordered[3], reordered[4]] = [reordered[4]!, reordered[3]!];
  assert.is.not(hashOf(reordered), h);
  assert.is.not(hashOf(base.slice(0, 47)), h);
});

test('large, negative and non-integer numbers hash without loss, the escape word included', () => {
  const one = (v: number): string => hashOf([[0, 'leader', 1, 0, v]]);
  const values = [0, 1, -1, 2 ** 31 - 2, 2 ** 31 - 1, 2 ** 31, -(2 ** 31), -(2 ** 31) - 1, 2 ** 32, 2 ** 32 + 1, 2 ** 53 - 1, -(2 ** 53) + 1,
    0.1, 0.2, 0.5, NaN, Infinity, -Infinity];
  const hs = values.map(one);
  assert.is(new Set(hs).size, hs.length);
  assert.is(one(2 ** 40), one(2 ** 40));
  // Hosts share a word with the kind while they are small; beyond that, or negative, they are spelled out.
  const host = (h: number): string => hashOf([[0, 'tick', h]]);
  const hosts = [0, 1, 255, 256, 2 ** 23 - 1, 2 ** 23, 2 ** 23 + 1, -1, 0.5, 2 ** 40].map(host);
  assert.is(new Set(hosts).size, hosts.length);
  assert.is.not(hashOf([[0, 'tick', 2 ** 23]]), hashOf([[0, 'pause', 2 ** 23]]));
  // The escape word is not confused with the escape sequence that follows it.
  assert.is.not(hashOf([[0, 'leader', 1, 0x7fffffff, 0]]), hashOf([[0, 'leader', 1, 0x7fffffff, 1]]));
});

test('count and window keep the last N with their fields named, oldest first', () => {
  const clock = { now: 1 };
  const t = new Trace({ clock, window: 4 });
  assert.equal(t.last(), []);
  t.record('leader', 1, 0, 5);
  clock.now = 2;
  t.record('refuse', 2, 3, 17, 4, 0, 2, 'not-leader');
  assert.equal(t.last(), [
    { t: 1, host: 1, kind: 'leader', group: 0, term: 5 },
    { t: 2, host: 2, kind: 'refuse', from: 3, req: 17, page: 4, leader: 0, version: 2, why: 'not-leader' },
  ]);
  for (let i = 3; i <= 10; i++) {
    clock.now = i;
    t.record('kv-ok', 6, i, 10 * i);
  }
  assert.is(t.count, 10);
  assert.equal(t.last().map((e) => [e.t, e.seq, e.index]), [[7, 7, 70], [8, 8, 80], [9, 9, 90], [10, 10, 100]]);
  const d = traced(Array.from({ length: 100 }, (_, i): Ev => [i, 'tick', 0]));
  assert.is(d.last().length, 64);
  assert.equal(d.last()[0], { t: 36, host: 0, kind: 'tick' });
  const none = traced([[1, 'tick', 0]], { window: 0 });
  assert.equal(none.last(), []);
  assert.is(none.count, 1);
});

test('window size does not affect the hash', () => {
  const evs = events(300);
  assert.is(traced(evs, { window: 2 }).hash(), traced(evs, { window: 1000 }).hash());
  assert.is(traced(evs, { window: 0 }).hash(), traced(evs).hash());
});

test('the sink gets every event as a JSON line with named fields, the same objects last() reports', () => {
  const lines: string[] = [];
  const t = traced(events(12), { sink: (l) => lines.push(l) });
  assert.is(lines.length, 12);
  assert.equal(JSON.parse(lines[0]!), { t: 0, host: 1, kind: 'app', group: 1, from: 2, term: 0, index: 0, logTerm: -1, entries: 0, commit: 100 });
  assert.equal(Object.keys(JSON.parse(lines[3]!) as object), ['t', 'host', 'kind', 'from', 'req', 'page', 'have', 'mode']);
  assert.equal(lines.map((l) => JSON.parse(l) as unknown), t.last());
  for (const l of lines) {
    assert.not.ok(l.includes('\n'));
    assert.is(checkTraceLine(l), null, l);
  }
});

test('an unknown kind and a missing note are programming errors; a missing field shows in the line check', () => {
  const lines: string[] = [];
  const t = new Trace({ clock: { now: 0 }, sink: (l) => lines.push(l) });
  const loose = t.record as unknown as (kind: string, host: number, ...fields: unknown[]) => void;
  assert.throws(() => loose('apend', 1, 0), /unknown event kind "apend"/);
  assert.throws(() => loose('segfault', 1, 4), /segfault's why must be a string, got undefined/);
  assert.is(t.count, 0, 'a refused event is not recorded');
  loose('segfault', 1, 4, 'no lease');
  assert.equal(t.last(), [{ t: 0, host: 1, kind: 'segfault', page: 4, why: 'no lease' }]);
  // Fields are not checked one by one on the hot path (the types see to them); a caller that
  // slips past the types writes a line the vocabulary check rejects.
  loose('leader', 1, 0);
  assert.match(checkTraceLine(lines[1]!)!, 'term: expected a number, got null');
});

test('the vocabulary: few fields, distinct names that a line can carry, one kind per fault', () => {
  const kinds = Object.entries(TRACE_EVENTS as Record<string, TraceEventSpec>);
  for (const [kind, spec] of kinds) {
    assert.match(kind, /^[A-Za-z][\w:-]*$/, kind);
    assert.ok(spec.fields.length <= MAX_TRACE_FIELDS, kind);
    const names = [...spec.fields, ...(spec.note !== undefined ? [spec.note] : [])];
    assert.is(new Set(names).size, names.length, `${kind}: duplicate field names`);
    for (const n of names) {
      assert.match(n, /^[a-z][A-Za-z]*$/, `${kind}.${n}`);
      assert.ok(!['t', 'host', 'kind'].includes(n), `${kind}.${n} would hide the event's own key`);
    }
  }
  for (const f of FAULT_KINDS) assert.ok(`fault:${f}` in TRACE_EVENTS, `fault:${f} is not in the vocabulary`);
  // Two kinds never hash alike.
  const zeros = ([kind, spec]: [string, TraceEventSpec]): Ev => [0, kind as TraceKind, 1, ...spec.fields.map(() => 0), ...(spec.note !== undefined ? ['x'] : [])];
  const hs = kinds.map((k) => hashOf([zeros(k)]));
  assert.is(new Set(hs).size, kinds.length);
});

test('a readable line: seconds, host, kind, then name=value in the vocabulary order', () => {
  const lines: string[] = [];
  const clock = { now: 3_627_141 };
  const t = new Trace({ clock, sink: (l) => lines.push(l) });
  const record: RecordEvent = t.record;
  record('appResp', 2, 1, 3, 4, 17, 0, 0, 4);
  record('thread-failed', 4, 7, 'threw: bad "x"');
  assert.is(formatTraceEvent(t.last()[0]!), '3.627141s h2 appResp group=1 from=3 term=4 index=17 reject=0 hint=0 logTerm=4');
  assert.is(formatTraceEvent(JSON.parse(lines[1]!) as never), '3.627141s h4 thread-failed thread=7 why="threw: bad \\"x\\""');
});

test('the line checker catches unknown kinds, unknown, missing, misordered and mistyped fields', () => {
  const ok = '{"t":5,"host":2,"kind":"leader","group":0,"term":3}';
  assert.is(checkTraceLine(ok), null);
  assert.match(checkTraceLine('{"t":5,"host":2,"kind":"leeder","group":0,"term":3}')!, 'unknown kind "leeder"');
  assert.match(checkTraceLine('{"t":5,"host":2,"kind":"leader","group":0}')!, 'expected keys t,host,kind,group,term');
  assert.match(checkTraceLine('{"t":5,"host":2,"kind":"leader","term":3,"group":0}')!, 'expected keys');
  assert.match(checkTraceLine('{"t":5,"host":2,"kind":"leader","group":0,"term":3,"a":1}')!, 'expected keys');
  assert.match(checkTraceLine('{"t":5,"host":2,"kind":"leader","group":0,"term":"3"}')!, 'term: expected a number');
  assert.match(checkTraceLine('{"t":5,"host":2,"kind":"segfault","page":1,"why":2}')!, 'why: expected a string');
  assert.match(checkTraceLine('{"t":5,"kind":"tick"}')!, 'expected keys t,host,kind');
  assert.match(checkTraceLine('5us h2 leader 0 3')!, 'not JSON');
});

test.run();
