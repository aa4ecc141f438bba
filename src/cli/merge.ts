// `gallocy merge FILE...`: the shards of one fuzz campaign, run anywhere with
// `fuzz --shard I/N --json`, merged into the campaign's report. Each file holds
// one report or several, one per line (what `parallel` or `kubectl logs`
// collect). Reports of different campaigns are refused, and so is a campaign
// with a shard missing or given twice: a merged report always covers every seed.
// Exit as fuzz: 1 if any seed failed, 0 otherwise, 2 for bad input.
import { z } from 'zod';
import { EXIT_CHECK_FAILED, EXIT_OK, InputError } from '../input/errors.js';
import { readInputFile } from '../input/yaml-file.js';
import { describeRange, inShard, shardOf, shardSize, type Campaign } from './campaign.js';
import { bySeed, coverage, formatFuzzText, reportFailed, type FuzzReport } from './fuzz.js';
import { jsonLines, parseJsonInput } from '../input/json-input.js';
import type { Io } from './output.js';
import { formatRecorded, readSeedFile, recordNewFailures } from './seed-file.js';

export interface MergeArgs {
  files: string[];
  json: boolean;
  /** Record the merged campaign's new failures here. */
  seedFile?: string;
}

const count = z.int().min(0);
const seconds = z.number().min(0);
// Loose: fields a newer fuzz adds to a failure are carried through the merge.
const traceEventSchema = z.object({ t: z.number(), host: z.number(), kind: z.string() }).catchall(z.union([z.number(), z.string()]));
const failureSchema = z.looseObject({
  seed: count, invariant: z.string(), message: z.string(), replay: z.string(), lastEvents: z.array(traceEventSchema).default([]),
});

const campaignSchema = z.object({
  scenario: z.string().min(1),
  scenarioHash: z.string().min(1),
  start: count,
  seeds: z.int().min(1),
  shards: z.int().min(1),
  stopOnFirst: z.boolean(),
  expect: z.string().optional(),
});

const reportSchema = z
  .object({
    scenario: z.string(),
    seeds: count,
    start: count,
    failures: z.array(failureSchema),
    events: count,
    simSeconds: seconds,
    wallSeconds: seconds,
    expectedViolations: count.optional(),
    campaign: campaignSchema,
    shard: z.int().min(1).optional(),
    rerun: z.object({ seeds: count, failures: z.array(failureSchema) }).optional(),
    merged: z.object({ wallSecondsMax: seconds }).optional(),
    // Absent in the reports of a gallocy without probes: then they add nothing.
    probes: z.record(z.string(), count).default({}),
    probesMissed: z.array(z.string()).default([]),
    faultPointsFired: z.record(z.string(), count).default({}),
  })
  .superRefine((r, ctx) => {
    const issue = (path: PropertyKey[], message: string): void => void ctx.addIssue({ code: 'custom', path, message });
    const c = r.campaign;
    if (r.merged) return issue(['merged'], 'expected the report of one shard, got a merged report (merge the shard reports it came from)');
    if (r.shard === undefined) return issue(['shard'], 'expected the shard number (from 1), as fuzz --json writes it');
    if (r.shard > c.shards) return issue(['shard'], `expected a shard from 1 to ${c.shards} (campaign.shards), got ${r.shard}`);
    if (r.scenario !== c.scenario) issue(['scenario'], `expected "${c.scenario}" (campaign.scenario), got "${r.scenario}"`);
    if (r.start !== c.start) issue(['start'], `expected ${c.start} (campaign.start), got ${r.start}`);
    const size = shardSize(c.seeds, { index: r.shard, count: c.shards });
    if (r.seeds > size) issue(['seeds'], `expected at most ${size} (the seeds of shard ${r.shard}/${c.shards}), got ${r.seeds}`);
    if ((r.expectedViolations !== undefined) !== (c.expect !== undefined)) {
      issue(['expectedViolations'], c.expect !== undefined ? `expected a count (campaign.expect is ${c.expect})` : 'expected none (campaign.expect is not set)');
    }
    for (const [i, f] of r.failures.entries()) {
      if (!inShard(f.seed, c, r.shard)) issue(['failures', i, 'seed'], `expected a seed of shard ${r.shard}/${c.shards} of ${describeRange(c.start, c.seeds)}, got ${f.seed}`);
    }
    for (const [i, f] of (r.rerun?.failures ?? []).entries()) {
      if (shardOf(f.seed, c.start, c.shards) !== r.shard) issue(['rerun', 'failures', i, 'seed'], `expected a seed that shard ${r.shard}/${c.shards} owns, got ${f.seed}`);
    }
  }) satisfies z.ZodType<FuzzReport>;

/** A validated shard report and where it came from ("file" or "file:line"). */
export interface ShardReport {
  where: string;
  report: FuzzReport & { shard: number };
}

const WHAT = 'a fuzz report (the output of gallocy fuzz --json)';

