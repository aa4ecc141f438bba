// Real mode's smallest clusters, end to end: one host alone, and three hosts
// that each own a company alone (replication 1). Their company groups have a
// single voter: the store persists inside the Ready loop, so a proposal is
// committed and applied before propose() returns, and no message is needed.
//
// Needs the native page-fault shim (native/build/libgallocy_shim.so); without
// it the file reports one test saying it was skipped and why.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { RESERVED_ROOT_BYTES } from '../../src/real/app-threads.js';
import { nativeAvailable } from '../../src/real/native-memory.js';
import { checkLinearizable } from '../../src/check/linearizability.js';
import { registerModel } from '../../src/check/register-model.js';
import { REGISTERS_DEFAULTS, registerAddresses } from '../../src/vmm/workloads/index.js';
import { groupOf, PAGE_SIZE, registerOps, ROOT_PAGES, TestCluster, watchdog } from './cluster-harness.js';
import type { HostRun } from './cluster-harness.js';

watchdog('small-clusters.test', 240_000);

const availability = nativeAvailable();
const THREADS = 2;
const clusters: TestCluster[] = [];

test.after.each(async () => {
  await Promise.all(clusters.splice(0).map((c) => c.cleanup()));
});

/**
 * Six pages for three hosts of replication 1: three companies of two pages, so the
 * root region (pages 0-3) and the registers in it span companies 1 and 2, served
 * by hosts 1 and 2.
 */
const SPREAD_PAGES = 6;

/** Starts a cluster running `run` on every host and waits until every host's app is done and verified. */
async function verified(name: string, hosts: number, replication: number, run: HostRun, pages?: number): Promise<TestCluster> {
  const c = await TestCluster.create({ name, hosts, replication, ...(pages !== undefined ? { pages } : {}) });
  clusters.push(c);
  c.startAll({ threads: THREADS, ...run });
  await c.allVerified(run.workload ?? 'default');
  return c;
}

/** The merged registers history of every host is linearizable, one record per op. */
function assertLinearizable(c: TestCluster): void {
  const records = c.histories();
  assert.is(records.length, c.ids.length * THREADS * REGISTERS_DEFAULTS.opsPerThread, 'one record per op of every thread');
  const addresses = registerAddresses(ROOT_PAGES * PAGE_SIZE - RESERVED_ROOT_BYTES, PAGE_SIZE, REGISTERS_DEFAULTS.words);
  const result = checkLinearizable(registerModel, registerOps(records, addresses));
  assert.is(result.verdict, 'linearizable', `checker: ${JSON.stringify({ ...result, linearizedPrefix: result.linearizedPrefix?.length })}`);
}

if (!availability.ok) {
  console.log(`small-clusters.test: skipped: real mode unavailable: ${availability.reason}`);
  test(`small clusters (skipped: real mode unavailable: ${availability.reason})`, () => {});
} else {
  test('one host: counter verified (the exact total); the host is each group\'s only voter, and leads it', async () => {
    const c = await verified('single-counter', 1, 1, { workload: 'counter' });
    const st = await c.status(1);
    assert.equal(st!.groups.map((g) => [g.group, g.voters]), [[0, [1]], [1, [1]]]);
    assert.is(st!.app!.threadsDone, THREADS);
    assert.is(st!.app!.error, null);
    // The registry, which no access needs, may not have timed out into its first election yet.
    for (const group of [0, 1]) assert.is((await c.leaderOf(group, [1])).leader, 1, `group ${group}'s leader`);
  });

  test('one host: registers verified, and the history is linearizable', async () => {
    assertLinearizable(await verified('single-registers', 1, 1, { workload: 'registers', history: true }));
  });

  test('three hosts, replication 1: counter verified on every host; each company is led by its one owner', async () => {
    const c = await verified('rep1-counter', 3, 1, { workload: 'counter' }, SPREAD_PAGES);
    const st = await c.statuses();
    for (const id of c.ids) {
      assert.equal(groupOf(st.get(id), 0)?.voters, [1, 2, 3], `host ${id}: every host votes in the registry`);
      assert.equal(groupOf(st.get(id), id)?.voters, [id], `host ${id} alone owns company ${id}`);
      assert.is(st.get(id)!.app!.threadsDone, THREADS);
      // A company no thread used may not have timed out into its first election yet.
      assert.is((await c.leaderOf(id, [id])).leader, id, `company ${id}'s leader`);
    }
  });

  test('three hosts, replication 1: registers verified, and the merged history is linearizable', async () => {
    assertLinearizable(await verified('rep1-registers', 3, 1, { workload: 'registers', history: true }, SPREAD_PAGES));
  });
}

test.run();
