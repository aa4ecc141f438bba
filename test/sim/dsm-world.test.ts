// The shared memory's bookkeeping of application threads: the workload's end
// check starts once every thread has ended (done, stopped by a failure, or
// lost with its host), each counted once.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DsmPart } from '../../src/sim/dsm-world.js';
import type { DsmHosts } from '../../src/sim/dsm-world.js';
import { streamFor } from '../../src/sim/rng.js';
import { scenarioSchema } from '../../src/sim/scenario.js';
import { Scheduler } from '../../src/sim/scheduler.js';
import { HostClock } from '../../src/sim/clock.js';

/** Three hosts of one thread each; `checks` counts the end check's attempts to find a host to run on. */
function world(): { part: DsmPart; checks: () => number; lost: number[] } {
  const s = scenarioSchema.parse({ name: 't', durationS: 10, hosts: 3, dsm: { heap: { pageSize: 256, pages: 16 }, workload: 'alloc-churn', threadsPerHost: 1 } });
  let checks = 0;
  const lost: number[] = [];
  const hosts: DsmHosts = {
    scheduler: new Scheduler(),
    hostState: () => {
      checks++;
      return 'down';
    },
    appOf: () => null,
    stream: (name) => streamFor(1, name),
    monotonicClock: () => new HostClock(0, 0),
    trace: (kind, _host, ...fields) => void (kind === 'lost-threads' && lost.push(fields[0] as number)),
  };
  return { part: new DsmPart(s, s.dsm!, hosts), checks: () => checks, lost };
}

test('a thread that carries on past a failed free is not ended: the end check waits for it (it ran early before the fix, dsm-chaos seed 367)', () => {
  const { part, checks } = world();
  part.threadFailed(0, 'free(4352): free of 4352: invalid', false);
  part.threadFailed(0, 'free(8448): free of 8448: invalid', false);
  part.threadDone(1);
  assert.is(checks(), 0, 'two failures of a running thread and one thread done are not three threads ended');
  assert.is(part.failures.length, 2);
  part.threadDone(0);
  assert.is(checks(), 0);
  part.threadDone(2);
  assert.ok(checks() > 0, 'all three ended: the end check looks for a host');
});

test('a thread stopped by its failure, then lost with its host, counts once', () => {
  const { part, checks, lost } = world();
  part.threadFailed(0, 'read at a bad address 3', true);
  part.lostMemory(1, 1);
  assert.equal(lost, [0], 'thread 0 had ended already: host 1 lost no running thread');
  part.lostMemory(2, 1);
  assert.equal(lost, [0, 1]);
  assert.is(checks(), 0);
  part.threadDone(2);
  assert.ok(checks() > 0);
  assert.is(part.stats.threadsLost, 1);
});

test.run();
