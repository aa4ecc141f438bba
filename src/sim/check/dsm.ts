// The shared memory's invariants: one writer or many readers per page at
// every instant; no host observes a write whose predecessors are not yet
// durable; blocks handed out never overlap; members of a company agree on the
// page table; what the page table commits about leases and runs agrees with
// what the hosts do; and, at the end, each register's history is linearizable.
import type { CompanyApplied } from '../../vmm/company.js';
import { parseAllocationId } from '../../vmm/heap.js';
import type { Protection } from '../../vmm/memory.js';
import type { LeaseToken } from '../../vmm/page-table-commands.js';
import type { Access } from '../threads.js';
import { checkLinearizable, describeOperation } from '../../check/linearizability.js';
import { registerModel, type RegisterOp } from '../../check/register-model.js';
import { violation } from './violation.js';

/** Single writer or many readers per page, judged on the protections hosts actually have. */
export class SingleWriter {
  /** page -> host -> protection (absent: none). */
  private open = new Map<number, Map<number, Protection>>();

  /** Paused hosts cannot touch memory: they are judged when they resume. */
  constructor(private readonly active: (host: number) => boolean) {}

  changed(host: number, page: number, prot: Protection): void {
    let hosts = this.open.get(page);
    if (prot === 'none') {
      hosts?.delete(host);
      return;
    }
    if (hosts === undefined) this.open.set(page, (hosts = new Map()));
    hosts.set(host, prot);
    if (this.active(host)) this.check(page, host, prot);
  }

  /** A resumed host may use what it still has open: check it all now. */
  resumed(host: number): void {
    for (const [page, hosts] of this.open) {
      const prot = hosts.get(host);
      if (prot !== undefined) this.check(page, host, prot);
    }
  }

  private check(page: number, host: number, prot: Protection): void {
    for (const [other, p] of this.open.get(page)!) {
      if (other === host || !this.active(other)) continue;
      if (prot === 'write' || p === 'write') {
        violation('single-writer', `page ${page}: host ${host} has it ${prot === 'write' ? 'writable' : 'readable'} while host ${other} has it ${p === 'write' ? 'writable' : 'readable'}`);
      }
    }
  }
}

/**
 * Durability of writes as others observe them. A host's write becomes durable
 * when a committed write-back of its page covers it. When a host reads a value
 * another host wrote, every write the writer made before it must be durable:
 * otherwise a crash of the writer could lose a write that the reader's
 * observation depends on.
 */
export class ObservedWrites {
  /** host -> page -> write seqs not yet durable, ascending. */
  private pending = new Map<number, Map<number, number[]>>();
  /** value -> [host, seq] of its (unique) write. */
  private writers = new Map<number, [number, number]>();
  /** "host:page" -> highest op seq a committed write-back covers. */
  readonly durableSeq = new Map<string, number>();
  /** "host:page" -> the first write that was lost (a crash, an expired lease): never durable. */
  private lostFrom = new Map<string, number>();

  wrote(a: Access, uniqueValue: boolean): void {
    let pages = this.pending.get(a.host);
    if (pages === undefined) this.pending.set(a.host, (pages = new Map()));
    let seqs = pages.get(a.page);
    if (seqs === undefined) pages.set(a.page, (seqs = []));
    seqs.push(a.seq);
    if (uniqueValue) this.writers.set(a.value, [a.host, a.seq]);
  }

  /** A write-back of `page` by `host` covering its ops up to `seq` was committed. */
  durable(host: number, page: number, seq: number): void {
    const key = `${host}:${page}`;
    if ((this.durableSeq.get(key) ?? 0) < seq) this.durableSeq.set(key, seq);
    const seqs = this.pending.get(host)?.get(page);
    if (seqs === undefined) return;
    let drop = 0;
    while (drop < seqs.length && seqs[drop]! <= seq) drop++;
    seqs.splice(0, drop);
  }

  /** `reader` read `value`: the writer's earlier writes must all be durable. */
  read(reader: number, value: number): void {
    const w = this.writers.get(value);
    if (w === undefined || w[0] === reader) return;
    const [writer, seq] = w;
    for (const [page, seqs] of this.pending.get(writer) ?? []) {
      if (seqs.length > 0 && seqs[0]! < seq) {
        violation('observed-write-durable',
          `host ${reader} read ${value}, written by host ${writer} (op ${seq}), while its earlier write to page ${page} (op ${seqs[0]}) was not yet durable`);
      }
    }
  }

  /** The host's writes of the page not yet durable are gone for good (it crashed, or its lease was waited out). */
  lose(host: number, page: number): void {
    const seqs = this.pending.get(host)?.get(page);
    if (seqs === undefined || seqs.length === 0) return;
    const key = `${host}:${page}`;
    this.lostFrom.set(key, Math.min(this.lostFrom.get(key) ?? Infinity, seqs[0]!));
    seqs.length = 0;
  }

  /**
   * The op seq from which a host's accesses to a page rest on writes that never
   * became durable (lost, or still unflushed at the end): Infinity if none.
   */
  lostAfter(host: number, page: number): number {
    const seqs = this.pending.get(host)?.get(page);
    const pending = seqs !== undefined && seqs.length > 0 ? seqs[0]! : Infinity;
    return Math.min(pending, this.lostFrom.get(`${host}:${page}`) ?? Infinity);
  }
}

