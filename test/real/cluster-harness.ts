// Multi-process test harness for real mode: writes a cluster file into a temp
// folder, runs each host as its own `node bin/gallocy.js serve` process,
// watches them through GET /admin, and kills, restarts and stops them.
//
// Everything here waits by polling for a condition with a timeout; nothing
// sleeps and hopes. A timeout fails with what was last seen (every host's
// groups and app) and the tail of every host's log, so a failure on CI can be
// read without rerunning it.
//
// Cleanup is the caller's (`await cluster.cleanup()` in a finally), backed up
// by a process exit hook that SIGKILLs every host still running, so a failed
// or crashed test never leaves hosts behind holding ports.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { findRepoRoot } from '../../src/cli/repo-root.js';
import { fetchHostStatus } from '../../src/cli/status-command.js';
import { writeClusterCerts } from '../../src/real/certs.js';
import { loadCluster } from '../../src/real/cluster-file.js';
import type { AppRecord } from '../../src/real/app-protocol.js';
import type { GroupStatus, HostStatus } from '../../src/real/host-status.js';
import type { RegisterOp } from '../../src/check/register-model.js';

export const REPO = findRepoRoot(fileURLToPath(import.meta.url));
export const BIN = path.join(REPO, 'bin', 'gallocy.js');

/** The heap of every test cluster: the default page size, a root region of 4 pages. */
export const PAGE_SIZE = 4096;
export const ROOT_PAGES = 4;

/** How long a condition may take before a test fails: generous, for a loaded 2-core CI machine. */
export const WAIT_MS = 60_000;
/** SIGTERM, then this long before SIGKILL. */
const STOP_GRACE_MS = 10_000;
const POLL_MS = 150;

// ---- last-resort cleanup ----------------------------------------------------------------

const live = new Set<ChildProcess>();
const exitHooks: (() => void)[] = [];

/** Runs synchronously when this process exits, however it exits (a watchdog, an uncaught error). */
export function onExit(fn: () => void): void {
  exitHooks.push(fn);
}

process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL');
  for (const fn of exitHooks.splice(0)) {
    try {
      fn();
    } catch {
      // Cleanup is best effort here; the normal path cleans up properly.
    }
  }
});
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => process.exit(130)); // runs the exit hook above
}

/** Ends this process (running the exit hooks) if it is still running after ms: a hung test must not hang the suite. */
export function watchdog(name: string, ms: number): void {
  setTimeout(() => {
    console.error(`${name}: watchdog fired after ${ms / 1000} s`);
    process.exit(1);
  }, ms).unref();
}

// ---- ports and cluster files ------------------------------------------------------------

/**
 * n distinct free TCP ports on `host`, below the kernel's ephemeral range when
 * it leaves room: a port from that range, released and bound again a moment
 * later, can meanwhile become the source port of some outgoing connection
 * (the hosts' own reconnect attempts to a peer being restarted, say), and the
 * host would then fail to start with EADDRINUSE.
 */
export async function freePorts(n: number, host = '127.0.0.1'): Promise<number[]> {
  const [low] = ephemeralRange();
  const servers: Server[] = [];
  const listen = (s: Server, port: number): Promise<boolean> =>
    new Promise((resolve) => {
      s.once('error', () => resolve(false));
      s.listen(port, host, () => resolve(true));
    });
  try {
    for (let tries = 0; servers.length < n; tries++) {
      // Below the ephemeral range: random, so concurrent test processes rarely pick the same.
      const port = low > 12_000 && tries < 1000 ? 10_000 + Math.floor(Math.random() * (low - 10_000)) : 0;
      const s = createServer();
      if (await listen(s, port)) servers.push(s);
    }
    return servers.map((s) => (s.address() as { port: number }).port);
  } finally {
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  }
}

