// The managers' proposer: commands of one instant, and commands that came
// while an entry was being committed, share one Raft entry; each is continued
// with its own result, only once committed; an entry that never commits or a
// leader that refuses delays the others by retryUs at most; a closed proposer
// does nothing more. And the company's state machine applies an entry's
// further commands in order, each with its own result.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { inertFaultPoints } from '../../src/raft/index.js';
import { type CompanyApplied, type CompanyEntry, CompanyMachine, eachApplied, encodeCompanyEntry } from '../../src/vmm/company.js';
import type { PageCommand } from '../../src/vmm/page-table-commands.js';
import type { CompanyPlan } from '../../src/vmm/placement.js';
import { Proposer } from '../../src/vmm/proposer.js';
import type { CompanyAccess, VmmConfig, VmmEnv } from '../../src/vmm/vmm-env.js';
import { ManualClock } from './manual-clock.js';

const PLAN: CompanyPlan = { company: 1, firstPage: 0, pages: 8, members: [1] };
const RETRY_US = 100;

/** A leader whose proposals the test commits (or drops), on a clock the test moves. */
class World {
  readonly clock = new ManualClock();
  proposed: CompanyEntry[] = [];
  refuse = false;
  readonly machine = new CompanyMachine(PLAN, 64, 0, null);
  private index = 0;
  readonly proposer: Proposer;

  constructor() {
    const company: CompanyAccess = {
      isLeader: () => true, term: () => 1, lead: () => 1,
      propose: (e) => {
        if (this.refuse) return false;
        this.proposed.push(e);
        return true;
      },
      table: () => this.machine.table, appliedIndex: () => this.machine.appliedIndex,
    };
    const env = { faults: inertFaultPoints, now: () => this.clock.now, timer: this.clock.timer } as unknown as VmmEnv;
    const cfg = { host: 1, retryUs: RETRY_US } as VmmConfig;
    this.proposer = new Proposer(cfg, env, company, 'x');
  }

  /** Runs the timers due by `to`, in time order, moving the clock. */
  advance(to: number): void {
    this.clock.advance(to);
  }

  /** Commits and applies the oldest entry proposed, as a host does: every command applied, then each continued. */
  commit(): void {
    const e = this.proposed.shift()!;
    const a = this.machine.apply({ term: 1, index: ++this.index, kind: 'normal', data: encodeCompanyEntry(e) }) as CompanyApplied;
    for (const x of eachApplied(a)) this.proposer.applied(x);
  }
}

const acquire = (id: number, host: number): PageCommand =>
  ({ op: 'lock-acquire', company: 1, id, host, thread: 0, token: 0, term: 1, leaseUs: 1000, grantedAtUs: 0 });

const commandsOf = (e: CompanyEntry): PageCommand[] => [e.cmd, ...(e.more ?? []).map((m) => m.cmd)];

test('commands of one instant go in one entry, each continued with its own result once committed', () => {
  const w = new World();
  const results: string[] = [];
  w.proposer.propose(acquire(1, 2), (a) => results.push(`1:${a.result.ok ? a.result.token : a.result.error}`));
  w.proposer.propose(acquire(1, 3), (a) => results.push(`1:${a.result.ok ? a.result.token : a.result.error}`));
  w.proposer.propose(acquire(2, 3), (a) => results.push(`2:${a.result.ok ? a.result.token : a.result.error}`));
  assert.is(w.proposed.length, 0, 'proposed at the end of the instant');
  w.advance(0);
  assert.is(w.proposed.length, 1);
  assert.equal(commandsOf(w.proposed[0]!), [acquire(1, 2), acquire(1, 3), acquire(2, 3)]);
  assert.equal(results, [], 'nothing answered before the commit');
  w.commit();
  assert.equal(results, ['1:1', '1:conflict', '2:1'], 'in order, each its own result');
});

test('group commit: commands that come while an entry is being committed go together after it', () => {
  const w = new World();
  const done: number[] = [];
  w.proposer.propose(acquire(1, 2), () => done.push(1));
  w.advance(10);
  w.proposer.propose(acquire(2, 2), () => done.push(2));
  w.advance(20);
  w.proposer.propose(acquire(3, 2), () => done.push(3));
  w.advance(30);
  assert.is(w.proposed.length, 1, 'the later ones wait for the first entry');
  w.commit();
  assert.equal(done, [1]);
  w.advance(30);
  assert.is(w.proposed.length, 1);
  assert.equal(commandsOf(w.proposed[0]!).map((c) => (c as { id: number }).id), [2, 3]);
  w.commit();
  assert.equal(done, [1, 2, 3]);
});

test('an entry that never commits holds the others back retryUs at most', () => {
  const w = new World();
  w.proposer.propose(acquire(1, 2), () => undefined);
  w.advance(0);
  w.proposed.shift(); // lost with the leader's log
  w.proposer.propose(acquire(2, 2), () => undefined);
  w.advance(RETRY_US - 1);
  assert.is(w.proposed.length, 0);
  w.advance(RETRY_US);
  assert.is(w.proposed.length, 1);
  assert.equal(commandsOf(w.proposed[0]!).map((c) => (c as { id: number }).id), [2]);
});

test('a leader refusing proposals is asked again after retryUs, with every command of the entry', () => {
  const w = new World();
  const done: number[] = [];
  w.refuse = true;
  w.proposer.propose(acquire(1, 2), () => done.push(1));
  w.proposer.propose(acquire(2, 2), () => done.push(2));
  w.advance(0);
  assert.is(w.proposed.length, 0);
  w.refuse = false;
  w.advance(RETRY_US);
  assert.is(w.proposed.length, 1);
  assert.is(commandsOf(w.proposed[0]!).length, 2);
  w.commit();
  assert.equal(done, [1, 2]);
});

test('a closed proposer proposes and continues nothing more', () => {
  const w = new World();
  const done: number[] = [];
  w.proposer.propose(acquire(1, 2), () => done.push(1));
  w.advance(0);
  w.proposer.propose(acquire(2, 2), () => done.push(2));
  w.proposer.close();
  assert.is(w.proposer.propose(acquire(3, 2), () => done.push(3)), false);
  w.commit();
  w.advance(10 * RETRY_US);
  assert.equal(done, []);
  assert.is(w.proposed.length, 0);
});

test("an entry's further commands apply in order on every member; a malformed one fails alike, without throwing", () => {
  const m = new CompanyMachine(PLAN, 64, 0, null);
  const entry = { pid: 'a', cmd: acquire(1, 2), more: [{ pid: 'b', cmd: acquire(1, 3) }, 7, { pid: 'c', cmd: { op: 'nonsense' } }, { pid: 'd', cmd: acquire(2, 3) }] };
  const a = m.apply({ term: 1, index: 5, kind: 'normal', data: JSON.stringify(entry) }) as CompanyApplied;
  const all = eachApplied(a);
  assert.equal(all.map((x) => [x.index, x.pid, x.result.ok ? 'ok' : x.result.error]), [
    [5, 'a', 'ok'], [5, 'b', 'conflict'], [5, 'undefined', 'bad-command'], [5, 'c', 'bad-command'], [5, 'd', 'ok'],
  ]);
  assert.is(m.appliedIndex, 5);
  const other = new CompanyMachine(PLAN, 64, 0, null);
  other.apply({ term: 1, index: 5, kind: 'normal', data: JSON.stringify(entry) });
  assert.is(other.table.hash(1), m.table.hash(1), 'the same table on another member');
});

test.run();
