// Transports with mutual TLS, in one process: who may talk to a host, who a
// host will talk to, and the limits on what a connection may hold. Each test
// plays the outsider with raw sockets, so it can do what no Transport would.
import { connect as connectTcp, createServer as createTcpServer, type Socket } from 'node:net';
import { connect as connectTls, createServer as createTlsServer } from 'node:tls';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createAuthority, issueHostCertificate, type PemPair } from '../../src/real/certs.js';
import { encodeEnvelope } from '../../src/real/envelope-codec.js';
import { encodeFrame } from '../../src/real/frame.js';
import type { TlsMaterial } from '../../src/real/tls.js';
import { Transport, type PeerAddress, type TransportLimits, type TransportSecurity } from '../../src/real/transport.js';
import type { Envelope } from '../../src/vmm/wire.js';

setTimeout(() => {
  console.error('tls-transport.test: watchdog fired after 60 s');
  process.exit(1);
}, 60_000).unref();

const HOST = '127.0.0.1';
const CLUSTER = 'tls-test';

const vmm = (req: number): Envelope => ({ kind: 'vmm', msg: { t: 'acquire', req, page: 3, mode: 'write', have: -1 } });

interface Authority {
  ca: PemPair;
  host(id: number): Promise<TlsMaterial>;
}

async function authority(clusterId: string): Promise<Authority> {
  const ca = await createAuthority(clusterId);
  return {
    ca,
    host: async (id) => {
      const p = await issueHostCertificate(ca, clusterId, id, [HOST]);
      return { ca: Buffer.from(ca.cert), cert: Buffer.from(p.cert), key: Buffer.from(p.key) };
    },
  };
}

const ours = await authority(CLUSTER);
/** Another cluster's authority, issuing for the same cluster id and host ids: only the signature tells them apart. */
const theirs = await authority(CLUSTER);

