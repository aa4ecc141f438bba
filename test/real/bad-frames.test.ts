// Malformed network input against a running host: bytes that are not frames,
// a length past the frame limit, frames of another cluster, from a host the
// cluster does not have, or carrying messages that do not validate. Each is
// dropped and counted, and the host keeps serving (it still elects leaders
// with its peers and answers /admin). They come over TLS with host 2's own
// key (a member gone bad: the worst case, since a stranger's bytes never get
// past the handshake, which the last case shows).
import { readFileSync } from 'node:fs';
import { connect as connectTcp } from 'node:net';
import { connect } from 'node:tls';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseAddress } from '../../src/real/cluster.js';
import { encodeFrame } from '../../src/real/frame.js';
import { encodeEnvelope } from '../../src/real/envelope-codec.js';
import { nativeAvailable } from '../../src/real/native-memory.js';
import { agreedLeader, TestCluster, watchdog } from './cluster-harness.js';

watchdog('bad-frames.test', 120_000);

/** The key and certificate of the member the frames come from (set once the cluster exists). */
let member: { key: Buffer; cert: Buffer; ca: Buffer } | null = null;

/** Opens a connection to `address` as `member` (`plain`: TCP, no TLS), writes each chunk, and closes it. */
async function sendRaw(address: string, chunks: Buffer[], plain = false): Promise<void> {
  const a = parseAddress(address);
  if (a === null) throw new Error(`bad address ${address}`);
  const creds = { ...member, checkServerIdentity: () => undefined };
  await new Promise<void>((resolve) => {
    const opened = (): void => {
      for (const c of chunks) s.write(c);
      s.end();
    };
    const s = plain ? connectTcp({ host: a.host, port: a.port }, opened) : connect({ host: a.host, port: a.port, ...creds }, opened);
    // A reset (the host cut us off mid-write, over TLS) is an error here; the counters say what the host made of it.
    s.on('error', () => {});
    // The host may cut the connection first (an oversized length): that is an answer too.
    s.on('close', () => resolve());
  });
}

function lengthPrefixed(payload: Buffer): Buffer {
  const head = Buffer.alloc(4);
  head.writeUInt32BE(payload.length);
  return Buffer.concat([head, payload]);
}

const available = nativeAvailable();
if (!available.ok) {
  test(`bad frames (skipped: ${available.reason})`, () => {});
} else {
  let c: TestCluster | null = null;
  test.after(async () => {
    await c?.cleanup();
  });

  test('a host drops and counts malformed, oversized, foreign and invalid frames, and keeps serving', async () => {
    c = await TestCluster.create({ name: 'bad-frames' });
    const tls = c.tlsFiles(2);
    member = { key: readFileSync(tls.key), cert: readFileSync(tls.cert), ca: readFileSync(tls.ca) };
    for (const id of c.ids) c.start(id);
    await c.waitFor('host 1 to answer /admin', () => c!.status(1));
    const target = c.host(1);
    // Not frames at all: an HTTP request, 0xff bytes, a three-byte payload.
    for (const chunk of [Buffer.from('GET / HTTP/1.1\r\n\r\n'), Buffer.alloc(64, 0xff), Buffer.from([0, 0, 0, 3, 1, 2, 3])]) {
      await sendRaw(target.address, [chunk]);
    }
    // Random payloads behind valid length prefixes: each is one malformed frame.
    let x = 12345;
    for (let i = 0; i < 50; i++) {
      const p = Buffer.alloc(1 + (i * 37) % 300);
      for (let j = 0; j < p.length; j++) p[j] = (x = (x * 1103515245 + 12345) >>> 0) >>> 24;
      await sendRaw(target.address, [lengthPrefixed(p)]);
    }
    // Well-formed frames the cluster must refuse.
    const vote = encodeEnvelope({
      kind: 'raft', group: 0,
      msg: { type: 'vote', from: 2, to: 1, term: 99, index: 0, logTerm: 0, entries: [], commit: 0, reject: false, rejectHint: 0, snapshot: null, transfer: false },
    });
    await sendRaw(target.address, [encodeFrame({ clusterId: 'another-cluster', from: 2 }, vote)]);
    await sendRaw(target.address, [encodeFrame({ clusterId: `bad-frames-${process.pid}`, from: 77 }, vote)]);
    await sendRaw(target.address, [encodeFrame({ clusterId: `bad-frames-${process.pid}`, from: 2 }, encodeEnvelope({ kind: 'vmm', msg: { t: 'grant', req: 1, page: -1, mode: 'read', version: 1, data: null, leaseUs: 1, index: 1, lease: { term: 1, grantedAtUs: 0 } } }))]);
    // A length far past the frame limit.
    const huge = Buffer.alloc(4);
    huge.writeUInt32BE(0xfffffff0);
    await sendRaw(target.address, [huge, Buffer.alloc(1024)]);
    // Plain TCP, even carrying a well-formed frame: never past the handshake.
    await sendRaw(target.address, [encodeFrame({ clusterId: `bad-frames-${process.pid}`, from: 2 }, vote)], true);

    await c.waitFor('host 1 to count the dropped frames', async () => {
      const d = (await c!.status(1))?.transport.dropped;
      const r = (await c!.status(1))?.transport.refused;
      return d !== undefined && d.malformed >= 50 && d['wrong-cluster'] >= 1 && d['unknown-sender'] >= 1 && d.oversized >= 1 && (r?.unauthenticated ?? 0) >= 1;
    });
    // The host is still a working member: the cluster elects leaders with it and it answers.
    await c.waitFor('the three hosts to agree on the registry leader', async () => agreedLeader(await c!.statuses(), 0, c!.ids) !== null);
    const s = await c.status(1);
    assert.ok(s !== null, 'host 1 answers /admin');
    assert.is(s.transport.handlerErrors, 0);
  });
}

test.run();
