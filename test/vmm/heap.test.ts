import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { type FreeStep, HostHeap, type HostHeapOptions, type MallocStep, allocationId, parseAllocationId } from '../../src/vmm/heap.js';

// 256-byte pages: size classes 16, 32 and 64; anything above 64 bytes is large.
const PS = 256;
const PAGES = 16;
const ROOT = 2;

function heap(extra: Partial<HostHeapOptions> = {}): HostHeap {
  return new HostHeap({ host: 1, pageSize: PS, pages: PAGES, rootPages: ROOT, ...extra });
}

function needRun(s: MallocStep): MallocStep & { kind: 'need-run' } {
  if (s.kind !== 'need-run') assert.unreachable(`expected need-run, got ${JSON.stringify(s)}`);
  return s as MallocStep & { kind: 'need-run' };
}

function done(s: MallocStep): number {
  if (s.kind !== 'done') assert.unreachable(`expected done, got ${JSON.stringify(s)}`);
  return (s as MallocStep & { kind: 'done' }).addr;
}

function invalid(s: FreeStep | ReturnType<HostHeap["tokenFor"]>, match: string): void {
  if (s.kind !== 'invalid') assert.unreachable(`expected invalid (${match}), got ${JSON.stringify(s)}`);
  else assert.match(s.reason, match);
}

/** Mallocs size; if it needs a run, hands it the run at firstPage. */
function mallocAt(h: HostHeap, size: number, firstPage: number): number {
  const s = h.malloc(size);
  return s.kind === 'done' ? s.addr : h.runAllocated(s.id, firstPage);
}

// --- allocation ids --------------------------------------------------------

test('allocation ids round-trip and junk does not parse', () => {
  assert.is(allocationId(3, 17, true), 'l:3:17');
  assert.is(allocationId(3, 18, false), 's:3:18');
  assert.equal(parseAllocationId('l:3:17'), { host: 3, serial: 17, large: true });
  assert.equal(parseAllocationId('s:0:0'), { host: 0, serial: 0, large: false });
  for (const bad of ['', 'x:1:2', 'l:1', 'l:1:2:3', 'l:-1:2', 'l:01:2', 'l:1:02', 'l:1.5:2', ' l:1:2', 'l:1:2 ', 'l:1:99999999999999999999']) {
    assert.is(parseAllocationId(bad), null, bad);
  }
  assert.throws(() => allocationId(-1, 1, true));
  assert.throws(() => allocationId(1, 1.5, false));
  fc.assert(
    fc.property(fc.nat(), fc.nat(), fc.boolean(), (host, serial, large) => {
      assert.equal(parseAllocationId(allocationId(host, serial, large)), { host, serial, large });
    }),
  );
});

test('constructor refuses bad geometry', () => {
  assert.throws(() => heap({ rootPages: 0 }), /rootPages/);
  assert.throws(() => heap({ rootPages: PAGES + 1 }), /rootPages/);
  assert.throws(() => heap({ pageSize: 100 }), /multiple of 8/);
  assert.throws(() => heap({ pages: 0 }), /pages/);
  assert.throws(() => heap({ smallRunPages: 0 }), /smallRunPages/);
  assert.equal(heap().classes, [16, 32, 64]);
  assert.equal(new HostHeap({ host: 1, pageSize: 4096, pages: 4, rootPages: 1 }).classes, [16, 32, 64, 128, 256, 512, 1024]);
  // Pages too small for any class: every request is large.
  const tiny = new HostHeap({ host: 1, pageSize: 32, pages: 8, rootPages: 1 });
  assert.equal(tiny.classes, []);
  assert.equal(tiny.malloc(1), { kind: 'need-run', pages: 1, large: true, id: 'l:1:1' });
});

// --- malloc ----------------------------------------------------------------

