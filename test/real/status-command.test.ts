// `gallocy status` against real admin servers on 127.0.0.1 (two answering,
// one closed port), through a cluster file written to a temp folder; and the
// pure formatter on a fixed report, line for line.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { formatStatus, formatUptime, statusCommand, type StatusReport } from '../../src/cli/status-command.js';
import { InputError } from '../../src/input/errors.js';
import { startAdminServer, type AdminServer } from '../../src/real/admin-server.js';
import type { HostStatus } from '../../src/real/host-status.js';
import { HostMetrics } from '../../src/real/metrics.js';
import { zeroRefusals } from '../../src/real/transport.js';
import { Timeline } from '../../src/real/timeline.js';

// A stuck test fails the file instead of hanging the run.
setTimeout(() => {
  console.error('status-command.test: watchdog fired after 30 s');
  process.exit(1);
}, 30_000).unref();

const HOST = '127.0.0.1';
const tmp = mkdtempSync(path.join(os.tmpdir(), 'gallocy-status-'));

function fakeStatus(host: number, leader: boolean): HostStatus {
  return {
    cluster: 'st',
    host,
    pid: 1000 + host,
    startedAt: '2024-01-02T03:04:05.000Z',
    uptimeSeconds: 3725,
    groups: [
      { group: 0, kind: 'registry', role: leader ? 'leader' : 'follower', term: 3, lead: 1, commit: 120, applied: 120, lastIndex: 120, voters: [1, 2, 3] },
      { group: 1, kind: 'company', role: leader ? 'follower' : 'leader', term: 2, lead: 2, commit: 40, applied: 39, lastIndex: 41, voters: [1, 2, 3], firstPage: 4, pages: 512 },
    ],
    pagesHeld: { read: 10 * host, write: host, dirty: null },
    heap: { pages: 1024, pageSize: 4096, rootPages: 4 },
    faults: { read: 0, write: 0 },
    commits: 160,
    transport: {
      sent: 0, writes: 0, bytesSent: 0, bytesReceived: 0, received: 0, local: 0,
      dropped: { 'queue-full': 0, oversized: 0, malformed: 0, 'unknown-sender': 0, 'wrong-cluster': 0, 'unknown-peer': 0, 'forged-sender': 0 },
      reconnects: 0, connectedPeers: [], queued: 0, handlerErrors: 0,
      refused: zeroRefusals(), inbound: { connections: 0, bufferedBytes: 0 }, security: 'tls',
    },
    disk: { handedOver: 0, transactions: 0, fsyncs: 0, writeUs: 0, entries: 0, entryBytes: 0, writer: 'worker' },
    timeline: new Timeline().snapshot(),
    app: leader ? { program: 'counter', state: 'running', threads: 2, threadsDone: 1, ops: 500, verified: null, error: null, waitingFor: null, waitingSince: null } : null,
  };
}

async function adminFor(host: number, leader: boolean): Promise<AdminServer> {
  const status = (): HostStatus => fakeStatus(host, leader);
  return startAdminServer({ host: HOST, port: 0, status, metrics: new HostMetrics(status) });
}

/** A port nothing listens on: bound by the kernel, then released. */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, HOST, resolve));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

function clusterFile(name: string, admins: number[]): string {
  const hosts = admins.map((port, i) => `  - id: ${i + 1}\n    address: ${HOST}:${7001 + i}\n    admin: ${HOST}:${port}\n`).join('');
  const file = path.join(tmp, `${name}.yaml`);
  writeFileSync(file, `name: ${name}\nid: ${name}-1\nreplication: ${admins.length}\nhosts:\n${hosts}`);
  return file;
}

async function run(cluster: string, json: boolean): Promise<{ code: number; lines: string[] }> {
  const lines: string[] = [];
  const code = await statusCommand({ cluster, json, timeoutMs: 5000 }, { log: (s) => lines.push(s) });
  return { code, lines };
}

let one: AdminServer;
let two: AdminServer;
let deadPort: number;

test.before(async () => {
  one = await adminFor(1, true);
  two = await adminFor(2, false);
  deadPort = await closedPort();
});

test.after(async () => {
  await one.close();
  await two.close();
  rmSync(tmp, { recursive: true, force: true });
});

