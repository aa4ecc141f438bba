/**
 * Parsers for the shared history formats (see
 * shared/data/linearizability/README.md). Pure string in, operations out; no
 * file access, so they can be used from tests, the simulator and the CLI.
 *
 * Logical time is the 1-based line number: an operation's `call` is the line
 * of its invocation and `ret` the line of its completion, so a report can
 * point straight at the file. Unknown outcomes get `ret = Infinity`.
 */
import type { KvInput, KvOp, Operation, RegisterInput, RegisterOp, RegisterOutput } from './linearizability.js';

export type HistoryFormat = 'jepsen-register' | 'kv-edn' | 'gallocy-records';

export type ParsedHistory =
  | { readonly format: 'jepsen-register' | 'gallocy-records'; readonly operations: RegisterOp[] }
  | { readonly format: 'kv-edn'; readonly operations: KvOp[] };

function lines(text: string): string[] {
  return text.split(/\r?\n/);
}

/** Tell the formats apart by their first non-blank line; null if neither. */
export function detectFormat(text: string): HistoryFormat | null {
  for (const raw of lines(text)) {
    const line = raw.trim();
    if (line === '') continue;
    if (line.startsWith('{"')) return 'gallocy-records';
    if (line.startsWith('{')) return 'kv-edn';
    if (/\bjepsen\.util\s+-\s+\d+\s/.test(line) || /^\d+\t:\w+\t/.test(line)) return 'jepsen-register';
    return null;
  }
  return null;
}

/** Parse whichever format the text is in; throws if it is neither. */
export function parseHistory(text: string): ParsedHistory {
  const format = detectFormat(text);
  if (format === 'jepsen-register') return { format, operations: parseJepsenRegisterLog(text) };
  if (format === 'kv-edn') return { format, operations: parseKvEdnLog(text) };
  if (format === 'gallocy-records') return { format, operations: parseGallocyRecords(text) };
  const first = lines(text).findIndex((l) => l.trim() !== '');
  if (first === -1) throw new Error('empty history: expected Jepsen register log lines or EDN maps');
  throw new Error(
    `line ${first + 1}: unrecognized history format: expected a Jepsen log line ("INFO  jepsen.util - <process>\\t:invoke\\t...") or an EDN map ("{:process 0, :type :invoke, ...}")`,
  );
}

interface Pending<I> {
  readonly input: I;
  readonly f: string;
  readonly line: number;
}

/**
 * Track invocations and completions per process, common to both formats.
 * Operations come out in invocation order.
 */
class Tracker<I, O> {
  private readonly pending = new Map<number, Pending<I>>();
  private readonly slots: Array<Operation<I, O> | null> = [];
  private readonly slotOf = new Map<number, number>();

  invoke(process: number, f: string, input: I, line: number): void {
    const p = this.pending.get(process);
    if (p) {
      throw new Error(`line ${line}: process ${process} invokes :${f} but its :${p.f} from line ${p.line} has not completed (expected :ok, :fail or :info for it first)`);
    }
    this.pending.set(process, { input, f, line });
    // Reserve the slot now so operations come out in invocation order.
    this.slotOf.set(process, this.slots.length);
    this.slots.push(null);
  }

  take(process: number, type: string, f: string, line: number): Pending<I> {
    const p = this.pending.get(process);
    if (!p) throw new Error(`line ${line}: :${type} :${f} for process ${process}, which has no pending operation (expected an :invoke first)`);
    if (p.f !== f) throw new Error(`line ${line}: :${type} :${f} for process ${process}, but its pending operation is :${p.f} from line ${p.line}`);
    this.pending.delete(process);
    return p;
  }

  /** Record the process's completed operation; null drops it. */
  record(process: number, op: Operation<I, O> | null): void {
    this.slots[this.slotOf.get(process)!] = op;
  }

  /** Close the log: what is still pending has an unknown outcome. */
  finish(unknownOutput: (p: Pending<I>) => O): Operation<I, O>[] {
    for (const [process, p] of this.pending) {
      this.slots[this.slotOf.get(process)!] = { client: process, input: p.input, output: unknownOutput(p), call: p.line, ret: Infinity };
    }
    this.pending.clear();
    return this.slots.filter((s): s is Operation<I, O> => s !== null);
  }
}

