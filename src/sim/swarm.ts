// Swarm testing over configuration: a scenario file may give a range or a set
// of choices instead of a value for many of its settings, and each seed draws
// its own scenario from them.
//
//   hosts: { between: [3, 6] }              an integer field draws an integer, both ends included
//   network: { loss: { between: [0, 0.05] } }   a real field draws a real (to 0.001)
//   dsm:
//     heap: { pageSize: { oneOf: [256, 512] } } any drawable field may list its choices
//     workloads:                            one workload per seed, each with its own options
//       registers: { opsPerThread: 200, computeUs: { between: [50000, 200000] } }
//       alloc-churn: { rounds: 120 }
//
// Each field draws from its own stream, named after its path
// (`streamFor(seed, 'swarm').fork('hosts')`), so adding or removing a drawn
// field never changes what the others draw. Draws that depend on each other
// are constrained rather than rejected: a field is drawn after the ones it
// depends on, within the range they leave (replication <= hosts, rootPages <
// pages, heartbeatTicks < electionTicks, minHoldMs < leaseMs, latency min <=
// mean <= max, clock drift within the leases' drift bound unless the scenario
// expects a violation). A spec validates only if its lowest and highest draws
// and each of its choices make valid scenarios; with the constraints above,
// every seed's draw is then valid too (drawScenario names the field if not).
import { WORKLOAD_OPTION_DEFAULTS } from '../vmm/workloads/index.js';
import { HEAP_DEFAULTS, LEASE_DEFAULTS, RAFT_DEFAULTS } from '../host/config.js';
import { streamFor } from './rng.js';
import { fieldPath, issuesOf, type InputIssue } from '../input/issues.js';
import { scenarioSchema, type Scenario } from './scenario.js';

/** Integers, reals, or a field that only takes one of listed values (booleans, names). */
type Kind = 'int' | 'real' | 'choice';

/** The range a field may be drawn from, given what was drawn before it. */
interface Bound { lo?: number; hi?: number; why: string }

interface Field {
  path: string;
  kind: Kind;
  /** Integers only: draws are multiples of this. */
  step?: number;
  /** `get` reads a field drawn before (or its default); `raw` is the scenario as drawn so far. */
  bound?: (get: (path: string) => number, raw: Raw) => Bound | null;
}

/** Reals are drawn to 0.001, so drawn scenarios read well. */
const REAL_STEP = 0.001;

const latencyFields = (prefix: string): Field[] => [
  { path: `${prefix}.minMs`, kind: 'real' },
  { path: `${prefix}.meanMs`, kind: 'real', bound: (get) => ({ lo: get(`${prefix}.minMs`), why: `at least ${prefix}.minMs` }) },
  { path: `${prefix}.maxMs`, kind: 'real', bound: (get) => ({ lo: get(`${prefix}.meanMs`), why: `at least ${prefix}.meanMs` }) },
];