async function freePort(): Promise<number> {
  const s = createTcpServer();
  await new Promise<void>((resolve) => s.listen(0, HOST, resolve));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

async function waitFor(what: string, cond: () => boolean, ms = 10_000): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Node {
  t: Transport;
  got: [number, Envelope][];
  port: number;
}

async function node(self: number, peers: Map<number, PeerAddress>, security: TransportSecurity, limits: Partial<TransportLimits> = {}): Promise<Node> {
  const got: [number, Envelope][] = [];
  const port = peers.get(self)?.port ?? await freePort();
  const t = new Transport({
    self, clusterId: CLUSTER, peers, listen: { host: HOST, port }, backoff: { minMs: 10, maxMs: 50 }, security, limits,
    onMessage: (from, env) => got.push([from, env]),
  });
  await t.start();
  return { t, got, port };
}

/** A TLS client with `material` (trusting `trust`), that writes `frames` once connected; resolves when the socket closes or after 1 s. */
function tlsClient(port: number, material: Partial<TlsMaterial>, trust: string, frames: Buffer[]): Promise<{ secured: boolean }> {
  return new Promise((resolve) => {
    let secured = false;
    const s = connectTls({ host: HOST, port, ...material, ca: trust, checkServerIdentity: () => undefined }, () => {
      secured = true;
      for (const f of frames) s.write(f);
    });
    s.on('error', () => {});
    const t = setTimeout(() => s.destroy(), 1000);
    s.on('close', () => {
      clearTimeout(t);
      resolve({ secured });
    });
  });
}

async function rawClient(port: number): Promise<Socket> {
  const s = connectTcp({ host: HOST, port });
  s.on('error', () => {});
  await new Promise<void>((resolve, reject) => s.once('connect', resolve).once('error', reject));
  return s;
}

const closed = (s: Socket): Promise<void> => new Promise((resolve) => (s.destroyed ? resolve() : s.once('close', () => resolve())));

test('two TLS transports exchange envelopes; each receives the sender its certificate names', async () => {
  const peers = new Map([[1, { host: HOST, port: await freePort() }], [2, { host: HOST, port: await freePort() }]]);
  const a = await node(1, peers, { kind: 'tls', material: await ours.host(1) });
  const b = await node(2, peers, { kind: 'tls', material: await ours.host(2) });
  try {
    a.t.send(2, vmm(1));
    b.t.send(1, vmm(2));
    await waitFor('one envelope each way', () => a.got.length === 1 && b.got.length === 1);
    assert.equal(b.got, [[1, vmm(1)]]);
    assert.equal(a.got, [[2, vmm(2)]]);
    assert.is(a.t.stats().security, 'tls');
    assert.equal(Object.values(a.t.stats().refused).reduce((x, y) => x + y, 0), 0);
  } finally {
    await Promise.all([a.t.stop(), b.t.stop()]);
  }
});

test('no certificate, another authority\'s certificate, plain TCP, or one naming no host of ours: refused, nothing delivered', async () => {
  const peers = new Map([[1, { host: HOST, port: await freePort() }], [2, { host: HOST, port: 1 }]]);
  const a = await node(1, peers, { kind: 'tls', material: await ours.host(1) });
  const frame = encodeFrame({ clusterId: CLUSTER, from: 2 }, encodeEnvelope(vmm(9)));
  try {
    assert.equal(await tlsClient(a.port, {}, ours.ca.cert, [frame]), { secured: true }); // TLS 1.3: the client finishes first, then is refused
    await tlsClient(a.port, await theirs.host(2), ours.ca.cert, [frame]);
    const plain = await rawClient(a.port);
    plain.write(frame);
    await closed(plain);
    await waitFor('three unauthenticated refusals', () => a.t.stats().refused.unauthenticated === 3);
    // Signed by our authority, but for host 9, which this cluster does not have.
    await tlsClient(a.port, await ours.host(9), ours.ca.cert, [frame]);
    await waitFor('an unknown-identity refusal', () => a.t.stats().refused['unknown-identity'] === 1);
    assert.equal(a.got, []);
    assert.is(a.t.stats().received, 0);
    assert.is(a.t.stats().inbound.connections, 0);
  } finally {
    await a.t.stop();
  }
});

test('an authenticated peer\'s frame naming another sender is dropped as forged; its own frames arrive', async () => {
  const peers = new Map([[1, { host: HOST, port: await freePort() }], [2, { host: HOST, port: 1 }], [3, { host: HOST, port: 1 }]]);
  const a = await node(1, peers, { kind: 'tls', material: await ours.host(1) });
  try {
    const forged = encodeFrame({ clusterId: CLUSTER, from: 3 }, encodeEnvelope(vmm(1)));
    const own = encodeFrame({ clusterId: CLUSTER, from: 2 }, encodeEnvelope(vmm(2)));
    await tlsClient(a.port, await ours.host(2), ours.ca.cert, [forged, own]);
    await waitFor('the forged frame dropped and the own one delivered', () => a.t.stats().dropped['forged-sender'] === 1 && a.got.length === 1);
    assert.equal(a.got, [[2, vmm(2)]]);
  } finally {
    await a.t.stop();
  }
});

test('a process on a peer\'s address without that peer\'s key gets no frame, whatever certificate it shows', async () => {
  for (const squatterCert of [await theirs.host(2), await ours.host(3)]) {
    const port = await freePort();
    let secured = 0;
    let bytes = 0;
    const squatter = createTlsServer({ ...squatterCert, requestCert: true, rejectUnauthorized: false }, (s) => {
      secured++;
      s.on('data', (d: Buffer) => (bytes += d.length));
      s.on('error', () => {});
    });
    squatter.on('tlsClientError', () => {});
    await new Promise<void>((resolve) => squatter.listen(port, HOST, resolve));
    const peers = new Map([[1, { host: HOST, port: await freePort() }], [2, { host: HOST, port }]]);
    const a = await node(1, peers, { kind: 'tls', material: await ours.host(1) });
    try {
      for (let i = 0; i < 5; i++) a.t.send(2, vmm(i));
      await waitFor('the dial refused', () => a.t.stats().refused['peer-unauthenticated'] >= 2);
      await sleep(100);
      assert.is(a.t.stats().sent, 0);
      assert.equal(a.t.stats().connectedPeers, []);
      assert.is(bytes, 0, 'the squatter read no application data');
      assert.ok(secured <= 1, 'at most a handshake the client then abandoned');
    } finally {
      await a.t.stop();
      await new Promise<void>((resolve) => squatter.close(() => resolve()));
    }
  }
});

test('connections past the per-source limit are refused and counted; closing them frees their places', async () => {
  const peers = new Map([[1, { host: HOST, port: await freePort() }]]);
  const a = await node(1, peers, { kind: 'plain' }, { connectionsPerSource: 3 });
  try {
    const socks = await Promise.all(Array.from({ length: 10 }, () => rawClient(a.port)));
    await waitFor('seven refusals', () => a.t.stats().refused['too-many-connections'] === 7);
    assert.is(a.t.stats().inbound.connections, 3);
    for (const s of socks) s.destroy();
    await waitFor('no inbound connection left', () => a.t.stats().inbound.connections === 0);
    const again = await rawClient(a.port);
    await sleep(50);
    assert.is(a.t.stats().inbound.connections, 1);
    again.destroy();
  } finally {
    await a.t.stop();
  }
});

test('a TLS handshake that never comes is cut at its deadline', async () => {
  const peers = new Map([[1, { host: HOST, port: await freePort() }]]);
  const a = await node(1, peers, { kind: 'tls', material: await ours.host(1) }, { handshakeMs: 200 });
  try {
    const s = await rawClient(a.port);
    await closed(s);
    assert.is(a.t.stats().refused['handshake-timeout'], 1);
  } finally {
    await a.t.stop();
  }
});

test('a partial frame holds only the bytes that came, and is cut at its deadline', async () => {
  const peers = new Map([[1, { host: HOST, port: await freePort() }]]);
  const a = await node(1, peers, { kind: 'plain' }, { frameDeadlineMs: 300 });
  try {
    const s = await rawClient(a.port);
    const head = Buffer.alloc(4);
    head.writeUInt32BE(8 * 1024 * 1024);
    s.write(Buffer.concat([head, Buffer.alloc(1000, 1)]));
    await waitFor('the partial frame held', () => a.t.stats().inbound.bufferedBytes > 0);
    assert.ok(a.t.stats().inbound.bufferedBytes <= 1004, `holds ${a.t.stats().inbound.bufferedBytes} bytes, not the 8 MiB announced`);
    await closed(s);
    assert.is(a.t.stats().refused['frame-deadline'], 1);
    assert.is(a.t.stats().inbound.bufferedBytes, 0, 'released as the connection is cut');
  } finally {
    await a.t.stop();
  }
});

test('partial frames over all connections are capped: past the cap the connection is cut, and the bytes are released', async () => {
  const peers = new Map([[1, { host: HOST, port: await freePort() }]]);
  const a = await node(1, peers, { kind: 'plain' }, { bufferedBytes: 100_000 });
  try {
    const head = Buffer.alloc(4);
    head.writeUInt32BE(1024 * 1024);
    const socks: Socket[] = [];
    for (let i = 0; i < 6; i++) {
      const s = await rawClient(a.port);
      s.write(Buffer.concat([head, Buffer.alloc(30_000, 1)]));
      socks.push(s);
      await waitFor('the bytes to arrive', () => a.t.stats().inbound.bufferedBytes >= Math.min(i + 1, 3) * 30_000 || a.t.stats().refused['buffer-cap'] > 0);
    }
    await waitFor('refusals for the buffer cap', () => a.t.stats().refused['buffer-cap'] >= 1);
    assert.ok(a.t.stats().inbound.bufferedBytes <= 100_000, `holds ${a.t.stats().inbound.bufferedBytes}`);
    for (const s of socks) s.destroy();
    await waitFor('everything released', () => a.t.stats().inbound.bufferedBytes === 0 && a.t.stats().inbound.connections === 0);
  } finally {
    await a.t.stop();
  }
});

test('an inbound connection idle past the timeout is closed and counted', async () => {
  const peers = new Map([[1, { host: HOST, port: await freePort() }]]);
  const a = await node(1, peers, { kind: 'plain' }, { idleMs: 200 });
  try {
    const s = await rawClient(a.port);
    await closed(s);
    assert.is(a.t.stats().refused.idle, 1);
  } finally {
    await a.t.stop();
  }
});

test.run();