/** The kernel's ephemeral port range (Linux); elsewhere the usual default. */
function ephemeralRange(): [number, number] {
  try {
    const [lo, hi] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (Number.isInteger(lo) && Number.isInteger(hi)) return [lo!, hi!];
  } catch {
    // Not Linux.
  }
  return [32768, 60999];
}

export interface ClusterOptions {
  /** Names the temp folder and the cluster id. */
  name: string;
  hosts?: number;
  /** Owners per company (default: every host, so one company; null: leave it out of the file, to its default). */
  replication?: number | null;
  pages?: number;
  /**
   * Where each host listens (index i: host i + 1), as {ip, port, adminPort}.
   * Default: 127.0.0.1 on free ports.
   */
  endpoints?: { ip: string; port: number; adminPort: number }[];
  /** Command prefix that runs host `id`'s process (e.g. `ip netns exec NS`). */
  wrap?: (id: number) => string[];
  /** The cluster file's `leases` section (default: the cluster file's defaults). */
  leases?: { leaseMs?: number; retryMs?: number };
  /** Plain TCP between hosts (insecurePlainTcp: true); default mutual TLS with certificates made in the folder. */
  insecure?: boolean;
  /** The cluster file's `limits` section (the transport's limits on inbound connections). */
  limits?: Record<string, number>;
  /** The cluster file's `run` section. */
  run?: { deadlineS?: number; hostGoneS?: number };
  /** Where hosts keep their data (default ./data, in the temp folder). */
  dataDir?: string;
  /** The cluster file's coherence model (default: left out, so sequential). */
  coherence?: 'sequential' | 'release';
}

/** What a host runs besides the host itself. */
export interface HostRun {
  workload?: 'counter' | 'registers' | 'matrix' | 'false-sharing' | 'matrix-barrier' | 'locked-list';
  /** An application module (absolute path). */
  app?: string;
  threads?: number;
  totalThreads?: number;
  /** Record the workload's operations into this host's history file. */
  history?: boolean;
  /** Environment variables for the host's process, besides this one's. */
  env?: Record<string, string>;
  /** More flags for `serve` (--ops, --duration, --deadline ...). */
  args?: string[];
}

export interface HostFiles {
  id: number;
  address: string;
  admin: string;
  log: string;
  /** The process's own stdout and stderr (startup errors, crashes). */
  output: string;
  history: string;
}

interface Proc {
  child: ChildProcess;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  exited: { code: number | null; signal: NodeJS.Signals | null } | null;
  /** We killed or stopped it: its exit is no failure. */
  expected: boolean;
}

export class TestCluster {
  readonly hosts: HostFiles[];
  private readonly procs = new Map<number, Proc>();
  private cleaned = false;

  private constructor(
    readonly dir: string,
    readonly file: string,
    hosts: HostFiles[],
    private readonly wrap: (id: number) => string[],
  ) {
    this.hosts = hosts;
  }

