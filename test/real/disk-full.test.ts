// A full disk stops the host with a message naming the data directory and
// what it was writing, and loses nothing (issue 11). One real host keeps its
// data on a 1 MiB tmpfs and runs a counter over four pages, so every add
// after the first writes a page back through Raft (a host holds one dirty
// page at a time) until SQLite finds no room. The host must exit by itself
// with code 5 and log `disk-full`; once the tmpfs is grown, the same data
// directory must open, with every commit the host had reported still there.
//
// Needs root (mount) and the native shim; else skipped, saying why.
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { nativeAvailable } from '../../src/real/native-memory.js';
import { groupOf, onExit, TestCluster, WAIT_MS, watchdog } from './cluster-harness.js';

watchdog('disk-full.test', 300_000);

function mount(dir: string, size: string, remount = false): string | null {
  const args = remount ? ['-o', `remount,size=${size}`, dir] : ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir];
  const r = spawnSync('mount', args, { encoding: 'utf8' });
  return r.status === 0 ? null : (r.stderr?.trim() || r.error?.message || `exit ${r.status}`);
}

const native = nativeAvailable();
const why = !native.ok ? `real mode unavailable: ${native.reason}` : process.getuid?.() !== 0 ? 'not root (mount needs it)' : null;

if (why !== null) {
  console.log(`disk-full.test: skipped: ${why}`);
  test(`disk full (skipped: ${why})`, () => {});
} else {
  test('a full disk: exit 5 with the directory and what was being written; after more room, every reported commit is there', async () => {
    const c = await TestCluster.create({ name: 'diskfull', hosts: 1, dataDir: './small' });
    const small = path.join(c.dir, 'small');
    mkdirSync(small);
    const failed = mount(small, '1m');
    if (failed !== null) {
      console.log(`disk-full.test: skipped: mount failed: ${failed}`);
      await c.cleanup();
      return;
    }
    onExit(() => spawnSync('umount', ['-l', small]));
    try {
      // Far more operations than 1 MiB can log: the run must not finish (and verify) before the disk fills.
      c.start(1, { workload: 'counter', threads: 2, args: ['--option', 'counters=4', '--ops', '100000000'] });
      const exit = c.exited(1);
      let reported = 0;
      let ended = false;
      void exit.then(() => (ended = true));
      // The highest commit index of the company the host reported while it ran: all of it was durable.
      while (!ended) {
        const g = groupOf(await c.status(1), 1);
        if (g !== undefined) reported = Math.max(reported, g.commit);
        await new Promise((r) => setTimeout(r, 100));
      }
      const { code } = await exit;
      assert.is(code, 5, await c.report());
      const full = c.logEntries(1).find((e) => e['event'] === 'disk-full');
      assert.ok(full !== undefined, 'a disk-full log line');
      assert.is(full['dir'], path.join(small, 'host-1'));
      assert.match(String(full['writing']), /^Raft group \d+'s .* in raft\.db$/);
      assert.match(String(full['error']), `disk full: the file system of data directory ${path.join(small, 'host-1')} has no room for`);
      assert.ok(!c.logEntries(1).some((e) => e['event'] === 'internal-error'), 'not reported as an internal error');
      assert.ok(reported > 0, 'the host committed something before the disk filled');

      assert.is(mount(small, '64m', true), null);
      c.start(1); // no app: it only opens its store and serves
      const after = await c.waitFor('the host to be back with its company', async () => {
        const g = groupOf(await c.status(1), 1);
        return g !== undefined && g.lead !== 0 ? g : null;
      }, WAIT_MS);
      assert.ok(after.commit >= reported, `commit ${after.commit} after the restart, ${reported} reported before the disk filled`);
    } finally {
      await c.stopAll();
      spawnSync('umount', ['-l', small]);
      await c.cleanup();
    }
  });
}

test.run();
