// Scheduler throughput: a bare event loop in which each event schedules
// another at a random small delay, keeping about 1000 events pending.
// Prints one JSON line per figure when run directly.
import { pathToFileURL } from 'node:url';
import { Scheduler } from '../src/sim/scheduler.js';
import { streamFor } from '../src/sim/rng.js';

export interface BenchResult {
  name: string;
  value: number;
  unit: string;
}

const PENDING = 1000;
const TABLE = 1 << 16; // pre-drawn delays, so the figure measures the scheduler

function delayTable(): Int32Array {
  const rng = streamFor('bench', 'scheduler');
  const t = new Int32Array(TABLE);
  for (let i = 0; i < TABLE; i++) t[i] = rng.int(1, 1000);
  return t;
}

/** Events per second of wall time for `seconds` seconds. cancelEvery > 0 also schedules and cancels a timer every n events. */
function run(seconds: number, cancelEvery: number): number {
  const delays = delayTable();
  const s = new Scheduler();
  let k = 0;
  let timer = -1;
  const tick = (): void => {
    s.after(delays[k++ & (TABLE - 1)]!, tick);
    if (cancelEvery > 0 && k % cancelEvery === 0) {
      if (timer >= 0) s.cancel(timer);
      timer = s.after(delays[k & (TABLE - 1)]! * 10, noop);
    }
  };
  for (let i = 0; i < PENDING; i++) s.after(delays[k++ & (TABLE - 1)]!, tick);
  // Warm up.
  s.runUntil(s.now + 200_000);
  const start = performance.now();
  const startEvents = s.eventsRun;
  let elapsed = 0;
  while (elapsed < seconds * 1000) {
    s.runUntil(s.now + 100_000); // about 200k events per chunk
    elapsed = performance.now() - start;
  }
  return ((s.eventsRun - startEvents) / elapsed) * 1000;
}

function noop(): void {}

export function benchScheduler(quick: boolean): BenchResult[] {
  const secs = quick ? 1 : 3;
  return [
    { name: 'scheduler.events_per_second', value: Math.round(run(secs, 0)), unit: 'events/s' },
    {
      name: 'scheduler.events_per_second_with_cancel',
      value: Math.round(run(secs / 2, 4)),
      unit: 'events/s',
    },
  ];
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const quick = process.argv.includes('--quick');
  for (const r of benchScheduler(quick)) console.log(JSON.stringify(r));
}
