// Shrink quality: for each planted bug (a scenario's `bugs:` flag) and a few
// mutants of the mutation benchmark, a failing seed of a campaign-like
// scenario is shrunk, and the shrunk run's events are compared with those of
// a scenario written by hand to be as small as we could make it
// (bench/shrink/NAME.minimal.yaml). The goal is a ratio of at most 2.
// Figures as JSON lines; run alone with `node dist/bench/shrink.js`.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as original from '../src/sim/run.js';
import { figure, type BenchResult } from './result.js';
import { mutatedBuild } from './shrink/mutated-build.js';

interface Case {
  name: string;
  /** The scenario a campaign found the failure with: bench/shrink/NAME.yaml, or a shipped one. */
  scenario: string;
  /** Its failing seed. */
  seed: number;
  /** The seed bench/shrink/NAME.minimal.yaml fails with. */
  minimalSeed: number;
  /** A mutant of bench/mutants (NAME.mutant): the runs are of the mutated code. */
  mutant?: boolean;
}

const ROOT = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const DIR = path.join(ROOT, 'bench', 'shrink');
const own = (name: string): string => path.join(DIR, `${name}.yaml`);
const shipped = (name: string): string => path.join(ROOT, 'scenarios', `${name}.yaml`);

const CASES: readonly Case[] = [
  { name: 'send-before-sync', scenario: own('send-before-sync'), seed: 5, minimalSeed: 5 },
  { name: 'forget-vote', scenario: own('forget-vote'), seed: 4, minimalSeed: 318 },
  { name: 'local-reads', scenario: own('local-reads'), seed: 1, minimalSeed: 360 },
  { name: 'skip-write-back', scenario: own('skip-write-back'), seed: 2, minimalSeed: 37 },
  { name: 'raft-double-vote', scenario: shipped('raft-chaos'), seed: 4, minimalSeed: 2, mutant: true },
  { name: 'dsm-write-lease-keeps-readers', scenario: shipped('dsm-chaos'), seed: 2, minimalSeed: 19, mutant: true },
];

/** The modules a case runs: this build's, or a mutated copy's. */
interface Code {
  runSeed: typeof original.runSeed;
  shrinkFailure: typeof import('../src/sim/shrink/shrink.js').shrinkFailure;
  load(file: string, seed: number): import('../src/sim/scenario.js').Scenario;
}

async function codeAt(dist: string): Promise<Code> {
  const run = (await import(path.join(dist, 'src', 'sim', 'run.js'))) as typeof import('../src/sim/run.js');
  const shrink = (await import(path.join(dist, 'src', 'sim', 'shrink', 'shrink.js'))) as typeof import('../src/sim/shrink/shrink.js');
  const files = (await import(path.join(dist, 'src', 'cli', 'scenario-file.js'))) as typeof import('../src/cli/scenario-file.js');
  const swarm = (await import(path.join(dist, 'src', 'sim', 'swarm.js'))) as typeof import('../src/sim/swarm.js');
  return { runSeed: run.runSeed, shrinkFailure: shrink.shrinkFailure, load: (file, seed) => swarm.drawScenario(files.loadScenario(file).spec, seed).scenario };
}

export async function benchShrink(quick: boolean): Promise<BenchResult[]> {
  const out: BenchResult[] = [];
  const here = await codeAt(path.join(ROOT, 'dist'));
  for (const c of CASES) {
    const code = c.mutant ? await codeAt(path.join(mutatedBuild(ROOT, c.name), 'dist')) : here;
    const minimal = code.runSeed(code.load(path.join(DIR, `${c.name}.minimal.yaml`), c.minimalSeed), c.minimalSeed);
    const cpu = process.cpuUsage();
    const r = code.shrinkFailure(code.load(c.scenario, c.seed), c.seed, { maxRuns: quick ? 5000 : 50_000 });
    const used = process.cpuUsage(cpu);
    if (minimal.violation?.invariant !== r.invariant) {
      throw new Error(`bench/shrink/${c.name}.minimal.yaml seed ${c.minimalSeed}: expected ${r.invariant}, found ${minimal.violation?.invariant ?? 'no violation'}`);
    }
    // A mutant's failure is its own: the code as it is passes the seed.
    if (c.mutant && here.runSeed(here.load(c.scenario, c.seed), c.seed).violation?.invariant === r.invariant) {
      throw new Error(`${c.scenario} seed ${c.seed} fails ${r.invariant} without the mutant ${c.name} too`);
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
  for (const r of await benchShrink(process.argv.includes('--quick'))) console.log(JSON.stringify(r));
}