  /**
   * A fresh cluster in a temp folder: 3 hosts, a small heap, and Raft timing
   * short enough for quick elections (50 ms ticks, elections after 1-2 s)
   * yet well above the pauses a loaded CI machine has.
   */
  static async create(o: ClusterOptions): Promise<TestCluster> {
    const n = o.hosts ?? o.endpoints?.length ?? 3;
    const dir = mkdtempSync(path.join(os.tmpdir(), `gallocy-${o.name}-`));
    if (!process.env['GALLOCY_TEST_KEEP']) onExit(() => rmSync(dir, { recursive: true, force: true }));
    let endpoints = o.endpoints;
    if (endpoints === undefined) {
      const ports = await freePorts(2 * n);
      endpoints = Array.from({ length: n }, (_, i) => ({ ip: '127.0.0.1', port: ports[2 * i]!, adminPort: ports[2 * i + 1]! }));
    }
    const hosts: HostFiles[] = endpoints.map((e, i) => ({
      id: i + 1,
      address: `${e.ip}:${e.port}`,
      admin: `${e.ip}:${e.adminPort}`,
      log: path.join(dir, `host-${i + 1}.log.jsonl`),
      output: path.join(dir, `host-${i + 1}.out`),
      history: path.join(dir, `host-${i + 1}.history.jsonl`),
    }));
    const file = path.join(dir, 'cluster.yaml');
    const settings = (): string[] => [
      ...(o.leases === undefined ? [] : ['leases:', ...Object.entries(o.leases).map(([k, v]) => `  ${k}: ${v}`)]),
      ...(o.limits === undefined ? [] : ['limits:', ...Object.entries(o.limits).map(([k, v]) => `  ${k}: ${v}`)]),
      ...(o.insecure === true
        ? ['insecurePlainTcp: true']
        : ['tls:', '  ca: ./certs/ca.crt', '  cert: ./certs/host-{id}.crt', '  key: ./certs/host-{id}.key', 'adminToken: ./certs/admin.token']),
    ];
    writeFileSync(file, [
      `name: ${o.name}`,
      `id: ${o.name}-${process.pid}`,
      'hosts:',
      ...hosts.flatMap((h) => [`  - id: ${h.id}`, `    address: ${h.address}`, `    admin: ${h.admin}`]),
      'heap:',
      `  pageSize: ${PAGE_SIZE}`,
      `  pages: ${o.pages ?? 64}`,
      `  rootPages: ${ROOT_PAGES}`,
      ...(o.replication === null ? [] : [`replication: ${o.replication ?? n}`]),
      ...(o.run === undefined ? [] : ['run:', ...Object.entries(o.run).map(([k, v]) => `  ${k}: ${v}`)]),
      ...(o.coherence === undefined ? [] : [`coherence: ${o.coherence}`]),
      ...settings(),
      'raft:',
      '  tickMs: 50',
      '  electionTicks: 20',
      '  heartbeatTicks: 2',
      `dataDir: ${o.dataDir ?? './data'}`,
      '',
    ].join('\n'));
    if (o.insecure !== true) await writeClusterCerts(loadCluster(file).cluster, path.join(dir, 'certs'), dir);
    return new TestCluster(dir, file, hosts, o.wrap ?? (() => []));
  }

  /** The header /admin, /metrics and /debug ask for (none for an insecure cluster, whose admin is loopback only). */
  adminHeaders(): Record<string, string> {
    const file = path.join(this.dir, 'certs', 'admin.token');
    return existsSync(file) ? { authorization: `Bearer ${readFileSync(file, 'utf8').trim()}` } : {};
  }

  /** Host `id`'s TLS files (absent for an insecure cluster). */
  tlsFiles(id: number): { ca: string; cert: string; key: string } {
    const d = path.join(this.dir, 'certs');
    return { ca: path.join(d, 'ca.crt'), cert: path.join(d, `host-${id}.crt`), key: path.join(d, `host-${id}.key`) };
  }

  get ids(): number[] {
    return this.hosts.map((h) => h.id);
  }

  host(id: number): HostFiles {
    const h = this.hosts.find((x) => x.id === id);
    if (h === undefined) throw new Error(`no host ${id} in this cluster`);
    return h;
  }

