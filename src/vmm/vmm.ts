// A host's virtual memory manager: the page client (faults, leases), a page
// manager for each company this host leads, and the heap (malloc and free
// across hosts). Sans-I/O: everything it needs comes through VmmEnv.
import { type CompanyApplied, eachApplied } from './company.js';
import { VmmProbe } from './fault-points.js';
import { firstSerialOf, HostHeap } from './heap.js';
import type { FreeToken } from './heap.js';
import { PageClient } from './page-client.js';
import { PageManager } from './page-manager.js';
import { Proposer } from './proposer.js';
import type { LeaseMode } from './page-table-commands.js';
import { companyOfPage } from './placement.js';
import type { SyncReply, SyncRequest, VmmMessage } from './protocol.js';
import { SyncClient } from './sync/client.js';
import { sequentialHooks } from './sync/hooks.js';
import type { CoherenceHooks } from './sync/hooks.js';
import { SyncManager } from './sync/manager.js';
import { companyOfSync } from './sync/placement.js';
import type { Reply } from './requests.js';
import type { VmmConfig, VmmEnv } from './vmm-env.js';
import { ReleaseClient } from './release/release-client.js';
import { ReleaseManager } from './release/release-manager.js';

export class Vmm {
  readonly client: PageClient;
  readonly heap: HostHeap;
  /** Locks and barriers of this host's threads. */
  readonly sync: SyncClient;
  private managers = new Map<number, { term: number; manager: PageManager; proposer: Proposer; sync: SyncManager; release: ReleaseManager }>();
  /** Under release consistency, this host's side of it (null: sequential consistency). */
  readonly release: ReleaseClient | null;
  /** What the sync layer calls at releases and acquires: the configured model's hooks. */
  readonly coherence: CoherenceHooks;
  /** Companies tried in turn for new runs, starting at a different one on each host. */
  private nextCompany: number;

  constructor(readonly cfg: VmmConfig, private readonly env: VmmEnv) {
    // Threads that lost writes are ended: their locks are abandoned with them.
    this.client = new PageClient(cfg, { ...env, lostWrites: (page) => {
      this.sync.abandon();
      this.release?.abandon();
      env.lostWrites(page);
    } });
    this.heap = new HostHeap({
      host: cfg.host, pageSize: cfg.pageSize, pages: cfg.pages, rootPages: cfg.rootPages, firstSerial: firstSerialOf(cfg.incarnation),
    });
    this.nextCompany = cfg.host % cfg.plans.length;
    this.release = cfg.coherence === 'release' ? new ReleaseClient(cfg, env, this.client.requests) : null;
    this.coherence = this.release ?? sequentialHooks((then) => this.client.flush(then));
    // Threads whose lock's lease ran out are ended: what they have not published never will be.
    this.sync = new SyncClient(cfg, { ...env, lostLock: (id, thread) => {
      this.release?.abandon();
      env.lostLock(id, thread);
    } }, this.coherence);
  }

  fault(page: number, access: LeaseMode): void {
    if (this.release !== null && !(this.cfg.sequentialPages?.includes(page) ?? false)) this.release.fault(page, access);
    else this.client.fault(page, access);
  }

  /** Leadership of a company here began or ended (or its term changed): a fresh manager per term. */
  leadership(company: number, leader: boolean, term: number): void {
    const m = this.managers.get(company);
    if (m !== undefined && (!leader || m.term !== term)) {
      m.manager.close();
      m.proposer.close();
      m.sync.close();
      this.managers.delete(company);
    }
    if (leader && !this.managers.has(company)) {
      const access = this.env.company(company);
      const plan = this.cfg.plans.find((p) => p.company === company);
      if (access === null || plan === undefined) return;
      const manager = new PageManager(this.cfg, this.env, plan, access);
      // Locks, barriers and diffs: their commands of one instant share a Raft entry.
      const proposer = new Proposer(this.cfg, this.env, access, 's');
      const release = new ReleaseManager(this.cfg, this.env, plan, access, (cmd, then) => proposer.propose(cmd, then));
      this.managers.set(company, { term, manager, proposer, sync: new SyncManager(this.cfg, this.env, plan, access, proposer), release });
    }
  }

  /** A committed entry of a company applied on this host. */
  applied(a: CompanyApplied): void {
    const m = this.managers.get(a.company);
    if (m === undefined) return;
    // What the managers note of every command of the entry, before any continues (see Proposer).
    const all = eachApplied(a);
    for (const x of all) {
      m.manager.applied(x);
      m.sync.applied(x);
    }
    for (const x of all) m.proposer.applied(x);
  }

