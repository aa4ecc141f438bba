// Baseline for our replicated commits: a real 3-member etcd 3.4 cluster on
// loopback (Debian bookworm's etcd-server), default WAL fsync — the fair match
// for our SQLite synchronous=FULL. Puts go through etcd's gRPC JSON gateway
// with node:http, so this adds no npm dependency. With peerTls, the members
// talk mutual TLS to each other (certificates from our own src/real/certs.ts,
// naming 127.0.0.1), as our hosts do; clients stay on plain HTTP.
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createAuthority, issueHostCertificate } from '../src/real/certs.js';
import { latencyPercentiles } from './percentiles.js';
import { figure } from './result.js';
import type { BenchResult } from './result.js';

const ETCD = '/usr/bin/etcd';

export interface EtcdBenchOptions {
  quick: boolean;
  /** Bytes per put value: the size of our page-table commit entries. */
  valueBytes: number;
  manyClients: number;
  /** Members talk mutual TLS (figures suffixed ".peer_tls"). */
  peerTls?: boolean;
}

/** Installs etcd-server if missing; returns why it is unavailable, or undefined. */
function ensureEtcd(): string | undefined {
  if (existsSync(ETCD)) return undefined;
  // apt's output goes to stderr: stdout carries only the JSON figures.
  const apt = (...args: string[]): number | null =>
    spawnSync('apt-get', args, { stdio: ['ignore', 2, 2], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } }).status;
  if (apt('install', '-y', 'etcd-server') !== 0) {
    // Usually "Unable to locate package": the image ships without package lists.
    apt('update');
    apt('install', '-y', 'etcd-server');
  }
  return existsSync(ETCD) ? undefined : `${ETCD} missing after apt-get install -y etcd-server`;
}