  /** Starts host `id` (again, after a kill: same data directory, logs appended). */
  start(id: number, run: HostRun = {}): void {
    const p = this.procs.get(id);
    if (p !== undefined && p.exited === null) throw new Error(`host ${id} is already running`);
    const h = this.host(id);
    const args = ['serve', '--cluster', this.file, '--host', String(id), '--log-file', h.log];
    if (run.workload !== undefined) args.push('--workload', run.workload);
    if (run.app !== undefined) args.push('--app', run.app);
    if (run.threads !== undefined) args.push('--threads', String(run.threads));
    if (run.totalThreads !== undefined) args.push('--total-threads', String(run.totalThreads));
    if (run.history) args.push('--history', h.history);
    args.push(...(run.args ?? []));
    const [cmd, ...rest] = [...this.wrap(id), process.execPath, BIN, ...args];
    const out = openSync(h.output, 'a');
    let child: ChildProcess;
    try {
      child = spawn(cmd!, rest, { cwd: REPO, stdio: ['ignore', out, out], env: { ...process.env, ...run.env } });
    } finally {
      closeSync(out);
    }
    live.add(child);
    const proc: Proc = { child, exited: null, expected: false, exit: Promise.resolve({ code: null, signal: null }) };
    proc.exit = new Promise((resolve) => {
      const ended = (code: number | null, signal: NodeJS.Signals | null): void => {
        if (proc.exited !== null) return;
        live.delete(child);
        proc.exited = { code, signal };
        resolve(proc.exited);
      };
      child.once('exit', ended);
      // Could not start at all (no such command): no 'exit' may follow.
      child.once('error', (err) => {
        writeFileSync(h.output, `spawn failed: ${err.message}\n`, { flag: 'a' });
        ended(null, null);
      });
    });
    this.procs.set(id, proc);
  }

  startAll(run: HostRun = {}): void {
    for (const id of this.ids) this.start(id, run);
  }

  /** kill -9: no shutdown at all, as a power cut would leave the data directory. */
  async kill(id: number): Promise<void> {
    const p = this.procs.get(id);
    if (p === undefined || p.exited !== null) return;
    p.expected = true;
    p.child.kill('SIGKILL');
    await p.exit;
  }

  /** Sends a signal (SIGSTOP, SIGCONT ...) to a running host. */
  signal(id: number, sig: NodeJS.Signals): void {
    const p = this.procs.get(id);
    if (p === undefined || p.exited !== null) throw new Error(`host ${id} is not running`);
    p.child.kill(sig);
  }

  /** Resolves with how host `id` exited, once it has; an exit awaited here is expected, no failure of waitFor. */
  exited(id: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    const p = this.procs.get(id);
    if (p === undefined) throw new Error(`host ${id} was never started`);
    p.expected = true;
    return p.exit;
  }