test('small mallocs carve a run into blocks of the class, in address order', () => {
  const h = heap({ host: 4 });
  const s = needRun(h.malloc(10));
  assert.equal(s, { kind: 'need-run', pages: 1, large: false, id: 's:4:1' });
  assert.is(h.runAllocated(s.id, 5), 5 * PS);
  assert.is(done(h.malloc(16)), 5 * PS + 16);
  assert.is(done(h.malloc(1)), 5 * PS + 32);
  assert.is(h.blockSize(5 * PS + 32), 16);
  // Another class needs its own run.
  const s32 = needRun(h.malloc(17));
  assert.equal(s32, { kind: 'need-run', pages: 1, large: false, id: 's:4:2' });
  assert.is(h.runAllocated(s32.id, 6), 6 * PS);
  assert.is(h.blockSize(6 * PS), 32);
  assert.is(done(h.malloc(32)), 6 * PS + 32);
  assert.equal(h.stats(), { liveBlocks: 5, liveBytes: 16 * 3 + 32 * 2, runs: 2, pendingRuns: 0 });
  assert.equal(h.live(), [
    { addr: 5 * PS, size: 16 },
    { addr: 5 * PS + 16, size: 16 },
    { addr: 5 * PS + 32, size: 16 },
    { addr: 6 * PS, size: 32 },
    { addr: 6 * PS + 32, size: 32 },
  ]);
});

test('a full run makes the next malloc of its class ask for another run', () => {
  const h = heap();
  const addrs = [mallocAt(h, 64, 3)];
  for (let i = 1; i < PS / 64; i++) addrs.push(done(h.malloc(64)));
  assert.equal(addrs, [3 * PS, 3 * PS + 64, 3 * PS + 128, 3 * PS + 192]);
  const s = needRun(h.malloc(40));
  assert.is(h.runAllocated(s.id, 9), 9 * PS);
});

test('multi-page small runs keep every block inside one page', () => {
  // 80-byte pages: one class (16), 5 blocks a page; a 2-page run holds 10.
  const h = new HostHeap({ host: 1, pageSize: 80, pages: 10, rootPages: 1, smallRunPages: 2 });
  assert.equal(h.classes, [16]);
  const s = needRun(h.malloc(8));
  assert.is(s.pages, 2);
  const first = h.runAllocated(s.id, 4);
  const got = [first];
  for (let i = 1; i < 10; i++) got.push(done(h.malloc(16)));
  for (const a of got) assert.ok(Math.floor(a / 80) === Math.floor((a + 15) / 80), `block ${a} straddles a page`);
  assert.equal(got, [320, 336, 352, 368, 384, 400, 416, 432, 448, 464]);
  assert.is(needRun(h.malloc(1)).pages, 2);
  // With 88-byte pages the last 8 bytes of each page are never a block.
  const odd = new HostHeap({ host: 1, pageSize: 88, pages: 10, rootPages: 1, keepLastRun: false });
  const b = mallocAt(odd, 16, 2);
  for (let i = 1; i < 5; i++) done(odd.malloc(16));
  assert.is(odd.malloc(16).kind, 'need-run');
  invalid(odd.free(b + 80), 'not the start');
});

test('large mallocs get their own run of ceil(size/pageSize) pages', () => {
  const h = heap({ host: 2 });
  const s = needRun(h.malloc(2 * PS + 1));
  assert.equal(s, { kind: 'need-run', pages: 3, large: true, id: 'l:2:1' });
  assert.is(h.runAllocated(s.id, 7), 7 * PS);
  assert.is(h.blockSize(7 * PS), 3 * PS);
  assert.is(needRun(h.malloc(65)).pages, 1);
  assert.is(needRun(h.malloc(PS)).pages, 1);
  assert.is(needRun(h.malloc(PS + 1)).pages, 2);
  assert.equal(h.live(), [{ addr: 7 * PS, size: 3 * PS }]);
  assert.equal(h.stats(), { liveBlocks: 1, liveBytes: 3 * PS, runs: 1, pendingRuns: 3 });
});

test('every block address is 8-byte aligned and never in the root region', () => {
  const h = new HostHeap({ host: 1, pageSize: 4104, pages: 40, rootPages: 3 }); // 4104 = 8 * 513: not a power of two
  let next = 3;
  for (const size of [1, 7, 8, 9, 15, 16, 17, 100, 513, 1000, 1026, 4104, 5000, 3, 24, 1]) {
    const s = h.malloc(size);
    let addr: number;
    if (s.kind === 'need-run') {
      addr = h.runAllocated(s.id, next);
      next += s.pages;
    } else addr = s.addr;
    assert.is(addr % 8, 0, `size ${size} -> ${addr}`);
    assert.ok(addr >= 3 * 4104, `size ${size} -> ${addr} in the root region`);
    assert.ok((h.blockSize(addr) ?? 0) >= size);
  }
});

