// The page client gives each page it opens a deadline in the memory backend
// (renewed with the lease, cleared when the page closes), and copes with the
// backend having closed a page it still believes it holds: its event loop
// was stuck past the deadline, and the first thing it hears afterwards is a
// thread's fault on that page. Driven by hand: one host, a manager that is
// the test, the simulator's memory and scheduler.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { inertFaultPoints } from '../../src/raft/index.js';
import { SimMemory } from '../../src/sim/memory.js';
import { Scheduler } from '../../src/sim/scheduler.js';
import { encodePage, PageClient } from '../../src/vmm/page-client.js';
import type { VmmMessage } from '../../src/vmm/protocol.js';
import type { Reply } from '../../src/vmm/requests.js';
import type { VmmConfig, VmmEnv } from '../../src/vmm/vmm-env.js';

const PAGE = 64;
const LEASE_US = 1_000_000;
const MANAGER = 2;
/** min(lease / 4, 4 x retry): the give-up margin; the deadline is half of it before the lease ends. */
const MARGIN_US = 200_000;

const cfg: VmmConfig = {
  host: 1, incarnation: 1, pageSize: PAGE, pages: 4, rootPages: 1, plans: [{ company: 1, firstPage: 0, pages: 4, members: [MANAGER] }],
  leaseUs: LEASE_US, driftBoundPpm: 1000, retryUs: 50_000,
};

function setup() {
  const sched = new Scheduler();
  const clock = { now: () => sched.now, at: (localUs: number, fn: () => void) => sched.at(localUs, fn) };
  const mem = new SimMemory(1, PAGE, 4, { changed: () => undefined }, (fn) => sched.after(0, fn), clock);
  const deadlines: [number, number | null][] = [];
  const sent: VmmMessage[] = [];
  const lost: number[] = [];
  /** While true the host's event loop is stuck: its timers wait (the memory's own events do not). */
  let stuck = false;
  const waiting: (() => void)[] = [];
  const env: VmmEnv = {
    memory: new Proxy(mem, {
      get: (target, key) => (key === 'setDeadline' ? (page: number, us: number | null) => {
        deadlines.push([page, us]);
        target.setDeadline(page, us);
      } : Reflect.get(target, key)),
    }),
    faults: inertFaultPoints,
    now: () => sched.now,
    timer: (at, fn) => sched.at(at, () => (stuck ? waiting.push(fn) : fn())),
    send: (_to, msg) => sent.push(msg),
    company: () => null,
    members: () => [MANAGER],
    opSeq: () => 0,
    segfault: () => undefined,
    lostWrites: (page) => lost.push(page),
    lostLock: () => undefined,
  };
  const client = new PageClient(cfg, env);
  const last = <T extends VmmMessage['t']>(t: T): Extract<VmmMessage, { t: T }> => {
    const m = sent.filter((x) => x.t === t).at(-1);
    if (m === undefined) throw new Error(`no ${t} sent (sent: ${sent.map((x) => x.t).join(', ')})`);
    return m as Extract<VmmMessage, { t: T }>;
  };
  /** The manager's grant, answering `acquire` (by default the last one sent). */
  const grant = (index: number, acquire = last('acquire')): void => {
    const { req, page, mode } = acquire;
    const reply: Reply = { t: 'grant', req, page, mode, version: 1, data: encodePage(new Uint8Array(PAGE).fill(3)), leaseUs: LEASE_US, index, lease: { term: 1, grantedAtUs: sched.now } };
    client.requests.reply(MANAGER, reply);
  };
  return {
    sched, mem, client, deadlines, sent, lost, last, grant,
    stick: () => (stuck = true),
    unstick: () => {
      stuck = false;
      for (const fn of waiting.splice(0)) fn();
    },
  };
}

test('a grant gives the page a deadline half the give-up margin before the lease ends; a revoke clears it', () => {
  const s = setup();
  s.sched.runUntil(10_000);
  s.client.fault(0, 'read');
  s.sched.runUntil(12_000);
  s.grant(5);
  assert.is(s.mem.protection(0), 'read');
  const expires = 10_000 + LEASE_US; // counted from when the acquire was sent
  assert.equal(s.deadlines, [[0, expires - MARGIN_US / 2]]);
  s.client.revoke(MANAGER, { t: 'revoke', rev: 1, page: 0, index: 5 });
  assert.is(s.mem.protection(0), 'none');
  assert.equal(s.deadlines.at(-1), [0, null], 'closed by the VMM: no deadline left behind');
});