  /** SIGTERM, then SIGKILL if it has not exited after a grace period. */
  async stop(id: number): Promise<void> {
    const p = this.procs.get(id);
    if (p === undefined || p.exited !== null) return;
    p.expected = true;
    p.child.kill('SIGTERM');
    const t = setTimeout(() => p.child.kill('SIGKILL'), STOP_GRACE_MS);
    await p.exit;
    clearTimeout(t);
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.ids.map((id) => this.stop(id)));
  }

  /** Stops every host and deletes the folder (kept if GALLOCY_TEST_KEEP is set, for a look after a failure). */
  async cleanup(): Promise<void> {
    if (this.cleaned) return;
    this.cleaned = true;
    await this.stopAll();
    if (process.env['GALLOCY_TEST_KEEP']) console.error(`kept ${this.dir}`);
    else rmSync(this.dir, { recursive: true, force: true });
  }

  // ---- observing ----

  /** GET /admin of one host; null if it does not answer. */
  async status(id: number): Promise<HostStatus | null> {
    const token = this.adminHeaders().authorization?.slice('Bearer '.length);
    const r = await fetchHostStatus(id, this.host(id).admin, 2000, token);
    return r.ok && r.status !== undefined ? r.status : null;
  }

  async statuses(ids: number[] = this.ids): Promise<Map<number, HostStatus | null>> {
    const all = await Promise.all(ids.map(async (id) => [id, await this.status(id)] as const));
    return new Map(all);
  }

  /** Waits until every host's app is done and verified (`what` names the workload in the wait's message). */
  async allVerified(what: string): Promise<void> {
    await this.waitFor(`every host's ${what} app to be done and verified`, async () => {
      const st = await this.statuses();
      return this.ids.every((id) => {
        const app = appOf(st.get(id), id);
        return app !== null && app.state === 'done' && app.verified === true;
      });
    });
  }

  /**
   * Polls `probe` until it returns a value (anything but undefined, null or
   * false) and returns it. Fails after timeoutMs, or as soon as a host exits
   * that nobody stopped, or the probe throws, with the hosts' state and logs.
   */
  async waitFor<T>(what: string, probe: () => Promise<T | undefined | null | false>, timeoutMs = WAIT_MS): Promise<T> {
    const started = Date.now();
    for (;;) {
      const crashed = [...this.procs.entries()].filter(([, p]) => p.exited !== null && !p.expected);
      if (crashed.length > 0) {
        const [id, p] = crashed[0]!;
        throw new Error(`host ${id} exited by itself (code ${p.exited!.code}, signal ${p.exited!.signal}) while waiting for ${what}\n${await this.report()}`);
      }
      let v: T | undefined | null | false;
      try {
        v = await probe();
      } catch (err) {
        throw new Error(`${err instanceof Error ? err.message : String(err)} (while waiting for ${what})\n${await this.report()}`);
      }
      if (v !== undefined && v !== null && v !== false) return v;
      if (Date.now() - started > timeoutMs) {
        throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}\n${await this.report()}`);
      }
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  }

  /** Waits until all of `hosts` follow one leader of `group` at one term; returns it. */
  leaderOf(group: number, hosts: number[] = this.ids): Promise<Leadership> {
    return this.waitFor(`hosts ${hosts.join(', ')} to agree on a leader of group ${group}`, async () =>
      agreedLeader(await this.statuses(hosts), group, hosts));
  }

  /** Waits until every thread of `hosts`' apps has ended; fails at once if an app failed. */
  async threadsEnded(hosts: number[], threadsPerHost: number): Promise<void> {
    await this.waitFor(`the app threads of hosts ${hosts.join(', ')} to end`, async () => {
      const st = await this.statuses(hosts);
      return hosts.every((id) => appOf(st.get(id), id)?.threadsDone === threadsPerHost);
    });
  }

  /** Every host's groups and app as one line each, then the tail of every host's log and output. */
  async report(logLines = 25): Promise<string> {
    const st = await this.statuses();
    const lines = ['hosts now:'];
    for (const [id, s] of st) lines.push(`  host ${id}: ${s === null ? 'not answering' : describeStatus(s)}`);
    for (const h of this.hosts) {
      lines.push(`--- host ${h.id} log (last ${logLines} lines) ---`, ...tail(h.log, logLines));
      const out = tail(h.output, 10);
      if (out.length > 0) lines.push(`--- host ${h.id} stdout/stderr ---`, ...out);
    }
    return lines.join('\n');
  }

  /** The JSON lines of host `id`'s log. */
  logEntries(id: number): Record<string, unknown>[] {
    const f = this.host(id).log;
    if (!existsSync(f)) return [];
    return readFileSync(f, 'utf8').split('\n').filter((l) => l.trim() !== '').flatMap((l) => {
      try {
        return [JSON.parse(l) as Record<string, unknown>];
      } catch {
        return []; // a line cut short by kill -9
      }
    });
  }

  /** Every host's history records, merged (a host killed before its first batch has none). */
  histories(ids: number[] = this.ids): HistoryRecord[] {
    return ids.flatMap((id) => readHistory(this.host(id).history));
  }
}

function tail(file: string, n: number): string[] {
  if (!existsSync(file)) return [];
  const lines = readFileSync(file, 'utf8').split('\n').filter((l) => l !== '');
  return lines.slice(-n);
}

export function describeStatus(s: HostStatus): string {
  const groups = s.groups.map((g) => `g${g.group} ${g.role} t${g.term} lead ${g.lead} commit ${g.commit}`).join('; ');
  const app = s.app === null ? 'no app' : `app ${s.app.state} ${s.app.threadsDone}/${s.app.threads} ops ${s.app.ops}${s.app.error ? ` error: ${s.app.error}` : ''}`;
  return `${groups} | ${app}`;
}

// ---- reading statuses -------------------------------------------------------------------

/** A host's app status (null: no answer or no app); throws if the app failed, so a wait fails at once, with the reason. */
export function appOf(s: HostStatus | null | undefined, id: number): NonNullable<HostStatus['app']> | null {
  if (s === null || s === undefined || s.app === null) return null;
  if (s.app.state === 'failed') throw new Error(`host ${id}'s app failed: ${s.app.error}`);
  return s.app;
}

export function groupOf(s: HostStatus | null | undefined, group: number): GroupStatus | undefined {
  return s?.groups.find((g) => g.group === group);
}

export interface Leadership {
  leader: number;
  term: number;
}

/**
 * The leader and term every one of `hosts` reports for `group`, if they all
 * answer, all name the same leader at the same term, and that leader (if it
 * is among them) says it leads at that term; else null.
 */
export function agreedLeader(st: Map<number, HostStatus | null>, group: number, hosts: number[]): Leadership | null {
  let seen: Leadership | null = null;
  for (const id of hosts) {
    const g = groupOf(st.get(id), group);
    if (g === undefined || g.lead === 0) return null;
    if (seen === null) seen = { leader: g.lead, term: g.term };
    else if (g.lead !== seen.leader || g.term !== seen.term) return null;
  }
  if (seen === null) return null;
  if (hosts.includes(seen.leader) && groupOf(st.get(seen.leader), group)?.role !== 'leader') return null;
  return seen;
}

// ---- histories --------------------------------------------------------------------------

/** A line of a --history file: times on the reference host's timeline, err the mapping's uncertainty (µs). */
export type HistoryRecord = AppRecord & { host: number; err?: number };

/** A host's --history file; a last line cut short by kill -9 is dropped, anything else malformed throws. */
export function readHistory(file: string): HistoryRecord[] {
  if (!existsSync(file)) return [];
  const lines = readFileSync(file, 'utf8').split('\n');
  const out: HistoryRecord[] = [];
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    try {
      out.push(JSON.parse(line) as HistoryRecord);
    } catch (err) {
      const last = lines.slice(i + 1).every((l) => l.trim() === '');
      if (!last) throw new Error(`${file}:${i + 1}: not a JSON line: ${String(err)}`);
    }
  });
  return out;
}