test('runs inside the root region, outside the heap or over an own run are refused loudly', () => {
  const h = heap();
  const s = needRun(h.malloc(10));
  assert.throws(() => h.runAllocated(s.id, 0), /not inside/);
  assert.throws(() => h.runAllocated(s.id, ROOT - 1), /not inside/);
  assert.throws(() => h.runAllocated(s.id, PAGES), /not inside/);
  assert.throws(() => h.runAllocated(s.id, 2.5), /not inside/);
  const l = needRun(h.malloc(3 * PS));
  assert.throws(() => h.runAllocated(l.id, PAGES - 2), /not inside/);
  h.runAllocated(l.id, 4); // pages 4..6
  assert.throws(() => h.runAllocated(s.id, 6), /overlaps/);
  assert.throws(() => h.runAllocated(s.id, 4), /overlaps/);
  // The refused request is still pending and can still be resolved.
  assert.is(h.runAllocated(s.id, 7), 7 * PS);
  assert.throws(() => h.runAllocated(s.id, 8), /already resolved/);
  assert.throws(() => h.runAllocated('s:1:999', 8), /unknown/);
});

test('bad sizes answer 0 without a consensus round; size 0 gets the smallest block', () => {
  const h = heap();
  for (const size of [-1, 1.5, Number.NaN, Infinity, (PAGES - ROOT) * PS + 1]) assert.equal(h.malloc(size), { kind: 'done', addr: 0 });
  assert.is(h.stats().pendingRuns, 0);
  assert.is(needRun(h.malloc((PAGES - ROOT) * PS)).pages, PAGES - ROOT);
  const z = needRun(h.malloc(0));
  assert.is(z.large, false);
  assert.is(h.blockSize(h.runAllocated(z.id, 3)), 16);
});

test('runFailed: the malloc gets 0 and the id is spent', () => {
  const h = heap();
  const s = needRun(h.malloc(3000));
  h.runFailed(s.id);
  assert.throws(() => h.runFailed(s.id), /already resolved/);
  assert.throws(() => h.runAllocated(s.id, 3), /already resolved/);
  assert.equal(h.stats(), { liveBlocks: 0, liveBytes: 0, runs: 0, pendingRuns: 0 });
  // A failed small run leaves nothing behind either: the next malloc asks again, with a new id.
  const a = needRun(h.malloc(8));
  h.runFailed(a.id);
  const b = needRun(h.malloc(8));
  assert.is.not(b.id, a.id);
});

test('mallocs of one class while its run is pending each get their own run; spare blocks serve later ones', () => {
  const h = heap();
  const a = needRun(h.malloc(20));
  const b = needRun(h.malloc(30));
  assert.is.not(a.id, b.id);
  assert.is(h.stats().pendingRuns, 2);
  // Resolved out of order, on pages in reverse order.
  assert.is(h.runAllocated(b.id, 9), 9 * PS);
  assert.is(h.runAllocated(a.id, 4), 4 * PS);
  // Address-ordered: the lower run's spare blocks go first.
  assert.is(done(h.malloc(32)), 4 * PS + 32);
  assert.is(done(h.malloc(32)), 4 * PS + 64);
});

// --- free ------------------------------------------------------------------

test('freed small blocks are reused lowest address first', () => {
  const h = heap();
  const a = mallocAt(h, 16, 3);
  const b = done(h.malloc(16));
  const c = done(h.malloc(16));
  assert.equal(h.free(a), { kind: 'done' });
  assert.equal(h.free(c), { kind: 'done' });
  // LIFO would hand out c; address order hands out a.
  assert.is(done(h.malloc(16)), a);
  assert.is(done(h.malloc(16)), c);
  assert.is(done(h.malloc(16)), b + 32);
  assert.is(h.blockSize(c), 16);
  assert.equal(h.stats().liveBlocks, 4);
});

test('a free that turns a full run partial puts it back on the free list', () => {
  const h = heap();
  const first = mallocAt(h, 64, 3);
  for (let i = 1; i < 4; i++) done(h.malloc(64));
  const second = mallocAt(h, 64, 8); // run 3 is full
  assert.is(second, 8 * PS);
  assert.equal(h.free(first + 128), { kind: 'done' });
  assert.is(done(h.malloc(64)), first + 128);
  assert.is(done(h.malloc(64)), second + 64);
});

