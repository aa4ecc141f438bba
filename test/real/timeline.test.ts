// A host's timeline: stages nest without counting twice, the CPU clock leaves
// out the time a stage was not running, and GC pauses are summed apart.
import { constants, PerformanceObserver } from 'node:perf_hooks';
import type { NodeGCPerformanceDetail, PerformanceEntry } from 'node:perf_hooks';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { threadCpuClock } from '../../src/real/native-memory.js';
import { Timeline } from '../../src/real/timeline.js';

const sleeper = new Int32Array(new SharedArrayBuffer(4));
/** Blocks the thread without using CPU. */
const sleep = (ms: number): void => void Atomics.wait(sleeper, 0, 0, ms);
/** Uses the CPU for about ms of wall time. */
function spin(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end);
}

test('a nested stage is subtracted from the one around it', () => {
  assert.is(new Timeline().clock, 'wall');
  // A clock the test moves itself: a loaded machine cannot stretch what is measured.
  let nowMs = 0;
  const t = new Timeline(() => nowMs);
  t.time('handle', () => {
    nowMs += 5;
    t.time('persist', () => void (nowMs += 20));
    nowMs += 1;
  });
  const s = t.snapshot();
  assert.is(s.persist.us, 20_000);
  assert.is(s.handle.us, 6000, 'handle without persist\'s 20 ms');
  assert.is(s.handle.count, 1);
});

test('on the thread CPU clock, a stage that blocks counts only what it ran', () => {
  const cpu = threadCpuClock();
  if (cpu === null) {
    console.log('  (skipped: the native shim is not built)');
    return;
  }
  const wall = new Timeline();
  const onCpu = new Timeline(cpu);
  wall.time('persist', () => onCpu.time('persist', () => sleep(40)));
  wall.time('send', () => onCpu.time('send', () => spin(30)));
  const [w, c] = [wall.snapshot(), onCpu.snapshot()];
  assert.is(c.clock, 'thread-cpu');
  assert.ok(w.persist.us >= 40_000, `wall: the sleep counts (${w.persist.us} us)`);
  assert.ok(c.persist.us < 10_000, `cpu: the sleep does not (${c.persist.us} us)`);
  // The spin is CPU, less whatever time the machine took the thread away.
  assert.ok(c.send.us > 0 && c.send.us <= w.send.us + 1000, `cpu ${c.send.us} us, wall ${w.send.us} us`);
});

test('observed GC pauses are summed by kind, apart from the stages', async () => {
  // The oracle: the same entries, seen by an observer of the test's own (durations in ms).
  let scavengeMs = 0;
  const own = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      if ((e as PerformanceEntry & { detail?: NodeGCPerformanceDetail }).detail?.kind === constants.NODE_PERFORMANCE_GC_MINOR) scavengeMs += e.duration;
    }
  });
  own.observe({ entryTypes: ['gc'] });
  const t = new Timeline();
  t.observeGc();
  let keep: object[] = [];
  t.time('decode', () => {
    for (let i = 0; i < 2_000_000; i++) {
      keep.push({ i });
      if (keep.length > 10_000) keep = [];
    }
  });
  await new Promise((r) => setTimeout(r, 50)); // GC entries are delivered asynchronously
  const s = t.snapshot();
  t.close();
  own.disconnect();
  assert.ok(s.gc.minor.count > 0 && s.gc.minor.us > 0, `scavenges: ${JSON.stringify(s.gc.minor)}`);
  assert.ok(Math.abs(s.gc.minor.us - scavengeMs * 1000) <= 1, `${s.gc.minor.us} us summed, ${scavengeMs} ms observed`);
  assert.ok(s.gc.minor.us <= s.decode.us, 'the pauses happened inside the stage, which counts them too');
});

test.run();
