// The shared memory's checkers, fed hand-built bad states, must report them;
// fed good states, must stay quiet.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { AllocatorSafety, Coherence, ObservedWrites, registerHistory, SingleWriter, TableAgreement } from '../../src/sim/check/dsm.js';
import { violationOf } from './violation-of.js';
import type { Access } from '../../src/sim/threads.js';


let seq = 0;
function access(host: number, kind: Access['kind'], addr: number, value: number, stored = value, at = seq * 10): Access {
  seq++;
  return { host, thread: host * 10, kind, addr, page: Math.floor(addr / 256), value, stored, seq, call: at, ret: at + 5 };
}

test('single writer: two writers, or a reader beside a writer, are reported; readers together are fine', () => {
  const sw = new SingleWriter(() => true);
  sw.changed(1, 7, 'read');
  assert.is(violationOf(() => sw.changed(2, 7, 'read')), null);
  assert.is(violationOf(() => sw.changed(3, 7, 'write')), 'single-writer');
  const sw2 = new SingleWriter(() => true);
  sw2.changed(1, 7, 'write');
  assert.is(violationOf(() => sw2.changed(2, 7, 'read')), 'single-writer');
  const sw3 = new SingleWriter(() => true);
  sw3.changed(1, 7, 'write');
  sw3.changed(1, 7, 'none');
  assert.is(violationOf(() => sw3.changed(2, 7, 'write')), null, 'after the first closed it, the page may move');
});

test('single writer: a paused host is judged when it resumes', () => {
  let paused = true;
  const sw = new SingleWriter((h) => !(h === 1 && paused));
  sw.changed(1, 3, 'write');
  assert.is(violationOf(() => sw.changed(2, 3, 'write')), null, 'a paused host cannot touch memory');
  paused = false;
  assert.is(violationOf(() => sw.resumed(1)), 'single-writer');
});

test('observed writes: reading a value whose writer had an earlier write not yet durable is reported', () => {
  const ow = new ObservedWrites();
  const first = access(1, 'write', 0, 101);    // page 0
  const second = access(1, 'write', 512, 102); // page 2, later
  ow.wrote(first, true);
  ow.wrote(second, true);
  assert.is(violationOf(() => ow.read(2, 102)), 'observed-write-durable');
  ow.durable(1, 0, first.seq);
  assert.is(violationOf(() => ow.read(2, 102)), null, 'once the earlier write is durable the read is fine');
  assert.is(violationOf(() => ow.read(1, 102)), null, 'the writer may read its own writes');
});

test('observed writes: lost writes stay lost even after later durable write-backs', () => {
  const ow = new ObservedWrites();
  const w1 = access(1, 'write', 0, 201);
  ow.wrote(w1, true);
  ow.lose(1, 0);
  const w2 = access(1, 'write', 0, 202);
  ow.wrote(w2, true);
  ow.durable(1, 0, w2.seq);
  assert.is(ow.lostAfter(1, 0), w1.seq);
  const ops = registerHistory([w1, w2], ow);
  assert.is(ops[0]!.ret, Infinity, 'a lost write is indeterminate');
});

test('allocator safety: overlapping blocks and blocks in the root region are reported', () => {
  const a = new AllocatorSafety(1024);
  a.allocated(1, 2048, 64);
  assert.is(violationOf(() => a.allocated(2, 2048 + 32, 16)), 'allocator-safety');
  assert.is(violationOf(() => a.allocated(2, 512, 16)), 'allocator-safety');
  a.freed(2048);
  assert.is(violationOf(() => a.allocated(2, 2048 + 32, 16)), null, 'after the free the bytes may be handed out again');
});

test('coherence: a read of anything but the last value written is reported', () => {
  const c = new Coherence();
  c.access(access(1, 'write', 4, 7));
  assert.is(violationOf(() => c.access(access(2, 'read', 4, 7))), null);
  assert.is(violationOf(() => c.access(access(2, 'read', 4, 6))), 'coherence');
  assert.is(violationOf(() => c.access(access(2, 'read', 8, 0))), null, 'never written reads as 0');
  c.access(access(1, 'add', 4, 7, 8));
  assert.is(violationOf(() => c.access(access(2, 'read', 4, 7))), 'coherence', 'an add changed the word');
  c.lost(0);
  assert.is(violationOf(() => c.access(access(2, 'read', 4, 7))), null, 'after lost writes the page is unknown');
  c.reset(0, 1);
  assert.is(violationOf(() => c.access(access(2, 'read', 4, 5))), 'coherence', 'a new allocation reads as zeros');
});

test('page-table agreement: different tables at one applied index are reported', () => {
  const t = new TableAgreement();
  t.record(1, 64, 'aaaa', 1);
  assert.is(violationOf(() => t.record(1, 64, 'aaaa', 2)), null);
  assert.is(violationOf(() => t.record(1, 64, 'bbbb', 3)), 'page-table-agreement');
  assert.is(violationOf(() => t.record(2, 64, 'bbbb', 3)), null, 'another company');
});

test.run();
