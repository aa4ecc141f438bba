// The admin HTTP server and the metrics behind /metrics, on 127.0.0.1 with a
// fixed HostStatus: the JSON of /admin, metric names and values (from the
// status and from served faults), the error paths (404, 405, a throwing
// status), and a port that is already taken. Every server is closed in finally.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startAdminServer, type AdminServer, type DebugHooks } from '../../src/real/admin-server.js';
import type { HostStatus } from '../../src/real/host-status.js';
import { HostMetrics } from '../../src/real/metrics.js';
import { zeroRefusals } from '../../src/real/transport.js';
import { Timeline } from '../../src/real/timeline.js';

// A stuck test fails the file instead of hanging the run.
setTimeout(() => {
  console.error('admin-server.test: watchdog fired after 30 s');
  process.exit(1);
}, 30_000).unref();

const HOST = '127.0.0.1';

function fakeStatus(): HostStatus {
  return {
    cluster: 'test-cluster',
    host: 2,
    pid: 4242,
    startedAt: '2024-01-02T03:04:05.000Z',
    uptimeSeconds: 75.5,
    groups: [
      { group: 0, kind: 'registry', role: 'leader', term: 7, lead: 2, commit: 120, applied: 119, lastIndex: 121, voters: [1, 2, 3] },
      { group: 1, kind: 'company', role: 'follower', term: 4, lead: 3, commit: 55, applied: 55, lastIndex: 55, voters: [1, 2, 3], firstPage: 4, pages: 510 },
    ],
    pagesHeld: { read: 12, write: 3, dirty: 1 },
    heap: { pages: 1024, pageSize: 4096, rootPages: 4 },
    faults: { read: 10, write: 5 },
    commits: 174,
    transport: {
      sent: 1000, writes: 700, bytesSent: 200_000, bytesReceived: 190_000, received: 990, local: 17,
      dropped: { 'queue-full': 2, oversized: 0, malformed: 1, 'unknown-sender': 0, 'wrong-cluster': 0, 'unknown-peer': 0, 'forged-sender': 0 },
      reconnects: 3, connectedPeers: [1, 3], queued: 0, handlerErrors: 0,
      refused: zeroRefusals(), inbound: { connections: 0, bufferedBytes: 0 }, security: 'tls',
    },
    disk: { handedOver: 0, transactions: 0, fsyncs: 0, writeUs: 0, entries: 0, entryBytes: 0, writer: 'worker' },
    timeline: new Timeline().snapshot(),
    app: { program: 'counter', state: 'running', threads: 2, threadsDone: 1, ops: 500, verified: null, error: null, waitingFor: null, waitingSince: null },
  };
}

async function withServer(
  status: () => HostStatus,
  fn: (base: string, server: AdminServer, metrics: HostMetrics, events: [string, object][]) => Promise<void>,
  debug?: DebugHooks,
): Promise<void> {
  const metrics = new HostMetrics(status);
  const events: [string, object][] = [];
  const server = await startAdminServer({ host: HOST, port: 0, status, metrics, log: (e, f) => events.push([e, f]), ...(debug ? { debug } : {}) });
  try {
    await fn(`http://${HOST}:${server.address.port}`, server, metrics, events);
  } finally {
    await server.close();
  }
}

/** The value of the sample whose name and labels are exactly `series` (e.g. 'x_total{kind="read"}'). */
function sample(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  if (line === undefined) throw new Error(`no sample ${series} in:\n${text}`);
  return Number(line.slice(series.length + 1));
}

test('port 0 binds a real port, reported in address', async () => {
  await withServer(fakeStatus, async (_base, server) => {
    assert.is(server.address.host, HOST);
    assert.ok(server.address.port > 0, `port ${server.address.port}`);
  });
});

