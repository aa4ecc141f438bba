/**
 * Core of `gallocy lincheck`: check history files for linearizability.
 * A library; the yargs command wires it up (exit 0 all linearizable, 1 a
 * violation or an undecided file, 2 bad input — parse errors are thrown
 * with the file name and line).
 */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { parseHistory, type HistoryFormat, type ParsedHistory } from '../check/history-formats.js';
import { kvModel } from '../check/kv-model.js';
import { checkLinearizable, describeOperation, type CheckOptions, type Model, type Operation, type Verdict } from '../check/linearizability.js';
import { registerModel } from '../check/register-model.js';

/** An operation as reported: JSON-safe (`ret: null` = unknown outcome). */
export interface ReportedOperation {
  readonly client: number;
  /** Time of the invocation: its 1-based line in a log, microseconds in recorded memory operations. */
  readonly call: number;
  /** Time of the completion, likewise; null when the outcome is unknown. */
  readonly ret: number | null;
  readonly description: string;
}

export interface LincheckResult {
  readonly file: string;
  readonly format: HistoryFormat;
  readonly linearizable: boolean;
  /** 'unknown' only when a step budget was given and ran out. */
  readonly verdict: Verdict;
  /** Wall-clock time of parsing plus checking. */
  readonly ms: number;
  readonly operations: number;
  readonly partitions: number;
  readonly steps: number;
  /** On a violation: the longest prefix that could be linearized, in order. */
  readonly linearizedPrefix?: ReportedOperation[];
  /** On a violation: operations that could not be placed next after that prefix. */
  readonly unordered?: ReportedOperation[];
}

export interface LincheckOptions {
  /** Search step budget per file; beyond it the verdict is 'unknown'. */
  readonly maxSteps?: number;
}

type Checked = Pick<LincheckResult, 'linearizable' | 'verdict' | 'partitions' | 'steps' | 'linearizedPrefix' | 'unordered'>;

/** Where an operation sits in its file: log lines, or recorded microseconds. */
function span(op: Operation<unknown, unknown>, format: HistoryFormat): string {
  if (format === 'gallocy-records') return `${op.call}..${op.ret === Infinity ? '?' : op.ret} us`;
  return `lines ${op.call}..${op.ret === Infinity ? '(unknown outcome)' : op.ret}`;
}

function check<S, I, O>(model: Model<S, I, O>, ops: readonly Operation<I, O>[], format: HistoryFormat, options: CheckOptions): Checked {
  const r = checkLinearizable(model, ops, options);
  const base = { linearizable: r.ok, verdict: r.verdict, partitions: r.partitions, steps: r.steps };
  if (r.verdict !== 'not-linearizable') return base;
  const report = (op: Operation<I, O>): ReportedOperation => ({
    client: op.client,
    call: op.call,
    ret: op.ret === Infinity ? null : op.ret,
    description: `process ${op.client}: ${describeOperation(model, op)} (${span(op, format)})`,
  });
  return { ...base, linearizedPrefix: (r.linearizedPrefix ?? []).map(report), unordered: (r.unordered ?? []).map(report) };
}

/** Check one history given as text (`name` is used in messages only). */
export function lincheckText(name: string, text: string, options: LincheckOptions = {}): LincheckResult {
  const t0 = performance.now();
  let parsed: ParsedHistory;
  try {
    parsed = parseHistory(text);
  } catch (e) {
    throw new Error(`${name}: ${(e as Error).message}`);
  }
  const opts = options.maxSteps === undefined ? {} : { maxSteps: options.maxSteps };
  const checked =
    parsed.format === 'kv-edn' ? check(kvModel, parsed.operations, parsed.format, opts) : check(registerModel, parsed.operations, parsed.format, opts);
  return { file: name, format: parsed.format, ms: performance.now() - t0, operations: parsed.operations.length, ...checked };
}

/** Read, detect, parse and check each file, in the order given. */
export async function lincheckFiles(files: string[], options: LincheckOptions = {}): Promise<LincheckResult[]> {
  const results: LincheckResult[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      throw new Error(`${file}: cannot read: ${(e as Error).message}`);
    }
    results.push(lincheckText(file, text, options));
  }
  return results;
}

/** How many prefix operations to show before the stuck ones. */
const PREFIX_TAIL = 5;

/** Human-readable report, one block per file. */
export function formatLincheckText(results: readonly LincheckResult[]): string {
  const out: string[] = [];
  for (const r of results) {
    const verdict = r.verdict === 'linearizable' ? 'linearizable' : r.verdict === 'unknown' ? 'UNKNOWN (step budget exhausted)' : 'NOT linearizable';
    out.push(`${r.file}: ${verdict} (${r.operations} operations, ${r.partitions} partition${r.partitions === 1 ? '' : 's'}, ${r.ms.toFixed(1)} ms)`);
    if (r.verdict === 'not-linearizable') {
      const prefix = r.linearizedPrefix ?? [];
      if (prefix.length > 0) {
        out.push(`  longest linearizable prefix: ${prefix.length} operation${prefix.length === 1 ? '' : 's'}${prefix.length > PREFIX_TAIL ? `, ending with` : ''}:`);
        for (const o of prefix.slice(-PREFIX_TAIL)) out.push(`    ${o.description}`);
      }
      out.push(`  could not place next (unordered):`);
      for (const o of r.unordered ?? []) out.push(`    ${o.description}`);
    }
  }
  const bad = results.filter((r) => !r.linearizable).length;
  out.push(`${results.length - bad}/${results.length} linearizable`);
  return out.join('\n') + '\n';
}
