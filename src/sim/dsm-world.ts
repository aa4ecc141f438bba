// The shared memory's part of a simulated world: the companies' placement,
// the application threads and where they run, the workload's end check, and
// the memory checkers fed by every host.
import { registerAddresses } from '../vmm/workloads/registers.js';
import { registersWorkload, workloadOf } from '../vmm/workloads/index.js';
import type { CompanyApplied, CompanyMachine } from '../vmm/company.js';
import { replicationOf, vmmConfigOf } from '../host/config.js';
import { planCompanies } from '../vmm/placement.js';
import type { CompanyPlan } from '../vmm/placement.js';
import type { ThreadContext, Workload } from '../vmm/thread.js';
import type { VmmConfig } from '../vmm/vmm-env.js';
import { AllocatorSafety, checkRegisterHistory, Coherence, CommittedTable, ObservedWrites, registerHistory, SingleWriter, TableAgreement } from './check/dsm.js';
import type { HolderView } from './check/dsm.js';
import type { HostClock } from './clock.js';
import { BarrierSafety, LockSafety } from './check/sync.js';
import { violation } from './check/violation.js';
import type { SyncEvent } from '../vmm/sync/hooks.js';
import { ReleaseChecks } from './check/release.js';
import { encodePublished } from '../vmm/release/notices.js';
import type { HostState } from './host.js';
import type { DsmWorld, SimDsmApp } from './dsm-app.js';
import type { ProtectionObserver } from './memory.js';
import type { Rng } from './rng.js';
import type { Scenario } from './scenario.js';
import type { Scheduler } from './scheduler.js';
import type { Access } from './threads.js';
import type { RecordEvent } from '../host/trace-events.js';

type DsmScenario = NonNullable<Scenario['dsm']>;

/** The barrier every thread's end arrives at under release consistency (a name no workload uses). */
const END_BARRIER = { kind: 'barrier', name: 0xffffffff, episode: 0 } as const;
/** The race detector's name for it (ReleaseChecks names barrier episodes so). */
const END_BARRIER_NAME = `barrier:${END_BARRIER.name}:0`;
/** A published record that invalidates every copy. */
const EVERY_PAGE_CHANGED = encodePublished({ vt: {}, intervals: [], all: true }, Infinity);

/** What the DSM part needs of the rest of the world. */
export interface DsmHosts {
  readonly scheduler: Scheduler;
  hostState(host: number): HostState;
  /** The shared memory of a host's running incarnation (null while it is down). */
  appOf(host: number): SimDsmApp | null;
  stream(name: string): Rng;
  /** A host's monotonic clock (leases are judged on it). */
  monotonicClock(host: number): HostClock;
  readonly trace: RecordEvent;
  /** Whether the checkers judge this host (not a Byzantine one; default: all are judged). */
  judged?(host: number): boolean;
}

export class DsmPart implements DsmWorld {
  readonly plans: CompanyPlan[];
  readonly owners: number[];
  readonly replication: number;
  readonly vmm: Omit<VmmConfig, 'host' | 'incarnation'>;
  readonly protections: ProtectionObserver;
  readonly singleWriter: SingleWriter;
  readonly observed = new ObservedWrites();
  readonly allocator: AllocatorSafety;
  readonly agreement = new TableAgreement();
  readonly committed: CommittedTable;
  readonly coherence: Coherence;
  readonly lockSafety = new LockSafety();
  readonly releaseChecks: ReleaseChecks | null;
  readonly barrierSafety = new BarrierSafety();
  readonly workload: Workload;
  private readonly contexts: ThreadContext[] = [];
  private readonly booted = new Set<number>();
  private readonly registers: Set<number>;
  private readonly accesses: Access[] = [];
  /** Allocation ids already seen applied, so each resets the shadow once. */
  private readonly allocationsSeen = new Set<string>();
  private finished = 0;
  private lostThreads = 0;
  /** Workload threads that ended (done, stopped by a failure, or lost with their host), by index: each counts once. */
  private readonly ended = new Set<number>();
  private hostsLostMemory = new Set<number>();
  readonly failures: string[] = [];
  /** The workload's end check: undefined until it ran, null if it passed. */
  verdict: string | null | undefined = undefined;
  private verifying = false;
  private verifyHost: number | null = null;
  readonly stats = { accesses: 0, faultsServed: 0, mallocs: 0, threadsDone: 0, threadsLost: 0, verified: 0 };
  /** How long each served read fault waited (simulated microseconds), for the benchmark. */
  readonly readFaultWaits: number[] = [];

