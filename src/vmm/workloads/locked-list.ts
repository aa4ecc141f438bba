// locked-list: a hash table of linked lists built with malloc by threads on
// every host, each bucket under its own lock. Thread t inserts keys
// t * inserts + 1 .. (t + 1) * inserts: it locks the key's bucket, mallocs a
// node { key, value, next }, links it at the head and unlocks. Every
// `removeEvery`-th insert it also removes one of its own earlier keys: it locks
// that bucket, walks the list, unlinks the node, unlocks and frees it (nodes of
// one bucket come from every host's heap, so the walk crosses hosts).
//
// The links are plain reads and writes: only the bucket locks keep two threads
// from linking at the same head (a lost node) or unlinking around each other.
//
// Verify: every bucket holds exactly the keys inserted and not removed that
// hash to it, each once, with its value, and nothing else.
//
// Root layout: word b is bucket b's head (0: empty); word `buckets` counts
// failed mallocs, word `buckets + 1` walks that found a list longer than every
// key (a cycle: only broken locks make one).
import type { ThreadContext, ThreadProgram, VerifyProgram, Workload } from '../thread.js';
import { lock, unlock } from '../thread-api.js';
import { add, compute, free, jitter, malloc, read, requireInt, requireRoot, summarize, write, WORD } from './common.js';

export interface LockedListOptions {
  /** Keys each thread inserts. */
  inserts: number;
  /** Buckets (and locks). */
  buckets: number;
  /** Every this many inserts a thread removes one of its earlier keys (0: never). */
  removeEvery: number;
  /** Local work between two operations, at most (µs). */
  computeUs: number;
}

export const LOCKED_LIST_DEFAULTS: Readonly<LockedListOptions> = { inserts: 20, buckets: 4, removeEvery: 3, computeUs: 100 };

/** Node fields, byte offsets. */
const KEY = 0;
const VALUE = 4;
const NEXT = 8;
const NODE_BYTES = 12;

/** The value stored with a key, so verify can tell a node's fields apart from another's. */
export function lockedListValue(key: number): number {
  return Math.imul(key, 0x9e3779b1) >>> 0;
}

/** Thread `index`'s keys in insertion order, and which of them it removes (their order of removal). */
export function lockedListKeys(o: LockedListOptions, index: number): { inserted: number[]; removed: number[] } {
  const inserted: number[] = [];
  const removed: number[] = [];
  for (let i = 0; i < o.inserts; i++) {
    inserted.push(index * o.inserts + i + 1);
    // The key inserted removeEvery - 1 inserts ago (never a removed one: removals are removeEvery apart).
    if (o.removeEvery > 0 && (i + 1) % o.removeEvery === 0) removed.push(index * o.inserts + i + 2 - o.removeEvery);
  }
  return { inserted, removed };
}

export interface LockedListWorkload extends Workload {
  readonly options: Readonly<LockedListOptions>;
}

export function lockedListWorkload(options: Partial<LockedListOptions> = {}): LockedListWorkload {
  const o: LockedListOptions = { ...LOCKED_LIST_DEFAULTS, ...options };
  requireInt('locked-list', 'inserts', o.inserts, 1, 1 << 20);
  requireInt('locked-list', 'buckets', o.buckets, 1, 4096);
  requireInt('locked-list', 'removeEvery', o.removeEvery, 0);
  requireInt('locked-list', 'computeUs', o.computeUs, 0);
  const rootBytes = (o.buckets + 2) * WORD;
  const head = (b: number): number => b * WORD;
  const oomWord = o.buckets * WORD;
  const cycleWord = (o.buckets + 1) * WORD;
  const bucketOf = (key: number): number => key % o.buckets;

  return {
    name: 'locked-list',
    options: o,
    *thread(ctx: ThreadContext): ThreadProgram {
      requireRoot('locked-list', ctx, rootBytes);
      const keys = lockedListKeys(o, ctx.index);
      let removals = 0;
      for (let i = 0; i < o.inserts; i++) {
        const key = keys.inserted[i]!;
        const b = bucketOf(key);
        yield* lock(b);
        const node = yield* malloc(NODE_BYTES);
        if (node === 0) yield* add(oomWord, 1);
        else {
          yield* write(node + KEY, key);
          yield* write(node + VALUE, lockedListValue(key));
          yield* write(node + NEXT, yield* read(head(b)));
          yield* write(head(b), node);
        }
        yield* unlock(b);
        yield* compute(jitter(ctx, o.computeUs));
        if (o.removeEvery > 0 && (i + 1) % o.removeEvery === 0) {
          const gone = keys.removed[removals++]!;
          const rb = bucketOf(gone);
          yield* lock(rb);
          let link = head(rb);
          let cur = yield* read(link);
          for (let steps = 0; cur !== 0 && (yield* read(cur + KEY)) !== gone; steps++) {
            if (steps > ctx.threads * o.inserts) {
              yield* add(cycleWord, 1);
              cur = 0;
              break;
            }
            link = cur + NEXT;
            cur = yield* read(link);
          }
          if (cur !== 0) yield* write(link, yield* read(cur + NEXT));
          yield* unlock(rb);
          // Unlinked under the lock: nobody reaches it any more, so it is freed outside.
          if (cur !== 0) yield* free(cur);
          yield* compute(jitter(ctx, o.computeUs));
        }
      }
    },
    *verify(ctx: ThreadContext): VerifyProgram {
      requireRoot('locked-list', ctx, rootBytes);
      const oom = yield* read(oomWord);
      if (oom !== 0) return `${oom} malloc(s) of a node failed: the heap is too small`;
      const cycles = yield* read(cycleWord);
      if (cycles !== 0) return `${cycles} walk(s) of a bucket found more nodes than keys (a cycle)`;
      const want = new Set<number>();
      for (let t = 0; t < ctx.threads; t++) {
        const k = lockedListKeys(o, t);
        for (const key of k.inserted) want.add(key);
        for (const key of k.removed) want.delete(key);
      }
      const seen = new Set<number>();
      const problems: string[] = [];
      for (let b = 0; b < o.buckets; b++) {
        let cur = yield* read(head(b));
        // A cycle (or a node linked twice) would walk forever: no list is longer than every key.
        for (let steps = 0; cur !== 0; steps++) {
          if (steps > want.size + ctx.threads * o.inserts) {
            problems.push(`bucket ${b}: more nodes than keys (a cycle?)`);
            break;
          }
          const key = yield* read(cur + KEY);
          const value = yield* read(cur + VALUE);
          if (bucketOf(key) !== b) problems.push(`bucket ${b} holds key ${key}, which hashes to bucket ${bucketOf(key)}`);
          if (value !== lockedListValue(key)) problems.push(`key ${key} has value ${value}, expected ${lockedListValue(key)}`);
          if (seen.has(key)) problems.push(`key ${key} is in the table twice`);
          else if (!want.has(key)) problems.push(`key ${key} is in the table but was ${key > 0 && key <= ctx.threads * o.inserts ? 'removed' : 'never inserted'}`);
          seen.add(key);
          cur = yield* read(cur + NEXT);
        }
      }
      const missing = [...want].filter((k) => !seen.has(k));
      if (missing.length > 0) problems.push(`${missing.length} key(s) missing, e.g. ${missing.slice(0, 5).join(', ')}`);
      return summarize(problems);
    },
  };
}
