// Page-table throughput: the Raft state machine of the shared memory on its
// hot path.
//  - page_table.applies_per_second: a steady mix on 1024 allocated pages of
//    256 bytes: grant write, release (write-back, keep read), grant a second
//    reader, revoke both; every apply must succeed.
//  - page_table.hash_ms / snapshot_ms / restore_ms: the same table (1024
//    written pages, base64 contents) hashed, serialized, and rebuilt.
// Prints one JSON line per figure when run directly.
import { pathToFileURL } from 'node:url';
import { performance } from 'node:perf_hooks';
import { type PageCommand, PageTable, pageHash } from '../src/vmm/page-table.js';
import { figure } from './result.js';
import type { BenchResult } from './result.js';

const PAGE_SIZE = 256;
const PAGES = 1024;
const VARIANTS = 16; // distinct page contents, drawn in turn

function setup(): PageTable {
  const t = new PageTable({ pageSize: PAGE_SIZE });
  const must = (c: PageCommand): void => {
    const r = t.apply(c);
    if (!r.ok) throw new Error(`bench setup: ${r.error}: ${r.detail}`);
  };
  must({ op: 'create-company', company: 0, firstPage: 0, pages: PAGES });
  for (let i = 0; i < PAGES / 16; i++) must({ op: 'allocate', company: 0, id: `run${i}`, pages: 16, owner: 1 });
  return t;
}

/** Applies `n` commands of the mix; returns how many were applied (all, or it throws). */
function mix(t: PageTable, n: number, versions: Int32Array, contents: { data: string; hash: string }[]): number {
  let done = 0;
  let k = 0;
  while (done < n) {
    const page = k % PAGES;
    const writer = 1 + (k % 3);
    const reader = 4 + (k % 5);
    const v = ++versions[page]!;
    const c = contents[k % VARIANTS]!;
    k++;
    const cmds: PageCommand[] = [
      { op: 'grant', page, host: writer, mode: 'write', term: 1, leaseUs: 10_000, grantedAtUs: k },
      { op: 'release', page, host: writer, version: v, hash: c.hash, data: c.data, keep: 'read' },
      { op: 'grant', page, host: reader, mode: 'read', term: 1, leaseUs: 10_000, grantedAtUs: k },
      { op: 'revoke', page, host: reader },
      { op: 'revoke', page, host: writer },
    ];
    for (const cmd of cmds) {
      const r = t.apply(cmd);
      if (!r.ok) throw new Error(`bench: ${cmd.op} page ${page}: ${r.error}: ${r.detail}`);
    }
    done += cmds.length;
  }
  return done;
}

export function benchPageTable(quick: boolean): BenchResult[] {
  const seconds = quick ? 0.5 : 2;
  const contents = Array.from({ length: VARIANTS }, (_, i) => {
    const b = new Uint8Array(PAGE_SIZE);
    for (let j = 0; j < PAGE_SIZE; j++) b[j] = (i * 31 + j * 7) & 0xff;
    return { data: Buffer.from(b).toString('base64'), hash: pageHash(b) };
  });
  const t = setup();
  const versions = new Int32Array(PAGES);
  mix(t, 20_000, versions, contents); // warm up: JIT and every page written once
  let applied = 0;
  const start = performance.now();
  let elapsed = 0;
  while (elapsed < seconds * 1000) {
    applied += mix(t, 5_000, versions, contents);
    elapsed = performance.now() - start;
  }
  const appliesPerSecond = (applied / elapsed) * 1000;

  const time = (reps: number, f: () => void): number => {
    const s = performance.now();
    for (let i = 0; i < reps; i++) f();
    return (performance.now() - s) / reps;
  };
  const reps = quick ? 5 : 20;
  const hashMs = time(reps, () => t.hash());
  let snap = '';
  const snapshotMs = time(reps, () => (snap = t.snapshot()));
  const restoreMs = time(reps, () => PageTable.restore(snap, { pageSize: PAGE_SIZE }).close());
  t.close();
  return [
    figure('page_table.applies_per_second', Math.round(appliesPerSecond), 'applies/s'),
    figure('page_table.hash_ms', hashMs, 'ms'),
    figure('page_table.snapshot_ms', snapshotMs, 'ms'),
    figure('page_table.restore_ms', restoreMs, 'ms'),
  ];
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const quick = process.argv.includes('--quick');
  for (const r of benchPageTable(quick)) console.log(JSON.stringify(r));
}
