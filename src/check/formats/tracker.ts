// What the Jepsen-style log formats share: text to lines, and the per-process
// bookkeeping of invocations and completions. Logical time is the 1-based
// line number, so a report can point straight at the file.
import type { Operation } from '../linearizability.js';

export function lines(text: string): string[] {
  return text.split(/\r?\n/);
}

export interface Pending<I> {
  readonly input: I;
  readonly f: string;
  readonly line: number;
}

/**
 * Track invocations and completions per process, common to both formats.
 * Operations come out in invocation order.
 */
export class Tracker<I, O> {
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