/** The fields that can be drawn, in the order they are drawn (a field's bound reads only fields before it). */
const FIELDS: readonly Field[] = [
  { path: 'hosts', kind: 'int' },
  { path: 'initialVoters', kind: 'int', bound: (get) => ({ hi: get('hosts'), why: 'at most hosts' }) },
  { path: 'groups', kind: 'int' },
  { path: 'raft.tickMs', kind: 'int' },
  { path: 'raft.electionTicks', kind: 'int' },
  { path: 'raft.heartbeatTicks', kind: 'int', bound: (get) => ({ hi: get('raft.electionTicks') - 1, why: 'fewer than raft.electionTicks' }) },
  { path: 'raft.preVote', kind: 'choice' },
  { path: 'raft.checkQuorum', kind: 'choice' },
  { path: 'raft.snapshotEveryEntries', kind: 'int' },
  { path: 'raft.maxEntriesPerMsg', kind: 'int' },
  ...latencyFields('network.latency'),
  { path: 'network.loss', kind: 'real' },
  { path: 'network.duplicate', kind: 'real' },
  { path: 'network.reorder', kind: 'real' },
  ...latencyFields('disk.syncMs'),
  { path: 'disk.tornWrites', kind: 'choice' },
  { path: 'dsm.heap.pageSize', kind: 'int', step: 8 },
  { path: 'dsm.heap.pages', kind: 'int' },
  { path: 'dsm.heap.rootPages', kind: 'int', bound: (get) => ({ hi: get('dsm.heap.pages') - 1, why: 'fewer than dsm.heap.pages' }) },
  { path: 'dsm.replication', kind: 'int', bound: (get) => ({ hi: get('hosts'), why: 'at most hosts' }) },
  { path: 'dsm.leases.leaseMs', kind: 'real' },
  { path: 'dsm.leases.driftBoundPpm', kind: 'real' },
  { path: 'dsm.leases.retryMs', kind: 'real' },
  { path: 'dsm.leases.minHoldMs', kind: 'real', bound: (get) => ({ hi: get('dsm.leases.leaseMs') - REAL_STEP, why: 'less than dsm.leases.leaseMs' }) },
  { path: 'dsm.memoryLimitPages', kind: 'int' },
  { path: 'dsm.workload', kind: 'choice' },
  { path: 'dsm.threadsPerHost', kind: 'int' },
  /** The coherence model (sequential or release): a scenario may draw it per seed. */
  { path: 'dsm.coherence', kind: 'choice' },
  { path: 'clock.maxOffsetMs', kind: 'real' },
  // Leases are judged with the drift bound: a drift past it is unsafe, so it is drawn within it unless the scenario expects the violation.
  {
    path: 'clock.maxDriftPpm', kind: 'real',
    bound: (get, raw) => (raw['dsm'] === undefined || raw['expect'] !== undefined ? null : { hi: get('dsm.leases.driftBoundPpm'), why: 'at most dsm.leases.driftBoundPpm (the leases would be unsafe)' }),
  },
  { path: 'clock.maxJumpMs', kind: 'real' },
  { path: 'workload.clients', kind: 'int' },
  { path: 'workload.rateHz', kind: 'real' },
  { path: 'workload.keys', kind: 'int' },
  { path: 'workload.timeoutMs', kind: 'real' },
  { path: 'faults.nemesis.meanIntervalMs', kind: 'real' },
  { path: 'faults.nemesis.minDurationMs', kind: 'real' },
  { path: 'faults.nemesis.maxDurationMs', kind: 'real', bound: (get) => ({ lo: get('faults.nemesis.minDurationMs'), why: 'at least faults.nemesis.minDurationMs' }) },
  { path: 'faults.nemesis.membershipBurst.count', kind: 'int' },
  { path: 'faults.nemesis.membershipBurst.everyMs', kind: 'real' },
  // Drawn last, each from its own stream: scenarios without them draw as before.
  { path: 'byzantine.host', kind: 'int', bound: (get) => ({ hi: get('hosts'), why: 'at most hosts' }) },
  { path: 'byzantine.behaviour', kind: 'choice' },
  { path: 'byzantine.probability', kind: 'real' },
];

/** Defaults of the fields other fields' ranges depend on (what the schema fills in when a file leaves them out). */
const DEFAULTS: Readonly<Record<string, number>> = {
  'raft.electionTicks': RAFT_DEFAULTS.electionTicks,
  'network.latency.minMs': 0.2,
  'network.latency.meanMs': 1,
  'disk.syncMs.minMs': 0.05,
  'disk.syncMs.meanMs': 0.2,
  'dsm.heap.pages': HEAP_DEFAULTS.pages,
  'dsm.leases.leaseMs': LEASE_DEFAULTS.leaseMs,
  'dsm.leases.driftBoundPpm': LEASE_DEFAULTS.driftBoundPpm,
  'faults.nemesis.minDurationMs': 200,
};

export type Draw = { between: [number, number] } | { oneOf: unknown[] };

/** A field drawn per seed: where, how, and what from. */
export interface DrawSite {
  /** The field's path, or `dsm.workloads` for the choice of workload. */
  path: string;
  kind: Kind;
  step: number;
  draw: Draw;
  /** An option of this workload in `dsm.workloads`: drawn only when the workload is. */
  workload?: string;
}

/**
 * A validated scenario file whose fields may vary per seed. Plain data, so it
 * crosses to fuzz worker threads as it is.
 */
export interface ScenarioSpec {
  /** The scenario with every drawn field at its lowest value or first choice: for what never varies (name, durationS, expect). */
  base: Scenario;
  /** The file's value, draws in place. */
  raw: Raw;
  /** The drawn fields, in draw order; empty for a scenario that does not vary. */
  sites: DrawSite[];
}