/** Blocks handed out by malloc never overlap each other or the root region. */
export class AllocatorSafety {
  /** Live blocks, sorted by address: [addr, end, host]. */
  private live: [number, number, number][] = [];

  constructor(private readonly rootBytes: number) {}

  allocated(host: number, addr: number, size: number): void {
    const end = addr + Math.max(1, size);
    if (addr < this.rootBytes) violation('allocator-safety', `host ${host} got block ${addr} inside the root region (${this.rootBytes} bytes)`);
    const i = this.indexOf(addr);
    const before = this.live[i - 1];
    const after = this.live[i];
    for (const b of [before, after]) {
      if (b !== undefined && b[0] < end && addr < b[1]) {
        violation('allocator-safety', `host ${host} got block [${addr}, ${end}) overlapping live block [${b[0]}, ${b[1]}) of host ${b[2]}`);
      }
    }
    this.live.splice(i, 0, [addr, end, host]);
  }

  freed(addr: number): void {
    const i = this.indexOf(addr);
    if (this.live[i]?.[0] === addr) this.live.splice(i, 1);
  }

  get liveBlocks(): number {
    return this.live.length;
  }

  /** First index whose block starts at or after addr. */
  private indexOf(addr: number): number {
    let lo = 0;
    let hi = this.live.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.live[mid]![0] < addr) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

/** What the committed-table checks see of one running host. */
export interface HolderView {
  /** The host's monotonic clock (leases are judged on it), microseconds. */
  now(): number;
  /** The lease the host believes it holds on a page (its fencing token, and when it ends on this clock). */
  held(page: number): { lease: LeaseToken; expires: number } | undefined;
  /** Whether the host's memory has the page open (readable or writable). */
  isOpen(page: number): boolean;
  /** Whether the host's heap still uses the run of this allocation id. */
  ownsRun(id: string): boolean;
}

const sameLease = (a: LeaseToken | undefined, b: LeaseToken): boolean => a !== undefined && a.term === b.term && a.grantedAtUs === b.grantedAtUs;

/**
 * What a company commits, judged against the hosts at the moment it commits
 * (its first apply on any member; each member applies in log order, so that
 * is every entry once, in order). These fire at the protocol step that goes
 * wrong, before any host need touch the page:
 * - lease-waited-out: an expire removes a silent holder's lease only once
 *   that lease has ended on the holder's own clock (the manager's wait-out,
 *   stretched by the drift bound, must cover every clock within the bound);
 * - lease-dropped-open: a revoke or a give-back (release without keep)
 *   removes a lease only once its holder has closed the page (it closes it
 *   before it answers; a late or duplicated give-back of an earlier lease must
 *   not remove the lease the host holds now);
 * - page-runs: runs allocated in a company never overlap each other, and a
 *   free that succeeds frees the live run it names, one its owner's heap has
 *   let go of (a retried free of an old run never frees the run that took its
 *   place).
 */
export class CommittedTable {
  /** company -> highest log index judged, and the commands of that entry judged so far (an entry may carry several). */
  private judged = new Map<number, { index: number; pids: Set<string> }>();
  /** company -> live runs by allocation id: [firstPage, pages]. */
  private runs = new Map<number, Map<string, [number, number]>>();

  /** `host(h)`: a view of host h, or null while it is down. */
  constructor(private readonly host: (h: number) => HolderView | null) {}

  /** Judges a command at its first application on any replica (its commit); false for every later one. */
  applied(a: CompanyApplied): boolean {
    const judged = this.judged.get(a.company);
    if (judged !== undefined && (judged.index > a.index || (judged.index === a.index && judged.pids.has(a.pid)))) return false;
    if (judged?.index === a.index) judged.pids.add(a.pid);
    else this.judged.set(a.company, { index: a.index, pids: new Set([a.pid]) });
    this.judge(a);
    return true;
  }

