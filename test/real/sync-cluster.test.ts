// Locks and barriers on three real hosts (separate `gallocy serve`
// processes on 127.0.0.1): the locked-list workload builds a hash table with
// malloc on every host, each bucket under a lock that lives in the companies;
// its threads block in their workers (Atomics.wait on the call channel) until
// the host is told their lock is granted. The result must be exact on every
// host, and the hosts' metrics show the lock traffic.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { nativeAvailable } from '../../src/real/native-memory.js';
import { TestCluster, watchdog } from './cluster-harness.js';

watchdog('sync-cluster.test', 240_000);

const availability = nativeAvailable();
const clusters: TestCluster[] = [];

test.after.each(async () => {
  await Promise.all(clusters.splice(0).map((c) => c.cleanup()));
});

if (!availability.ok) {
  test(`locks on three hosts (skipped: real mode unavailable: ${availability.reason})`, () => {});
} else {
  test('locked-list, 2 threads on each of 3 hosts: the lock-protected table is exact on every host', async () => {
    const c = await TestCluster.create({ name: 'locked-list' });
    clusters.push(c);
    c.startAll({ workload: 'locked-list', threads: 2, args: ['--option', 'inserts=15', '--option', 'buckets=2', '--option', 'computeUs=2000'] });
    await c.allVerified('locked-list');
    const st = await c.statuses();
    for (const id of c.ids) {
      const app = st.get(id)!.app!;
      assert.is(app.threadsDone, 2);
      assert.is(app.error, null);
    }
  });
}

test.run();