/**
 * A registers history as the checker's operations: one register per address
 * (its key), a read of 0 is a read of the initial value (null). Every record
 * is a completed operation; a host killed mid-operation left no record of it,
 * which the checker reads as an operation that never happened (for a write
 * that did take effect, a later read of its unique value would then be
 * unexplained; the registers test does not kill hosts).
 */
export function registerOps(records: readonly HistoryRecord[], addresses: readonly number[]): RegisterOp[] {
  const known = new Set(addresses);
  return records.map((r): RegisterOp => {
    if (!known.has(r.addr)) throw new Error(`history: host ${r.host} thread ${r.thread} touched ${r.addr}, which is no register (${addresses.join(', ')})`);
    const key = String(r.addr);
    // The operation happened somewhere within [call - err, ret + err] of the one timeline.
    const base = { client: r.thread, call: r.call - (r.err ?? 0), ret: r.ret + (r.err ?? 0) };
    switch (r.kind) {
      case 'write':
        return { ...base, input: { kind: 'write', key, value: r.value }, output: { kind: 'write' } };
      case 'read':
        return { ...base, input: { kind: 'read', key }, output: { kind: 'read', value: r.value === 0 ? null : r.value } };
      default:
        throw new Error(`history: a registers workload does no ${r.kind} (host ${r.host} thread ${r.thread})`);
    }
  });
}

// ---- the adder app: a counter that runs until told to stop ------------------------------

/** Writes an application module (plain ES module lines) into `dir`; returns its path. */
export function writeApp(dir: string, name: string, lines: string[]): string {
  const file = path.join(dir, name);
  writeFileSync(file, lines.join('\n') + '\n');
  return file;
}