test('a large block frees its run', () => {
  const h = heap();
  const a = mallocAt(h, 1000, 10);
  invalid(h.free(a + 8), 'inside the large block');
  invalid(h.free(a + PS), 'inside the large block');
  assert.equal(h.free(a), { kind: 'free-run', firstPage: 10, id: 'l:1:1' });
  assert.is(h.owns(a), false);
  assert.is(h.blockSize(a), null);
  assert.equal(h.stats(), { liveBlocks: 0, liveBytes: 0, runs: 0, pendingRuns: 0 });
  // A second free is no longer ours to judge: the caller asks the page table's owner.
  assert.equal(h.free(a), { kind: 'remote' });
  invalid(h.freeFor(a), 'not in a run owned by host 1');
});

test('double frees and bad addresses are invalid', () => {
  const h = heap();
  const a = mallocAt(h, 32, 5);
  done(h.malloc(32)); // keep the run alive
  assert.equal(h.free(a), { kind: 'done' });
  invalid(h.free(a), 'double free');
  invalid(h.free(a + 64), 'double free'); // a block start, never handed out
  invalid(h.free(a + 16), 'not the start');
  invalid(h.free(a + 4), '8-byte aligned');
  invalid(h.free(0), 'root region');
  invalid(h.free(ROOT * PS - 8), 'root region');
  invalid(h.free(-8), 'not an address');
  invalid(h.free(PAGES * PS), 'not an address');
  invalid(h.free(Number.NaN), 'not an address');
  invalid(h.free(1.5), 'not an address');
  // In the heap but in no run of ours.
  assert.equal(h.free(12 * PS), { kind: 'remote' });
  assert.is(h.owns(12 * PS), false);
  assert.is(h.owns(a), true);
  assert.is(h.owns(a + 4), true);
  assert.is(h.blockSize(a), null);
});

test('an entirely free small run goes back, except a class\'s last run by default', () => {
  const h = heap();
  const a = mallocAt(h, 16, 3);
  const b = done(h.malloc(16));
  assert.equal(h.free(a), { kind: 'done' });
  // The only run of class 16: kept, so a malloc/free loop costs no consensus.
  assert.equal(h.free(b), { kind: 'done' });
  assert.equal(h.stats(), { liveBlocks: 0, liveBytes: 0, runs: 1, pendingRuns: 0 });
  assert.is(done(h.malloc(16)), a);
  // Fill run 3, take a second run, then empty run 3: it goes back because run 9 remains.
  for (let i = 1; i < PS / 16; i++) done(h.malloc(16));
  const c = mallocAt(h, 16, 9);
  const live3 = h.live().filter((x) => x.addr < 4 * PS).map((x) => x.addr);
  assert.is(live3.length, PS / 16);
  for (const x of live3.slice(0, -1)) assert.equal(h.free(x), { kind: 'done' });
  assert.equal(h.free(live3[live3.length - 1]!), { kind: 'free-run', firstPage: 3, id: 's:1:1' });
  assert.equal(h.ownedRuns(), [{ id: 's:1:2', firstPage: 9, pages: 1, large: false, blockSize: 16, liveBlocks: 1 }]);
  assert.is(h.owns(a), false);
  assert.equal(h.free(a), { kind: 'remote' });
  // The forgotten run's blocks are not handed out again.
  assert.is(done(h.malloc(16)), c + 16);
  // Run 9, now the last, is kept when empty.
  assert.equal(h.free(c), { kind: 'done' });
  assert.equal(h.free(c + 16), { kind: 'done' });
  assert.is(h.stats().runs, 1);
});

test('keepLastRun: false returns every run the moment it is empty', () => {
  const h = heap({ keepLastRun: false });
  const a = mallocAt(h, 16, 3);
  const b = done(h.malloc(16));
  assert.equal(h.free(b), { kind: 'done' });
  assert.equal(h.free(a), { kind: 'free-run', firstPage: 3, id: 's:1:1' });
  assert.equal(h.stats(), { liveBlocks: 0, liveBytes: 0, runs: 0, pendingRuns: 0 });
  assert.is(h.malloc(16).kind, 'need-run');
});