  constructor(scenario: Scenario, private readonly d: DsmScenario, private readonly hosts: DsmHosts) {
    const owners = Array.from({ length: scenario.hosts }, (_, i) => i + 1);
    this.owners = owners;
    this.replication = replicationOf(d, owners.length);
    const { pageSize, pages, rootPages } = d.heap;
    this.plans = planCompanies({ pages, owners, replication: this.replication });
    const { host: _, ...vmm } = vmmConfigOf(d, 0, this.plans, {
      skipWriteBack: scenario.bugs?.skipWriteBack ?? false,
      grantBeforeRelease: scenario.bugs?.grantBeforeRelease ?? false,
      barrierEarly: scenario.bugs?.barrierEarly ?? false,
      publishBeforeDurable: scenario.bugs?.publishBeforeDurable ?? false,
      ignoreLockLease: scenario.bugs?.ignoreLockLease ?? false,
    });
    this.vmm = vmm;
    // Application threads run on a host's pages while it is up or its event loop stalls.
    this.singleWriter = new SingleWriter((h) => (hosts.hostState(h) === 'up' || hosts.hostState(h) === 'stalled') && (hosts.judged?.(h) ?? true));
    // Under release consistency many hosts write a page at once: the race detector and DRF-SC judge instead.
    this.releaseChecks = d.coherence === 'release' ? new ReleaseChecks() : null;
    this.protections = { changed: (host, page, prot) => {
      if (this.releaseChecks === null) this.singleWriter.changed(host, page, prot);
    } };
    this.allocator = new AllocatorSafety(rootPages * pageSize);
    this.coherence = new Coherence();
    this.committed = new CommittedTable((h) => this.holderView(h));
    this.workload = workloadOf(d.workload, d.workloadOptions);
    const rootBytes = rootPages * pageSize;
    const appHosts = d.appHosts ?? owners;
    const total = appHosts.length * d.threadsPerHost;
    for (const host of appHosts) {
      for (let t = 0; t < d.threadsPerHost; t++) {
        const index = this.contexts.length;
        const rng = hosts.stream(`thread-${index}`);
        this.contexts.push({ host, index, threads: total, rootBytes, pageSize, random: () => rng.next() });
      }
    }
    this.registers = new Set(d.workload === 'registers'
      ? registerAddresses(rootBytes, pageSize, (this.workload as ReturnType<typeof registersWorkload>).options.words)
      : []);
  }

  /** Group 0 is the registry (every owner); companies are groups 1..C. */
  get groups(): number {
    return this.plans.length + 1;
  }

  groupsOf(host: number): number[] {
    return [0, ...this.plans.filter((p) => p.members.includes(host)).map((p) => p.company)];
  }

  get scheduler(): Scheduler {
    return this.hosts.scheduler;
  }

  /** Application threads start once, at a host's first boot: a crash ends them for good. */
  threadsAtFirstBoot(host: number): ThreadContext[] {
    if (this.booted.has(host)) return [];
    this.booted.add(host);
    return this.contexts.filter((c) => c.host === host);
  }

  runThread(app: SimDsmApp, ctx: ThreadContext): void {
    app.threads.start(ctx, this.workload.thread(ctx), () => {
      if (this.releaseChecks === null) this.threadDone(ctx.index);
      else this.exitRelease(app, ctx);
    });
  }

  /** Release consistency: the records threads published as they ended, for the end check to acquire. */
  private readonly endRecords: string[] = [];
  /**
   * Release consistency: the last committed release's record of each lock, and each thread's last
   * committed barrier arrival's: the end check acquires them too, so it sees what lost threads
   * published before they were lost (a company applies only the intervals a fetch names).
   */
  private readonly syncRecords = new Map<string, { order: number; published: string }>();

  /** Release consistency: per host, its threads that ended while others of the host still ran, waiting for the last one's end (exitRelease). */
  private readonly ending = new Map<number, { index: number; at: number }[]>();

