// SimMemory enforces page deadlines itself, as scheduler events of its own:
// a page closes when the host's local clock reaches its deadline even if
// nothing else happens at all (no VMM timer, no message: a host whose event
// loop is stuck), the close is reported to the protection observer, and a
// page past its deadline cannot be opened again.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadScenario } from '../../src/cli/scenario-file.js';
import { HostClock } from '../../src/sim/clock.js';
import { SimMemory } from '../../src/sim/memory.js';
import { runSeed } from '../../src/sim/run.js';
import { Scheduler } from '../../src/sim/scheduler.js';
import type { Protection } from '../../src/vmm/memory.js';

const PAGE = 64;

/** A memory on one host whose clock runs `driftPpm` off global time, 1 s ahead of it. */
function setup(driftPpm = 0) {
  const sched = new Scheduler();
  const clock = new HostClock(1_000_000, driftPpm);
  const changes: { at: number; page: number; prot: Protection }[] = [];
  const mem = new SimMemory(1, PAGE, 4, { changed: (_h, page, prot) => changes.push({ at: sched.now, page, prot }) }, (fn) => sched.after(0, fn), {
    now: () => clock.local(sched.now),
    at: (localUs, fn) => sched.at(clock.globalFor(localUs, sched.now), fn),
  });
  return { sched, clock, mem, changes, local: () => clock.local(sched.now) };
}

test('an open page closes at its deadline by itself: the only event run is the memory\'s own', () => {
  const { sched, mem, changes, local } = setup();
  mem.fill(2, new Uint8Array(PAGE).fill(7), 'read');
  mem.setDeadline(2, local() + 300_000);
  assert.is(sched.pending(), 1, 'the deadline is one scheduler event, and nothing else is scheduled');
  sched.runUntil(Infinity);
  assert.is(sched.eventsRun, 1);
  assert.is(mem.protection(2), 'none');
  assert.equal(changes, [{ at: 0, page: 2, prot: 'read' }, { at: 300_000, page: 2, prot: 'none' }], 'the observer sees the close, at the deadline');
  assert.is(mem.read(2)[0], 7, 'closing copies nothing away');
});

test('the deadline is on the host\'s local clock: a fast clock closes the page earlier in global time', () => {
  const { sched, mem, changes, local, clock } = setup(100_000); // 10 % fast
  mem.setProtection(0, 'write');
  const deadline = local() + 1_100_000;
  mem.setDeadline(0, deadline);
  sched.runUntil(Infinity);
  const closed = changes.find((c) => c.prot === 'none')!;
  assert.is(closed.at, 1_000_000, '1.1 s of a 10 % fast clock is 1 s of global time');
  assert.ok(clock.local(closed.at) >= deadline && clock.local(closed.at - 1) < deadline, 'closed at the first instant the local clock reads the deadline');
});

test('a renewed deadline keeps the page open past the old one; a cleared one never closes it', () => {
  const { sched, mem, local } = setup();
  mem.setProtection(1, 'read');
  mem.setProtection(3, 'read');
  mem.setDeadline(1, local() + 100_000);
  mem.setDeadline(1, local() + 500_000);
  mem.setDeadline(3, local() + 100_000);
  mem.setDeadline(3, null);
  sched.runUntil(400_000);
  assert.is(mem.protection(1), 'read', 'open past its first deadline');
  sched.runUntil(Infinity);
  assert.is(mem.protection(1), 'none', 'closed at the renewed one');
  assert.is(sched.now, 500_000);
  assert.is(mem.protection(3), 'read', 'no deadline, no close');
});

test('past its deadline a page stays closed whatever is asked, until a later deadline is set', () => {
  const { sched, mem, local } = setup();
  mem.setProtection(0, 'read');
  mem.setDeadline(0, local() + 10);
  sched.runUntil(1000);
  mem.setProtection(0, 'write');
  assert.is(mem.protection(0), 'none');
  mem.fill(0, new Uint8Array(PAGE).fill(9), 'read');
  assert.is(mem.protection(0), 'none', 'a fill copies but does not open');
  mem.setDeadline(0, local() - 1);
  assert.is(mem.protection(0), 'none', 'a deadline already passed');
  mem.setDeadline(0, local() + 1000);
  mem.setProtection(0, 'read');
  assert.is(mem.protection(0), 'read', 'opened under a new deadline');
});

test('a deadline already passed closes an open page at once; a thread waiting on it retries', () => {
  const { sched, mem, local } = setup();
  mem.setProtection(1, 'read');
  let retried = 0;
  assert.is(mem.storeWord(PAGE + 4, 5, () => retried++), false, 'a write to a read-only page faults and waits');
  mem.setDeadline(1, local());
  assert.is(mem.protection(1), 'none');
  sched.runUntil(Infinity);
  assert.is(retried, 1, 'the close woke the waiting thread, to fault again');
});

test('a closed memory (the process is gone) ignores deadlines that come due', () => {
  const { sched, mem, changes, local } = setup();
  mem.setProtection(2, 'read');
  mem.setDeadline(2, local() + 1000);
  mem.close();
  const seen = changes.length;
  sched.runUntil(Infinity);
  assert.is(changes.length, seen);
});

test('dsm-stall: hosts stalled past their leases while their threads run hold no page against another host', () => {
  // Without the deadlines every one of these seeds is a single-writer violation.
  const scenario = loadScenario('dsm-stall').spec;
  for (const seed of [1, 2, 3]) {
    const r = runSeed(scenario, seed);
    assert.is(r.violation, null, `seed ${seed}: ${r.violation?.message}`);
    assert.ok(r.faultKinds.includes('stall'), `seed ${seed} stalled a host`);
    assert.is(r.stats.verified, 1);
  }
});

test.run();
