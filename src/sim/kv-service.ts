// The key-value service of the Raft scenarios: a host proposes client
// requests when it leads the key's group and answers the client once the
// request is applied. It runs on the host runtime like the shared memory.
import type { Entry } from '../raft/index.js';
import type { HostRuntime, HostService } from '../host/runtime.js';
import { commandOf, encodeCommand, KvStore } from './kv.js';
import type { KvResult } from './kv.js';
import type { KvEnvelope, SimEnvelope } from './kv-wire.js';
import type { StateMachine, StateMachineFactory } from '../vmm/state-machine.js';
import type { SimApp } from './host.js';

class KvMachine implements StateMachine {
  constructor(readonly store: KvStore) {}

  apply(entry: Entry): KvResult | null {
    const cmd = commandOf(entry);
    return cmd === null ? null : this.store.apply(cmd);
  }

  snapshot(): string {
    return this.store.serialize();
  }
}

const kvMachine: StateMachineFactory = (_group, snapshot) =>
  new KvMachine(snapshot === null ? new KvStore() : KvStore.deserialize(snapshot));

export class KvService implements HostService, SimApp {
  readonly machine = kvMachine;
  /** Requests this host proposed as leader: "client:seq" -> the client to answer. */
  private pending = new Map<string, number>();

  constructor(
    private readonly rt: HostRuntime,
    /** The simulated network this host sends on (an object, not a closure per host: the calls stay monomorphic). */
    private readonly net: { send(from: number, to: number, env: SimEnvelope): void },
    private readonly localReads: boolean,
  ) {}

  private send(to: number, env: SimEnvelope): void {
    this.net.send(this.rt.id, to, env);
  }

  get service(): HostService {
    return this;
  }

  applied(_group: number, entry: Entry, result: unknown): void {
    if (result === null) return;
    const r = result as KvResult;
    const key = `${r.client}:${r.seq}`;
    const client = this.pending.get(key);
    if (client === undefined) return;
    this.pending.delete(key);
    this.send(client, {
      kind: 'kv-response', client: r.client, seq: r.seq, status: 'ok', index: entry.index, term: entry.term, value: r.value,
    });
  }

  /** Every message the runtime hands over is Raft's or the VMM's: nothing for this service. */
  receive(): void {}

  /** A client's request, straight from the simulated network. */
  request(from: number, env: KvEnvelope): void {
    if (env.kind !== 'kv-request') return;
    const r = this.rt.replica(env.group);
    if (r === undefined) return;
    if (env.op.op === 'get' && this.localReads) {
      // A deliberate bug: answer from local state without going through the log.
      const value = (r.machine as KvMachine).store.get(env.op.key);
      this.send(from, { kind: 'kv-response', client: env.client, seq: env.seq, status: 'ok', index: 0, term: 0, value });
      return;
    }
    if (r.role !== 'leader' || !r.node.propose(encodeCommand({ client: env.client, seq: env.seq, cmd: env.op }))) {
      this.send(from, { kind: 'kv-response', client: env.client, seq: env.seq, status: 'not-leader', leader: r.lead });
      return;
    }
    this.pending.set(`${env.client}:${env.seq}`, from);
    r.pump();
  }

  roleChanged(): void {}
  ticked(): void {}
  started(): void {}
  close(): void {}
  crashed(): void {}
  resumed(): void {}
}
