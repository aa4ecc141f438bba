// Intervals and write notices of lazy release consistency. A host's interval
// ends at each release that has writes to publish; its write notices name the
// pages it wrote (the interval's diffs, committed in each page's company, are
// applied there once a fetch names the interval). A release publishes every interval the
// releasing host knows of (its own and those it learnt at acquires), so an
// acquirer learns all that happens before it: transitively, as TreadMarks
// does. An acquirer whose copy of a page lacks a notice's interval invalidates
// it; its next access fetches the page naming the interval.
import { validateVectorTime, vtGet, vtMax, vtSet, vtSum, ZERO, type VectorTime } from './vector-time.js';

/** A page an interval wrote: its diff is committed in the page's company. */
export type WriteNotice = number;

export interface Interval {
  host: number;
  /** Ascending per host across its incarnations (see intervalSeq). */
  seq: number;
  /** The host's vector time when the interval ended (its own entry is seq). */
  vt: VectorTime;
  notices: readonly WriteNotice[];
}

/** What a release publishes (through the sync layer, to the next acquirers). */
export interface Published {
  /** The releaser's vector time: every interval it has seen. */
  vt: VectorTime;
  /** The intervals it knows of that not every host has seen yet, oldest first. */
  intervals: readonly Interval[];
  /** Too many to list (the record would pass the size limit): the acquirer must assume every page changed. */
  all?: true;
}

/** Interval numbers never repeat across a host's restarts: the incarnation is their high part. */
export function intervalSeq(incarnation: number, n: number): number {
  return incarnation * 2 ** 32 + n;
}

export function encodePublished(p: Published, maxChars: number): string {
  const text = JSON.stringify(p);
  if (text.length <= maxChars) return text;
  return JSON.stringify({ vt: p.vt, intervals: [], all: true } satisfies Published);
}

function nonNegInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/** Parses a published record another host wrote: every field checked, the message names the first bad one. */
export function decodePublished(text: string): Published | { error: string } {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return { error: 'published record: not JSON' };
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return { error: 'published record: expected an object' };
  const o = v as Record<string, unknown>;
  const vt = validateVectorTime(o['vt'], 'published record: vt');
  if ('error' in vt) return vt as { error: string };
  if (!Array.isArray(o['intervals'])) return { error: 'published record: intervals must be an array' };
  const intervals: Interval[] = [];
  for (const [i, x] of (o['intervals'] as unknown[]).entries()) {
    const at = `published record: intervals[${i}]`;
    if (typeof x !== 'object' || x === null) return { error: `${at} must be an object` };
    const r = x as Record<string, unknown>;
    if (!nonNegInt(r['host']) || r['host'] === 0) return { error: `${at}.host must be a positive integer` };
    if (!nonNegInt(r['seq']) || r['seq'] === 0) return { error: `${at}.seq must be a positive integer` };
    const ivt = validateVectorTime(r['vt'], `${at}.vt`);
    if ('error' in ivt) return ivt as { error: string };
    if (!Array.isArray(r['notices'])) return { error: `${at}.notices must be an array` };
    const notices: WriteNotice[] = [];
    for (const n of r['notices'] as unknown[]) {
      if (!nonNegInt(n)) return { error: `${at}.notices must hold pages, non-negative integers` };
      notices.push(n);
    }
    intervals.push({ host: r['host'], seq: r['seq'], vt: ivt as VectorTime, notices });
  }
  const all = o['all'];
  if (all !== undefined && all !== true) return { error: 'published record: all must be true or absent' };
  return all === true ? { vt: vt as VectorTime, intervals, all } : { vt: vt as VectorTime, intervals };
}

/** The intervals one host knows of, and its vector time. */
export class IntervalLog {
  private time: VectorTime = ZERO;
  /** Known intervals by "host:seq", in the order learnt (a linear extension of happens-before: see merge). */
  private known = new Map<string, Interval>();

  get vt(): VectorTime {
    return this.time;
  }

  /** This host's own interval (newer than everything it knows of). */
  addOwn(iv: Interval): void {
    this.known.set(`${iv.host}:${iv.seq}`, iv);
    this.time = vtMax(vtSet(this.time, iv.host, iv.seq), iv.vt);
  }

  /**
   * Takes in what a release published; returns the intervals new here, in
   * happens-before order (by vector-time sum, then host: an interval's sum
   * exceeds that of every interval before it).
   */
  merge(p: Published): Interval[] {
    const fresh: Interval[] = [];
    for (const iv of p.intervals) {
      const key = `${iv.host}:${iv.seq}`;
      if (this.known.has(key) || vtGet(this.time, iv.host) >= iv.seq) continue;
      fresh.push(iv);
    }
    fresh.sort((a, b) => vtSum(a.vt) - vtSum(b.vt) || a.host - b.host || a.seq - b.seq);
    for (const iv of fresh) this.known.set(`${iv.host}:${iv.seq}`, iv);
    this.time = vtMax(this.time, p.vt);
    for (const iv of fresh) this.time = vtSet(this.time, iv.host, iv.seq);
    return fresh;
  }

  /** What a release publishes now: every interval not yet seen by all (the floor), oldest first. */
  published(): Published {
    return { vt: this.time, intervals: [...this.known.values()] };
  }

  /** What published() will be once this host's interval `own` (newer than everything known) is added. */
  publishedWith(own: Interval): Published {
    return { vt: vtMax(vtSet(this.time, own.host, own.seq), own.vt), intervals: [...this.known.values(), own] };
  }

  /** Forgets intervals every host has seen (their entry in `floor` reaches them): they need publishing no more. */
  prune(floor: VectorTime): void {
    for (const [key, iv] of this.known) if (vtGet(floor, iv.host) >= iv.seq) this.known.delete(key);
  }

  get size(): number {
    return this.known.size;
  }
}
