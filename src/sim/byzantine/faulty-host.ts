// The faulty host of a run (scenario `byzantine`): its behaviour sits between
// its runtime and the network, and for twins a second copy of it runs under
// the same identity. The checkers ask `correct(host)`: invariants judge
// correct hosts only. Draws come from the run's `byzantine` stream, so the
// other components draw as they would without it.
import type { Envelope } from '../../vmm/wire.js';
import type { SimEnvelope } from '../kv-wire.js';
import type { Network } from '../network.js';
import type { Rng } from '../rng.js';
import type { Scheduler } from '../scheduler.js';
import type { Scenario } from '../scenario.js';
import { behaviourOf } from './behaviours.js';
import type { Behaviour, Liar } from './behaviours.js';

export type ByzantineSettings = NonNullable<Scenario['byzantine']>;

export interface FaultyHostWorld {
  readonly scheduler: Scheduler;
  readonly network: Network<SimEnvelope>;
  readonly hosts: number;
  /** After it, round-based partitions stop with the other faults (the lies go on). */
  readonly quietAtUs: number;
  readonly trace: (kind: 'byz-round', host: number, side: string) => void;
}

export class FaultyHost {
  readonly self: number;
  private readonly behaviour: Behaviour;
  private readonly liar: Liar;
  /** Twins: the network slot of the second copy, and the hosts that talk to it this round. */
  readonly twinSlot: number | null;
  private twinSide = new Set<number>();

  constructor(readonly settings: ByzantineSettings, private readonly world: FaultyHostWorld, private readonly rng: Rng, twinSlot: number) {
    this.self = settings.host;
    this.behaviour = behaviourOf(settings.behaviour);
    this.twinSlot = settings.behaviour === 'twins' ? twinSlot : null;
    this.liar = {
      self: this.self,
      hosts: world.hosts,
      rng: rng.fork('lies'),
      probability: settings.probability,
      emit: (to, env) => world.network.send(this.self, to, env),
    };
  }

  /** Invariants judge correct hosts only. */
  correct(host: number): boolean {
    return host !== this.self;
  }

  /** Starts the rounds of partitions (small-scope and twins). */
  start(): void {
    if (this.settings.behaviour !== 'small-scope' && this.settings.behaviour !== 'twins') return;
    const rounds = this.rng.fork('rounds');
    const every = Math.round(this.settings.roundMs * 1000);
    const round = (): void => {
      const net = this.world.network;
      net.heal();
      if (this.world.scheduler.now >= this.world.quietAtUs) {
        this.twinSide.clear();
        return;
      }
      const others = Array.from({ length: this.world.hosts }, (_, i) => i + 1).filter((h) => h !== this.self);
      const sideB = others.filter(() => rounds.bool());
      const sideA = others.filter((h) => !sideB.includes(h));
      if (this.twinSlot !== null) {
        // Side B talks to the twin, side A to the original, and the two sides not to each other.
        this.twinSide = new Set(sideB);
        net.partition([this.self, ...sideA], [this.twinSlot, ...sideB]);
      } else if (rounds.bool()) {
        // ByzzFuzz: the faulty host with a random part of the others, apart from the rest.
        net.partition([this.self, ...sideA], sideB);
      }
      this.world.trace('byz-round', this.self, sideB.join(','));
      this.world.scheduler.after(every, round);
    };
    this.world.scheduler.after(every, round);
  }

  /** Where a message to the faulty identity goes this round: the original or the twin. */
  slotFor(from: number): number {
    return this.twinSlot !== null && this.twinSide.has(from) ? this.twinSlot : this.self;
  }

  /** The faulty host (or its twin) sends: the behaviour decides what leaves. */
  send(fromSlot: number, to: number, env: SimEnvelope): void {
    if (env.kind !== 'raft' && env.kind !== 'vmm') {
      this.world.network.send(fromSlot, to, env);
      return;
    }
    if (fromSlot !== this.self) {
      this.world.network.send(fromSlot, to, env);
      return;
    }
    this.behaviour.outgoing(to, env, this.liar);
  }

  /** A message reaches the faulty host: what its replica gets. */
  receive(from: number, env: SimEnvelope): SimEnvelope | null {
    if (env.kind !== 'raft' && env.kind !== 'vmm') return env;
    return this.behaviour.incoming(from, env as Envelope, this.liar);
  }
}
