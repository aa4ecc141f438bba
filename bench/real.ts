// Real mode on three hosts on loopback, against its own floor measured in the
// same run: the fault handoff (fault to resumed thread, immediate answer), a
// loopback TCP round trip, and an SQLite fsync'd commit. A remote read fault
// needs the handoff, two round trips (the request to the company's leader and
// its grant; the grant's replication to a follower and back) and one commit
// (the leader's and the follower's run in parallel): that sum is the floor,
// on the disk and on tmpfs, and every fault figure is quoted against it
// (design section 8); ratios of figures from one run survive a noisy machine.
//
// Timelines: each host sums the time its main thread spends in each stage
// (src/real/timeline.ts); read before and after a series of faults, they say
// what each fault cost each host, stage by stage ("real.timeline.*", and a
// table on stderr), next to its threads' CPU, the time its main thread waited
// for a CPU, its GC pauses and what it sent. The rest of a fault's latency is
// waiting: the network, the other processes, the event loop. Untimed series of
// each kind warm the hosts up first (V8 compiles their code as it runs).
// Environment for a closer look (see README, Benchmarks): GALLOCY_TIMELINE_CLOCK,
// GALLOCY_BENCH_CPU_PROF, GALLOCY_BENCH_HOST_NODE_ARGS, GALLOCY_BENCH_REAL_PARTS,
// GALLOCY_BENCH_REAL_FAULTS.
//
// Last, the matrix workload on three hosts at 2 threads each: faults served
// per second over the run, and their mean latency.
//
// Two clusters, one after the other, run the same script of steps
// (bench/real-apps/driver.mjs; see runCluster):
//  - "disk": data directories under os.tmpdir() (the bench's data disk), each
//    commit fsyncs SQLite (WAL, synchronous=FULL) on leader and followers:
//    the real configuration; figures without suffix.
//  - "tmpfs": data directories on /dev/shm, where fsync is nearly free, so
//    what is left is protocol and CPU; figures suffixed ".tmpfs".
// The disk run's commit entries size the etcd baseline's puts (bench/etcd.ts).
//
// Both clusters talk mutual TLS, as a cluster file has them by default. The
// cost of that authentication is a third cluster on tmpfs over plain TCP
// (insecurePlainTcp), run in alternation with the TLS one: figures suffixed
// ".tmpfs.plain", and "real.tls_over_plain.*" the ratios, next to etcd's own
// ratio of peer TLS to plain peers ("real.etcd_peer_tls_over_plain.*").
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os, { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { floorDatabase } from './floor-database.js';
import { findRepoRoot } from '../src/cli/repo-root.js';
import { writeClusterCerts } from '../src/real/certs.js';
import { loadCluster } from '../src/real/cluster-file.js';
import { RaftStore } from '../src/real/raft-store.js';
import type { HostStatus } from '../src/real/host-status.js';
import { STAGES, TIMELINE_CLOCK_ENV } from '../src/real/timeline.js';
import type { Stage, TimelineTotals } from '../src/real/timeline.js';
import { nativeAvailable } from '../src/real/native-memory.js';
import { benchEtcd } from './etcd.js';
import { latencyPercentiles } from './percentiles.js';
import { processCpuSeconds } from './proc-stat.js';
import { figure } from './result.js';
import type { BenchResult } from './result.js';

const ROOT = findRepoRoot();
const HOSTS = [1, 2, 3];
/** App threads per host: the "many clients" load runs one on each, 12 in all. */
const THREADS = 4;
const PAGE = 4096;
/** Samples dropped at the start of each timed series (JIT, first connections). */
const WARMUP = 5;

interface Sizes {
  handoffSamples: number;
  rttSamples: number;
  sqliteSamples: number;
  /** Pages per fault series (read, write, invalidate). */
  faults: number;
  /** Pages per untimed warm-up series of each kind, before the timed ones. */
  warmup: number;
  heldOps: number;
  /** Seconds of each commits-per-second window. */
  window: number;
}

const QUICK: Sizes = { handoffSamples: 500, rttSamples: 3000, sqliteSamples: 200, faults: 100, warmup: 100, heldOps: 10_000_000, window: 1.5 };
const FULL: Sizes = { handoffSamples: 2000, rttSamples: 20_000, sqliteSamples: 1000, faults: 400, warmup: 300, heldOps: 10_000_000, window: 5 };

// ---- the floor: handoff, round trip, fsync ---------------------------------------------------

/** Runs a node script in a child; resolves with its stdout. */
function child(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
    p.on('error', reject);
    p.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`node ${args.slice(0, 2).join(' ')}: exit ${code}`))));
  });
}

/** measureFaultHandoff in a child process: a process maps one native heap, and this keeps the bench's free of it. */
async function faultHandoff(samples: number): Promise<{ p50Us: number; p99Us: number }> {
  const url = new URL('./fault-handoff.js', import.meta.url).href;
  const script = 'import(process.argv[1]).then((m) => m.measureFaultHandoff(Number(process.argv[2]))).then((r) => console.log(JSON.stringify(r)))';
  return JSON.parse(await child(['-e', script, url, String(samples)])) as { p50Us: number; p99Us: number };
}

/** 16-byte frames echoed by another process over loopback TCP, Nagle off on both ends, one in flight. */
async function loopbackRtt(samples: number): Promise<number[]> {
  const echo = 'const s=require("net").createServer(c=>{c.setNoDelay(true);c.on("data",d=>c.write(d))});'
    + 's.listen(0,"127.0.0.1",()=>console.log(s.address().port))';
  const proc = spawn(process.execPath, ['-e', echo], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const port = await new Promise<number>((resolve, reject) => {
      proc.stdout.setEncoding('utf8').once('data', (s: string) => resolve(Number(s.trim())));
      proc.once('exit', (code) => reject(new Error(`echo server exited with ${code}`)));
    });
    const sock = net.connect(port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => sock.once('connect', resolve).once('error', reject));
    sock.setNoDelay(true);
    const frame = Buffer.alloc(16, 7);
    let got = 0;
    let wake: () => void = () => {};
    sock.on('data', (d: Buffer) => {
      got += d.length;
      if (got >= frame.length) wake();
    });
    const us: number[] = [];
    for (let i = 0; i < samples + WARMUP * 20; i++) {
      got = 0;
      const back = new Promise<void>((resolve) => (wake = resolve));
      const t0 = performance.now();
      sock.write(frame);
      await back;
      if (i >= WARMUP * 20) us.push((performance.now() - t0) * 1000);
    }
    sock.destroy();
    return us;
  } finally {
    proc.kill('SIGKILL');
  }
}

/**
 * bench/bare-round.ts's three processes in `dir` (their databases): a read fault's
 * six frames and three commits with nothing between them; the faulting one's latencies.
 */
