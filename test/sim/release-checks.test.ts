// The release checks' bookkeeping of lock releases: a release asked for but
// never committed leaves its section cut off (the lock passed on by its lease),
// and only the lock's latest holding's release says otherwise. A replica that
// catches up applies the same thread's older releases late: those must not
// make the last one look committed.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ReleaseChecks } from '../../src/sim/check/release.js';
import type { Access } from '../../src/sim/threads.js';

let seq = 0;
const access = (host: number, thread: number, kind: Access['kind'], value: number, at: number): Access =>
  ({ host, thread, kind, addr: 4, page: 0, value, stored: value, seq: ++seq, call: at, ret: at });

/** Thread 1 (host 1) writes 5 then 7 under lock 1 in two holdings; the first release commits. */
function twoSections(): ReleaseChecks {
  const c = new ReleaseChecks();
  c.synced({ kind: 'lock-acquired', host: 1, thread: 1, id: 1, at: 10 });
  c.accessed(access(1, 1, 'write', 5, 11));
  c.synced({ kind: 'lock-released', host: 1, thread: 1, id: 1, at: 12 });
  c.releaseCommitted(1, 1, 1);
  c.synced({ kind: 'lock-acquired', host: 1, thread: 1, id: 1, at: 20 });
  c.accessed(access(1, 1, 'write', 7, 21));
  c.synced({ kind: 'lock-released', host: 1, thread: 1, id: 1, at: 22 });
  return c;
}

/** The second release never commits; thread 2 (host 2) then reads 5. */
function run(lateReplay: boolean): void {
  const c = twoSections();
  // Holding 2's release never commits; a replica behind applies holding 1's now.
  if (lateReplay) c.releaseCommitted(1, 1, 1);
  c.synced({ kind: 'lock-acquired', host: 2, thread: 2, id: 1, at: 40 });
  c.accessed(access(2, 2, 'read', 5, 41));
}

test('a lock passed on by its lease: the read of the last committed section\'s write is allowed, even after a late replay of an older release', () => {
  run(false);
  run(true);
});

test('a committed release is taken as committed: then the same read is stale', () => {
  const c = twoSections();
  c.releaseCommitted(1, 1, 2);
  c.synced({ kind: 'lock-acquired', host: 2, thread: 2, id: 1, at: 40 });
  assert.throws(() => c.accessed(access(2, 2, 'read', 5, 41)), /sequential consistency allows only 7/);
});

test.run();
