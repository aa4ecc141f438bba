// A real host: the counterpart of the simulator's SimHost + DsmService, over
// the operating system. It drives the very same Raft groups (the registry and
// the companies this host serves), VMM and page table; the world comes from
// here instead of the simulator: a RaftStore on disk, the TCP transport, real
// timers and the monotonic clock, and the native heap whose faults the VMM
// serves.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { ConfState, Entry, Role } from '../raft/index.js';
import { CompanyHost } from '../vmm/host-companies.js';
import { planCompanies } from '../vmm/placement.js';
import type { CompanyPlan } from '../vmm/placement.js';
import type { VmmMessage } from '../vmm/protocol.js';
import type { VmmConfig, VmmEnv } from '../vmm/vmm-env.js';
import { Vmm } from '../vmm/vmm.js';
import type { Envelope } from '../vmm/wire.js';
import type { Cluster, ClusterHost } from './cluster.js';
import { hostById, parseAddress } from './cluster.js';
import { TimedMemory } from './fault-timing.js';
import type { FaultKind } from './fault-timing.js';
import type { GroupStatus, HostStatus } from './host-status.js';
import { loadNativeMemory } from './native-memory.js';
import type { NativeMemory } from './native-memory.js';
import { RaftStore } from './raft-store.js';
import { RealReplica } from './replica.js';
import { Transport } from './transport.js';
import type { PeerAddress } from './transport.js';

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
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'owner.json');
  if (!existsSync(file)) {
    writeFileSync(file, `${JSON.stringify({ cluster, host })}\n`);
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

/** Whole microseconds on this process's monotonic clock: leases are judged on it, never on wall time. */
const monotonicUs = (): number => Math.floor(performance.now() * 1000);

export class RealHost {
  readonly id: number;
  readonly plans: readonly CompanyPlan[];
  readonly memory: NativeMemory;
  readonly vmm: Vmm;
  readonly store: RaftStore;
  readonly transport: Transport;
  private readonly timed: TimedMemory;
  private readonly companies: CompanyHost;
  private readonly owners: number[];
  private readonly replicas = new Map<number, RealReplica>();
  private ticker: ReturnType<typeof setInterval> | null = null;
  private readonly timers = new Set<ReturnType<typeof setTimeout>>();
  private readonly startedAt = new Date();
  private stopped = false;
  /** Memory operations the application reported (the VMM's opSeq: tags write-backs for diagnosis). */
  opCount = 0;

  /** Opens the data directory and the heap; nothing talks to the network until start(). */
  constructor(readonly cluster: Cluster, hostId: number, private readonly events: HostEvents) {
    const self = hostById(cluster, hostId);
    this.id = self.id;
    this.owners = cluster.hosts.map((h) => h.id).sort((a, b) => a - b);
    const heap = cluster.heap;
    this.plans = planCompanies({ pages: heap.pages, owners: this.owners, replication: cluster.replication });
    claimDataDir(self.dataDir, cluster.id, self.id);
    this.store = RaftStore.open(path.join(self.dataDir, 'raft.db'));
    this.companies = new CompanyHost(
      { plans: this.plans, owners: this.owners, replication: cluster.replication, pageSize: heap.pageSize, rootPages: heap.rootPages },
      (group) => this.replicas.get(group),
    );
    this.memory = loadNativeMemory({ size: heap.pages * heap.pageSize, pageSize: heap.pageSize });
    this.timed = new TimedMemory(this.memory, (kind, s) => events.faultServed(kind, s));
    const cfg: VmmConfig = {
      host: this.id,
      pageSize: heap.pageSize,
      pages: heap.pages,
      rootPages: heap.rootPages,
      plans: this.plans,
      leaseUs: Math.round(cluster.leases.leaseMs * 1000),
      driftBoundPpm: cluster.leases.driftBoundPpm,
      retryUs: Math.round(cluster.leases.retryMs * 1000),
      minHoldUs: Math.round(cluster.leases.minHoldMs * 1000),
    };
    const env: VmmEnv = {
      memory: this.timed,
      now: monotonicUs,
      timer: (at, fn) => this.timer(at, fn),
      send: (to, msg) => {
        events.log('trace', 'vmm-send', { to, msg });
        this.transport.send(to, { kind: 'vmm', msg });
      },
      company: (company) => this.companies.access(company),
      members: (company) => this.companies.members(company),
      opSeq: () => this.opCount,
      segfault: (page, why) => events.appFatal(`segmentation fault on page ${page}: ${why}`, 'segfault'),
      lostWrites: (page) => events.appFatal(`the writes to page ${page} were lost with its lease (this host was cut off too long)`, 'lost-writes'),
    };
    this.vmm = new Vmm(cfg, env);
    this.timed.onFault((req) => {
      events.log('debug', 'fault', req);
      // A request can be stale: the page may have been opened since the access faulted.
      this.vmm.fault(req.page, req.access);
    });
    const peers = new Map<number, PeerAddress>();
    for (const h of cluster.hosts) if (h.id !== this.id) peers.set(h.id, peerAddress(h));
    this.transport = new Transport({
      self: this.id,
      clusterId: cluster.id,
      peers,
      listen: peerAddress(self),
      onMessage: (from, e) => this.receive(from, e),
      // Dropped frames are counted in /metrics; logging each at info would let a peer flood the log.
      log: (event, fields) => events.log(event === 'drop' ? 'debug' : event.includes('error') ? 'warn' : 'info', event, fields),
    });
    for (const group of this.groupsAtBoot()) this.openReplica(group);
  }

  /** Listens, dials the peers and starts ticking. */
  async start(): Promise<void> {
    await this.transport.start();
    this.ticker = setInterval(() => this.tick(), this.cluster.raft.tickMs);
    this.companies.announceLeadership(this.vmm);
    for (const r of this.replicas.values()) r.pump();
    this.events.log('info', 'host-started', { groups: [...this.replicas.keys()], plans: this.plans.length });
  }

  /** The registry, the companies this host serves at genesis, and any group it has state for. */
  private groupsAtBoot(): number[] {
    const groups = new Set([0, ...this.plans.filter((p) => p.members.includes(this.id)).map((p) => p.company)]);
    for (const g of this.store.groups()) if (g <= this.plans.length) groups.add(g);
    return [...groups].sort((a, b) => a - b);
  }

  private genesis(group: number): ConfState {
    if (group === 0) return { voters: [...this.owners], learners: [] };
    return { voters: this.plans.find((p) => p.company === group)?.members ?? [], learners: [] };
  }

  private openReplica(group: number): RealReplica {
    const raft = this.cluster.raft;
    const r = new RealReplica({
      host: this.id,
      group,
      store: this.store,
      machine: this.companies.machine,
      raft: { electionTick: raft.electionTicks, heartbeatTick: raft.heartbeatTicks, preVote: raft.preVote, checkQuorum: raft.checkQuorum, maxEntriesPerMsg: 64 },
      genesis: this.genesis(group),
      snapshotEveryEntries: raft.snapshotEveryEntries,
      send: (to, e) => this.transport.send(to, e),
      applied: (g, entry, result) => this.applied(g, entry, result),
      roleChanged: (g, role) => this.roleChanged(g, role),
      failed: (err) => this.events.internalError(err),
    });
    this.replicas.set(group, r);
    return r;
  }

  private receive(from: number, e: Envelope): void {
    if (this.stopped) return;
    if (e.kind === 'vmm') {
      this.events.log('trace', 'vmm-receive', { from, msg: e.msg });
      this.vmm.receive(from, e.msg as VmmMessage);
      return;
    }
    if (e.kind !== 'raft') return; // key-value traffic belongs to the simulator's Raft scenarios
    // A group's leader reaching a host without a replica is adding it: start an empty one.
    if (e.group > this.plans.length) return;
    const r = this.replicas.get(e.group) ?? this.openReplica(e.group);
    r.node.step(e.msg);
    r.pump();
  }

  private tick(): void {
    for (const r of this.replicas.values()) {
      r.node.tick();
      r.pump();
    }
    this.companies.reconcile(this.id, (company, type, node) => this.events.log('info', 'company-change', { company, type, node }));
  }

  private applied(group: number, entry: Entry, result: unknown): void {
    this.companies.applied(this.vmm, group, entry, result);
  }

  private roleChanged(group: number, role: Role): void {
    const r = this.replicas.get(group);
    this.events.log('info', 'role', { group, role, term: r?.node.term() ?? 0, lead: r?.lead ?? 0 });
    this.companies.roleChanged(this.vmm, group, role);
  }

  /** Runs fn once the monotonic clock reads at least atUs; re-arms if the OS woke us early. */
  private timer(atUs: number, fn: () => void): void {
    if (this.stopped) return;
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (this.stopped) return;
      if (monotonicUs() < atUs) this.timer(atUs, fn);
      else fn();
    }, Math.max(0, Math.ceil((atUs - monotonicUs()) / 1000)));
    this.timers.add(t);
  }

  status(): HostStatus {
    const groups: GroupStatus[] = [];
    for (const [group, r] of [...this.replicas.entries()].sort((a, b) => a[0] - b[0])) {
      const s = r.node.status();
      const plan = this.plans.find((p) => p.company === group);
      groups.push({
        group, kind: group === 0 ? 'registry' : 'company', role: r.role, term: s.term, lead: r.lead,
        commit: s.commit, applied: r.appliedIndex, lastIndex: s.lastIndex, voters: [...s.conf.voters],
        ...(plan !== undefined ? { firstPage: plan.firstPage, pages: plan.pages } : {}),
      });
    }
    const held = { read: 0, write: 0 };
    for (const [, h] of this.vmm.client.heldPages()) held[h.mode]++;
    let commits = 0;
    for (const r of this.replicas.values()) commits += r.appliedCount;
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
   * Stops serving: timers, the network, the heap (every page opened and every
   * waiter woken, so blocked application threads can end) and the store.
   * Writes not yet written back are lost, as in a crash.
   */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.ticker !== null) clearInterval(this.ticker);
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.vmm.close();
    this.memory.close();
    await this.transport.stop();
    for (const r of this.replicas.values()) r.close();
    this.store.close();
  }
}
