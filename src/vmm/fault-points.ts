// The VMM's fault points and coverage probes (see src/raft/fault-points.ts),
// numbered after Raft's.
import { declareFaultPoints, declareProbes, RAFT_FAULT_POINTS, RAFT_PROBES } from '../raft/index.js';

const POINTS = declareFaultPoints('vmm', RAFT_FAULT_POINTS.length, {
  delayGrant: { fires: 0.1, what: "a manager sends a committed grant a request timeout late: it may cross the requester's retry or a revoke" },
  refuseBusy: { fires: 0.05, what: 'a manager answers an acquire busy, as with a full queue; the requester asks again shortly' },
  evictReaders: { fires: 0.1, what: 'a host drops the pages it holds only for reading, as at its memory limit' },
  giveUpEarly: { fires: 0.1, what: 'a host gives a lease up halfway through its hold instead of near its end' },
  retryEarly: { fires: 0.05, what: 'a request is asked again of another member at once, as if its answer were lost' },
});

export const VmmPoint = POINTS.ids;
export const VMM_FAULT_POINTS = POINTS.rows;

const PROBES = declareProbes('vmm', RAFT_PROBES.length, {
  leaseWaitedOut: 'a manager waited out the lease of a holder that never answered its revokes, and expired it',
  takeoverWait: 'a new manager revoked a lease an earlier leader granted, so must wait it out from its own takeover',
  writeBackFenced: "a write-back was refused: the writer's lease (its fencing token) is no longer the one in the table",
  lostWrites: 'a host could not write a dirty page back (its lease was gone): its writes are lost and its threads end',
  grantRacedRevoke: 'a grant arrived after a revoke that covers it, and was dropped',
  grantTooLate: 'a grant arrived too late to use before its lease would end',
  grantHeldBack: 'a grant arrived while its page was being written or handed back, and waited for that to settle',
  staleCopyRefetched: "a grant without data found this host's copy older than the manager thought: it asked again for the data",
  revokeOvertaken: 'a revoke of an older lease arrived after a newer grant of the page, and was ignored',
  deadlineClosedPage: 'the memory backend closed a page at its deadline before the host gave the lease up itself',
  pageEvicted: 'a host over its memory limit dropped a page it held for reading',
  crossHostFree: 'a host freed a block another host allocated (the owner frees it on its behalf)',
  freeRaced: "a lease slipped in between reclaiming a run's pages and freeing it: the manager reclaimed them again",
  allocFellBack: 'a company had no room for a run, and the host asked the next company',
  proposalRetried: "a leader refused a manager's proposal (a transfer under way): it proposed again later",
  lockWaitedOut: "a lock's manager waited out a silent holder's lease and freed the lock for the next waiter",
  lockRenewed: 'a lock holder renewed its lease while it held the lock',
  lockLost: "a lock holder's lease ran out unrenewed (or the manager said it was gone): its host's threads end",
  lockAskedAgain: 'a thread asked again for a lock the table already gave it (the grant was lost): the holding is renewed',
  lockRecalled: "a host holding a lock was asked for it back (another host waits): it gives it back once its own threads' turns are done",
  lockIdleReturned: 'a host gave back a lock none of its threads had used for a quarter of its lease, before the lease could run out',
  lockDropped: "a host's holding of a lock ran out with none of its threads inside, under sequential consistency: dropped, the threads go on",
  barrierAskedAgain: 'a party asked again for a barrier episode that had opened meanwhile (a lost answer, or a new manager)',
});

export const VmmProbe = PROBES.ids;
export const VMM_PROBES = PROBES.rows;
