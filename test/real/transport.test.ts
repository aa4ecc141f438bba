// Transports on 127.0.0.1 talking to each other, to strangers and to garbage.
// Every test stops what it started (in finally) and every wait is bounded, so
// a failure reports instead of hanging.
import { spawn } from 'node:child_process';
import { connect, createServer, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Message } from '../../src/raft/types.js';
import { encodeEnvelope } from '../../src/real/envelope-codec.js';
import { encodeFrame } from '../../src/real/frame.js';
import { Transport, type PeerAddress, type TransportOptions } from '../../src/real/transport.js';
import type { Envelope } from '../../src/vmm/wire.js';

// A stuck test fails the file instead of hanging the run.
setTimeout(() => {
  console.error('transport.test: watchdog fired after 30 s');
  process.exit(1);
}, 30_000).unref();

const HOST = '127.0.0.1';
const CLUSTER = 'test-cluster';

function raft(from: number, to: number, term: number): Envelope {
  const msg: Message = {
    type: 'heartbeat', from, to, term, logTerm: 0, index: 0, entries: [], commit: 0, reject: false, rejectHint: 0, snapshot: null, transfer: false,
  };
  return { kind: 'raft', group: 1, msg };
}

function vmm(req: number): Envelope {
  return { kind: 'vmm', msg: { t: 'acquire', req, page: 3, mode: 'write', have: -1 } };
}

/** A port free right now (bound by the kernel, then released), for hosts that must know each other's ports up front. */
async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, HOST, resolve));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

async function waitFor(what: string, cond: () => boolean, ms = 4000): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function sleep(ms: number): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}

interface Node {
  t: Transport;
  got: [number, Envelope][];
  events: string[];
}

function node(self: number, port: number, peers: Map<number, PeerAddress>, extra: Partial<TransportOptions> = {}): Node {
  const got: [number, Envelope][] = [];
  const events: string[] = [];
  const t = new Transport({
    self, clusterId: CLUSTER, peers, listen: { host: HOST, port }, backoff: { minMs: 10, maxMs: 50 },
    onMessage: (from, env) => got.push([from, env]),
    log: (event) => events.push(event),
    ...extra,
  });
  return { t, got, events };
}

async function cluster(ids: number[], extra: Partial<TransportOptions> = {}): Promise<{ nodes: Map<number, Node>; peers: Map<number, PeerAddress> }> {
  const peers = new Map<number, PeerAddress>();
  for (const id of ids) peers.set(id, { host: HOST, port: await freePort() });
  const nodes = new Map<number, Node>();
  for (const id of ids) nodes.set(id, node(id, (peers.get(id) as PeerAddress).port, peers, extra));
  return { nodes, peers };
}

async function stopAll(nodes: Iterable<Node>): Promise<void> {
  await Promise.all([...nodes].map((n) => n.t.stop()));
}

/** A raw client, to send bytes no Transport would. */
async function raw(port: number): Promise<Socket> {
  const s = connect({ host: HOST, port });
  s.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    s.once('connect', resolve);
    s.once('error', reject);
  });
  return s;
}

test('two transports exchange Raft and VMM envelopes both ways', async () => {
  const { nodes } = await cluster([1, 2]);
  const a = nodes.get(1) as Node;
  const b = nodes.get(2) as Node;
  try {
    await Promise.all([a.t.start(), b.t.start()]);
    a.t.send(2, raft(1, 2, 5));
    a.t.send(2, vmm(7));
    b.t.send(1, vmm(8));
    b.t.send(1, raft(2, 1, 6));
    await waitFor('both sides to receive two envelopes', () => a.got.length === 2 && b.got.length === 2);
    // A VMM frame goes ahead of the Raft frames queued before it (a thread waits on it).
    assert.equal(b.got, [[1, vmm(7)], [1, raft(1, 2, 5)]]);
    assert.equal(a.got, [[2, vmm(8)], [2, raft(2, 1, 6)]]);
    await waitFor('connections both ways', () => a.t.stats().connectedPeers.length === 1 && b.t.stats().connectedPeers.length === 1);
    const sa = a.t.stats();
    assert.is(sa.sent, 2);
    assert.is(sa.received, 2);
    assert.equal(sa.connectedPeers, [2]);
    assert.is(sa.queued, 0);
    assert.equal(Object.values(sa.dropped), [0, 0, 0, 0, 0, 0, 0]);
  } finally {
    await stopAll(nodes.values());
  }
});

