// The shared memory on one incarnation of a simulated host: the host
// runtime's DsmService over simulated page frames, and the application
// threads (generators the scheduler resumes) that use them. The frames and the
// threads are the simulator's; everything between them and Raft is the code
// real hosts run.
import { DsmService } from '../host/dsm-service.js';
import type { DsmHooks } from '../host/dsm-service.js';
import type { HostRuntime } from '../host/runtime.js';
import type { CompanyApplied, CompanyMachine } from '../vmm/company.js';
import type { FaultRequest, MemoryBackend } from '../vmm/memory.js';
import type { CompanyPlan } from '../vmm/placement.js';
import type { ThreadContext } from '../vmm/thread.js';
import type { SyncEvent } from '../vmm/sync/hooks.js';
import type { VmmConfig } from '../vmm/vmm-env.js';
import type { SimApp, SimHost } from './host.js';
import { SimMemory } from './memory.js';
import type { ProtectionObserver } from './memory.js';
import type { Scheduler } from './scheduler.js';
import { ThreadRunner } from './threads.js';
import type { Access } from './threads.js';

/** What the DSM on one host needs from the simulated world. */
export interface DsmWorld {
  readonly scheduler: Scheduler;
  readonly plans: readonly CompanyPlan[];
  /** The VMM configuration, but for the host id. */
  readonly vmm: Omit<VmmConfig, 'host' | 'incarnation'>;
  /** The owners at genesis, and how many serve each company. */
  readonly owners: readonly number[];
  readonly replication: number;
  protections: ProtectionObserver;
  /** The application threads a host starts when it first boots (a crash ends them for good). */
  threadsAtFirstBoot(host: number): ThreadContext[];
  /** `ended`: the thread stopped there (else it carries on past the failure). */
  threadFailed(ctx: ThreadContext | number, why: string, ended: boolean): void;
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
  /** A thread's lock lease ran out unrenewed; the host's application threads were ended. */
  lostLock(host: number, id: number, thread: number, threads: number): void;
  /** Locks and barriers as threads see them, and accesses, for the sync checkers. */
  synced(e: SyncEvent): void;
  runThread(app: SimDsmApp, ctx: ThreadContext): void;
}

/**
 * Page frames whose faults reach the VMM only while the process runs: a
 * fault is work for the host's event loop, which a pause or stall holds up.
 */
function gatedFaults(memory: SimMemory, gate: (fn: () => void) => void): MemoryBackend {
  return {
    pageSize: memory.pageSize,
    pages: memory.pages,
    protection: (page) => memory.protection(page),
    fill: (page, data, prot) => memory.fill(page, data, prot),
    read: (page) => memory.read(page),
    setProtection: (page, prot) => memory.setProtection(page, prot),
    setDeadline: (page, localUs) => memory.setDeadline(page, localUs),
    onFault: (handler) => memory.onFault((req: FaultRequest) => gate(() => handler(req))),
    close: () => memory.close(),
  };
}

export class SimDsmApp implements SimApp {
  readonly service: DsmService;
  readonly memory: SimMemory;
  readonly threads: ThreadRunner;

  constructor(private readonly host: SimHost, rt: HostRuntime, private readonly world: DsmWorld) {
    const id = host.id;
    const epoch = host.epoch;
    const cfg: VmmConfig = { ...world.vmm, host: id, incarnation: epoch };
    const gate = (fn: () => void): void => host.whenRunning(epoch, fn);
    const sched = world.scheduler;
    // Deadlines are the memory's own events, on the clock leases are judged on: a pause or stall holds none of them up.
    this.memory = new SimMemory(id, cfg.pageSize, cfg.pages, world.protections, (fn) => sched.after(0, fn), {
      now: () => host.mono.local(sched.now),
      at: (localUs, fn) => sched.at(host.mono.globalFor(localUs, sched.now), fn),
    });
    const hooks: DsmHooks = {
      opSeq: () => this.threads.opSeq,
      segfault: (page, why) => world.segfault(id, page, why),
      lostWrites: (page) => world.lostWrites(id, page, this.threads.abort()),
      lostLock: (lock, thread) => world.lostLock(id, lock, thread, this.threads.abort()),
      companyApplied: (a, index, table) => world.companyApplied(id, a, index, table),
      companyChanged: (company, type, node) => rt.ports.observer.event(`company-${type}`, company, node),
    };
    this.service = new DsmService(rt, { vmm: cfg, owners: world.owners, replication: world.replication, memory: gatedFaults(this.memory, gate) }, hooks);
    const vmm = this.service.vmm;
    this.threads = new ThreadRunner({
      scheduler: world.scheduler,
      host: id,
      pageSize: cfg.pageSize,
      memory: () => this.memory,
      // malloc and free are requests to the host's event loop, like faults.
      malloc: (size, done) => gate(() => vmm.malloc(size, done)),
      free: (addr, done) => gate(() => vmm.free(addr, done)),
      runnable: (e) => host.epoch === e && (host.state === 'up' || host.state === 'stalled'),
      epoch: () => host.epoch,
      accessed: (a) => world.accessed(a),
      faultServed: (kind, us) => world.faultServed(kind, us),
      allocated: (h, addr, size) => world.allocated(h, addr, size),
      freed: (h, addr) => world.freed(h, addr),
      failed: (thread, why, ended) => world.threadFailed(thread, why, ended),
      // Lock and barrier requests are work for the event loop, like faults.
      lock: (thread, lock, done) => gate(() => vmm.sync.lock(thread, lock, done)),
      unlock: (thread, lock, done) => gate(() => vmm.sync.unlock(thread, lock, done)),
      barrier: (thread, name, parties, done) => gate(() => vmm.sync.barrier(thread, name, parties, done)),
      // The deadline is the application side's own check, like a page's: a stalled event loop does not hold it up.
      lockDeadlinePassed: (thread) => vmm.sync.deadlinePassed(thread),
      lockExpired: (thread) => {
        const lock = vmm.sync.holdings().find(([t]) => t === thread)?.[1] ?? 0;
        vmm.sync.abandon();
        vmm.release?.abandon();
        world.lostLock(id, lock, thread, this.threads.abort());
      },
      synced: (e) => world.synced(e),
      trace: host.trace,
    });
  }

  started(): void {
    for (const ctx of this.world.threadsAtFirstBoot(this.host.id)) this.world.runThread(this, ctx);
  }

  get vmm(): DsmService['vmm'] {
    return this.service.vmm;
  }

  crashed(): void {
    const dirty = this.vmm.client.dirtyPage;
    if (dirty !== null) this.world.lostWrites(this.host.id, dirty, 0);
    this.world.retired({ ...this.vmm.client.stats, ...this.vmm.sync.stats });
    const lost = this.threads.active;
    this.threads.endHoldings();
    this.memory.close();
    this.world.lostMemory(this.host.id, lost);
  }

  resumed(): void {
    this.threads.unpark();
  }
}