test('freeFor: the owner frees a block another host asked to free', () => {
  const owner = heap({ host: 1 });
  const other = heap({ host: 2 });
  const a = mallocAt(owner, 48, 3);
  done(owner.malloc(48));
  const big = mallocAt(owner, 600, 6);
  const mine = mallocAt(other, 16, 10);
  // The other host does not own them: it routes them to the owner.
  assert.equal(other.free(a), { kind: 'remote' });
  assert.equal(other.free(big), { kind: 'remote' });
  assert.equal(owner.freeFor(a), { kind: 'done' });
  invalid(owner.freeFor(a), 'double free');
  assert.equal(owner.freeFor(big), { kind: 'free-run', firstPage: 6, id: 'l:1:2' });
  // Forwarded to the wrong host after all: invalid, never bounced again.
  invalid(owner.freeFor(mine), 'not in a run owned by host 1');
  invalid(owner.freeFor(0), 'root region');
  assert.equal(other.free(mine), { kind: 'done' });
  assert.equal(owner.live(), [{ addr: 3 * PS + 64, size: 64 }]);
});

test('free with a token: a retry after the block was freed and handed out again frees nothing', () => {
  const owner = heap({ host: 1 });
  const a = mallocAt(owner, 48, 3);
  const keep = done(owner.malloc(48)); // keeps the run alive
  const t = owner.tokenFor(a);
  if (t.kind !== 'token') assert.unreachable(`expected a token, got ${JSON.stringify(t)}`);
  else {
    assert.equal(owner.freeWithToken(a, t.token), { kind: 'done' });
    assert.is(owner.blockSize(a), null);
    // The same block again, for a thread of the owner: a late retry of the free must leave it live.
    assert.is(done(owner.malloc(48)), a);
    assert.equal(owner.freeWithToken(a, t.token), { kind: 'done' });
    assert.is(owner.blockSize(a), 64, 'the new allocation of the block is still live');
    // A token of a run given back names no run of ours any more: nothing happens either.
    const big = mallocAt(owner, 600, 6);
    const tb = owner.tokenFor(big);
    if (tb.kind !== 'token') assert.unreachable('expected a token for the large block');
    else {
      assert.equal(owner.freeWithToken(big, tb.token), { kind: 'free-run', firstPage: 6, id: tb.token.id });
      const again = mallocAt(owner, 600, 6);
      assert.is(again, big);
      assert.equal(owner.freeWithToken(big, tb.token), { kind: 'done' });
      assert.is(owner.blockSize(big), 3 * PS);
    }
  }
  invalid(owner.tokenFor(keep + 64), 'double free');
  invalid(owner.tokenFor(12 * PS), 'not in a run owned by host 1');
  invalid(owner.tokenFor(a + 8), 'not the start');
});

// --- property --------------------------------------------------------------

type Op =
  | { k: 'malloc'; host: number; size: number }
  | { k: 'resolve'; pick: number }
  | { k: 'free'; host: number; pick: number }
  | { k: 'again'; host: number; pick: number }
  | { k: 'bad'; host: number; addr: number };

const HOSTS = 3;
const P_PAGES = 20;
const P_ROOT = 2;

/** Expected block size, computed independently of the heap: 256-byte pages, classes up to 64. */
function expectedSize(size: number): number {
  if (size > 64) return Math.ceil(size / PS) * PS;
  let c = 16;
  while (c < size) c *= 2;
  return c;
}

/**
 * Runs ops against HOSTS heaps sharing a reference page table (first fit over
 * whole pages, as the page table's allocate does) and a model of the live
 * blocks; asserts as it goes and returns a log of every step for the
 * determinism comparison.
 */