test('in one turn, VMM frames overtake the Raft frames to the same peer and keep their own order', async () => {
  const { nodes } = await cluster([1, 2]);
  const a = nodes.get(1) as Node;
  const b = nodes.get(2) as Node;
  try {
    await Promise.all([a.t.start(), b.t.start()]);
    a.t.send(2, vmm(1));
    await waitFor('the connection', () => b.got.length === 1);
    a.t.send(2, raft(1, 2, 5));
    a.t.send(2, vmm(2));
    a.t.send(2, raft(1, 2, 6));
    a.t.send(2, vmm(3));
    await waitFor('five envelopes', () => b.got.length === 5);
    assert.equal(b.got.slice(1).map(([, e]) => (e.kind === 'vmm' ? `vmm ${(e.msg as { req: number }).req}` : `raft ${e.msg.term}`)), ['vmm 2', 'vmm 3', 'raft 5', 'raft 6']);
    assert.is(a.t.stats().writes, 2, 'one write per turn');
  } finally {
    await stopAll(nodes.values());
  }
});

test('three transports: everyone reaches everyone, and messages to self arrive asynchronously', async () => {
  const { nodes } = await cluster([1, 2, 3]);
  try {
    await Promise.all([...nodes.values()].map((n) => n.t.start()));
    for (const [from, n] of nodes) {
      for (const to of nodes.keys()) n.t.send(to, to % 2 === 0 ? raft(from, to, from) : vmm(from * 10 + to));
    }
    // Self deliveries wait for a microtask: none may have happened inside send().
    for (const n of nodes.values()) assert.is(n.got.length, 0);
    await Promise.resolve();
    await waitFor('every host to hear from all three', () => [...nodes.values()].every((n) => n.got.length === 3));
    for (const [to, n] of nodes) {
      const byFrom = [...n.got].sort((x, y) => x[0] - y[0]);
      assert.equal(byFrom.map(([f]) => f), [1, 2, 3]);
      for (const [from, env] of byFrom) assert.equal(env, to % 2 === 0 ? raft(from, to, from) : vmm(from * 10 + to));
      const s = n.t.stats();
      assert.is(s.local, 1);
      assert.is(s.received, 2);
    }
  } finally {
    await stopAll(nodes.values());
  }
});

test('after the receiver restarts, the sender reconnects and delivers what it queued, up to the bound', async () => {
  const { nodes, peers } = await cluster([1, 2], { maxQueue: 5 });
  const a = nodes.get(1) as Node;
  let b = nodes.get(2) as Node;
  try {
    await Promise.all([a.t.start(), b.t.start()]);
    a.t.send(2, vmm(0));
    await waitFor('first delivery', () => b.got.length === 1);
    await b.t.stop();
    await waitFor('the sender to notice the loss', () => a.t.stats().connectedPeers.length === 0);
    for (let i = 1; i <= 8; i++) a.t.send(2, vmm(i));
    let s = a.t.stats();
    assert.is(s.queued, 5);
    assert.is(s.dropped['queue-full'], 3);
    // Let a few redials fail against the closed port before the host comes back.
    await sleep(60);
    b = node(2, (peers.get(2) as PeerAddress).port, peers);
    nodes.set(2, b);
    await b.t.start();
    await waitFor('queued messages after reconnect', () => b.got.length === 5);
    // The oldest were dropped; the rest arrive in order.
    assert.equal(b.got.map(([f, e]) => [f, e.kind === 'vmm' && e.msg.t === 'acquire' ? e.msg.req : -1]), [[1, 4], [1, 5], [1, 6], [1, 7], [1, 8]]);
    s = a.t.stats();
    assert.is(s.reconnects, 1);
    assert.is(s.queued, 0);
    assert.equal(s.connectedPeers, [2]);
    assert.ok(a.events.includes('connect-error'), 'redials against the closed port were attempted');
  } finally {
    await stopAll(nodes.values());
  }
});

