// The per-host heap allocator: malloc/free on the shared heap, as a pure,
// sans-I/O state machine.
//
// Two layers (design.md section 7, "Heap layers"):
//  - runs of whole pages, which only the page table hands out, through
//    consensus. The heap never picks pages itself: malloc answers 'need-run'
//    and the caller proposes `{op:'allocate', company, id, pages, owner}`;
//    once that commits it calls runAllocated(id, firstPage) (or runFailed(id)
//    on 'no-space'). Large requests get a run of their own.
//  - a local size-class layer that carves small blocks out of runs this host
//    owns, so most small mallocs and frees cost no consensus round at all.
//
// All bookkeeping (runs, block states, free lists) lives here in local JS
// memory, never in the shared heap: another host writing a page it holds a
// lease on can then never corrupt this host's allocator, and freeing needs no
// page lease.
//
// Choices, and why:
//  - Address 0 is never a block: rootPages must be >= 1, so 0 can mean "out of
//    memory" as in C. Pages 0 .. rootPages-1 are never accepted as a run.
//  - Size classes are powers of two from 16 up to the largest power of two
//    <= pageSize/4; bigger requests are large. Powers of two keep every block
//    naturally aligned inside its page-aligned run, and pageSize must be a
//    multiple of 8, so every block address is 8-byte aligned.
//  - Small blocks never straddle a page boundary (each page of a run holds
//    floor(pageSize/class) blocks; a non-power-of-two page size leaves a tail
//    unused), so touching one block needs one page lease, not two.
//  - Free lists are address-ordered: malloc takes the lowest free block of
//    the class (lowest run first, lowest block in it). Reusing low addresses
//    first lets high runs drain completely and go back to the page table.
//  - Several mallocs of one class while a run for it is pending each get
//    their own run (and their own id). Waiting for one run would need a third
//    MallocStep kind every caller must handle; the extra blocks are not lost,
//    they go on the free list and serve the next mallocs locally.
//  - A small run whose blocks are all free is returned ('free-run'), except
//    (by default, keepLastRun) when it is the only run of its class here:
//    keeping one spare run stops a malloc/free loop from costing two
//    consensus rounds per iteration. At most one empty run per class stays.
//  - Once a run has been given back ('free-run') this host forgets it at
//    once. A later free of an address in it answers 'remote': the caller asks
//    the page table, where the run is either not allocated any more (the
//    caller reports invalid) or still ours until the free commits (freeFor
//    then answers 'invalid'). Remembering given-back runs locally would be
//    wrong once another host allocates the same pages.
//  - A free another host asks for takes two steps: the owner first hands out
//    a token naming the block's run and its generation (how many times that
//    block has been handed out), then frees the block only if the token still
//    names it. Frees travel over a network that loses, duplicates and delays
//    messages, so they are retried; a retry that arrives after the block was
//    freed and handed out again must not free the new block. With the token
//    every retry after the first free finds a newer generation (or no run)
//    and does nothing.
//  - Misuse by the caller of the protocol (an unknown or already resolved id,
//    a run in the root region or overlapping a run of ours) throws: it is a
//    bug in the driver, not something the application can cause. Misuse by
//    the application (bad free addresses, bad sizes) never throws: free
//    answers 'invalid', malloc answers 0.
//
// Determinism: no clock, randomness, timers or async; the only Map (pending
// requests) is never iterated; runs are kept in arrays sorted by first page.

export type MallocStep =
  | { kind: 'done'; addr: number }
  /** The caller must allocate a run of `pages` pages with this allocation id, then call runAllocated(id, firstPage), or runFailed(id) if there is no space. */
  | { kind: 'need-run'; pages: number; large: boolean; id: string };

export type FreeStep =
  | { kind: 'done' }
  /** A large block, or a small-block run now entirely free: the caller frees the run (allocation `id`) through consensus. */
  | { kind: 'free-run'; firstPage: number; id: string }
  /** Not in a run of this host's: the caller routes the free to the run's owner (from the page table's allocation rows). */
  | { kind: 'remote' }
  /** A double free, an address in the root region or outside the heap, not a block start, ... */
  | { kind: 'invalid'; reason: string };

/** What the owner of a block hands a host that wants to free it: the free goes through only while it still names the block. */
export interface FreeToken {
  /** The allocation id of the block's run. */
  id: string;
  /** How many times this block of the run has been handed out (0 for a large block, whose run is its only allocation). */
  gen: number;
}

