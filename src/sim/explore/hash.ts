// 64-bit state hashes (two 32-bit murmur3-style lanes in pure Math.imul
// integer maths: the same in every process) and a set of them that remembers
// the shallowest depth each state was reached at.
//
// `value` hashes plain data reflectively: numbers, strings, arrays, typed
// arrays, Maps and Sets, and the own fields of any object, class instances
// included (TypeScript's `private` is a compile-time notion). Functions are
// skipped (a closure's state cannot be read), Maps and Sets hash their
// entries in any order (two paths that insert the same entries in another
// order reach the same state), and keys named in `skip` are not followed, so
// a walk stays inside the component it was given and out of the world's
// wiring (environments, configuration, ports). A reference back to an object
// being walked (a cycle) is hashed as a marker; a shared one is walked again.
// `frozen` hashes an object that never changes (a message, a log entry) once
// and remembers the result.
import { fmix } from '../hash-mix.js';

const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);

const TAG_UNDEFINED = 0x1b873593;
const TAG_NULL = 0x2f1c9e3a;
const TAG_TRUE = 0x61c88647;
const TAG_FALSE = 0x7a3b5c91;
const TAG_STRING = 0x3c6ef372;
const TAG_ARRAY = 0x510e527f;
const TAG_MAP = 0x1f83d9ab;
const TAG_OBJECT = 0x5be0cd19;
const TAG_SEEN = 0x6a09e667;
const TAG_FUNCTION = 0x0f6a5b2c;

/**
 * Keys a reflective walk does not follow by default: the wiring between
 * components (environments, configuration, ports), and statistics (they
 * count the past; nothing reads them to decide).
 */
export const SKIPPED_KEYS: ReadonlySet<string> = new Set(['env', 'cfg', 'hooks', 'rt', 'company', 'companies', 'memory', 'observer', 'ports', 'opts', 'stats']);

function rotl(x: number, r: number): number {
  return (x << r) | (x >>> (32 - r));
}

/** Deeper than this, a walk stops (plain data is never this deep; wiring can be). */
const MAX_DEPTH = 32;

export class Hasher {
  private a = 0x243f6a88 | 0;
  private b = 0x85a308d3 | 0;
  /** The objects on the path of the walk, for cycles. */
  private readonly path: object[] = [];
  private readonly frozenLanes = new WeakMap<object, [number, number]>();

  constructor(private readonly skip: ReadonlySet<string> = SKIPPED_KEYS) {}

  reset(): void {
    this.a = 0x243f6a88 | 0;
    this.b = 0x85a308d3 | 0;
  }

  /** One 32-bit word into both lanes. */
  word(w: number): void {
    let k = Math.imul(w | 0, 0xcc9e2d51);
    k = Math.imul(rotl(k, 15), 0x1b873593);
    this.a = (Math.imul(rotl(this.a ^ k, 13), 5) + 0xe6546b64) | 0;
    let j = Math.imul(w | 0, 0x85ebca77);
    j = Math.imul(rotl(j, 17), 0xc2b2ae3d);
    this.b = (Math.imul(rotl(this.b ^ j, 15), 5) + 0x52dce729) | 0;
  }

  /** Any number: a small integer as one word, anything else as its IEEE-754 bits. */
  num(x: number): void {
    if ((x | 0) === x) {
      this.word(x);
      return;
    }
    f64[0] = x;
    this.word(u32[0]!);
    this.word(u32[1]!);
  }

  str(s: string): void {
    this.word(TAG_STRING);
    this.word(s.length);
    let i = 0;
    for (; i + 1 < s.length; i += 2) this.word(s.charCodeAt(i) | (s.charCodeAt(i + 1) << 16));
    if (i < s.length) this.word(s.charCodeAt(i));
  }

  /** The 64-bit result so far, as two unsigned 32-bit lanes. */
  lanes(): [number, number] {
    return [fmix(this.a ^ 0x9e3779b9), fmix(this.b ^ 0x7f4a7c15)];
  }

  /**
   * Hashes an unordered collection: each element through `each` on its own,
   * the results summed lane by lane, so order does not matter but
   * multiplicity does.
   */
  unordered<T>(items: Iterable<T>, each: (item: T) => void): void {
    const a = this.a;
    const b = this.b;
    let sa = 0;
    let sb = 0;
    let n = 0;
    for (const item of items) {
      this.reset();
      each(item);
      const [x, y] = this.lanes();
      sa = (sa + x) | 0;
      sb = (sb + y) | 0;
      n++;
    }
    this.a = a;
    this.b = b;
    this.word(n);
    this.word(sa);
    this.word(sb);
  }

