/**
 * History files of any known format (see test/data/linearizability/README.md
 * for the Jepsen and EDN ones), told apart by content. Pure string in,
 * operations out; no file access, so the simulator, tests and the CLI can all
 * use them. Unknown outcomes get `ret = Infinity`.
 */
import type { KvOp } from './kv-model.js';
import type { RegisterOp } from './register-model.js';
import { parseGallocyRecords } from './formats/gallocy-records.js';
import { parseJepsenRegisterLog } from './formats/jepsen-register.js';
import { parseKvEdnLog } from './formats/kv-edn.js';
import { lines } from './formats/tracker.js';

export { parseEdnFlatMap, parseKvEdnLog, type EdnScalar } from './formats/kv-edn.js';
export { parseGallocyRecords } from './formats/gallocy-records.js';
export { parseJepsenRegisterLog } from './formats/jepsen-register.js';

export type HistoryFormat = 'jepsen-register' | 'kv-edn' | 'gallocy-records';

export type ParsedHistory =
  | { readonly format: 'jepsen-register' | 'gallocy-records'; readonly operations: RegisterOp[] }
  | { readonly format: 'kv-edn'; readonly operations: KvOp[] };

/** Tell the formats apart by their first non-blank line; null if neither. */
export function detectFormat(text: string): HistoryFormat | null {
  for (const raw of lines(text)) {
    const line = raw.trim();
    if (line === '') continue;
    if (line.startsWith('{"')) return 'gallocy-records';
    if (line.startsWith('{')) return 'kv-edn';
    if (/\bjepsen\.util\s+-\s+\d+\s/.test(line) || /^\d+[ \t]+:\w+[ \t]/.test(line)) return 'jepsen-register';
    return null;
  }
  return null;
}

/** Parse whichever format the text is in; throws if it is none of them. */
export function parseHistory(text: string): ParsedHistory {
  const format = detectFormat(text);
  if (format === 'jepsen-register') return { format, operations: parseJepsenRegisterLog(text) };
  if (format === 'kv-edn') return { format, operations: parseKvEdnLog(text) };
  if (format === 'gallocy-records') return { format, operations: parseGallocyRecords(text) };
  const first = lines(text).findIndex((l) => l.trim() !== '');
  if (first === -1) throw new Error('empty history: expected Jepsen register log lines, EDN maps or JSON records');
  throw new Error(
    `line ${first + 1}: unrecognized history format: expected a Jepsen log line ("INFO  jepsen.util - <process>\\t:invoke\\t..."), an EDN map ("{:process 0, :type :invoke, ...}") or a JSON record ("{\"host\": 1, ...}")`,
  );
}
