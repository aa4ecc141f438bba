// A host whose event loop is stuck must still stop reading a page once its
// lease is over (issue 8). Three real hosts with short leases: a reader
// thread on one host reads a word over and over, a writer thread on another
// writes 1, 2, 3, ... to it. The reader's host is stalled (POST /debug/stall:
// its main thread busy-loops, serving nothing) for several leases while its
// thread goes on reading and the writer writes: the reader's host cannot
// answer the revoke, the manager waits its lease out and lets the writer in.
// Before the memory backend enforced deadlines itself, the reader went on
// reading the old value for the rest of the stall; now it stops at the
// deadline and waits until its host can fetch the page again.
//
// The check: no read may return a value older than one whose write had
// returned before the read began (with one writer of increasing values, that
// is linearizability of the word). Times are wall-clock microseconds, which
// processes on one machine share. The second test plants the bug (deadlines
// suspended during the stall) and shows the check catches it.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { nativeAvailable } from '../../src/real/native-memory.js';
import { TestCluster, WAIT_MS, watchdog, writeApp } from './cluster-harness.js';

watchdog('stall.test', 240_000);

const LEASE_MS = 300;
/** Several leases: long past the point where the manager gives the reader's page to the writer. */
const STALL_MS = 2000;
/** The writer writes during this long, from 100 ms into the stall. */
const WRITE_MS = 1000;
/** Stalls tried before giving up on catching the reader with the page open (it may be refetching it). */
const ATTEMPTS = 4;

/** value, first read's call, last read's call: consecutive reads of one value. */
type ReadRun = [number, number, number];
/** value, call, return. */
type Write = [number, number, number];

interface StaleRead {
  value: number;
  /** When the read began. */
  at: number;
  /** The next value, whose write had returned by then. */
  newer: number;
  newerRet: number;
}

/**
 * Reads of the word that began after a newer value's write had returned. The
 * writer writes 1, 2, 3, ... one at a time, so a read of v is stale exactly
 * when the write of v + 1 returned before it began; a read of a value never
 * written (nor the initial 0) counts too, newer NaN.
 */
function staleReads(writes: readonly Write[], runs: readonly ReadRun[]): StaleRead[] {
  const retOf = new Map(writes.map(([v, , ret]) => [v, ret]));
  return runs.flatMap(([value, , last]): StaleRead[] => {
    if (value !== 0 && !retOf.has(value)) return [{ value, at: last, newer: Number.NaN, newerRet: Number.NaN }];
    const newerRet = retOf.get(value + 1);
    return newerRet !== undefined && newerRet < last ? [{ value, at: last, newer: value + 1, newerRet }] : [];
  });
}

test('staleReads: catches a read after a newer write returned, and a value nobody wrote; passes reads that overlap the write', () => {
  const writes: Write[] = [[1, 100, 110], [2, 200, 210], [3, 300, 310]];
  assert.equal(staleReads(writes, [[0, 0, 105], [1, 111, 205], [2, 209, 305]]), [], 'each read began before the next value was written back');
  assert.equal(staleReads(writes, [[1, 150, 250]]), [{ value: 1, at: 250, newer: 2, newerRet: 210 }]);
  assert.equal(staleReads(writes, [[0, 0, 120]]), [{ value: 0, at: 120, newer: 1, newerRet: 110 }]);
  assert.equal(staleReads(writes, [[7, 50, 60]]).map((s) => s.value), [7]);
});