test('every host up: a row per host per group, exit 0', async () => {
  const file = clusterFile('st', [one.address.port, two.address.port]);
  const { code, lines } = await run(file, false);
  assert.is(code, 0);
  const text = lines.join('\n');
  assert.is(lines[0], 'cluster st: 2 of 2 hosts up');
  assert.match(text, /HOST\s+ADMIN\s+STATE\s+GROUP\s+ROLE\s+TERM\s+LEAD\s+COMMIT\s+APPLIED\s+VOTERS/);
  const rows = lines.filter((l) => /^[12] /.test(l) && l.includes(' up '));
  assert.is(rows.filter((l) => l.includes('registry')).length, 2);
  assert.is(rows.filter((l) => l.includes('company 1 (pages 4-515)')).length, 2);
  assert.match(text, new RegExp(`^1\\s+${HOST}:${one.address.port}\\s+up\\s+registry\\s+leader\\s+3\\s+1\\s+120\\s+120\\s+1,2,3$`, 'm'));
  assert.match(text, /^1\s+up\s+1h02m\s+10\s+1\s+counter: running, 1\/2 threads done, 500 ops$/m);
  assert.match(text, /^2\s+up\s+1h02m\s+20\s+2\s+none$/m);
});

test('a host whose admin port is closed: named as unreachable with the reason; its groups keep a quorum, so exit 0', async () => {
  const file = clusterFile('st3', [one.address.port, two.address.port, deadPort]);
  const { code, lines } = await run(file, false);
  assert.is(code, 0, lines.join('\n'));
  assert.is(lines[lines.length - 1], 'healthy: every group has a leader followed by a quorum of its members; host 3 unreachable');
  assert.is(lines[0], 'cluster st3: 2 of 3 hosts up');
  const row = lines.find((l) => l.startsWith('3 '));
  assert.ok(row !== undefined, lines.join('\n'));
  assert.match(row, `${HOST}:${deadPort}`);
  assert.match(row, 'unreachable');
  assert.match(row, 'ECONNREFUSED');
  assert.match(lines.join('\n'), /^3\s+unreachable\s+-\s+-\s+-\s+-$/m);
});

test('--json: one object with every host, the unreachable one with its error, and the health verdict', async () => {
  const file = clusterFile('st3', [one.address.port, two.address.port, deadPort]);
  const { code, lines } = await run(file, true);
  assert.is(code, 0);
  assert.is(lines.length, 1);
  const report = JSON.parse(lines[0]!) as StatusReport;
  assert.is(report.cluster, 'st3');
  assert.equal(report.hosts.map((h) => [h.id, h.admin, h.ok]), [
    [1, `${HOST}:${one.address.port}`, true],
    [2, `${HOST}:${two.address.port}`, true],
    [3, `${HOST}:${deadPort}`, false],
  ]);
  assert.equal(report.hosts[0]!.status, fakeStatus(1, true));
  assert.is(report.hosts[0]!.error, undefined);
  assert.is(report.hosts[2]!.status, undefined);
  assert.match(report.hosts[2]!.error ?? '', 'ECONNREFUSED');
  assert.is(report.health?.ok, true);
  assert.equal(report.health?.unreachable, [3]);
  assert.equal(report.health?.groups.map((g) => [g.group, g.leader, g.following]), [[0, 1, [1, 2]], [1, 2, [1, 2]]]);
});

test('only one host of three up: no group has a quorum; exit 1 naming each group and the hosts at fault', async () => {
  const dead2 = await closedPort();
  const file = clusterFile('st1', [one.address.port, dead2, deadPort]);
  const { code, lines } = await run(file, false);
  assert.is(code, 1, lines.join('\n'));
  const text = lines.join('\n');
  assert.match(text, /^UNHEALTHY: 2 of 2 groups cannot commit; hosts 2, 3 unreachable$/m);
  assert.match(text, /^  registry: leader 1 at term 3 is followed by 1 of 3 members, a quorum is 2 \(host 2 unreachable; host 3 unreachable\)$/m);
  assert.match(text, /^  company 1 \(pages \d+-\d+\): no leader \(members 1, 2, 3: host 1 is follower at term 2 following leader 2; host 2 unreachable; host 3 unreachable\)$/m);
});

test('an admin address that answers as another host is not taken for it', async () => {
  const file = clusterFile('swapped', [two.address.port, one.address.port]);
  const { code, lines } = await run(file, true);
  assert.is(code, 1);
  const report = JSON.parse(lines[0]!) as StatusReport;
  assert.equal(report.hosts.map((h) => h.ok), [false, false]);
  assert.is(report.hosts[0]!.error, 'answered as host 2, expected host 1');
});

