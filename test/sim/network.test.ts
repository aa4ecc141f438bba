import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Network, type NetworkConfig } from '../../src/sim/network.js';
import { Scheduler } from '../../src/sim/scheduler.js';
import { streamFor } from '../../src/sim/rng.js';

interface Got {
  from: number;
  to: number;
  msg: number;
  at: number;
  sentAt: number;
}

const BASE: NetworkConfig = { latencyUs: { min: 100, mean: 500, max: 2000 }, loss: 0, duplicate: 0 };

function setup(config: Partial<NetworkConfig> = {}, seed: number | string = 1) {
  const s = new Scheduler();
  const got: Got[] = [];
  const sentAt = new Map<number, number>();
  const net = new Network<number>(s, streamFor(seed, 'network'), { ...BASE, ...config }, (from, to, msg) => {
    got.push({ from, to, msg, at: s.now, sentAt: sentAt.get(msg) ?? -1 });
  });
  const send = (from: number, to: number, msg: number): void => {
    sentAt.set(msg, s.now);
    net.send(from, to, msg);
  };
  return { s, net, got, send };
}

test('delivers every message with latency within [min, max]', () => {
  const { s, net, got, send } = setup();
  for (let i = 0; i < 2000; i++) send(1 + (i % 3), 2 + (i % 4), i);
  s.runUntil(Infinity);
  assert.is(got.length, 2000);
  assert.equal(net.stats, { sent: 2000, delivered: 2000, dropped: 0, droppedLoss: 0, droppedPartition: 0, duplicated: 0 });
  let sum = 0;
  const lat = new Set<number>();
  for (const g of got) {
    const d = g.at - g.sentAt;
    assert.ok(d >= 100 && d <= 2000, `latency ${d}`);
    assert.ok(Number.isInteger(g.at));
    sum += d;
    lat.add(d);
  }
  const mean = sum / got.length;
  assert.ok(mean > 420 && mean < 560, `mean latency ${mean}`);
  assert.ok(lat.size > 100, 'latencies vary');
});

test('random latency reorders messages on one link', () => {
  const { s, got, send } = setup();
  for (let i = 0; i < 200; i++) send(1, 2, i);
  s.runUntil(Infinity);
  const order = got.map((g) => g.msg);
  assert.not.equal(order, [...order].sort((a, b) => a - b));
});

test('same seed gives the same deliveries; another seed differs', () => {
  const run = (seed: number): string => {
    const { s, got, send } = setup({ loss: 0.1, duplicate: 0.1, reorder: 0.2 }, seed);
    for (let i = 0; i < 300; i++) s.at(i * 10, () => send(1 + (i % 5), 1 + ((i * 7) % 5), i));
    s.runUntil(Infinity);
    return got.map((g) => `${g.msg}@${g.at}`).join(',');
  };
  assert.is(run(3), run(3));
  assert.is.not(run(3), run(4));
});

test('loss rate is roughly p', () => {
  const { s, net, got, send } = setup({ loss: 0.2 });
  const n = 20000;
  for (let i = 0; i < n; i++) send(1, 2, i);
  s.runUntil(Infinity);
  const lost = n - got.length;
  assert.ok(lost > 0.18 * n && lost < 0.22 * n, `lost ${lost} of ${n}`);
  assert.is(net.stats.droppedLoss, lost);
  assert.is(net.stats.dropped, lost);
});

test('duplicates: rate roughly p, each copy delivered', () => {
  const { s, net, got, send } = setup({ duplicate: 0.1 });
  const n = 10000;
  for (let i = 0; i < n; i++) send(1, 2, i);
  s.runUntil(Infinity);
  const d = net.stats.duplicated;
  assert.ok(d > 800 && d < 1200, `duplicated ${d}`);
  assert.is(got.length, n + d);
  assert.is(net.stats.delivered, n + d);
  const counts = new Map<number, number>();
  for (const g of got) counts.set(g.msg, (counts.get(g.msg) ?? 0) + 1);
  assert.is(counts.size, n);
  assert.is([...counts.values()].filter((c) => c === 2).length, d);
});

