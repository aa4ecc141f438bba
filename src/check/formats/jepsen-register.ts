// Jepsen's log of one compare-and-set register (jepsen-etcd, as in
// Porcupine's test data).
import type { RegisterInput, RegisterOp, RegisterOutput } from '../register-model.js';
import { lines, Tracker } from './tracker.js';

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
 * `INFO  jepsen.util - <process>\t:<type>\t:<f>\t<value>`, the fields
 * separated by tabs or runs of spaces (both occur; Porcupine reads both).
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
    const m = /^(?:.*?\bjepsen\.util\s+-\s+)?(\d+)[ \t]+:(\w+)[ \t]+:(\w+)[ \t]+(.*)$/.exec(raw.trimEnd());
    if (!m) {
      throw new Error(`line ${line}: expected "INFO  jepsen.util - <process> :<invoke|ok|fail|info> :<read|write|cas> <value>" (fields separated by tabs or spaces), got ${JSON.stringify(raw.slice(0, 80))}`);
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