/** Both apps in one module: the test names each host's role in roles.json once it knows who leads. */
function stallApp(dir: string): string {
  const f = (name: string) => JSON.stringify(path.join(dir, name));
  return writeApp(dir, 'stall-app.mjs', [
    "import { existsSync, readFileSync } from 'node:fs';",
    `const roles = ${f('roles.json')}, window = ${f('write-window.json')}, stop = ${f('stop')};`,
    'const sleeper = new Int32Array(new SharedArrayBuffer(4));',
    'const nap = (ms) => Atomics.wait(sleeper, 0, 0, ms);',
    'const now = () => (performance.timeOrigin + performance.now()) * 1000;',
    'const json = (file) => { try { return JSON.parse(readFileSync(file, "utf8")); } catch { return null; } };',
    'const FLUSH_US = 50_000;',
    'export default function (gallocy) {',
    '  let r;',
    '  while ((r = json(roles)) === null) nap(5);',
    '  if (gallocy.host === r.reader) read(gallocy);',
    '  else if (gallocy.host === r.writer) write(gallocy);',
    '  else while (!existsSync(stop)) nap(20);',
    '}',
    // Runs of equal values, flushed every 50 ms with the time up to which every read is in.
    'function read(gallocy) {',
    '  let runs = [], run = null, flushed = now();',
    '  for (let n = 1; n % 64 !== 0 || !existsSync(stop); n++) {',
    '    const call = now();',
    '    const value = gallocy.u32[0];',
    '    if (run !== null && run[0] === value) run[2] = call;',
    '    else runs.push(run = [value, call, call]);',
    "    if (call - flushed > FLUSH_US) { gallocy.log('reads', { runs, until: call }); runs = []; run = null; flushed = call; }",
    '    nap(0.05);',
    '  }',
    "  gallocy.log('reads', { runs, until: now() });",
    '}',
    // 1, 2, 3, ... while the test's window is open, a write every 2 ms.
    'function write(gallocy) {',
    '  let writes = [], v = 0, flushed = now();',
    '  while (!existsSync(stop)) {',
    '    const w = json(window);',
    '    const t = now();',
    '    if (w !== null && t >= w[0] && t < w[1]) { const call = now(); gallocy.u32[0] = ++v; writes.push([v, call, now()]); }',
    "    if (now() - flushed > FLUSH_US) { gallocy.log('writes', { writes, until: now() }); writes = []; flushed = now(); }",
    '    nap(2);',
    '  }',
    "  gallocy.log('writes', { writes, until: now() });",
    '}',
  ]);
}

const wallUs = (): number => (performance.timeOrigin + performance.now()) * 1000;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Everything host `id`'s thread logged as `event` (its `field`), and up to when. */
function logged<T>(c: TestCluster, id: number, event: string, field: string): { items: T[]; until: number } {
  const entries = c.logEntries(id).filter((e) => e['event'] === event);
  return { items: entries.flatMap((e) => e[field] as T[]), until: Math.max(0, ...entries.map((e) => e['until'] as number)) };
}

async function stall(c: TestCluster, id: number, deadlines: 'on' | 'off'): Promise<{ startedAtUs: number; endedAtUs: number }> {
  const r = await fetch(`http://${c.host(id).admin}/debug/stall?ms=${STALL_MS}&deadlines=${deadlines}`, { method: 'POST', headers: c.adminHeaders(), signal: AbortSignal.timeout(STALL_MS + WAIT_MS) });
  const body = (await r.json()) as { startedAtUs: number; endedAtUs: number; error?: string };
  if (r.status !== 200) throw new Error(`POST /debug/stall on host ${id}: ${r.status} ${body.error ?? ''}`);
  return body;
}

interface StallRun {
  stale: StaleRead[];
  reads: number;
  writes: number;
  /** A stall caught the reader reading, and the writer wrote during it. */
  conclusive: boolean;
  attempts: number;
  /** How long into that stall the reader read on (ms). */
  readOnMs: number;
}

