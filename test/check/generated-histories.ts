// Histories generated from a seed, linearizable by construction: clients
// issue operations one after another; each operation takes effect at a point
// inside its [call, ret] interval, and running them on a real store in the
// order of those points gives the outputs. `staleRead` then breaks one.
import seedrandom from 'seedrandom';
import type { KvInput, KvOp } from '../../src/check/kv-model.js';
import type { RegisterOp, RegisterValue } from '../../src/check/register-model.js';

export interface HistoryShape {
  readonly ops: number;
  readonly clients: number;
  readonly keys: number;
  /** Fraction of operations whose outcome is unknown (they took effect or not, at random). */
  readonly lost?: number;
}

interface Planned {
  readonly idx: number;
  readonly client: number;
  readonly key: string;
  /** Which kind of operation, in [0, 1). */
  readonly roll: number;
  /** A second draw, for the operation's details. */
  readonly pick: number;
  readonly call: number;
  /** The linearization point. */
  readonly at: number;
  readonly ret: number;
  readonly lost: boolean;
}

/** The operations' timing, keys and kinds, listed in linearization order. */
function plan(seed: string, shape: HistoryShape): Planned[] {
  const rng = seedrandom(seed);
  const int = (lo: number, hi: number): number => lo + Math.floor(rng() * (hi - lo + 1));
  const clock = new Array<number>(shape.clients).fill(0);
  const planned: Planned[] = [];
  for (let idx = 0; idx < shape.ops; idx++) {
    const client = int(0, shape.clients - 1);
    const call = clock[client]! + int(1, 4);
    const at = call + int(0, 10);
    const ret = at + int(0, 10);
    clock[client] = ret;
    planned.push({ idx, client, key: String(int(0, shape.keys - 1)), roll: rng(), pick: rng(), call, at, ret, lost: rng() < (shape.lost ?? 0) });
  }
  return planned.sort((a, b) => a.at - b.at || a.idx - b.idx);
}

/** Reads, writes and compare-and-sets of unique values on `keys` registers. */
export function registerHistory(seed: string, shape: HistoryShape): RegisterOp[] {
  const value = new Map<string, RegisterValue>();
  const written = new Map<string, number[]>();
  let nextValue = 1;
  const out = new Array<RegisterOp>(shape.ops);
  for (const p of plan(seed, shape)) {
    const cur = value.get(p.key) ?? null;
    // An operation with an unknown outcome took effect or not, by `pick`.
    const effective = !p.lost || p.pick < 0.5;
    const base = { client: p.client, call: p.call, ret: p.lost ? Infinity : p.ret };
    if (p.roll < 0.5) {
      out[p.idx] = { ...base, input: { kind: 'read', key: p.key }, output: { kind: 'read', value: cur } };
      continue;
    }
    const v = nextValue++;
    let w = written.get(p.key);
    if (!w) written.set(p.key, (w = []));
    w.push(v);
    if (p.roll < 0.8) {
      if (effective) value.set(p.key, v);
      out[p.idx] = { ...base, input: { kind: 'write', key: p.key, value: v }, output: { kind: 'write' } };
    } else {
      // Half the time compare with the current value, so some succeed.
      const from = p.pick < 0.5 || w.length === 1 ? cur : w[Math.floor(p.pick * (w.length - 1))]!;
      const holds = from === cur;
      if (holds && effective) value.set(p.key, v);
      out[p.idx] = { ...base, input: { kind: 'cas', key: p.key, from, to: v }, output: { kind: 'cas', ok: holds } };
    }
  }
  return out;
}

/** Gets, puts and appends of unique strings on `keys` keys, as in Porcupine's kv histories. */
export function kvHistory(seed: string, shape: HistoryShape): KvOp[] {
  const value = new Map<string, string>();
  const out = new Array<KvOp>(shape.ops);
  for (const p of plan(seed, shape)) {
    const cur = value.get(p.key) ?? '';
    const effective = !p.lost || p.pick < 0.5;
    const base = { client: p.client, call: p.call, ret: p.lost ? Infinity : p.ret };
    if (p.roll < 0.4) {
      out[p.idx] = { ...base, input: { kind: 'get', key: p.key }, output: cur };
      continue;
    }
    const token = `x ${p.client} ${p.idx} y`;
    const input: KvInput = p.roll < 0.5 ? { kind: 'put', key: p.key, value: token } : { kind: 'append', key: p.key, value: token };
    if (effective) value.set(p.key, input.kind === 'put' ? token : cur + token);
    out[p.idx] = { ...base, input, output: null };
  }
  return out;
}

/**
 * The history with one read (or get) near the middle made to return a value
 * no operation ever produced: certainly not linearizable, and the search has
 * to rule out every order of the operations before it to say so.
 */
export function impossibleRead<H extends RegisterOp | KvOp>(history: readonly H[]): H[] {
  const reads = history.map((o, i) => [o, i] as const).filter(([o]) => (o.input.kind === 'read' || o.input.kind === 'get') && o.ret !== Infinity);
  if (reads.length === 0) throw new Error('impossibleRead: the history has no completed read');
  const [victim, at] = reads[reads.length >> 1]!;
  const broken = history.slice();
  broken[at] = { ...victim, output: victim.input.kind === 'get' ? 'never written' : { kind: 'read', value: -1 } } as H;
  return broken;
}
