// A host that restarts comes back with an empty heap while the page table
// keeps the runs its earlier incarnation allocated (other hosts may still
// hold blocks of them). The table's allocate is idempotent by allocation id,
// so a restarted host that named its runs as before would be handed the old
// runs back. Before the fix, Vmm built its HostHeap without a first serial:
// both incarnations asked for run l:1:1 and got the same pages.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { inertFaultPoints } from '../../src/raft/index.js';
import type { CompanyApplied, CompanyEntry } from '../../src/vmm/company.js';
import { firstSerialOf, parseAllocationId } from '../../src/vmm/heap.js';
import { PageTable } from '../../src/vmm/page-table.js';
import type { CompanyPlan } from '../../src/vmm/placement.js';
import type { VmmMessage } from '../../src/vmm/protocol.js';
import type { CompanyAccess, VmmConfig, VmmEnv } from '../../src/vmm/vmm-env.js';
import { Vmm } from '../../src/vmm/vmm.js';
import { SimMemory } from '../../src/sim/memory.js';

const PAGE = 64;
const PAGES = 16;
// Page 0 is the root region, outside every company.
const plan: CompanyPlan = { company: 1, firstPage: 1, pages: PAGES - 1, members: [1] };

/** One host leading a one-member company whose table (the durable part) outlives the host's incarnations. */
function company(): { start: (incarnation: number) => Vmm; settle: () => void; table: PageTable } {
  const table = new PageTable({ pageSize: PAGE });
  table.apply({ op: 'create-company', company: 1, firstPage: 1, pages: PAGES - 1 });
  let index = 0;
  let vmm: Vmm | null = null;
  const inbox: VmmMessage[] = [];
  const proposed: CompanyEntry[] = [];
  const access: CompanyAccess = {
    isLeader: () => true, term: () => 1, lead: () => 1, appliedIndex: () => index,
    propose: (e) => proposed.push(e) > 0,
    table: () => table,
  };
  /** Delivers messages and commits proposals until nothing is left. */
  const settle = (): void => {
    while (inbox.length > 0 || proposed.length > 0) {
      const msg = inbox.shift();
      if (msg !== undefined) vmm!.receive(1, msg);
      for (const e of proposed.splice(0)) {
        const a: CompanyApplied = { company: 1, index: ++index, pid: e.pid, cmd: e.cmd, result: table.apply(e.cmd) };
        vmm!.applied(a);
      }
    }
  };
  const start = (incarnation: number): Vmm => {
    const memory = new SimMemory(1, PAGE, PAGES, { changed: () => undefined }, (fn) => fn(), { now: () => 0, at: () => undefined });
    const env: VmmEnv = {
      memory, faults: inertFaultPoints, now: () => 0, timer: () => undefined,
      send: (to, msg) => {
        assert.is(to, 1, 'only this host is in the company');
        inbox.push(msg);
      },
      company: () => access, members: () => [1], opSeq: () => 0, segfault: () => undefined, lostWrites: () => undefined, lostLock: () => undefined,
    };
    const cfg: VmmConfig = {
      host: 1, incarnation, pageSize: PAGE, pages: PAGES, rootPages: 1, plans: [plan], leaseUs: 10_000, driftBoundPpm: 0, retryUs: 1000,
    };
    vmm = new Vmm(cfg, env);
    vmm.leadership(1, true, 1);
    return vmm;
  };
  return { start, settle, table };
}

/** malloc on `vmm`, carried through to its answer. */
function mallocNow(c: ReturnType<typeof company>, vmm: Vmm, size: number): number {
  let addr: number | null = null;
  vmm.malloc(size, (a) => (addr = a));
  c.settle();
  assert.ok(addr !== null, 'malloc answered');
  return addr;
}

test('a restarted host gets new runs, not the runs its earlier incarnation still has allocated', () => {
  const c = company();
  const before = mallocNow(c, c.start(1), 2 * PAGE);
  // The host crashes (its heap is gone; the table keeps the run of the block at `before`) and starts again.
  const after = mallocNow(c, c.start(2), 2 * PAGE);
  assert.ok(before > 0 && after > 0);
  assert.is.not(after, before, 'the old block is still allocated: the new one must lie elsewhere');
  const runs = c.table.allocations(1).map((a) => a.id).sort();
  assert.is(runs.length, 2, `two runs in the table, got ${runs.join(', ')}`);
  assert.equal(runs.map((id) => parseAllocationId(id)!.serial).sort((a, b) => a - b), [firstSerialOf(1), firstSerialOf(2)]);
});

test('each incarnation has its own range of serials', () => {
  assert.is(firstSerialOf(1), 1);
  assert.is(firstSerialOf(2), 2 ** 32 + 1);
  assert.ok(Number.isSafeInteger(firstSerialOf(2 ** 21) + 2 ** 32 - 1));
  assert.throws(() => firstSerialOf(0), /incarnation/);
  assert.throws(() => firstSerialOf(2 ** 21 + 1), /incarnation/);
});

test.run();