/** The reader on a follower of the company, the writer on its leader; stalls the reader's host until one stall is conclusive. */
async function runStalls(c: TestCluster, deadlines: 'on' | 'off'): Promise<StallRun> {
  c.startAll({ app: stallApp(c.dir), threads: 1, env: { GALLOCY_DEBUG_STALL: '1' } });
  const { leader } = await c.leaderOf(1);
  const reader = c.ids.find((id) => id !== leader)!;
  writeFileSync(path.join(c.dir, 'roles.json'), JSON.stringify({ reader, writer: leader }));
  await c.waitFor('the reader to be reading', async () => logged(c, reader, 'reads', 'runs').items.length > 0);
  let conclusive = false;
  let attempts = 0;
  let readOnMs = 0;
  while (!conclusive && attempts < ATTEMPTS) {
    attempts++;
    await sleep(3 * LEASE_MS); // the reader has the page to itself again
    const from = wallUs() + 100_000;
    writeFileSync(path.join(c.dir, 'write-window.json'), JSON.stringify([from, from + WRITE_MS * 1000]));
    const s = await stall(c, reader, deadlines);
    await c.waitFor('the reader\'s and the writer\'s logs to cover the stall', async () =>
      logged(c, reader, 'reads', 'runs').until > s.endedAtUs && logged(c, leader, 'writes', 'writes').until > from + WRITE_MS * 1000);
    const during = (t: number) => t > s.startedAtUs && t < s.endedAtUs;
    const readsDuring = logged<ReadRun>(c, reader, 'reads', 'runs').items.flatMap(([, first, last]) => [first, last].filter(during));
    conclusive = readsDuring.length > 0 && logged<Write>(c, leader, 'writes', 'writes').items.some(([, , ret]) => during(ret));
    readOnMs = (Math.max(s.startedAtUs, ...readsDuring) - s.startedAtUs) / 1000;
  }
  writeFileSync(path.join(c.dir, 'stop'), '');
  await c.threadsEnded(c.ids, 1);
  const runs = logged<ReadRun>(c, reader, 'reads', 'runs').items;
  const writes = logged<Write>(c, leader, 'writes', 'writes').items;
  return { stale: staleReads(writes, runs), reads: runs.length, writes: writes.length, conclusive, attempts, readOnMs };
}

function describe(r: StallRun): string {
  const worst = r.stale.reduce((m, s) => Math.max(m, s.at - s.newerRet), 0);
  const first = r.stale.slice(0, 3).map((s) => `read ${s.value} ${((s.at - s.newerRet) / 1000).toFixed(1)} ms after ${s.newer} was written`);
  const stale = r.stale.length === 0 ? 'no stale read' : `${r.stale.length} runs of stale reads (worst ${(worst / 1e6).toFixed(2)} s late; ${first.join('; ')})`;
  return `${stale}; ${r.reads} runs of reads, ${r.writes} writes; ${r.attempts} stalls, the reader read ${r.readOnMs.toFixed(0)} ms into the last`;
}

const availability = nativeAvailable();
const clusters: TestCluster[] = [];
test.after.each(async () => {
  await Promise.all(clusters.splice(0).map((c) => c.cleanup()));
});

async function cluster(name: string): Promise<TestCluster> {
  const c = await TestCluster.create({ name, leases: { leaseMs: LEASE_MS } });
  clusters.push(c);
  return c;
}

if (!availability.ok) {
  console.log(`stall.test: skipped: real mode unavailable: ${availability.reason}`);
  test(`stalled host (skipped: real mode unavailable: ${availability.reason})`, () => {});
} else {
  test(`a host stalled for ${STALL_MS} ms (leases of ${LEASE_MS} ms) while its thread reads and another host writes: no stale read`, async () => {
    const r = await runStalls(await cluster('stall'), 'on');
    console.log(`    deadlines on: ${describe(r)}`);
    assert.ok(r.conclusive, `no stall caught the reader reading while the writer wrote (${r.attempts} tried)`);
    assert.equal(r.stale, [], describe(r));
  });

  test('the same with deadlines suspended during the stall (the bug, planted): the stale reads are caught', async () => {
    const r = await runStalls(await cluster('stall-bug'), 'off');
    console.log(`    deadlines off: ${describe(r)}`);
    assert.ok(r.conclusive, `no stall caught the reader reading while the writer wrote (${r.attempts} tried)`);
    assert.ok(r.stale.length > 0, `expected stale reads: ${describe(r)}`);
  });
}

test.run();
