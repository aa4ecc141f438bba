// Sequential vs release consistency on the synchronising workloads, side by
// side in one run: messages per memory operation (all that the operations
// cause, and by protocol: the page protocol, locks and barriers, Raft
// replication), page faults per operation, and completion time, in the
// simulator. The window is the workload's: from the first to the last
// application-thread event. Raft heartbeats (and elections) come with time,
// not with operations: they are counted apart, so a run that finishes sooner
// is not charged less for them alone; nor are a host's messages to itself,
// which real hosts deliver in-process. Goal (issue 13): release needs at least 5x fewer
// messages on false sharing.
import { pathToFileURL } from 'node:url';
import { nativeAvailable } from '../src/real/native-memory.js';
import { runSeed } from '../src/sim/run.js';
import { scenarioSchema } from '../src/sim/scenario.js';
import { commitNotices, type Delivery, isLocal, messageCauses } from './release-breakdown.js';
import { figure } from './result.js';
import type { BenchResult } from './result.js';

type Model = 'sequential' | 'release';

export const PAGE = new Set(['acquire', 'grant', 'refuse', 'revoke', 'revoked', 'release', 'released', 'fetch', 'page', 'diff', 'diffed']);
const SYNC = /^(lock-|barrier-|host-record|sync-refuse)/;
export const RAFT = new Set(['app', 'appResp', 'snap']);
const IDLE = new Set(['heartbeat', 'heartbeatResp', 'vote', 'voteResp', 'preVote', 'preVoteResp', 'timeoutNow']);

export interface ModelFigures {
  ops: number;
  messages: number;
  page: number;
  sync: number;
  raft: number;
  /** Heartbeats and elections in the window. */
  idle: number;
  /** A host's protocol messages to itself in the window (not counted in the others: no network carries them). */
  local: number;
  faults: number;
  completionS: number;
  /** The window's protocol messages and heartbeats by kind, and by cause (release-breakdown.ts). */
  kinds: Record<string, number>;
  causes: Record<string, number>;
}

const LATENCY_US = 500;

const WORKLOADS: Record<string, Record<string, number>> = {
  'false-sharing': { rounds: 40, threadsPerLock: 1, computeUs: 200 },
  'matrix-barrier': { n: 8, iterations: 2, computeUsPerRow: 200 },
};

/** One run of `workload` on 3 hosts x 2 threads, a fixed 0.5 ms network and instant disks; `scale` multiplies its rounds. */
export function measure(workload: string, coherence: Model, seed: number, quick: boolean, scale = 1): ModelFigures {
  const options = { ...WORKLOADS[workload]! };
  if (quick && 'rounds' in options) options['rounds'] = 10;
  if ('rounds' in options) options['rounds'] = options['rounds']! * scale;
  const scenario = scenarioSchema.parse({
    name: `bench-${workload}-${coherence}`, durationS: 120, hosts: 3,
    network: { latency: { minMs: LATENCY_US / 1000, meanMs: LATENCY_US / 1000, maxMs: LATENCY_US / 1000 } },
    disk: { syncMs: { minMs: 0, meanMs: 0, maxMs: 0 } },
    dsm: { coherence, heap: { pageSize: 4096, pages: 64, rootPages: 2 }, workload, workloadOptions: options, threadsPerHost: 2 },
  });
  const events: Delivery[] = [];
  let first = Infinity;
  let last = -Infinity;
  const r = runSeed(scenario, seed, {
    traceSink: (line) => {
      const e = JSON.parse(line) as Delivery;
      events.push(e);
      if (e.kind.startsWith('thread-')) {
        first = Math.min(first, e.t);
        last = Math.max(last, e.t);
      }
    },
  });
  if (r.violation !== null) throw new Error(`bench release: ${workload} under ${coherence}, seed ${seed}: ${r.violation.invariant}: ${r.violation.message}`);
  if (r.stats['verified'] !== 1) throw new Error(`bench release: ${workload} under ${coherence}, seed ${seed} did not verify`);
  const f: ModelFigures = {
    ops: r.stats['accesses'] ?? 0, messages: 0, page: 0, sync: 0, raft: 0, idle: 0, local: 0, faults: 0, completionS: (last - first) / 1e6,
    kinds: {}, causes: messageCauses(events, first, last, LATENCY_US),
  };
  // Heartbeats that tell a new commit index carry what an empty append did: replication, not idle.
  const notices = commitNotices(events);
  for (const e of events) {
    if (e.t < first || e.t > last) continue;
    if (e.kind === 'thread-wait') f.faults++;
    if (isLocal(e)) {
      f.local++;
      continue;
    }
    const page = PAGE.has(e.kind);
    const sync = SYNC.test(e.kind);
    const raft = RAFT.has(e.kind) || notices.has(e);
    if (page) f.page++;
    if (sync) f.sync++;
    if (raft) f.raft++;
    if (page || sync || raft) f.messages++;
    const idle = IDLE.has(e.kind) && !raft;
    if (idle) f.idle++;
    if (page || sync || raft || idle) f.kinds[e.kind] = (f.kinds[e.kind] ?? 0) + 1;
  }
  return f;
}