  /** Plain data, reflectively (see the file comment). */
  value(v: unknown): void {
    this.path.length = 0;
    this.walk(v);
  }

  /** An object that never changes: walked once, its hash remembered. */
  frozen(o: object): void {
    let l = this.frozenLanes.get(o);
    if (l === undefined) {
      const a = this.a;
      const b = this.b;
      this.reset();
      this.value(o);
      l = this.lanes();
      this.frozenLanes.set(o, l);
      this.a = a;
      this.b = b;
    }
    this.word(l[0]);
    this.word(l[1]);
  }

  private walk(v: unknown): void {
    switch (typeof v) {
      case 'number':
        this.num(v);
        return;
      case 'string':
        this.str(v);
        return;
      case 'boolean':
        this.word(v ? TAG_TRUE : TAG_FALSE);
        return;
      case 'undefined':
        this.word(TAG_UNDEFINED);
        return;
      case 'function':
        this.word(TAG_FUNCTION);
        return;
      case 'bigint':
        this.str(v.toString());
        return;
      case 'symbol':
        return;
      case 'object':
        break;
    }
    if (v === null) {
      this.word(TAG_NULL);
      return;
    }
    const o = v as object;
    const path = this.path;
    if (path.length >= MAX_DEPTH || path.includes(o)) {
      this.word(TAG_SEEN);
      return;
    }
    path.push(o);
    this.walkObject(o);
    path.pop();
  }

  private walkObject(o: object): void {
    if (Array.isArray(o)) {
      this.word(TAG_ARRAY);
      this.word(o.length);
      for (const x of o as unknown[]) this.walk(x);
      return;
    }
    if (ArrayBuffer.isView(o)) {
      const bytes = new Uint8Array(o.buffer, o.byteOffset, o.byteLength);
      this.word(bytes.length);
      for (let i = 0; i < bytes.length; i += 4) {
        this.word(bytes[i]! | (bytes[i + 1] ?? 0) << 8 | (bytes[i + 2] ?? 0) << 16 | (bytes[i + 3] ?? 0) << 24);
      }
      return;
    }
    if (o instanceof Map) {
      this.word(TAG_MAP);
      this.unorderedWalk(o.entries());
      return;
    }
    if (o instanceof Set) {
      this.word(TAG_MAP);
      this.unorderedWalk(o.values());
      return;
    }
    this.word(TAG_OBJECT);
    const rec = o as Record<string, unknown>;
    for (const key in rec) {
      if (this.skip.has(key)) continue;
      this.walk(rec[key]);
    }
  }

  /** Unordered, for Map and Set contents found in a walk. */
  private unorderedWalk(items: Iterable<unknown>): void {
    this.unordered(items, (x) => this.walk(x));
  }
}

/**
 * A set of 64-bit state hashes, each with the shallowest depth it was
 * reached at: open addressing over typed arrays, grown at half load.
 */
export class StateTable {
  private ka: Int32Array;
  private kb: Int32Array;
  /** Depth + 1; 0 marks an empty slot. */
  private depth: Int32Array;
  private mask: number;
  size = 0;

  constructor(capacityLog2 = 16) {
    const n = 1 << capacityLog2;
    this.ka = new Int32Array(n);
    this.kb = new Int32Array(n);
    this.depth = new Int32Array(n);
    this.mask = n - 1;
  }

  /**
   * Records the state at `depth`. Returns true if it is new, or was only
   * seen deeper (its subtree must then be explored again, since a bounded
   * search below it reached less far); false if it was seen at this depth
   * or shallower.
   */
  visit(a: number, b: number, depth: number): boolean {
    let i = (a ^ Math.imul(b, 0x9e3779b1)) & this.mask;
    for (;;) {
      const d = this.depth[i]!;
      if (d === 0) {
        this.ka[i] = a;
        this.kb[i] = b;
        this.depth[i] = depth + 1;
        if (++this.size * 2 > this.depth.length) this.grow();
        return true;
      }
      if (this.ka[i] === (a | 0) && this.kb[i] === (b | 0)) {
        if (d <= depth + 1) return false;
        this.depth[i] = depth + 1;
        return true;
      }
      i = (i + 1) & this.mask;
    }
  }

  private grow(): void {
    const { ka, kb, depth } = this;
    const n = depth.length * 2;
    this.ka = new Int32Array(n);
    this.kb = new Int32Array(n);
    this.depth = new Int32Array(n);
    this.mask = n - 1;
    this.size = 0;
    for (let i = 0; i < depth.length; i++) if (depth[i] !== 0) this.visit(ka[i]!, kb[i]!, depth[i]! - 1);
  }
}
