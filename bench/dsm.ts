// The shared memory in the simulator: how fast dsm-chaos runs on one core
// (5 hosts, 2 companies), how many page faults it serves per wall second, and
// how long a read fault takes in simulated time against the one-way network
// latency (which tells how many one-way trips the protocol needs).
import { pathToFileURL } from 'node:url';
import { loadScenario } from '../src/cli/scenario-file.js';
import { runSeed, World } from '../src/sim/run.js';
import { scenarioSchema } from '../src/sim/scenario.js';
import { PAGE, RAFT } from './release.js';
import { figure } from './result.js';
import type { BenchResult } from './result.js';

function chaos(seconds: number): { sim: number; events: number; faults: number; wall: number; seeds: number } {
  const { spec } = loadScenario('dsm-chaos');
  let sim = 0;
  let events = 0;
  let faults = 0;
  let seed = 1;
  const start = performance.now();
  while ((performance.now() - start) / 1000 < seconds) {
    const r = runSeed(spec, seed++);
    if (r.violation) throw new Error(`bench: dsm-chaos seed ${seed - 1} found ${r.violation.invariant}: ${r.violation.message}`);
    sim += r.simSeconds;
    events += r.events;
    faults += r.stats.faultsServed ?? 0;
  }
  return { sim, events, faults, wall: (performance.now() - start) / 1000, seeds: seed - 1 };
}

/**
 * Read faults with no conflicting holder: readers only, on host 4, which is
 * not a member of company 1 (hosts 1-3), whose pages it reads. The network's
 * one-way latency is fixed and disks sync instantly, so the latency counts
 * one-way trips: the request, the Raft append and its acknowledgement (the
 * grant is committed before it is answered), and the grant.
 */
export function readFaultLatency(): { median: number; oneWayUs: number; ratio: number; samples: number } {
  const oneWayMs = 1;
  const scenario = scenarioSchema.parse({
    name: 'read-fault-latency', durationS: 20, hosts: 5,
    network: { latency: { minMs: oneWayMs, meanMs: oneWayMs, maxMs: oneWayMs } },
    disk: { syncMs: { minMs: 0, meanMs: 0, maxMs: 0 } },
    dsm: { heap: { pageSize: 256, pages: 64 }, workload: 'registers', threadsPerHost: 1, appHosts: [4], workloadOptions: { opsPerThread: 200, writeRatio: 0, computeUs: 50000 } },
  });
  const world = new World(scenario, 1, {});
  world.run();
  const waits = [...world.dsm!.readFaultWaits].sort((a, b) => a - b);
  const median = waits[Math.floor(waits.length / 2)] ?? NaN;
  return { median, oneWayUs: oneWayMs * 1000, ratio: median / (oneWayMs * 1000), samples: waits.length };
}

/**
 * Shared registers read by several hosts and written now and then (20% writes), on hosts 3-5
 * (host 3 a member of company 1, hosts 4 and 5 not), with the same fixed network and instant
 * disks: most writes invalidate readers on other hosts. Per memory access, from the first to
 * the last application-thread event: page-protocol and Raft replication messages (not
 * heartbeats), company entries committed, and revokes answered; and that window's length.
 */
export function invalidatingWrites(): { accesses: number; messagesPerAccess: number; commitsPerAccess: number; revokesPerAccess: number; completionS: number } {
  const oneWayMs = 1;
  const scenario = scenarioSchema.parse({
    name: 'invalidating-writes', durationS: 60, hosts: 5,
    network: { latency: { minMs: oneWayMs, meanMs: oneWayMs, maxMs: oneWayMs } },
    disk: { syncMs: { minMs: 0, meanMs: 0, maxMs: 0 } },
    dsm: { heap: { pageSize: 256, pages: 64 }, workload: 'registers', threadsPerHost: 1, appHosts: [3, 4, 5], workloadOptions: { words: 8, opsPerThread: 300, writeRatio: 0.2, computeUs: 2000 } },
  });
  const kinds: { t: number; kind: string }[] = [];
  let first = Infinity;
  let last = -Infinity;
  const world = new World(scenario, 1, {
    traceSink: (line) => {
      const e = JSON.parse(line) as { t: number; kind: string };
      kinds.push({ t: e.t, kind: e.kind });
      if (e.kind.startsWith('thread-')) {
        first = Math.min(first, e.t);
        last = Math.max(last, e.t);
      }
    },
  });
  const r = world.run();
  if (r.violation) throw new Error(`bench: invalidating-writes found ${r.violation.invariant}: ${r.violation.message}`);
  const accesses = r.stats['accesses'] ?? 0;
  const messages = kinds.filter((e) => e.t >= first && e.t <= last && (PAGE.has(e.kind) || RAFT.has(e.kind))).length;
  return {
    accesses, messagesPerAccess: messages / accesses, commitsPerAccess: (r.stats['committed'] ?? 0) / accesses,
    revokesPerAccess: (world.dsm!.clientStats()['revokes'] ?? 0) / accesses, completionS: (last - first) / 1e6,
  };
}

export function benchDsm(quick: boolean): BenchResult[] {
  chaos(quick ? 1 : 2); // warm up
  const c = chaos(quick ? 8 : 25);
  const lat = readFaultLatency();
  const inv = invalidatingWrites();
  return [
    figure('dsm-chaos.sim_seconds_per_wall_second', c.sim / c.wall, 'sim s / wall s'),
    figure('dsm-chaos.events_per_second', c.events / c.wall, 'events / s'),
    figure('dsm-chaos.faults_per_second', c.faults / c.wall, 'faults served / wall s'),
    figure('dsm.read_fault_latency_us', lat.median, 'simulated us (median)'),
    figure('dsm.read_fault_latency_over_one_way', lat.ratio, 'one-way trips'),
    figure('dsm.invalidating_writes.messages_per_access', inv.messagesPerAccess, 'messages'),
    figure('dsm.invalidating_writes.commits_per_access', inv.commitsPerAccess, 'entries'),
    figure('dsm.invalidating_writes.revokes_per_access', inv.revokesPerAccess, 'revokes'),
    figure('dsm.invalidating_writes.completion_s', inv.completionS, 'simulated s'),
  ];
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  for (const r of benchDsm(process.argv.includes('--quick'))) console.log(JSON.stringify(r));
}
