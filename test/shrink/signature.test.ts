// A shrink keeps to the failure it was given: the same invariant with a
// message of the same shape (numbers aside), not any failure of the invariant.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { failureSignature, sameFailure } from '../../src/sim/shrink/signature.js';

const v = (invariant: string, message: string) => ({ invariant, message });

test('numbers, decimals, ranges and lists of them are one placeholder', () => {
  assert.is(
    failureSignature(v('liveness', "client 3's request sent at 12.500 s is still unanswered 5 s after faults stopped")),
    "liveness: client #'s request sent at # s is still unanswered # s after faults stopped",
  );
  assert.is(failureSignature(v('page-runs', 'company 1 allocated pages 4..7 to a overlapping hosts 1, 2 and 3')), 'page-runs: company # allocated pages # to a overlapping hosts #');
});

test('the same check with other hosts, times and indexes is the same failure', () => {
  const a = v('state-machine-safety', 'group 0: host 2 applied entry 17 term 3, but term 2 was applied there before');
  const b = v('state-machine-safety', 'group 4: host 1 applied entry 5 term 9, but term 8 was applied there before');
  assert.ok(sameFailure(a, b, false));
});

test('another check of the same invariant is another failure, unless any message will do', () => {
  const unanswered = v('liveness', "client 1's request sent at 3.000 s is still unanswered 5 s after faults stopped");
  const leaderless = v('liveness', 'group 2 has no leader followed by a quorum 5 s after faults stopped');
  assert.not.ok(sameFailure(unanswered, leaderless, false));
  assert.ok(sameFailure(unanswered, leaderless, true));
  assert.not.ok(sameFailure(unanswered, v('coherence', leaderless.message), true));
  assert.not.ok(sameFailure(unanswered, null, true));
});

test('a workload message is judged by its first failed check; the operations a history could not order are detail', () => {
  assert.ok(sameFailure(
    v('workload', 'counter: word 3 is 7, expected 8; word 5 is 1, expected 2'),
    v('workload', 'counter: word 0 is 2, expected 3'),
    false,
  ));
  assert.ok(sameFailure(
    v('linearizability', 'the key-value history is not linearizable; these operations could not be ordered: get(k1) = 3'),
    v('linearizability', 'the key-value history is not linearizable; these operations could not be ordered: put(k2, 5); get(k2) = 4'),
    false,
  ));
});

test.run();