/** One seed's scenario and the values it drew, by field, in draw order. */
export interface DrawnScenario {
  scenario: Scenario;
  /** The scenario as a file would give it (defaults not filled in): a file of it replays the seed alike. */
  raw: Raw;
  drew: Array<[string, unknown]>;
}

type Raw = Record<string, unknown>;

/** Chooses a draw: a number in [lo, hi] (integers: multiples of step from lo), or an index into `count` choices. */
interface Chooser {
  number(site: DrawSite, lo: number, hi: number): number;
  choice(site: DrawSite, count: number): number;
}

const WORKLOADS_PATH = 'dsm.workloads';

export function isSpec(s: Scenario | ScenarioSpec): s is ScenarioSpec {
  return 'sites' in s && 'base' in s;
}

/** The scenario seed `seed` runs: every drawn field from its own stream. */
export function drawScenario(spec: ScenarioSpec, seed: number): DrawnScenario {
  if (spec.sites.length === 0) return { scenario: spec.base, raw: spec.raw, drew: [] };
  const swarm = streamFor(seed, 'swarm');
  const chooser: Chooser = {
    number: (site, lo, hi) => {
      const rng = swarm.fork(site.path);
      return site.kind === 'real' ? rng.between(lo, hi) : lo + site.step * rng.int(0, Math.floor((hi - lo) / site.step) + 1);
    },
    choice: (site, count) => swarm.fork(site.path).int(0, count),
  };
  const a = assemble(spec.raw, spec.sites, chooser);
  const parsed = a.issues.length > 0 ? null : scenarioSchema.safeParse(a.raw);
  if (parsed === null || !parsed.success) {
    // Validation tried the ends of every range and every choice; were a draw in between invalid, say which field.
    const why = parsed === null ? a.issues.map((i) => `${i.path}: ${i.message}`) : issuesOf(parsed.error).map((i) => `${i.path}: ${i.message}`);
    throw new Error(`seed ${seed} of ${spec.base.name} drew an invalid scenario: ${why.join('; ')}`);
  }
  return { scenario: parsed.data, raw: a.raw, drew: a.drew };
}

/** One line for reports: `hosts=4 replication=2 pages=16x256B workload=alloc-churn lease=300ms ...`. */
export function describeDraws(d: DrawnScenario): string {
  const parts: string[] = [];
  const heap = d.scenario.dsm?.heap;
  let heapShown = false;
  for (const [path, value] of d.drew) {
    if (heap !== undefined && (path === 'dsm.heap.pages' || path === 'dsm.heap.pageSize')) {
      if (!heapShown) parts.push(`pages=${heap.pages}x${heap.pageSize}B`);
      heapShown = true;
    } else {
      parts.push(`${label(path)}=${String(value)}${unitOf(path)}`);
    }
  }
  return parts.join(' ');
}

const UNIT_RE = /(Ms|Ppm|Us|Hz)$/;
/** Containers dropped from labels, so `dsm.leases.leaseMs` reads `lease`. */
const CONTAINERS = new Set(['dsm', 'heap', 'leases', 'network', 'clock', 'faults', 'nemesis', 'workloadOptions', 'disk']);

function label(path: string): string {
  if (path === WORKLOADS_PATH) return 'workload';
  const segments = path.split('.');
  // dsm.workloads.NAME.option: the option.
  const kept = segments[1] === 'workloads' ? segments.slice(3) : segments.filter((s, i) => i === segments.length - 1 || !CONTAINERS.has(s));
  kept[kept.length - 1] = kept[kept.length - 1]!.replace(UNIT_RE, '');
  return kept.join('.');
}

function unitOf(path: string): string {
  return UNIT_RE.exec(path)?.[1]?.toLowerCase() ?? '';
}

// --- validation ---------------------------------------------------------------

