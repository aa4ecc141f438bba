// npm run bench [-- --quick] [-- --only=a,b]: every benchmark, one JSON line per figure.
// Figures never pass or fail; compare ratios measured in the same run.
import { benchCheck } from './check.js';
import { benchDsm } from './dsm.js';
import { benchLincheck } from './lincheck.js';
import { benchPageTable } from './page-table.js';
import { benchRaft } from './raft.js';
import { benchRelease } from './release.js';
import { benchEtcdSuite, benchReal } from './real.js';
import type { BenchResult } from './result.js';
import { benchScheduler } from './scheduler.js';
import { benchShrink } from './shrink.js';

const quick = process.argv.includes('--quick');
const suites: [string, (quick: boolean) => BenchResult[] | Promise<BenchResult[]>][] = [
  ['scheduler', benchScheduler],
  ['raft', benchRaft],
  ['dsm', benchDsm],
  ['release', benchRelease],
  ['check', benchCheck],
  ['lincheck', benchLincheck],
  ['shrink', benchShrink],
  ['page-table', benchPageTable],
  // real runs the etcd baseline itself, with its measured entry size; etcd then adds nothing.
  ['real', benchReal],
  ['etcd', benchEtcdSuite],
];
const only = process.argv.find((a) => a.startsWith('--only='))?.slice('--only='.length);
for (const [name, run] of suites) {
  if (only !== undefined && !only.split(',').includes(name)) continue;
  for (const r of await run(quick)) console.log(JSON.stringify(r));
}
