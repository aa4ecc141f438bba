// The distributed shared memory on one host, the same in both worlds: the VMM
// over this host's company replicas and its page memory, its environment
// (clock, timers, network) built from the runtime's ports, and the companies'
// glue (companies.ts). What differs between the worlds comes in as the memory
// backend and a few hooks: the application threads that drive it, and who
// listens to what it applies.
import type { ConfChange, Entry, Role } from '../raft/index.js';
import type { CompanyApplied, CompanyMachine } from '../vmm/company.js';
import type { MemoryBackend } from '../vmm/memory.js';
import type { VmmMessage } from '../vmm/protocol.js';
import type { StateMachineFactory } from '../vmm/state-machine.js';
import type { VmmConfig, VmmEnv } from '../vmm/vmm-env.js';
import { Vmm } from '../vmm/vmm.js';
import type { Envelope } from '../vmm/wire.js';
import { CompanyHost } from './companies.js';
import type { HostRuntime, HostService } from './runtime.js';

export interface DsmSetup {
  readonly vmm: VmmConfig;
  /** The owners at genesis, and how many serve each company. */
  readonly owners: readonly number[];
  readonly replication: number;
  readonly memory: MemoryBackend;
}

export interface DsmHooks {
  /** How many memory operations this host's application threads have done (tags write-backs, for diagnosis). */
  opSeq(): number;
  /** An application thread touched memory it may not (unallocated): it must see a segmentation fault. */
  segfault(page: number, why: string): void;
  /** A page's writes were lost with its lease (this host was cut off too long): the application cannot go on. */
  lostWrites(page: number): void;
  /** A thread's lock lease ran out unrenewed: its critical section cannot go on (the application stops, as for lost writes). */
  lostLock(id: number, thread: number): void;
  /** Every committed company entry as applied here, with its table (the simulator's checkers). */
  companyApplied?(a: CompanyApplied, index: number, table: CompanyMachine): void;
  /** This host, leading a company, proposed a membership change toward the registry's target. */
  companyChanged?(company: number, type: ConfChange['type'], node: number): void;
}

export class DsmService implements HostService {
  readonly machine: StateMachineFactory;
  readonly vmm: Vmm;
  private readonly companies: CompanyHost;
  /** The checkers' look at each applied company entry, made once (entries apply at every commit). */
  private readonly watchApplied: ((a: CompanyApplied, index: number, table: CompanyMachine) => void) | undefined;

  constructor(private readonly rt: HostRuntime, setup: DsmSetup, private readonly hooks: DsmHooks) {
    const { pageSize, rootPages, plans } = setup.vmm;
    this.companies = new CompanyHost({ plans, owners: setup.owners, replication: setup.replication, pageSize, rootPages }, (g) => rt.replica(g));
    this.machine = this.companies.machine;
    this.watchApplied = hooks.companyApplied === undefined ? undefined : (a, index, table) => hooks.companyApplied!(a, index, table);
    const env: VmmEnv = {
      memory: setup.memory,
      faults: rt.ports.faults,
      now: () => rt.now(),
      timer: (at, fn) => rt.timer(at, fn),
      send: (to, msg) => rt.ports.network.send(to, { kind: 'vmm', msg }),
      company: (company) => this.companies.access(company),
      members: (company) => this.companies.members(company),
      opSeq: () => hooks.opSeq(),
      segfault: (page, why) => hooks.segfault(page, why),
      lostWrites: (page) => hooks.lostWrites(page),
      lostLock: (id, thread) => hooks.lostLock(id, thread),
    };
    this.vmm = new Vmm(setup.vmm, env);
    // A request can be stale: the VMM re-checks the page before acting on it.
    setup.memory.onFault((req) => this.vmm.fault(req.page, req.access));
  }

  started(): void {
    this.companies.announceLeadership(this.vmm);
  }

  ticked(): void {
    this.companies.reconcile(this.rt.id, (company, type, node) => this.hooks.companyChanged?.(company, type, node));
  }

  applied(group: number, entry: Entry, result: unknown): void {
    this.companies.applied(this.vmm, group, entry, result, this.watchApplied);
  }

  roleChanged(group: number, role: Role): void {
    this.companies.roleChanged(this.vmm, group, role);
  }

  receive(from: number, env: Envelope): void {
    if (env.kind === 'vmm') this.vmm.receive(from, env.msg as VmmMessage);
  }

  close(): void {
    this.vmm.close();
  }
}