export interface HostHeapOptions {
  /** This host's id; goes into allocation ids so they are unique across hosts. */
  host: number;
  /** Bytes per page; a positive multiple of 8. */
  pageSize: number;
  /** Pages in the whole shared heap. */
  pages: number;
  /** Pages 0 .. rootPages-1 are the root region; at least 1, so address 0 is never a block. */
  rootPages: number;
  /** Pages per small-class run (default 1). More pages mean fewer consensus rounds, more memory held idle. */
  smallRunPages?: number;
  /** Keep a class's only run when it empties instead of returning it (default true). */
  keepLastRun?: boolean;
  /**
   * First serial for allocation ids (default 1). A host that restarts with an
   * empty heap must start above every serial of its own in the page table's
   * allocation rows (parseAllocationId reads them back), or its new ids would
   * collide with runs it allocated before the crash.
   */
  firstSerial?: number;
}

interface LargeRun {
  kind: 'large';
  id: string;
  firstPage: number;
  pages: number;
}

interface SmallRun {
  kind: 'small';
  id: string;
  firstPage: number;
  pages: number;
  /** Index into the size classes. */
  ci: number;
  /** Block size in bytes. */
  size: number;
  /** Blocks per page. */
  perPage: number;
  /** 1 for each live block, in address order. */
  live: Uint8Array;
  /** Each block's generation: the count of takes from this run when it was last handed out. */
  gens: Uint32Array;
  /** Blocks handed out from this run so far. */
  takes: number;
  liveCount: number;
  /** No free block below this index: where the search for a free block starts. */
  lowestFree: number;
}

type Run = LargeRun | SmallRun;

interface Pending {
  /** Size-class index, or -1 for a large request. */
  ci: number;
  pages: number;
}

const ID_RE = /^([ls]):(0|[1-9][0-9]*):(0|[1-9][0-9]*)$/;

/**
 * Allocation serials an incarnation of a host may use: incarnation i starts at
 * (i - 1) * 2^32 + 1, so a host that restarted with an empty heap never names
 * a run the way an earlier incarnation did (the page table's allocate is
 * idempotent by id: a reused id would hand back the old run, whose blocks
 * other hosts may still hold). Ids stay safe integers for 2^21 incarnations.
 */
export const SERIALS_PER_INCARNATION = 2 ** 32;

export function firstSerialOf(incarnation: number): number {
  if (!Number.isSafeInteger(incarnation) || incarnation < 1 || incarnation > 2 ** 21) {
    throw new RangeError(`firstSerialOf: incarnation must be an integer in [1, 2^21], got ${incarnation}`);
  }
  return (incarnation - 1) * SERIALS_PER_INCARNATION + 1;
}

/** The allocation id of a run: `l:host:serial` for a large block, `s:host:serial` for a small-class run. */
export function allocationId(host: number, serial: number, large: boolean): string {
  if (!Number.isSafeInteger(host) || host < 0) throw new RangeError(`allocationId: host must be a non-negative integer, got ${host}`);
  if (!Number.isSafeInteger(serial) || serial < 0) throw new RangeError(`allocationId: serial must be a non-negative integer, got ${serial}`);
  return `${large ? 'l' : 's'}:${host}:${serial}`;
}

/** The inverse of allocationId; null for anything allocationId cannot produce (so ids compare canonically). */
export function parseAllocationId(id: string): { host: number; serial: number; large: boolean } | null {
  const m = ID_RE.exec(id);
  if (m === null) return null;
  const host = Number(m[2]);
  const serial = Number(m[3]);
  if (!Number.isSafeInteger(host) || !Number.isSafeInteger(serial)) return null;
  return { host, serial, large: m[1] === 'l' };
}

function intAtLeast(name: string, v: number, min: number): number {
  if (!Number.isSafeInteger(v) || v < min) throw new RangeError(`HostHeap: ${name} must be an integer >= ${min}, got ${v}`);
  return v;
}

