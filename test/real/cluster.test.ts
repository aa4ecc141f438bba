// Real mode end to end: three `gallocy serve` processes on 127.0.0.1, each a
// separate OS process with its own Raft store, talking TCP, watched through
// GET /admin. The tests read as interaction scripts: start hosts, wait until
// the cluster says something, do something to it, wait again, assert.
//
// Needs the native page-fault shim (native/build/libgallocy_shim.so); without
// it the file reports one test saying it was skipped and why.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { StatusReport } from '../../src/cli/status-command.js';
import { RESERVED_ROOT_BYTES } from '../../src/real/app-threads.js';
import { nativeAvailable } from '../../src/real/native-memory.js';
import { checkLinearizable } from '../../src/check/linearizability.js';
import { registerModel } from '../../src/check/register-model.js';
import { REGISTERS_DEFAULTS, registerAddresses } from '../../src/vmm/workloads/index.js';
import {
  adderOlds, agreedLeader, groupOf, PAGE_SIZE, registerOps, ROOT_PAGES, runCli, TestCluster, watchdog, writeAdderApp, writeReaderApp,
  type Leadership,
} from './cluster-harness.js';

watchdog('cluster.test', 240_000);

const availability = nativeAvailable();
const THREADS = 2;
const clusters: TestCluster[] = [];

async function cluster(name: string, opts: { replication?: number } = {}): Promise<TestCluster> {
  const c = await TestCluster.create({ name, ...opts });
  clusters.push(c);
  return c;
}

// However a test ends, its hosts are stopped and its folder removed.
test.after.each(async () => {
  await Promise.all(clusters.splice(0).map((c) => c.cleanup()));
});

/**
 * Waits until host `id` follows company 1's leader with the others and its
 * commit index reaches what the leader's was once it did (the leader's keeps
 * moving while threads run, so the target is taken once).
 */
async function caughtUp(c: TestCluster, id: number): Promise<Leadership> {
  const l = await c.leaderOf(1);
  const target = groupOf(await c.status(l.leader), 1)?.commit ?? 0;
  await c.waitFor(`host ${id} to catch up to company 1's commit index ${target}`, async () =>
    (groupOf(await c.status(id), 1)?.commit ?? 0) >= target);
  return l;
}