/** Validates a parsed scenario file whose fields may be drawn; issues name the field (a.b[2].c) and what was expected. */
export function validateSpec(value: unknown): { ok: true; spec: ScenarioSpec } | { ok: false; issues: InputIssue[] } {
  const raw = isObject(value) ? structuredClone(value) : null;
  const issues: InputIssue[] = [];
  const drawable = new Set<string>();
  const sites = raw === null ? [] : collectSites(raw, drawable, issues);
  if (raw !== null) misplacedDraws(raw, '', drawable, issues);
  if (issues.length > 0) return { ok: false, issues };
  if (raw === null || sites.length === 0) {
    const parsed = scenarioSchema.safeParse(value);
    if (!parsed.success) return { ok: false, issues: issuesOf(parsed.error) };
    return { ok: true, spec: { base: parsed.data, raw: raw ?? {}, sites: [] } };
  }
  // The ends of every range, and every choice with the rest at their lowest and at their highest.
  const variants: Chooser[] = [lowest, highest];
  for (const site of sites) {
    if (!('oneOf' in site.draw)) continue;
    for (let i = 1; i < site.draw.oneOf.length; i++) {
      for (const rest of [lowest, highest]) variants.push({ ...rest, choice: (s, n) => (s === site ? Math.min(i, n - 1) : rest.choice(s, n)) });
    }
  }
  let base: Scenario | null = null;
  const seen = new Set<string>();
  for (const chooser of variants) {
    const a = assemble(raw, sites, chooser);
    const found = a.issues.length > 0 ? a.issues : schemaIssues(a, sites);
    for (const i of found) {
      const key = `${i.path}\n${i.message}`;
      if (!seen.has(key)) issues.push(i);
      seen.add(key);
    }
    if (base === null && found.length === 0) base = scenarioSchema.parse(a.raw);
  }
  if (issues.length > 0 || base === null) return { ok: false, issues };
  return { ok: true, spec: { base, raw, sites } };
}

const lowest: Chooser = { number: (_s, lo) => lo, choice: () => 0 };
const highest: Chooser = {
  number: (s, lo, hi) => (s.kind === 'int' ? lo + s.step * Math.floor((hi - lo) / s.step) : hi),
  choice: (_s, n) => n - 1,
};

/** The schema's issues with a drawn scenario, saying which draw gave a drawn field its value. */
function schemaIssues(a: { raw: Raw; drew: Array<[string, unknown]> }, sites: readonly DrawSite[]): InputIssue[] {
  const parsed = scenarioSchema.safeParse(a.raw);
  if (parsed.success) return [];
  const workload = a.drew.find(([p]) => p === WORKLOADS_PATH)?.[1];
  return parsed.error.issues.map((i) => {
    let path = fieldPath(i.path);
    // The drawn workload's block is the file's dsm.workloads.NAME.
    if (typeof workload === 'string') path = path.replace(/^dsm\.workload(Options)?/, `${WORKLOADS_PATH}.${workload}`);
    // The innermost drawn field holding the issue's (a workload option, not the workload).
    const d = a.drew.filter(([p]) => path === p || path.startsWith(`${p}.`)).sort((x, y) => y[0].length - x[0].length)[0];
    const site = d === undefined ? undefined : sites.find((s) => s.path === d[0]);
    if (d === undefined || site === undefined || site.path === WORKLOADS_PATH) return { path, message: i.message };
    const from = 'between' in site.draw ? `between [${site.draw.between.join(', ')}]` : `oneOf ${JSON.stringify(site.draw.oneOf)}`;
    return { path, message: `${i.message}; ${from} can draw ${JSON.stringify(d[1])}` };
  });
}

/** Every draw at a drawable field (and the choice of workload), with its shape checked, in draw order; `drawable` gets their paths. */
function collectSites(raw: Raw, drawable: Set<string>, issues: InputIssue[]): DrawSite[] {
  const sites: DrawSite[] = [];
  const add = (path: string, kind: Kind, step: number, workload?: string): void => {
    const v = getPath(raw, path);
    if (!isDrawShaped(v)) return;
    drawable.add(path);
    const draw = checkDraw(path, kind, step, v, issues);
    if (draw !== null) sites.push({ path, kind, step, draw, ...(workload !== undefined ? { workload } : {}) });
  };
  for (const f of FIELDS) {
    add(f.path, f.kind, f.step ?? 1);
    if (f.path !== 'dsm.workload') continue;
    // The workload's options follow it; their kind follows the options' defaults.
    const names = workloadMap(raw, issues);
    if (names.length > 0) {
      sites.push({ path: WORKLOADS_PATH, kind: 'choice', step: 1, draw: { oneOf: names } });
      for (const name of names) {
        for (const opt of keysOf(getPath(raw, `${WORKLOADS_PATH}.${name}`))) add(`${WORKLOADS_PATH}.${name}.${opt}`, optionKind([name], opt), 1, name);
      }
    } else {
      const w = getPath(raw, 'dsm.workload');
      const listed = isDrawShaped(w) && Array.isArray(w['oneOf']) ? w['oneOf'].filter((x): x is string => typeof x === 'string') : [typeof w === 'string' ? w : 'registers'];
      for (const opt of keysOf(getPath(raw, 'dsm.workloadOptions'))) add(`dsm.workloadOptions.${opt}`, optionKind(listed, opt), 1);
    }
  }
  return sites;
}

