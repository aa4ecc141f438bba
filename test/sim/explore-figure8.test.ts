// Figure 8 of the Raft paper, planted: a leader that commits an entry of an
// earlier term by counting the replicas that hold it. The bug is planted by
// replacing Raft.prototype.maybeCommit in this test's process only (each test
// file runs in its own process): production code has no bug switch, and the
// explorer runs the same World, hosts and runtime over the patched class.
//
// The stage is Figure 8's states (a) and (b) for three hosts, taken as a
// prefix of choices: host 1 led term 1 and host 2 led term 2, each with its
// no-op at index 1, and neither's append reached anyone (lost); host 1 then
// won term 3 with host 3's vote. From there the explorer must find the rest:
// host 1 gets its term-1 entry (not its term-3 no-op: one entry per append)
// onto host 3, the buggy leader commits it by counting, and host 2 wins
// term 4 with host 3's vote without it: leader completeness breaks. The
// per-step rule of Figure 2 (src/sim/check/raft-rules.ts) catches the buggy
// commit itself, before its consequence: the leader of term 3 commits its
// term-1 entry. The same search over the correct code finds nothing.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { explore, replayChoices } from '../../src/sim/explore/explorer.js';
import type { ExploreOptions, ExploreReport } from '../../src/sim/explore/explorer.js';
import { Raft } from '../../src/raft/raft.js';
import { majorityIndex } from '../../src/raft/quorum.js';
import type { NodeId } from '../../src/raft/index.js';
import type { Progress } from '../../src/raft/progress.js';
import { Space } from '../../src/sim/explore/explorer.js';
import { choiceKey } from '../../src/sim/explore/choice.js';
import type { FaultBudget, Reductions } from '../../src/sim/explore/session.js';
import { scenarioSchema } from '../../src/sim/scenario.js';

const scenario = scenarioSchema.parse({
  name: 'figure-8', durationS: 10, hosts: 3,
  raft: { electionTicks: 2, heartbeatTicks: 1, preVote: false, checkQuorum: false, maxEntriesPerMsg: 1 },
  workload: { kind: 'kv', clients: 0 },
});
const faults: FaultBudget = { crashes: 0, losses: 6, duplicates: 0 };
const reductions: Reductions = { instantDisk: true, skipIdleTicks: true };

/** What the patched method reads of a Raft (private fields, read the way the class itself does). */
interface RaftInside {
  conf: { voters: NodeId[] };
  prs: Map<NodeId, Progress>;
  log: { committed: number; commitTo(i: number): boolean };
}

/** Commit by counting alone, whatever the entry's term: the bug Figure 8 warns of. */
function commitByCounting(this: Raft): boolean {
  const r = this as unknown as RaftInside;
  const idx = majorityIndex(r.conf.voters, (id) => r.prs.get(id)?.match ?? 0);
  return idx > r.log.committed ? r.log.commitTo(idx) : false;
}

/** The stage, as choice keys (found by what each choice is, so the test says what it does). */
function stage(): string[] {
  const s = new Space(scenario, 1, faults, reductions).fresh();
  const keys: string[] = [];
  const take = (re: RegExp): void => {
    const c = s.enabled().find((x) => re.test(s.describe(x)));
    if (c === undefined) throw new Error(`stage: no choice like ${re}: ${s.enabled().map((x) => s.describe(x)).join('; ')}`);
    keys.push(choiceKey(c));
    assert.is(s.apply(c), null);
  };
  for (const re of [
    /tick on host 1/, /deliver vote term 1 1->2/, /deliver voteResp term 1 2->1/, // host 1 leads term 1
    /tick on host 2/, /deliver vote term 2 2->3/, /deliver voteResp term 2 3->2/, // host 2 leads term 2
    /deliver vote term 2 2->1/, // host 1 hears of term 2
    /tick on host 1/, /deliver vote term 3 1->3/, /deliver voteResp term 3 3->1/, // host 1 leads term 3
    /lose .* term 1 .*1->3/, /lose .* term 1 .*1->3/, /lose app term 1 .*1->2/, // term 1's messages lost
    /lose app term 2 .*2->1/, /lose app term 2 .*2->3/, /lose voteResp term 2 reject 1->2/, // and term 2's
  ]) take(re);
  const leads = (h: number): string => s.world.hosts[h - 1]!.replicas[0]!.role;
  assert.equal([leads(1), leads(2), leads(3)], ['leader', 'leader', 'follower']);
  assert.equal(s.world.network.inFlight().filter((m) => m.msg.kind === 'raft' && m.msg.msg.term < 3), [], 'the old terms said nothing more');
  s.close();
  return keys;
}

function search(prefix: string[]): ExploreReport {
  const o: ExploreOptions = { scenario, seed: 1, strategy: 'random', depth: 10, walks: 5000, faults, reductions, prefix };
  return explore(o);
}

test('a leader that commits an older term\'s entry by counting is caught', () => {
  const correct = Raft.prototype.maybeCommit;
  const prefix = stage();
  Raft.prototype.maybeCommit = commitByCounting;
  let r: ExploreReport;
  try {
    r = search(prefix);
    assert.ok(r.violation !== null, `no violation in ${r.walks} walks`);
    assert.is(r.violation.invariant, 'leader-commits-own-term', r.violation.message);
    assert.match(r.violation.message, /host 1, leader of term 3, committed to 1, an entry of term 1/);
    const again = replayChoices(scenario, 1, faults, reductions, r.path!.map((p) => p.key));
    assert.is(again.violation?.message, r.violation.message);
    assert.ok(r.path!.length > prefix.length);
  } finally {
    Raft.prototype.maybeCommit = correct;
  }
  const clean = search(prefix);
  assert.is(clean.violation, null, clean.violation?.message);
  assert.is(clean.walks, 5000);
});

test.run();