if (!availability.ok) {
  console.log(`cluster.test: skipped: real mode unavailable: ${availability.reason}`);
  test(`multi-process cluster (skipped: real mode unavailable: ${availability.reason})`, () => {});
} else {
  test('the cluster forms: each group has one leader its members agree on, and `gallocy status --json` sees every host', async () => {
    // Replication 2 of 3 hosts: two companies with different members, so
    // "every member agrees" is not just "every host agrees".
    const c = await cluster('form', { replication: 2 });
    c.startAll();

    const groups = await c.waitFor('every group to have a leader its members agree on', async () => {
      const st = await c.statuses();
      if ([...st.values()].some((s) => s === null)) return null;
      const ids = [...new Set([...st.values()].flatMap((s) => s!.groups.map((g) => g.group)))].sort((a, b) => a - b);
      const found = new Map<number, Leadership & { voters: number[] }>();
      for (const group of ids) {
        // The members are the hosts that have the group; they must be exactly its voters.
        const members = c.ids.filter((id) => groupOf(st.get(id), group) !== undefined);
        const voters = [...groupOf(st.get(members[0]!), group)!.voters].sort((a, b) => a - b);
        if (voters.join() !== members.join()) return null;
        const l = agreedLeader(st, group, members);
        if (l === null) return null;
        found.set(group, { ...l, voters });
      }
      return found;
    });

    assert.equal([...groups.keys()], [0, 1, 2], 'the registry and two companies');
    assert.equal(groups.get(0)!.voters, [1, 2, 3], 'every host votes in the registry');
    assert.equal(groups.get(1)!.voters, [1, 2]);
    assert.equal(groups.get(2)!.voters, [1, 3]);
    for (const [group, g] of groups) assert.ok(g.voters.includes(g.leader), `group ${group}'s leader ${g.leader} is one of its voters`);

    const r = await runCli(['status', '--cluster', c.file, '--json']);
    assert.is(r.code, 0, `gallocy status exit code (stderr: ${r.stderr})`);
    const report = JSON.parse(r.stdout) as StatusReport;
    assert.equal(report.hosts.map((h) => [h.id, h.ok]), [[1, true], [2, true], [3, true]]);
    // The CLI sees the same leaders, unless an election started in between:
    // terms only move on, and no other leader ever appears at a term seen.
    for (const h of report.hosts) {
      for (const g of h.status!.groups) {
        const seen = groups.get(g.group)!;
        const what = `host ${h.id} group ${g.group}: leader ${g.lead} at term ${g.term}, the test saw ${seen.leader} at ${seen.term}`;
        assert.ok(g.term >= seen.term, what);
        if (g.term === seen.term) assert.ok(g.lead === seen.leader || g.lead === 0, what);
      }
    }
  });

  test('counter, 2 threads on each host: every host\'s app is done and verified (the exact total of atomic adds)', async () => {
    const c = await cluster('counter');
    c.startAll({ workload: 'counter', threads: THREADS });
    await c.allVerified('counter');
    const st = await c.statuses();
    for (const id of c.ids) {
      const app = st.get(id)!.app!;
      assert.is(app.threadsDone, THREADS);
      assert.is(app.error, null);
    }
  });

  test('registers, 2 threads on each host, with --history: verified, and the merged history is linearizable', async () => {
    const c = await cluster('registers');
    c.startAll({ workload: 'registers', threads: THREADS, history: true });
    await c.allVerified('registers');

    // A thread sends its records before it counts itself done, so every record is on disk by now.
    const records = c.histories();
    const hosts = c.ids.length;
    assert.is(records.length, hosts * THREADS * REGISTERS_DEFAULTS.opsPerThread, 'one record per op of every thread');
    const addresses = registerAddresses(ROOT_PAGES * PAGE_SIZE - RESERVED_ROOT_BYTES, PAGE_SIZE, REGISTERS_DEFAULTS.words);
    const ops = registerOps(records, addresses);
    assert.ok(ops.some((o) => o.input.kind === 'write') && ops.some((o) => o.input.kind === 'read'), 'reads and writes both');
    const result = checkLinearizable(registerModel, ops);
    assert.is(result.verdict, 'linearizable', `checker: ${JSON.stringify({ ...result, linearizedPrefix: result.linearizedPrefix?.length })}`);
  });

  test('kill -9 a follower, then the leader, of company 1 mid-run: a new leader, the survivors finish, no add a survivor saw is lost', async () => {
    const c = await cluster('kill');
    // Every thread runs the adder app (the built-in counter would be over before the second kill).
    const stopFile = path.join(c.dir, 'stop');
    const adder = writeAdderApp(c.dir, stopFile);
    c.startAll({ app: adder, threads: THREADS });

    // Kill a follower as soon as every host is adding.
    const first = await c.waitFor('company 1 to have a leader and every host to be adding', async () =>
      c.ids.every((id) => c.logEntries(id).some((e) => e['event'] === 'adds')) && agreedLeader(await c.statuses(), 1, c.ids));
    const follower = c.ids.find((id) => id !== first.leader)!;
    await c.kill(follower);
    const killed = new Set([follower]);

    // Back from its data directory, without an app: it only serves (and votes).
    c.start(follower);
    await caughtUp(c, follower);

    // Now the leader: the other two must elect a new one at a higher term.
    const now = await c.leaderOf(1);
    await c.kill(now.leader);
    killed.add(now.leader);
    const others = c.ids.filter((id) => id !== now.leader);
    const next = await c.waitFor('the other two hosts to elect a new leader of company 1', async () => {
      const l = agreedLeader(await c.statuses(others), 1, others);
      return l !== null && l.term > now.term ? l : null;
    });
    assert.ok(others.includes(next.leader));

    // The old leader comes back as a follower and catches up.
    c.start(now.leader);
    const after = await caughtUp(c, now.leader);
    assert.ok(after.term >= next.term, `company 1's term ${after.term} went back from ${next.term}`);
    await c.leaderOf(0);

    // The hosts never killed have been adding all along; now they stop, and
    // their threads end without an error. Their barrier cannot complete (the
    // killed hosts' threads never finish), so "done" is threadsDone, not verified.
    const untouched = c.ids.filter((id) => !killed.has(id));
    assert.ok(untouched.length >= 1);
    writeFileSync(stopFile, '');
    await c.threadsEnded(untouched, THREADS);

    // Every add a never-killed host made returned the word's old value; each
    // thread saw its values rise, and no two adds saw the same value.
    const { olds, problems } = adderOlds(c, untouched, THREADS);
    assert.equal(problems, []);
    assert.ok(olds.length > 0);

    // The final value, read by a one-thread app on a host that was killed and
    // restarted: above every old value a survivor's add saw.
    const readerHost = [...killed].find((id) => id !== after.leader) ?? [...killed][0]!;
    await c.stop(readerHost);
    c.start(readerHost, { app: writeReaderApp(c.dir), threads: 1 });
    const word = await c.waitFor(`host ${readerHost}'s app to log the counter word`, async () =>
      c.logEntries(readerHost).find((e) => e['event'] === 'counter-word'));
    const max = olds[olds.length - 1]!;
    assert.ok((word['value'] as number) > max, `final counter ${String(word['value'])} is above the highest old value a survivor saw, ${max}`);
  });
}

test.run();
