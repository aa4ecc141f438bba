// npm run mutants [-- --only a,b] [-- --jobs J] [-- --budget CPU-SECONDS] [-- --keep]
//
// The mutation benchmark: for each planted bug in bench/mutants/*.mutant, copy
// the repository to a temporary directory, apply the patch, build it, and hunt
// for a failing seed with `gallocy fuzz` over the scenarios of the mutant's
// family and for a failing path with `gallocy check`, within a time budget.
// Prints one JSON line per mutant (its verdict, time to first failure, the
// invariant that fired, the seed or choice file and the command that replays
// it in the mutated copy), then a summary line. Exit 1 if any
// patch is stale or fails to build (the benchmark itself is broken), 2 on bad
// flags or a malformed mutant file; survivors are a measurement, not an error.
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { findRepoRoot } from '../../src/cli/repo-root.js';
import { cpuLimit, runNode } from './child.js';
import { hunt, replayCommand, type Interlude, type Kill } from './hunt.js';
import { applyMutant, MutantFormatError, parseMutant, type Family, type Mutant } from './mutant.js';

export const MUTANTS_DIR = path.join('bench', 'mutants');
/** Scenarios only the benchmark uses (the allocator's workload has no shipped scenario yet). */
const BENCH_SCENARIOS = path.join(MUTANTS_DIR, 'scenarios');
const BUILD_TIMEOUT_S = 600;

export type Verdict = 'killed' | 'survived' | 'equivalent' | 'stale' | 'build-failed' | 'error';

export interface MutantReport {
  mutant: string;
  family: Family;
  verdict: Verdict;
  /** Wall and CPU seconds of hunting until the first failure (or the whole hunt). */
  seconds: number | null;
  cpuSeconds: number | null;
  /** The invariant that fired, and the one the mutant's header expects. */
  invariant: string | null;
  expected: string;
  scenario: string | null;
  seed: number | null;
  message: string | null;
  replay: string | null;
  /** Whether the replay in the mutated copy failed the same way (null: not tried). */
  reproduced: boolean | null;
  seeds: number;
  scenarios: string[];
  /** Failures the original code shares too (not counted). */
  preexisting: Kill[];
  problems: string[];
  /** The mutated copy, kept with --keep (the replay runs there). */
  copy?: string;
}

export function loadMutants(root: string): Mutant[] {
  const dir = path.join(root, MUTANTS_DIR);
  const files = readdirSync(dir).filter((f) => f.endsWith('.mutant')).sort();
  return files.map((f) => {
    const m = parseMutant(readFileSync(path.join(dir, f), 'utf8'), path.join(MUTANTS_DIR, f));
    if (`${m.name}.mutant` !== f) throw new MutantFormatError(`${path.join(MUTANTS_DIR, f)}: name '${m.name}' does not match the file name`);
    return m;
  });
}

/** A scenario file hunts only if a clean seed passes it: one that expects a violation does not. */
function hunts(file: string): boolean {
  const doc = parseYaml(readFileSync(file, 'utf8')) as { expect?: unknown } | null;
  return doc?.expect === undefined;
}

/**
 * Scenarios each round visits first, sharpest first: small scopes under
 * high pressure, where one seed reaches what others need hundreds for
 * (raft-small: 3 hosts, a fault every 150 ms; bursts of membership changes;
 * clocks in lockstep for the election timeout's randomness; raft-chaos, whose
 * every seed draws its own configuration and fault kinds; for the shared
 * memory, releases held back past short leases, clocks at the drift bound,
 * allocation under loss, release consistency's diffs held back past
 * short lock leases, and lock holdings that lapse while giving back, their
 * diffs clogged). The rest follow in name order.
 */
export const FIRST_SCENARIOS: readonly string[] = [
  'raft-small', 'raft-membership-burst', 'raft-lockstep', 'raft-chaos',
  'dsm-late-release', 'dsm-drift-edge', 'dsm-alloc-loss', 'dsm-release-late', 'dsm-release-lapse',
];

const byPriority = (a: string, b: string): number => {
  const rank = (s: string): number => (FIRST_SCENARIOS.includes(s) ? FIRST_SCENARIOS.indexOf(s) : FIRST_SCENARIOS.length);
  return rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0);
};

