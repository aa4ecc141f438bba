// The transport's limits against a live host: a flood of half-open
// connections from one source, then partial frames that announce 16 MiB each
// from a member's own key (the worst case: an insider). The host's descriptors
// and memory stay bounded, each refusal is counted in /metrics, its log has
// one line per source and reason, and once the attack ends its memory returns
// near where it was and the cluster goes on.
import { readdirSync } from 'node:fs';
import { connect as connectTcp, type Socket } from 'node:net';
import { readFileSync } from 'node:fs';
import { connect as connectTls } from 'node:tls';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseAddress } from '../../src/real/cluster.js';
import { nativeAvailable } from '../../src/real/native-memory.js';
import { TestCluster, watchdog } from './cluster-harness.js';

watchdog('limits.test', 300_000);

const MIB = 1024 * 1024;
const FLOOD = 2000;
const PARTIAL = 40;

/** One sample from host `id`'s /metrics. */
async function metric(c: TestCluster, id: number, name: string, labels = ''): Promise<number> {
  const text = await (await fetch(`http://${c.host(id).admin}/metrics`, { headers: c.adminHeaders() })).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `) || (labels === '' && l.startsWith(`${name} `)));
  if (line === undefined) throw new Error(`no ${name}${labels} in /metrics of host ${id}`);
  return Number(line.split(' ').pop());
}

const refusedBy = (c: TestCluster, id: number, reason: string): Promise<number> => metric(c, id, 'gallocy_connections_refused_total', `{reason="${reason}"}`);
const rss = (c: TestCluster, id: number): Promise<number> => metric(c, id, 'gallocy_process_resident_memory_bytes');
const fds = (pid: number): number => readdirSync(`/proc/${pid}/fd`).length;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function open(address: string): Promise<Socket> {
  const a = parseAddress(address)!;
  return new Promise((resolve) => {
    const s = connectTcp({ host: a.host, port: a.port });
    s.on('error', () => {});
    s.once('connect', () => resolve(s));
    s.once('close', () => resolve(s));
  });
}

const available = nativeAvailable();
if (!available.ok) {
  test(`limits (skipped: ${available.reason})`, () => {});
} else {
  let c: TestCluster | null = null;
  test.after(async () => {
    await c?.cleanup();
  });

  test('a connection flood and 16 MiB partial frames: bounded descriptors and memory, every refusal counted, logged once', async () => {
    c = await TestCluster.create({ name: 'limits', limits: { frameDeadlineMs: 3000, bufferedBytes: 16 * MIB, handshakeMs: 3000 } });
    const cluster = c;
    cluster.startAll();
    await cluster.leaderOf(1);
    const target = 1;
    const pid = (await cluster.status(target))!.pid;
    const baseFds = fds(pid);
    const baseRss = await rss(cluster, target);

    // Half-open connections: TCP only, never a byte.
    const flood: Socket[] = [];
    for (let i = 0; i < FLOOD; i++) flood.push(await open(cluster.host(target).address));
    // Refused at once past the per-source limit, or let in (while places were free: a slow flood frees
    // them as the handshake deadline cuts the first ones) and then cut at that deadline.
    await cluster.waitFor('the flood refused', async () =>
      (await refusedBy(cluster, target, 'too-many-connections')) + (await refusedBy(cluster, target, 'handshake-timeout')) >= FLOOD);
    const floodFds = fds(pid);
    assert.ok(floodFds <= baseFds + 16, `descriptors: ${baseFds} before, ${floodFds} during the flood`);
    // The few let in never finish a handshake.
    await cluster.waitFor('the admitted ones cut at the handshake deadline', async () => (await refusedBy(cluster, target, 'handshake-timeout')) >= 1);
    for (const s of flood) s.destroy();

    // An insider: host 2's own key, announcing 16 MiB per frame and sending a quarter of it.
    const tls = cluster.tlsFiles(2);
    const creds = { key: readFileSync(tls.key), cert: readFileSync(tls.cert), ca: readFileSync(tls.ca) };
    const a = parseAddress(cluster.host(target).address)!;
    const head = Buffer.alloc(4);
    head.writeUInt32BE(16 * MIB);
    const body = Buffer.alloc(4 * MIB, 0x41);
    let peakRss = 0;
    const sockets = await Promise.all(Array.from({ length: PARTIAL }, () => new Promise<Socket>((resolve) => {
      const s = connectTls({ host: a.host, port: a.port, ...creds, checkServerIdentity: () => undefined }, () => {
        s.write(head);
        s.write(body);
      });
      s.on('error', () => {});
      s.once('close', () => resolve(s));
      setTimeout(() => resolve(s), 8000);
    })));
    for (let i = 0; i < 10; i++) {
      peakRss = Math.max(peakRss, await rss(cluster, target));
      await sleep(200);
    }
    for (const s of sockets) s.destroy();
    const capped = await refusedBy(cluster, target, 'buffer-cap');
    const late = await refusedBy(cluster, target, 'frame-deadline');
    const crowded = await refusedBy(cluster, target, 'too-many-connections');
    assert.ok(capped + late >= 1, `partial frames cut: ${capped} at the buffer cap, ${late} at the deadline`);
    assert.ok(crowded >= 1, 'some of the 40 refused as too many from one source');
    // 40 x 4 MiB arrived at most; the cap holds 16 MiB of it. TLS and socket buffers come on top.
    assert.ok(peakRss - baseRss < 120 * MIB, `memory rose from ${(baseRss / MIB).toFixed(0)} to ${(peakRss / MIB).toFixed(0)} MiB`);
    assert.is(await metric(cluster, target, 'gallocy_inbound_buffered_bytes'), 0);
    const after = await cluster.waitFor('memory back near its baseline', async () => {
      const now = await rss(cluster, target);
      return now - baseRss < 40 * MIB ? now : null;
    });
    console.log(`limits.test: host rss ${(baseRss / MIB).toFixed(0)} MiB before, peak ${(peakRss / MIB).toFixed(0)}, after ${(after / MIB).toFixed(0)}; `
      + `descriptors ${baseFds} before, ${floodFds} in the flood; refused: ${crowded} too many, ${capped} buffer cap, ${late} deadline`);

    // One log line per source and reason, however many refusals.
    const lines = cluster.logEntries(target).filter((e) => e['event'] === 'refused');
    const keys = lines.map((e) => `${String(e['reason'])} ${String(e['source'])}`);
    assert.is(new Set(keys).size, keys.length, `refusals logged more than once: ${keys.join(', ')}`);
    assert.ok(keys.includes('too-many-connections 127.0.0.1'));

    // The cluster goes on: the hosts find each other again and agree on a leader.
    await cluster.waitFor('the hosts to reconnect', async () => (await cluster.status(target))?.transport.connectedPeers.length === 2);
    await cluster.leaderOf(1);
  });
}

test.run();
