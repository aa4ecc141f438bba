// The page table's lock and barrier commands: each field validated, holdings
// numbered and fenced by their token, expiry only of the lease waited out,
// barrier episodes opened by their last arrival, and all of it in snapshots
// and in the company's hash.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { type ApplyResult, type PageCommand, PageTable, validateCommand } from '../../src/vmm/page-table.js';
import { MAX_PUBLISHED_LENGTH } from '../../src/vmm/page-table-commands.js';
import { companyOfSync } from '../../src/vmm/sync/placement.js';
import { planCompanies } from '../../src/vmm/placement.js';

function table(): PageTable {
  const t = new PageTable({ pageSize: 64 });
  ok(t.apply({ op: 'create-company', company: 1, firstPage: 0, pages: 8 }));
  return t;
}

function ok(r: ApplyResult): ApplyResult & { ok: true } {
  if (!r.ok) assert.unreachable(`expected ok, got ${r.error}: ${r.detail}`);
  return r as ApplyResult & { ok: true };
}

function err(r: ApplyResult, error: string): void {
  if (r.ok) assert.unreachable(`expected ${error}, got ok`);
  else assert.is(r.error, error, r.detail);
}

const acquire = (id: number, host: number, thread: number, token = 0, grantedAtUs = 10): PageCommand =>
  ({ op: 'lock-acquire', company: 1, id, host, thread, token, term: 1, leaseUs: 1000, grantedAtUs });
const release = (id: number, host: number, thread: number, token: number, published: string | null = null): PageCommand =>
  ({ op: 'lock-release', company: 1, id, host, thread, token, published });
const record = (host: number, incarnation: number, seq: number, published: string): PageCommand =>
  ({ op: 'host-record', company: 1, host, incarnation, seq, published });
const arrive = (name: number, parties: number, episode: number, host: number, thread: number, published: string | null = null): PageCommand =>
  ({ op: 'barrier-arrive', company: 1, name, parties, episode, host, thread, published });

test('lock commands are validated field by field, naming the field', () => {
  const good = acquire(7, 2, 3);
  assert.equal(validateCommand({ ...good, extra: 1 }), good, 'extra fields are shed');
  const cases: [object, string][] = [
    [{ ...good, id: -1 }, "lock-acquire: field 'id' must be an integer in [0, 4294967295], got -1"],
    [{ ...good, id: 2 ** 32 }, "field 'id'"],
    [{ ...good, thread: 1.5 }, "field 'thread'"],
    [{ ...good, company: undefined }, "field 'company' must be a non-negative integer, got missing"],
    [{ ...good, grantedAtUs: 'x' }, "field 'grantedAtUs'"],
    [{ ...release(1, 1, 1, 1), token: 0 }, "lock-release: field 'token' must be a positive integer"],
    [{ ...release(1, 1, 1, 1), published: 5 }, "field 'published' must be null or a string"],
    [{ ...release(1, 1, 1, 1), published: 'x'.repeat(MAX_PUBLISHED_LENGTH + 1) }, "field 'published'"],
    [{ op: 'lock-expire', company: 1, id: 1, host: 1, thread: 0, token: 1 }, "lock-expire: field 'grantedAtUs'"],
    [{ ...record(1, 1, 1, 'r'), seq: 0 }, "host-record: field 'seq' must be a positive integer"],
    [{ ...record(1, 1, 1, 'r'), host: 0 }, "host-record: field 'host' must be a positive integer"],
    [{ ...record(1, 1, 1, 'r'), published: null }, "host-record: field 'published' must be a string"],
    [{ ...arrive(1, 3, 0, 1, 0), parties: 0 }, "barrier-arrive: field 'parties' must be a positive integer"],
    [{ ...arrive(1, 3, 0, 1, 0), parties: 2 ** 20 }, "field 'parties' must be at most"],
    [{ ...arrive(1, 3, 0, 1, 0), name: 'a' }, "barrier-arrive: field 'name'"],
    [{ ...arrive(1, 3, 0, 1, 0), episode: -1 }, "field 'episode'"],
  ];
  for (const [cmd, message] of cases) {
    const v = validateCommand(cmd);
    assert.ok('error' in v && v.error.includes(message), `${JSON.stringify(cmd).slice(0, 80)}: ${JSON.stringify(v).slice(0, 200)}`);
    err(table().apply(cmd as PageCommand), 'bad-command');
  }
});