/** Index of the first run in `runs` (sorted by firstPage) whose firstPage is > page. */
function upperBound(runs: readonly Run[], page: number): number {
  let lo = 0;
  let hi = runs.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (runs[mid]!.firstPage <= page) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function insertSorted<R extends Run>(runs: R[], run: R): void {
  runs.splice(upperBound(runs, run.firstPage), 0, run);
}

function removeSorted<R extends Run>(runs: R[], run: R): void {
  const i = upperBound(runs, run.firstPage) - 1;
  if (i < 0 || runs[i] !== run) throw new Error(`HostHeap: run at page ${run.firstPage} missing from its list`);
  runs.splice(i, 1);
}

export class HostHeap {
  readonly host: number;
  readonly pageSize: number;
  readonly pages: number;
  readonly rootPages: number;
  readonly smallRunPages: number;
  readonly keepLastRun: boolean;
  /** Block sizes of the small classes, ascending. Empty when pages are too small for any. */
  readonly classes: readonly number[];

  /** Every run this host owns, sorted by firstPage (they never overlap). */
  private readonly runs: Run[] = [];
  /** Per class: the runs with at least one free block, sorted by firstPage. This is the free list. */
  private readonly partial: SmallRun[][];
  /** Per class: how many runs of the class this host owns. */
  private readonly classRuns: number[];
  private readonly pending = new Map<string, Pending>();
  private serial: number;
  private liveBlocks = 0;
  private liveBytes = 0;

  constructor(opts: HostHeapOptions) {
    this.host = intAtLeast('host', opts.host, 0);
    this.pageSize = intAtLeast('pageSize', opts.pageSize, 8);
    if (this.pageSize % 8 !== 0) throw new RangeError(`HostHeap: pageSize must be a multiple of 8 (blocks are 8-byte aligned), got ${opts.pageSize}`);
    this.pages = intAtLeast('pages', opts.pages, 1);
    this.rootPages = intAtLeast('rootPages', opts.rootPages, 1);
    if (this.rootPages > this.pages) throw new RangeError(`HostHeap: rootPages ${opts.rootPages} exceeds pages ${opts.pages}`);
    if (!Number.isSafeInteger(this.pages * this.pageSize)) throw new RangeError('HostHeap: heap size overflows');
    this.smallRunPages = intAtLeast('smallRunPages', opts.smallRunPages ?? 1, 1);
    this.keepLastRun = opts.keepLastRun ?? true;
    this.serial = intAtLeast('firstSerial', opts.firstSerial ?? 1, 0);
    const classes: number[] = [];
    for (let s = 16; s <= this.pageSize / 4; s *= 2) classes.push(s);
    this.classes = classes;
    this.partial = classes.map(() => []);
    this.classRuns = classes.map(() => 0);
  }

  /** Bytes in the whole heap. */
  get heapBytes(): number {
    return this.pages * this.pageSize;
  }

  /**
   * Starts a malloc. `size` 0 gets the smallest block (as glibc does); a size
   * that is not a non-negative integer, or larger than the heap outside the
   * root region, answers 0 at once.
   */
  malloc(size: number): MallocStep {
    if (!Number.isSafeInteger(size) || size < 0) return { kind: 'done', addr: 0 };
    const ci = this.classIndex(size);
    if (ci < 0) {
      const pages = Math.ceil(size / this.pageSize);
      // It could never fit: no need to spend a consensus round to learn that.
      if (pages > this.pages - this.rootPages) return { kind: 'done', addr: 0 };
      return this.request(-1, pages);
    }
    const list = this.partial[ci]!;
    if (list.length > 0) {
      const run = list[0]!;
      const addr = this.take(run);
      if (run.liveCount === run.live.length) list.shift();
      return { kind: 'done', addr };
    }
    if (this.smallRunPages > this.pages - this.rootPages) return { kind: 'done', addr: 0 };
    return this.request(ci, this.smallRunPages);
  }

  /** The run for need-run `id` starts at `firstPage`: returns the malloc's block address. */
  runAllocated(id: string, firstPage: number): number {
    const p = this.pending.get(id);
    if (p === undefined) throw new Error(`HostHeap.runAllocated: no pending run request ${JSON.stringify(id)} (unknown or already resolved)`);
    if (!Number.isSafeInteger(firstPage) || firstPage < this.rootPages || firstPage + p.pages > this.pages) {
      throw new RangeError(
        `HostHeap.runAllocated(${JSON.stringify(id)}): run ${firstPage}+${p.pages} is not inside pages ${this.rootPages}..${this.pages - 1}`,
      );
    }
    const i = upperBound(this.runs, firstPage + p.pages - 1);
    const before = i > 0 ? this.runs[i - 1]! : null;
    if (before !== null && before.firstPage + before.pages > firstPage) {
      throw new Error(
        `HostHeap.runAllocated(${JSON.stringify(id)}): run ${firstPage}+${p.pages} overlaps run ${before.id} at ${before.firstPage}+${before.pages}`,
      );
    }
    this.pending.delete(id);
    if (p.ci < 0) {
      insertSorted(this.runs, { kind: 'large', id, firstPage, pages: p.pages });
      this.liveBlocks++;
      this.liveBytes += p.pages * this.pageSize;
      return firstPage * this.pageSize;
    }
    const size = this.classes[p.ci]!;
    const perPage = Math.floor(this.pageSize / size);
    const run: SmallRun = {
      kind: 'small',
      id,
      firstPage,
      pages: p.pages,
      ci: p.ci,
      size,
      perPage,
      live: new Uint8Array(perPage * p.pages),
      gens: new Uint32Array(perPage * p.pages),
      takes: 0,
      liveCount: 0,
      lowestFree: 0,
    };
    insertSorted(this.runs, run);
    this.classRuns[p.ci]!++;
    const addr = this.take(run);
    if (run.liveCount < run.live.length) insertSorted(this.partial[p.ci]!, run);
    return addr;
  }

  /** The page table had no space for need-run `id`: that malloc's result is 0. */
  runFailed(id: string): void {
    if (!this.pending.delete(id)) throw new Error(`HostHeap.runFailed: no pending run request ${JSON.stringify(id)} (unknown or already resolved)`);
  }

  /** Frees a block on behalf of this host's own thread. */
  free(addr: number): FreeStep {
    const at = this.liveBlockAt(addr);
    if (at === null) return { kind: 'remote' };
    if ('reason' in at) return at;
    const { run, b } = at;
    if (run.kind === 'large') {
      removeSorted(this.runs, run);
      this.liveBlocks--;
      this.liveBytes -= run.pages * this.pageSize;
      return { kind: 'free-run', firstPage: run.firstPage, id: run.id };
    }
    const wasFull = run.liveCount === run.live.length;
    run.live[b] = 0;
    run.liveCount--;
    if (b < run.lowestFree) run.lowestFree = b;
    this.liveBlocks--;
    this.liveBytes -= run.size;
    const list = this.partial[run.ci]!;
    if (run.liveCount === 0 && (!this.keepLastRun || this.classRuns[run.ci]! > 1)) {
      if (!wasFull) removeSorted(list, run);
      removeSorted(this.runs, run);
      this.classRuns[run.ci]!--;
      return { kind: 'free-run', firstPage: run.firstPage, id: run.id };
    }
    if (wasFull) insertSorted(list, run);
    return { kind: 'done' };
  }

  /** A free another host forwarded to this host as the run's owner: like free, but an address that is not ours after all is invalid. */
  freeFor(addr: number): FreeStep {
    const r = this.free(addr);
    if (r.kind === 'remote') return invalid(`${addr} is not in a run owned by host ${this.host}`);
    return r;
  }

  /** Step one of a free another host asks for: the token that names the live block of ours at addr. */
  tokenFor(addr: number): { kind: 'token'; token: FreeToken } | Invalid {
    const at = this.liveBlockAt(addr);
    if (at === null) return invalid(`${addr} is not in a run owned by host ${this.host}`);
    if ('reason' in at) return at;
    return { kind: 'token', token: { id: at.run.id, gen: at.run.kind === 'large' ? 0 : at.run.gens[at.b]! } };
  }

  /**
   * Step two: frees the block at addr if the token still names it. If its run
   * is gone, or the block was freed (and maybe handed out again) since, this is
   * a retry of a free already done: it answers done and frees nothing.
   */
  freeWithToken(addr: number, token: FreeToken): FreeStep {
    const at = this.liveBlockAt(addr);
    if (at === null || 'reason' in at || at.run.id !== token.id) return { kind: 'done' };
    if (at.run.kind === 'small' && at.run.gens[at.b] !== token.gen) return { kind: 'done' };
    return this.free(addr);
  }

  /** Whether addr lies in a run this host owns (live block or not). */
  owns(addr: number): boolean {
    const inHeap = Number.isSafeInteger(addr) && addr >= this.rootPages * this.pageSize && addr < this.heapBytes;
    return inHeap && this.runAt(addr) !== null;
  }

  /** The size class (or, for a large block, the run's bytes) of the live block of this host's that starts at addr; else null. */
  blockSize(addr: number): number | null {
    const at = this.liveBlockAt(addr);
    if (at === null || 'reason' in at) return null;
    return at.run.kind === 'large' ? at.run.pages * this.pageSize : at.run.size;
  }

  /** Live blocks owned here, in address order. `size` is the block's size (class or run bytes), not the size asked for. */
  live(): Array<{ addr: number; size: number }> {
    const out: Array<{ addr: number; size: number }> = [];
    for (const run of this.runs) {
      if (run.kind === 'large') {
        out.push({ addr: run.firstPage * this.pageSize, size: run.pages * this.pageSize });
        continue;
      }
      for (let b = 0; b < run.live.length; b++) if (run.live[b] === 1) out.push({ addr: this.blockAddr(run, b), size: run.size });
    }
    return out;
  }

  /**
   * The runs this host owns, by first page: to cross-check against the page
   * table's allocation rows. `blockSize` is the class of a small run (the run's
   * bytes for a large one); `liveBlocks` how many of its blocks are live.
   */
  ownedRuns(): Array<{ id: string; firstPage: number; pages: number; large: boolean; blockSize: number; liveBlocks: number }> {
    return this.runs.map((r) =>
      r.kind === 'large'
        ? { id: r.id, firstPage: r.firstPage, pages: r.pages, large: true, blockSize: r.pages * this.pageSize, liveBlocks: 1 }
        : { id: r.id, firstPage: r.firstPage, pages: r.pages, large: false, blockSize: r.size, liveBlocks: r.liveCount },
    );
  }

  /** liveBytes counts block sizes (class or run bytes), not requested sizes. */
  stats(): { liveBlocks: number; liveBytes: number; runs: number; pendingRuns: number } {
    return { liveBlocks: this.liveBlocks, liveBytes: this.liveBytes, runs: this.runs.length, pendingRuns: this.pending.size };
  }

  // --- internals -----------------------------------------------------------

  /** Smallest class that fits size, or -1 if the request is large. */
  private classIndex(size: number): number {
    for (let i = 0; i < this.classes.length; i++) if (size <= this.classes[i]!) return i;
    return -1;
  }

  private request(ci: number, pages: number): MallocStep {
    const large = ci < 0;
    const id = allocationId(this.host, this.serial++, large);
    this.pending.set(id, { ci, pages });
    return { kind: 'need-run', pages, large, id };
  }

  /** Marks the lowest free block of run live and returns its address; the run must have one. */
  private take(run: SmallRun): number {
    let b = run.lowestFree;
    while (b < run.live.length && run.live[b] === 1) b++;
    if (b >= run.live.length) throw new Error(`HostHeap: run ${run.id} has no free block`);
    run.live[b] = 1;
    run.gens[b] = ++run.takes >>> 0;
    run.liveCount++;
    run.lowestFree = b + 1;
    this.liveBlocks++;
    this.liveBytes += run.size;
    return this.blockAddr(run, b);
  }

  private blockAddr(run: SmallRun, b: number): number {
    const page = run.firstPage + Math.floor(b / run.perPage);
    return page * this.pageSize + (b % run.perPage) * run.size;
  }

  /** Index of the block that starts at addr in run, or -1 if none does. */
  private blockIndex(run: SmallRun, addr: number): number {
    const page = Math.floor(addr / this.pageSize);
    const off = addr - page * this.pageSize;
    if (off % run.size !== 0 || off / run.size >= run.perPage) return -1;
    return (page - run.firstPage) * run.perPage + off / run.size;
  }

  /** The live block of ours that starts at addr (b: its index in a small run, -1 for a large block); null if no run of ours holds addr; else why it is no block. */
  private liveBlockAt(addr: number): { run: Run; b: number } | Invalid | null {
    const bad = this.checkAddress(addr);
    if (bad !== null) return bad;
    const run = this.runAt(addr);
    if (run === null) return null;
    if (run.kind === 'large') {
      if (addr !== run.firstPage * this.pageSize) return invalid(`${addr} is inside the large block at ${run.firstPage * this.pageSize}, not its start`);
      return { run, b: -1 };
    }
    const b = this.blockIndex(run, addr);
    if (b < 0) return invalid(`${addr} is not the start of a ${run.size}-byte block`);
    if (run.live[b] === 0) return invalid(`double free: the ${run.size}-byte block at ${addr} is not allocated`);
    return { run, b };
  }

  private runAt(addr: number): Run | null {
    const page = Math.floor(addr / this.pageSize);
    const i = upperBound(this.runs, page) - 1;
    if (i < 0) return null;
    const run = this.runs[i]!;
    return page < run.firstPage + run.pages ? run : null;
  }

  /** Null if addr could be a block of some host's; else why not. */
  private checkAddress(addr: number): Invalid | null {
    if (!Number.isSafeInteger(addr) || addr < 0 || addr >= this.heapBytes) return invalid(`${addr} is not an address in the heap (0..${this.heapBytes - 1})`);
    if (addr < this.rootPages * this.pageSize) return invalid(`${addr} is inside the root region (pages 0..${this.rootPages - 1})`);
    if (addr % 8 !== 0) return invalid(`${addr} is not 8-byte aligned, so not a block start`);
    return null;
  }
}

type Invalid = Extract<FreeStep, { kind: 'invalid' }>;

function invalid(reason: string): Invalid {
  return { kind: 'invalid', reason };
}
