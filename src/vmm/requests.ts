// Requests from a host to a company's manager, with the negotiation's retry
// rules: go where a not-leader answer points, wait a little on busy, and ask
// another member when nothing comes back in time. Each attempt has its own
// request id, so a late answer to an old attempt is recognised and dropped.
import type { CompanyPlan } from './placement.js';
import type { VmmMessage } from './protocol.js';
import type { VmmConfig, VmmEnv } from './vmm-env.js';

export type Reply = Extract<VmmMessage, { t: 'grant' | 'refuse' | 'released' | 'alloc-ok' | 'free-ok' }>;

/** What the caller wants after a reply: finished, or the same request again (now). */
export type Next = 'done' | 'again';

interface Open {
  plan: CompanyPlan;
  build: (req: number) => VmmMessage;
  onReply: (reply: Reply) => Next;
  attempt: number;
  target: number;
}

export class Requests {
  private nextReq = 1;
  private open = new Map<number, Open>();
  /** Last leader learned per company (0: unknown). */
  private leaders = new Map<number, number>();

  constructor(private readonly cfg: VmmConfig, private readonly env: VmmEnv) {}

  /** Sends a request to the manager of `plan`'s company and keeps at it until onReply says done. */
  start(plan: CompanyPlan, build: (req: number) => VmmMessage, onReply: (reply: Reply) => Next): void {
    this.attempt({ plan, build, onReply, attempt: 0, target: 0 });
  }

  /** Routes a reply to its request; returns false if it answers no open request. */
  reply(from: number, msg: Reply): boolean {
    const o = this.open.get(msg.req);
    if (o === undefined) return false;
    this.open.delete(msg.req);
    if (msg.t === 'refuse') {
      if (msg.why === 'not-leader') {
        this.leaders.set(o.plan.company, msg.leader);
        this.attempt(o);
        return true;
      }
      if (msg.why === 'busy') {
        this.env.timer(this.env.now() + Math.max(1, Math.round(this.cfg.retryUs / 4)), () => this.attempt(o));
        return true;
      }
    } else {
      this.leaders.set(o.plan.company, from);
    }
    if (o.onReply(msg) === 'again') this.attempt(o);
    return true;
  }

  private attempt(o: Open): void {
    const req = this.nextReq++;
    o.attempt++;
    o.target = this.targetFor(o.plan, o.attempt);
    this.open.set(req, o);
    this.env.send(o.target, o.build(req));
    this.env.timer(this.env.now() + this.cfg.retryUs, () => {
      if (this.open.get(req) !== o) return;
      this.open.delete(req);
      this.leaders.set(o.plan.company, 0); // it did not answer: try someone else
      this.attempt(o);
    });
  }

  /** The known leader, else the members in turn. */
  private targetFor(plan: CompanyPlan, attempt: number): number {
    const local = this.env.company(plan.company);
    if (local?.isLeader()) return this.cfg.host;
    const hint = local?.lead() || this.leaders.get(plan.company) || 0;
    if (hint !== 0 && plan.members.includes(hint)) return hint;
    return plan.members[(attempt + this.cfg.host) % plan.members.length]!;
  }
}
