// The shared memory's checkers, fed hand-built bad states, must report them;
// fed good states, must stay quiet.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { AllocatorSafety, Coherence, CommittedTable, ObservedWrites, registerHistory, SingleWriter, TableAgreement } from '../../src/sim/check/dsm.js';
import type { HolderView } from '../../src/sim/check/dsm.js';
import type { CompanyApplied } from '../../src/vmm/company.js';
import type { PageCommand } from '../../src/vmm/page-table-commands.js';
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

/** Host 2 at local time `now`, holding page 5 under the lease granted in term 1 at 100 us until `expires`; page 5 open or not; run `runs` live in its heap. */
function committed(now: number, expires: number, open: boolean, runs: string[] = []): { t: CommittedTable; apply: (cmd: PageCommand, ok?: boolean) => void } {
  const view: HolderView = {
    now: () => now,
    held: (page) => (page === 5 ? { lease: { term: 1, grantedAtUs: 100 }, expires } : undefined),
    isOpen: (page) => page === 5 && open,
    ownsRun: (id) => runs.includes(id),
  };
  const t = new CommittedTable((h) => (h === 2 ? view : null));
  let index = 0;
  const apply = (cmd: PageCommand, ok = true): void => {
    const firstPage = cmd.op === 'allocate' ? (cmd.id === 'l:2:1' || cmd.id === 'l:3:1' ? 8 : 12) : cmd.op === 'free' ? cmd.firstPage : undefined;
    const a: CompanyApplied = { company: 1, index: ++index, pid: 'p', cmd, result: ok ? { ok: true, ...(firstPage !== undefined ? { firstPage } : {}) } : { ok: false, error: 'conflict', detail: '' } };
    t.applied(a);
  };
  return { t, apply };
}

const lease = { term: 1, grantedAtUs: 100 };

test('committed table: an expire of a lease still running on its holder\'s clock is reported; one past its end, or of another lease, is not', () => {
  assert.is(violationOf(() => committed(900, 1000, false).apply({ op: 'expire', page: 5, host: 2, lease })), 'lease-waited-out');
  assert.is(violationOf(() => committed(1000, 1000, false).apply({ op: 'expire', page: 5, host: 2, lease })), null);
  assert.is(violationOf(() => committed(900, 1000, false).apply({ op: 'expire', page: 5, host: 2, lease: { term: 1, grantedAtUs: 50 } })), null, 'an older lease of the host');
  assert.is(violationOf(() => committed(900, 1000, false).apply({ op: 'expire', page: 5, host: 2, lease }, false)), null, 'refused: nothing expired');
});

test('committed table: a revoke or give-back while the holder has the page open is reported; a write-back that keeps the lease is not', () => {
  assert.is(violationOf(() => committed(0, 1000, true).apply({ op: 'revoke', page: 5, host: 2, lease })), 'lease-dropped-open');
  const release = (keep: 'write' | null): PageCommand => ({ op: 'release', page: 5, host: 2, version: 3, hash: '0000000000000000', data: '', keep, lease });
  assert.is(violationOf(() => committed(0, 1000, true).apply(release(null))), 'lease-dropped-open');
  assert.is(violationOf(() => committed(0, 1000, true).apply(release('write'))), null);
  assert.is(violationOf(() => committed(0, 1000, false).apply(release(null))), null, 'closed first: fine');
});

test('committed table: runs that overlap, a free of a run not live there, or of one its owner still uses, are reported', () => {
  const a = committed(0, 0, false);
  a.apply({ op: 'allocate', company: 1, id: 'l:2:1', pages: 2, owner: 2 });
  a.apply({ op: 'allocate', company: 1, id: 'l:2:1', pages: 2, owner: 2 }); // a retried allocate answers the same run
  assert.is(violationOf(() => a.apply({ op: 'allocate', company: 1, id: 'l:3:1', pages: 2, owner: 3 })), 'page-runs', 'l:3:1 at page 8 too');
  const b = committed(0, 0, false);
  b.apply({ op: 'allocate', company: 1, id: 'l:2:1', pages: 2, owner: 2 });
  b.apply({ op: 'free', company: 1, firstPage: 8, by: 2, id: 'l:2:1' });
  assert.is(violationOf(() => b.apply({ op: 'free', company: 1, firstPage: 8, by: 2, id: 'l:2:1' })), 'page-runs', 'freed twice');
  const c = committed(0, 0, false, ['l:2:1']);
  c.apply({ op: 'allocate', company: 1, id: 'l:2:1', pages: 2, owner: 2 });
  assert.is(violationOf(() => c.apply({ op: 'free', company: 1, firstPage: 8, by: 2, id: 'l:2:1' })), 'page-runs', 'its owner still uses it');
});

test.run();