test('frames from another cluster or an unknown host are dropped and counted; the host keeps working', async () => {
  const { nodes, peers } = await cluster([1, 2]);
  const a = nodes.get(1) as Node;
  const b = nodes.get(2) as Node;
  const aOnly = new Map([[1, peers.get(1) as PeerAddress]]);
  const other = node(2, await freePort(), aOnly, { clusterId: 'other-cluster' });
  const stranger = node(9, await freePort(), aOnly);
  const all = [a, b, other, stranger];
  try {
    await Promise.all(all.map((n) => n.t.start()));
    other.t.send(1, vmm(1));
    other.t.send(1, vmm(2));
    stranger.t.send(1, vmm(3));
    await waitFor('drops to be counted', () => a.t.stats().dropped['wrong-cluster'] === 2 && a.t.stats().dropped['unknown-sender'] === 1);
    b.t.send(1, vmm(4));
    await waitFor('a good message after the bad ones', () => a.got.length === 1);
    assert.equal(a.got, [[2, vmm(4)]]);
    const s = a.t.stats();
    assert.is(s.received, 1);
    assert.is(s.dropped.malformed, 0);
  } finally {
    await stopAll(all);
  }
});

test('malformed frames are dropped and counted without closing the connection; an oversized one closes it', async () => {
  const { nodes, peers } = await cluster([1, 2], { maxFrameBytes: 4096 });
  const a = nodes.get(1) as Node;
  const port = (peers.get(1) as PeerAddress).port;
  const sockets: Socket[] = [];
  try {
    await a.t.start();
    const s = await raw(port);
    sockets.push(s);
    const frame = (env: Envelope): Buffer => encodeFrame({ clusterId: CLUSTER, from: 2 }, encodeEnvelope(env));
    const badMagic = frame(vmm(1));
    badMagic[4] = 0;
    const truncated = frame(vmm(1)).subarray(0, -1);
    truncated.writeUInt32BE(truncated.length - 4, 0); // a frame, whose envelope lacks its last byte
    const badEnvelope = frame({ kind: 'vmm', msg: { t: 'acquire', req: 1, page: -3, mode: 'read', have: 0 } });
    const good = frame(vmm(5));
    s.write(Buffer.concat([badMagic, truncated, badEnvelope, Buffer.from([0, 0, 0, 0]), good]));
    await waitFor('the good frame behind the bad ones', () => a.got.length === 1);
    assert.equal(a.got, [[2, vmm(5)]]);
    assert.is(a.t.stats().dropped.malformed, 4);
    assert.ok(!s.destroyed, 'malformed frames keep the connection');

    const s2 = await raw(port);
    sockets.push(s2);
    const closed = new Promise<void>((resolve) => s2.once('close', () => resolve()));
    const huge = Buffer.alloc(4);
    huge.writeUInt32BE(4097);
    s2.write(huge);
    await closed;
    assert.is(a.t.stats().dropped.oversized, 1);
    // And the host still serves the first connection.
    s.write(frame(vmm(6)));
    await waitFor('delivery after the oversized frame', () => a.got.length === 2);
  } finally {
    for (const s of sockets) s.destroy();
    await stopAll(nodes.values());
  }
});