export async function benchRelease(quick: boolean): Promise<BenchResult[]> {
  return [...benchReleaseSim(quick), ...(await benchReleaseReal(quick))];
}

export function benchReleaseSim(quick: boolean): BenchResult[] {
  const out: BenchResult[] = [];
  const seeds = quick ? [1] : [1, 2, 3];
  for (const workload of Object.keys(WORKLOADS)) {
    const per: Record<Model, ModelFigures[]> = { sequential: [], release: [] };
    // Alternate the models seed by seed, so both see the same machine.
    for (const seed of seeds) for (const m of ['sequential', 'release'] as const) per[m].push(measure(workload, m, seed, quick));
    const sum = (m: Model, k: Exclude<keyof ModelFigures, 'kinds' | 'causes'>): number => per[m].reduce((a, f) => a + f[k], 0);
    for (const m of ['sequential', 'release'] as const) {
      const ops = sum(m, 'ops');
      out.push(figure(`release.sim.${workload}.${m}.messages_per_op`, sum(m, 'messages') / ops, 'messages / memory op'));
      out.push(figure(`release.sim.${workload}.${m}.page_messages_per_op`, sum(m, 'page') / ops, 'page-protocol messages / memory op'));
      out.push(figure(`release.sim.${workload}.${m}.sync_messages_per_op`, sum(m, 'sync') / ops, 'lock and barrier messages / memory op'));
      out.push(figure(`release.sim.${workload}.${m}.raft_messages_per_op`, sum(m, 'raft') / ops, 'raft replication messages / memory op'));
      out.push(figure(`release.sim.${workload}.${m}.heartbeats_per_op`, sum(m, 'idle') / ops, 'raft heartbeats and elections in the window / memory op'));
      out.push(figure(`release.sim.${workload}.${m}.local_messages_per_op`, sum(m, 'local') / ops, "a host's messages to itself / memory op (not in messages_per_op)"));
      out.push(figure(`release.sim.${workload}.${m}.faults_per_op`, sum(m, 'faults') / ops, 'page faults / memory op'));
      out.push(figure(`release.sim.${workload}.${m}.completion_s`, sum(m, 'completionS') / seeds.length, 'simulated s (mean)'));
      for (const by of ['kinds', 'causes'] as const) {
        const totals: Record<string, number> = {};
        for (const f of per[m]) for (const [k, n] of Object.entries(f[by])) totals[k] = (totals[k] ?? 0) + n;
        const label = by === 'kinds' ? 'by_kind' : 'by_cause';
        for (const k of Object.keys(totals).sort()) out.push(figure(`release.sim.${workload}.${m}.${label}.${k}`, totals[k]! / seeds.length, 'messages in the window per run (mean)'));
      }
    }
    out.push(figure(`release.sim.${workload}.messages_sequential_over_release`, sum('sequential', 'messages') / sum('sequential', 'ops') / (sum('release', 'messages') / sum('release', 'ops')), 'ratio (goal on false-sharing: >= 5)'));
    out.push(figure(`release.sim.${workload}.page_messages_sequential_over_release`, sum('sequential', 'page') / sum('sequential', 'ops') / (sum('release', 'page') / sum('release', 'ops')), 'ratio'));
    if ('rounds' in WORKLOADS[workload]!) out.push(...steadyState(workload, seeds, quick, per));
  }
  return out;
}

/**
 * What one more operation costs, without a run's fixed start and end (first grants and fetches,
 * the last releases' publications): the same seeds at twice the rounds, and the difference in
 * messages over the difference in operations.
 */
function steadyState(workload: string, seeds: number[], quick: boolean, once: Record<Model, ModelFigures[]>): BenchResult[] {
  const perOp: Record<Model, number> = { sequential: 0, release: 0 };
  for (const m of ['sequential', 'release'] as const) {
    const twice = seeds.map((seed) => measure(workload, m, seed, quick, 2));
    const total = (fs: ModelFigures[], k: 'messages' | 'ops'): number => fs.reduce((a, f) => a + f[k], 0);
    perOp[m] = (total(twice, 'messages') - total(once[m], 'messages')) / (total(twice, 'ops') - total(once[m], 'ops'));
  }
  const unit = 'messages / extra memory op (runs at 1x and 2x the rounds)';
  const out = [
    figure(`release.sim.${workload}.sequential.steady_messages_per_op`, perOp.sequential, unit),
    figure(`release.sim.${workload}.release.steady_messages_per_op`, perOp.release, unit),
  ];
  // No ratio when release's extra operations cost no message at all (it would be infinite).
  if (perOp.release > 0) out.push(figure(`release.sim.${workload}.steady_messages_sequential_over_release`, perOp.sequential / perOp.release, 'ratio'));
  return out;
}


// ---- three real hosts on loopback -------------------------------------------

/** Sums a Prometheus counter over its label sets. */
function counter(text: string, name: string): number {
  let sum = 0;
  for (const line of text.split('\n')) if (line.startsWith(name) && !line.startsWith('#')) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  return sum;
}

