// The lock cache's rule for records that cover other locks' sections
// (SyncClient.recordElsewhere): a host that gives a lock back, or arrives at
// a barrier, publishes a record naming its intervals, and so what its
// threads wrote under every lock it keeps. Before such a record goes out,
// the host's home company commits it (host-record); a holder granted one of
// those locks after the host's holding lapsed reads the host's records
// there, so it learns what the lock's own record does not name. The test
// plays the managers (host 9 leads the one company) and the coherence model
// (every release publishes "R<n>").
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { inertFaultPoints } from '../../src/raft/index.js';
import { planCompanies } from '../../src/vmm/placement.js';
import type { SyncReply, VmmMessage } from '../../src/vmm/protocol.js';
import { SyncClient } from '../../src/vmm/sync/client.js';
import type { CoherenceHooks } from '../../src/vmm/sync/hooks.js';
import type { VmmConfig, VmmEnv } from '../../src/vmm/vmm-env.js';

const MANAGER = 9;
const LEASE_US = 1_000_000;

class World {
  now = 0;
  /** Every message sent, and those since the last take(). */
  log: VmmMessage[] = [];
  sent: VmmMessage[] = [];
  lost: [number, number][] = [];
  records = 0;
  /** What afterAcquire was handed, per grant. */
  acquired: string[][] = [];
  readonly client: SyncClient;

  constructor() {
    const plans = planCompanies({ pages: 16, owners: [MANAGER], replication: 1 });
    const cfg: VmmConfig = { host: 1, incarnation: 1, pageSize: 64, pages: 16, rootPages: 1, plans, leaseUs: LEASE_US, driftBoundPpm: 0, retryUs: 100_000, coherence: 'release' };
    const env = {
      memory: null as never, faults: inertFaultPoints,
      now: () => this.now, timer: () => {},
      send: (_to: number, msg: VmmMessage) => {
        this.log.push(msg);
        this.sent.push(msg);
      },
      company: () => null, members: () => [MANAGER], opSeq: () => 0,
      segfault: () => {}, lostWrites: () => {}, lostLock: (id: number, thread: number) => this.lost.push([id, thread]),
    } satisfies VmmEnv;
    const hooks: CoherenceHooks = {
      beforeRelease: (_obj, _thread, done) => done(`R${++this.records}`),
      afterAcquire: (_obj, _thread, published, _lapsed, done) => {
        this.acquired.push([...published]);
        done();
      },
    };
    this.client = new SyncClient(cfg, env, hooks);
  }

  /** The messages sent since the last call, as "type id" and the record carried, if any. */
  take(): string[] {
    const out = this.sent.map((m) => {
      const id = 'id' in m ? ` ${m.id}` : 'name' in m ? ` b${m.name}` : 'seq' in m ? ` #${m.seq}` : '';
      return `${m.t}${id}${'published' in m && typeof m.published === 'string' ? ` ${m.published}` : ''}`;
    });
    this.sent = [];
    return out;
  }

  last(t: VmmMessage['t'], id?: number): Extract<VmmMessage, { req: number }> {
    const m = [...this.log].reverse().find((x) => x.t === t && (id === undefined || ('id' in x && x.id === id)));
    if (m === undefined || !('req' in m)) assert.unreachable(`no ${t} sent`);
    return m as Extract<VmmMessage, { req: number }>;
  }

  reply(msg: SyncReply): void {
    this.client.reply(MANAGER, msg);
  }

  /** Thread `thread` takes lock `id` (granted as holding `token` if it must ask) and, unless `stay`, leaves it: cached here. */
  section(thread: number, id: number, token: number, stay = false): void {
    let entered = false;
    this.client.lock(thread, id, (e) => {
      assert.is(e, null);
      entered = true;
    });
    if (!entered) {
      const ask = this.last('lock-acquire', id);
      this.reply({ t: 'lock-granted', req: ask.req, id, thread, token, leaseUs: LEASE_US, index: 1, published: null, lapsed: false, lapsedHosts: [] });
    }
    assert.ok(entered, `thread ${thread} entered lock ${id}`);
    if (!stay) this.client.unlock(thread, id, (e) => assert.is(e, null));
  }