  private judge(a: CompanyApplied): void {
    if (!a.result.ok) return;
    const c = a.cmd;
    switch (c.op) {
      case 'expire': {
        const h = this.host(c.host);
        const held = h?.held(c.page);
        if (h !== null && held !== undefined && c.lease !== undefined && sameLease(held.lease, c.lease) && h.now() < held.expires) {
          violation('lease-waited-out', `company ${a.company} expired host ${c.host}'s lease on page ${c.page} (term ${c.lease.term}) at index ${a.index} with ${held.expires - h.now()} us of it left on the holder's clock`);
        }
        return;
      }
      case 'revoke':
      case 'release': {
        if (c.op === 'release' && c.keep !== null) return;
        if (this.host(c.host)?.isOpen(c.page) === true) {
          violation('lease-dropped-open', `company ${a.company} committed a ${c.op === 'release' ? 'give-back' : 'revoke'} of host ${c.host}'s lease on page ${c.page} at index ${a.index} while the host has the page open`);
        }
        return;
      }
      case 'allocate': {
        let runs = this.runs.get(a.company);
        if (runs === undefined) this.runs.set(a.company, (runs = new Map()));
        const first = a.result.firstPage;
        if (first === undefined || runs.has(c.id)) return; // a retried allocate answers with the same run
        for (const [id, [f, n]] of runs) {
          if (f < first + c.pages && first < f + n) {
            violation('page-runs', `company ${a.company} allocated pages ${first}..${first + c.pages - 1} to ${c.id} at index ${a.index}, overlapping run ${id} (pages ${f}..${f + n - 1})`);
          }
        }
        runs.set(c.id, [first, c.pages]);
        return;
      }
      case 'free': {
        const runs = this.runs.get(a.company);
        const run = runs?.get(c.id);
        if (run === undefined || run[0] !== c.firstPage) {
          const there = [...(runs ?? [])].find(([, [f]]) => f === c.firstPage)?.[0];
          violation('page-runs', `company ${a.company} freed the run at page ${c.firstPage} for ${c.id} at index ${a.index}, but ${c.id} is ${run === undefined ? 'not a live run' : `at page ${run[0]}`}${there === undefined ? '' : ` (the run there is ${there})`}`);
        }
        runs!.delete(c.id);
        const owner = parseAllocationId(c.id)?.host;
        if (owner !== undefined && this.host(owner)?.ownsRun(c.id) === true) {
          violation('page-runs', `company ${a.company} freed run ${c.id} (pages ${run[0]}..${run[0] + run[1] - 1}) at index ${a.index} while its owner's heap still uses it`);
        }
        return;
      }
      default:
        return;
    }
  }
}

/** Members of a company at the same applied index hold the same page table. */
export class TableAgreement {
  private hashes = new Map<string, [string, number]>();

  record(company: number, index: number, hash: string, host: number): void {
    const key = `${company}:${index}`;
    const seen = this.hashes.get(key);
    if (seen === undefined) {
      this.hashes.set(key, [hash, host]);
      return;
    }
    if (seen[0] !== hash) {
      violation('page-table-agreement', `company ${company}: hosts ${seen[1]} and ${host} hold different page tables at index ${index}`);
    }
  }
}

/**
 * Builds the registers' history for the linearizability check. A host's
 * accesses to a page after a write of it that never became durable are
 * indeterminate: writes may or may not have happened, reads are dropped.
 */
export function registerHistory(accesses: readonly Access[], observed: ObservedWrites): RegisterOp[] {
  const ops: RegisterOp[] = [];
  for (const a of accesses) {
    const key = String(a.addr);
    const lost = a.seq >= observed.lostAfter(a.host, a.page);
    if (a.kind === 'write') {
      ops.push({ client: a.thread, input: { kind: 'write', key, value: a.value }, output: { kind: 'write' }, call: a.call, ret: lost ? Infinity : a.ret });
    } else if (a.kind === 'read' && !lost) {
      ops.push({ client: a.thread, input: { kind: 'read', key }, output: { kind: 'read', value: a.value === 0 ? null : a.value }, call: a.call, ret: a.ret });
    }
  }
  return ops;
}

export function checkRegisterHistory(ops: RegisterOp[]): void {
  const r = checkLinearizable(registerModel, ops, { maxSteps: 5_000_000 });
  if (r.verdict !== 'not-linearizable') return;
  const what = (r.unordered ?? []).slice(0, 6).map((o) => `thread ${o.client} ${describeOperation(registerModel, o)} [${o.call}, ${o.ret}] us`);
  violation('linearizability', `a register's history is not linearizable; these could not be ordered: ${what.join('; ')}`);
}

/**
 * Coherence, word by word: with one writer or many readers per page and
 * invalidation before every write, memory behaves as one copy, so every read
 * returns the last value written to that word anywhere (0 in a page freshly
 * allocated). Pages whose unflushed writes a host lost are unknown until
 * written again.
 */
export class Coherence {
  /** page -> word address -> value (absent: 0, unless the page is unknown). */
  private words = new Map<number, Map<number, number>>();
  private unknown = new Set<number>();

  access(a: Access): void {
    let page = this.words.get(a.page);
    if (a.kind === 'read' || a.kind === 'add') {
      const expected = page?.get(a.addr);
      const known = expected !== undefined || !this.unknown.has(a.page);
      if (known && (expected ?? 0) !== a.value) {
        violation('coherence', `host ${a.host} ${a.kind === 'add' ? 'added to' : 'read'} word ${a.addr} and found ${a.value}, but the last value written there is ${expected ?? 0}`);
      }
    }
    if (a.kind === 'read') return;
    if (page === undefined) this.words.set(a.page, (page = new Map()));
    page.set(a.addr, a.stored);
  }

  /** A run was freed (or allocated): its pages read as zeros. */
  reset(firstPage: number, pages: number): void {
    for (let p = firstPage; p < firstPage + pages; p++) {
      this.words.delete(p);
      this.unknown.delete(p);
    }
  }

  /** A host lost unflushed writes of a page: its words are unknown until written again. */
  lost(page: number): void {
    this.words.delete(page);
    this.unknown.add(page);
  }
}
