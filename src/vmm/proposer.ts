// How the lock, barrier and diff managers of one company's leader propose
// their commands: those proposed in one instant (requests that arrived
// together, such as every host's first lock requests after an election, or
// diffs of several hosts) go into one Raft entry (CompanyEntry.more), so one
// replication round and one commit notice carry them all instead of one each.
// The entry is proposed at the end of the instant (a timer at the present
// time: the simulator runs it after the events already due then; on a real
// host it is the next turn of the event loop). Each command is continued with
// its own result once the entry is committed and applied here, exactly as if
// it had been proposed alone: nothing is answered before its commit.
import type { CompanyApplied, CompanyEntry } from './company.js';
import { VmmProbe } from './fault-points.js';
import type { PageCommand } from './page-table-commands.js';
import type { CompanyAccess, VmmConfig, VmmEnv } from './vmm-env.js';

interface Queued {
  pid: string;
  cmd: PageCommand;
}

export class Proposer {
  private queued: Queued[] = [];
  private continuations = new Map<string, (a: CompanyApplied) => void>();
  private nextPid = 1;
  private closed = false;

  /** `tag` sets this proposer's ids apart from the other proposers' of the same host and term. */
  constructor(
    private readonly cfg: VmmConfig,
    private readonly env: VmmEnv,
    private readonly company: CompanyAccess,
    private readonly tag: string,
  ) {}

  /**
   * Proposes `cmd` and continues with its result once committed; a leader refusing proposals for a
   * while (a leadership transfer under way) is asked again after retryUs, until this proposer closes.
   * False only if it is closed.
   */
  propose(cmd: PageCommand, then: (a: CompanyApplied) => void): boolean {
    if (this.closed) return false;
    const pid = `${this.cfg.host}.${this.company.term()}.${this.tag}${this.nextPid++}`;
    this.continuations.set(pid, then);
    this.queued.push({ pid, cmd });
    if (this.queued.length === 1) this.env.timer(this.env.now(), () => this.flush());
    return true;
  }

  /** A committed command of this company, applied here: continues it if it is one of ours. */
  applied(a: CompanyApplied): void {
    const k = this.continuations.get(a.pid);
    if (k === undefined) return;
    this.continuations.delete(a.pid);
    k(a);
  }

  close(): void {
    this.closed = true;
    this.queued = [];
    this.continuations.clear();
  }

  private flush(): void {
    if (this.closed || this.queued.length === 0) return;
    const batch = this.queued;
    this.queued = [];
    const [head, ...rest] = batch as [Queued, ...Queued[]];
    const entry: CompanyEntry = rest.length === 0 ? head : { ...head, more: rest };
    if (this.company.propose(entry)) return;
    this.env.faults.probe(VmmProbe.proposalRetried);
    for (const q of batch) {
      const then = this.continuations.get(q.pid)!;
      this.continuations.delete(q.pid);
      this.env.timer(this.env.now() + this.cfg.retryUs, () => this.propose(q.cmd, then));
    }
  }
}
