// The run trace: every simulated event is recorded into a rolling 64-bit
// hash (two 32-bit murmur3-style lanes, pure Math.imul integer maths, so the
// hash is identical in every process and on every machine) and into a small
// ring buffer of raw fields for failure reports. Events are named by the
// vocabulary (src/host/trace-events.ts); they become objects with named
// fields only in last(), or per event when a sink is set.
//
// Each event contributes, in order: its kind and host, time, the kind's
// numeric fields, and, if the kind has one, the note (its length and its
// string hash). The kind comes first, so it fixes how many words follow. Kind
// and host share one word (host * 256 + the kind's place in the vocabulary)
// while the host is below 2^23; otherwise the word is -1 - place and the host
// follows as a number. A number that is an int32 is one word; any other (and
// the escape word itself) is the escape word, a tag and two words: the
// integer's low and high halves, or the IEEE-754 bits.
import { MAX_TRACE_FIELDS, TRACE_EVENTS } from '../host/trace-events.js';
import type { RecordEvent, TraceEvent, TraceEventSpec, TraceKind } from '../host/trace-events.js';
import { fmix } from './hash-mix.js';

export interface TraceOptions {
  /** Where the time of each event comes from (the scheduler: microseconds). */
  clock: { readonly now: number };
  /** How many recent events to keep for reports. Default 64. */
  window?: number;
  /** If set, receives every event as one JSON line (no trailing newline). */
  sink?: (line: string) => void;
}

const TWO32 = 4294967296;
const MAX_SAFE = Number.MAX_SAFE_INTEGER;
const ESCAPE = 0x7fffffff;
const f64 = new DataView(new ArrayBuffer(8));

/** 32-bit FNV-1a over UTF-16 code units. */
function strHash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h | 0;
}

function hex8(x: number): string {
  return (x >>> 0).toString(16).padStart(8, '0');
}

/** A kind as the recorder needs it: resolved once per kind, at load. */
interface Kind {
  readonly name: string;
  /** Its name's hash: what the trace hash takes, so adding a kind to the vocabulary changes no other kind's events. */
  readonly hash: number;
  readonly fields: readonly string[];
  readonly note: string | undefined;
}

const KINDS = new Map<string, Kind>(
  Object.entries(TRACE_EVENTS as Record<string, TraceEventSpec>).map(([name, spec]) => {
    if (spec.fields.length > MAX_TRACE_FIELDS) throw new Error(`trace event ${name}: more than ${MAX_TRACE_FIELDS} fields`);
    return [name, { name, hash: strHash(name), fields: spec.fields, note: spec.note }];
  }),
);

type Arg = number | string | undefined;

export class Trace {
  private h1 = 0x243f6a88 | 0;
  private h2 = 0x85a308d3 | 0;
  private n = 0;
  private readonly clock: { readonly now: number };

  /** How many events last() reports. */
  private readonly window: number;
  /** Ring slots: the window, but at least one, which the sink reads the event from. */
  private readonly slots: number;
  private head = 0; // next write position
  private readonly wTime: Float64Array;
  private readonly wHost: Float64Array;
  /** MAX_TRACE_FIELDS slots per event. */
  private readonly wFields: Float64Array;
  private readonly wKind: Kind[];
  private readonly wNote: Array<string | undefined>;
  private readonly sink: ((line: string) => void) | undefined;
  private readonly noteHashes = new Map<string, number>();

  /**
   * Records one event now: its kind, its host, then the kind's fields in the
   * vocabulary's order. Hot path: no allocation unless a sink is set.
   */
  readonly record: RecordEvent;

  constructor(opts: TraceOptions) {
    const window = opts.window ?? 64;
    if (!Number.isInteger(window) || window < 0) throw new RangeError(`Trace: bad window ${window}`);
    this.clock = opts.clock;
    this.window = window;
    const slots = Math.max(1, window);
    this.slots = slots;
    this.wTime = new Float64Array(slots);
    this.wHost = new Float64Array(slots);
    this.wFields = new Float64Array(slots * MAX_TRACE_FIELDS);
    // Filled with a kind from the start: a store into an empty slot of a fresh array changes its elements kind (and the map the recorder was optimized for).
    this.wKind = new Array<Kind>(slots).fill(KINDS.values().next().value!);
    this.wNote = new Array<string | undefined>(slots).fill(undefined);
    this.sink = opts.sink;
    // Fixed parameters rather than a rest array, so a call allocates nothing.
    const record = (kind: TraceKind, host: number, a?: Arg, b?: Arg, c?: Arg, d?: Arg, e?: Arg, f?: Arg, g?: Arg, h?: Arg): void =>
      this.put(kind, host, a, b, c, d, e, f, g, h);
    this.record = record as RecordEvent;
  }

