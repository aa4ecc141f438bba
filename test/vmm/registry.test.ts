import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Entry } from '../../src/raft/index.js';
import { encodeRegistryCommand, nextConfChange, RegistryMachine, targetMembers } from '../../src/vmm/registry.js';

let index = 0;
const entry = (data: string): Entry => ({ term: 1, index: ++index, kind: 'normal', data });

test('owners join and leave; never fewer than a company needs; snapshots restore', () => {
  const r = new RegistryMachine([1, 2, 3, 4], null, 3);
  assert.equal(r.apply(entry(encodeRegistryCommand({ op: 'leave', host: 2 })))!.owners, [1, 3, 4]);
  const refused = r.apply(entry(encodeRegistryCommand({ op: 'leave', host: 3 })))!;
  assert.is(refused.ok, false, 'three owners is the minimum');
  assert.equal(refused.owners, [1, 3, 4]);
  assert.equal(r.apply(entry(encodeRegistryCommand({ op: 'join', host: 9 })))!.owners, [1, 3, 4, 9]);
  assert.is(r.apply(entry(encodeRegistryCommand({ op: 'join', host: 9 })))!.ok, false, 'already an owner');
  assert.is(r.apply(entry('not json')), null);
  assert.is(r.apply(entry('')), null, "a leader's no-op");
  assert.equal(new RegistryMachine([], r.snapshot(), 3).owners, [1, 3, 4, 9]);
});

test('target members follow the owners as at genesis', () => {
  assert.equal(targetMembers(1, [1, 2, 3, 4, 5], 3), [1, 2, 3]);
  assert.equal(targetMembers(2, [1, 2, 3, 4, 5], 3), [1, 4, 5]);
  assert.equal(targetMembers(2, [2, 3, 5], 3), [2, 3, 5]);
});

test('a group moves one change at a time: add the missing first, remove the leader last', () => {
  assert.equal(nextConfChange([1, 2, 3], [2, 3, 4], 1), { type: 'addNode', node: 4 });
  assert.equal(nextConfChange([1, 2, 3, 4], [2, 3, 4], 2), { type: 'removeNode', node: 1 });
  assert.equal(nextConfChange([1, 2, 3, 4, 5], [2, 3, 4], 1), { type: 'removeNode', node: 5 }, 'the leader goes last');
  assert.is(nextConfChange([2, 3, 4], [4, 3, 2], 2), null);
});

test.run();