test('an answer from a host the request did not go to is dropped and counted; the manager\'s own answer still counts', () => {
  const s = setup();
  s.sched.runUntil(10_000);
  s.client.fault(0, 'write');
  const { req, page, mode } = s.last('acquire');
  const forged: Reply = { t: 'grant', req, page, mode, version: 9, data: encodePage(new Uint8Array(PAGE).fill(0xef)), leaseUs: LEASE_US, index: 5, lease: { term: 1, grantedAtUs: 0 } };
  assert.not.ok(s.client.requests.reply(MANAGER + 1, forged));
  assert.is(s.client.requests.wrongReplier, 1);
  assert.is(s.mem.protection(0), 'none');
  s.grant(5);
  assert.is.not(s.mem.protection(0), 'none');
});

test('a renewal of a write lease moves the deadline with the lease', () => {
  const s = setup();
  s.client.fault(1, 'read');
  s.sched.runUntil(20_000);
  s.client.fault(1, 'write'); // the read is still unanswered: ask for the write lease too
  const write = s.last('acquire');
  s.sched.runUntil(50_000); // the read request times out and goes again
  const read = s.last('acquire');
  assert.is(read.mode, 'read');
  s.grant(5, write);
  // The read grant, committed after the write grant: the table renewed the write lease with it.
  s.grant(9, read);
  assert.equal(s.client.heldPages().map(([p, h]) => [p, h.mode]), [[1, 'write']]);
  assert.equal(s.deadlines, [[1, 20_000 + LEASE_US - MARGIN_US / 2], [1, 50_000 + LEASE_US - MARGIN_US / 2]]);
  // The host gives the page up before the renewed lease ends, not before the first one did.
  s.sched.runUntil(50_000 + LEASE_US - MARGIN_US - 1);
  assert.equal(s.client.heldPages().map(([p]) => p), [1], 'kept past the first lease\'s give-up');
  s.sched.runUntil(50_000 + LEASE_US - MARGIN_US);
  assert.equal(s.client.heldPages(), [], 'given up at the renewed lease\'s give-up');
});

test('stuck past the deadline: the backend closed the page; the fault that comes first ends the lease instead of reopening it', () => {
  const s = setup();
  s.client.fault(0, 'read');
  s.grant(5);
  s.stick();
  const closesAt = LEASE_US - MARGIN_US / 2;
  s.sched.runUntil(closesAt - 1);
  assert.is(s.mem.protection(0), 'read', 'open until its deadline');
  s.sched.runUntil(closesAt);
  assert.is(s.mem.protection(0), 'none', 'closed at its deadline with the event loop stuck');
  assert.equal(s.client.heldPages().map(([p]) => p), [0], 'the page client does not know yet');
  // The loop resumes (before the lease has run out by its clock) and a thread's read fault is the first thing it handles.
  s.sched.runUntil(closesAt + 50_000);
  const acquires = s.sent.filter((m) => m.t === 'acquire').length;
  s.client.fault(0, 'read');
  assert.is(s.mem.protection(0), 'none', 'not reopened past its deadline');
  assert.is(s.client.stats.expired, 1, 'the lease ended');
  assert.equal(s.client.heldPages(), []);
  assert.is(s.sent.filter((m) => m.t === 'acquire').length, acquires + 1, 'and the page is asked for again');
  s.unstick(); // the give-up timer, late: nothing left for it to do
  assert.is(s.client.stats.expired, 1);
});

test('a dirty page past its deadline is written back as expiry writes it back, and lost if the lease is gone', () => {
  const s = setup();
  s.client.fault(2, 'write');
  s.grant(5);
  s.client.fault(2, 'write'); // the first write: the page opens for writing and is dirty
  assert.is(s.mem.protection(2), 'write');
  assert.is(s.client.dirtyPage, 2);
  s.stick();
  s.sched.runUntil(LEASE_US - MARGIN_US / 2);
  assert.is(s.mem.protection(2), 'none', 'closed at its deadline, writes and all');
  s.client.fault(2, 'write');
  const release = s.last('release');
  assert.is(release.page, 2);
  assert.ok(release.data !== '', 'the write-back carries the page');
  s.client.requests.reply(MANAGER, { t: 'refuse', req: release.req, page: 2, why: 'not-allocated', leader: MANAGER, version: 1 });
  assert.equal(s.lost, [2], 'refused: the writes are lost, and the application told');
  assert.is(s.mem.protection(2), 'none');
});

test.run();