  recorded(): void {
    this.reply({ t: 'host-recorded', req: this.last('host-record').req });
  }
}

test('a lock given back while no other lock has sections here publishes through its release only', () => {
  const w = new World();
  w.section(1, 1, 5);
  w.take();
  w.client.recall({ id: 1, token: 5 });
  assert.equal(w.take(), ['lock-release 1 R1']);
});

test('a record covering another lock\'s sections released here is committed at home before the release goes', () => {
  const w = new World();
  w.section(1, 1, 5);
  w.section(2, 2, 7);
  w.take();
  w.client.recall({ id: 2, token: 7 });
  assert.equal(w.take(), ['host-record #1 R1']);
  w.recorded();
  assert.equal(w.take(), ['lock-release 2 R1']);
  w.reply({ t: 'lock-released', req: w.last('lock-release', 2).req, id: 2, thread: 2, committed: true });
  // Lock 1's sections are covered at home now: giving back another lock needs no record there.
  w.section(3, 3, 9);
  w.take();
  w.client.recall({ id: 3, token: 9 });
  assert.equal(w.take(), ['lock-release 3 R2']);
  assert.equal(w.lost, []);
});

test('a thread inside another lock counts (its writes so far are in the record); a release after the interval ended is not covered by it', () => {
  const w = new World();
  w.section(1, 1, 5, true);
  w.section(2, 2, 7);
  w.take();
  w.client.recall({ id: 2, token: 7 });
  assert.equal(w.take(), ['host-record #1 R1']);
  // Thread 1 leaves lock 1 after the interval ended: R1 does not cover the end of that section.
  w.client.unlock(1, 1, (e) => assert.is(e, null));
  w.recorded();
  assert.equal(w.take(), ['lock-release 2 R1']);
  w.client.barrier(3, 4, 2, () => {});
  assert.equal(w.take(), ['host-record #2 R2'], 'a barrier arrival publishes too, and lock 1 is still covered by no record at home');
  w.recorded();
  assert.equal(w.take(), ['barrier-arrive b4 R2']);
});

test('the home record not committed: the release waits, and never goes once the host\'s threads stop', () => {
  const w = new World();
  w.section(1, 1, 5);
  w.section(2, 2, 7);
  w.take();
  w.client.recall({ id: 2, token: 7 });
  assert.equal(w.take(), ['host-record #1 R1']);
  w.client.abandon(); // a lease ran out meanwhile
  w.reply({ t: 'host-recorded', req: w.last('host-record').req });
  assert.equal(w.take(), []);
});

test('a holder granted a lock after a lapse reads the lapsed host\'s records at its home before its thread goes on', () => {
  const w = new World();
  let entered = false;
  w.client.lock(1, 3, (e) => {
    assert.is(e, null);
    entered = true;
  });
  w.reply({ t: 'lock-granted', req: w.last('lock-acquire', 3).req, id: 3, thread: 1, token: 4, leaseUs: LEASE_US, index: 1, published: 'L3', lapsed: true, lapsedHosts: [6, 7] });
  assert.equal(w.take(), ['lock-acquire 3', 'host-records']);
  assert.is(entered, false, 'not before the records are read');
  w.reply({ t: 'host-records-are', req: w.last('host-records').req, host: 6, published: ['H6a', 'H6b'] });
  assert.equal(w.take(), ['host-records'], 'then the next lapsed host\'s');
  assert.is(entered, false, 'not before every lapsed host\'s records are read');
  w.reply({ t: 'host-records-are', req: w.last('host-records').req, host: 7, published: ['H7'] });
  assert.ok(entered);
  assert.equal(w.acquired, [['L3', 'H6a', 'H6b', 'H7']], 'the lock\'s record and the hosts\', all applied at the acquire');
  // A grant that did not follow a lapse reads nothing more.
  w.section(2, 5, 1);
  assert.equal(w.acquired[1], []);
  assert.equal(w.take().filter((m) => m.startsWith('host-records')), []);
});

test.run();
