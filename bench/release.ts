// Sequential vs release consistency on the synchronising workloads, side by
// side in one run: messages per memory operation (all that the operations
// cause, and by protocol: the page protocol, locks and barriers, Raft
// replication), page faults per operation, and completion time, in the
// simulator. The window is the workload's: from the first to the last
// application-thread event. Raft heartbeats (and elections) come with time,
// not with operations: they are counted apart, so a run that finishes sooner
// is not charged less for them alone. Goal (issue 13): release needs at least 5x fewer
// messages on false sharing.
import { pathToFileURL } from 'node:url';
import { runSeed } from '../src/sim/run.js';
import { scenarioSchema } from '../src/sim/scenario.js';
import { figure } from './result.js';
import type { BenchResult } from './result.js';

type Model = 'sequential' | 'release';

const PAGE = new Set(['acquire', 'grant', 'refuse', 'revoke', 'revoked', 'release', 'released', 'fetch', 'page', 'diff', 'diffed']);
const SYNC = /^(lock-|barrier-|sync-refuse)/;
const RAFT = new Set(['app', 'appResp', 'snap']);
const IDLE = new Set(['heartbeat', 'heartbeatResp', 'vote', 'voteResp', 'preVote', 'preVoteResp', 'timeoutNow']);

export interface ModelFigures {
  ops: number;
  messages: number;
  page: number;
  sync: number;
  raft: number;
  /** Heartbeats and elections in the window. */
  idle: number;
  faults: number;
  completionS: number;
}

const WORKLOADS: Record<string, Record<string, number>> = {
  'false-sharing': { rounds: 40, threadsPerLock: 1, computeUs: 200 },
  'matrix-barrier': { n: 8, iterations: 2, computeUsPerRow: 200 },
};

/** One run of `workload` on 3 hosts x 2 threads, a fixed 0.5 ms network and instant disks. */
export function measure(workload: string, coherence: Model, seed: number, quick: boolean): ModelFigures {
  const options = { ...WORKLOADS[workload]! };
  if (quick && 'rounds' in options) options['rounds'] = 10;
  const scenario = scenarioSchema.parse({
    name: `bench-${workload}-${coherence}`, durationS: 120, hosts: 3,
    network: { latency: { minMs: 0.5, meanMs: 0.5, maxMs: 0.5 } },
    disk: { syncMs: { minMs: 0, meanMs: 0, maxMs: 0 } },
    dsm: { coherence, heap: { pageSize: 4096, pages: 64, rootPages: 2 }, workload, workloadOptions: options, threadsPerHost: 2 },
  });
  const events: { t: number; kind: string }[] = [];
  let first = Infinity;
  let last = -Infinity;
  const r = runSeed(scenario, seed, {
    traceSink: (line) => {
      const e = JSON.parse(line) as { t: number; kind: string };
      events.push({ t: e.t, kind: e.kind });
      if (e.kind.startsWith('thread-')) {
        first = Math.min(first, e.t);
        last = Math.max(last, e.t);
      }
    },
  });
  if (r.violation !== null) throw new Error(`bench release: ${workload} under ${coherence}, seed ${seed}: ${r.violation.invariant}: ${r.violation.message}`);
  if (r.stats['verified'] !== 1) throw new Error(`bench release: ${workload} under ${coherence}, seed ${seed} did not verify`);
  const f: ModelFigures = { ops: r.stats['accesses'] ?? 0, messages: 0, page: 0, sync: 0, raft: 0, idle: 0, faults: 0, completionS: (last - first) / 1e6 };
  for (const e of events) {
    if (e.t < first || e.t > last) continue;
    const page = PAGE.has(e.kind);
    const sync = SYNC.test(e.kind);
    const raft = RAFT.has(e.kind);
    if (page) f.page++;
    if (sync) f.sync++;
    if (raft) f.raft++;
    if (page || sync || raft) f.messages++;
    if (IDLE.has(e.kind)) f.idle++;
    if (e.kind === 'thread-wait') f.faults++;
  }
  return f;
}

export function benchRelease(quick: boolean): BenchResult[] {
  const out: BenchResult[] = [];
  const seeds = quick ? [1] : [1, 2, 3];
  for (const workload of Object.keys(WORKLOADS)) {
    const per: Record<Model, ModelFigures[]> = { sequential: [], release: [] };
    // Alternate the models seed by seed, so both see the same machine.
    for (const seed of seeds) for (const m of ['sequential', 'release'] as const) per[m].push(measure(workload, m, seed, quick));
    const sum = (m: Model, k: keyof ModelFigures): number => per[m].reduce((a, f) => a + f[k], 0);
    for (const m of ['sequential', 'release'] as const) {
      const ops = sum(m, 'ops');
      out.push(figure(`release.sim.${workload}.${m}.messages_per_op`, sum(m, 'messages') / ops, 'messages / memory op'));
      out.push(figure(`release.sim.${workload}.${m}.page_messages_per_op`, sum(m, 'page') / ops, 'page-protocol messages / memory op'));
      out.push(figure(`release.sim.${workload}.${m}.sync_messages_per_op`, sum(m, 'sync') / ops, 'lock and barrier messages / memory op'));
      out.push(figure(`release.sim.${workload}.${m}.raft_messages_per_op`, sum(m, 'raft') / ops, 'raft replication messages / memory op'));
      out.push(figure(`release.sim.${workload}.${m}.heartbeats_per_op`, sum(m, 'idle') / ops, 'raft heartbeats and elections in the window / memory op'));
      out.push(figure(`release.sim.${workload}.${m}.faults_per_op`, sum(m, 'faults') / ops, 'page faults / memory op'));
      out.push(figure(`release.sim.${workload}.${m}.completion_s`, sum(m, 'completionS') / seeds.length, 'simulated s (mean)'));
    }
    out.push(figure(`release.sim.${workload}.messages_sequential_over_release`, sum('sequential', 'messages') / sum('sequential', 'ops') / (sum('release', 'messages') / sum('release', 'ops')), 'ratio (goal on false-sharing: >= 5)'));
    out.push(figure(`release.sim.${workload}.page_messages_sequential_over_release`, sum('sequential', 'page') / sum('sequential', 'ops') / (sum('release', 'page') / sum('release', 'ops')), 'ratio'));
  }
  return out;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  for (const r of benchRelease(process.argv.includes('--quick'))) console.log(JSON.stringify(r));
}
