import fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { companyOfPage, planCompanies } from '../../src/vmm/placement.js';

test('five owners with replication three make two companies that cover the heap', () => {
  const plans = planCompanies({ pages: 64, owners: [1, 2, 3, 4, 5], replication: 3 });
  assert.equal(plans, [
    { company: 1, firstPage: 0, pages: 32, members: [1, 2, 3] },
    { company: 2, firstPage: 32, pages: 32, members: [1, 4, 5] },
  ]);
  assert.is(companyOfPage(plans, 31)!.company, 1);
  assert.is(companyOfPage(plans, 32)!.company, 2);
  assert.is(companyOfPage(plans, 64), undefined);
});

test('placement is deterministic, covers every page once, and every company has distinct members', () => {
  fc.assert(fc.property(
    fc.uniqueArray(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 12 }),
    fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 500 }),
    (owners, replication, pages) => {
      const plans = planCompanies({ pages, owners, replication });
      assert.equal(planCompanies({ pages, owners: [...owners].reverse(), replication }), plans);
      let next = 0;
      for (const p of plans) {
        assert.is(p.firstPage, next);
        next += p.pages;
        assert.is(new Set(p.members).size, p.members.length);
        assert.is(p.members.length, Math.min(replication, owners.length));
      }
      assert.is(next, pages);
      const used = new Set(plans.flatMap((p) => p.members));
      if (plans.length * Math.min(replication, owners.length) >= owners.length) assert.is(used.size, owners.length, 'every owner serves');
    },
  ));
});

test('bad input is refused', () => {
  assert.throws(() => planCompanies({ pages: 10, owners: [], replication: 3 }), /no owners/);
  assert.throws(() => planCompanies({ pages: 10, owners: [1], replication: 0 }), /replication/);
});

test.run();
