// A company's replicated state machine: the page table of its range of pages.
// Log entries wrap a page-table command with the proposal id of the manager
// that proposed it (so it can continue once the command is committed) and,
// for write-backs, which of the releasing host's operations the data covers.
// An entry may carry further commands (src/vmm/proposer.ts: a manager's
// proposals batched): one Raft round commits them all, and they apply in
// order at the entry's index, each with its own result.
import type { Entry } from '../raft/index.js';
import type { CompanyPlan } from './placement.js';
import { PageTable } from './page-table.js';
import type { ApplyResult, PageCommand } from './page-table.js';
import type { StateMachine } from './state-machine.js';

/** Marks a write-back: the data holds every operation of `host` up to op `seq`. */
export interface WriteBackMark { host: number; seq: number }

export interface CompanyEntry {
  pid: string;
  cmd: PageCommand;
  mark?: WriteBackMark;
  /** Further commands committed with this one, applied after it in order. */
  more?: { pid: string; cmd: PageCommand }[];
}

export interface CompanyApplied {
  company: number;
  /** The log index of the entry. */
  index: number;
  pid: string;
  cmd: PageCommand;
  result: ApplyResult;
  mark?: WriteBackMark;
  /** The entry's further commands, applied after this one (at the same index). */
  more?: CompanyApplied[];
}

/** An applied entry's commands, in the order they were applied. */
export function eachApplied(a: CompanyApplied): CompanyApplied[] {
  return a.more === undefined ? [a] : [a, ...a.more];
}

export function encodeCompanyEntry(e: CompanyEntry): string {
  return JSON.stringify(e);
}

/** The id of the allocation that reserves the root region at genesis. */
export const ROOT_ALLOCATION = 'root';

export class CompanyMachine implements StateMachine {
  readonly table: PageTable;
  /** The index of the last command applied (0 before any). */
  appliedIndex = 0;

  constructor(readonly plan: CompanyPlan, pageSize: number, rootPages: number, snapshot: string | null) {
    if (snapshot !== null) {
      this.table = PageTable.restore(snapshot, { pageSize });
      return;
    }
    // Genesis, the same on every member: the range, and the part of the root region in it
    // (a root region larger than one company's range spans several companies).
    this.table = new PageTable({ pageSize });
    this.mustApply({ op: 'create-company', company: plan.company, firstPage: plan.firstPage, pages: plan.pages });
    const rootHere = Math.min(plan.firstPage + plan.pages, rootPages) - plan.firstPage;
    if (rootHere > 0) this.mustApply({ op: 'allocate', company: plan.company, id: ROOT_ALLOCATION, pages: rootHere, owner: 0 });
  }

  private mustApply(cmd: PageCommand): void {
    const r = this.table.apply(cmd);
    if (!r.ok) throw new Error(`company ${this.plan.company} genesis: ${cmd.op} failed: ${r.error}: ${r.detail}`);
  }

  apply(entry: Entry): CompanyApplied | null {
    if (entry.data === '') return null;
    let e: CompanyEntry;
    try {
      e = JSON.parse(entry.data) as CompanyEntry;
    } catch {
      return null; // not ours to interpret; every member skips it alike
    }
    const result = this.table.apply(e.cmd);
    this.appliedIndex = entry.index;
    const head: CompanyApplied = { company: this.plan.company, index: entry.index, pid: e.pid, cmd: e.cmd, result, ...(e.mark ? { mark: e.mark } : {}) };
    if (!Array.isArray(e.more) || e.more.length === 0) return head;
    // Each further command is validated as any other (a malformed one fails alike on every member).
    head.more = (e.more as unknown[]).map((m) => {
      const sub = (typeof m === 'object' && m !== null ? m : {}) as Partial<{ pid: string; cmd: PageCommand }>;
      const cmd = sub.cmd as PageCommand;
      return { company: this.plan.company, index: entry.index, pid: String(sub.pid), cmd, result: this.table.apply(cmd) };
    });
    return head;
  }

  snapshot(): string {
    return this.table.snapshot();
  }

  close(): void {
    this.table.close();
  }
}
