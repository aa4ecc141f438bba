import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Workload } from '../../src/vmm/thread.js';
import {
  ALLOC_CHURN_LAYOUT,
  allocChurnWorkload,
  counterWorkload,
  decodeRegisterValue,
  MATRIX_LAYOUT,
  matrixProduct,
  matrixRows,
  matrixWorkload,
  REGISTER_VALUE_BASE,
  registerAddresses,
  registersWorkload,
  registerValue,
  WORKLOAD_NAMES,
  WORKLOADS,
  workloadByName,
} from '../../src/vmm/workloads/index.js';
import { type InterpreterOptions, type RunResult, runWorkload } from './interpreter.js';

const SEEDS = [1, 2, 3, 4];
const THREADS = [1, 2, 3, 5];
const PAGE = 256;

function run(w: Workload, opts: Omit<InterpreterOptions, 'pageSize'>): RunResult {
  return runWorkload(w, { pageSize: PAGE, ...opts });
}

/** Runs the workload under every seed and thread count and expects verify to pass. */
function passesEverywhere(w: Workload, threads = THREADS): RunResult[] {
  const results: RunResult[] = [];
  for (const seed of SEEDS) {
    for (const n of threads) {
      const r = run(w, { threads: n, seed });
      assert.is(r.verdict, null, `${w.name}, seed ${seed}, ${n} threads: ${r.verdict}`);
      results.push(r);
    }
  }
  return results;
}

/** Expects verify to report a problem under every seed. */
function failsEverywhere(w: Workload, opts: Omit<InterpreterOptions, 'pageSize' | 'seed'>, pattern: RegExp): void {
  for (const seed of SEEDS) {
    const r = run(w, { ...opts, seed });
    assert.ok(r.verdict !== null, `${w.name}, seed ${seed}: verify passed on a broken runtime`);
    assert.match(r.verdict as string, pattern);
  }
}

test('index: every built-in workload by name, unknown names rejected', () => {
  assert.equal([...WORKLOAD_NAMES].sort(), ['alloc-churn', 'counter', 'false-sharing', 'locked-list', 'matrix', 'matrix-barrier', 'registers']);
  for (const name of WORKLOAD_NAMES) {
    assert.is(workloadByName(name), WORKLOADS[name]);
    assert.is(workloadByName(name).name, name);
  }
  assert.throws(() => workloadByName('nope'), /unknown workload "nope".*registers/);
  assert.throws(() => workloadByName('toString'), /unknown workload/);
});

test('default instances pass on the interpreter', () => {
  for (const name of WORKLOAD_NAMES) {
    const r = run(workloadByName(name), { threads: 4, seed: `default-${name}` });
    assert.is(r.verdict, null, `${name}: ${r.verdict}`);
  }
});

test('programs are deterministic and never touch Math.random', () => {
  const saved = Math.random;
  Math.random = () => {
    throw new Error('Math.random called');
  };
  try {
    for (const name of WORKLOAD_NAMES) {
      const a = run(workloadByName(name), { threads: 3, seed: 'det' });
      const b = run(workloadByName(name), { threads: 3, seed: 'det' });
      assert.is(a.steps, b.steps, name);
      assert.is(a.trace, b.trace, name);
      assert.equal(a.history, b.history, name);
      assert.equal(Array.from(a.heap), Array.from(b.heap), name);
      const c = run(workloadByName(name), { threads: 3, seed: 'det-other' });
      assert.is.not(c.trace, a.trace, `${name}: another seed gives another interleaving`);
    }
  } finally {
    Math.random = saved;
  }
});

test('registers: layout spreads words over pages, some sharing one', () => {
  const addrs = registerAddresses(4 * PAGE, PAGE, 12);
  assert.equal(addrs.slice(0, 5), [0, 64, 128, 192, 256]);
  const pages = new Set(addrs.map((a) => Math.floor(a / PAGE)));
  assert.is(pages.size, 3);
  // A root region too small for the page-spread layout still fits every word.
  const tight = registerAddresses(96, PAGE, 12);
  assert.is(new Set(tight).size, 12);
  assert.ok(tight.every((a) => a % 4 === 0 && a + 4 <= 96));
  assert.throws(() => run(registersWorkload({ words: 12 }), { threads: 1, seed: 1, rootBytes: 40 }), /root region/);
});

test('registers: decodeRegisterValue inverts registerValue', () => {
  for (const [index, seq] of [[0, 1], [3, 17], [41, 99_999], [42_947, 67_295]] as const) {
    const v = registerValue(index, seq);
    assert.ok(v < 2 ** 32, `${v} fits in u32`);
    assert.equal(decodeRegisterValue(v), { index, seq });
  }
  assert.is(decodeRegisterValue(0), null);
  assert.is(decodeRegisterValue(REGISTER_VALUE_BASE - 1), null);
  assert.is(decodeRegisterValue(3 * REGISTER_VALUE_BASE), null, 'seq 0 is never written');
  assert.is(decodeRegisterValue(0.5), null);
  assert.is(decodeRegisterValue(2 ** 32), null);
});