/**
 * An app whose threads add 1 to the root word (atomically) until `stopFile`
 * exists, logging the old values they saw in batches ('adds', in order) and
 * then how many adds they did ('adder-done'). The built-in counter is over in
 * well under a second; this one lasts as long as a test needs it to, across
 * kills, restarts and partitions. A host's log is written synchronously, so a
 * host that is never killed logs every add; a killed one may lose a batch.
 */
export function writeAdderApp(dir: string, stopFile: string): string {
  return writeApp(dir, 'adder.mjs', [
    "import { existsSync } from 'node:fs';",
    `const stopFile = ${JSON.stringify(stopFile)};`,
    'const sleeper = new Int32Array(new SharedArrayBuffer(4));',
    'export default function (gallocy) {',
    '  let olds = [];',
    '  let count = 0;',
    '  while (!existsSync(stopFile)) {',
    '    olds.push(Atomics.add(gallocy.u32, 0, 1));',
    '    count++;',
    "    if (olds.length === 25) { gallocy.log('adds', { olds }); olds = []; }",
    '    Atomics.wait(sleeper, 0, 0, 1); // a breath between adds, so other hosts get the page too',
    '  }',
    "  gallocy.log('adds', { olds });",
    "  gallocy.log('adder-done', { count });",
    '}',
  ]);
}

/** An app whose one thread logs the root word ('counter-word', value). */
export function writeReaderApp(dir: string): string {
  return writeApp(dir, 'read-word.mjs', [
    'export default function (gallocy) {',
    "  gallocy.log('counter-word', { value: Atomics.load(gallocy.u32, 0) });",
    '}',
  ]);
}

/**
 * The old values the adder threads of `hosts` saw, sorted, and what is wrong
 * with them: a thread whose log is incomplete (fewer values than adds), a
 * thread whose values do not rise, or a value two adds both saw. For hosts
 * never killed none of these may happen: every add they saw the result of
 * rests on durable writes (a page is written back and committed before
 * another host gets it), so each add sees a value no other add saw.
 */
export function adderOlds(c: TestCluster, hosts: number[], threadsPerHost: number): { olds: number[]; problems: string[] } {
  const problems: string[] = [];
  const olds: number[] = [];
  for (const id of hosts) {
    const log = c.logEntries(id);
    const done = log.filter((e) => e['event'] === 'adder-done');
    if (done.length !== threadsPerHost) problems.push(`host ${id}: ${done.length} threads logged their end, expected ${threadsPerHost}`);
    for (const d of done) {
      const thread = d['thread'];
      const seen = log.filter((e) => e['event'] === 'adds' && e['thread'] === thread).flatMap((e) => e['olds'] as number[]);
      if (seen.length !== d['count']) problems.push(`host ${id} thread ${String(thread)}: ${seen.length} old values logged for ${String(d['count'])} adds`);
      const drop = seen.findIndex((v, i) => i > 0 && v <= seen[i - 1]!);
      if (drop > 0) problems.push(`host ${id} thread ${String(thread)}: add ${drop} saw ${seen[drop]}, after ${seen[drop - 1]}`);
      olds.push(...seen);
    }
  }
  olds.sort((a, b) => a - b);
  const repeated = [...new Set(olds.filter((v, i) => i > 0 && olds[i - 1] === v))];
  if (repeated.length > 0) problems.push(`old values two adds both saw (a write observed, then lost): ${repeated.slice(0, 10).join(', ')}`);
  return { olds, problems };
}

// ---- the CLI ----------------------------------------------------------------------------

/** Runs `node bin/gallocy.js ARGS` to its end. */
export function runCli(args: string[], timeoutMs = 30_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
    live.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const t = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`gallocy ${args.join(' ')}: no exit after ${timeoutMs} ms`));
    }, timeoutMs);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(t);
      live.delete(child);
      resolve({ code, stdout, stderr });
    });
  });
}