  /**
   * Release consistency: a thread's end is a release (what it wrote after its last unlock is
   * published), and the end check starts with an acquire of them all, as if every thread
   * arrived at a barrier that the end check departs from. A record covering locks the host keeps is
   * committed at the host's home first (SyncClient.endThread): otherwise what the thread wrote under
   * them would be lost with a later lapse of the holding while it counts as done. Intervals are the
   * host's, not a thread's, so the host's last thread to end publishes for all its threads: one diff
   * per page written, not one per thread (a diff's commit costs its company a Raft round). The
   * threads that ended before it count as done only then: a lapse meanwhile loses them with the rest.
   */
  private exitRelease(app: SimDsmApp, ctx: ThreadContext): void {
    const { host, index } = ctx;
    const at = this.scheduler.now;
    this.releaseChecks!.synced({ kind: 'barrier-arrived', host, thread: index, name: END_BARRIER.name, episode: 0, parties: 0, at });
    const waiting = [...(this.ending.get(host) ?? []), { index, at }];
    const running = this.contexts.some((c) => c.host === host && !this.ended.has(c.index) && !waiting.some((w) => w.index === c.index));
    if (running) {
      this.ending.set(host, waiting);
      return;
    }
    this.ending.delete(host);
    app.vmm.sync.endThread(END_BARRIER, index, (published) => {
      if (published !== null) this.endRecords.push(published);
      for (const w of waiting) {
        this.releaseChecks!.ended(w.index, w.at);
        this.threadDone(w.index);
      }
    });
  }

  threadDone(index: number): void {
    this.stats.threadsDone++;
    this.end(index);
    this.maybeVerify();
  }

  threadFailed(ctx: ThreadContext | number, why: string, ended: boolean): void {
    const index = typeof ctx === 'number' ? ctx : ctx.index;
    this.failures.push(`thread ${index}: ${why}`);
    // A thread that carries on past its failure (a free that went wrong) has not ended:
    // counting it would start the end check while it still uses the heap.
    if (ended) this.end(index);
    this.maybeVerify();
  }

  /** Counts a workload thread as ended, once (the end check's own thread is not one). */
  private end(index: number, lost = false): boolean {
    if (index >= this.contexts.length || this.ended.has(index)) return false;
    this.ended.add(index);
    if (lost) this.lostThreads++;
    else this.finished++;
    return true;
  }

  lostMemory(host: number, threads: number): void {
    this.hostsLostMemory.add(host);
    if (this.verifyHost === host && this.verdict === undefined && threads > 0) {
      // The end check itself was lost with its host: run it again elsewhere.
      this.verifyHost = null;
      this.hosts.scheduler.after(100_000, () => this.tryVerify());
    }
    // The host's workload threads still running are gone (threads start only at a host's first boot).
    const gone = this.contexts.filter((c) => c.host === host && this.end(c.index, true));
    for (const c of gone) this.releaseChecks?.lost(c.index, host, this.hosts.scheduler.now, END_BARRIER_NAME);
    const lost = gone.length;
    this.stats.threadsLost += lost;
    this.hosts.trace('lost-threads', host, lost);
    this.maybeVerify();
  }

  lostWrites(host: number, page: number, threads: number): void {
    this.hosts.trace('lost-writes', host, page);
    this.coherence.lost(page);
    this.observed.lose(host, page);
    this.lostMemory(host, threads);
  }

  lostLock(host: number, id: number, thread: number, threads: number): void {
    this.hosts.trace('lost-lock', host, id, thread);
    this.releaseChecks?.lost(thread, host, this.hosts.scheduler.now, END_BARRIER_NAME);
    this.lostMemory(host, threads);
  }

  synced(e: SyncEvent): void {
    if (!(this.hosts.judged?.(e.host) ?? true)) return;
    this.lockSafety.event(e);
    this.barrierSafety.event(e);
    this.releaseChecks?.synced(e);
  }

  segfault(host: number, page: number, why: string): void {
    this.hosts.trace('segfault', host, page, why);
    this.failures.push(`host ${host}: access to page ${page} failed: ${why}`);
  }

