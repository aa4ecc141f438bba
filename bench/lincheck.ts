// Linearizability checker throughput.
//  - lincheck.ops_per_second: generated histories of 10,000 operations on 100
//    registers from 8 clients (unique written values, a few timed-out
//    operations), linearizable by construction; time to check one.
//  - lincheck.porcupine_max_ms: parse + check time of the slowest of
//    Porcupine's histories (test/data/linearizability).
// Prints one JSON line per figure when run directly.
import { pathToFileURL } from 'node:url';
import { performance } from 'node:perf_hooks';
import seedrandom from 'seedrandom';
import { checkLinearizable } from '../src/check/linearizability.js';
import { registerModel, type RegisterOp } from '../src/check/register-model.js';
import { lincheckText } from '../src/cli/lincheck.js';
import { expectedVerdicts, readHistory } from '../test/check/history-data.js';

export interface BenchResult {
  name: string;
  value: number;
  unit: string;
}

const OPS = 10_000;
const CLIENTS = 8;
const KEYS = 100;

/**
 * A linearizable history: each client issues operations one after another;
 * each takes effect at a point inside its [call, ret] interval, and running
 * them on real registers in the order of those points gives the outputs.
 */
export function generateRegisterHistory(seed: string, ops = OPS, clients = CLIENTS, keys = KEYS): RegisterOp[] {
  const rng = seedrandom(seed);
  const int = (lo: number, hi: number): number => lo + Math.floor(rng() * (hi - lo + 1));
  const clock = new Array<number>(clients).fill(0);
  const planned: Array<{ idx: number; client: number; key: string; kind: number; call: number; lp: number; ret: number; lost: boolean; pick: number }> = [];
  for (let idx = 0; idx < ops; idx++) {
    const client = int(0, clients - 1);
    const call = clock[client]! + int(1, 4);
    const lp = call + int(0, 10);
    const ret = lp + int(0, 10);
    clock[client] = ret;
    planned.push({ idx, client, key: String(int(0, keys - 1)), kind: rng(), call, lp, ret, lost: rng() < 0.01, pick: rng() });
  }
  const order = [...planned].sort((a, b) => a.lp - b.lp || a.idx - b.idx);
  const value = new Map<string, number | null>();
  const written = new Map<string, number[]>();
  let nextValue = 1;
  const out = new Array<RegisterOp>(ops);
  for (const p of order) {
    const cur = value.get(p.key) ?? null;
    const effective = !p.lost || p.pick < 0.5;
    const ret = p.lost ? Infinity : p.ret;
    const input = { key: p.key };
    if (p.kind < 0.5) {
      out[p.idx] = { client: p.client, input: { ...input, kind: 'read' }, output: { kind: 'read', value: cur }, call: p.call, ret };
    } else {
      const v = nextValue++;
      let w = written.get(p.key);
      if (!w) written.set(p.key, (w = []));
      w.push(v);
      if (p.kind < 0.8) {
        if (effective) value.set(p.key, v);
        out[p.idx] = { client: p.client, input: { ...input, kind: 'write', value: v }, output: { kind: 'write' }, call: p.call, ret };
      } else {
        // Half the time compare with the current value, so some succeed.
        const from = p.pick < 0.5 || w.length === 1 ? cur : w[Math.floor(p.pick * (w.length - 1))]!;
        const holds = from === cur;
        if (holds && effective) value.set(p.key, v);
        out[p.idx] = { client: p.client, input: { ...input, kind: 'cas', from, to: v }, output: { kind: 'cas', ok: holds }, call: p.call, ret };
      }
    }
  }
  return out;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}


export function benchLincheck(quick: boolean): BenchResult[] {
  const reps = quick ? 2 : 7;
  const rates: number[] = [];
  for (let r = 0; r < reps + 1; r++) {
    const h = generateRegisterHistory(`lincheck-${r}`);
    const t0 = performance.now();
    const res = checkLinearizable(registerModel, h);
    const ms = performance.now() - t0;
    if (!res.ok) throw new Error(`bench history lincheck-${r} was judged ${res.verdict}: generator or checker bug`);
    if (r > 0) rates.push(h.length / (ms / 1000)); // first run warms up the JIT
  }

  const results: BenchResult[] = [{ name: 'lincheck.ops_per_second', value: Math.round(median(rates)), unit: 'ops/s' }];
  const texts = Object.keys(expectedVerdicts()).sort().map((f) => [f, readHistory(f)] as const);
  // Best of a few runs per file (these machines are shared), then the max.
  let worst = 0;
  for (const [f, text] of texts) {
    let best = Infinity;
    for (let r = 0; r < (quick ? 1 : 3); r++) best = Math.min(best, lincheckText(f, text).ms);
    worst = Math.max(worst, best);
  }
  results.push({ name: 'lincheck.porcupine_max_ms', value: Math.round(worst * 100) / 100, unit: 'ms' });
  return results;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  for (const r of benchLincheck(process.argv.includes('--quick'))) console.log(JSON.stringify(r));
}