test('setLoss / setDuplicate change behaviour at run time', () => {
  const { s, net, got, send } = setup();
  for (let i = 0; i < 100; i++) send(1, 2, i);
  net.setLoss(1);
  for (let i = 100; i < 200; i++) send(1, 2, i);
  net.setLoss(0);
  net.setDuplicate(1);
  for (let i = 200; i < 300; i++) send(1, 2, i);
  s.runUntil(Infinity);
  assert.is(got.filter((g) => g.msg < 100).length, 100);
  assert.is(got.filter((g) => g.msg >= 100 && g.msg < 200).length, 0);
  assert.is(got.filter((g) => g.msg >= 200).length, 200);
  assert.throws(() => net.setLoss(1.5));
});

test('per-link overrides', () => {
  const { s, net, got, send } = setup();
  net.setLink(1, 2, { latencyUs: { min: 5000, mean: 5000, max: 5000 } });
  net.setLink(1, 3, { loss: 1 });
  send(1, 2, 1);
  send(2, 1, 2);
  send(1, 3, 3);
  send(3, 1, 4);
  s.runUntil(Infinity);
  const m1 = got.find((g) => g.msg === 1)!;
  assert.is(m1.at, 5000);
  assert.ok(got.find((g) => g.msg === 2)!.at <= 2000, 'reverse link uses the default');
  assert.not.ok(got.some((g) => g.msg === 3));
  assert.ok(got.some((g) => g.msg === 4));
  net.clearLink(1, 3);
  send(1, 3, 5);
  s.runUntil(Infinity);
  assert.ok(got.some((g) => g.msg === 5));
});

test('reorder adds extra delay beyond the base latency', () => {
  const { s, got, send } = setup({ latencyUs: { min: 100, mean: 100, max: 100 }, reorder: 0.5, reorderDelayUs: 10_000 });
  for (let i = 0; i < 1000; i++) send(1, 2, i);
  s.runUntil(Infinity);
  const late = got.filter((g) => g.at - g.sentAt > 100).length;
  assert.ok(late > 400 && late < 600, `late ${late}`);
  assert.ok(got.every((g) => g.at - g.sentAt >= 100 && g.at - g.sentAt <= 10_100));
});

test('two-way partition drops both ways; others unaffected; heal restores', () => {
  const { s, net, got, send } = setup();
  net.partition([1, 2], [3]);
  send(1, 3, 1);
  send(3, 1, 2);
  send(2, 3, 3);
  send(3, 2, 4);
  send(1, 2, 5);
  s.runUntil(Infinity);
  assert.equal(got.map((g) => g.msg), [5]);
  assert.is(net.stats.droppedPartition, 4);
  assert.is(net.blockedLinks(), 4);
  net.heal();
  assert.is(net.blockedLinks(), 0);
  send(1, 3, 6);
  send(3, 1, 7);
  s.runUntil(Infinity);
  assert.equal(got.map((g) => g.msg).sort(), [5, 6, 7]);
});

test('one-way block drops one way only', () => {
  const { s, net, got, send } = setup();
  net.block(1, 2);
  assert.ok(net.isBlocked(1, 2));
  assert.not.ok(net.isBlocked(2, 1));
  send(1, 2, 1);
  send(2, 1, 2);
  s.runUntil(Infinity);
  assert.equal(got.map((g) => g.msg), [2]);
  net.unblock(1, 2);
  send(1, 2, 3);
  s.runUntil(Infinity);
  assert.equal(got.map((g) => g.msg), [2, 3]);
});

