// The race detector and the DRF-SC read checker over recorded histories.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { checkRaces, describeRace, describeStaleRead, type HistoryEvent } from '../../../src/sim/check/races.js';

let at = 0;
const rd = (thread: number, addr: number, value: number, host = thread): HistoryEvent => ({ kind: 'read', host, thread, addr, value, at: ++at });
const wr = (thread: number, addr: number, value: number, host = thread): HistoryEvent => ({ kind: 'write', host, thread, addr, value, at: ++at });
const sync = (kind: 'acquire' | 'release' | 'arrive' | 'depart', thread: number, obj: string): HistoryEvent => ({ kind, host: thread, thread, obj, at: ++at });

test('lock-protected accesses from different threads do not race and read the last write', () => {
  const r = checkRaces([
    sync('acquire', 1, 'lock:1'), wr(1, 8, 5), sync('release', 1, 'lock:1'),
    sync('acquire', 2, 'lock:1'), rd(2, 8, 5), wr(2, 8, 6), sync('release', 2, 'lock:1'),
    sync('acquire', 1, 'lock:1'), rd(1, 8, 6), sync('release', 1, 'lock:1'),
  ]);
  assert.equal(r.races, []);
  assert.equal(r.staleReads, []);
  assert.is(r.reads, 2);
});

test('a planted race is reported with both accesses', () => {
  const r = checkRaces([
    sync('acquire', 1, 'lock:1'), wr(1, 8, 5), sync('release', 1, 'lock:1'),
    wr(2, 8, 7), // no lock
  ]);
  assert.is(r.races.length, 1);
  const race = r.races[0]!;
  assert.is(race.first.thread, 1);
  assert.is(race.second.thread, 2);
  assert.match(describeRace(race), /data race \(an application bug\) on address 8: write of 5 .* thread 1 on host 1 .* and write of 7 .* thread 2 on host 2/);
  // different locks order nothing
  const r2 = checkRaces([sync('acquire', 1, 'lock:1'), rd(1, 8, 0), sync('release', 1, 'lock:1'), sync('acquire', 2, 'lock:2'), wr(2, 8, 1), sync('release', 2, 'lock:2')]);
  assert.is(r2.races.length, 1);
  assert.is(r2.races[0]!.first.kind, 'read');
});

