// A real host: the process around the shared host runtime (src/host), over
// the operating system. It gives the runtime its ports (a RaftStore on disk,
// the TCP transport, timers on the monotonic clock, the native heap whose
// faults the VMM serves) and reports what the runtime does through logs and
// metrics.
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { inertFaultPoints } from '../raft/index.js';
import type { ConfState } from '../raft/index.js';
import { vmmConfigOf } from '../host/config.js';
import { DsmService } from '../host/dsm-service.js';
import { quietReplica } from '../host/ports.js';
import type { ClockPort, HostObserver } from '../host/ports.js';
import { HostRuntime } from '../host/runtime.js';
import { planCompanies } from '../vmm/placement.js';
import type { CompanyPlan } from '../vmm/placement.js';
import type { Envelope } from '../vmm/wire.js';
import type { Cluster, ClusterHost } from './cluster.js';
import { hostById, parseAddress, tlsFilesOf } from './cluster.js';
import { InputError } from '../input/errors.js';
import { TimedMemory } from './fault-timing.js';
import type { FaultKind } from './fault-timing.js';
import type { GroupStatus, HostStatus } from './host-status.js';
import { loadNativeMemory, threadCpuClock } from './native-memory.js';
import type { NativeMemory } from './native-memory.js';
import { RaftStore } from './raft-store.js';
import { WorkerDisk, writerFor } from './disk-port.js';
import type { DiskWriter } from './disk-port.js';
import { Timeline, TIMELINE_CLOCK_ENV } from './timeline.js';
import { Transport } from './transport.js';
import type { PeerAddress, TransportSecurity } from './transport.js';
import { loadTlsMaterial } from './tls.js';
import { runWordAddress, slotAddress } from './app-threads.js';

export interface HostEvents {
  /** A structured log line (event name and fields). */
  log(level: 'trace' | 'debug' | 'info' | 'warn' | 'error', event: string, fields: object): void;
  faultServed(kind: FaultKind, seconds: number): void;
  /** A bug: a Raft group's Ready could not be handled, so the group cannot go on; the host must stop. */
  internalError(err: Error): void;
  /** The application cannot go on (a segfault, lost writes): the runtime decides what to do. */
  appFatal(why: string, kind: 'segfault' | 'lost-writes'): void;
}

function peerAddress(h: ClusterHost): PeerAddress {
  const a = parseAddress(h.address);
  if (a === null) throw new Error(`cluster host ${h.id}: address ${h.address} was not validated`);
  return a;
}

/**
 * A data directory belongs to one host of one cluster: Raft state of another
 * would make this host vote and replicate as someone it is not. The first
 * start records the owner; later starts refuse a directory of another.
 */
function claimDataDir(dir: string, cluster: string, host: number): void {
  // The Raft store holds page contents: only this host's user may read it (an older directory is tightened too).
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const file = path.join(dir, 'owner.json');
  if (!existsSync(file)) {
    writeFileSync(file, `${JSON.stringify({ cluster, host })}\n`, { mode: 0o600 });
    return;
  }
  let owner: { cluster?: unknown; host?: unknown };
  try {
    owner = JSON.parse(readFileSync(file, 'utf8')) as typeof owner;
  } catch (err) {
    throw new Error(`${file}: unreadable (${err instanceof Error ? err.message : String(err)}); it names the cluster and host this data directory belongs to`);
  }
  if (owner.cluster !== cluster || owner.host !== host) {
    throw new Error(`data directory ${dir} belongs to host ${String(owner.host)} of cluster "${String(owner.cluster)}", not host ${host} of "${cluster}": use another dataDir, or delete it to start this host empty`);
  }
}

/**
 * Mutual TLS from the cluster file's tls section, or plain TCP if it says
 * insecurePlainTcp: true. Neither is refused: a host must never fall back to
 * trusting anyone by an omission.
 */
function securityOf(cluster: Cluster, hostId: number): TransportSecurity {
  const files = tlsFilesOf(cluster, hostId);
  if (files !== null) return { kind: 'tls', material: loadTlsMaterial(files, cluster.id, hostId) };
  if (cluster.insecurePlainTcp === true) return { kind: 'plain' };
  throw new InputError(
    `cluster "${cluster.name}": expected a tls section (ca, cert, key; \`gallocy certs --cluster FILE --out DIR\` creates the files and prints it), `
    + 'or insecurePlainTcp: true to let hosts talk unauthenticated (anyone who reaches their ports can then forge messages)',
  );
}

/** Whole microseconds on this process's monotonic clock: leases are judged on it, never on wall time. */
const monotonicUs = (): number => Math.floor(performance.now() * 1000);