async function bareRound(dir: string, samples: number): Promise<number[]> {
  const script = fileURLToPath(new URL('./bare-round.js', import.meta.url));
  const leader = spawn(process.execPath, [script, 'leader', join(dir, 'bare-leader.db')], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const port = await new Promise<number>((resolve, reject) => {
      leader.stdout.setEncoding('utf8').once('data', (s: string) => resolve(Number(s.trim())));
      leader.once('exit', (code) => reject(new Error(`bare-round leader exited with ${code}`)));
    });
    const other = child([script, 'other', join(dir, 'bare-other.db'), String(port)]);
    const faulting = child([script, 'faulting', join(dir, 'bare-faulting.db'), String(port), String(samples + WARMUP * 20)]);
    const us = JSON.parse(await faulting) as number[];
    await other;
    return us.slice(WARMUP * 20);
  } finally {
    leader.kill('SIGKILL');
  }
}

/** One-row transactions in a WAL, synchronous=FULL database in `dir`: what each Raft persist costs. */
function sqliteCommits(dir: string, samples: number): number[] {
  const { db, commit } = floorDatabase(join(dir, 'commit-bench.db'));
  try {
    const us: number[] = [];
    for (let i = 0; i < samples + WARMUP; i++) {
      const t0 = performance.now();
      commit();
      if (i >= WARMUP) us.push((performance.now() - t0) * 1000);
    }
    return us;
  } finally {
    db.close();
  }
}

/** WAL frames a series of commits appended to a fresh database's log, per commit (before any checkpoint rewinds it). */
function walPagesPerCommit(file: string, pageSize: number, commit: () => void): number {
  const wal = `${file}-wal`;
  const size = (): number => (existsSync(wal) ? statSync(wal).size : 0);
  // Fewer frames than the auto-checkpoint's 1000, which would start the log over.
  const n = 100;
  const before = size();
  for (let i = 0; i < n; i++) commit();
  return (size() - before) / (pageSize + 24) / n;
}

/** Entry size of the RaftStore series: about a read fault's commit (real.commit_entry_bytes). */
const STORE_ENTRY_BYTES = 5500;

/** WAL pages per commit of the floor's one-row transactions, and the page size (SQLite's default, which the Raft store keeps too). */
function floorWalPages(dir: string): { pages: number; pageSize: number } {
  const file = join(dir, 'floor-pages.db');
  const floor = floorDatabase(file);
  try {
    const pageSize = Number(floor.db.pragma('page_size', { simple: true }));
    return { pages: walPagesPerCommit(file, pageSize, floor.commit), pageSize };
  } finally {
    floor.db.close();
  }
}

/**
 * The host's own Raft store (src/real/raft-store.ts) in `dir`, written as a
 * leader's or a follower's turn is: one entry and a commit index that moved,
 * one fsync'd transaction. Its latency, host CPU and WAL pages per commit.
 */
function raftStoreCommits(dir: string, samples: number, pageSize: number): { us: number[]; cpuUs: number; walPages: number } {
  const file = join(dir, 'raft.sqlite');
  const store = RaftStore.open(file, { exclusive: true });
  const data = 'x'.repeat(STORE_ENTRY_BYTES);
  let index = 0;
  const commit = (): void => {
    index++;
    store.persist(1, { hardState: { term: 1, vote: 1, commit: index - 1 }, entries: [{ term: 1, index, kind: 'normal', data }], snapshot: null });
  };
  try {
    for (let i = 0; i < WARMUP; i++) commit();
    const walPages = walPagesPerCommit(file, pageSize, commit);
    const us: number[] = [];
    const cpu0 = process.cpuUsage();
    for (let i = 0; i < samples; i++) {
      const t0 = performance.now();
      commit();
      us.push((performance.now() - t0) * 1000);
    }
    const cpu = process.cpuUsage(cpu0);
    return { us, cpuUs: (cpu.user + cpu.system) / samples, walPages };
  } finally {
    store.close();
  }
}

// ---- a three-host cluster running the driver app ---------------------------------------------

