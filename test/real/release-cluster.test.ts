// Lazy release consistency on three real hosts (separate `gallocy serve`
// processes on 127.0.0.1, `coherence: release` in the cluster file): threads on
// every host write their own copies of shared pages at once, each release
// commits its diffs in the pages' companies and publishes write notices with
// the lock, and an acquire fetches what the notices name. false-sharing
// (threads writing different words of the same pages, one lock each group)
// and locked-list (a hash table built with malloc across hosts, a lock per
// bucket) must verify exactly on every host. Leases are generous (3 s) so a
// loaded machine's scheduling pauses never end a holding; nothing is timed.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { nativeAvailable } from '../../src/real/native-memory.js';
import { TestCluster, watchdog } from './cluster-harness.js';

watchdog('release-cluster.test', 300_000);

const availability = nativeAvailable();
const clusters: TestCluster[] = [];

test.after.each(async () => {
  await Promise.all(clusters.splice(0).map((c) => c.cleanup()));
});

async function verifiedEverywhere(c: TestCluster, what: string, threads: number): Promise<void> {
  await c.allVerified(what);
  const st = await c.statuses();
  for (const id of c.ids) {
    const app = st.get(id)!.app!;
    assert.is(app.threadsDone, threads, `host ${id}`);
    assert.is(app.error, null, `host ${id}`);
  }
}

if (!availability.ok) {
  test(`release consistency on three hosts (skipped: real mode unavailable: ${availability.reason})`, () => {});
} else {
  for (const [workload, args] of [
    ['false-sharing', ['--option', 'rounds=10', '--option', 'threadsPerLock=3', '--option', 'computeUs=2000']],
    ['locked-list', ['--option', 'inserts=12', '--option', 'buckets=2', '--option', 'removeEvery=3', '--option', 'computeUs=2000']],
  ] as const) {
    test(`${workload} under coherence: release, 2 threads on each of 3 hosts: verified on every host`, async () => {
      const c = await TestCluster.create({ name: `release-${workload}`, coherence: 'release', leases: { leaseMs: 3000 } });
      clusters.push(c);
      c.startAll({ workload, threads: 2, args: [...args] });
      await verifiedEverywhere(c, workload, 2);
    });
  }
}

test.run();