/** The same workloads on three `gallocy serve` processes (plain TCP on loopback): messages and faults per op, wall time to every host's verdict. */
export async function measureReal(workload: string, coherence: Model, quick: boolean): Promise<ModelFigures & { verified: boolean }> {
  const { spawn } = await import('node:child_process');
  const { mkdtempSync, rmSync, writeFileSync, readFileSync, existsSync } = await import('node:fs');
  const { createServer } = await import('node:net');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const freePort = (): Promise<number> => new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
  const dir = mkdtempSync(join(tmpdir(), 'gallocy-bench-release-'));
  const ports = await Promise.all([1, 2, 3, 4, 5, 6].map(() => freePort()));
  const cluster = {
    name: 'bench-release', id: `bench-release-${workload}-${coherence}`,
    hosts: [1, 2, 3].map((id, i) => ({ id, address: `127.0.0.1:${ports[2 * i]}`, admin: `127.0.0.1:${ports[2 * i + 1]}` })),
    heap: { pageSize: 4096, pages: 64, rootPages: 4 }, replication: 3, coherence,
    dataDir: join(dir, 'data'), insecurePlainTcp: true,
  };
  const file = join(dir, 'cluster.yaml');
  writeFileSync(file, JSON.stringify(cluster));
  const options = { ...WORKLOADS[workload]! };
  if (quick && 'rounds' in options) options['rounds'] = 10;
  const flags = Object.entries(options).flatMap(([k, v]) => ['--option', `${k}=${v}`]);
  const root = join(import.meta.dirname, '..', '..');
  const start = performance.now();
  const procs = [1, 2, 3].map((id) => spawn(process.execPath, [
    join(root, 'bin', 'gallocy.js'), 'serve', '--cluster', file, '--host', String(id), '--workload', workload, '--threads', '2', ...flags,
    '--deadline', '120', '--log-file', join(dir, `h${id}.log`),
  ], { stdio: ['ignore', 'ignore', 'ignore'] }));
  const metrics = async (i: number): Promise<string> => {
    try {
      return await (await fetch(`http://127.0.0.1:${ports[2 * i + 1]}/metrics`)).text();
    } catch {
      return '';
    }
  };
  const verified = (id: number): boolean => existsSync(join(dir, `h${id}.log`)) && readFileSync(join(dir, `h${id}.log`), 'utf8').includes('"app-verified"');
  let done = false;
  let texts: string[] = [];
  while (performance.now() - start < 110_000) {
    await sleep(200);
    if ([1, 2, 3].every(verified)) {
      done = true;
      texts = await Promise.all([0, 1, 2].map(metrics));
      break;
    }
  }
  const wallS = (performance.now() - start) / 1000;
  for (const p of procs) p.kill('SIGTERM');
  await sleep(500);
  rmSync(dir, { recursive: true, force: true });
  const sum = (name: string): number => texts.reduce((a, t) => a + counter(t, name), 0);
  const ops = opsOf(workload, options);
  return {
    ops, messages: sum('gallocy_messages_sent_total'), page: 0, sync: 0, raft: 0, idle: 0, local: 0, faults: sum('gallocy_faults_total'), completionS: wallS,
    kinds: {}, causes: {}, verified: done,
  };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Memory operations the workload's threads do on 3 hosts x 2 threads (false-sharing: a read and a write per round). */
function opsOf(workload: string, o: Record<string, number>): number {
  if (workload === 'false-sharing') return 6 * (o['rounds'] ?? 0) * 2;
  const n = o['n'] ?? 0;
  // matrix-barrier: each thread's rows, reading B and A, writing C, per iteration; a lower bound of n^3 reads.
  return (o['iterations'] ?? 1) * n * n * n;
}

export async function benchReleaseReal(quick: boolean): Promise<BenchResult[]> {
  const native = nativeAvailable();
  if (!native.ok) {
    console.error(`bench release: real mode unavailable: ${native.reason}`);
    return [figure('release.real.available', 0, 'bool')];
  }
  const out: BenchResult[] = [];
  for (const workload of Object.keys(WORKLOADS)) {
    const per: Partial<Record<Model, ModelFigures & { verified: boolean }>> = {};
    for (const m of ['sequential', 'release'] as const) per[m] = await measureReal(workload, m, quick);
    for (const m of ['sequential', 'release'] as const) {
      const f = per[m]!;
      if (!f.verified) {
        out.push(figure(`release.real.${workload}.${m}.verified`, 0, 'bool'));
        continue;
      }
      out.push(figure(`release.real.${workload}.${m}.messages_per_op`, f.messages / f.ops, 'frames sent (all hosts, start to verdict) / memory op'));
      out.push(figure(`release.real.${workload}.${m}.faults_per_op`, f.faults / f.ops, 'page faults / memory op'));
      out.push(figure(`release.real.${workload}.${m}.completion_s`, f.completionS, 'wall s, start to every verdict'));
    }
    if (per.sequential?.verified && per.release?.verified) {
      out.push(figure(`release.real.${workload}.messages_sequential_over_release`, (per.sequential.messages / per.sequential.ops) / (per.release.messages / per.release.ops), 'ratio'));
    }
  }
  return out;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  for (const r of await benchRelease(process.argv.includes('--quick'))) console.log(JSON.stringify(r));
}
