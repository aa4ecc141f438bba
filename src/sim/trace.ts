// The run trace: every simulated event is recorded into a rolling 64-bit
// hash (two 32-bit murmur3-style lanes, pure Math.imul integer maths, so the
// hash is identical in every process and on every machine) and into a small
// ring buffer of raw fields for failure reports. Formatting happens only in
// last(), or per event when a sink is set.
//
// Each event contributes, in order: time, host, a, b (each as two 32-bit
// words: the integer's low and high halves, or the IEEE-754 bits for
// non-integers), the kind's string hash (cached per kind), and the note (a
// presence flag, its length and its string hash).

export interface TraceOptions {
  /** How many recent events to keep for reports. Default 64. */
  window?: number;
  /** If set, receives every event as one JSON line (no trailing newline). */
  sink?: (line: string) => void;
}

const TWO32 = 4294967296;
const MAX_SAFE = Number.MAX_SAFE_INTEGER;
const f64 = new DataView(new ArrayBuffer(8));

/** 32-bit FNV-1a over UTF-16 code units. */
function strHash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h | 0;
}

function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function hex8(x: number): string {
  return (x >>> 0).toString(16).padStart(8, '0');
}

export class Trace {
  private h1 = 0x243f6a88 | 0;
  private h2 = 0x85a308d3 | 0;
  private n = 0;
  private readonly kindHashes = new Map<string, number>();

  private readonly size: number;
  private head = 0; // next write position
  private readonly wTime: Float64Array;
  private readonly wHost: Float64Array;
  private readonly wA: Float64Array;
  private readonly wB: Float64Array;
  private readonly wKind: string[];
  private readonly wNote: Array<string | undefined>;
  private readonly sink: ((line: string) => void) | undefined;

  constructor(opts?: TraceOptions) {
    const size = opts?.window ?? 64;
    if (!Number.isInteger(size) || size < 0) throw new RangeError(`Trace: bad window ${size}`);
    this.size = size;
    this.wTime = new Float64Array(size);
    this.wHost = new Float64Array(size);
    this.wA = new Float64Array(size);
    this.wB = new Float64Array(size);
    this.wKind = new Array<string>(size).fill('');
    this.wNote = new Array<string | undefined>(size).fill(undefined);
    this.sink = opts?.sink;
  }

  /** Number of events recorded. */
  get count(): number {
    return this.n;
  }

  /** Record one event. Hot path: no allocation unless a sink is set. */
  record(time: number, kind: string, host: number, a: number, b: number, note?: string): void {
    this.n++;
    this.num(time);
    this.num(host);
    this.num(a);
    this.num(b);
    let kh = this.kindHashes.get(kind);
    if (kh === undefined) {
      kh = strHash(kind);
      this.kindHashes.set(kind, kh);
    }
    this.word(kh);
    if (note === undefined) {
      this.word(0);
    } else {
      this.word(1);
      this.word(note.length);
      this.word(strHash(note));
    }

    if (this.size > 0) {
      const i = this.head;
      this.wTime[i] = time;
      this.wHost[i] = host;
      this.wA[i] = a;
      this.wB[i] = b;
      this.wKind[i] = kind;
      this.wNote[i] = note;
      this.head = i + 1 === this.size ? 0 : i + 1;
    }
    if (this.sink !== undefined) {
      this.sink(JSON.stringify({ t: time, kind, host, a, b, note }));
    }
  }

  /** The rolling hash over every event so far: 16 hex characters. */
  hash(): string {
    const n = this.n;
    const lo = n >>> 0;
    const hi = Math.floor(n / TWO32) | 0;
    return hex8(fmix(this.h1 ^ lo)) + hex8(fmix(this.h2 ^ Math.imul(hi + 1, 0x9e3779b1) ^ lo));
  }

  /** The last `window` events, formatted, oldest first. */
  last(): string[] {
    const k = Math.min(this.n, this.size);
    const out: string[] = [];
    let i = (this.head - k + this.size) % (this.size || 1);
    for (let j = 0; j < k; j++) {
      out.push(formatEvent(this.wTime[i]!, this.wKind[i]!, this.wHost[i]!, this.wA[i]!, this.wB[i]!, this.wNote[i]));
      i = i + 1 === this.size ? 0 : i + 1;
    }
    return out;
  }

  // ---- hashing ----

  private num(v: number): void {
    if (v === Math.floor(v) && v <= MAX_SAFE && v >= -MAX_SAFE) {
      const hi = Math.floor(v / TWO32);
      this.word((v - hi * TWO32) | 0);
      this.word(hi | 0);
    } else {
      // NaN, infinities and fractions: hash the IEEE-754 bits (big-endian,
      // so the result does not depend on the machine's byte order).
      f64.setFloat64(0, v);
      this.word(f64.getInt32(0) ^ 0x5bd1e995);
      this.word(f64.getInt32(4));
    }
  }

  private word(w: number): void {
    let k = Math.imul(w, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    let h = this.h1 ^ k;
    h = (h << 13) | (h >>> 19);
    this.h1 = (Math.imul(h, 5) + 0xe6546b64) | 0;

    let k2 = Math.imul(w ^ 0x9e3779b9, 0x85ebca6b);
    k2 = (k2 << 17) | (k2 >>> 15);
    k2 = Math.imul(k2, 0xc2b2ae35);
    let g = this.h2 ^ k2;
    g = (g << 11) | (g >>> 21);
    this.h2 = (Math.imul(g, 9) + 0x7f4a7c15) | 0;
  }
}

/** One event as a report line: `<time>us h<host> <kind> <a> <b> [note]`. */
export function formatEvent(
  time: number,
  kind: string,
  host: number,
  a: number,
  b: number,
  note: string | undefined,
): string {
  const base = `${time}us h${host} ${kind} ${a} ${b}`;
  return note === undefined ? base : `${base} ${note}`;
}
