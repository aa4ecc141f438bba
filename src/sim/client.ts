// A key-value client outside the hosts: it sends one request at a time to the
// host it believes leads the key's group, follows not-leader hints, retries on
// time-out (the state machine deduplicates), and records a history of its
// operations for the linearizability check.
import type { KvOp } from './kv.js';
import type { SimEnvelope } from './kv-wire.js';
import type { Rng } from './rng.js';
import type { Scheduler } from './scheduler.js';
import type { RecordEvent } from '../host/trace-events.js';

export interface ClientOp {
  client: number;
  op: KvOp;
  /** Global times, microseconds; ret is Infinity when the outcome is unknown. */
  call: number;
  ret: number;
  output: string | null;
}

export interface ClientEnv {
  readonly scheduler: Scheduler;
  readonly hosts: number;
  readonly groups: number;
  readonly keys: number;
  readonly rateHz: number;
  readonly timeoutUs: number;
  send(from: number, to: number, env: SimEnvelope): void;
  readonly trace: RecordEvent;
  /** An acknowledged write must be the committed entry at its index. */
  acknowledged(group: number, index: number, term: number, client: number, seq: number): void;
  /** Whether new requests may start (they stop at the end of the run). */
  accepting(): boolean;
}

interface Outstanding { seq: number; group: number; op: KvOp; call: number; attempt: number }

export class KvClient {
  readonly history: ClientOp[] = [];
  completed = 0;
  lastCompletionUs = 0;
  private seq = 0;
  private outstanding: Outstanding | null = null;
  private leaderOf: number[];

  constructor(readonly id: number, private readonly rng: Rng, private readonly env: ClientEnv) {
    this.leaderOf = new Array<number>(env.groups).fill(0);
  }

  start(): void {
    this.scheduleNext();
  }

  /** When the request in flight (if any) was first sent. */
  get outstandingSince(): number | null {
    return this.outstanding?.call ?? null;
  }

  /** The request in flight, if any (an exploration checks histories with it left open). */
  get pending(): { readonly op: KvOp; readonly call: number } | null {
    return this.outstanding;
  }

  receive(env: SimEnvelope): void {
    const out = this.outstanding;
    if (env.kind !== 'kv-response' || out === null || env.seq !== out.seq) return;
    if (env.status === 'not-leader') {
      this.leaderOf[out.group] = env.leader;
      // Retry at once if there is a hint, else after a pause (an election is on).
      this.env.scheduler.after(env.leader !== 0 ? 0 : 50_000, () => this.resend(out.attempt));
      return;
    }
    if (out.op.op !== 'get') this.env.acknowledged(out.group, env.index, env.term, this.id, out.seq);
    const now = this.env.scheduler.now;
    this.history.push({ client: this.id, op: out.op, call: out.call, ret: now, output: out.op.op === 'get' ? env.value : null });
    this.outstanding = null;
    this.completed++;
    this.lastCompletionUs = now;
    this.env.trace('kv-ok', this.id, out.seq, env.index);
    this.scheduleNext();
  }

  /** Requests never answered are indeterminate: they may or may not have happened. */
  finish(): void {
    const out = this.outstanding;
    if (out === null) return;
    this.history.push({ client: this.id, op: out.op, call: out.call, ret: Infinity, output: null });
    this.outstanding = null;
  }

  private scheduleNext(): void {
    const delay = Math.max(1, Math.round(this.rng.exponential(1e6 / this.env.rateHz)));
    this.env.scheduler.after(delay, () => this.issue());
  }

  private issue(): void {
    if (!this.env.accepting()) return;
    const seq = ++this.seq;
    const keyIndex = this.rng.int(0, this.env.keys);
    const key = `k${keyIndex}`;
    const value = `${this.id}.${seq};`;
    const roll = this.rng.next();
    const op: KvOp = roll < 0.3 ? { op: 'get', key } : roll < 0.65 ? { op: 'put', key, value } : { op: 'append', key, value };
    this.outstanding = { seq, group: keyIndex % this.env.groups, op, call: this.env.scheduler.now, attempt: 0 };
    this.send();
  }

  private resend(attempt: number): void {
    const out = this.outstanding;
    if (out === null || out.attempt !== attempt) return;
    out.attempt++;
    this.send();
  }

  private send(): void {
    const out = this.outstanding!;
    // Mostly the known leader; sometimes any host, as a load-balanced client
    // would, so followers and deposed leaders see requests too.
    let target = this.leaderOf[out.group]!;
    if (target === 0 || this.rng.bool(0.2) || (out.attempt > 0 && out.attempt % 3 === 0)) target = this.rng.int(1, this.env.hosts + 1);
    this.leaderOf[out.group] = target;
    this.env.send(this.id, target, { kind: 'kv-request', group: out.group, client: this.id, seq: out.seq, op: out.op });
    const attempt = out.attempt;
    this.env.scheduler.after(this.env.timeoutUs, () => {
      if (this.outstanding === out && out.attempt === attempt) {
        this.env.trace('kv-timeout', this.id, out.seq, attempt);
        this.leaderOf[out.group] = 0;
        this.resend(attempt);
      }
    });
  }
}