test('a read that misses the last write in happens-before order is a stale read', () => {
  const r = checkRaces([
    sync('acquire', 1, 'lock:1'), wr(1, 8, 5), sync('release', 1, 'lock:1'),
    sync('acquire', 2, 'lock:1'), rd(2, 8, 0), sync('release', 2, 'lock:1'),
  ]);
  assert.equal(r.races, []);
  assert.is(r.staleReads.length, 1);
  assert.equal(r.staleReads[0]!.allowed, [5]);
  assert.match(describeStaleRead(r.staleReads[0]!), /read of 0 at address 8 by thread 2 .* allows only 5: the last write before it \(write of 5/);
});

test('barriers order every arrival before every departure', () => {
  const ep = 'barrier:1:0';
  const ok = checkRaces([
    wr(1, 8, 1), wr(2, 12, 2), sync('arrive', 1, ep), sync('arrive', 2, ep), sync('depart', 2, ep), sync('depart', 1, ep),
    rd(1, 12, 2), rd(2, 8, 1),
  ]);
  assert.equal(ok.races, []);
  assert.equal(ok.staleReads, []);
  const next = checkRaces([wr(1, 8, 1), sync('arrive', 1, ep), sync('depart', 1, ep), rd(2, 8, 1)]);
  assert.is(next.races.length, 1);
});

test('a lost thread leaves indeterminate writes: either value may be read, and they race with nothing', () => {
  const base: HistoryEvent[] = [
    sync('acquire', 1, 'lock:1'), wr(1, 8, 5), sync('release', 1, 'lock:1'),
    sync('acquire', 2, 'lock:1'), wr(2, 8, 9), { kind: 'lost', thread: 2, at: ++at },
    sync('acquire', 3, 'lock:1'),
  ];
  for (const v of [5, 9]) assert.equal(checkRaces([...base, rd(3, 8, v)]).staleReads, [], `read ${v}`);
  assert.is(checkRaces([...base, rd(3, 8, 0)]).staleReads.length, 1);
  const after = checkRaces([...base, wr(3, 8, 1), sync('release', 3, 'lock:1'), sync('acquire', 1, 'lock:1'), rd(1, 8, 1)]);
  assert.equal(after.races, []);
  assert.equal(after.staleReads, []);
});

test('once a read returned an indeterminate write, a read after it may not return what came before (seed 946 of dsm-release-chaos)', () => {
  // Thread 2's section is cut off (its lease waited out); thread 3 reads its write, then hands the lock on.
  const base: HistoryEvent[] = [
    sync('acquire', 1, 'lock:1'), wr(1, 8, 5), sync('release', 1, 'lock:1'),
    sync('acquire', 2, 'lock:1'), wr(2, 8, 9), { kind: 'lost', thread: 2, at: ++at },
    sync('acquire', 3, 'lock:1'), rd(3, 8, 9), sync('release', 3, 'lock:1'),
    sync('acquire', 4, 'lock:1'),
  ];
  assert.equal(checkRaces([...base, rd(4, 8, 9)]).staleReads, []);
  const stale = checkRaces([...base, rd(4, 8, 5)]).staleReads;
  assert.is(stale.length, 1, 'thread 4 comes after thread 3 saw 9: a copy that still holds 5 missed it');
  assert.equal(stale[0]!.allowed, [9]);
  assert.is(stale[0]!.lastWrite!.value, 9);
  // Not ordered after thread 3's read: either value still.
  const apart: HistoryEvent[] = [
    sync('acquire', 1, 'lock:1'), wr(1, 8, 5), sync('release', 1, 'lock:1'),
    sync('acquire', 2, 'lock:1'), wr(2, 8, 9), { kind: 'lost', thread: 2, at: ++at },
    sync('acquire', 3, 'lock:1'), rd(3, 8, 9),
    sync('acquire', 4, 'lock:2'), sync('acquire', 4, 'lock:1'),
  ];
  assert.equal(checkRaces([...apart, rd(4, 8, 5)]).staleReads, []);
  // A write after the read that saw it: the indeterminate one cannot land over that write any more.
  const over = checkRaces([...base, wr(4, 8, 7), sync('release', 4, 'lock:1'), sync('acquire', 1, 'lock:1'), rd(1, 8, 9)]).staleReads;
  assert.is(over.length, 1);
});

test('a fresh malloc block promises nothing until written', () => {
  const r = checkRaces([{ kind: 'fresh', addr: 64, bytes: 8, at: ++at }, rd(1, 64, 1234), wr(1, 68, 1), rd(1, 68, 1)]);
  assert.equal(r.staleReads, []);
  assert.is(checkRaces([rd(1, 64, 1234)]).staleReads.length, 1); // outside a block: genesis zeros
});

/**
 * Random lock-based programs run on a sequentially consistent memory: never a finding. The same
 * runs with one read answered from an older write: a stale read, unless a later write hides it.
 */
test('property: sequentially consistent runs of lock-based programs are clean; a stale answer is caught', () => {
  const step = fc.record({ thread: fc.integer({ min: 1, max: 3 }), lock: fc.integer({ min: 0, max: 1 }), write: fc.boolean(), value: fc.nat(1000) });
  fc.assert(fc.property(fc.array(step, { minLength: 1, maxLength: 30 }), fc.nat(), (steps, pick) => {
    const mem = new Map<number, number>();
    const history: HistoryEvent[] = [];
    const reads: number[] = [];
    const oldValues: number[] = [];
    for (const s of steps) {
      const addr = 4 * s.lock; // each word under its own lock
      history.push(sync('acquire', s.thread, `lock:${s.lock}`));
      if (s.write) {
        oldValues.push(mem.get(addr) ?? 0);
        mem.set(addr, s.value);
        history.push(wr(s.thread, addr, s.value));
      } else {
        reads.push(history.length);
        history.push(rd(s.thread, addr, mem.get(addr) ?? 0));
      }
      history.push(sync('release', s.thread, `lock:${s.lock}`));
    }
    const clean = checkRaces(history);
    assert.equal(clean.races, []);
    assert.equal(clean.staleReads, []);
    if (reads.length === 0) return;
    const i = reads[pick % reads.length]!;
    const e = history[i] as HistoryEvent & { kind: "read"; value: number };
    const wrong = [...history];
    wrong[i] = { ...e, value: e.value + 1 };
    assert.is(checkRaces(wrong).staleReads.length, 1);
  }));
});

test.run();