/** `dsm.workloads`: workload names to their options (which may be drawn); one workload is drawn per seed. */
function workloadMap(raw: Raw, issues: InputIssue[]): string[] {
  const dsm = raw['dsm'];
  if (!isObject(dsm) || dsm['workloads'] === undefined) return [];
  const w = dsm['workloads'];
  if (!isObject(w) || Object.keys(w).length === 0) {
    issues.push({ path: WORKLOADS_PATH, message: 'expected a map of workload names to their options, e.g. { registers: {}, alloc-churn: { rounds: 50 } }' });
    return [];
  }
  for (const key of ['workload', 'workloadOptions']) {
    if (dsm[key] !== undefined) issues.push({ path: `dsm.${key}`, message: 'expected either dsm.workloads (one drawn per seed) or dsm.workload and dsm.workloadOptions, not both' });
  }
  const names = Object.keys(w);
  for (const name of names) {
    if (WORKLOAD_OPTION_DEFAULTS[name] === undefined) {
      issues.push({ path: `${WORKLOADS_PATH}.${name}`, message: `expected a workload name: one of ${Object.keys(WORKLOAD_OPTION_DEFAULTS).join(', ')}` });
    } else if (!isObject(w[name])) {
      issues.push({ path: `${WORKLOADS_PATH}.${name}`, message: 'expected the options of the workload (a map, {} for none)' });
    }
  }
  return names;
}

function keysOf(v: unknown): string[] {
  return isObject(v) ? Object.keys(v) : [];
}

/** An option whose default is an integer for every workload that has it draws integers. */
function optionKind(workloads: readonly string[], option: string): Kind {
  const defaults = workloads.map((w) => WORKLOAD_OPTION_DEFAULTS[w]?.[option]).filter((d): d is number => d !== undefined);
  return defaults.length > 0 && defaults.every((d) => Number.isInteger(d)) ? 'int' : 'real';
}

function checkDraw(path: string, kind: Kind, step: number, v: Raw, issues: InputIssue[]): Draw | null {
  const keys = Object.keys(v);
  if (keys.length !== 1) {
    issues.push({ path, message: `expected a value, { between: [low, high] } or { oneOf: [...] }, got the keys ${keys.join(', ')}` });
    return null;
  }
  if ('oneOf' in v) {
    const choices = v['oneOf'];
    if (Array.isArray(choices) && choices.length > 0) return { oneOf: choices as unknown[] };
    issues.push({ path: `${path}.oneOf`, message: 'expected a non-empty list of values' });
    return null;
  }
  if (kind === 'choice') {
    issues.push({ path: `${path}.between`, message: 'expected oneOf: this field takes one of a set of values, not a range' });
    return null;
  }
  const b = v['between'];
  const what = kind === 'int' ? 'two integers' : 'two numbers';
  if (!Array.isArray(b) || b.length !== 2 || !b.every((x) => typeof x === 'number' && Number.isFinite(x) && (kind === 'real' || Number.isInteger(x)))) {
    issues.push({ path: `${path}.between`, message: `expected [low, high], ${what}, got ${JSON.stringify(b)}` });
    return null;
  }
  const [lo, hi] = b as [number, number];
  if (lo > hi) {
    issues.push({ path: `${path}.between`, message: `expected low <= high, got [${lo}, ${hi}]` });
    return null;
  }
  if (kind === 'int' && Math.floor(hi / step) * step < lo) {
    issues.push({ path: `${path}.between`, message: `expected a range holding a multiple of ${step}, got [${lo}, ${hi}]` });
    return null;
  }
  return { between: [lo, hi] };
}

