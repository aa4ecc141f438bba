// Loaded into each hunting process with --import: on exit it reports the
// process's CPU seconds (every thread's) on stderr, so the benchmark can give
// time to first failure on one core as well as wall time on a shared machine.
import { writeSync } from 'node:fs';
import { isMainThread } from 'node:worker_threads';
import { CPU_TAG } from './child.js';

if (isMainThread) {
  process.on('exit', () => {
    const u = process.cpuUsage();
    writeSync(2, `\n${CPU_TAG}${(u.user + u.system) / 1e6}\n`);
  });
}