  accessed(a: Access): void {
    this.stats.accesses++;
    if (this.hosts.judged?.(a.host) ?? true) this.lockSafety.acted(a.host, a.thread, a.ret);
    if (!(this.hosts.judged?.(a.host) ?? true)) {
      // A Byzantine host's threads run correct code: what they store is written, what they read is not judged.
      if (a.kind === 'read') return;
      this.coherence.access({ ...a, kind: 'write' });
      const register = this.registers.has(a.addr);
      if (register) this.accesses.push(a);
      this.observed.wrote(a, register && a.kind === 'write');
      return;
    }
    if (this.releaseChecks !== null) {
      this.releaseChecks.accessed(a);
      return;
    }
    this.coherence.access(a);
    const register = this.registers.has(a.addr);
    if (register) this.accesses.push(a);
    if (a.kind !== 'read') this.observed.wrote(a, register && a.kind === 'write');
    else if (register && a.value !== 0) this.observed.read(a.host, a.value);
  }

  /** Page-client counters of incarnations that crashed. */
  private retiredStats: Record<string, number> = {};

  retired(stats: Readonly<Record<string, number>>): void {
    for (const [k, v] of Object.entries(stats)) this.retiredStats[k] = (this.retiredStats[k] ?? 0) + v;
  }

  /** The run's page-client and sync-client counters: write-backs, evictions, lost writes, locks acquired, ... */
  clientStats(): Record<string, number> {
    const total = { ...this.retiredStats };
    for (const h of new Set(this.plans.flatMap((p) => p.members).concat(this.contexts.map((c) => c.host)))) {
      const vmm = this.hosts.appOf(h)?.vmm;
      for (const [k, v] of Object.entries({ ...vmm?.client.stats, ...vmm?.sync.stats })) total[k] = (total[k] ?? 0) + v;
    }
    return total;
  }

  /** Locks and barriers: what the threads did (the checkers' counts) and what the sync clients sent. */
  syncStats(): Record<string, number> {
    const c = this.clientStats();
    return {
      locksAcquired: this.lockSafety.stats.acquired, locksLost: this.lockSafety.stats.lost, barrierDepartures: this.barrierSafety.stats.departures,
      lockQueued: c['lockQueued'] ?? 0, lockRenewed: c['lockRenewed'] ?? 0, syncSent: c['syncSent'] ?? 0,
    };
  }

  faultServed(kind: 'read' | 'write', waitedUs: number): void {
    this.stats.faultsServed++;
    if (kind === 'read' && this.readFaultWaits.length < 100_000) this.readFaultWaits.push(waitedUs);
  }

  allocated(host: number, addr: number, size: number): void {
    this.stats.mallocs++;
    this.allocator.allocated(host, addr, size);
    this.releaseChecks?.fresh(addr, size, this.hosts.scheduler.now);
  }

  freed(_host: number, addr: number): void {
    this.allocator.freed(addr);
  }

  /** What the committed-table checks see of a host's running incarnation. */
  private holderView(host: number): HolderView | null {
    const app = this.hosts.appOf(host);
    if (app === null) return null;
    return {
      now: () => this.hosts.monotonicClock(host).local(this.hosts.scheduler.now),
      held: (page) => app.vmm.client.heldPages().find(([p]) => p === page)?.[1],
      isOpen: (page) => app.memory.protection(page) !== 'none',
      ownsRun: (id) => app.vmm.heap.ownedRuns().some((r) => r.id === id),
    };
  }

  companyApplied(host: number, a: CompanyApplied, index: number, machine: CompanyMachine): void {
    const first = this.committed.applied(a);
    if (a.cmd.op === 'lock-release' && a.result.ok) this.releaseChecks?.releaseCommitted(a.cmd.id, a.cmd.thread, a.cmd.token);
    if (this.releaseChecks !== null && a.result.ok && (a.cmd.op === 'lock-release' || a.cmd.op === 'barrier-arrive') && a.cmd.published !== null) {
      const key = a.cmd.op === 'lock-release' ? `lock:${a.cmd.id}` : `barrier:${a.cmd.name}:${a.cmd.thread}`;
      const order = a.cmd.op === 'lock-release' ? a.cmd.token : a.cmd.episode;
      if (order >= (this.syncRecords.get(key)?.order ?? -1)) this.syncRecords.set(key, { order, published: a.cmd.published });
    }
    if (a.cmd.op === 'release' && a.result.ok && a.mark !== undefined) this.observed.durable(a.mark.host, a.cmd.page, a.mark.seq);
    // A silent holder's lease waited out: any writes it had not written back are gone. Judged when the
    // expire commits (its first application), not again as each replica applies it: a replica applying
    // it late would count as lost the writes the host made since under a new lease (dsm-late-release
    // seed 12: host 2's op 13, written back at version 13, was taken as lost when host 2 applied the
    // expire of its earlier lease), and reads resting on them would then go unchecked.
    if (a.cmd.op === 'expire' && a.result.ok && first) {
      this.coherence.lost(a.cmd.page);
      this.observed.lose(a.cmd.host, a.cmd.page);
    }
    // A new allocation's pages read as zeros (a retried allocate returns the same run: not new).
    if (a.cmd.op === 'allocate' && a.result.ok && a.result.firstPage !== undefined && !this.allocationsSeen.has(a.cmd.id)) {
      this.allocationsSeen.add(a.cmd.id);
      this.coherence.reset(a.result.firstPage, a.cmd.pages);
    }
    if (index % 64 === 0 && (this.hosts.judged?.(host) ?? true)) this.agreement.record(a.company, index, machine.table.hash(a.company), host);
  }

