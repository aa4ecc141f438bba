import type { RegisterOp } from '../register-model.js';
import { lines } from './tracker.js';

/**
 * The memory operations real hosts record (`gallocy serve --history FILE`),
 * one JSON object a line: {host, thread, kind, addr, value, call, ret, err},
 * times in microseconds of one timeline common to the hosts (the reference
 * host's monotonic clock) and `err` (optional, default 0) the uncertainty of
 * mapping the recording host's clock onto it: the operation took place
 * within [call - err, ret + err], which is the interval checked. Files of
 * several hosts may be concatenated in any order. Each word is a register; 0
 * is its initial value (read as null). Only reads and writes: an add is not
 * a register op.
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
    const err = o['err'] === undefined ? 0 : num('err');
    if (err < 0) throw new Error(`line ${i + 1}: field 'err': expected a number >= 0 (µs of clock uncertainty), got ${err}`);
    const [call, ret] = [num('call') - err, num('ret') + err];
    if (ret < call) throw new Error(`line ${i + 1}: 'ret' (${num('ret')}) is before 'call' (${num('call')})`);
    const client = num('thread');
    ops.push(kind === 'write'
      ? { client, input: { kind: 'write', key, value }, output: { kind: 'write' }, call, ret }
      : { client, input: { kind: 'read', key }, output: { kind: 'read', value: value === 0 ? null : value }, call, ret });
  });
  return ops;
}
