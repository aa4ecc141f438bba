// Key-value histories as EDN maps, one a line (Porcupine's kv test data).
import type { KvInput, KvOp } from '../kv-model.js';
import { lines, Tracker } from './tracker.js';

export type EdnScalar = null | boolean | number | string | { readonly keyword: string };

/**
 * Parse one flat EDN map of keyword keys to scalars (nil, true/false,
 * integers, strings, keywords) — all these logs contain. Nested collections
 * are rejected rather than half-parsed.
 */
export function parseEdnFlatMap(s: string, line: number): Map<string, EdnScalar> {
  let i = 0;
  const fail = (what: string): never => {
    throw new Error(`line ${line}, column ${i + 1}: expected ${what}, got ${i < s.length ? JSON.stringify(s.slice(i, i + 12)) : 'end of line'}`);
  };
  const ws = (): void => {
    while (i < s.length && (s[i] === ' ' || s[i] === ',' || s[i] === '\t')) i++;
  };
  const symbol = (): string => {
    const start = i;
    while (i < s.length && /[^\s,{}[\]()"]/.test(s[i]!)) i++;
    return s.slice(start, i);
  };
  const value = (): EdnScalar => {
    const c = s[i];
    if (c === '"') {
      i++;
      let out = '';
      for (;;) {
        if (i >= s.length) fail('closing "');
        const ch = s[i++]!;
        if (ch === '"') return out;
        if (ch === '\\') {
          const e = s[i++];
          const map: Record<string, string> = { n: '\n', t: '\t', r: '\r', '"': '"', '\\': '\\' };
          if (e === undefined || !(e in map)) fail('a string escape (\\n \\t \\r \\" \\\\)');
          out += map[e!];
        } else out += ch;
      }
    }
    if (c === ':') {
      i++;
      const name = symbol();
      if (name === '') fail('a keyword name');
      return { keyword: name };
    }
    const sym = symbol();
    if (sym === 'nil') return null;
    if (sym === 'true') return true;
    if (sym === 'false') return false;
    if (/^-?\d+$/.test(sym)) return Number(sym);
    i -= sym.length;
    return fail('nil, true, false, an integer, a string or a keyword');
  };
  const out = new Map<string, EdnScalar>();
  ws();
  if (s[i] !== '{') fail('{');
  i++;
  for (;;) {
    ws();
    if (s[i] === '}') {
      i++;
      break;
    }
    if (s[i] !== ':') fail('a keyword key or }');
    i++;
    const k = symbol();
    if (k === '') fail('a keyword name');
    ws();
    if (s[i] === '}' || i >= s.length) fail(`a value for :${k}`);
    const v = value();
    if (out.has(k)) throw new Error(`line ${line}: duplicate key :${k}`);
    out.set(k, v);
  }
  ws();
  if (i < s.length) fail('end of line after }');
  return out;
}

function kw(v: EdnScalar | undefined): string | undefined {
  return v !== null && typeof v === 'object' ? v.keyword : undefined;
}

/**
 * EDN kv log: `{:process N, :type :invoke|:ok|:fail|:info, :f :get|:put|:append, :key "k", :value ...}`.
 * A :fail did not happen and is dropped; :info or still pending at the end
 * is an unknown outcome. A get's nil value reads as ''.
 */
export function parseKvEdnLog(text: string): KvOp[] {
  const tracker = new Tracker<KvInput, string | null>();
  const all = lines(text);
  for (let idx = 0; idx < all.length; idx++) {
    const line = idx + 1;
    const raw = all[idx]!;
    if (raw.trim() === '') continue;
    const m = parseEdnFlatMap(raw, line);
    const process = m.get('process');
    if (typeof process !== 'number') throw new Error(`line ${line}: expected :process to be an integer`);
    const type = kw(m.get('type'));
    if (type === undefined) throw new Error(`line ${line}: expected :type to be a keyword (:invoke, :ok, :fail or :info)`);
    const f = kw(m.get('f'));
    if (f !== 'get' && f !== 'put' && f !== 'append') throw new Error(`line ${line}: expected :f to be :get, :put or :append`);
    const key = m.get('key');
    if (typeof key !== 'string' && typeof key !== 'number') throw new Error(`line ${line}: expected :key to be a string`);
    const keyStr = String(key);
    const value = m.get('value');
    if (value !== undefined && value !== null && typeof value !== 'string') throw new Error(`line ${line}: expected :value to be a string or nil`);
    switch (type) {
      case 'invoke': {
        let input: KvInput;
        if (f === 'get') input = { kind: 'get', key: keyStr };
        else {
          if (typeof value !== 'string') throw new Error(`line ${line}: :invoke :${f} needs a string :value`);
          input = { kind: f, key: keyStr, value };
        }
        tracker.invoke(process, f, input, line);
        break;
      }
      case 'ok': {
        const p = tracker.take(process, type, f, line);
        const output = f === 'get' ? (value ?? '') : null;
        tracker.record(process, { client: process, input: p.input, output, call: p.line, ret: line });
        break;
      }
      case 'fail':
        tracker.take(process, type, f, line);
        tracker.record(process, null);
        break;
      case 'info': {
        const p = tracker.take(process, type, f, line);
        tracker.record(process, { client: process, input: p.input, output: null, call: p.line, ret: Infinity });
        break;
      }
      default:
        throw new Error(`line ${line}: unknown :type :${type}: expected :invoke, :ok, :fail or :info`);
    }
  }
  return tracker.finish(() => null);
}
