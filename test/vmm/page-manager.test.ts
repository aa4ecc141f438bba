// A page manager whose table is stale: a deposed leader just back from a
// pause has not heard of what its successor committed. What it reads in its
// own table may be old, so it answers "not allocated" only from a committed
// grant, and routes a free only once a barrier committed. (Before the fix,
// alloc-churn under partitions, pauses and membership, seed 26: a thread's
// access to an allocated page failed with not-allocated, then waited for ever.)
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { inertFaultPoints } from '../../src/raft/index.js';
import type { CompanyApplied, CompanyEntry } from '../../src/vmm/company.js';
import { PageManager } from '../../src/vmm/page-manager.js';
import { PageTable } from '../../src/vmm/page-table.js';
import type { CompanyPlan } from '../../src/vmm/placement.js';
import type { VmmMessage } from '../../src/vmm/protocol.js';
import type { CompanyAccess, VmmConfig, VmmEnv } from '../../src/vmm/vmm-env.js';

const PAGE = 64;
const plan: CompanyPlan = { company: 1, firstPage: 0, pages: 16, members: [1, 2, 3] };
const cfg: VmmConfig = { host: 1, incarnation: 1, pageSize: PAGE, pages: 16, rootPages: 2, plans: [plan], leaseUs: 10_000, driftBoundPpm: 0, retryUs: 1000 };

/**
 * A manager whose table lacks an allocation other members committed (run
 * s:4:1 at page 0). Its proposals commit only after that entry (a leader's
 * log holds every committed entry before its own): committing applies the
 * missing allocation first, then the proposals, to the same table.
 */
function manager(): { m: PageManager; sent: Array<[number, VmmMessage]>; commitAll: () => string[] } {
  const table = new PageTable({ pageSize: PAGE });
  table.apply({ op: 'create-company', company: 1, firstPage: 0, pages: 16 });
  let behind = true;
  const sent: Array<[number, VmmMessage]> = [];
  const proposed: CompanyEntry[] = [];
  let index = 0;
  const access: CompanyAccess = {
    isLeader: () => true, term: () => 1, lead: () => 1, appliedIndex: () => index,
    propose: (e) => proposed.push(e) > 0,
    table: () => table,
  };
  const env = {
    now: () => 0, timer: () => undefined, send: (to: number, msg: VmmMessage) => void sent.push([to, msg]),
    company: () => access, members: () => plan.members, opSeq: () => 0, segfault: () => undefined, lostWrites: () => undefined,
    faults: inertFaultPoints,
  } as unknown as VmmEnv;
  const m = new PageManager(cfg, env, plan, access);
  const commitAll = (): string[] => {
    if (behind) table.apply({ op: 'allocate', company: 1, id: 's:4:1', pages: 1, owner: 4 });
    behind = false;
    const ops: string[] = [];
    for (const e of proposed.splice(0)) {
      const a: CompanyApplied = { company: 1, index: ++index, pid: e.pid, cmd: e.cmd, result: table.apply(e.cmd) };
      ops.push(e.cmd.op);
      m.applied(a);
    }
    return ops;
  };
  return { m, sent, commitAll };
}

test('an acquire of a page the stale table calls unallocated is settled by a committed grant', () => {
  const { m, sent, commitAll } = manager();
  m.acquire(2, { t: 'acquire', req: 7, page: 0, mode: 'read', have: -1 });
  assert.equal(sent, [], 'nothing answered from the stale table');
  assert.equal(commitAll(), ['grant']);
  assert.is(sent.length, 1);
  assert.is(sent[0]![1].t, 'grant', 'the page is allocated in the committed state: granted');
});

test('an acquire of a page unallocated in the committed state is refused once the grant fails to commit', () => {
  const { m, sent, commitAll } = manager();
  m.acquire(2, { t: 'acquire', req: 8, page: 9, mode: 'write', have: -1 });
  assert.equal(sent, []);
  commitAll();
  assert.equal(sent.map(([to, msg]) => [to, msg.t, msg.t === 'refuse' ? msg.why : '']), [[2, 'refuse', 'not-allocated']]);
});

test('a free is routed to the owner only after a barrier committed; the stale table alone would have refused it', () => {
  const { m, sent, commitAll } = manager();
  m.free(3, { t: 'free', req: 9, addr: 16, run: null });
  assert.equal(sent, [], 'no refusal from the stale table');
  assert.equal(commitAll(), ['barrier']);
  assert.equal(sent, [[4, { t: 'free-owner', req: 9, addr: 16, host: 3 }]]);
});

test.run();