test('a lock is held by one thread at a time; holdings are numbered and fenced by their token', () => {
  const t = table();
  assert.is(ok(t.apply(acquire(5, 2, 0))).token, 1);
  err(t.apply(acquire(5, 3, 0)), 'conflict');
  err(t.apply(acquire(5, 2, 1)), 'conflict'); // another thread of the same host
  // The holder renews with its token: same holding, new time.
  assert.is(ok(t.apply(acquire(5, 2, 0, 1, 99))).token, 1);
  assert.is(t.lock(5)?.grantedAtUs, 99);
  err(t.apply(acquire(5, 2, 0, 2)), 'not-holder'); // a token it never had
  err(t.apply(release(5, 3, 0, 1)), 'not-holder');
  ok(t.apply(release(5, 2, 0, 1, 'record-1')));
  err(t.apply(release(5, 2, 0, 1)), 'not-holder'); // a retry of a release done
  err(t.apply(acquire(5, 2, 0, 1)), 'not-holder'); // a renewal after the release
  assert.equal(t.lock(5), { id: 5, company: 1, host: 0, thread: 0, term: 1, leaseUs: 1000, grantedAtUs: 99, grants: 1, published: 'record-1', lapsed: false, lapsedHosts: [] });
  assert.is(ok(t.apply(acquire(5, 3, 0))).token, 2);
  assert.is(t.lock(5)?.published, 'record-1', 'the last release\'s record stays with the lock');
  err(t.apply({ ...acquire(6, 1, 0), company: 2 } as PageCommand), 'unknown-company');
});

test('expire frees only the lease the manager waited out, not one renewed since; the next holding is told it lapsed', () => {
  const t = table();
  ok(t.apply(acquire(1, 2, 0, 0, 10)));
  ok(t.apply(acquire(1, 2, 0, 1, 20)));
  err(t.apply({ op: 'lock-expire', company: 1, id: 1, host: 2, thread: 0, token: 1, grantedAtUs: 10 }), 'conflict');
  ok(t.apply({ op: 'lock-expire', company: 1, id: 1, host: 2, thread: 0, token: 1, grantedAtUs: 20 }));
  assert.is(t.lock(1)?.host, 0);
  assert.is(t.lock(1)?.lapsed, true);
  err(t.apply({ op: 'lock-expire', company: 1, id: 1, host: 2, thread: 0, token: 1, grantedAtUs: 20 }), 'not-holder');
  err(t.apply(release(1, 2, 0, 1, 'late')), 'not-holder'); // the waited-out holder's release comes too late
  assert.is(t.lock(1)?.published, null, 'a release that did not commit publishes nothing');
  // The next holding still says so (its renewals keep it); its own release clears it.
  assert.is(ok(t.apply(acquire(1, 3, 0))).token, 2);
  assert.is(ok(t.apply(acquire(1, 3, 0, 2, 30))).token, 2);
  assert.is(t.lock(1)?.lapsed, true);
  ok(t.apply(release(1, 3, 0, 2, 'record-2')));
  assert.equal([t.lock(1)?.lapsed, t.lock(1)?.published], [false, 'record-2']);
});

test('every lapse since the last release names its host in the lock\'s row, once and ascending; a release clears them', () => {
  const t = table();
  ok(t.apply(acquire(1, 3, 0, 0, 10)));
  ok(t.apply({ op: 'lock-expire', company: 1, id: 1, host: 3, thread: 0, token: 1, grantedAtUs: 10 }));
  ok(t.apply(acquire(1, 2, 0, 0, 20)));
  ok(t.apply({ op: 'lock-expire', company: 1, id: 1, host: 2, thread: 0, token: 2, grantedAtUs: 20 }));
  ok(t.apply(acquire(1, 3, 0, 0, 30)));
  ok(t.apply({ op: 'lock-expire', company: 1, id: 1, host: 3, thread: 0, token: 3, grantedAtUs: 30 }));
  assert.equal(t.lock(1)?.lapsedHosts, [2, 3]);
  ok(t.apply(acquire(1, 4, 0)));
  assert.equal(t.lock(1)?.lapsedHosts, [2, 3], 'the holding granted after them is told of both');
  ok(t.apply(release(1, 4, 0, 4, 'r')));
  assert.equal([t.lock(1)?.lapsed, t.lock(1)?.lapsedHosts], [false, []]);
});

