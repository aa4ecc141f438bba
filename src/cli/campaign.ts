// A fuzz campaign split into shards that run anywhere (other processes, other
// machines) and are merged afterwards. Shards are numbered from 1; shard I of N
// owns the seeds whose offset from the campaign's start is I-1 modulo N, so
// every shard gets the same mix of early and late seeds and a seed's shard
// follows from the seed alone (which also decides who re-runs a past failure).
import { createHash } from 'node:crypto';
import { stringify } from 'safe-stable-stringify';
import type { ScenarioSpec } from '../sim/swarm.js';
import { stringFlag } from './flags.js';

export interface Shard {
  /** 1-based. */
  index: number;
  count: number;
}

export const WHOLE_CAMPAIGN: Shard = { index: 1, count: 1 };

/** What every shard of one campaign shares; two reports merge only if these are equal. */
export interface Campaign {
  scenario: string;
  /** Hash of the validated scenario (defaults applied), so shards of edited scenarios are not merged. */
  scenarioHash: string;
  start: number;
  /** The whole campaign's seeds: start..start+seeds-1. */
  seeds: number;
  shards: number;
  stopOnFirst: boolean;
  /** The scenario's expect.violation, if any. */
  expect?: string;
}

const MAX_SHARDS = 1_000_000;

/** yargs coerce for --shard I/N. */
export function shardFlag(raw: unknown): Shard {
  const text = stringFlag('shard')(raw);
  const m = /^(\d+)\/(\d+)$/.exec(text);
  const index = Number(m?.[1]);
  const count = Number(m?.[2]);
  if (!m || !(count >= 1 && count <= MAX_SHARDS && index >= 1 && index <= count)) {
    throw new Error(`--shard: expected I/N with 1 <= I <= N <= ${MAX_SHARDS} (shards are numbered from 1, e.g. 1/4), got "${text}"`);
  }
  return { index, count };
}

/** The shard (1-based) of `count` that owns `seed` in a campaign starting at `start`; also for seeds below start. */
export function shardOf(seed: number, start: number, count: number): number {
  return (((seed - start) % count) + count) % count + 1;
}

/** How many of `seeds` seeds the shard owns. */
export function shardSize(seeds: number, shard: Shard): number {
  return seeds < shard.index ? 0 : Math.floor((seeds - shard.index) / shard.count) + 1;
}

/** The shard's seeds of start..start+seeds-1, ascending. */
export function shardSeeds(start: number, seeds: number, shard: Shard): number[] {
  return Array.from({ length: shardSize(seeds, shard) }, (_, k) => start + shard.index - 1 + k * shard.count);
}

export function inShard(seed: number, campaign: Campaign, index: number): boolean {
  return seed >= campaign.start && seed - campaign.start < campaign.seeds && shardOf(seed, campaign.start, campaign.shards) === index;
}

/** 16 hex digits of SHA-256 over the scenario (or its spec, draws in place) as JSON with sorted keys. */
export function scenarioHash(spec: ScenarioSpec): string {
  // A scenario that draws nothing hashes as it always did, so its seed files stay valid.
  return createHash('sha256').update(stringify(spec.sites.length === 0 ? spec.base : spec.raw)).digest('hex').slice(0, 16);
}

/** "seeds 1..100", "seed 7", "no seeds". */
export function describeRange(start: number, seeds: number): string {
  return seeds === 0 ? 'no seeds' : seeds === 1 ? `seed ${start}` : `seeds ${start}..${start + seeds - 1}`;
}