function simulate(ops: readonly Op[], smallRunPages: number, keepLastRun: boolean): string[] {
  const heaps = Array.from({ length: HOSTS }, (_, i) => new HostHeap({ host: i + 1, pageSize: PS, pages: P_PAGES, rootPages: P_ROOT, smallRunPages, keepLastRun }));
  const table: Array<{ id: string; first: number; pages: number; owner: number }> = [];
  const pending: Array<{ host: number; id: string; pages: number; size: number }> = [];
  const model = new Map<number, { size: number; host: number }>();
  const freed: number[] = [];
  const ids = new Set<string>();
  const log: string[] = [];

  const firstFit = (pages: number): number => {
    for (let s = P_ROOT; s + pages <= P_PAGES; s++) {
      if (table.every((r) => s + pages <= r.first || r.first + r.pages <= s)) return s;
    }
    return -1;
  };
  const gotBlock = (host: number, addr: number, size: number): void => {
    assert.ok(addr !== 0, 'a feasible malloc answered 0 without asking for a run');
    assert.is(model.has(addr), false, `address ${addr} handed out twice`);
    model.set(addr, { size: expectedSize(size), host });
  };
  const routeFree = (host: number, addr: number): void => {
    let owner = host;
    let r = heaps[host - 1]!.free(addr);
    if (r.kind === 'remote') {
      const page = Math.floor(addr / PS);
      const row = table.find((t) => page >= t.first && page < t.first + t.pages);
      if (row === undefined) r = { kind: 'invalid', reason: 'no allocation row' };
      else {
        owner = row.owner;
        assert.is.not(owner, host, `host ${host} said remote for its own run ${row.id}`);
        r = heaps[owner - 1]!.freeFor(addr);
      }
    }
    log.push(`free ${host} ${addr} -> ${owner} ${JSON.stringify(r)}`);
    const m = model.get(addr);
    if (r.kind === 'invalid') {
      assert.is(m, undefined, `free of live block ${addr} was refused: ${r.kind === 'invalid' ? r.reason : ''}`);
      return;
    }
    assert.ok(r.kind === 'done' || r.kind === 'free-run', `unexpected ${r.kind}`);
    assert.ok(m !== undefined, `free of ${addr}, not a live block, answered ${r.kind}`);
    assert.is(m!.host, owner, `block ${addr} freed by host ${owner}, not its owner`);
    model.delete(addr);
    freed.push(addr);
    if (r.kind === 'free-run') {
      const i = table.findIndex((t) => t.first === r.firstPage);
      assert.ok(i >= 0 && table[i]!.owner === owner, `free-run of page ${r.firstPage}, not a run of host ${owner}`);
      const t = table[i]!;
      for (const a of model.keys()) assert.ok(a < t.first * PS || a >= (t.first + t.pages) * PS, `run ${t.id} given back with live block ${a}`);
      table.splice(i, 1);
      if (keepLastRun && parseAllocationId(t.id)?.large === false) {
        const spare = heaps[owner - 1]!.ownedRuns().some((o) => !o.large && o.blockSize === m!.size);
        assert.ok(spare, `host ${owner} gave back its last run of class ${m!.size}`);
      }
    }
  };

  for (const op of ops) {
    switch (op.k) {
      case 'malloc': {
        const h = heaps[op.host - 1]!;
        const s = h.malloc(op.size);
        log.push(`malloc ${op.host} ${op.size} -> ${JSON.stringify(s)}`);
        if (s.kind === 'done') gotBlock(op.host, s.addr, op.size);
        else {
          assert.is(ids.has(s.id), false, `id ${s.id} reused`);
          ids.add(s.id);
          assert.equal(parseAllocationId(s.id), { host: op.host, serial: parseAllocationId(s.id)?.serial ?? -1, large: op.size > 64 });
          assert.is(s.large, op.size > 64);
          assert.is(s.pages, s.large ? Math.ceil(op.size / PS) : smallRunPages);
          pending.push({ host: op.host, id: s.id, pages: s.pages, size: op.size });
        }
        break;
      }
      case 'resolve': {
        if (pending.length === 0) break;
        const [p] = pending.splice(op.pick % pending.length, 1);
        const h = heaps[p!.host - 1]!;
        const at = firstFit(p!.pages);
        if (at < 0) {
          h.runFailed(p!.id);
          log.push(`failed ${p!.id}`);
        } else {
          table.push({ id: p!.id, first: at, pages: p!.pages, owner: p!.host });
          const addr = h.runAllocated(p!.id, at);
          log.push(`run ${p!.id} at ${at} -> ${addr}`);
          assert.ok(addr >= at * PS && addr < (at + p!.pages) * PS, `block ${addr} outside its run at ${at}`);
          gotBlock(p!.host, addr, p!.size);
        }
        break;
      }
      case 'free': {
        if (model.size === 0) break;
        const addrs = [...model.keys()].sort((a, b) => a - b);
        routeFree(op.host, addrs[op.pick % addrs.length]!);
        break;
      }
      case 'again':
        if (freed.length > 0) routeFree(op.host, freed[freed.length - 1 - (op.pick % freed.length)]!);
        break;
      case 'bad':
        routeFree(op.host, op.addr);
        break;
    }

    // After every step: each host's live() is sorted, disjoint, aligned, outside
    // the root region, inside its own runs; together they are the model.
    const all: Array<{ addr: number; size: number; host: number }> = [];
    for (const h of heaps) {
      const live = h.live();
      const runs = table.filter((t) => t.owner === h.host).sort((a, b) => a.first - b.first);
      assert.equal(
        h.ownedRuns().map((r) => [r.id, r.firstPage, r.pages]),
        runs.map((t) => [t.id, t.first, t.pages]),
        `host ${h.host} runs differ from the page table`,
      );
      // Empty small runs go back at once, but for at most one spare per class with keepLastRun.
      const empty = h.ownedRuns().filter((r) => !r.large && r.liveBlocks === 0).map((r) => r.blockSize);
      assert.is(empty.length, keepLastRun ? new Set(empty).size : 0, `host ${h.host} holds empty runs of classes ${empty.join(', ')}`);
      let bytes = 0;
      for (let i = 0; i < live.length; i++) {
        const b = live[i]!;
        assert.is(b.addr % 8, 0);
        assert.ok(b.addr >= P_ROOT * PS, `block ${b.addr} in the root region`);
        if (i > 0) assert.ok(live[i - 1]!.addr + live[i - 1]!.size <= b.addr, `blocks ${live[i - 1]!.addr} and ${b.addr} overlap`);
        assert.ok(
          runs.some((t) => b.addr >= t.first * PS && b.addr + b.size <= (t.first + t.pages) * PS),
          `block ${b.addr}+${b.size} is not inside a run of host ${h.host}`,
        );
        assert.is(h.blockSize(b.addr), b.size);
        assert.is(h.owns(b.addr), true);
        bytes += b.size;
        all.push({ ...b, host: h.host });
      }
      const st = h.stats();
      assert.equal([st.liveBlocks, st.liveBytes, st.runs], [live.length, bytes, runs.length]);
      assert.is(st.pendingRuns, pending.filter((p) => p.host === h.host).length);
    }
    all.sort((a, b) => a.addr - b.addr);
    for (let i = 1; i < all.length; i++) assert.ok(all[i - 1]!.addr + all[i - 1]!.size <= all[i]!.addr, 'blocks of two hosts overlap');
    const want = [...model.entries()].sort((a, b) => a[0] - b[0]).map(([addr, m]) => ({ addr, size: m.size, host: m.host }));
    assert.equal(all, want);
  }
  return log;
}