/** A draw anywhere else is a field that cannot vary: say so, rather than "expected number". */
function misplacedDraws(v: unknown, path: string, drawable: ReadonlySet<string>, issues: InputIssue[]): void {
  if (Array.isArray(v)) {
    v.forEach((x, i) => misplacedDraws(x, `${path}[${i}]`, drawable, issues));
  } else if (isDrawShaped(v)) {
    if (!drawable.has(path)) issues.push({ path, message: `expected a fixed value: this field cannot vary per seed (those that can: ${FIELDS.map((f) => f.path).join(', ')}, and workload options)` });
  } else if (isObject(v)) {
    for (const [k, x] of Object.entries(v)) misplacedDraws(x, path === '' ? k : `${path}.${k}`, drawable, issues);
  }
}

// --- drawing ------------------------------------------------------------------

/** Fills every draw site with the chooser's pick, within the bounds earlier picks leave. */
function assemble(source: Raw, sites: readonly DrawSite[], chooser: Chooser): { raw: Raw; drew: Array<[string, unknown]>; issues: InputIssue[] } {
  const raw = structuredClone(source);
  const drew: Array<[string, unknown]> = [];
  const issues: InputIssue[] = [];
  const get = (path: string): number => {
    const v = getPath(raw, path);
    return typeof v === 'number' ? v : DEFAULTS[path] ?? Number.NaN;
  };
  let workload: string | null = null;
  for (const site of sites) {
    if (site.workload !== undefined && site.workload !== workload) continue;
    const bound = FIELDS.find((f) => f.path === site.path)?.bound?.(get, raw) ?? null;
    const value = pick(site, bound, chooser, issues);
    if (value === undefined) continue;
    drew.push([site.path, value]);
    if (site.path === WORKLOADS_PATH) {
      workload = value as string;
      const dsm = raw['dsm'] as Raw;
      dsm['workload'] = workload;
      dsm['workloadOptions'] = (dsm['workloads'] as Raw)[workload];
      delete dsm['workloads'];
    } else {
      setPath(raw, site.workload !== undefined ? `dsm.workloadOptions.${site.path.split('.').pop()!}` : site.path, value);
    }
  }
  return { raw, drew, issues };
}

function pick(site: DrawSite, bound: Bound | null, chooser: Chooser, issues: InputIssue[]): unknown {
  const within = (x: number): boolean => bound === null || !((bound.lo !== undefined && x < bound.lo) || (bound.hi !== undefined && x > bound.hi));
  if ('oneOf' in site.draw) {
    const allowed = site.draw.oneOf.filter((x) => typeof x !== 'number' || within(x));
    if (allowed.length > 0) return allowed[chooser.choice(site, allowed.length)];
    issues.push({ path: site.path, message: `expected a choice ${bound!.why}, got none of ${JSON.stringify(site.draw.oneOf)}` });
    return undefined;
  }
  let [lo, hi] = site.draw.between;
  if (bound?.lo !== undefined && Number.isFinite(bound.lo)) lo = Math.max(lo, bound.lo);
  if (bound?.hi !== undefined && Number.isFinite(bound.hi)) hi = Math.min(hi, bound.hi);
  if (site.kind === 'int') {
    lo = Math.ceil(lo / site.step) * site.step;
    hi = Math.floor(hi);
  }
  if (lo > hi) {
    issues.push({ path: site.path, message: `expected a range that allows a value ${bound?.why ?? ''}, got between [${site.draw.between.join(', ')}]` });
    return undefined;
  }
  const x = chooser.number(site, lo, hi);
  // Reals to the resolution, never outside the range.
  return site.kind === 'real' ? Math.min(hi, Math.max(lo, Number(x.toFixed(3)))) : x;
}

// --- plain data -----------------------------------------------------------------

function isObject(v: unknown): v is Raw {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isDrawShaped(v: unknown): v is Raw {
  return isObject(v) && ('between' in v || 'oneOf' in v);
}

function getPath(raw: Raw, path: string): unknown {
  let v: unknown = raw;
  for (const k of path.split('.')) {
    if (!isObject(v)) return undefined;
    v = v[k];
  }
  return v;
}

function setPath(raw: Raw, path: string, value: unknown): void {
  const keys = path.split('.');
  let o = raw;
  for (const k of keys.slice(0, -1)) {
    if (!isObject(o[k])) o[k] = {};
    o = o[k] as Raw;
  }
  o[keys[keys.length - 1]!] = value;
}