/** Free loopback ports, all held open at once so the kernel hands out distinct ones. */
async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: n }, () => new Promise<net.Server>((resolve, reject) => {
      const s = net.createServer();
      s.once('error', reject);
      s.listen(0, '127.0.0.1', () => resolve(s));
    })),
  );
  const ports = servers.map((s) => (s.address() as net.AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  return ports;
}

interface Member { name: string; client: string; proc: ChildProcess; log: string[] }

/** Three etcd children with their own data dirs; `dirs` is filled before any spawn, for cleanup. */
async function startCluster(dirs: string[], members: Member[], peerTls: boolean): Promise<void> {
  const ports = await freePorts(6);
  const names = ['b0', 'b1', 'b2'];
  const peer = (i: number) => `${peerTls ? 'https' : 'http'}://127.0.0.1:${ports[2 * i + 1]}`;
  const tlsArgs = peerTls ? await peerCertificates(dirs, names.length) : () => [];
  const initialCluster = names.map((n, i) => `${n}=${peer(i)}`).join(',');
  // One token for all three members (it seeds the cluster ID), fresh per run so
  // a stray member from an earlier run can never join this cluster.
  const token = `gallocy-bench-${randomUUID()}`;
  // Never inherit ETCD_* variables: etcd reads its whole configuration from them.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('ETCD_')));
  for (const [i, name] of names.entries()) {
    const dir = mkdtempSync(join(tmpdir(), `gallocy-etcd-${name}-`));
    dirs.push(dir);
    const client = `http://127.0.0.1:${ports[2 * i]}`;
    const proc = spawn(ETCD, [
      '--name', name, '--data-dir', dir,
      '--listen-client-urls', client, '--advertise-client-urls', client,
      '--listen-peer-urls', peer(i), '--initial-advertise-peer-urls', peer(i),
      '--initial-cluster', initialCluster, '--initial-cluster-state', 'new',
      '--initial-cluster-token', token,
      ...tlsArgs(i),
    ], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    const m: Member = { name, client, proc, log: [] };
    // etcd logs every election to stderr; keep only the tail, shown if startup fails.
    proc.stderr?.setEncoding('utf8').on('data', (s: string) => { m.log.push(s); if (m.log.length > 50) m.log.shift(); });
    proc.on('error', (e) => m.log.push(`spawn error: ${e.message}`));
    members.push(m);
  }
}

/** An authority and a certificate per member, in a folder of their own; the flags that make member i use them. */
async function peerCertificates(dirs: string[], n: number): Promise<(i: number) => string[]> {
  const dir = mkdtempSync(join(tmpdir(), 'gallocy-etcd-certs-'));
  dirs.push(dir);
  const ca = await createAuthority('etcd-bench');
  writeFileSync(join(dir, 'ca.crt'), ca.cert);
  for (let i = 0; i < n; i++) {
    const pair = await issueHostCertificate(ca, 'etcd-bench', i + 1, ['127.0.0.1']);
    writeFileSync(join(dir, `m${i}.crt`), pair.cert);
    writeFileSync(join(dir, `m${i}.key`), pair.key, { mode: 0o600 });
  }
  return (i) => [
    '--peer-cert-file', join(dir, `m${i}.crt`), '--peer-key-file', join(dir, `m${i}.key`),
    '--peer-trusted-ca-file', join(dir, 'ca.crt'), '--peer-client-cert-auth',
  ];
}

function stopCluster(dirs: string[], members: Member[]): void {
  // SIGKILL: a benchmark's data dir is garbage, no need for a graceful stop.
  for (const m of members) if (m.proc.exitCode === null && m.proc.signalCode === null) m.proc.kill('SIGKILL');
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
}

/** POSTs JSON to the gateway; rejects on non-200 (the gateway maps gRPC errors to HTTP codes). */
function post(agent: http.Agent, base: string, path: string, body: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${base}${path}`, {
      method: 'POST', agent, timeout: 5000,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
    }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (c: string) => (text += c)).on('end', () => {
        if (res.statusCode === 200) resolve(JSON.parse(text));
        else reject(new Error(`${path} -> HTTP ${res.statusCode}: ${text.slice(0, 200)}`));
      });
    });
    req.on('timeout', () => req.destroy(new Error(`${path} timed out`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** The leader's client URL: the member whose status says it leads itself (uint64 ids arrive as strings). */
async function findLeader(agent: http.Agent, members: Member[]): Promise<string | undefined> {
  for (const m of members) {
    try {
      const s = await post(agent, m.client, '/v3/maintenance/status', '{}') as { header?: { member_id?: string }; leader?: string };
      if (s.leader !== undefined && s.leader !== '0' && s.leader === s.header?.member_id) return m.client;
    } catch { /* not up yet */ }
  }
  return undefined;
}

const b64 = (s: string): string => Buffer.from(s).toString('base64');

/**
 * `clients` loops, each awaiting its previous put, until `seconds` elapse; the
 * rate counts puts over the wall time until the last in-flight put returns.
 */
async function load(agent: http.Agent, url: string, value: string, clients: number, seconds: number): Promise<{ rate: number; latUs: number[] }> {
  const latUs: number[] = [];
  const start = performance.now();
  const end = start + seconds * 1000;
  await Promise.all(Array.from({ length: clients }, async (_, c) => {
    // Keys cycle per client, so the keyspace stays small; each put is still a new revision.
    for (let i = 0; performance.now() < end; i++) {
      const body = JSON.stringify({ key: b64(`bench/${c}/${i % 1000}`), value });
      const t = performance.now();
      await post(agent, url, '/v3/kv/put', body);
      latUs.push((performance.now() - t) * 1000);
    }
  }));
  return { rate: latUs.length / ((performance.now() - start) / 1000), latUs };
}

export async function benchEtcd(opts: EtcdBenchOptions): Promise<BenchResult[]> {
  const unavailable = (why: string): BenchResult[] => {
    console.error(`bench etcd: unavailable: ${why}`);
    return [figure(`etcd.available${opts.peerTls === true ? '.peer_tls' : ''}`, 0, 'bool')];
  };
  const dirs: string[] = [];
  const members: Member[] = [];
  // A crash or process.exit() mid-run must not leave etcd children behind.
  const onExit = (): void => stopCluster(dirs, members);
  process.on('exit', onExit);
  const agent = new http.Agent({ keepAlive: true, maxSockets: Math.max(opts.manyClients, 4) });
  try {
    const missing = ensureEtcd();
    if (missing !== undefined) return unavailable(missing);
    console.error(`bench etcd: ${spawnSync(ETCD, ['--version'], { encoding: 'utf8' }).stdout.split('\n')[0]}`);
    await startCluster(dirs, members, opts.peerTls === true);

    // Healthy = a leader exists and a put through it commits; first boot takes ~1-2 s.
    // Puts go to the leader, not any member, so we time replication, not follower forwarding.
    const value = randomBytes(opts.valueBytes).toString('base64');
    const deadline = performance.now() + 30_000;
    let leader: string | undefined;
    for (;;) {
      const dead = members.find((m) => m.proc.exitCode !== null || m.proc.signalCode !== null);
      if (dead) return unavailable(`member ${dead.name} exited:\n${dead.log.join('').slice(-2000)}`);
      leader = await findLeader(agent, members);
      if (leader !== undefined && await post(agent, leader, '/v3/kv/put', JSON.stringify({ key: b64('bench/health'), value })).then(() => true, () => false)) break;
      if (performance.now() > deadline) return unavailable(`no healthy leader in 30 s:\n${members.map((m) => m.log.join('').slice(-1000)).join('\n')}`);
      await new Promise((r) => setTimeout(r, 100));
    }

    const seconds = opts.quick ? 2 : 5;
    await load(agent, leader, value, 1, 0.5); // warm-up: JIT, sockets, etcd's first fsyncs
    const one = await load(agent, leader, value, 1, seconds);
    await load(agent, leader, value, opts.manyClients, 0.5); // open the other keep-alive sockets
    const many = await load(agent, leader, value, opts.manyClients, seconds);
    const p = latencyPercentiles(one.latUs);
    const sfx = opts.peerTls === true ? '.peer_tls' : '';
    return [
      figure(`etcd.available${sfx}`, 1, 'bool'),
      figure(`etcd.puts_per_second.1_client${sfx}`, one.rate, 'puts/s'),
      figure(`etcd.puts_per_second.${opts.manyClients}_clients${sfx}`, many.rate, 'puts/s'),
      figure(`etcd.put_latency_p50_us.1_client${sfx}`, p.p50, 'us'),
      figure(`etcd.put_latency_p99_us.1_client${sfx}`, p.p99, 'us'),
    ];
  } catch (e) {
    return unavailable(e instanceof Error ? e.message : String(e));
  } finally {
    agent.destroy();
    stopCluster(dirs, members);
    process.off('exit', onExit);
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const quick = process.argv.includes('--quick');
  for (const r of await benchEtcd({ quick, valueBytes: 200, manyClients: 32 })) console.log(JSON.stringify(r));
}
