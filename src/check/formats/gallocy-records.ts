import type { RegisterOp } from '../register-model.js';
import { lines } from './tracker.js';

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