/** Free loopback ports, all held open at once so they are distinct. */
async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(Array.from({ length: n }, () => new Promise<net.Server>((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject).listen(0, '127.0.0.1', () => resolve(s));
  })));
  const ports = servers.map((s) => (s.address() as net.AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  return ports;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** What the hosts of a bench cluster run. */
interface Program {
  args: string[];
  /** The driver app, which runs steps the bench posts (ready once every thread runs). */
  driver: boolean;
  /** Heap pages (default: twice the root region). */
  heapPages?: number;
}

const DRIVER: Program = { args: ['--app', join(ROOT, 'bench', 'real-apps', 'driver.mjs'), '--threads', String(THREADS)], driver: true };

/**
 * With GALLOCY_BENCH_CPU_PROF=DIR, every host process writes a V8 CPU profile
 * there when it exits (DIR/<security>-<n>-host-<id>.cpuprofile, n counting the
 * clusters of the run): where the hosts' main threads spend their CPU.
 */
const CPU_PROF_DIR = process.env['GALLOCY_BENCH_CPU_PROF'];
/** Clusters started so far: names the profiles of one cluster apart from the next. */
let clusterCount = 0;

/** GALLOCY_BENCH_HOST_NODE_ARGS: more node options for the host processes, space-separated (--perf-basic-prof for perf, say). */
const HOST_NODE_ARGS = (process.env['GALLOCY_BENCH_HOST_NODE_ARGS'] ?? '').split(' ').filter((a) => a !== '');

/** Node options for a host process (`name`: its profile's). */
function hostNodeArgs(name: string): string[] {
  if (CPU_PROF_DIR === undefined || CPU_PROF_DIR === '') return HOST_NODE_ARGS;
  return [...HOST_NODE_ARGS, '--cpu-prof', `--cpu-prof-dir=${CPU_PROF_DIR}`, `--cpu-prof-name=${name}.cpuprofile`, '--cpu-prof-interval=500'];
}

type Roles = Record<string, unknown>;
type Security = 'tls' | 'plain';
const role = (host: number, thread = 0): string => `${host}/${thread}`;

class BenchCluster {
  private readonly procs = new Map<number, ChildProcess>();
  private readonly admins = new Map<number, string>();
  private step = 0;

  /**
   * `dir` is removed by the caller; everything (cluster file, steps, logs, data, certificates) lives in
   * it. `program`: what the hosts run (default: the driver app, THREADS threads each).
   */
  constructor(readonly dir: string, private readonly rootPages: number, private readonly security: Security, private readonly program: Program = DRIVER) {}

  async start(): Promise<void> {
    const ports = await freePorts(2 * HOSTS.length);
    const cluster = {
      name: 'bench-real', id: `bench-real-${randomUUID()}`,
      hosts: HOSTS.map((id, i) => {
        this.admins.set(id, `http://127.0.0.1:${ports[2 * i + 1]}/admin`);
        return { id, address: `127.0.0.1:${ports[2 * i]}`, admin: `127.0.0.1:${ports[2 * i + 1]}` };
      }),
      heap: { pageSize: PAGE, pages: this.program.heapPages ?? 2 * this.rootPages, rootPages: this.rootPages },
      replication: 3,
      // Leases far longer than the run: pages stay where the script put them, nothing expires mid-series.
      leases: { leaseMs: 60_000 },
      // etcd's default --snapshot-count (3.4): the same compaction schedule as the baseline, and the
      // run's entries stay in raft.db for sizing.
      raft: { snapshotEveryEntries: 100_000 },
      dataDir: join(this.dir, 'data'),
      ...(this.security === 'tls'
        ? { tls: { ca: './certs/ca.crt', cert: './certs/host-{id}.crt', key: './certs/host-{id}.key' } }
        : { insecurePlainTcp: true }),
    };
    clusterCount++;
    const file = join(this.dir, 'cluster.yaml'); // JSON is YAML
    writeFileSync(file, JSON.stringify(cluster));
    if (this.security === 'tls') await writeClusterCerts(loadCluster(file).cluster, join(this.dir, 'certs'), this.dir);
    for (const id of HOSTS) {
      const p = spawn(process.execPath, [
        ...hostNodeArgs(`${this.security}-${clusterCount}-host-${id}`),
        join(ROOT, 'bin', 'gallocy.js'), 'serve', '--cluster', file, '--host', String(id),
        ...this.program.args, '--log-file', this.logFile(id),
      ], { env: { ...process.env, GALLOCY_BENCH_DIR: this.dir }, stdio: ['ignore', 'ignore', 'inherit'] });
      this.procs.set(id, p);
    }
    // Ready: every host answers, the company has a leader all agree on, every app thread runs.
    const deadline = performance.now() + 30_000;
    for (;;) {
      const s = await Promise.all(HOSTS.map((h) => this.admin(h).catch(() => null)));
      if (!this.program.driver && s.every((x) => x !== null)) return;
      if (s.every((x) => x !== null && x.app?.state === 'running')) {
        const leads = new Set(s.map((x) => x!.groups.find((g) => g.group === 1)?.lead ?? 0));
        if (leads.size === 1 && !leads.has(0)) return;
      }
      this.checkAlive();
      if (performance.now() > deadline) throw new Error(`cluster in ${this.dir} not ready in 30 s${this.logTails()}`);
      await sleep(100);
    }
  }

  /**
   * CPU time (user + system, every thread) the three host processes used so
   * far, in ms: /proc/<pid>/stat counts it in USER_HZ ticks, 10 ms on Linux.
   * Per fault or per commit it says how much of a latency is work, not waiting.
   */
  cpuMs(): number {
    let seconds = 0;
    for (const p of this.procs.values()) {
      const cpu = p.pid === undefined ? null : processCpuSeconds(p.pid);
      if (cpu === null) throw new Error(`bench real: cannot read the CPU time of host process ${p.pid ?? '(not started)'}`);
      seconds += cpu;
    }
    return seconds * 1000;
  }

  /**
   * CPU time of host `id`'s threads so far, in us: its main thread (the event
   * loop: the network, Raft, the VMM, SQLite) and all others (application
   * workers, V8's and libuv's helpers), from the scheduler's per-thread
   * nanosecond counts (/proc/<pid>/task/<tid>/schedstat).
   */
  threadCpuUs(id: number): { main: number; other: number; mainWait: number } {
    // The time runnable but waiting for a CPU is the main thread's only: how much of a latency the machine's load took.
    const pid = this.procs.get(id)!.pid!;
    let main = 0;
    let other = 0;
    let mainWait = 0;
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      let fields: string[];
      try {
        fields = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ');
      } catch {
        continue; // the thread ended meanwhile
      }
      // Time on a CPU, and time runnable but waiting for one (ns).
      const [run, wait] = [Number(fields[0]) / 1000, Number(fields[1]) / 1000];
      if (Number(tid) === pid) {
        main += run;
        mainWait += wait;
      } else {
        other += run;
      }
    }
    return { main, other, mainWait };
  }

  logFile(id: number): string {
    return join(this.dir, `host-${id}.log`);
  }

  async admin(host: number): Promise<HostStatus> {
    const r = await fetch(this.admins.get(host)!);
    return (await r.json()) as HostStatus;
  }

  /** The sum and count of a host's fault latency histogram (both kinds), from /metrics. */
  async faultLatency(host: number): Promise<{ seconds: number; count: number }> {
    const text = await (await fetch(this.admins.get(host)!.replace(/\/admin$/, '/metrics'))).text();
    const sum = (suffix: string): number => [...text.matchAll(new RegExp(`^gallocy_fault_latency_seconds_${suffix}\\{[^}]*\\} (\\S+)$`, 'gm'))]
      .reduce((a, m) => a + Number(m[1]), 0);
    return { seconds: sum('sum'), count: sum('count') };
  }

  /** The company's leader, then its two followers. */
  async roles(): Promise<{ leader: number; a: number; b: number }> {
    const s = await this.admin(HOSTS[0]!);
    const leader = s.groups.find((g) => g.group === 1)!.lead;
    const [a, b] = HOSTS.filter((h) => h !== leader) as [number, number];
    return { leader, a, b };
  }

  /** Posts a step to every thread; `during` runs while it executes; resolves with the results by role. */
  async run(op: string, roles: Roles, during?: () => Promise<void>): Promise<Map<string, unknown>> {
    const k = this.step++;
    this.post(k, op, roles);
    if (during !== undefined) await during();
    const results = new Map<string, unknown>();
    const deadline = performance.now() + 120_000;
    let checked = performance.now();
    for (const h of HOSTS) {
      for (let t = 0; t < THREADS; t++) {
        const f = join(this.dir, `done-${k}-${h}-${t}.json`);
        while (!existsSync(f)) {
          // Asking a host for its status costs it CPU, which the CPU figures count: rarely.
          if (performance.now() - checked > 500) {
            checked = performance.now();
            this.checkAlive();
            const app = (await this.admin(h).catch(() => null))?.app;
            if (app?.state === 'failed') throw new Error(`host ${h}: app failed: ${app.error}${this.logTails()}`);
            if (checked > deadline) throw new Error(`step ${k} (${op}) not done in 120 s${this.logTails()}`);
          }
          await sleep(10);
        }
        results.set(role(h, t), JSON.parse(readFileSync(f, 'utf8')));
      }
    }
    return results;
  }

  /** Write then rename: a thread must never read half a step. */
  private post(k: number, op: string, roles: Roles): void {
    const f = join(this.dir, `step-${k}.json`);
    writeFileSync(`${f}.tmp`, JSON.stringify({ op, roles }));
    renameSync(`${f}.tmp`, f);
  }

  private checkAlive(): void {
    for (const [id, p] of this.procs) {
      if (p.exitCode !== null || p.signalCode !== null) throw new Error(`host ${id} exited (${p.exitCode ?? p.signalCode})${this.logTails()}`);
    }
  }

  tails(): string {
    return this.logTails();
  }

  private logTails(): string {
    return HOSTS.map((h) => {
      const f = this.logFile(h);
      const text = existsSync(f) ? readFileSync(f, 'utf8').trim().split('\n').slice(-8).join('\n') : '(no log)';
      return `\n--- host ${h} log tail ---\n${text}`;
    }).join('');
  }

  /**
   * Tells the threads to end, then SIGTERM; SIGKILL if that hangs (a host's clean stop writes its
   * dirty page back, which waits for a quorum that may be stopping too: nothing here needs it).
   */
  async stop(): Promise<void> {
    if (this.procs.size === 0) return;
    try {
      this.post(this.step, 'exit', {});
    } catch { /* the dir may be gone */ }
    await Promise.all([...this.procs.values()].map(async (p) => {
      if (p.exitCode !== null || p.signalCode !== null) return;
      const exited = new Promise((r) => p.once('exit', r));
      p.kill('SIGTERM');
      // A profiled host writes its profile as it exits: give it the time.
      const graceMs = CPU_PROF_DIR === undefined ? 2000 : 30_000;
      if (await Promise.race([exited.then(() => true), sleep(graceMs).then(() => false)])) return;
      p.kill('SIGKILL');
      await exited;
    }));
    this.procs.clear();
  }

  /** Synchronous last resort (process 'exit'): no host may outlive the bench. */
  kill(): void {
    for (const p of this.procs.values()) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  }
}

// ---- the script ------------------------------------------------------------------------------

/** Who does what in a fault series: the host that faults, the company's leader, its other follower. */
const ROLES = ['faulting', 'leader', 'follower'] as const;
type Role = (typeof ROLES)[number];
/** Microseconds per fault of each stage, on each role's host. */
type FaultTimeline = Record<Role, Record<Stage, number>>;
/**
 * What else a fault cost each host: CPU of its main thread and of its other threads, the time its
 * main thread was ready to run but waited for a CPU, its garbage collection pauses (us; these
 * happen inside the stages), and what it sent.
 */
const COSTS = ['cpu-main', 'cpu-other', 'cpu-wait', 'gc-minor', 'gc-major', 'frames', 'writes', 'kbytes'] as const;
type Cost = (typeof COSTS)[number];
type FaultCosts = Record<Role, Record<Cost, number>>;
/** What each role's Raft store did per fault: turns handed to the disk worker, its commits, of them fsynced, and its time (src/real/disk-port.ts). */
type FaultDisk = Record<Role, { handedOver: number; transactions: number; fsyncs: number; writeUs: number }>;

interface Series {
  /** Microseconds per access, warm-up dropped. */
  us: number[];
  /** Who wrote the hosts' Raft stores (src/real/disk-port.ts: a worker thread, or inline where fsyncs are cheap). */
  writer: string;
  timeline: FaultTimeline;
  costs: FaultCosts;
  disk: FaultDisk;
  /** Company commits per access (the leader's applied entries). */
  commits: number;
  /** CPU of all three hosts per access (includes their background: heartbeats, idle threads' polls). */
  cpuUs: number;
}

/** Page numbers [from, from + n). */
const range = (from: number, n: number): number[] => Array.from({ length: n }, (_, i) => from + i);

interface ClusterFigures {
  read: Series;
  write: Series;
  invalidate: Series;
  held: { heldNs: number; typedNs: number } | null;
  commits1: number;
  commitsMany: number;
  /** CPU of all three hosts per commit, under the many-clients load: all threads, and their main threads. */
  commitCpuUs: number;
  commitMainCpuUs: number;
  /** Mean bytes of the company's entries committed during the commit windows (null: not measured). */
  entryBytes: number | null;
  /** The leader's Raft entries per fsync during the commit windows, one client and many. */
  entriesPerFsync1: number;
  entriesPerFsyncMany: number;
}

/**
 * One cluster, one script. Roles: `a`, a follower of the company (each of
 * its faults goes through the leader), does the timed accesses; `leader` and
 * `other` (the other follower) are the readers a write must invalidate.
 * Each series uses pages nobody touched before (page 0 is skipped, and the
 * root region's last page, whose last 8 bytes the runtime keeps, is never
 * used). `withHeld`: also time held-page access (a CPU figure: once is enough).
 */
async function runCluster(c: BenchCluster, s: Sizes, withHeld: boolean): Promise<ClusterFigures> {
  const { leader, a, b: other } = await c.roles();
  let next = 1;
  const take = (n: number): number[] => {
    const r = range(next, n);
    next += n;
    return r;
  };
  const hostOf: Record<Role, number> = { faulting: a, leader, follower: other };
  /** Each role's stage totals, disk worker counters, thread CPU and transport counters, now. */
  const measure = async (): Promise<Record<Role, { timeline: TimelineTotals; disk: HostStatus['disk']; costs: Record<Cost, number> }>> => {
    const st = await Promise.all(ROLES.map((r) => c.admin(hostOf[r])));
    return Object.fromEntries(ROLES.map((r, i) => {
      const { timeline, transport, disk } = st[i]!;
      const cpu = c.threadCpuUs(hostOf[r]);
      const costs: Record<Cost, number> = {
        'cpu-main': cpu.main, 'cpu-other': cpu.other, 'cpu-wait': cpu.mainWait, 'gc-minor': timeline.gc.minor.us, 'gc-major': timeline.gc.major.us,
        frames: transport.sent, writes: transport.writes, kbytes: transport.bytesSent / 1000,
      };
      return [r, { timeline, disk, costs }];
    })) as Record<Role, { timeline: TimelineTotals; disk: HostStatus['disk']; costs: Record<Cost, number> }>;
  };
  /** A's timed accesses to `pages`, with the commits (leader's count), host CPU and each host's stages and costs per fault. */
  const series = async (pages: number[], write: boolean): Promise<Series> => {
    const [c0, cpu0, m0] = [(await c.admin(leader)).commits, c.cpuMs(), await measure()];
    const r = await c.run('touch', { [role(a)]: { pages, write } });
    const [c1, cpu1, m1] = [(await c.admin(leader)).commits, c.cpuMs(), await measure()];
    const n = pages.length;
    const timeline = Object.fromEntries(ROLES.map((ro) => [ro, Object.fromEntries(STAGES.map((st) => [st, (m1[ro].timeline[st].us - m0[ro].timeline[st].us) / n]))])) as FaultTimeline;
    const costs = Object.fromEntries(ROLES.map((ro) => [ro, Object.fromEntries(COSTS.map((k) => [k, (m1[ro].costs[k] - m0[ro].costs[k]) / n]))])) as FaultCosts;
    const perFault = (ro: Role, k: keyof FaultDisk[Role]): number => (m1[ro].disk[k] - m0[ro].disk[k]) / n;
    const disk = Object.fromEntries(ROLES.map((ro) => [ro, { handedOver: perFault(ro, 'handedOver'), transactions: perFault(ro, 'transactions'), fsyncs: perFault(ro, 'fsyncs'), writeUs: perFault(ro, 'writeUs') }])) as FaultDisk;
    const writer = [...new Set(ROLES.map((ro) => m1[ro].disk.writer))].join('/');
    return { us: (r.get(role(a)) as { us: number[] }).us.slice(WARMUP), writer, timeline, costs, disk, commits: (c1 - c0) / n, cpuUs: ((cpu1 - cpu0) * 1000) / n };
  };
  // Warm-up, untimed: a host's code is compiled as it runs (V8's JIT, on helper threads) over its
  // first thousands of messages; the series then measure hosts that run as a long-lived one does.
  const warm = take(s.warmup);
  await c.run('touch', { [role(a)]: { pages: take(s.warmup), write: false } });
  await c.run('touch', { [role(a)]: { pages: take(s.warmup), write: true } });
  await c.run('touch', { [role(leader)]: { pages: warm, write: false }, [role(other)]: { pages: warm, write: false } });
  await c.run('touch', { [role(a)]: { pages: warm, write: true } });
  // Remote read fault, no other holder: request to the leader, the grant's Raft round, the reply.
  const read = await series(take(s.faults), false);
  // Write fault, no other holder (for reading the next figure): the same plus the write-back of
  // the page written before, since a host keeps at most one dirty page (src/vmm/page-client.ts).
  const write = await series(take(s.faults), true);
  // Write fault that must invalidate two readers: the leader and the other follower read the
  // pages first (and keep read leases), then A writes them.
  const shared = take(s.faults);
  await c.run('touch', { [role(leader)]: { pages: shared, write: false }, [role(other)]: { pages: shared, write: false } });
  const invalidate = await series(shared, true);
  let held: ClusterFigures['held'] = null;
  if (withHeld) {
    const r = await c.run('held', { [role(a)]: { page: take(1)[0], ops: s.heldOps, rounds: 9 } });
    held = r.get(role(a)) as { heldNs: number; typedNs: number };
  }

  // Commits per second: each thread writes its own 16 pages round-robin, so every write is a
  // write fault (a grant on the first round, then the write-back of the page written before).
  // The rate is the leader's applied entries over a window inside the run.
  const diskBefore = (await c.admin(leader)).disk;
  const settle = 0.5;
  const mainCpuUs = (): number => HOSTS.reduce((acc, h) => acc + c.threadCpuUs(h).main, 0);
  const commits = async (threads: string[]): Promise<{ rate: number; cpuUs: number; mainCpuUs: number; entriesPerFsync: number }> => {
    const roles: Roles = {};
    for (const r of threads) roles[r] = { pages: take(16), ms: (2 * settle + s.window) * 1000 };
    let rate = 0;
    let cpuUs = 0;
    let mainUs = 0;
    let entriesPerFsync = 0;
    await c.run('churn', roles, async () => {
      await sleep(settle * 1000); // threads start within a 10 ms poll; skip the first round of grants
      const t0 = performance.now();
      const [s0, cpu0, main0] = [await c.admin(leader), c.cpuMs(), mainCpuUs()];
      await sleep(s.window * 1000);
      const [s1, cpu1, main1] = [await c.admin(leader), c.cpuMs(), mainCpuUs()];
      const [c0, c1] = [s0.commits, s1.commits];
      // How many Raft entries each of the leader's fsyncs carried: 1 says the proposals reach it one at a time.
      entriesPerFsync = (s1.disk.entries - s0.disk.entries) / Math.max(1, s1.disk.fsyncs - s0.disk.fsyncs);
      rate = (c1 - c0) / ((performance.now() - t0) / 1000);
      cpuUs = ((cpu1 - cpu0) * 1000) / Math.max(1, c1 - c0);
      mainUs = (main1 - main0) / Math.max(1, c1 - c0);
    });
    return { rate, cpuUs, mainCpuUs: mainUs, entriesPerFsync };
  };
  const one = await commits([role(a)]);
  const many = await commits(HOSTS.flatMap((h) => Array.from({ length: THREADS }, (_, t) => role(h, t))));
  const after = await c.admin(leader);
  const commitAfter = after.groups.find((g) => g.group === 1)!;
  if (commitAfter.lead !== leader) console.error(`bench real: the company's leader changed during the run (${leader} -> ${commitAfter.lead})`);

  // Entry sizes from what the leader's disk worker wrote over the commit windows (the host holds
  // its raft.db exclusively): the bytes each replicated commit carries.
  const entries = after.disk.entries - diskBefore.entries;
  const entryBytes = entries > 0 ? (after.disk.entryBytes - diskBefore.entryBytes) / entries : null;
  return {
    read, write, invalidate, held, commits1: one.rate, commitsMany: many.rate, commitCpuUs: many.cpuUs, commitMainCpuUs: many.mainCpuUs, entryBytes,
    entriesPerFsync1: one.entriesPerFsync, entriesPerFsyncMany: many.entriesPerFsync,
  };
}

/** Several runs of one configuration as one: series concatenated, rates and CPU averaged. */
function pooled(runs: ClusterFigures[]): ClusterFigures {
  const mean = (f: (r: ClusterFigures) => number): number => runs.reduce((a, r) => a + f(r), 0) / runs.length;
  const series = (f: (r: ClusterFigures) => Series): Series => ({
    us: runs.flatMap((r) => f(r).us), writer: [...new Set(runs.map((r) => f(r).writer))].join('/'), commits: mean((r) => f(r).commits), cpuUs: mean((r) => f(r).cpuUs),
    timeline: Object.fromEntries(ROLES.map((ro) => [ro, Object.fromEntries(STAGES.map((st) => [st, mean((r) => f(r).timeline[ro][st])]))])) as FaultTimeline,
    costs: Object.fromEntries(ROLES.map((ro) => [ro, Object.fromEntries(COSTS.map((k) => [k, mean((r) => f(r).costs[ro][k])]))])) as FaultCosts,
    disk: Object.fromEntries(ROLES.map((ro) => [ro, {
      handedOver: mean((r) => f(r).disk[ro].handedOver), transactions: mean((r) => f(r).disk[ro].transactions), fsyncs: mean((r) => f(r).disk[ro].fsyncs), writeUs: mean((r) => f(r).disk[ro].writeUs),
    }])) as FaultDisk,
  });
  return {
    read: series((r) => r.read), write: series((r) => r.write), invalidate: series((r) => r.invalidate), held: null,
    commits1: mean((r) => r.commits1), commitsMany: mean((r) => r.commitsMany), commitCpuUs: mean((r) => r.commitCpuUs), commitMainCpuUs: mean((r) => r.commitMainCpuUs),
    entryBytes: mean((r) => r.entryBytes ?? 0), entriesPerFsync1: mean((r) => r.entriesPerFsync1), entriesPerFsyncMany: mean((r) => r.entriesPerFsyncMany),
  };
}

/** The per-fault stages of a series, host by host, on stderr: where a fault's time goes. */
function printTimeline(name: string, series: Series, floorUs: number): void {
  const p50 = latencyPercentiles(series.us).p50;
  const busy = ROLES.map((ro) => STAGES.reduce((a, st) => a + series.timeline[ro][st], 0));
  const clock = process.env[TIMELINE_CLOCK_ENV] === 'cpu' ? 'CPU' : 'wall';
  const lines = [`bench real: ${name}: p50 ${p50.toFixed(0)} us (floor ${floorUs.toFixed(0)} us); main-thread us per fault (stages: ${clock} time), by host and stage:`];
  lines.push(`  ${'stage'.padEnd(10)}${ROLES.map((r) => r.padStart(10)).join('')}`);
  for (const st of STAGES) lines.push(`  ${st.padEnd(10)}${ROLES.map((ro) => series.timeline[ro][st].toFixed(1).padStart(10)).join('')}`);
  lines.push(`  ${'busy'.padEnd(10)}${busy.map((b) => b.toFixed(1).padStart(10)).join('')}`);
  // Busy is wall time (a preempted stage counts on); cpu-main is what the main thread actually ran.
  for (const k of COSTS) lines.push(`  ${k.padEnd(10)}${ROLES.map((ro) => series.costs[ro][k].toFixed(1).padStart(10)).join('')}`);
  lines.push(series.writer === 'inline' ? '  the Raft store, written inline on the main thread (fast fsyncs), per fault:' : `  the Raft store, written by ${series.writer === 'worker' ? 'the disk worker thread' : series.writer}, per fault:`);
  lines.push(`  ${'turns'.padEnd(10)}${ROLES.map((ro) => series.disk[ro].handedOver.toFixed(2).padStart(10)).join('')}`);
  lines.push(`  ${'commits'.padEnd(10)}${ROLES.map((ro) => series.disk[ro].transactions.toFixed(2).padStart(10)).join('')}`);
  lines.push(`  ${'fsyncs'.padEnd(10)}${ROLES.map((ro) => series.disk[ro].fsyncs.toFixed(2).padStart(10)).join('')}`);
  lines.push(`  ${'write us'.padEnd(10)}${ROLES.map((ro) => series.disk[ro].writeUs.toFixed(1).padStart(10)).join('')}`);
  console.error(lines.join('\n'));
}

/** Pages the script uses, rounded up to a power of two: the root region. */
function rootPagesFor(s: Sizes): number {
  const used = 1 + 3 * s.warmup + 3 * s.faults + 1 + 16 * (1 + HOSTS.length * THREADS) + 1;
  return 2 ** Math.ceil(Math.log2(used));
}

async function withCluster<T>(parent: string, rootPages: number, security: Security, fn: (c: BenchCluster) => Promise<T>, program?: Program): Promise<T> {
  const dir = mkdtempSync(join(parent, 'gallocy-bench-real-'));
  const c = new BenchCluster(dir, rootPages, security, program);
  const onExit = (): void => {
    c.kill();
    rmSync(dir, { recursive: true, force: true });
  };
  process.on('exit', onExit);
  try {
    await c.start();
    return await fn(c);
  } finally {
    await c.stop();
    rmSync(dir, { recursive: true, force: true });
    process.off('exit', onExit);
  }
}

/** Threads per host of the matrix run, and the matrix's side (3 matrices of one page each, 4 KiB: the six threads write C's rows, all in one page, so faults dominate the run; larger ones take minutes). */
const MATRIX_THREADS = 2;
const MATRIX_N = 32;

/**
 * The matrix workload on three hosts (disk, TLS) at MATRIX_THREADS threads
 * each: faults served per second from the first fault to the end of the run
 * (polled every 50 ms), and their mean latency (the hosts' latency histograms).
 */
interface MatrixFigures {
  faultsPerSecond: number;
  meanUs: number;
  faults: number;
  seconds: number;
  /** Per fault, the three hosts summed: main threads' CPU and their wait for a CPU (the machine's load), us; the disk workers' commits and fsyncs. */
  mainCpuUs: number;
  mainWaitUs: number;
  commits: number;
  fsyncs: number;
}

async function runMatrix(c: BenchCluster): Promise<MatrixFigures> {
  type Mark = { at: number; faults: number; main: number; wait: number; commits: number; fsyncs: number };
  const mark = (st: HostStatus[], at: number): Mark => {
    const cpu = HOSTS.map((h) => c.threadCpuUs(h));
    return {
      at, faults: st.reduce((a, x) => a + x.faults.read + x.faults.write, 0),
      main: cpu.reduce((a, x) => a + x.main, 0), wait: cpu.reduce((a, x) => a + x.mainWait, 0),
      commits: st.reduce((a, x) => a + x.disk.transactions, 0), fsyncs: st.reduce((a, x) => a + x.disk.fsyncs, 0),
    };
  };
  let first: Mark | null = null;
  const deadline = performance.now() + 300_000;
  for (;;) {
    const st = await Promise.all(HOSTS.map((h) => c.admin(h)));
    const now = mark(st, performance.now());
    if (first === null && now.faults > 0) first = now;
    const failed = st.find((x) => x.app?.state === 'failed');
    if (failed !== undefined) throw new Error(`matrix: host ${failed.host} failed: ${failed.app?.error}`);
    if (first !== null && st.every((x) => x.app?.state === 'done')) {
      const lat = await Promise.all(HOSTS.map((h) => c.faultLatency(h)));
      const seconds = (now.at - first.at) / 1000;
      const sum = lat.reduce((a, l) => a + l.seconds, 0);
      const count = lat.reduce((a, l) => a + l.count, 0);
      const n = Math.max(1, now.faults - first.faults);
      return {
        faultsPerSecond: (now.faults - first.faults) / seconds, meanUs: (sum / Math.max(1, count)) * 1e6, faults: now.faults, seconds,
        mainCpuUs: (now.main - first.main) / n, mainWaitUs: (now.wait - first.wait) / n, commits: (now.commits - first.commits) / n, fsyncs: (now.fsyncs - first.fsyncs) / n,
      };
    }
    if (now.at > deadline) throw new Error(`matrix: not done in 300 s: ${st.map((x) => `host ${x.host} ${x.app?.state} (${x.app?.threadsDone} threads done)`).join(', ')}${c.tails()}`);
    await sleep(50);
  }
}

/** The matrix run's figures (also alone: node -e "import('./dist/bench/real.js').then((m) => m.benchMatrix())"). */
export async function benchMatrix(): Promise<BenchResult[]> {
  const program: Program = {
    args: ['--workload', 'matrix', '--threads', String(MATRIX_THREADS), '--option', `n=${MATRIX_N}`, '--option', 'maxPolls=1000000'], driver: false, heapPages: 1024,
  };
  const m = await withCluster(tmpdir(), 16, 'tls', runMatrix, program);
  console.error(`bench real: matrix n=${MATRIX_N}, ${HOSTS.length} hosts x ${MATRIX_THREADS} threads: ${m.faults} faults, ${m.seconds.toFixed(2)} s from the first to the end; `
    + `per fault (3 hosts): main threads ${m.mainCpuUs.toFixed(0)} us CPU, ${m.mainWaitUs.toFixed(0)} us waiting for a CPU; ${m.commits.toFixed(1)} commits, ${m.fsyncs.toFixed(1)} fsyncs`);
  // The CPU figures are the load-robust ones: faults/s and the latency follow the machine's load (the main threads' wait for a CPU says how much).
  return [
    figure('real.matrix.faults_per_second', m.faultsPerSecond, 'faults/s'), figure('real.matrix.mean_fault_us', m.meanUs, 'us'),
    figure('real.matrix.main_thread_cpu_us_per_fault', m.mainCpuUs, 'us'), figure('real.matrix.main_thread_wait_us_per_fault', m.mainWaitUs, 'us'),
    figure('real.matrix.commits_per_fault', m.commits, 'commits'), figure('real.matrix.fsyncs_per_fault', m.fsyncs, 'fsyncs'),
  ];
}

/**
 * GALLOCY_BENCH_REAL_PARTS=disk,tmpfs,matrix,etcd (the default: all) runs a
 * subset while iterating on one (etcd needs disk: its entry size comes from it).
 */
const PARTS = new Set((process.env['GALLOCY_BENCH_REAL_PARTS'] ?? 'disk,tmpfs,matrix,etcd').split(','));

/** Whether the real suite ran the etcd baseline in this process (the 'etcd' suite then does not run it again). */
let etcdDone = false;

export async function benchReal(quick: boolean): Promise<BenchResult[]> {
  const native = nativeAvailable();
  if (!native.ok) {
    console.error(`bench real: unavailable: ${native.reason}`);
    return [figure('real.available', 0, 'bool')];
  }
  // GALLOCY_BENCH_REAL_FAULTS: pages per fault series (longer series for a profile of the steady state).
  const faults = Number(process.env['GALLOCY_BENCH_REAL_FAULTS'] ?? NaN);
  const s = { ...(quick ? QUICK : FULL), ...(Number.isSafeInteger(faults) && faults > WARMUP ? { faults } : {}) };
  // Shared, noisy machines: say how busy this one was, to read the figures by.
  const load = (): string => os.loadavg().map((x) => x.toFixed(2)).join(' ');
  console.error(`bench real: load average before: ${load()} (${os.cpus().length} CPUs)`);
  const out: BenchResult[] = [figure('real.available', 1, 'bool')];
  /** p50 and p99 figures of a series; `name` has {} where the percentile goes. */
  const pct = (name: string, us: number[]): { p50: number; p99: number } => {
    const p = latencyPercentiles(us);
    out.push(figure(name.replace('{}', 'p50'), p.p50, 'us'), figure(name.replace('{}', 'p99'), p.p99, 'us'));
    return p;
  };
  try {
    const handoff = await faultHandoff(s.handoffSamples);
    out.push(figure('real.fault_handoff_p50_us', handoff.p50Us, 'us'), figure('real.fault_handoff_p99_us', handoff.p99Us, 'us'));
    const rtt = pct('real.loopback_rtt_{}_us', await loopbackRtt(s.rttSamples));
    // The fsync every Raft persist pays, on the disk the "disk" cluster ran on, and on tmpfs.
    const commitUs = new Map<string, number>();
    /** bench/bare-round.ts's p50 on each file system: the floor's parts run together by three processes. */
    const bareUs = new Map<string, number>();
    for (const [parent, sfx] of [[tmpdir(), ''], ['/dev/shm', '.tmpfs']] as const) {
      if (!existsSync(parent)) continue;
      const dir = mkdtempSync(join(parent, 'gallocy-bench-sqlite-'));
      try {
        commitUs.set(sfx, pct(`real.sqlite_commit_{}_us${sfx}`, sqliteCommits(dir, s.sqliteSamples)).p50);
        bareUs.set(sfx, pct(`real.bare_round_{}_us${sfx}`, await bareRound(dir, s.sqliteSamples)).p50);
        const floorPages = floorWalPages(dir);
        const store = raftStoreCommits(dir, s.sqliteSamples, floorPages.pageSize);
        pct(`real.raft_store_commit_{}_us${sfx}`, store.us);
        out.push(
          figure(`real.raft_store_cpu_us_per_commit${sfx}`, store.cpuUs, 'us of host CPU / commit'),
          figure(`real.raft_store_wal_pages_per_commit${sfx}`, store.walPages, 'WAL pages / commit (one ~5.5 KB entry and its commit index)'),
          figure(`real.sqlite_wal_pages_per_commit${sfx}`, floorPages.pages, 'WAL pages / commit (the floor: one 256-byte row)'),
        );
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
    /** Handoff + 2 round trips + 1 commit on the cluster's file system (the plain cluster's is tmpfs). */
    const floorOf = (sfx: string): number => handoff.p50Us + 2 * rtt.p50 + (commitUs.get(sfx.startsWith('.tmpfs') ? '.tmpfs' : '') ?? 0);

    const disk = PARTS.has('disk') ? await withCluster(tmpdir(), rootPagesFor(s), 'tls', (c) => runCluster(c, s, true)) : null;
    // TLS against plain TCP on tmpfs, where fsync does not drown the difference: plain, TLS, and
    // (full runs) plain and TLS again, so a change in the machine's load hits both alike.
    let shm: ClusterFigures | null = null;
    let plain: ClusterFigures | null = null;
    if (existsSync('/dev/shm') && PARTS.has('tmpfs')) {
      const rounds: ClusterFigures[][] = [[], []];
      for (let r = 0; r < (quick ? 1 : 2); r++) {
        rounds[0]!.push(await withCluster('/dev/shm', rootPagesFor(s), 'plain', (c) => runCluster(c, s, false)));
        rounds[1]!.push(await withCluster('/dev/shm', rootPagesFor(s), 'tls', (c) => runCluster(c, s, false)));
      }
      [plain, shm] = rounds.map(pooled) as [ClusterFigures, ClusterFigures];
    }
    for (const [f, sfx] of [[disk, ''], [shm, '.tmpfs'], [plain, '.tmpfs.plain']] as const) {
      if (f === null) continue;
      const floor = floorOf(sfx);
      out.push(figure(`real.floor_us${sfx}`, floor, 'us'));
      const read = pct(`real.remote_read_fault_{}_us${sfx}`, f.read.us);
      out.push(figure(`real.remote_read_fault_p50_over_floor${sfx}`, read.p50 / floor, 'ratio'));
      out.push(figure(`real.remote_read_fault_p99_over_floor${sfx}`, read.p99 / floor, 'ratio'));
      const bare = bareUs.get(sfx.startsWith('.tmpfs') ? '.tmpfs' : '');
      if (bare !== undefined) out.push(figure(`real.remote_read_fault_p50_over_bare_round${sfx}`, read.p50 / (handoff.p50Us + bare), 'ratio'));
      out.push(figure(`real.remote_read_fault_host_cpu_us${sfx}`, f.read.cpuUs, 'us'));
      // The same per fault, three hosts summed: their main threads' CPU, and the frames, socket writes and bytes they sent.
      for (const [name, series] of [['remote_read_fault', f.read], ['write_fault_invalidate_2', f.invalidate]] as const) {
        const sum = (k: Cost): number => ROLES.reduce((a, ro) => a + series.costs[ro][k], 0);
        out.push(figure(`real.${name}_main_thread_cpu_us${sfx}`, sum('cpu-main'), 'us'));
        out.push(figure(`real.${name}_frames${sfx}`, sum('frames'), 'frames'));
        out.push(figure(`real.${name}_socket_writes${sfx}`, sum('writes'), 'writes'));
        out.push(figure(`real.${name}_wire_bytes${sfx}`, sum('kbytes') * 1000, 'bytes'));
      }
      pct(`real.write_fault_no_readers_{}_us${sfx}`, f.write.us);
      const inval = pct(`real.write_fault_invalidate_2_{}_us${sfx}`, f.invalidate.us);
      out.push(figure(`real.write_fault_invalidate_2_p50_over_floor${sfx}`, inval.p50 / floor, 'ratio'));
      out.push(figure(`real.write_fault_invalidate_2_p99_over_floor${sfx}`, inval.p99 / floor, 'ratio'));
      if (sfx !== '.tmpfs.plain') {
        for (const [name, series] of [['remote_read', f.read], ['write_invalidate_2', f.invalidate]] as const) {
          for (const ro of ROLES) for (const st of STAGES) out.push(figure(`real.timeline.${name}.${ro}.${st}_us${sfx}`, series.timeline[ro][st], 'us'));
          for (const ro of ROLES) out.push(figure(`real.fsyncs_per_fault.${name}.${ro}${sfx}`, series.disk[ro].fsyncs, 'fsyncs'));
          printTimeline(`${name}${sfx}`, series, floor);
        }
      }
      // What each kind of fault needs from the company: the protocol, not the machine.
      out.push(figure(`real.commits_per_fault.remote_read${sfx}`, f.read.commits, 'commits'));
      out.push(figure(`real.commits_per_fault.write_no_readers${sfx}`, f.write.commits, 'commits'));
      out.push(figure(`real.commits_per_fault.write_invalidate_2${sfx}`, f.invalidate.commits, 'commits'));
      out.push(figure(`real.commits_per_second.1_client${sfx}`, f.commits1, 'commits/s'));
      out.push(figure(`real.commits_per_second.many_clients${sfx}`, f.commitsMany, 'commits/s'));
      out.push(figure(`real.leader_entries_per_fsync.1_client${sfx}`, f.entriesPerFsync1, 'entries'));
      out.push(figure(`real.leader_entries_per_fsync.many_clients${sfx}`, f.entriesPerFsyncMany, 'entries'));
      out.push(figure(`real.host_cpu_us_per_commit${sfx}`, f.commitCpuUs, 'us'));
      out.push(figure(`real.main_thread_cpu_us_per_commit${sfx}`, f.commitMainCpuUs, 'us'));
    }
    if (shm !== null && plain !== null) {
      const p50 = (us: number[]): number => latencyPercentiles(us).p50;
      out.push(figure('real.tls_over_plain.commits_per_second.1_client.tmpfs', shm.commits1 / plain.commits1, 'ratio'));
      out.push(figure('real.tls_over_plain.commits_per_second.many_clients.tmpfs', shm.commitsMany / plain.commitsMany, 'ratio'));
      out.push(figure('real.tls_over_plain.remote_read_fault_p50.tmpfs', p50(shm.read.us) / p50(plain.read.us), 'ratio'));
      out.push(figure('real.tls_over_plain.host_cpu_us_per_commit.tmpfs', shm.commitCpuUs / plain.commitCpuUs, 'ratio'));
    }
    if (disk?.held != null) {
      out.push(figure('real.held_access_ns_per_op', disk.held.heldNs, 'ns'), figure('real.typed_array_ns_per_op', disk.held.typedNs, 'ns'));
      out.push(figure('real.held_over_typed_array', disk.held.heldNs / disk.held.typedNs, 'ratio'));
    }
    if (PARTS.has('matrix')) out.push(...await benchMatrix());
    if (disk === null || !PARTS.has('etcd')) {
      console.error(`bench real: load average after: ${load()}`);
      return out;
    }
    // etcd, same entry size, same number of clients, after our hosts are gone (the CPUs are shared).
    const entryBytes = Math.round(disk.entryBytes ?? 0);
    out.push(figure('real.commit_entry_bytes', entryBytes, 'bytes'));
    const manyClients = HOSTS.length * THREADS;
    // Our disk cluster talks TLS: it is compared with etcd with peer TLS; etcd's plain peers give etcd's own TLS ratio.
    const etcd = await benchEtcd({ quick, valueBytes: Math.max(1, entryBytes), manyClients });
    const etcdTls = await benchEtcd({ quick, valueBytes: Math.max(1, entryBytes), manyClients, peerTls: true });
    etcdDone = true;
    out.push(...etcd, ...etcdTls);
    const rate = (from: BenchResult[], name: string): number | undefined => from.find((r) => r.name === name)?.value;
    const rates = (from: BenchResult[], sfx: string): [number | undefined, number | undefined] =>
      [rate(from, `etcd.puts_per_second.1_client${sfx}`), rate(from, `etcd.puts_per_second.${manyClients}_clients${sfx}`)];
    const [one, many] = rates(etcdTls, '.peer_tls');
    if (one !== undefined) out.push(figure('real.commits_per_second_over_etcd.1_client', disk.commits1 / one, 'ratio'));
    if (many !== undefined) out.push(figure('real.commits_per_second_over_etcd.many_clients', disk.commitsMany / many, 'ratio'));
    const [plainOne, plainMany] = rates(etcd, '');
    if (one !== undefined && plainOne !== undefined) out.push(figure('real.etcd_peer_tls_over_plain.puts_per_second.1_client', one / plainOne, 'ratio'));
    if (many !== undefined && plainMany !== undefined) out.push(figure('real.etcd_peer_tls_over_plain.puts_per_second.many_clients', many / plainMany, 'ratio'));
    console.error(`bench real: load average after: ${load()}`);
  } catch (e) {
    console.error(`bench real: failed: ${e instanceof Error ? e.message : String(e)}`);
    out.push(figure('real.failed', 1, 'bool'));
    process.exitCode = 1;
  }
  return out;
}

/**
 * The 'etcd' suite alone (--only=etcd): the same baseline with about the entry
 * size the real suite measures (mostly write-backs, each carrying a 4 KiB page
 * in base64). Skipped when the real suite already ran it with the measured size.
 */
export async function benchEtcdSuite(quick: boolean): Promise<BenchResult[]> {
  if (etcdDone) return [];
  return benchEtcd({ quick, valueBytes: 5000, manyClients: HOSTS.length * THREADS });
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  for (const r of await benchReal(process.argv.includes('--quick'))) console.log(JSON.stringify(r));
}
