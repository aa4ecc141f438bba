// Locks cached by the host that last held them (src/vmm/sync/client.ts): its
// threads take turns without a message, another host's ask recalls the lock,
// an idle holding goes back before its lease can run out, and the release
// checks take a lock's releases as published only when its host gives it back.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ReleaseChecks } from '../../src/sim/check/release.js';
import { runSeed } from '../../src/sim/run.js';
import { scenarioSchema } from '../../src/sim/scenario.js';
import type { Scenario } from '../../src/sim/scenario.js';
import type { Access } from '../../src/sim/threads.js';

const falseSharing = (coherence: 'sequential' | 'release', threadsPerLock: number): Scenario => scenarioSchema.parse({
  name: `test-lock-cache-${coherence}`, durationS: 10, hosts: 3,
  dsm: { coherence, heap: { pageSize: 256, pages: 64, rootPages: 2 }, workload: 'false-sharing', workloadOptions: { rounds: 30, threadsPerLock, computeUs: 100 }, threadsPerHost: 2 },
  liveness: { withinS: 8 },
});

for (const coherence of ['sequential', 'release'] as const) {
  test(`${coherence}: a lock only one thread uses is granted once, every later turn is local, and it goes back idle before its lease ends`, () => {
    const r = runSeed(falseSharing(coherence, 1), 1);
    assert.is(r.violation, null, r.violation?.message);
    assert.is(r.stats.verified, 1);
    assert.is(r.stats.locksAcquired, 6 * 30, 'every turn is a lock-acquired event for the checkers');
    assert.is(r.probes['vmm.lock-recalled'], 0, 'nobody else asked');
    // Under release a thread's end commits its record at its host's home and the lock stays cached
    // (SyncClient.endThread); under both models it goes back idle once its thread is done.
    assert.is(r.probes['vmm.lock-idle-returned'], 6, 'each of the 6 locks went back idle once its thread was done');
    assert.is(r.probes['vmm.lock-waited-out'], 0, 'no holding was left to run out');
  });

  test(`${coherence}: a lock threads on every host share is recalled and handed on, and stays exact`, () => {
    const r = runSeed(falseSharing(coherence, 6), 2);
    assert.is(r.violation, null, r.violation?.message);
    assert.is(r.stats.verified, 1);
    assert.ok(r.probes['vmm.lock-recalled']! > 10, `recalls: ${r.probes['vmm.lock-recalled']}`);
    assert.is(r.probes['vmm.lock-waited-out'], 0);
  });
}

test('release: a host\'s last thread end commits its home record in its last diff\'s entry, and a holding given back idle is not renewed too', () => {
  const kinds: Record<string, number> = {};
  const r = runSeed(falseSharing('release', 1), 1, {
    traceSink: (line) => {
      const kind = (JSON.parse(line) as { kind: string }).kind;
      kinds[kind] = (kinds[kind] ?? 0) + 1;
    },
  });
  assert.is(r.violation, null, r.violation?.message);
  assert.is(r.stats.verified, 1);
  assert.is(kinds['diff'], 3, 'each of the 3 hosts ends with one diff, made by its last thread to end for both (intervals are the host\'s)');
  assert.is(kinds['host-record'] ?? 0, 0, 'each diff carried its record home (the only company is every host\'s home)');
  assert.is(kinds['lock-release'], 6, 'each lock went back once');
  assert.is(kinds['lock-lost'] ?? 0, 0, 'no renewal raced a give-back (it would be answered lock-lost)');
});

// The release checks on hand-made histories: thread 1 and 2 on host 1 hand lock 1 over locally.

let seq = 0;
const access = (host: number, thread: number, kind: Access['kind'], value: number, at: number, addr = 4): Access =>
  ({ host, thread, kind, addr, page: 0, value, stored: value, seq: ++seq, call: at, ret: at });

function handoff(): ReleaseChecks {
  const c = new ReleaseChecks();
  c.synced({ kind: 'lock-acquired', host: 1, thread: 1, id: 1, at: 10 });
  c.accessed(access(1, 1, 'write', 5, 11));
  c.synced({ kind: 'lock-released', host: 1, thread: 1, id: 1, at: 12 });
  c.synced({ kind: 'lock-acquired', host: 1, thread: 2, id: 1, at: 13 });
  // Thread 1 goes on past its release; that alone does not publish it (the lock stayed on host 1).
  c.accessed(access(1, 1, 'read', 0, 14, 8));
  c.accessed(access(1, 2, 'read', 5, 15));
  c.synced({ kind: 'lock-released', host: 1, thread: 2, id: 1, at: 16 });
  return c;
}

test('a local handoff orders the sections: the next thread here must read what the last one wrote', () => {
  const c = new ReleaseChecks();
  c.synced({ kind: 'lock-acquired', host: 1, thread: 1, id: 1, at: 10 });
  c.accessed(access(1, 1, 'write', 5, 11));
  c.synced({ kind: 'lock-released', host: 1, thread: 1, id: 1, at: 12 });
  c.synced({ kind: 'lock-acquired', host: 1, thread: 2, id: 1, at: 13 });
  assert.throws(() => c.accessed(access(1, 2, 'read', 0, 14)), /sequential consistency allows only 5/);
});

test('once the host gives the lock back, the next host must read the last write of the holding', () => {
  const c = handoff();
  c.releaseCommitted(1, 2, 1);
  c.synced({ kind: 'lock-acquired', host: 2, thread: 3, id: 1, at: 40 });
  assert.throws(() => c.accessed(access(2, 3, 'read', 0, 41)), /sequential consistency allows only 5/);
});

test('if the lock leaves the host by its lease instead, what its sections wrote is indeterminate, the first one\'s too', () => {
  const c = handoff();
  c.synced({ kind: 'lock-acquired', host: 2, thread: 3, id: 1, at: 40 });
  c.accessed(access(2, 3, 'read', 0, 41));
});

test.run();