/** The reports in one file: the whole file as one JSON value, or one per line. */
export function readReports(file: string): ShardReport[] {
  const text = readInputFile(file, 'fuzz report');
  const lines = jsonLines(text);
  if (lines.length === 0) throw new InputError(`${file}: expected ${WHAT}, got an empty file`);
  // The refinement rejects a report without a shard, which the schema's type cannot say.
  const parse = (t: string, where: string): ShardReport => ({ where, report: parseJsonInput(t, where, WHAT, reportSchema) as ShardReport['report'] });
  return lines.length === 1 || isJson(text) ? [parse(text, file)] : lines.map((l) => parse(l.text, `${file}:${l.line}`));
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/** Throws unless all reports are of one campaign and each shard appears exactly once. */
export function checkShards(shards: readonly ShardReport[]): void {
  const first = shards[0];
  if (!first) throw new InputError('gallocy merge: expected at least one fuzz report');
  for (const s of shards.slice(1)) {
    const k = differingField(first.report.campaign, s.report.campaign);
    if (k !== null) {
      const why = k === 'scenarioHash' ? ' (the scenario was edited between shards, or gallocy versions differ)' : '';
      throw new InputError(
        `${s.where}: campaign.${k} is ${show(s.report.campaign[k])} but ${first.where} has ${show(first.report.campaign[k])}${why}: reports of different campaigns cannot be merged`,
      );
    }
    if ((s.report.rerun === undefined) !== (first.report.rerun === undefined)) {
      const [withRerun, without] = s.report.rerun ? [s, first] : [first, s];
      throw new InputError(`${without.where}: has no rerun (fuzz ran without --seed-file) but ${withRerun.where} has one: run every shard with the same --seed-file, or none`);
    }
  }
  const c = first.report.campaign;
  const where = new Map<number, string[]>();
  for (const s of shards) where.set(s.report.shard, [...(where.get(s.report.shard) ?? []), s.where]);
  const problems: string[] = [];
  for (const [shard, files] of [...where].sort((a, b) => a[0] - b[0])) {
    if (files.length > 1) problems.push(`shard ${shard}/${c.shards} is given ${files.length} times: ${files.join(', ')}`);
  }
  const missing = Array.from({ length: c.shards }, (_, i) => i + 1).filter((i) => !where.has(i));
  if (missing.length > 0) {
    problems.push(`${missing.length === 1 ? 'shard' : 'shards'} ${formatRanges(missing)} (of ${c.shards}) ${missing.length === 1 ? 'is' : 'are'} missing`);
  }
  if (problems.length > 0) {
    const name = `campaign ${c.scenario} (${describeRange(c.start, c.seeds)} in ${c.shards} shards)`;
    throw new InputError(`${name}: expected one report per shard, but ${problems.join('; ')}`);
  }
}

const CAMPAIGN_FIELDS: ReadonlyArray<keyof Campaign> = ['scenario', 'scenarioHash', 'start', 'seeds', 'shards', 'stopOnFirst', 'expect'];

/** The first field in which two campaigns differ, or null. */
function differingField(a: Campaign, b: Campaign): keyof Campaign | null {
  return CAMPAIGN_FIELDS.find((k) => a[k] !== b[k]) ?? null;
}

function show(v: unknown): string {
  return v === undefined ? '(absent)' : JSON.stringify(v);
}

/** [1,2,3,7] -> "1..3, 7". */
function formatRanges(sorted: readonly number[]): string {
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
    parts.push(i === j ? `${sorted[i]}` : `${sorted[i]}..${sorted[j]}`);
    i = j + 1;
  }
  return parts.join(', ');
}

/** The campaign's report from its shards' (checked by checkShards). */
export function mergeReports(shards: readonly FuzzReport[]): FuzzReport {
  const first = shards[0];
  if (!first) throw new Error('mergeReports: no reports');
  const c = first.campaign;
  const sum = (f: (r: FuzzReport) => number): number => shards.reduce((s, r) => s + f(r), 0);
  return {
    scenario: c.scenario,
    seeds: sum((r) => r.seeds),
    start: c.start,
    failures: bySeed(shards.flatMap((r) => r.failures)),
    events: sum((r) => r.events),
    simSeconds: sum((r) => r.simSeconds),
    wallSeconds: sum((r) => r.wallSeconds),
    ...(c.expect !== undefined ? { expectedViolations: sum((r) => r.expectedViolations ?? 0) } : {}),
    campaign: c,
    ...(first.rerun
      ? { rerun: { seeds: sum((r) => r.rerun?.seeds ?? 0), failures: bySeed(shards.flatMap((r) => r.rerun?.failures ?? [])) } }
      : {}),
    merged: { wallSecondsMax: shards.reduce((m, r) => Math.max(m, r.wallSeconds), 0) },
    ...coverage(shards.map((r) => r.probes), shards.map((r) => r.faultPointsFired)),
  };
}

export function mergeCommand(args: MergeArgs, deps: { io: Io }): number {
  const shards = args.files.flatMap(readReports);
  checkShards(shards);
  const past = args.seedFile !== undefined ? readSeedFile(args.seedFile) : undefined;
  const merged = mergeReports(shards.map((s) => s.report));
  deps.io.out(args.json ? `${JSON.stringify(merged)}\n` : formatFuzzText(merged));
  if (past && args.seedFile !== undefined) {
    const recorded = recordNewFailures(args.seedFile, past, merged.campaign, merged.failures);
    if (!args.json) deps.io.out(formatRecorded(args.seedFile, recorded));
  }
  return reportFailed(merged) ? EXIT_CHECK_FAILED : EXIT_OK;
}
