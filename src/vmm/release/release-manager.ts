// The manager's side of lazy release consistency, on the leader of a
// company: it commits hosts' diffs through Raft, pending (so an interval's
// diffs are on a quorum of the page's company before the release that
// publishes them completes), and serves copies of pages. A fetch names the
// intervals it may see; their pending diffs are applied first (publish-diffs,
// through Raft), and no others (release/diff-table.ts). A copy is served from
// this leader's table at once when the intervals named are applied there
// already; else after publish-diffs committed in this term, when the table
// holds everything committed (an interval still missing then was never committed).
import type { CompanyApplied } from '../company.js';
import type { PageCommand } from '../page-table-commands.js';
import type { CompanyPlan } from '../placement.js';
import type { VmmMessage } from '../protocol.js';
import { companyOfSync } from '../sync/placement.js';
import type { CompanyAccess, VmmConfig, VmmEnv } from '../vmm-env.js';

type Propose = (cmd: PageCommand, then: (a: CompanyApplied) => void) => boolean;

/** Diffs a page keeps before the manager collects those every host has seen. */
const COLLECT_AFTER = 16;

export class ReleaseManager {
  /** Every host of the cluster: a diff is collected once all of them have seen its interval. */
  private readonly hosts: number[];

  constructor(
    private readonly cfg: VmmConfig,
    private readonly env: VmmEnv,
    private readonly plan: CompanyPlan,
    private readonly company: CompanyAccess,
    private readonly propose: Propose,
  ) {
    this.hosts = [...new Set(cfg.plans.flatMap((p) => p.members))].sort((a, b) => a - b);
  }

  fetch(from: number, msg: Extract<VmmMessage, { t: 'fetch' }>): void {
    const table = this.company.table();
    const row = table.page(msg.page);
    if (row !== null && row.allocation !== null && table.fetchReady(msg.page, msg.need)) {
      this.answer(from, msg);
      return;
    }
    // Stale, not allocated, or named intervals not applied here yet: apply them through the log.
    const ok = this.propose({ op: 'publish-diffs', page: msg.page, upTo: msg.need }, () => this.answer(from, msg));
    if (!ok) this.refuse(from, msg.req, msg.page, 'not-leader');
  }

  private answer(from: number, msg: Extract<VmmMessage, { t: 'fetch' }>): void {
    const table = this.company.table();
    const row = table.page(msg.page);
    if (row === null || row.allocation === null) {
      this.refuse(from, msg.req, msg.page, 'not-allocated');
      return;
    }
    const diffs = msg.have >= 0 ? table.diffsSince(msg.page, msg.have) : null;
    this.env.send(from, {
      t: 'page', req: msg.req, page: msg.page, version: row.version,
      data: diffs === null ? row.data ?? '' : null, diffs: diffs === null ? null : diffs.map((d) => d.diff),
      applied: { ...table.appliedIntervals(msg.page) },
    });
  }

  /**
   * Commits a host's diff; with the record it carries if this company is the host's home (elsewhere nobody
   * would read it there: the host, told it was not recorded, sends it home itself).
   */
  diff(from: number, msg: Extract<VmmMessage, { t: 'diff' }>): void {
    const home = msg.record !== null && msg.recordSeq >= 1 && companyOfSync(this.cfg.plans, 'host', from).company === this.plan.company;
    const cmd: PageCommand = {
      op: 'diff', page: msg.page, host: from, interval: msg.interval, vt: msg.vt, diff: msg.diff,
      ...(home ? { record: { seq: msg.recordSeq, published: msg.record! } } : {}),
    };
    const ok = this.propose(cmd, (a) => {
      if (!a.result.ok) {
        this.refuse(from, msg.req, msg.page, a.result.error === 'not-allocated' ? 'not-allocated' : 'invalid');
        return;
      }
      const table = this.company.table();
      const floor = table.diffFloor(this.plan.company, this.hosts);
      this.env.send(from, { t: 'diffed', req: msg.req, page: msg.page, version: a.result.version ?? 0, floor: { ...floor }, recorded: home });
      if (table.diffsKept(msg.page) > COLLECT_AFTER) this.propose({ op: 'collect-diffs', company: this.plan.company, floor }, () => {});
    });
    if (!ok) this.refuse(from, msg.req, msg.page, 'not-leader');
  }

  private refuse(to: number, req: number, page: number, why: Extract<VmmMessage, { t: 'refuse' }>['why']): void {
    this.env.send(to, { t: 'refuse', req, page, why, leader: this.company.lead(), version: 0 });
  }
}
