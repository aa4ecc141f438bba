import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Message } from '../../src/raft/index.js';
import { Cluster } from './harness.js';

test('crash and restart keeps term, vote and log', () => {
  const c = new Cluster([1, 2, 3]);
  c.elect(1);
  c.propose(1, 'a');
  c.propose(1, 'b');
  const before = c.ids.map((id) => c.node(id).status());
  for (const id of c.ids) {
    c.crash(id);
    c.restart(id);
  }
  for (const [i, id] of c.ids.entries()) {
    const s = c.node(id).status();
    assert.is(s.term, before[i]!.term);
    assert.is(s.vote, before[i]!.vote);
    assert.is(s.lastIndex, before[i]!.lastIndex);
    assert.is(s.role, 'follower');
    assert.equal(c.logTerms(id), [1, 1, 1]);
  }
  // Committed entries are delivered again from the start (no snapshot, applied = 0).
  c.tickAll(40);
  assert.equal(c.sm.get(2)!.slice(0, 3), ['', 'a', 'b']);
  assert.is(c.leadersNow().length, 1);
  assert.equal(c.violations, []);
});

test('a vote not yet persisted is lost with a crash, and so is its reply', () => {
  const c = new Cluster([1, 2, 3]);
  c.node(1).campaign();
  c.processAll();
  const req = c.queue.find((m) => m.to === 2)!;
  c.queue = [];
  c.node(2).step(req);
  const rd = c.node(2).ready(); // in flight, never persisted
  assert.is(rd.hardState!.vote, 1);
  c.crash(2);
  c.restart(2);
  assert.is(c.node(2).status().vote, 0);
  assert.is(c.node(2).status().term, 0);
});

test('a restarted node that voted in a term does not vote again in it', () => {
  const c = new Cluster([1, 2, 3]);
  c.node(1).campaign();
  c.processAll();
  const toTwo = c.queue.filter((m) => m.to === 2);
  c.queue = [];
  for (const m of toTwo) c.deliver(m);
  c.processAll(); // vote persisted
  c.queue = [];
  c.crash(2);
  c.restart(2);
  c.node(3).campaign();
  c.processAll();
  const req = c.queue.find((m) => m.from === 3 && m.to === 2)!;
  c.queue = [];
  c.deliver(req);
  c.processAll();
  assert.is(c.queue.find((m) => m.from === 2)!.reject, true);
});

function scenario(json: boolean): { sent: string[]; status: string } {
  const c = new Cluster([1, 2, 3, 4], { voters: [1, 2, 3], preVote: true, checkQuorum: true, json, seed: 21 });
  c.tickAll(25);
  const [l] = c.leadersNow();
  for (let i = 0; i < 5; i++) c.propose(l!, `p${i}`);
  c.proposeConf(l!, { type: 'addNode', node: 4 });
  c.isolate(2);
  for (let i = 0; i < 5; i++) c.propose(l!, `q${i}`);
  c.compact(l!);
  c.heal();
  c.tickAll(25);
  c.node(c.leadersNow()[0]!).transferLeadership(2);
  c.tickAll(25);
  assert.equal(c.violations, []);
  return { sent: c.sent.map((m) => JSON.stringify(m)), status: JSON.stringify(c.ids.map((id) => c.node(id).status())) };
}

test('messages survive a JSON round trip: every message, and whole runs, are identical', () => {
  const plain = scenario(false);
  const viaJson = scenario(true);
  assert.ok(plain.sent.length > 50);
  assert.ok(plain.sent.some((s) => (JSON.parse(s) as Message).type === 'snap'), 'covers snapshots');
  assert.equal(viaJson.sent, plain.sent);
  assert.is(viaJson.status, plain.status);
  for (const s of plain.sent) {
    const m = JSON.parse(s) as Message;
    assert.equal(JSON.parse(JSON.stringify(m)), m);
    for (const k of Object.keys(m)) assert.ok((m as unknown as Record<string, unknown>)[k] !== undefined, `field ${k}`);
  }
});

test.run();