  /** Once every thread is done (or lost), one host runs the workload's end check. */
  private maybeVerify(): void {
    if (this.verifying || this.finished + this.lostThreads < this.contexts.length) return;
    this.verifying = true;
    this.tryVerify();
  }

  private tryVerify(): void {
    const host = [...new Set(this.contexts.map((c) => c.host)), 1].find((h) => this.hosts.hostState(h) === 'up');
    const app = host === undefined ? null : this.hosts.appOf(host);
    if (host === undefined || app === null) {
      this.hosts.scheduler.after(100_000, () => this.tryVerify());
      return;
    }
    const ctx: ThreadContext = { ...this.contexts[0]!, host, index: this.contexts.length };
    this.verifyHost = host;
    const start = (): void => app.threads.start(ctx, this.workload.verify(ctx), (result) => {
      this.verdict = result ?? null;
      this.stats.verified = this.verdict === null ? 1 : 0;
    });
    if (this.releaseChecks === null) start();
    else {
      this.releaseChecks.synced({ kind: 'barrier-departed', host, thread: ctx.index, name: END_BARRIER.name, episode: 0, parties: 0, at: this.scheduler.now });
      // Threads lost before their end published nothing there, but their completed releases are
      // committed, with their records: the end check takes those in too, and reads every page afresh.
      const sync = [...this.syncRecords.entries()].sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0)).map(([, r]) => r.published);
      app.vmm.coherence.afterAcquire(END_BARRIER, ctx.index, [...this.endRecords, ...sync, EVERY_PAGE_CHANGED], false, start);
    }
  }

  /** Liveness once faults stopped: no thread still waits on a fault from before. */
  checkLiveness(quietUs: number, withinS: number): void {
    for (const h of new Set(this.contexts.map((c) => c.host))) {
      if (this.hosts.hostState(h) !== 'up') continue;
      for (const [thread, since] of this.hosts.appOf(h)?.threads.waitingSince ?? []) {
        if (since < quietUs) {
          violation('liveness', `thread ${thread} on host ${h} has waited for a page since ${(since / 1e6).toFixed(3)} s, ${withinS} s after faults stopped`);
        }
      }
    }
  }

  /** Whether a crash or a lost lease took writes (and the threads that made them) away. */
  get anyLost(): boolean {
    return this.hostsLostMemory.size > 0;
  }

  /** End of the run: the workload must have finished and passed its own check; registers must be linearizable. */
  checkEnd(mustFinish: boolean): void {
    if (this.failures.length > 0 && !this.anyLost) violation('workload', this.failures.slice(0, 3).join('; '));
    if (this.verdict === undefined) {
      // Threads that depend on lost ones (a matrix waiting for every row) may wait forever.
      if (mustFinish && (!this.anyLost || this.d.workload === 'registers')) {
        violation('liveness', `the ${this.workload.name} workload did not finish: ${this.finished} of ${this.contexts.length} threads done, ${this.lostThreads} lost`);
      }
    } else if (this.verdict !== null && (this.d.workload === 'registers' || !this.anyLost)) {
      // A crash loses writes by design, and threads with them: then only the registers' check is exact.
      violation('workload', `${this.workload.name}: ${this.verdict}`);
    }
    if (this.registers.size > 0) checkRegisterHistory(registerHistory(this.accesses, this.observed));
  }
}