test('isolate and partial', () => {
  const { s, net, got, send } = setup();
  const hosts = [1, 2, 3, 4];
  net.isolate(2, hosts);
  for (const a of hosts) for (const b of hosts) if (a !== b) send(a, b, a * 10 + b);
  s.runUntil(Infinity);
  const seen = new Set(got.map((g) => g.msg));
  for (const a of hosts)
    for (const b of hosts) if (a !== b) assert.is(seen.has(a * 10 + b), a !== 2 && b !== 2, `${a}->${b}`);
  net.heal();
  got.length = 0;
  // Host 1 sees 2 but not 3 and 4; 3 still hears from 1.
  net.partial([
    [1, 3],
    [1, 4],
    [4, 1],
  ]);
  for (const a of hosts) for (const b of hosts) if (a !== b) send(a, b, a * 10 + b);
  s.runUntil(Infinity);
  const seen2 = new Set(got.map((g) => g.msg));
  assert.not.ok(seen2.has(13));
  assert.not.ok(seen2.has(14));
  assert.not.ok(seen2.has(41));
  assert.ok(seen2.has(31));
  assert.ok(seen2.has(12));
  assert.is(seen2.size, 12 - 3);
});

test('in-flight messages are dropped when a partition appears, even if healed before arrival', () => {
  const { s, net, got, send } = setup({ latencyUs: { min: 1000, mean: 1000, max: 1000 } });
  send(1, 2, 1); // arrives at 1000
  send(2, 1, 2); // arrives at 1000
  send(1, 3, 3); // not partitioned
  s.at(500, () => net.partition([1], [2]));
  s.at(700, () => net.heal());
  s.at(800, () => send(1, 2, 4)); // sent after heal: delivered
  s.runUntil(Infinity);
  assert.equal(got.map((g) => g.msg).sort(), [3, 4]);
  assert.is(net.stats.droppedPartition, 2);
});

test('clog holds messages, unclog releases them in order with fresh latency', () => {
  const { s, net, got, send } = setup();
  net.clog(1, 2);
  assert.ok(net.isClogged(1, 2));
  for (let i = 0; i < 50; i++) s.at(i * 10, () => send(1, 2, i));
  s.at(100, () => send(2, 1, 1000)); // reverse direction unaffected
  s.runUntil(1_000_000);
  assert.equal(got.map((g) => g.msg), [1000]);
  assert.is(net.heldCount(1, 2), 50);
  net.unclog(1, 2);
  assert.is(net.heldCount(1, 2), 0);
  s.runUntil(Infinity);
  const released = got.filter((g) => g.from === 1);
  assert.equal(
    released.map((g) => g.msg),
    Array.from({ length: 50 }, (_, i) => i),
  );
  for (const g of released) assert.ok(g.at >= 1_000_100 && g.at <= 1_002_000, `released at ${g.at}`);
  // Not all at the same instant: fresh draws.
  assert.ok(new Set(released.map((g) => g.at)).size > 1);
  // After unclog the link works normally.
  send(1, 2, 77);
  s.runUntil(Infinity);
  assert.is(got[got.length - 1]!.msg, 77);
});

test('a partition drops messages held by a clog', () => {
  const { s, net, got, send } = setup();
  net.clog(1, 2);
  send(1, 2, 1);
  net.block(1, 2);
  net.unblock(1, 2);
  send(1, 2, 2);
  net.unclogAll();
  s.runUntil(Infinity);
  assert.equal(got.map((g) => g.msg), [2]);
  assert.is(net.stats.droppedPartition, 1);
});

test('onDrop observes drops; bad host ids throw', () => {
  const { net, send } = setup({ loss: 1 });
  const drops: string[] = [];
  net.onDrop = (from, to, msg, reason) => drops.push(`${from}>${to}:${msg}:${reason}`);
  send(1, 2, 9);
  net.setLoss(0);
  net.block(2, 1);
  send(2, 1, 8);
  assert.equal(drops, ['1>2:9:loss', '2>1:8:partition']);
  assert.throws(() => net.send(0, 65, 1));
  assert.throws(() => net.send(-1, 2, 1));
  assert.throws(() => net.send(1.5, 2, 1));
});

test.run();
