// Requests from a host to a company's manager, with the negotiation's retry
// rules: go where a not-leader answer points, wait a little on busy, and ask
// another member when nothing comes back in time. Each attempt has its own
// request id; the first answer to any attempt settles the request (a slow
// answer is still an answer), and answers after that are dropped.
import { VmmPoint } from './fault-points.js';
import type { CompanyPlan } from './placement.js';
import type { VmmMessage } from './protocol.js';
import type { VmmConfig, VmmEnv } from './vmm-env.js';

export type Reply = Extract<VmmMessage, { t: 'grant' | 'refuse' | 'released' | 'alloc-ok' | 'free-token' | 'free-ok' | 'page' | 'diffed' }>;

/** What the caller wants after a reply: finished, or the same request again (now). */
export type Next = 'done' | 'again';

interface Open {
  /** A company's manager, wherever it is now, or one host. */
  to: CompanyPlan | number;
  build: (req: number) => VmmMessage;
  onReply: (reply: Reply, sentAt: number, from: number) => Next;
  attempt: number;
  /** Every attempt's request id, with when it was sent: an answer to any of them counts. */
  sent: Map<number, number>;
  /** Every attempt's request id, with the host it went to: only that host may answer it (0: anyone, for a free, which the block's owner answers). */
  sentTo: Map<number, number>;
  /** The newest attempt's request id. */
  latest: number;
  done: boolean;
  /** Asked before every attempt: false gives the request up (nobody waits for its answer any more). */
  wanted: () => boolean;
}

export class Requests {
  private nextReq = 1;
  private open = new Map<number, Open>();
  /** Last leader learned per company (0: unknown). */
  private leaders = new Map<number, number>();
  /** Answers from a host the request did not go to: dropped. */
  wrongReplier = 0;

  constructor(private readonly cfg: VmmConfig, private readonly env: VmmEnv) {}

  /**
   * Sends a request to the manager of `plan`'s company and keeps at it until onReply says done.
   * onReply gets the local time the answered attempt was sent (a lease counts from it); `wanted`,
   * asked before every attempt, can give the request up.
   */
  start(plan: CompanyPlan, build: (req: number) => VmmMessage, onReply: (reply: Reply, sentAt: number, from: number) => Next, wanted = (): boolean => true): void {
    this.attempt({ to: plan, build, onReply, attempt: 0, sent: new Map(), sentTo: new Map(), latest: 0, done: false, wanted });
  }

  /** The same, to one host, whoever leads what. */
  startTo(host: number, build: (req: number) => VmmMessage, onReply: (reply: Reply, sentAt: number, from: number) => Next): void {
    this.attempt({ to: host, build, onReply, attempt: 0, sent: new Map(), sentTo: new Map(), latest: 0, done: false, wanted: () => true });
  }

  /** Routes a reply to its request; returns false if it answers no open request. */
  reply(from: number, msg: Reply): boolean {
    const o = this.open.get(msg.req);
    if (o === undefined) return false;
    const askedOf = o.sentTo.get(msg.req);
    if (askedOf !== 0 && askedOf !== from) {
      // A peer answering for another (the sender is the one the network authenticated).
      this.wrongReplier++;
      return false;
    }
    const sentAt = o.sent.get(msg.req)!;
    const company = typeof o.to === 'number' ? null : o.to.company;
    if (msg.t === 'refuse') {
      if (msg.why === 'not-leader' && company !== null) {
        this.leaders.set(company, msg.leader);
        // Pointed at another host: go now. Refused by the leader itself (its term's first
        // entry not applied yet) or with no leader known: wait a little, else we spin.
        if (msg.leader !== 0 && msg.leader !== from) this.retry(o, msg.req);
        else this.retryShortly(o, msg.req);
        return true;
      }
      if (msg.why === 'busy') {
        this.retryShortly(o, msg.req);
        return true;
      }
    } else if (company !== null && msg.t !== 'free-token' && msg.t !== 'free-ok') {
      // The owner of a block answers a free, not the manager: no hint there.
      this.leaders.set(company, from);
    }
    if (o.onReply(msg, sentAt, from) === 'again') this.attempt(o);
    else this.close(o);
    return true;
  }

  /** Another attempt, unless a newer one is already out (an old attempt's refusal says nothing new). */
  private retry(o: Open, req: number): void {
    if (o.done || o.latest !== req) return;
    this.attempt(o);
  }

  private retryShortly(o: Open, req: number): void {
    this.env.timer(this.env.now() + Math.max(1, Math.round(this.cfg.retryUs / 4)), () => this.retry(o, req));
  }

  private close(o: Open): void {
    o.done = true;
    for (const req of o.sent.keys()) this.open.delete(req);
  }

  private attempt(o: Open): void {
    if (o.done) return;
    if (!o.wanted()) {
      this.close(o);
      return;
    }
    const req = this.nextReq++;
    o.attempt++;
    const target = typeof o.to === 'number' ? o.to : this.targetFor(o.to, o.attempt);
    this.open.set(req, o);
    o.sent.set(req, this.env.now());
    const msg = o.build(req);
    o.sentTo.set(req, msg.t === 'free' ? 0 : target);
    o.latest = req;
    this.env.send(target, msg);
    const wait = this.env.faults.buggify(VmmPoint.retryEarly) ? 1 : this.cfg.retryUs;
    this.env.timer(this.env.now() + wait, () => {
      if (o.done || o.latest !== req) return;
      if (typeof o.to !== 'number') this.leaders.set(o.to.company, 0); // it did not answer: try someone else
      this.attempt(o);
    });
  }

  private targetFor(plan: CompanyPlan, attempt: number): number {
    return managerTarget(this.cfg, this.env, plan, attempt, this.leaders.get(plan.company) ?? 0);
  }
}

/**
 * Where a request to a company's manager goes: this host if it leads the
 * company, else the leader last learned (`learned`, 0 if none), else the
 * members in turn. Hints are trusted only when they name a current member: a
 * host removed from a company keeps a stale replica whose idea of the leader
 * leads nowhere. The sync client (sync/client.ts) asks the same way.
 */
export function managerTarget(cfg: VmmConfig, env: VmmEnv, plan: CompanyPlan, attempt: number, learned: number): number {
  const local = env.company(plan.company);
  if (local?.isLeader()) return cfg.host;
  const members = env.members(plan.company);
  for (const hint of [learned, local?.lead() ?? 0]) {
    if (hint !== 0 && members.includes(hint)) return hint;
  }
  return members[(attempt + cfg.host) % members.length]!;
}