export class RealHost {
  readonly id: number;
  readonly plans: readonly CompanyPlan[];
  readonly memory: NativeMemory;
  /** The Raft store: read once at boot, then written by a worker thread, so fsyncs do not stall this thread. */
  readonly disk: WorkerDisk;
  readonly transport: Transport;
  readonly runtime: HostRuntime;
  private readonly dsm: DsmService;
  private readonly timed: TimedMemory;
  /** Where this host's main thread spends its time, stage by stage (status().timeline); CPU time with GALLOCY_TIMELINE_CLOCK=cpu. */
  readonly timeline = new Timeline(process.env[TIMELINE_CLOCK_ENV] === 'cpu' ? threadCpuClock() ?? undefined : undefined);
  private ticker: ReturnType<typeof setInterval> | null = null;
  private readonly timers = new Set<ReturnType<typeof setTimeout>>();
  private readonly startedAt = new Date();
  private stopped = false;
  /** Who writes the Raft store, and the data directory's fsync that decided it (null: forced by the environment). */
  private readonly writer: { writer: DiskWriter; syncUs: number | null };
  /** Memory operations the application reported (the VMM's opSeq: tags write-backs for diagnosis). */
  opCount = 0;

  /** Opens the data directory and the heap; nothing talks to the network until start(). */
  constructor(readonly cluster: Cluster, hostId: number, private readonly events: HostEvents) {
    const self = hostById(cluster, hostId);
    this.id = self.id;
    const owners = cluster.hosts.map((h) => h.id).sort((a, b) => a - b);
    const heap = cluster.heap;
    this.plans = planCompanies({ pages: heap.pages, owners, replication: cluster.replication });
    const security = securityOf(cluster, self.id);
    claimDataDir(self.dataDir, cluster.id, self.id);
    this.writer = writerFor(self.dataDir);
    const store = RaftStore.open(path.join(self.dataDir, 'raft.db'));
    const incarnation = store.nextIncarnation();
    this.memory = loadNativeMemory({ size: heap.pages * heap.pageSize, pageSize: heap.pageSize });
    this.timed = new TimedMemory(this.memory, (kind, s) => events.faultServed(kind, s), this.timeline);
    const peers = new Map<number, PeerAddress>();
    for (const h of cluster.hosts) if (h.id !== this.id) peers.set(h.id, peerAddress(h));
    this.transport = new Transport({
      self: this.id,
      clusterId: cluster.id,
      peers,
      listen: peerAddress(self),
      security,
      ...(cluster.limits !== undefined ? { limits: cluster.limits } : {}),
      onMessage: (from, e) => this.receive(from, e),
      timeline: this.timeline,
      // Dropped frames are counted in /metrics; logging each at info would let a peer flood the log.
      log: (event, fields) => events.log(event === 'drop' ? 'debug' : event.includes('error') ? 'warn' : 'info', event, fields),
    });
    const plans = this.plans;
    const genesis = (group: number): ConfState => ({
      voters: group === 0 ? [...owners] : [...(plans.find((p) => p.company === group)?.members ?? [])],
      learners: [],
    });
    // Last before the runtime: nothing that may throw in this constructor comes after the worker thread starts.
    // A batch that cannot be committed (a full disk) stops the host, as a failed write in a Ready does.
    this.disk = new WorkerDisk(store, (err) => events.internalError(err), this.timeline, this.writer.writer);
    this.runtime = new HostRuntime({
      host: this.id,
      raft: cluster.raft,
      groupsAtBoot: [0, ...plans.filter((p) => p.members.includes(this.id)).map((p) => p.company)],
      genesis,
      knownGroup: (g) => g >= 0 && g <= plans.length,
      // Election timeouts need only be random, not reproducible, outside the simulator.
      random: () => Math.random,
    }, {
      disk: this.disk,
      network: {
        send: (to, e) => {
          if (e.kind === 'vmm') events.log('trace', 'vmm-send', { to, msg: e.msg });
          this.transport.send(to, e);
        },
      },
      clock: this.clock(),
      observer: this.observer(),
      // Fault points and probes are the simulator's: nothing fires here, nothing is counted.
      faults: inertFaultPoints,
    }, (rt) => new DsmService(rt, { vmm: { ...vmmConfigOf(cluster, this.id, plans), incarnation, ...runSlotPages(cluster) }, owners, replication: cluster.replication, memory: this.timed }, {
      opSeq: () => this.opCount,
      segfault: (page, why) => events.appFatal(`segmentation fault on page ${page}: ${why}`, 'segfault'),
      lostWrites: (page) => events.appFatal(`the writes to page ${page} were lost with its lease (this host was cut off too long)`, 'lost-writes'),
      lostLock: (id, thread) => events.appFatal(`thread ${thread}'s lease on lock ${id} ran out (this host was cut off too long)`, 'lost-writes'),
      companyChanged: (company, type, node) => events.log('info', 'company-change', { company, type, node }),
    }));
    this.dsm = this.runtime.service as DsmService;
  }

  get vmm(): DsmService['vmm'] {
    return this.dsm.vmm;
  }