  receive(from: number, msg: VmmMessage): void {
    switch (msg.t) {
      case 'grant':
      case 'refuse':
      case 'released':
      case 'alloc-ok':
      case 'free-token':
      case 'free-ok':
      case 'page':
      case 'diffed':
        this.client.requests.reply(from, msg as Reply);
        return;
      case 'revoke':
        this.client.revoke(from, msg);
        return;
      case 'free-owner':
        this.tokenForOther(msg);
        return;
      case 'free-block':
        this.freeForOther(from, msg);
        return;
      case 'acquire':
      case 'revoked':
      case 'release':
      case 'alloc':
      case 'free':
      case 'fetch':
      case 'diff':
        this.toManager(from, msg);
        return;
      case 'lock-acquire':
      case 'lock-release':
      case 'host-record':
      case 'host-records':
      case 'barrier-arrive':
        this.toSyncManager(from, msg);
        return;
      case 'lock-recall':
        this.sync.recall(msg);
        return;
      case 'lock-granted':
      case 'lock-queued':
      case 'lock-lost':
      case 'lock-released':
      case 'host-recorded':
      case 'host-records-are':
      case 'barrier-wait':
      case 'barrier-open':
      case 'sync-refuse':
        this.sync.reply(from, msg as SyncReply);
        return;
    }
  }

  private toSyncManager(from: number, msg: SyncRequest): void {
    const plan = msg.t === 'barrier-arrive' ? companyOfSync(this.cfg.plans, 'barrier', msg.name)
      : msg.t === 'host-record' ? companyOfSync(this.cfg.plans, 'host', from)
        : msg.t === 'host-records' ? companyOfSync(this.cfg.plans, 'host', msg.host)
          : companyOfSync(this.cfg.plans, 'lock', msg.id);
    const m = this.managers.get(plan.company)?.sync;
    if (m === undefined) {
      const lead = this.env.company(plan.company)?.lead() ?? 0;
      this.env.send(from, { t: 'sync-refuse', req: msg.req, why: 'not-leader', leader: lead, detail: '' });
      return;
    }
    if (msg.t === 'lock-acquire') m.acquire(from, msg);
    else if (msg.t === 'lock-release') m.release(from, msg);
    else if (msg.t === 'host-record') m.hostRecord(from, msg);
    else if (msg.t === 'host-records') m.hostRecords(from, msg);
    else m.arrive(from, msg);
  }

  private toManager(from: number, msg: Extract<VmmMessage, { t: 'acquire' | 'revoked' | 'release' | 'alloc' | 'free' | 'fetch' | 'diff' }>): void {

    const page = msg.t === 'alloc' ? -1 : msg.t === 'free' ? Math.floor(msg.addr / this.cfg.pageSize) : msg.page;
    const company = msg.t === 'alloc' ? msg.company : companyOfPage(this.cfg.plans, page)?.company ?? 0;
    const managed = this.managers.get(company);
    const m = managed?.manager;
    if (m === undefined) {
      if (msg.t === 'revoked') return; // its manager is gone; the new one asks again
      const lead = this.env.company(company)?.lead() ?? 0;
      this.env.send(from, { t: 'refuse', req: msg.req, page: Math.max(page, 0), why: 'not-leader', leader: lead, version: 0 });
      return;
    }
    if (msg.t === 'acquire') m.acquire(from, msg);
    else if (msg.t === 'revoked') m.revoked(from, msg);
    else if (msg.t === 'release') m.release(from, msg);
    else if (msg.t === 'alloc') m.alloc(from, msg);
    else if (msg.t === 'fetch') managed!.release.fetch(from, msg);
    else if (msg.t === 'diff') managed!.release.diff(from, msg);
    else m.free(from, msg);
  }

  // The heap

  /** Allocates a block; `done` gets its address, or 0 if the heap is full. */
  malloc(size: number, done: (addr: number) => void): void {
    const step = this.heap.malloc(size);
    if (step.kind === 'done') {
      done(step.addr);
      return;
    }
    this.allocRun(step.id, step.pages, 0, done);
  }

  /** Asks the companies in turn for a run of pages until one has room. */
  private allocRun(id: string, pages: number, tried: number, done: (addr: number) => void): void {
    const plans = this.cfg.plans;
    if (tried >= plans.length) {
      this.heap.runFailed(id);
      done(0);
      return;
    }
    const plan = plans[(this.nextCompany + tried) % plans.length]!;
    this.client.requests.start(plan, (req) => ({ t: 'alloc', req, company: plan.company, id, pages }), (reply) => {
      if (reply.t === 'alloc-ok') {
        this.nextCompany = (this.nextCompany + tried) % plans.length;
        this.release?.allocated(reply.firstPage, pages);
        done(this.heap.runAllocated(id, reply.firstPage));
      } else {
        this.env.faults.probe(VmmProbe.allocFellBack);
        this.allocRun(id, pages, tried + 1, done);
      }
      return 'done';
    });
  }

