// The distributed shared memory on a simulated host: the VMM over this host's
// company replicas, its page memory, and the application threads. It
// implements the VMM's seam (VmmEnv) with the simulator's clock, scheduler and
// network, as the real host runtime will with the operating system's.
import type { Entry, Role } from '../raft/index.js';
import type { CompanyApplied, CompanyMachine } from '../vmm/company.js';
import { CompanyHost } from '../vmm/host-companies.js';
import type { CompanyPlan } from '../vmm/placement.js';
import type { VmmMessage } from '../vmm/protocol.js';
import type { StateMachineFactory } from '../vmm/state-machine.js';
import type { ThreadContext } from '../vmm/thread.js';
import type { VmmConfig, VmmEnv } from '../vmm/vmm-env.js';
import { Vmm } from '../vmm/vmm.js';
import type { HostClock } from './clock.js';
import type { SimEnvelope } from './kv-wire.js';
import { SimMemory } from './memory.js';
import type { ProtectionObserver } from './memory.js';
import type { Scheduler } from './scheduler.js';
import type { HostService, ServiceHost } from './service.js';
import { ThreadRunner } from './threads.js';
import type { Access } from './threads.js';

/** What the DSM on one host needs from the simulated world. */
export interface DsmWorld {
  readonly scheduler: Scheduler;
  readonly plans: readonly CompanyPlan[];
  /** The VMM configuration, but for the host id. */
  readonly vmm: Omit<VmmConfig, 'host'>;
  /** The owners at genesis, and how many serve each company. */
  readonly owners: readonly number[];
  readonly replication: number;
  /** The host's monotonic clock (drifts, never jumps): leases are judged on it. */
  monotonicClock(host: number): HostClock;
  protections: ProtectionObserver;
  /** The application threads this host starts when it first boots. */
  threadsOf(host: number): ThreadContext[];
  threadDone(): void;
  threadFailed(ctx: ThreadContext | number, why: string): void;
  accessed(a: Access): void;
  faultServed(kind: 'read' | 'write', waitedUs: number): void;
  allocated(host: number, addr: number, size: number): void;
  freed(host: number, addr: number): void;
  /** A committed company entry, applied on some member (the checkers look at write-backs). */
  companyApplied(host: number, a: CompanyApplied, index: number, table: CompanyMachine): void;
  segfault(host: number, page: number, why: string): void;
  lostMemory(host: number, threads: number): void;
  /** A crashed incarnation's page-client counters, to add to the run's. */
  retired(stats: Readonly<Record<string, number>>): void;
  /** A host lost the writes of a page with its lease; its application threads were ended. */
  lostWrites(host: number, page: number, threads: number): void;
  runThread(host: DsmService, ctx: ThreadContext): void;
}

export class DsmService implements HostService {
  readonly machine: StateMachineFactory;
  vmm: Vmm | null = null;
  memory: SimMemory | null = null;
  threads: ThreadRunner | null = null;
  private booted = false;
  private readonly companies: CompanyHost;

  constructor(private readonly host: ServiceHost, private readonly world: DsmWorld) {
    const { pageSize, rootPages } = world.vmm;
    const cfg = { plans: world.plans, owners: world.owners, replication: world.replication, pageSize, rootPages };
    this.companies = new CompanyHost(cfg, (group) => host.replica(group));
    this.machine = this.companies.machine;
  }

  started(): void {
    const w = this.world;
    const id = this.host.id;
    const cfg: VmmConfig = { ...w.vmm, host: id };
    const memory = new SimMemory(id, cfg.pageSize, cfg.pages, w.protections, (fn) => w.scheduler.after(0, fn));
    const epoch = this.host.epoch;
    const clock = w.monotonicClock(id);
    const env: VmmEnv = {
      memory,
      now: () => clock.local(w.scheduler.now),
      timer: (at, fn) => this.timer(clock, epoch, at, fn),
      send: (to, msg) => this.host.send(to, { kind: 'vmm', msg }),
      company: (company) => this.companies.access(company),
      members: (company) => this.companies.members(company),
      opSeq: () => this.threads?.opSeq ?? 0,
      segfault: (page, why) => w.segfault(id, page, why),
      lostWrites: (page) => {
        const n = this.threads?.abort() ?? 0;
        w.lostWrites(id, page, n);
      },
    };
    const vmm = new Vmm(cfg, env);
    memory.onFault((req) => vmm.fault(req.page, req.access));
    const runner = new ThreadRunner({
      scheduler: w.scheduler,
      host: id,
      pageSize: cfg.pageSize,
      memory: () => memory,
      malloc: (size, done) => vmm.malloc(size, done),
      free: (addr, done) => vmm.free(addr, done),
      runnable: (e) => this.host.epoch === e && this.host.state === 'up',
      epoch: () => this.host.epoch,
      accessed: (a) => w.accessed(a),
      faultServed: (kind, us) => w.faultServed(kind, us),
      allocated: (h, addr, size) => w.allocated(h, addr, size),
      freed: (h, addr) => w.freed(h, addr),
      failed: (thread, why) => w.threadFailed(thread, why),
      trace: (kind, a, b) => this.host.trace(kind, a, b),
    });
    this.vmm = vmm;
    this.memory = memory;
    this.threads = runner;
    // Application threads start once, at the first boot: a crash ends them for good.
    if (!this.booted) {
      this.booted = true;
      for (const ctx of w.threadsOf(id)) w.runThread(this, ctx);
    }
    this.companies.announceLeadership(vmm);
  }

  /** A timer on the host's monotonic clock; it re-arms if drift made it early, and dies with the process. */
  private timer(clock: HostClock, epoch: number, at: number, fn: () => void): void {
    const sched = this.world.scheduler;
    sched.at(clock.globalFor(at, sched.now), () => {
      if (this.host.epoch !== epoch) return;
      if (clock.local(sched.now) < at) {
        this.timer(clock, epoch, at, fn);
        return;
      }
      if (this.host.state === 'paused') {
        this.whenResumed.push(fn);
        return;
      }
      fn();
    });
  }

  private whenResumed: (() => void)[] = [];

  ticked(): void {
    this.companies.reconcile(this.host.id, (company, type, node) => this.host.trace(`company-${type}`, company, node));
  }

  applied(group: number, entry: Entry, result: unknown): void {
    this.companies.applied(this.vmm, group, entry, result, (a, table) => this.world.companyApplied(this.host.id, a, entry.index, table));
  }

  roleChanged(group: number, role: Role): void {
    this.companies.roleChanged(this.vmm, group, role);
  }

  receive(from: number, env: SimEnvelope): void {
    if (env.kind === 'vmm') this.vmm?.receive(from, env.msg as VmmMessage);
  }

  reset(): void {
    const lost = this.threads?.active ?? 0;
    const dirty = this.vmm?.client.dirtyPage ?? null;
    if (dirty !== null) this.world.lostWrites(this.host.id, dirty, 0);
    if (this.vmm !== null) this.world.retired(this.vmm.client.stats);
    this.vmm?.close();
    this.memory?.close();
    this.vmm = null;
    this.memory = null;
    this.threads = null;
    this.whenResumed = [];
    this.world.lostMemory(this.host.id, lost);
  }

  paused(): void {}

  /** Leases that ran out during the pause end first, then threads carry on. */
  resumed(): void {
    const due = this.whenResumed;
    this.whenResumed = [];
    for (const fn of due) fn();
    this.threads?.unpark();
  }
}
