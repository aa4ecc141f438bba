// A small world for release-consistency tests: hosts 1..N, each a real Vmm
// over SimMemory, one company of every page led by host 1 whose proposals
// commit at once (after the entries being applied, as a Ready loop does), and
// a FIFO network the test runs to quiescence (or drops from). The test plays
// the sync layer: it calls the coherence hooks and hands the published records
// on. Every access and sync step is also recorded as a history for the race
// and DRF-SC checkers.
import { inertFaultPoints } from '../../../src/raft/index.js';
import { CompanyMachine, encodeCompanyEntry } from '../../../src/vmm/company.js';
import type { CompanyEntry } from '../../../src/vmm/company.js';
import type { CompanyPlan } from '../../../src/vmm/placement.js';
import type { VmmMessage } from '../../../src/vmm/protocol.js';
import type { CompanyAccess, VmmConfig, VmmEnv } from '../../../src/vmm/vmm-env.js';
import { Vmm } from '../../../src/vmm/vmm.js';
import { SimMemory } from '../../../src/sim/memory.js';
import type { HistoryEvent } from '../../../src/sim/check/races.js';

export const PAGE_SIZE = 64;

interface Host {
  vmm: Vmm;
  memory: SimMemory;
}

export class LrcWorld {
  readonly hosts = new Map<number, Host>();
  readonly machine: CompanyMachine;
  readonly history: HistoryEvent[] = [];
  readonly sent: { from: number; to: number; msg: VmmMessage }[] = [];
  private queue: { from: number; to: number; msg: VmmMessage }[] = [];
  private woken: (() => void)[] = [];
  private applying = false;
  private proposals: CompanyEntry[] = [];
  private index = 0;
  private now = 0;
  /** Messages from these hosts are lost. */
  readonly cutOff = new Set<number>();
  /** Messages from these hosts are held back until deliverHeld (a slow network). */
  readonly slow = new Set<number>();
  private heldBack: { from: number; to: number; msg: VmmMessage }[] = [];
  readonly segfaults: string[] = [];

  constructor(n: number, coherence: 'sequential' | 'release', bugs: VmmConfig['bugs'] = {}) {
    const pages = 8;
    const plan: CompanyPlan = { company: 1, firstPage: 0, pages, members: [1] };
    this.machine = new CompanyMachine(plan, PAGE_SIZE, 4, null);
    const replica: CompanyAccess = {
      isLeader: () => true, term: () => 1, lead: () => 1,
      propose: (entry) => {
        this.proposals.push(entry);
        if (!this.applying) this.commit();
        return true;
      },
      table: () => this.machine.table,
      appliedIndex: () => this.machine.appliedIndex,
    };
    for (let id = 1; id <= n; id++) {
      const memory = new SimMemory(id, PAGE_SIZE, pages, { changed: () => undefined }, (fn) => this.woken.push(fn), { now: () => this.now, at: () => undefined });
      const env: VmmEnv = {
        // Time stands still here: a timer for the present (a manager's proposals of one instant) runs
        // once what is due now has run; later ones (retries) never come.
        memory, faults: inertFaultPoints, now: () => this.now, timer: (at, fn) => {
          if (at <= this.now) this.woken.push(fn);
        },
        send: (to, msg) => {
          this.sent.push({ from: id, to, msg });
          if (this.slow.has(id)) this.heldBack.push({ from: id, to, msg });
          else if (!this.cutOff.has(id)) this.queue.push({ from: id, to, msg });
        },
        company: (c) => (c === 1 && id === 1 ? replica : null),
        members: () => [1], opSeq: () => 0,
        segfault: (page, why) => this.segfaults.push(`${id}: page ${page}: ${why}`), lostWrites: () => undefined, lostLock: () => undefined,
      };
      const vmm = new Vmm({ host: id, incarnation: 1, pageSize: PAGE_SIZE, pages, rootPages: 4, plans: [plan], leaseUs: 1_000_000, driftBoundPpm: 0, retryUs: 10_000, coherence, bugs }, env);
      memory.onFault((req) => vmm.fault(req.page, req.access));
      this.hosts.set(id, { vmm, memory });
    }
    this.hosts.get(1)!.vmm.leadership(1, true, 1);
  }

  private commit(): void {
    this.applying = true;
    while (this.proposals.length > 0) {
      const entry = this.proposals.shift()!;
      const a = this.machine.apply({ term: 1, index: ++this.index, kind: 'normal', data: encodeCompanyEntry(entry) });
      if (a !== null) this.hosts.get(1)!.vmm.applied(a);
    }
    this.applying = false;
  }

  /** The messages held back from slow hosts arrive now (late), and the world runs. */
  deliverHeld(): void {
    this.queue.push(...this.heldBack);
    this.heldBack = [];
    this.run();
  }

  /** Delivers messages and wakes faulted accesses until nothing is left. */
  run(): void {
    for (;;) {
      if (this.woken.length > 0) {
        const fns = this.woken;
        this.woken = [];
        for (const fn of fns) fn();
        continue;
      }
      const m = this.queue.shift();
      if (m === undefined) return;
      this.hosts.get(m.to)!.vmm.receive(m.from, m.msg);
    }
  }

  private at(): number {
    return ++this.now;
  }

  /** Thread `thread` on `host` writes the word at addr (faulting as needed) and the world runs. */
  write(host: number, thread: number, addr: number, value: number): void {
    const mem = this.hosts.get(host)!.memory;
    let done = false;
    const attempt = (): void => {
      if (!done && mem.storeWord(addr, value, attempt)) done = true;
    };
    attempt();
    this.run();
    if (!done) throw new Error(`host ${host}: write of ${addr} never completed`);
    this.history.push({ kind: 'write', host, thread, addr, value, at: this.at() });
  }

  read(host: number, thread: number, addr: number): number {
    const mem = this.hosts.get(host)!.memory;
    let value: number | null = null;
    const attempt = (): void => {
      if (value === null) value = mem.loadWord(addr, attempt);
    };
    attempt();
    this.run();
    if (value === null) throw new Error(`host ${host}: read of ${addr} never completed`);
    this.history.push({ kind: 'read', host, thread, addr, value, at: this.at() });
    return value;
  }

  /** A release of `obj`: returns the published record once the hook is done (null: it never finished). */
  release(host: number, thread: number, obj: string): string | null {
    let out: string | null | undefined;
    this.hosts.get(host)!.vmm.coherence.beforeRelease({ kind: 'lock', id: 1 }, thread, (p) => (out = p));
    this.run();
    if (out === undefined) return null;
    this.history.push({ kind: 'release', host, thread, obj, at: this.at() });
    return out;
  }

  acquire(host: number, thread: number, obj: string, published: string[], lapsed = false): void {
    let done = false;
    this.history.push({ kind: 'acquire', host, thread, obj, at: this.at() });
    this.hosts.get(host)!.vmm.coherence.afterAcquire({ kind: 'lock', id: 1 }, thread, published, lapsed, () => (done = true));
    this.run();
    if (!done) throw new Error(`host ${host}: acquire never finished`);
  }

  /** Messages of the coherence protocol sent so far, by type. */
  count(...types: VmmMessage['t'][]): number {
    return this.sent.filter((m) => types.includes(m.msg.t)).length;
  }
}