test('GET /admin is the status as JSON', async () => {
  await withServer(fakeStatus, async (base) => {
    const res = await fetch(`${base}/admin`);
    assert.is(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    assert.equal(await res.json(), fakeStatus());
  });
});

test('GET /healthz is ok; a query string is ignored', async () => {
  await withServer(fakeStatus, async (base) => {
    const res = await fetch(`${base}/healthz?x=1`);
    assert.is(res.status, 200);
    assert.is(await res.text(), 'ok');
  });
});

test('GET /metrics: values from the status at scrape time', async () => {
  await withServer(fakeStatus, async (base) => {
    const res = await fetch(`${base}/metrics`);
    assert.is(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
    const text = await res.text();
    assert.is(sample(text, 'gallocy_commits_total'), 174);
    assert.is(sample(text, 'gallocy_messages_sent_total'), 1000);
    assert.is(sample(text, 'gallocy_messages_received_total'), 990);
    assert.is(sample(text, 'gallocy_transport_reconnects_total'), 3);
    assert.is(sample(text, 'gallocy_frames_dropped_total{reason="queue-full"}'), 2);
    assert.is(sample(text, 'gallocy_frames_dropped_total{reason="malformed"}'), 1);
    assert.is(sample(text, 'gallocy_frames_dropped_total{reason="oversized"}'), 0);
    assert.is(sample(text, 'gallocy_raft_term{group="0"}'), 7);
    assert.is(sample(text, 'gallocy_raft_term{group="1"}'), 4);
    assert.is(sample(text, 'gallocy_raft_commit_index{group="0"}'), 120);
    assert.is(sample(text, 'gallocy_raft_commit_index{group="1"}'), 55);
    assert.is(sample(text, 'gallocy_raft_is_leader{group="0"}'), 1);
    assert.is(sample(text, 'gallocy_raft_is_leader{group="1"}'), 0);
    assert.is(sample(text, 'gallocy_pages_held{mode="read"}'), 12);
    assert.is(sample(text, 'gallocy_pages_held{mode="write"}'), 3);
    assert.is(sample(text, 'gallocy_up_seconds'), 75.5);
    // Counters are typed as such, so Prometheus' rate() applies.
    assert.match(text, /^# TYPE gallocy_commits_total counter$/m);
    assert.match(text, /^# TYPE gallocy_frames_dropped_total counter$/m);
    assert.match(text, /^# TYPE gallocy_raft_term gauge$/m);
    // Default process metrics, under the prefix.
    assert.match(text, /^gallocy_process_cpu_user_seconds_total /m);
    // No faults served yet: both kinds are there at zero.
    assert.is(sample(text, 'gallocy_faults_total{kind="read"}'), 0);
    assert.is(sample(text, 'gallocy_faults_total{kind="write"}'), 0);
    assert.is(sample(text, 'gallocy_fault_latency_seconds_count{kind="write"}'), 0);
  });
});

test('GET /metrics follows the status between scrapes; a group that goes away disappears', async () => {
  let s = fakeStatus();
  await withServer(() => s, async (base) => {
    await fetch(`${base}/metrics`).then((r) => r.text());
    s = { ...fakeStatus(), commits: 200, groups: [{ ...fakeStatus().groups[0]!, term: 8, role: 'follower' }] };
    const text = await (await fetch(`${base}/metrics`)).text();
    assert.is(sample(text, 'gallocy_commits_total'), 200);
    assert.is(sample(text, 'gallocy_raft_term{group="0"}'), 8);
    assert.is(sample(text, 'gallocy_raft_is_leader{group="0"}'), 0);
    assert.not.match(text, /group="1"/);
  });
});

test('faultServed: counts by kind and fills the latency histogram buckets', async () => {
  await withServer(fakeStatus, async (base, _server, metrics) => {
    metrics.faultServed('read', 30e-6);
    metrics.faultServed('read', 0.002);
    metrics.faultServed('write', 0.7);
    metrics.faultServed('write', 3);
    const text = await (await fetch(`${base}/metrics`)).text();
    assert.is(sample(text, 'gallocy_faults_total{kind="read"}'), 2);
    assert.is(sample(text, 'gallocy_faults_total{kind="write"}'), 2);
    assert.match(text, /^# TYPE gallocy_fault_latency_seconds histogram$/m);
    const bucket = (le: string, kind: string): number => sample(text, `gallocy_fault_latency_seconds_bucket{le="${le}",kind="${kind}"}`);
    assert.is(bucket('0.000025', 'read'), 0);
    assert.is(bucket('0.00005', 'read'), 1);
    assert.is(bucket('0.001', 'read'), 1);
    assert.is(bucket('0.0025', 'read'), 2);
    assert.is(bucket('+Inf', 'read'), 2);
    assert.is(bucket('0.25', 'write'), 0);
    assert.is(bucket('1', 'write'), 1);
    assert.is(bucket('+Inf', 'write'), 2);
    assert.is(sample(text, 'gallocy_fault_latency_seconds_count{kind="read"}'), 2);
    assert.ok(Math.abs(sample(text, 'gallocy_fault_latency_seconds_sum{kind="write"}') - 3.7) < 1e-9);
  });
});

test('unknown path: 404 with a JSON error', async () => {
  await withServer(fakeStatus, async (base) => {
    const res = await fetch(`${base}/nope`);
    assert.is(res.status, 404);
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    const body = (await res.json()) as { error: string };
    assert.match(body.error, /\/nope/);
  });
});

test('non-GET: 405 with Allow: GET', async () => {
  await withServer(fakeStatus, async (base) => {
    for (const method of ['POST', 'PUT', 'DELETE']) {
      const res = await fetch(`${base}/admin`, { method });
      assert.is(res.status, 405, method);
      assert.is(res.headers.get('allow'), 'GET');
      const body = (await res.json()) as { error: string };
      assert.match(body.error, method);
    }
  });
});

test('a throwing status gives 500 with a JSON error, is logged, and the server stays up', async () => {
  let broken = true;
  const status = (): HostStatus => {
    if (broken) throw new Error('replica state unavailable');
    return fakeStatus();
  };
  await withServer(status, async (base, _server, _metrics, events) => {
    for (const path of ['/admin', '/metrics']) {
      const res = await fetch(`${base}${path}`);
      assert.is(res.status, 500, path);
      assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
      const body = (await res.json()) as { error: string };
      assert.match(body.error, 'replica state unavailable');
    }
    assert.equal(events.filter(([e]) => e === 'admin-error').length, 2);
    assert.is((await fetch(`${base}/healthz`)).status, 200);
    broken = false;
    assert.is((await fetch(`${base}/admin`)).status, 200);
    assert.is((await fetch(`${base}/metrics`)).status, 200);
  });
});

test('a port in use: rejects with a message naming the address', async () => {
  await withServer(fakeStatus, async (_base, server) => {
    const port = server.address.port;
    const metrics = new HostMetrics(fakeStatus);
    let err: unknown;
    try {
      const second = await startAdminServer({ host: HOST, port, status: fakeStatus, metrics });
      await second.close();
    } catch (e) {
      err = e;
    }
    assert.instance(err, Error);
    assert.match((err as Error).message, `${HOST}:${port}`);
    assert.match((err as Error).message, 'EADDRINUSE');
  });
});

test('close: the port stops answering, even with a kept-alive connection open', async () => {
  const metrics = new HostMetrics(fakeStatus);
  const server = await startAdminServer({ host: HOST, port: 0, status: fakeStatus, metrics });
  const base = `http://${HOST}:${server.address.port}`;
  assert.is((await fetch(`${base}/healthz`)).status, 200);
  await server.close();
  let failed = false;
  try {
    await fetch(`${base}/healthz`);
  } catch {
    failed = true;
  }
  assert.ok(failed, 'fetch after close should fail');
});

test('POST /debug/stall is refused unless the host was started with the debug hooks', async () => {
  await withServer(fakeStatus, async (base) => {
    const res = await fetch(`${base}/debug/stall?ms=10`, { method: 'POST' });
    assert.is(res.status, 403);
    assert.match(((await res.json()) as { error: string }).error, /GALLOCY_DEBUG_STALL=1/);
  });
});

test('POST /debug/stall: checks ms and deadlines, stalls through the hook, answers when the stall is over', async () => {
  const calls: [number, boolean][] = [];
  const debug: DebugHooks = {
    stall: (ms, deadlines) => {
      calls.push([ms, deadlines]);
      return { startedAtUs: 1000, endedAtUs: 1000 + ms * 1000 };
    },
  };
  await withServer(fakeStatus, async (base) => {
    const bad: [string, RegExp][] = [
      ['', /ms: expected an integer from 1 to 60000 \(milliseconds\), got nothing/],
      ['?ms=abc', /ms: expected an integer from 1 to 60000 \(milliseconds\), got "abc"/],
      ['?ms=0', /got "0"/],
      ['?ms=60001', /got "60001"/],
      ['?ms=5&deadlines=maybe', /deadlines: expected on or off, got "maybe"/],
    ];
    for (const [query, message] of bad) {
      const res = await fetch(`${base}/debug/stall${query}`, { method: 'POST' });
      assert.is(res.status, 400, query);
      assert.match(((await res.json()) as { error: string }).error, message);
    }
    const get = await fetch(`${base}/debug/stall?ms=5`);
    assert.is(get.status, 405);
    assert.is(get.headers.get('allow'), 'POST');
    assert.equal(calls, [], 'nothing stalled on bad requests');
    const res = await fetch(`${base}/debug/stall?ms=25&deadlines=off`, { method: 'POST' });
    assert.is(res.status, 200);
    assert.equal(await res.json(), { ms: 25, deadlines: 'off', startedAtUs: 1000, endedAtUs: 26_000 });
    await fetch(`${base}/debug/stall?ms=7`, { method: 'POST' });
    assert.equal(calls, [[25, false], [7, true]]);
  }, debug);
});

test.run();
