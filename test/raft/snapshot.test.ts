import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Cluster } from './harness.js';

function lagging(): Cluster {
  const c = new Cluster([1, 2, 3], { seed: 8 });
  c.elect(1);
  c.isolate(3);
  for (let i = 0; i < 20; i++) c.propose(1, `v${i}`);
  c.tickAll(1);
  c.compact(1);
  c.compact(2);
  return c;
}

test('compact drops applied entries and keeps a snapshot', () => {
  const c = lagging();
  const s = c.node(1).status();
  assert.is(s.snapshotIndex, 21);
  assert.is(s.firstIndex, 22);
  assert.is(c.node(1).termAt(21), 1);
  assert.is(c.node(1).termAt(20), null);
  assert.equal(c.node(1).entriesFrom(1, 100), []);
  assert.equal(c.node(1).lastSnapshot()!.conf, { voters: [1, 2, 3], learners: [] });
});

test('a lagging follower catches up by snapshot and its log is reset', () => {
  const c = lagging();
  c.propose(1, 'after');
  c.heal();
  const before = c.sent.length;
  c.tickAll(3);
  assert.ok(c.sent.slice(before).some((m) => m.type === 'snap' && m.to === 3), 'snapshot sent');
  const s3 = c.node(3).status();
  assert.is(s3.snapshotIndex, 21);
  assert.is(s3.commit, 22);
  assert.equal(c.sm.get(3), c.sm.get(1));
  assert.is(c.disks.get(3)!.snapshot!.index, 21);
  assert.equal(c.disks.get(3)!.entries.map((e) => e.index), [22]);
  assert.equal(c.violations, []);
});

test('a lost snapshot is sent again', () => {
  const c = lagging();
  c.heal();
  c.node(1).tick();
  c.stabilize((m) => m.type !== 'snap'); // every snapshot in this round is lost
  assert.is(c.node(3).status().snapshotIndex, 0);
  c.tickAll(30);
  assert.is(c.node(3).status().snapshotIndex, 21);
  assert.equal(c.sm.get(3), c.sm.get(1));
});

test('a restarted node boots from its snapshot plus later entries', () => {
  const c = lagging();
  c.propose(1, 'x');
  c.crash(1);
  c.restart(1);
  const s = c.node(1).status();
  assert.is(s.snapshotIndex, 21);
  assert.is(s.lastIndex, 22);
  assert.is(s.applied, 21);
  c.tickAll(40);
  assert.is(c.leadersNow().length, 1);
  assert.ok(c.sm.get(1)!.includes('x'));
  assert.equal(c.violations, []);
});

test('a snapshot older than the commit index is ignored', () => {
  const c = lagging();
  const snap = c.node(1).lastSnapshot()!;
  const before = c.node(2).status();
  c.node(2).step({ type: 'snap', from: 1, to: 2, term: 1, logTerm: 0, index: 0, entries: [], commit: 0, reject: false, rejectHint: 0, snapshot: { ...snap, index: 5, term: 1 }, transfer: false });
  assert.is(c.node(2).status().lastIndex, before.lastIndex);
  assert.is(c.node(2).status().snapshotIndex, before.snapshotIndex);
});

test.run();