  private clock(): ClockPort {
    return {
      now: monotonicUs,
      wakeAt: (atUs, fn) => {
        if (this.stopped) return;
        const ms = Math.ceil((atUs - monotonicUs()) / 1000);
        // A wake-up for now (the proposer's end of the instant) runs after this turn's I/O, not
        // after setTimeout's 1 ms minimum: a batched lock or diff command would wait that long.
        if (ms <= 0) {
          setImmediate(() => {
            if (!this.stopped) fn();
          });
          return;
        }
        const t = setTimeout(() => {
          this.timers.delete(t);
          if (!this.stopped) fn();
        }, ms);
        this.timers.add(t);
      },
      everyTick: (fn) => {
        this.ticker = setInterval(() => this.timeline.time('tick', fn), this.cluster.raft.tickMs);
      },
    };
  }

  private observer(): HostObserver {
    return {
      replicaOpened: () => quietReplica,
      roleChanged: (r) => this.events.log('info', 'role', { group: r.group, role: r.role, term: r.term(), lead: r.lead }),
      event: () => undefined,
      failed: (_group, err) => this.events.internalError(err),
    };
  }

  /** Listens, dials the peers, opens the replicas and starts ticking. */
  async start(): Promise<void> {
    await this.transport.start();
    this.timeline.observeGc();
    this.runtime.start();
    if (this.transport.stats().security === 'plain') {
      this.events.log('warn', 'insecure-transport', { why: 'insecurePlainTcp: true: peers are not authenticated; anyone who reaches this port can forge messages' });
    }
    this.events.log('info', 'host-started', {
      groups: this.runtime.replicas.flatMap((r, g) => (r === undefined ? [] : [g])), plans: this.plans.length,
      diskWriter: this.writer.writer, ...(this.writer.syncUs !== null ? { fsyncUs: Math.round(this.writer.syncUs) } : {}),
    });
  }

  private receive(from: number, e: Envelope): void {
    if (this.stopped) return;
    if (e.kind === 'vmm') this.events.log('trace', 'vmm-receive', { from, msg: e.msg });
    this.runtime.receive(from, e);
  }

  status(): HostStatus {
    const groups: GroupStatus[] = [];
    let commits = 0;
    this.runtime.replicas.forEach((r, group) => {
      if (r === undefined) return;
      commits += r.appliedCount;
      const s = r.node.status();
      const plan = this.plans.find((p) => p.company === group);
      groups.push({
        group, kind: group === 0 ? 'registry' : 'company', role: r.role, term: s.term, lead: r.lead,
        commit: s.commit, applied: r.appliedIndex, lastIndex: s.lastIndex, voters: [...s.conf.voters],
        ...(plan !== undefined ? { firstPage: plan.firstPage, pages: plan.pages } : {}),
      });
    });
    const held = { read: 0, write: 0 };
    for (const [, h] of this.vmm.client.heldPages()) held[h.mode]++;
    const heap = this.cluster.heap;
    return {
      cluster: this.cluster.id,
      host: this.id,
      pid: process.pid,
      startedAt: this.startedAt.toISOString(),
      uptimeSeconds: (Date.now() - this.startedAt.getTime()) / 1000,
      groups,
      pagesHeld: { ...held, dirty: this.vmm.client.dirtyPage },
      heap: { pages: heap.pages, pageSize: heap.pageSize, rootPages: heap.rootPages },
      faults: { ...this.timed.counts },
      commits,
      transport: this.transport.stats(),
      disk: this.disk.stats(),
      timeline: this.timeline.snapshot(),
      app: null,
    };
  }

  /**
   * Writes this host's dirty page back (its only uncommitted writes); resolves
   * true once done, false if that took longer than timeoutMs (the cluster is
   * unreachable, say). Call with the application threads stopped.
   */
  flush(timeoutMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      const t = setTimeout(() => resolve(false), timeoutMs);
      this.vmm.client.flush(() => {
        clearTimeout(t);
        resolve(true);
      });
    });
  }

  /**
   * Stops serving: timers, the runtime, the heap (every page opened and every
   * waiter woken, so blocked application threads can end), the network and
   * the store. Writes not yet written back are lost, as in a crash.
   */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.ticker !== null) clearInterval(this.ticker);
    this.timeline.close();
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.runtime.close();
    this.memory.close();
    await this.transport.stop();
    await this.disk.close();
  }
}

/**
 * Under release consistency the run slots (app-threads.ts: words every host updates with atomics,
 * outside any lock) stay on sequentially consistent pages.
 */
function runSlotPages(cluster: { coherence?: string | undefined; heap: { pageSize: number; rootPages: number } }): { sequentialPages?: number[] } {
  if (cluster.coherence !== 'release') return {};
  const rootBytes = cluster.heap.rootPages * cluster.heap.pageSize;
  const first = Math.floor(slotAddress(rootBytes, 0) / cluster.heap.pageSize);
  const last = Math.floor((runWordAddress(rootBytes) + 3) / cluster.heap.pageSize);
  return { sequentialPages: Array.from({ length: last - first + 1 }, (_, i) => first + i) };
}