  /**
   * Frees a block this or any host allocated; `done` gets null, or what was
   * wrong. Another host's block: its company routes the free to the owner,
   * whose token the free then hands back (see HostHeap.tokenFor).
   */
  free(addr: number, done: (error: string | null) => void): void {
    // Other hosts can observe a free (the block goes to someone else): like a write to
    // another page, it waits until this host's writes before it are committed. If they
    // are lost, the free does not happen: it would rest on state nobody will ever see.
    // Under release consistency those writes are the host's unpublished interval: it is
    // published first, as at a thread's end (dsm-release-late seed 386: an unlink still
    // unpublished when the free committed was lost with a lapse, and the freed node stayed linked).
    this.client.flush((committed) => {
      if (!committed) done(`free of ${addr}: not done, this host's writes before it were lost`);
      else if (this.release === null) this.freeNow(addr, done);
      else this.sync.publish(() => this.freeNow(addr, done));
    });
  }

  private freeNow(addr: number, done: (error: string | null) => void): void {
    const step = this.heap.free(addr);
    if (step.kind === 'done') done(null);
    else if (step.kind === 'invalid') done(step.reason);
    else if (step.kind === 'free-run') {
      // Freed here; giving the run back to the page table is housekeeping the caller need not wait for.
      done(null);
      this.giveBack(step.firstPage, step.id);
    } else this.freeRemotely(addr, done);
  }

  private freeRemotely(addr: number, done: (error: string | null) => void): void {
    const plan = companyOfPage(this.cfg.plans, Math.floor(addr / this.cfg.pageSize));
    if (plan === undefined) {
      done(`address ${addr} is outside the heap`);
      return;
    }
    this.client.requests.start(plan, (req) => ({ t: 'free', req, addr, run: null }), (reply, _sentAt, owner) => {
      if (reply.t === 'free-token') this.freeAtOwner(owner, addr, { id: reply.id, gen: reply.gen }, done);
      else done(freeError(addr, reply));
      return 'done';
    });
  }

  private freeAtOwner(owner: number, addr: number, token: FreeToken, done: (error: string | null) => void): void {
    this.client.requests.startTo(owner, (req) => ({ t: 'free-block', req, addr, ...token }), (reply) => {
      done(freeError(addr, reply));
      return 'done';
    });
  }

  /** An empty run (allocation `id`) goes back to the page table; a retry finds it gone and is answered all the same. */
  private giveBack(firstPage: number, id: string): void {
    const plan = companyOfPage(this.cfg.plans, firstPage);
    if (plan === undefined) return;
    const addr = firstPage * this.cfg.pageSize;
    this.client.requests.start(plan, (req) => ({ t: 'free', req, addr, run: id }), () => 'done');
  }

  /** Another host wants to free a block of ours: step one, the token that names it. */
  private tokenForOther(msg: Extract<VmmMessage, { t: 'free-owner' }>): void {
    const t = this.heap.tokenFor(msg.addr);
    if (t.kind === 'invalid') this.refuseFree(msg.host, msg.req, msg.addr);
    else this.env.send(msg.host, { t: 'free-token', req: msg.req, addr: msg.addr, ...t.token });
  }

  /** Step two: free it if the token still names it (a retry of a free already done frees nothing). */
  private freeForOther(from: number, msg: Extract<VmmMessage, { t: 'free-block' }>): void {
    this.env.faults.probe(VmmProbe.crossHostFree);
    const step = this.heap.freeWithToken(msg.addr, { id: msg.id, gen: msg.gen });
    if (step.kind === 'invalid' || step.kind === 'remote') {
      this.refuseFree(from, msg.req, msg.addr);
      return;
    }
    this.env.send(from, { t: 'free-ok', req: msg.req, addr: msg.addr });
    if (step.kind === 'free-run') this.giveBack(step.firstPage, step.id);
  }

  private refuseFree(to: number, req: number, addr: number): void {
    this.env.send(to, { t: 'refuse', req, page: Math.floor(addr / this.cfg.pageSize), why: 'invalid', leader: 0, version: 0 });
  }

  close(): void {
    for (const m of this.managers.values()) {
      m.manager.close();
      m.proposer.close();
      m.sync.close();
    }
    this.managers.clear();
    this.client.close();
    this.release?.close();
    this.sync.close();
  }
}

function freeError(addr: number, reply: Reply): string | null {
  return reply.t === 'free-ok' ? null : `free of ${addr}: ${reply.t === 'refuse' ? reply.why : reply.t}`;
}