test('a lapse names its host in the lock\'s row; a host\'s records keep the newest per incarnation, in snapshots and the company hash', () => {
  const t = table();
  ok(t.apply(acquire(1, 2, 0, 0, 10)));
  ok(t.apply({ op: 'lock-expire', company: 1, id: 1, host: 2, thread: 0, token: 1, grantedAtUs: 10 }));
  assert.equal([t.lock(1)?.lapsed, t.lock(1)?.lapsedHosts], [true, [2]]);
  ok(t.apply(acquire(1, 3, 0)));
  assert.equal(t.lock(1)?.lapsedHosts, [2], 'the next holding is granted knowing whose holding lapsed');
  ok(t.apply(release(1, 3, 0, 2, 'r')));
  assert.equal([t.lock(1)?.lapsed, t.lock(1)?.lapsedHosts], [false, []]);
  const h0 = t.hash(1);
  ok(t.apply(record(2, 1, 2, 'second')));
  ok(t.apply(record(2, 1, 1, 'first, retried late')));
  ok(t.apply(record(2, 2, 1, 'after a restart')));
  ok(t.apply(record(4, 1, 1, 'another host')));
  assert.equal(t.hostRecords(2).map((r) => [r.incarnation, r.seq, r.published]), [[1, 2, 'second'], [2, 1, 'after a restart']]);
  assert.not.equal(t.hash(1), h0);
  const back = PageTable.restore(t.snapshot(), { pageSize: 64 });
  assert.equal(back.hostRecords(2), t.hostRecords(2));
  assert.is(back.hash(1), t.hash(1));
  err(t.apply({ ...record(2, 1, 3, 'x'), company: 2 } as PageCommand), 'unknown-company');
  ok(t.apply({ op: 'drop-company', company: 1 }));
  assert.equal(t.hostRecords(2), []);
});

test('a barrier episode opens at its last arrival; repeats are answered as before; records are kept one episode', () => {
  const t = table();
  assert.is(ok(t.apply(arrive(9, 3, 0, 1, 0, 'a'))).opened, false);
  assert.is(ok(t.apply(arrive(9, 3, 0, 1, 0, 'a'))).opened, false, 'a repeat is not a second arrival');
  err(t.apply(arrive(9, 2, 0, 2, 0)), 'conflict'); // another number of parties
  err(t.apply(arrive(9, 3, 1, 2, 0)), 'conflict'); // an episode not open yet
  ok(t.apply(arrive(9, 3, 0, 2, 0, null)));
  assert.is(ok(t.apply(arrive(9, 3, 0, 3, 1, 'c'))).opened, true);
  assert.is(t.barrier(9)?.episode, 1);
  assert.equal(t.arrivals(9, 0).map((a) => [a.host, a.n, a.published]), [[1, 0, 'a'], [2, 1, null], [3, 2, 'c']]);
  assert.is(ok(t.apply(arrive(9, 3, 0, 1, 0))).opened, true, 'a party asking again after it opened hears it opened');
  for (const h of [1, 2, 3]) ok(t.apply(arrive(9, 3, 1, h, 0)));
  assert.is(t.barrier(9)?.episode, 2);
  assert.equal(t.arrivals(9, 0), [], 'episode 0 is gone once episode 1 opened');
  assert.is(t.arrivals(9, 1).length, 3);
  err(t.apply(arrive(9, 3, 0, 1, 0)), 'conflict'); // long past
});

test('locks and barriers are in snapshots and in the company hash; drop-company removes them', () => {
  const a = table();
  ok(a.apply(acquire(3, 2, 1)));
  ok(a.apply(arrive(4, 2, 0, 2, 1, 'r')));
  const h = a.hash(1);
  const b = PageTable.restore(a.snapshot(), { pageSize: 64 });
  assert.equal(b.dump(), a.dump());
  assert.is(b.hash(1), h);
  ok(b.apply(release(3, 2, 1, 1)));
  assert.is.not(b.hash(1), h, 'a release changes the hash');
  ok(b.apply({ op: 'drop-company', company: 1 }));
  assert.equal([b.dump().locks, b.dump().barriers, b.dump().arrivals], [[], [], []]);
});

test('sync objects spread over the companies by number, locks and barriers apart', () => {
  const plans = planCompanies({ pages: 64, owners: [1, 2, 3, 4, 5, 6], replication: 2 });
  assert.equal([0, 1, 2, 3].map((n) => companyOfSync(plans, 'lock', n).company), [1, 2, 3, 1]);
  assert.equal([0, 1, 2].map((n) => companyOfSync(plans, 'barrier', n).company), [2, 3, 1]);
});

test.run();