test('send never throws: full queues, unknown peers, oversized and unencodable envelopes are dropped and counted', async () => {
  const deadPort = await freePort(); // nobody listens here
  const peers = new Map([[2, { host: HOST, port: deadPort }]]);
  const a = node(1, 0, peers, { maxQueue: 3, maxFrameBytes: 200 });
  try {
    await a.t.start();
    const at = a.t.address();
    assert.ok(at !== null && at.port > 0, 'port 0 binds an ephemeral port');
    for (let i = 0; i < 10; i++) a.t.send(2, vmm(i));
    a.t.send(42, vmm(0));
    a.t.send(2, { kind: 'vmm', msg: { t: 'grant', req: 1, page: 3, mode: 'read', version: 1, data: 'A'.repeat(300), leaseUs: 1, index: 1, lease: { term: 1, grantedAtUs: 0 } } });
    const cyclic = { kind: 'vmm', msg: {} } as unknown as { kind: 'vmm'; msg: { self?: unknown } };
    cyclic.msg.self = cyclic;
    a.t.send(2, cyclic as unknown as Envelope);
    const s = a.t.stats();
    assert.equal(s.dropped, { 'queue-full': 7, oversized: 1, malformed: 1, 'unknown-sender': 0, 'wrong-cluster': 0, 'unknown-peer': 1, 'forged-sender': 0 });
    assert.is(s.queued, 3);
    assert.is(s.sent, 0);
    await waitFor('a failed dial', () => a.events.includes('connect-error'));
  } finally {
    await a.t.stop();
  }
  assert.is(a.t.address(), null);
});

test('a throwing handler is counted, not fatal; nothing is delivered after stop', async () => {
  const { nodes } = await cluster([1, 2]);
  const a = nodes.get(1) as Node;
  const b = nodes.get(2) as Node;
  let calls = 0;
  const thrower = node(1, 0, new Map(), { onMessage: () => { calls++; throw new Error('handler bug'); } });
  try {
    await thrower.t.start();
    thrower.t.send(1, vmm(1));
    await waitFor('the handler to run', () => calls === 1);
    assert.is(thrower.t.stats().handlerErrors, 1);

    await Promise.all([a.t.start(), b.t.start()]);
    a.t.send(1, vmm(2)); // to self, pending in a microtask
    await a.t.stop();
    await Promise.resolve();
    assert.is(a.got.length, 0);
    a.t.send(2, vmm(3));
    await sleep(30);
    assert.is(b.got.length, 0);
    assert.is(a.t.stats().sent, 0);
  } finally {
    await Promise.all([thrower.t.stop(), ...[...nodes.values()].map((n) => n.t.stop())]);
  }
});

test('start rejects when the port is taken, and the failed transport holds nothing open', async () => {
  const { nodes, peers } = await cluster([1]);
  const a = nodes.get(1) as Node;
  const clash = node(2, (peers.get(1) as PeerAddress).port, new Map());
  try {
    await a.t.start();
    let error = '';
    await clash.t.start().catch((e: Error) => (error = e.message));
    assert.match(error, /EADDRINUSE/);
    await clash.t.stop();
  } finally {
    await a.t.stop();
  }
});

test('after stop, nothing keeps the process alive', async () => {
  // In a child, so an open handle shows as a child that never exits instead of a test run that hangs.
  const transportUrl = new URL('../../src/real/transport.js', import.meta.url).href;
  const script = `
    import { Transport } from ${JSON.stringify(transportUrl)};
    const peers = new Map([[1, { host: '127.0.0.1', port: 0 }], [2, { host: '127.0.0.1', port: 0 }]]);
    const got = [];
    const mk = (self) => new Transport({ self, clusterId: 'c', peers, listen: { host: '127.0.0.1', port: 0 }, onMessage: (f, e) => got.push(e) });
    const a = mk(1), b = mk(2);
    await a.start(); await b.start();
    peers.set(2, b.address());
    const c = new Transport({ self: 1, clusterId: 'c', peers, listen: { host: '127.0.0.1', port: 0 }, backoff: { minMs: 5, maxMs: 10 }, onMessage: () => {} });
    await c.start();
    c.send(2, { kind: 'vmm', msg: { t: 'free-ok', req: 1, addr: 2 } });
    const until = Date.now() + 3000;
    while (got.length === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 5));
    await Promise.all([a.stop(), b.stop(), c.stop()]);
    console.log('delivered', got.length);
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { cwd: fileURLToPath(new URL('.', import.meta.url)) });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const killer = setTimeout(() => child.kill('SIGKILL'), 6000);
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.on('close', (c, s) => resolve([c, s])));
  clearTimeout(killer);
  assert.is(signal, null, `child did not exit by itself: ${out}`);
  assert.is(code, 0, out);
  assert.match(out, /delivered 1/);
});

test.run();
