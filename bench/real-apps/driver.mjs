// The application every host of bench/real.ts runs (plain JS: hosts load it
// as is). Each thread follows a script of steps the bench writes as files in
// $GALLOCY_BENCH_DIR, so one cluster serves every measurement and the bench
// can pick roles after reading /admin (who leads the company):
//
//   step-<k>.json              { op, roles: { "<host>/<local thread>": args } }
//   done-<k>-<host>-<local>.json   this thread's result for step k (null if idle)
//
// Every thread acknowledges every step, so a step is over once all done files
// exist. Steps go through files rather than heap words: polling a heap word
// is itself a page fault and a lease, which would disturb what is measured.
// Times are taken here, in the worker, with performance.now() around the
// access itself.
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

const dir = process.env.GALLOCY_BENCH_DIR;
const sleeper = new Int32Array(new SharedArrayBuffer(4));
const sleep = (ms) => Atomics.wait(sleeper, 0, 0, ms);

/** The first word of each page, timed one access at a time (µs); `write` stores a non-zero value. */
function touch(g, { pages, write }) {
  const us = [];
  let sink = 0;
  for (const p of pages) {
    const w = (p * g.pageSize) >>> 2;
    const t0 = performance.now();
    if (write) g.u32[w] = p + 1;
    else sink += g.u32[w];
    us.push((performance.now() - t0) * 1000);
  }
  return { us, sink };
}

/** Read-modify-write over `a`, `ops` times: the loop both arrays run, so only the memory differs. */
function loop(a, ops) {
  const mask = a.length - 1; // a.length is a power of two
  for (let i = 0; i < ops; i++) a[i & mask] = (a[i & mask] + i) | 0;
  return a[0];
}

/** A held page against a plain typed array of the same size: best of `rounds`, ns per op, alternating. */
function held(g, { page, ops, rounds }) {
  const words = g.pageSize >>> 2;
  const heapRange = g.u32.subarray((page * g.pageSize) >>> 2, ((page * g.pageSize) >>> 2) + words);
  heapRange[0] = 1; // the write fault: from here on the page is held for write and dirty, so the loop never faults
  const plain = new Uint32Array(words);
  let heldNs = Infinity;
  let typedNs = Infinity;
  for (let r = 0; r < rounds; r++) {
    let t = performance.now();
    loop(heapRange, ops);
    heldNs = Math.min(heldNs, ((performance.now() - t) * 1e6) / ops);
    t = performance.now();
    loop(plain, ops);
    typedNs = Math.min(typedNs, ((performance.now() - t) * 1e6) / ops);
  }
  return { heldNs, typedNs };
}

/** Writes its pages round-robin for `ms`: each write faults (a grant, or the write-back of the page before; see bench/real.ts). */
function churn(g, { pages, ms }) {
  const end = performance.now() + ms;
  let writes = 0;
  while (performance.now() < end) {
    const p = pages[writes % pages.length];
    g.u32[(p * g.pageSize) >>> 2] = ++writes;
  }
  return { writes };
}

const OPS = { touch, held, churn };

/** @param {import('../../src/real/app-api.js').GallocyApp} g */
export default function driver(g) {
  if (dir === undefined) throw new Error('GALLOCY_BENCH_DIR is not set: this app is run by bench/real.ts');
  const local = g.thread % g.threadsHere;
  for (let step = 0; ; step++) {
    const file = join(dir, `step-${step}.json`);
    // Idle threads poll rarely: their CPU would count in the hosts' CPU per fault.
    while (!existsSync(file)) sleep(10);
    const cmd = JSON.parse(readFileSync(file, 'utf8'));
    if (cmd.op === 'exit') return;
    const args = cmd.roles[`${g.host}/${local}`];
    const result = args === undefined ? null : OPS[cmd.op](g, args);
    // Write then rename, so the bench never reads half a file.
    const out = join(dir, `done-${step}-${g.host}-${local}.json`);
    writeFileSync(`${out}.tmp`, JSON.stringify(result));
    renameSync(`${out}.tmp`, out);
  }
}
