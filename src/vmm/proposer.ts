// How the lock, barrier and diff managers of one company's leader propose
// their commands: group commit. Commands proposed while an entry of this
// proposer is being committed wait for it, and all that waited then go into
// one Raft entry (CompanyEntry.more), so one replication round and one commit
// notice carry them all instead of one each; commands of one instant (every
// host's first lock requests after an election, diffs of several hosts) go
// together too, the entry being proposed at the end of the instant (a timer
// at the present time: the simulator runs it after the events already due
// then; on a real host it is the next turn of the event loop). A command waits
// at most one commit of the entry before it, or retryUs if that entry never
// commits (a proposal lost with a leader's log). Each command is continued
// with its own result once its entry is committed and applied here: nothing is
// answered before its commit. Unlike entries of their own, the commands of one
// entry are all applied before the first is continued, so a continuation sees
// the table as the whole entry left it (Vmm.applied has the managers note what
// they keep of each command first).
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
  /** The first command of the entry being committed (null: none). */
  private inFlight: string | null = null;
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
    if (this.queued.length === 1 && this.inFlight === null) this.env.timer(this.env.now(), () => this.flush());
    return true;
  }

  /** Whether `pid` is a command of this proposer not yet continued. */
  owns(pid: string): boolean {
    return this.continuations.has(pid);
  }

  /** A committed command of this company, applied here: continues it if it is one of ours. */
  applied(a: CompanyApplied): void {
    const k = this.continuations.get(a.pid);
    if (k === undefined) return;
    this.continuations.delete(a.pid);
    if (a.pid === this.inFlight) this.committed();
    k(a);
  }

  close(): void {
    this.closed = true;
    this.queued = [];
    this.continuations.clear();
  }

  /** The entry in flight committed (or is given up on): the commands that waited for it go next. */
  private committed(): void {
    this.inFlight = null;
    if (this.queued.length > 0) this.env.timer(this.env.now(), () => this.flush());
  }

  private flush(): void {
    if (this.closed || this.inFlight !== null || this.queued.length === 0) return;
    const batch = this.queued;
    this.queued = [];
    const [head, ...rest] = batch as [Queued, ...Queued[]];
    const entry: CompanyEntry = rest.length === 0 ? head : { ...head, more: rest };
    // Set before proposing: a single-voter group whose store persists inline commits within propose().
    this.inFlight = head.pid;
    if (this.company.propose(entry)) {
      if (this.inFlight === head.pid) {
        this.env.timer(this.env.now() + this.cfg.retryUs, () => {
          if (!this.closed && this.inFlight === head.pid) this.committed();
        });
      }
      return;
    }
    this.inFlight = null;
    this.env.faults.probe(VmmProbe.proposalRetried);
    for (const q of batch) {
      const then = this.continuations.get(q.pid)!;
      this.continuations.delete(q.pid);
      this.env.timer(this.env.now() + this.cfg.retryUs, () => this.propose(q.cmd, then));
    }
  }
}