test('registers: passes; writes are unique, decode to their writer, reads see a written value', () => {
  const w = registersWorkload({ opsPerThread: 40 });
  for (const r of passesEverywhere(w)) {
    const writes = r.history.filter((h) => h.kind === 'write');
    const reads = r.history.filter((h) => h.kind === 'read');
    assert.ok(writes.length > 0 && reads.length > 0);
    assert.is(new Set(writes.map((h) => h.value)).size, writes.length, 'every written value is unique');
    const addrs = new Set(registerAddresses(4 * PAGE, PAGE, w.options.words));
    for (const h of writes) {
      assert.ok(addrs.has(h.addr));
      const d = decodeRegisterValue(h.value);
      assert.ok(d !== null && d.index === h.thread && d.seq >= 1 && d.seq <= 40, `value ${h.value} of thread ${h.thread}`);
    }
    // The interpreter applies each op at its return step, so each read must
    // return the last write to its word that returned before it (or 0).
    const byRet = [...r.history].sort((x, y) => x.ret - y.ret);
    const mem = new Map<number, number>();
    for (const h of byRet) {
      if (h.kind === 'write') mem.set(h.addr, h.value);
      else assert.is(h.value, mem.get(h.addr) ?? 0);
    }
    // Ops overlap in time: some op is called before another one returns.
    if (new Set(r.history.map((h) => h.thread)).size > 1) {
      assert.ok(r.history.some((h, i) => i > 0 && h.call < (r.history[i - 1] as { ret: number }).ret));
    }
  }
});

test('registers: verify fails when writes store values no thread writes', () => {
  failsEverywhere(
    registersWorkload({ writeRatio: 0.8 }),
    { threads: 3, faults: { write: ({ value }) => (value ^ 0x40000000) >>> 0 } },
    /which no thread writes/,
  );
});

test('counter: exact totals with one and with several counters on different pages', () => {
  passesEverywhere(counterWorkload({ increments: 30 }));
  const multi = counterWorkload({ increments: 20, counters: 3 });
  assert.equal(multi.layout({ rootBytes: 4 * PAGE, pageSize: PAGE }).counters, [0, PAGE, 2 * PAGE]);
  for (const r of passesEverywhere(multi, [2, 4])) {
    assert.is(r.heap[0], r.heap[PAGE / 4]);
  }
  const r = run(counterWorkload({ increments: 25 }), { threads: 4, seed: 9 });
  assert.is(r.heap[0], 100);
});

test('counter: verify fails when add is not atomic', () => {
  failsEverywhere(counterWorkload({ increments: 30 }), { threads: 3, faults: { nonAtomicAdd: true } }, /expected 3 threads x 30 = 90/);
  failsEverywhere(counterWorkload({ increments: 10, counters: 2 }), { threads: 4, faults: { nonAtomicAdd: true } }, /expected 4 threads x 10 = 40/);
});

test('counter: a thread records an add whose old value went backwards (a stale page)', () => {
  // Drive one thread by hand: the counter's page comes back stale once,
  // which the final total alone might not show.
  const w = counterWorkload({ increments: 20 });
  const ctx = { host: 1, index: 0, threads: 1, rootBytes: 4 * PAGE, pageSize: PAGE, random: () => 0.5 };
  for (const staleAt of [null, 5]) {
    let stale = staleAt;
    const g = w.thread(ctx);
    let counter = 0;
    let errorsAdded = 0;
    let op = g.next();
    while (!op.done) {
      const o = op.value;
      if (o.op === 'add' && o.addr === 0) {
        if (counter === stale) {
          counter = 2; // a write-back of an old copy, once
          stale = null;
        }
        const old = counter;
        counter = (counter + o.delta) >>> 0;
        op = g.next(old);
      } else {
        if (o.op === 'add' && o.addr === 4) errorsAdded++;
        op = g.next(0);
      }
    }
    assert.is(errorsAdded, staleAt === null ? 0 : 1);
  }
});

test('matrix: rows split covers every row once', () => {
  for (const [n, threads] of [[8, 3], [5, 8], [12, 1]] as const) {
    const rows: number[] = [];
    for (let i = 0; i < threads; i++) {
      const [lo, hi] = matrixRows(n, i, threads);
      for (let r = lo; r < hi; r++) rows.push(r);
    }
    assert.equal(rows, Array.from({ length: n }, (_, i) => i));
  }
  // By hand, n = 2: A = [[1, 2], [2, 3]], B = [[1, 1], [1, 2]].
  assert.equal(Array.from(matrixProduct(2)), [3, 5, 5, 8]);
  // u32 arithmetic wraps instead of losing precision in doubles.
  const big = matrixProduct(200);
  assert.ok(big.every((v) => Number.isInteger(v) && v >= 0 && v < 2 ** 32));
});