// ---------------------------------------------------------------------------
// Jepsen register logs

type JepsenValue = { kind: 'nil' } | { kind: 'int'; value: number } | { kind: 'pair'; a: number | null; b: number | null } | { kind: 'keyword'; name: string };

function parseJepsenValue(s: string, line: number): JepsenValue {
  const t = s.trim();
  if (t === 'nil') return { kind: 'nil' };
  if (/^-?\d+$/.test(t)) return { kind: 'int', value: Number(t) };
  const pair = /^\[\s*(nil|-?\d+)[\s,]+(nil|-?\d+)\s*\]$/.exec(t);
  if (pair) {
    const conv = (x: string): number | null => (x === 'nil' ? null : Number(x));
    return { kind: 'pair', a: conv(pair[1]!), b: conv(pair[2]!) };
  }
  if (/^:[\w.-]+$/.test(t)) return { kind: 'keyword', name: t.slice(1) };
  throw new Error(`line ${line}: bad value ${JSON.stringify(t)}: expected nil, an integer, [from to] or a keyword`);
}

/**
 * Jepsen log of one compare-and-set register (jepsen-etcd):
 * `INFO  jepsen.util - <process>\t:<type>\t:<f>\t<value>`.
 *
 * - :ok completes the pending operation; a read's value is what it read.
 * - :fail of a cas is a definite failure: the register did not hold `from`
 *   at its linearization point, and nothing changed. It is kept as an
 *   observation (output ok=false), as Porcupine's etcd model does, because
 *   it constrains the history. A :fail read or write did not happen: dropped.
 * - :info, or still pending at the end: unknown outcome (ret = Infinity).
 */
export function parseJepsenRegisterLog(text: string): RegisterOp[] {
  const tracker = new Tracker<RegisterInput, RegisterOutput>();
  const all = lines(text);
  for (let idx = 0; idx < all.length; idx++) {
    const line = idx + 1;
    const raw = all[idx]!;
    if (raw.trim() === '') continue;
    const m = /^(?:.*?\bjepsen\.util\s+-\s+)?(\d+)\t:(\w+)\t:(\w+)\t(.*)$/.exec(raw.trimEnd());
    if (!m) {
      throw new Error(`line ${line}: expected "INFO  jepsen.util - <process>\\t:<invoke|ok|fail|info>\\t:<read|write|cas>\\t<value>", got ${JSON.stringify(raw.slice(0, 80))}`);
    }
    const process = Number(m[1]);
    const type = m[2]!;
    const f = m[3]!;
    if (f !== 'read' && f !== 'write' && f !== 'cas') throw new Error(`line ${line}: unknown operation :${f}: expected :read, :write or :cas`);
    const value = parseJepsenValue(m[4]!, line);
    switch (type) {
      case 'invoke': {
        let input: RegisterInput;
        if (f === 'read') input = { kind: 'read' };
        else if (f === 'write') {
          if (value.kind !== 'int') throw new Error(`line ${line}: :invoke :write needs an integer value`);
          input = { kind: 'write', value: value.value };
        } else {
          if (value.kind !== 'pair' || value.b === null) throw new Error(`line ${line}: :invoke :cas needs [from to] with an integer to`);
          input = { kind: 'cas', from: value.a, to: value.b };
        }
        tracker.invoke(process, f, input, line);
        break;
      }
      case 'ok': {
        const p = tracker.take(process, type, f, line);
        let output: RegisterOutput;
        if (f === 'read') {
          if (value.kind === 'nil') output = { kind: 'read', value: null };
          else if (value.kind === 'int') output = { kind: 'read', value: value.value };
          else throw new Error(`line ${line}: :ok :read needs nil or an integer value`);
        } else if (f === 'write') output = { kind: 'write' };
        else output = { kind: 'cas', ok: true };
        tracker.record(process, { client: process, input: p.input, output, call: p.line, ret: line });
        break;
      }
      case 'fail': {
        const p = tracker.take(process, type, f, line);
        tracker.record(process, f === 'cas' ? { client: process, input: p.input, output: { kind: 'cas', ok: false }, call: p.line, ret: line } : null);
        break;
      }
      case 'info': {
        const p = tracker.take(process, type, f, line);
        tracker.record(process, { client: process, input: p.input, output: unknownRegisterOutput(p.input), call: p.line, ret: Infinity });
        break;
      }
      default:
        throw new Error(`line ${line}: unknown type :${type}: expected :invoke, :ok, :fail or :info`);
    }
  }
  return tracker.finish((p) => unknownRegisterOutput(p.input));
}

