// Linearizability checker speed, as JSON lines: for each history, the time
// to check it (best of a few runs, the machines being shared) and operations
// per second.
//  - Porcupine's kv histories (test/data/linearizability/kv) one by one, and
//    its 50 Jepsen etcd logs together (their slowest and their total).
//  - Generated histories, large or with many clients, linearizable as built
//    and, suffixed `.broken`, with one read made impossible (see
//    test/check/generated-histories.ts).
// A history whose verdict is not the expected one throws: a generator or
// checker bug, not a figure.
import { pathToFileURL } from 'node:url';
import { performance } from 'node:perf_hooks';
import { parseHistory } from '../src/check/history-formats.js';
import { kvModel } from '../src/check/kv-model.js';
import { checkLinearizable, type Model, type Operation, type Verdict } from '../src/check/linearizability.js';
import { registerModel } from '../src/check/register-model.js';
import { expectedVerdicts, readHistory } from '../test/check/history-data.js';
import { impossibleRead, kvHistory, registerHistory, type HistoryShape } from '../test/check/generated-histories.js';
import { figure, type BenchResult } from './result.js';

/** Far beyond what any history here needs; a slower checker fails loudly instead of hanging. */
const MAX_STEPS = 200_000_000;

interface Timed {
  readonly ms: number;
  readonly operations: number;
}

/** Best time of `runs` checks (after one to warm up), and the verdict it must have. */
function time<S, I, O>(name: string, model: Model<S, I, O>, ops: readonly Operation<I, O>[], expected: Verdict, runs: number): Timed {
  let best = Infinity;
  for (let r = 0; r <= runs; r++) {
    const t0 = performance.now();
    const result = checkLinearizable(model, ops, { maxSteps: MAX_STEPS });
    const ms = performance.now() - t0;
    if (result.verdict !== expected) throw new Error(`${name} was judged ${result.verdict}, expected ${expected}`);
    if (r > 0) best = Math.min(best, ms);
  }
  return { ms: best, operations: ops.length };
}

function report(name: string, t: Timed): BenchResult[] {
  return [figure(`lincheck.${name}.ms`, t.ms, 'ms'), figure(`lincheck.${name}.ops_per_second`, t.operations / (t.ms / 1000), 'ops/s')];
}

const GENERATED: ReadonlyArray<readonly [name: string, kind: 'registers' | 'kv', shape: HistoryShape]> = [
  ['registers.10k_ops.8_clients.100_keys', 'registers', { ops: 10_000, clients: 8, keys: 100, lost: 0.01 }],
  ['registers.100k_ops.8_clients.1_key', 'registers', { ops: 100_000, clients: 8, keys: 1 }],
  ['registers.2k_ops.50_clients.10_keys', 'registers', { ops: 2_000, clients: 50, keys: 10 }],
  ['kv.2k_ops.50_clients.20_keys', 'kv', { ops: 2_000, clients: 50, keys: 20 }],
  ['kv.20k_ops.8_clients.100_keys', 'kv', { ops: 20_000, clients: 8, keys: 100, lost: 0.01 }],
];

export function benchLincheck(quick: boolean): BenchResult[] {
  const runs = quick ? 1 : 3;
  const results: BenchResult[] = [];
  const expected = expectedVerdicts();
  const files = Object.keys(expected).sort();
  for (const file of files.filter((f) => f.startsWith('kv/'))) {
    const parsed = parseHistory(readHistory(file));
    if (parsed.format !== 'kv-edn') throw new Error(`${file}: expected an EDN key-value history`);
    const name = `porcupine.${file.replace(/^kv\//, 'kv.').replace(/\.txt$/, '')}`;
    results.push(...report(name, time(name, kvModel, parsed.operations, expected[file] ? 'linearizable' : 'not-linearizable', runs)));
  }
  let slowest = 0;
  let total = 0;
  for (const file of files.filter((f) => f.startsWith('jepsen-etcd/'))) {
    const parsed = parseHistory(readHistory(file));
    if (parsed.format !== 'jepsen-register') throw new Error(`${file}: expected a Jepsen register log`);
    const t = time(file, registerModel, parsed.operations, expected[file] ? 'linearizable' : 'not-linearizable', runs);
    slowest = Math.max(slowest, t.ms);
    total += t.ms;
  }
  results.push(figure('lincheck.porcupine.etcd.slowest_ms', slowest, 'ms'), figure('lincheck.porcupine.etcd.total_ms', total, 'ms'));
  for (const [name, kind, shape] of GENERATED) {
    if (kind === 'registers') {
      const h = registerHistory(name, shape);
      results.push(...report(`generated.${name}`, time(name, registerModel, h, 'linearizable', runs)));
      results.push(...report(`generated.${name}.broken`, time(name, registerModel, impossibleRead(h), 'not-linearizable', runs)));
    } else {
      const h = kvHistory(name, shape);
      results.push(...report(`generated.${name}`, time(name, kvModel, h, 'linearizable', runs)));
      results.push(...report(`generated.${name}.broken`, time(name, kvModel, impossibleRead(h), 'not-linearizable', runs)));
    }
  }
  return results;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  for (const r of benchLincheck(process.argv.includes('--quick'))) console.log(JSON.stringify(r));
}