test('matrix: passes for several sizes and thread counts', () => {
  passesEverywhere(matrixWorkload({ n: 8 }));
  passesEverywhere(matrixWorkload({ n: 5 }), [3, 7]);
  const r = run(matrixWorkload({ n: 16 }), { threads: 4, seed: 'big' });
  assert.is(r.verdict, null, r.verdict ?? '');
  assert.is(r.heap[MATRIX_LAYOUT.done / 4], 4);
});

test('matrix: verify fails when a write to the heap is dropped', () => {
  const w = matrixWorkload({ n: 8 });
  for (const k of [0, 77, 127, 130, 190]) {
    let heapWrites = 0;
    // Drop the k-th write outside the root region (an A/B fill or a C entry).
    const drop = (addr: number): 'drop' | undefined => (addr >= 4 * PAGE && heapWrites++ === k ? 'drop' : undefined);
    const r = run(w, { threads: 3, seed: k, faults: { write: ({ addr }) => drop(addr) } });
    assert.ok(heapWrites > k, 'the fault fired');
    assert.ok(r.verdict !== null, `dropped heap write ${k} went unnoticed`);
    assert.match(r.verdict as string, /\] is .*expected/);
  }
});

test('matrix: a lost ready makes waiting threads give up and verify fail', () => {
  const w = matrixWorkload({ n: 4, maxPolls: 50 });
  const r = run(w, { threads: 3, seed: 1, faults: { write: ({ addr, value }) => (addr === MATRIX_LAYOUT.ready && value === 1 ? 'drop' : undefined) } });
  assert.match(r.verdict ?? '', /gave up waiting for ready/);
});

test('matrix: out of memory is reported, not a crash', () => {
  const r = run(matrixWorkload({ n: 16 }), { threads: 3, seed: 1, heapBytes: 6 * PAGE });
  assert.match(r.verdict ?? '', /could not malloc/);
  assert.is(r.stats.liveAtEnd, 0, 'the blocks it got were given back');
});

test('alloc-churn: passes; blocks cross threads, and every block is freed', () => {
  for (const r of passesEverywhere(allocChurnWorkload())) {
    assert.is(r.stats.liveAtEnd, 0);
    assert.is(r.heap[ALLOC_CHURN_LAYOUT.errors / 4], 0);
    assert.ok(r.stats.mallocs > 0 && r.stats.frees === r.stats.mallocs - r.stats.failedMallocs);
  }
  let foreign = 0;
  let taken = 0;
  for (const seed of SEEDS) {
    const r = run(allocChurnWorkload({ rounds: 60 }), { threads: 4, seed });
    foreign += r.stats.foreignFrees;
    taken += r.heap[ALLOC_CHURN_LAYOUT.taken / 4] as number;
  }
  assert.ok(foreign > 10, `blocks freed by another thread than their allocator: ${foreign}`);
  assert.ok(taken >= foreign);
});

test('alloc-churn: large blocks, and out of memory is skipped', () => {
  const big = run(allocChurnWorkload({ largeRatio: 0.5 }), { threads: 3, seed: 5 });
  assert.is(big.verdict, null, big.verdict ?? '');
  const tight = run(allocChurnWorkload({ largeRatio: 0.5, rounds: 60 }), { threads: 4, seed: 5, heapBytes: 12 * PAGE });
  assert.ok(tight.stats.failedMallocs > 0, 'the heap ran out');
  assert.is(tight.verdict, null, tight.verdict ?? '');
  assert.is(tight.stats.liveAtEnd, 0);
});

test('alloc-churn: verify fails when malloc returns a live block', () => {
  failsEverywhere(allocChurnWorkload(), { threads: 3, faults: { overlapMalloc: 0.2 } }, /pattern/);
});

test('alloc-churn: the mailbox lock depends on an atomic add', () => {
  // A non-atomic add can let two threads both see 0 and leave the lock off
  // by one, or let two threads take one block (a double free the
  // interpreter refuses); with enough contention one of them happens.
  let failed = 0;
  for (const seed of SEEDS) {
    try {
      const r = run(allocChurnWorkload({ slots: 1, rounds: 60 }), { threads: 5, seed, faults: { nonAtomicAdd: true } });
      if (r.verdict !== null) failed++;
    } catch (e) {
      assert.match(String(e), /not a live block/);
      failed++;
    }
  }
  assert.ok(failed >= SEEDS.length / 2, `${failed} of ${SEEDS.length} seeds caught`);
});

test.run();