/** Placeholder output for an unknown outcome; the checker never reads it. */
function unknownRegisterOutput(input: RegisterInput): RegisterOutput {
  if (input.kind === 'read') return { kind: 'read', value: null };
  if (input.kind === 'write') return { kind: 'write' };
  return { kind: 'cas', ok: false };
}

// ---------------------------------------------------------------------------
// EDN key-value logs

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

/** One-line human description of a register or kv operation. */
export function describeOperation(op: RegisterOp | KvOp): string {
  const inp = op.input;
  const when = op.ret === Infinity ? `lines ${op.call}..(unknown outcome)` : `lines ${op.call}..${op.ret}`;
  let what: string;
  switch (inp.kind) {
    case 'read': {
      const out = op.output as RegisterOutput;
      what = op.ret === Infinity ? 'read -> ?' : `read -> ${out.kind === 'read' ? String(out.value ?? 'nil') : '?'}`;
      break;
    }
    case 'write':
      what = `write ${inp.value}`;
      break;
    case 'cas': {
      const out = op.output as RegisterOutput;
      const res = op.ret === Infinity ? '?' : out.kind === 'cas' && out.ok ? 'ok' : 'fail';
      what = `cas ${inp.from ?? 'nil'} -> ${inp.to} : ${res}`;
      break;
    }
    case 'get':
      what = `get ${JSON.stringify(inp.key)} -> ${op.ret === Infinity ? '?' : JSON.stringify(op.output)}`;
      break;
    case 'put':
      what = `put ${JSON.stringify(inp.key)} ${JSON.stringify(inp.value)}`;
      break;
    case 'append':
      what = `append ${JSON.stringify(inp.key)} ${JSON.stringify(inp.value)}`;
      break;
  }
  // kv descriptions already name the key; registers only have one if keyed.
  const keyPart = (inp.kind === 'read' || inp.kind === 'write' || inp.kind === 'cas') && inp.key !== undefined ? ` [key ${inp.key}]` : '';
  return `process ${op.client}: ${what}${keyPart} (${when})`;
}

/**
 * The memory operations real hosts record (`gallocy serve --history FILE`),
 * one JSON object a line: {host, thread, kind, addr, value, call, ret}, times
 * in microseconds of a clock common to the hosts. Files of several hosts may
 * be concatenated in any order. Each word is a register; 0 is its initial
 * value (read as null). Only reads and writes: an add is not a register op.
 */
export function parseGallocyRecords(text: string): RegisterOp[] {
  const ops: RegisterOp[] = [];
  lines(text).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '') return;
    let r: unknown;
    try {
      r = JSON.parse(line);
    } catch {
      throw new Error(`line ${i + 1}: expected a JSON object of a recorded memory operation`);
    }
    const o = r as Record<string, unknown>;
    const num = (k: string): number => {
      const v = o[k];
      if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`line ${i + 1}: field '${k}': expected a number, got ${JSON.stringify(v)}`);
      return v;
    };
    const kind = o['kind'];
    if (kind !== 'read' && kind !== 'write') throw new Error(`line ${i + 1}: field 'kind': expected "read" or "write" (a register history), got ${JSON.stringify(kind)}`);
    const key = String(num('addr'));
    const value = num('value');
    const [call, ret] = [num('call'), num('ret')];
    if (ret < call) throw new Error(`line ${i + 1}: 'ret' (${ret}) is before 'call' (${call})`);
    const client = num('thread');
    ops.push(kind === 'write'
      ? { client, input: { kind: 'write', key, value }, output: { kind: 'write' }, call, ret }
      : { client, input: { kind: 'read', key }, output: { kind: 'read', value: value === 0 ? null : value }, call, ret });
  });
  return ops;
}
