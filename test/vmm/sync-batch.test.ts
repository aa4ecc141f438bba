// A lock manager whose commands share Raft entries (src/vmm/proposer.ts),
// driven through a real Vmm: a renewal committed in the same entry as another
// command of its lock is noted before that command's continuation looks at the
// lock, so waiting the holder out counts from the renewal, not from the
// manager's start (dsm-locks-stall seed 98 expired a holding just renewed).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { inertFaultPoints } from '../../src/raft/index.js';
import { SimMemory } from '../../src/sim/memory.js';
import { type CompanyApplied, type CompanyEntry, CompanyMachine, encodeCompanyEntry } from '../../src/vmm/company.js';
import type { CompanyPlan } from '../../src/vmm/placement.js';
import type { VmmMessage } from '../../src/vmm/protocol.js';
import type { CompanyAccess, VmmEnv } from '../../src/vmm/vmm-env.js';
import { Vmm } from '../../src/vmm/vmm.js';
import { ManualClock } from './manual-clock.js';

const PLAN: CompanyPlan = { company: 1, firstPage: 0, pages: 4, members: [1] };
const LEASE_US = 1000;
const RETRY_US = 100;

/** Host 1 leads company 1; its proposals commit when the clock moves, the entries applied as a host applies them. */
class World {
  private readonly clock = new ManualClock();
  private req = 0;
  private proposed: CompanyEntry[] = [];
  private index = 1;
  readonly machine = new CompanyMachine(PLAN, 64, 1, null);
  readonly sent: { to: number; msg: VmmMessage }[] = [];
  readonly entries: CompanyEntry[] = [];
  readonly vmm: Vmm;

  constructor() {
    const company: CompanyAccess = {
      isLeader: () => true, term: () => 1, lead: () => 1,
      propose: (e) => {
        this.proposed.push(e);
        return true;
      },
      table: () => this.machine.table, appliedIndex: () => this.machine.appliedIndex,
    };
    const memory = new SimMemory(1, 64, PLAN.pages, { changed: () => undefined }, () => undefined, { now: () => this.clock.now, at: () => undefined });
    const env: VmmEnv = {
      memory, faults: inertFaultPoints, now: () => this.clock.now, timer: this.clock.timer,
      send: (to, msg) => this.sent.push({ to, msg }),
      company: (c) => (c === 1 ? company : null),
      members: () => [1], opSeq: () => 0,
      segfault: () => undefined, lostWrites: () => undefined, lostLock: () => undefined,
    };
    this.vmm = new Vmm({ host: 1, incarnation: 1, pageSize: 64, pages: PLAN.pages, rootPages: 1, plans: [PLAN], leaseUs: LEASE_US, driftBoundPpm: 0, retryUs: RETRY_US, coherence: 'release' }, env);
    this.vmm.leadership(1, true, 1);
  }

  /** Moves the clock to `to`: timers fire in order, and what they propose commits at once. */
  advance(to: number): void {
    this.clock.advance(to, () => this.commit());
  }

  private commit(): void {
    while (this.proposed.length > 0) {
      const e = this.proposed.shift()!;
      this.entries.push(e);
      this.vmm.applied(this.machine.apply({ term: 1, index: ++this.index, kind: 'normal', data: encodeCompanyEntry(e) }) as CompanyApplied);
    }
  }

  ask(from: number, token: number): void {
    this.vmm.receive(from, { t: 'lock-acquire', req: this.req++, id: 0, thread: from * 10, token });
  }
}

test('a renewal batched behind another command of its lock is noted before that command continues: the holder is not waited out early', () => {
  const w = new World();
  // Host 2 holds lock 0 from before this manager (its grant time unknown here: waiting it out counts from the manager's start).
  const held = w.machine.table.apply({ op: 'lock-acquire', company: 1, id: 0, host: 2, thread: 20, token: 0, term: 1, leaseUs: LEASE_US, grantedAtUs: 0 });
  assert.ok(held.ok);
  w.advance(100);
  w.ask(3, 0); // host 3 waits: the manager recalls host 2's holding and will wait it out
  w.advance(900);
  w.ask(1, 7); // a stale renewal (host 1 holds nothing): refused, and the manager looks at the lock again
  w.ask(2, 1); // host 2 renews its holding in the same instant: the same entry
  w.advance(900);
  const batched = w.entries.find((e) => e.more !== undefined);
  assert.ok(batched, 'the two renewals share an entry');
  assert.equal([batched.cmd, ...batched.more!.map((m) => m.cmd)].map((c) => (c as { host: number }).host), [1, 2]);
  assert.ok(w.sent.some((s) => s.to === 2 && s.msg.t === 'lock-granted'), 'host 2 renewed');
  // The renewed lease runs to 900 + 1000 (+ retryUs as the manager waits): until then host 2 keeps the lock.
  w.advance(1900);
  assert.is(w.machine.table.lock(0)?.host, 2, 'host 2 still holds lock 0');
  assert.not.ok(w.entries.some((e) => e.cmd.op === 'lock-expire' || e.more?.some((m) => m.cmd.op === 'lock-expire')), 'no holding expired');
  assert.not.ok(w.sent.some((s) => s.to === 3 && s.msg.t === 'lock-granted'), 'host 3 not granted');
  // Once the renewed lease is surely over, the holder is waited out and host 3 has its turn.
  w.advance(2100);
  assert.ok(w.sent.some((s) => s.to === 3 && s.msg.t === 'lock-granted'), 'host 3 granted after the renewed lease');
});

test.run();
