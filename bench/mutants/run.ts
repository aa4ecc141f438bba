// npm run mutants [-- --only a,b] [-- --jobs J] [-- --budget SECONDS] [-- --keep]
//
// The mutation benchmark: for each planted bug in bench/mutants/*.mutant, copy
// the repository to a temporary directory, apply the patch, build it, and hunt
// for a failing seed with `gallocy fuzz` over the scenarios of the mutant's
// family, within a time budget. Prints one JSON line per mutant (its verdict,
// time to first failure, the invariant that fired, the seed and the command
// that replays it in the mutated copy), then a summary line. Exit 1 if any
// patch is stale or fails to build (the benchmark itself is broken), 2 on bad
// flags or a malformed mutant file; survivors are a measurement, not an error.
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { findRepoRoot } from '../../src/cli/repo-root.js';
import { runNode } from './child.js';
import { hunt, replayCommand, type Kill } from './hunt.js';
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
 * Small-scope, high-pressure scenarios a round visits before the others of
 * their family: their seeds are cheap and make the rare interleavings they
 * were written for common, so the bugs they target die in the first rounds.
 */
export const SHARP_FIRST: readonly string[] = ['dsm-late-release', 'dsm-drift-edge', 'dsm-alloc-loss'];

const sharpFirst = (names: string[]): string[] => [
  ...SHARP_FIRST.filter((s) => names.includes(s)),
  ...names.filter((s) => !SHARP_FIRST.includes(s)),
];

/** The scenarios each family is hunted with, in the order each round visits them. */
export function familyScenarios(root: string): Record<Family, string[]> {
  const yamls = (dir: string): string[] => (existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.yaml')).sort() : []);
  const shipped = yamls(path.join(root, 'scenarios')).filter((f) => hunts(path.join(root, 'scenarios', f))).map((f) => f.slice(0, -'.yaml'.length));
  const bench = yamls(path.join(root, BENCH_SCENARIOS)).map((f) => path.join(BENCH_SCENARIOS, f));
  const raft = shipped.filter((s) => s.startsWith('raft-'));
  const dsm = sharpFirst(shipped.filter((s) => s.startsWith('dsm-')));
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
  const r = await runNode(['bin/gallocy.js', 'replay', '--scenario', kill.scenario, '--seed', String(kill.seed), '--json'], dir, seedTimeout);
  if (r.code !== 1) return false;
  if (kill.invariant === 'crash') return true;
  try {
    return (JSON.parse(r.stdout) as { violation: { invariant: string } | null }).violation?.invariant === kill.invariant;
  } catch {
    return false;
  }
}

/**
 * The hook for the systematic explorer: once `gallocy check` is on main, run
 * it here on the mutated copy, with part of the budget, before the fuzz rounds,
 * and return its counterexample as a Kill. Until then there is none.
 */
async function explore(_dir: string, _m: Mutant, _budget: number): Promise<Kill | null> {
  return null;
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
    const explored = await explore(dir, m, f.budget);
    const h = explored !== null
      ? { kill: explored, wallSeconds: 0, cpuSeconds: 0, seeds: 0, preexisting: [], errors: [] }
      : await hunt({
        dir, scenarios, budgetSeconds: f.budget, seedTimeoutSeconds: f.seedTimeout,
        originalPasses: async (s, seed) => {
          const r = await runNode(['bin/gallocy.js', 'replay', '--scenario', s, '--seed', String(seed)], original, f.seedTimeout);
          return r.code === 0;
        },
      });
    Object.assign(report, { seconds: round(h.wallSeconds), cpuSeconds: round(h.cpuSeconds), seeds: h.seeds, preexisting: h.preexisting, problems: h.errors });
    if (h.kill === null) return { ...report, verdict: h.errors.length >= scenarios.length ? 'error' : 'survived' };
    const k = h.kill;
    return {
      ...report, verdict: 'killed', invariant: k.invariant, scenario: k.scenario, seed: k.seed, message: k.message,
      replay: replayCommand(k.scenario, k.seed), reproduced: k.invariant === 'hang' ? null : await reproduces(dir, k, f.seedTimeout),
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
