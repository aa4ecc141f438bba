// Shrink quality: for each planted bug (a scenario's `bugs:` flag), a failing
// seed of a campaign-like scenario is shrunk, and the shrunk run's events are
// compared with those of a scenario written by hand to be as small as we
// could make it (bench/shrink/NAME.minimal.yaml). The goal is a ratio of at
// most 2. Figures as JSON lines; run alone with `node dist/bench/shrink.js`.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadScenario } from '../src/cli/scenario-file.js';
import { runSeed } from '../src/sim/run.js';
import { shrinkFailure } from '../src/sim/shrink/shrink.js';
import { drawScenario } from '../src/sim/swarm.js';
import { figure, type BenchResult } from './result.js';

interface Case {
  name: string;
  /** The failing seed of bench/shrink/NAME.yaml. */
  seed: number;
  /** The seed bench/shrink/NAME.minimal.yaml fails with. */
  minimalSeed: number;
}

const CASES: readonly Case[] = [
  { name: 'send-before-sync', seed: 5, minimalSeed: 5 },
  { name: 'forget-vote', seed: 4, minimalSeed: 35 },
  { name: 'local-reads', seed: 1, minimalSeed: 29 },
  { name: 'skip-write-back', seed: 2, minimalSeed: 37 },
];

const DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'bench', 'shrink');

const load = (file: string, seed: number) => drawScenario(loadScenario(path.join(DIR, file)).spec, seed).scenario;

export function benchShrink(quick: boolean): BenchResult[] {
  const out: BenchResult[] = [];
  for (const c of CASES) {
    const minimal = runSeed(load(`${c.name}.minimal.yaml`, c.minimalSeed), c.minimalSeed);
    const cpu = process.cpuUsage();
    const r = shrinkFailure(load(`${c.name}.yaml`, c.seed), c.seed, { maxRuns: quick ? 300 : 2000 });
    const used = process.cpuUsage(cpu);
    if (minimal.violation?.invariant !== r.invariant) {
      throw new Error(`bench/shrink/${c.name}.minimal.yaml seed ${c.minimalSeed}: expected ${r.invariant}, found ${minimal.violation?.invariant ?? 'no violation'}`);
    }
    const at = `shrink.${c.name}`;
    out.push(
      figure(`${at}.original-events`, r.original.size.events, 'events'),
      figure(`${at}.shrunk-events`, r.shrunk.size.events, 'events'),
      figure(`${at}.minimal-events`, minimal.events, 'events'),
      figure(`${at}.ratio`, r.shrunk.size.events / minimal.events, 'shrunk/minimal events'),
      figure(`${at}.original-faults`, r.original.size.faults, 'faults'),
      figure(`${at}.shrunk-faults`, r.shrunk.size.faults, 'faults'),
      figure(`${at}.shrunk-hosts`, r.shrunk.size.hosts, 'hosts'),
      figure(`${at}.runs`, r.runs, 'runs'),
      figure(`${at}.cpu`, (used.user + used.system) / 1e6, 'cpu seconds'),
    );
  }
  return out;
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  for (const r of benchShrink(process.argv.includes('--quick'))) console.log(JSON.stringify(r));
}