/** The scenarios each family is hunted with, in the order each round visits them. */
export function familyScenarios(root: string): Record<Family, string[]> {
  const yamls = (dir: string): string[] => (existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.yaml')).sort() : []);
  const shipped = yamls(path.join(root, 'scenarios')).filter((f) => hunts(path.join(root, 'scenarios', f))).map((f) => f.slice(0, -'.yaml'.length)).sort(byPriority);
  const bench = yamls(path.join(root, BENCH_SCENARIOS)).map((f) => path.join(BENCH_SCENARIOS, f));
  const raft = shipped.filter((s) => s.startsWith('raft-'));
  const dsm = shipped.filter((s) => s.startsWith('dsm-'));
  const heap = bench.filter((s) => path.basename(s).startsWith('heap-'));
  return { raft, dsm: [...dsm, ...heap], heap: [...heap, ...dsm], host: [...raft, ...dsm] };
}

/** Copies the working tree (no .git, node_modules or build output) and links the dependencies. */
function copyTree(root: string, dest: string): void {
  const skip = new Set(['.git', 'node_modules', 'dist', path.join('native', 'build')]);
  cpSync(root, dest, { recursive: true, filter: (src) => !skip.has(path.relative(root, src)) });
  symlinkSync(realpathSync(path.join(root, 'node_modules')), path.join(dest, 'node_modules'), 'dir');
}

/** Builds what the simulator needs (src/ only: tests and benchmarks are not run there). */
async function build(dir: string): Promise<string | null> {
  writeFileSync(path.join(dir, 'tsconfig.mutant.json'), JSON.stringify({ extends: './tsconfig.json', include: ['src/**/*.ts'] }));
  const tsc = path.join(dir, 'node_modules', 'typescript', 'bin', 'tsc');
  const r = await runNode([tsc, '-p', 'tsconfig.mutant.json'], dir, BUILD_TIMEOUT_S);
  if (r.code === 0) return null;
  return `${r.stdout}\n${r.stderr}`.trim().split('\n').slice(0, 5).join('\n') || `tsc exited ${r.code}`;
}

interface Flags {
  only: string[] | null;
  jobs: number;
  budget: number;
  seedTimeout: number;
  keep: boolean;
}

function flags(argv: string[]): Flags {
  const { values } = parseArgs({
    args: argv,
    options: {
      only: { type: 'string' },
      jobs: { type: 'string', default: '1' },
      budget: { type: 'string', default: '120' },
      'seed-timeout': { type: 'string', default: '30' },
      keep: { type: 'boolean', default: false },
    },
    strict: true,
  });
  const positive = (flag: string, text: string, integer: boolean): number => {
    const n = Number(text);
    if (!/^\d+(\.\d+)?$/.test(text) || !(n > 0) || (integer && !Number.isInteger(n))) {
      throw new MutantFormatError(`--${flag}: expected a positive ${integer ? 'integer' : 'number of seconds'}, got "${text}"`);
    }
    return n;
  };
  return {
    only: values.only === undefined ? null : values.only.split(',').map((s) => s.trim()).filter((s) => s !== ''),
    jobs: positive('jobs', values.jobs, true),
    budget: positive('budget', values.budget, false),
    seedTimeout: positive('seed-timeout', values['seed-timeout'], false),
    keep: values.keep,
  };
}

/** Whether the failure replays in the mutated copy: the same invariant (a crash: the replay fails too). */
async function reproduces(dir: string, kill: Kill, seedTimeout: number): Promise<boolean> {
  if (kill.choices !== undefined) return (await replayPath(dir, kill, seedTimeout)) === kill.invariant;
  const r = await runNode(['bin/gallocy.js', 'replay', '--scenario', kill.scenario, '--seed', String(kill.seed), '--json'], dir, cpuLimit(seedTimeout));
  if (r.code !== 1) return false;
  if (kill.invariant === 'crash') return true;
  try {
    return (JSON.parse(r.stdout) as { violation: { invariant: string } | null }).violation?.invariant === kill.invariant;
  } catch {
    return false;
  }
}

/** One search of `gallocy check` on a mutated copy: the scenario, its flags, and a share of the budget. */
export interface ExploreProbe {
  scenario: string;
  /** Strategy, depth and fault budget flags of `gallocy check`. */
  flags: string[];
  /** Wall seconds at most (less if the hunt has less left). */
  seconds: number;
  /** It runs after this many fuzz campaigns (the first round's first scenarios are the sharpest). */
  afterBatches: number;
}

/**
 * On raft-tiny, random walks with one crash reach a vote that a crash takes
 * back (the crash must fall between the vote leaving and its fsync, which
 * fuzzing rarely hits) within a few thousand walks, and a depth-first search
 * without faults an acknowledgement that leaves before its entry is durable
 * in well under a second. The walks are bounded by count, so a kill's search
 * is also reproducible by its `gallocy check` command; 6000 walks take about
 * 5 CPU seconds, and the wall seconds cap them on a busy machine.
 */
const RAFT_PROBES: ExploreProbe[] = [
  { scenario: 'raft-tiny', flags: ['--strategy', 'random', '--depth', '40', '--crashes', '1', '--walks', '6000'], seconds: 30, afterBatches: 4 },
  { scenario: 'raft-tiny', flags: ['--strategy', 'dfs', '--depth', '30'], seconds: 3, afterBatches: 4 },
];

/** The explorer's searches per family. */
export const EXPLORE_PROBES: Record<Family, ExploreProbe[]> = {
  raft: RAFT_PROBES,
  host: RAFT_PROBES,
  dsm: [{ scenario: 'dsm-tiny', flags: ['--strategy', 'random', '--depth', '400', '--deviation', '0.05'], seconds: 6, afterBatches: 12 }],
  heap: [],
};

/** Where choice files of the explorer's kills are kept (outside the copies, which go at the end). */
export const CHOICES_DIR = path.join(tmpdir(), 'gallocy-mutants-choices');

/** The explorer's searches as interludes of the hunt: each a `gallocy check` in the mutated copy. */
function explorers(dir: string, m: Mutant, probes: readonly ExploreProbe[]): Interlude[] {
  return probes.map((p, i) => ({
    afterBatches: p.afterBatches,
    run: async (secondsLeft: number) => {
      mkdirSync(CHOICES_DIR, { recursive: true });
      const out = path.join(CHOICES_DIR, `${m.name}-${i + 1}.choices.json`);
      const budget = Math.max(0.5, Math.min(p.seconds, secondsLeft));
      const args = ['bin/gallocy.js', 'check', '--scenario', p.scenario, ...p.flags, '--budget', String(budget), '--out', out, '--json'];
      // The budget is the explorer's own search; building the world and writing the file come on top.
      const r = await runNode(args, dir, budget + 30);
      const cost = { wallSeconds: r.wallSeconds, cpuSeconds: r.cpuSeconds ?? r.wallSeconds };
      if (r.code === 0) return { kill: null, ...cost, error: null };
      try {
        const report = JSON.parse(r.stdout) as { seed: number; violation: { invariant: string; message: string } | null; choices: string | null };
        if (r.code !== 1 || report.violation === null || report.choices === null) throw new Error('no violation reported');
        const message = report.violation.message.split('\n')[0] ?? '';
        return { kill: { scenario: p.scenario, seed: report.seed, invariant: report.violation.invariant, message, choices: report.choices }, ...cost, error: null };
      } catch {
        return { kill: null, ...cost, error: `check ${p.scenario} ${p.flags.join(' ')}: exited ${r.code}: ${(r.stderr.split('\n')[0] ?? '') || r.stdout.slice(0, 200)}` };
      }
    },
  }));
}

/** Replays an explorer's path: the violation it reports, if any (null: none, or the path cannot be taken there). */
async function replayPath(dir: string, k: Kill, seedTimeout: number): Promise<string | null> {
  const r = await runNode(['bin/gallocy.js', 'replay', '--scenario', k.scenario, '--choices', k.choices!, '--json'], dir, cpuLimit(seedTimeout));
  if (r.code !== 1) return null;
  try {
    return (JSON.parse(r.stdout) as { violation: { invariant: string } | null }).violation?.invariant ?? null;
  } catch {
    return null;
  }
}

async function runMutant(m: Mutant, root: string, base: string, original: string, scenarios: string[], f: Flags): Promise<MutantReport> {
  const report: MutantReport = {
    mutant: m.name, family: m.family, verdict: 'error', seconds: null, cpuSeconds: null, invariant: null, expected: m.checker,
    scenario: null, seed: null, message: null, replay: null, reproduced: null, seeds: 0, scenarios, preexisting: [], problems: [],
  };
  const applied = applyMutant(m, (p) => (existsSync(path.join(root, p)) ? readFileSync(path.join(root, p), 'utf8') : null));
  if (!applied.ok) return { ...report, verdict: 'stale', problems: applied.problems };
  const dir = path.join(base, m.name);
  if (f.keep) report.copy = dir;
  try {
    copyTree(root, dir);
    for (const [p, text] of applied.files) writeFileSync(path.join(dir, p), text);
    const failed = await build(dir);
    if (failed !== null) return { ...report, verdict: 'build-failed', problems: [failed] };
    if (m.equivalent !== null) return { ...report, verdict: 'equivalent' };
    const h = await hunt({
      dir, scenarios, budgetSeconds: f.budget, seedTimeoutSeconds: f.seedTimeout,
      originalPasses: async (s, seed) => {
        const r = await runNode(['bin/gallocy.js', 'replay', '--scenario', s, '--seed', String(seed)], original, cpuLimit(f.seedTimeout));
        return r.code === 0;
      },
      interludes: explorers(dir, m, EXPLORE_PROBES[m.family]),
      // The original shares the failure only if the same path fails there too.
      originalPassesPath: async (k) => (await replayPath(original, k, f.seedTimeout)) === null,
    });
    Object.assign(report, { seconds: round(h.wallSeconds), cpuSeconds: round(h.cpuSeconds), seeds: h.seeds, preexisting: h.preexisting, problems: h.errors });
    if (h.kill === null) return { ...report, verdict: h.errors.length >= scenarios.length ? 'error' : 'survived' };
    const k = h.kill;
    return {
      ...report, verdict: 'killed', invariant: k.invariant, scenario: k.scenario, seed: k.seed, message: k.message,
      replay: replayCommand(k), reproduced: k.invariant === 'hang' ? null : await reproduces(dir, k, f.seedTimeout),
    };
  } finally {
    if (!f.keep) rmSync(dir, { recursive: true, force: true });
  }
}

const round = (x: number): number => Math.round(x * 100) / 100;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** The summary line: survivors count as slower than the budget, so a median that falls on one is null. */
export function summarize(reports: readonly MutantReport[], budget: number): Record<string, unknown> {
  const count = (v: Verdict): number => reports.filter((r) => r.verdict === v).length;
  const hunted = reports.filter((r) => r.verdict === 'killed' || r.verdict === 'survived');
  const killed = reports.filter((r) => r.verdict === 'killed');
  const times = (key: 'seconds' | 'cpuSeconds'): number[] => hunted.map((r) => (r.verdict === 'killed' ? r[key]! : Infinity));
  const med = (key: 'seconds' | 'cpuSeconds'): number | null => {
    if (hunted.length === 0) return null;
    const m = median(times(key));
    return Number.isFinite(m) ? round(m) : null;
  };
  const max = (key: 'seconds' | 'cpuSeconds'): number | null => (killed.length === 0 ? null : round(Math.max(...killed.map((r) => r[key]!))));
  return {
    summary: true,
    mutants: reports.length,
    killed: count('killed'),
    survived: count('survived'),
    equivalent: count('equivalent'),
    stale: count('stale'),
    buildFailed: count('build-failed'),
    errors: count('error'),
    killRate: hunted.length === 0 ? null : round(killed.length / hunted.length),
    medianSeconds: med('seconds'),
    maxSeconds: max('seconds'),
    medianCpuSeconds: med('cpuSeconds'),
    maxCpuSeconds: max('cpuSeconds'),
    budgetSeconds: budget,
    survivors: reports.filter((r) => r.verdict === 'survived').map((r) => r.mutant),
  };
}

async function main(argv: string[]): Promise<number> {
  let f: Flags;
  let mutants: Mutant[];
  const root = findRepoRoot();
  try {
    f = flags(argv);
    mutants = loadMutants(root);
    if (f.only !== null) {
      const unknown = f.only.filter((n) => !mutants.some((m) => m.name === n));
      if (unknown.length > 0) throw new MutantFormatError(`--only: no mutant named ${unknown.join(', ')} in ${MUTANTS_DIR} (expected one of ${mutants.map((m) => m.name).join(', ')})`);
      mutants = mutants.filter((m) => f.only!.includes(m.name));
    }
  } catch (err) {
    process.stderr.write(`mutants: ${(err as Error).message}\n`);
    return 2;
  }
  const base = mkdtempSync(path.join(tmpdir(), 'gallocy-mutants-'));
  const original = path.join(base, 'original');
  try {
    copyTree(root, original);
    const failed = await build(original);
    if (failed !== null) {
      process.stderr.write(`mutants: the unmutated tree does not build:\n${failed}\n`);
      return 1;
    }
    const byFamily = familyScenarios(original);
    const reports: MutantReport[] = [];
    const queue = [...mutants];
    let started = 0;
    await Promise.all(Array.from({ length: Math.min(f.jobs, queue.length) }, async () => {
      for (let m = queue.shift(); m !== undefined; m = queue.shift()) {
        process.stderr.write(`mutants: [${++started}/${mutants.length}] ${m.name}\n`);
        const r = await runMutant(m, root, base, original, byFamily[m.family], f);
        reports.push(r);
        process.stdout.write(`${JSON.stringify(r)}\n`);
      }
    }));
    process.stdout.write(`${JSON.stringify(summarize(reports, f.budget))}\n`);
    return reports.some((r) => r.verdict === 'stale' || r.verdict === 'build-failed' || r.verdict === 'error') ? 1 : 0;
  } finally {
    if (!f.keep) rmSync(base, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname)) {
  process.exitCode = await main(process.argv.slice(2));
}