test('a host that accepts but never answers times out; one whose status fails shows the HTTP error', async () => {
  // Holds every connection open without a byte of answer, so the outcome does not depend on how long the timeout is.
  const silent = createServer(() => {});
  await new Promise<void>((resolve) => silent.listen(0, HOST, resolve));
  const failing = (): HostStatus => {
    throw new Error('replica state unavailable');
  };
  const broken = await startAdminServer({ host: HOST, port: 0, status: failing, metrics: new HostMetrics(failing) });
  try {
    const file = clusterFile('slow', [one.address.port, (silent.address() as { port: number }).port, broken.address.port]);
    const lines: string[] = [];
    const code = await statusCommand({ cluster: file, json: true, timeoutMs: 100 }, { log: (s) => lines.push(s) });
    assert.is(code, 1);
    const report = JSON.parse(lines[0]!) as StatusReport;
    assert.equal(report.hosts.map((h) => h.ok), [true, false, false]);
    assert.is(report.hosts[1]!.error, 'no answer within 100 ms');
    assert.is(report.hosts[2]!.error, 'HTTP 500: /admin failed: replica state unavailable');
  } finally {
    silent.close();
    await broken.close();
  }
});

test('a bad cluster file is an InputError naming the file', async () => {
  const file = path.join(tmp, 'bad.yaml');
  writeFileSync(file, 'name: bad\nid: bad-1\nhosts: []\n');
  let err: unknown;
  try {
    await run(file, false);
  } catch (e) {
    err = e;
  }
  assert.instance(err, InputError);
  assert.match((err as Error).message, file);
});

test('formatStatus: a fixed report, line for line', () => {
  const report: StatusReport = {
    cluster: 'demo',
    hosts: [
      { id: 1, admin: '10.0.0.1:8101', ok: true, status: fakeStatus(1, true) },
      { id: 2, admin: '10.0.0.2:8101', ok: false, error: 'connect ECONNREFUSED 10.0.0.2:8101' },
    ],
  };
  assert.equal(formatStatus(report), [
    'cluster demo: 1 of 2 hosts up',
    '',
    'HOST  ADMIN          STATE        GROUP                    ROLE      TERM  LEAD  COMMIT  APPLIED  VOTERS',
    '1     10.0.0.1:8101  up           registry                 leader    3     1     120     120      1,2,3',
    '1     10.0.0.1:8101  up           company 1 (pages 4-515)  follower  2     2     40      39       1,2,3',
    '2     10.0.0.2:8101  unreachable  connect ECONNREFUSED 10.0.0.2:8101',
    '',
    'HOST  STATE        UPTIME  READ PAGES  WRITE PAGES  APP',
    '1     up           1h02m   10          1            counter: running, 1/2 threads done, 500 ops',
    '2     unreachable  -       -           -            -',
  ]);
});

test('formatStatus: a host with no groups yet, a failed app, no leader known', () => {
  const s = fakeStatus(1, true);
  const status: HostStatus = {
    ...s,
    groups: [{ ...s.groups[0]!, role: 'candidate', lead: 0 }],
    app: { program: 'matmul', state: 'failed', threads: 4, threadsDone: 4, ops: 0, verified: false, error: 'C[0][0] = 3, expected 4', waitingFor: null, waitingSince: null },
  };
  const lines = formatStatus({ cluster: 'x', hosts: [{ id: 1, admin: 'a:1', ok: true, status }] });
  assert.match(lines.join('\n'), /^1\s+a:1\s+up\s+registry\s+candidate\s+3\s+-\s+120/m);
  assert.match(lines.join('\n'), 'matmul: failed, 4/4 threads done, 0 ops, verify FAILED, error: C[0][0] = 3, expected 4');
  const waiting = formatStatus({ cluster: 'x', hosts: [{ id: 1, admin: 'a:1', ok: true, status: { ...s, app: { ...s.app!, state: 'waiting', waitingFor: "the cluster's threads to end (host 3: not started)", waitingSince: '2024-01-02T03:04:05.000Z' } } }] });
  assert.match(waiting.join('\n'), "counter: waiting, 1/2 threads done, 500 ops, waiting for the cluster's threads to end (host 3: not started) since 2024-01-02T03:04:05.000Z");
    const empty = formatStatus({ cluster: 'x', hosts: [{ id: 1, admin: 'a:1', ok: true, status: { ...s, groups: [] } }] });
  assert.match(empty.join('\n'), /^1\s+a:1\s+up\s+none$/m);
});

test('formatUptime', () => {
  assert.is(formatUptime(0), '0s');
  assert.is(formatUptime(59.9), '59s');
  assert.is(formatUptime(61), '1m01s');
  assert.is(formatUptime(3725), '1h02m');
  assert.is(formatUptime(90000), '1d01h');
});

test.run();
