// The choice seam exploration drives: the scheduler lists pending events with
// their kind and owner and runs any of them; the network lists the messages
// in flight and loses or duplicates one; the state hash ignores the order of
// Maps and remembers frozen objects.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Hasher, StateTable } from '../../src/sim/explore/hash.js';
import { Network } from '../../src/sim/network.js';
import { streamFor } from '../../src/sim/rng.js';
import { Scheduler } from '../../src/sim/scheduler.js';

test('pending events come in time order with their kind, and owners pass to what an event schedules', () => {
  const s = new Scheduler();
  const log: string[] = [];
  s.at(30, () => log.push('timer'), 'timer', 7);
  s.withOwner(2, () => s.at(10, () => {
    log.push(`tick owned by ${s.owner}`);
    s.after(5, () => log.push(`inherited ${s.owner}`), 'disk');
  }, 'tick'));
  s.at(10, () => log.push('message'), 'message', 3);
  const pending = s.pendingEvents();
  assert.equal(pending.map((e) => [e.time, e.kind, e.owner]), [[10, 'tick', 2], [10, 'message', 3], [30, 'timer', 7]]);
  assert.ok(pending[0]!.seq < pending[1]!.seq, 'ties in insertion order');
  while (s.step());
  assert.equal(log, ['tick owned by 2', 'message', 'inherited 2', 'timer']);
  assert.is(s.owner, 0);
});

test('runEvent runs any pending event out of order, never moves the clock back, and the event is gone', () => {
  const s = new Scheduler();
  const log: string[] = [];
  s.at(10, () => log.push(`a@${s.now}`));
  const b = s.at(50, () => log.push(`b@${s.now}`));
  s.at(20, () => log.push(`c@${s.now}`));
  assert.ok(s.runEvent(b, 50));
  assert.is(s.runEvent(b, 50), false, 'not pending any more');
  s.cancel(b); // a no-op for an event that ran
  assert.equal(s.pendingEvents().map((e) => e.time), [10, 20]);
  const a = s.pendingEvents()[0]!;
  assert.ok(s.runEvent(a.id, a.time));
  assert.is(s.now, 50, 'a late event runs at now');
  const c = s.pendingEvents()[0]!;
  assert.ok(s.runEvent(c.id, c.time));
  assert.equal(log, ['b@50', 'a@50', 'c@50']);
  assert.is(s.pending(), 0);
});

test('a tracking network lists messages in flight, loses one, duplicates another', () => {
  const s = new Scheduler();
  const got: string[] = [];
  const drops: string[] = [];
  const net = new Network<string>(s, streamFor(1, 'net'), { latencyUs: { min: 10, mean: 10, max: 10 }, loss: 0, duplicate: 0, maxHosts: 3, trackInFlight: true },
    (from, to, m) => got.push(`${m} ${from}->${to}`));
  net.onDrop = (from, to, m, why) => drops.push(`${m} ${from}->${to} ${why}`);
  net.send(1, 2, 'x');
  net.send(1, 3, 'y');
  net.send(2, 3, 'z');
  const inFlight = net.inFlight();
  assert.equal(inFlight.map((m) => `${m.msg} ${m.from}->${m.to}`), ['x 1->2', 'y 1->3', 'z 2->3']);
  assert.equal(s.pendingEvents().map((e) => [e.kind, e.owner]), [['message', 2], ['message', 3], ['message', 3]], 'deliveries are owned by the receiver');
  assert.ok(net.loseInFlight(inFlight[0]!.event));
  assert.ok(net.duplicateInFlight(inFlight[1]!.event) !== null);
  assert.is(net.loseInFlight(inFlight[0]!.event), false, 'already lost');
  assert.equal(net.inFlight().map((m) => m.msg), ['y', 'z', 'y']);
  while (s.step());
  assert.equal(got, ['y 1->3', 'y 1->3', 'z 2->3']);
  assert.equal(drops, ['x 1->2 loss']);
  assert.equal(net.inFlight(), []);
  assert.is(net.stats.duplicated, 1);
});

test('a network that does not track keeps no messages', () => {
  const s = new Scheduler();
  const net = new Network<string>(s, streamFor(1, 'net'), { latencyUs: { min: 10, mean: 10, max: 10 }, loss: 0, duplicate: 0, maxHosts: 3 }, () => undefined);
  net.send(1, 2, 'x');
  assert.equal(net.inFlight(), []);
  assert.is(net.loseInFlight(s.pendingEvents()[0]!.id), false);
});

const lanes = (v: unknown): [number, number] => {
  const h = new Hasher();
  h.value(v);
  return h.lanes();
};

test('state hashes: Maps in any order hash alike; contents, nesting and multiplicity matter; functions and wiring are skipped', () => {
  const a = new Map([[1, 'x'], [2, 'y']]);
  const b = new Map([[2, 'y'], [1, 'x']]);
  assert.equal(lanes({ m: a }), lanes({ m: b }));
  assert.not.equal(lanes({ m: a }), lanes({ m: new Map([[1, 'x'], [2, 'z']]) }));
  assert.not.equal(lanes([1, [2, 3]]), lanes([[1, 2], 3]));
  assert.not.equal(lanes([1, 2]), lanes([2, 1]), 'arrays keep their order');
  assert.equal(lanes({ n: 1, f: () => 1 }), lanes({ n: 1, f: () => 2 }));
  assert.equal(lanes({ n: 1, env: { big: 1 } }), lanes({ n: 1, env: { big: 2 } }));
  assert.not.equal(lanes({ n: 1.5 }), lanes({ n: 1 }));
  const cyclic: { self?: unknown; n: number } = { n: 1 };
  cyclic.self = cyclic;
  lanes(cyclic); // terminates
  const h = new Hasher();
  h.unordered([1, 2, 2], (x) => h.word(x));
  const once = h.lanes();
  h.reset();
  h.unordered([2, 1, 2], (x) => h.word(x));
  assert.equal(h.lanes(), once);
  h.reset();
  h.unordered([1, 2], (x) => h.word(x));
  assert.not.equal(h.lanes(), once, 'a multiset: multiplicity counts');
});

test('a frozen object is hashed once: changing it afterwards does not change its hash', () => {
  const msg = { t: 'app', n: 1 };
  const h = new Hasher();
  h.frozen(msg);
  const first = h.lanes();
  msg.n = 2;
  h.reset();
  h.frozen(msg);
  assert.equal(h.lanes(), first);
  h.reset();
  h.value(msg);
  assert.not.equal(h.lanes(), first);
});

test('the state table keeps the shallowest depth and grows', () => {
  const t = new StateTable(2);
  assert.ok(t.visit(1, 2, 5));
  assert.is(t.visit(1, 2, 5), false, 'same depth: seen');
  assert.is(t.visit(1, 2, 7), false, 'deeper: seen');
  assert.ok(t.visit(1, 2, 3), 'shallower: explore again');
  for (let i = 0; i < 1000; i++) t.visit(i * 7919, i, 1);
  assert.is(t.size, 1001);
  assert.is(t.visit(1, 2, 3), false);
  assert.is(t.visit(7919 * 500, 500, 1), false);
});

test.run();