const hostArb = fc.integer({ min: 1, max: HOSTS });
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ k: fc.constant('malloc' as const), host: hostArb, size: fc.oneof({ weight: 3, arbitrary: fc.integer({ min: 0, max: 64 }) }, { weight: 1, arbitrary: fc.integer({ min: 65, max: 3 * PS }) }) }) },
  { weight: 3, arbitrary: fc.record({ k: fc.constant('resolve' as const), pick: fc.nat({ max: 20 }) }) },
  { weight: 3, arbitrary: fc.record({ k: fc.constant('free' as const), host: hostArb, pick: fc.nat({ max: 100 }) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('again' as const), host: hostArb, pick: fc.nat({ max: 5 }) }) },
  {
    weight: 1,
    arbitrary: fc.record({
      k: fc.constant('bad' as const),
      host: hostArb,
      addr: fc.oneof(fc.integer({ min: -16, max: P_PAGES * PS + 16 }), fc.integer({ min: 0, max: P_PAGES * 32 }).map((x) => x * 8)),
    }),
  },
);

test('property: random malloc/free over shared first-fit runs: no overlap, no root region, live() matches the model, deterministic', () => {
  fc.assert(
    fc.property(fc.array(opArb, { minLength: 1, maxLength: 200, size: 'max' }), fc.integer({ min: 1, max: 2 }), fc.boolean(), (ops, smallRunPages, keepLastRun) => {
      const a = simulate(ops, smallRunPages, keepLastRun);
      const b = simulate(ops, smallRunPages, keepLastRun);
      assert.equal(a, b);
    }),
    { numRuns: 200 },
  );
});

test.run();