  /** Number of events recorded. */
  get count(): number {
    return this.n;
  }

  private put(name: string, host: number, a: Arg, b: Arg, c: Arg, d: Arg, e: Arg, f: Arg, g: Arg, h: Arg): void {
    const kind = KINDS.get(name);
    if (kind === undefined) throw new Error(`trace: unknown event kind ${JSON.stringify(name)} (not in src/host/trace-events.ts)`);
    // The types make callers pass numbers for the fields; a string note is checked, as it decides the hash's words.
    const k = kind.fields.length;
    let note: string | undefined;
    if (kind.note !== undefined) {
      const v = k === 0 ? a : k === 1 ? b : k === 2 ? c : k === 3 ? d : k === 4 ? e : k === 5 ? f : k === 6 ? g : h;
      if (typeof v !== 'string') throw new TypeError(`trace: ${name}'s ${kind.note} must be a string, got ${String(v)}`);
      note = v;
    }
    const time = this.clock.now;
    this.n++;
    this.word(kind.hash);
    this.num(host);
    this.num(time);
    // Unrolled, with no array in between: this runs for every event of every run.
    if (k > 0) this.num(a as number);
    if (k > 1) this.num(b as number);
    if (k > 2) this.num(c as number);
    if (k > 3) this.num(d as number);
    if (k > 4) this.num(e as number);
    if (k > 5) this.num(f as number);
    if (k > 6) this.num(g as number);
    if (note !== undefined) {
      this.word(note.length);
      this.word(this.noteHash(note));
    }
    const i = this.head;
    const w = this.wFields;
    const at = i * MAX_TRACE_FIELDS;
    if (k > 0) w[at] = a as number;
    if (k > 1) w[at + 1] = b as number;
    if (k > 2) w[at + 2] = c as number;
    if (k > 3) w[at + 3] = d as number;
    if (k > 4) w[at + 4] = e as number;
    if (k > 5) w[at + 5] = f as number;
    if (k > 6) w[at + 6] = g as number;
    this.wTime[i] = time;
    this.wHost[i] = host;
    this.wKind[i] = kind;
    this.wNote[i] = note;
    this.head = i + 1 === this.slots ? 0 : i + 1;
    if (this.sink !== undefined) this.sink(JSON.stringify(eventOf(kind, time, host, w, at, note)));
  }

  /** Notes repeat (modes, reasons, ops): their hashes are kept, up to a bound. */
  private noteHash(note: string): number {
    let h = this.noteHashes.get(note);
    if (h === undefined) {
      h = strHash(note);
      if (this.noteHashes.size < 1024) this.noteHashes.set(note, h);
    }
    return h;
  }

  /** The rolling hash over every event so far: 16 hex characters. */
  hash(): string {
    const n = this.n;
    const lo = n >>> 0;
    const hi = Math.floor(n / TWO32) | 0;
    return hex8(fmix(this.h1 ^ lo)) + hex8(fmix(this.h2 ^ Math.imul(hi + 1, 0x9e3779b1) ^ lo));
  }

  /** The last `window` events, oldest first, with their fields named. */
  last(): TraceEvent[] {
    const k = Math.min(this.n, this.window);
    const out: TraceEvent[] = [];
    let i = (this.head - k + this.slots) % this.slots;
    for (let j = 0; j < k; j++) {
      out.push(eventOf(this.wKind[i]!, this.wTime[i]!, this.wHost[i]!, this.wFields, i * MAX_TRACE_FIELDS, this.wNote[i]));
      i = i + 1 === this.slots ? 0 : i + 1;
    }
    return out;
  }

  // ---- hashing ----

  private num(v: number): void {
    if ((v | 0) === v && v !== ESCAPE) this.word(v);
    else this.wide(v);
  }

  private wide(v: number): void {
    this.word(ESCAPE);
    if (v === Math.floor(v) && v <= MAX_SAFE && v >= -MAX_SAFE) {
      const hi = Math.floor(v / TWO32);
      this.word(0);
      this.word((v - hi * TWO32) | 0);
      this.word(hi | 0);
    } else {
      // NaN, infinities and fractions: hash the IEEE-754 bits (big-endian,
      // so the result does not depend on the machine's byte order).
      f64.setFloat64(0, v);
      this.word(1);
      this.word(f64.getInt32(0));
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

/** An event as an object: time, host, kind, then the fields (and note) under their names. */
function eventOf(kind: Kind, t: number, host: number, values: Float64Array, at: number, note: string | undefined): TraceEvent {
  const e: TraceEvent = { t, host, kind: kind.name };
  for (let j = 0; j < kind.fields.length; j++) e[kind.fields[j]!] = values[at + j]!;
  if (kind.note !== undefined && note !== undefined) e[kind.note] = note;
  return e;
}
