// Twins (Bano et al., "Twins: BFT Systems Made Robust", 2022): a second copy
// of a host's correct code under the same identity, with a disk, clocks and
// random streams of its own. The world routes each peer's messages for that
// identity to one copy or the other by round (faulty-host.ts), so between
// them the two copies vote twice, lead twice, and tell peers different logs.
import type { HostRuntime } from '../../host/runtime.js';
import { HostClock } from '../clock.js';
import type { SimEnvelope } from '../kv-wire.js';
import { SimHost } from '../host.js';
import type { HostEnv, SimApp } from '../host.js';
import type { Rng } from '../rng.js';

/** The world as a twin sees it: the original's, but its own network slot and streams. */
class TwinEnv implements HostEnv {
  constructor(private readonly world: HostEnv & { stream(name: string): Rng }, private readonly slot: number) {}
  get scheduler(): HostEnv['scheduler'] { return this.world.scheduler; }
  get scenario(): HostEnv['scenario'] { return this.world.scenario; }
  get checkers(): HostEnv['checkers'] { return this.world.checkers; }
  get trace(): HostEnv['trace'] { return this.world.trace; }
  get rules(): HostEnv['rules'] { return this.world.rules; }
  genesis(group: number): ReturnType<HostEnv['genesis']> { return this.world.genesis(group); }
  groupsAtBoot(host: number): number[] { return this.world.groupsAtBoot(host); }
  app(host: SimHost, rt: HostRuntime): SimApp { return this.world.app(host, rt); }
  send(_from: number, to: number, env: SimEnvelope): void { this.world.send(this.slot, to, env); }
  syncDelayUs(): number { return this.world.syncDelayUs(); }
  raftRandom(host: number, group: number, incarnation: number): () => number {
    const rng = this.world.stream(`twin-raft-${host}-${group}-${incarnation}`);
    return () => rng.next();
  }
  diskRng(host: number): Rng { return this.world.stream(`twin-disk-${host}`); }
  faultPoints(host: number): ReturnType<HostEnv['faultPoints']> { return this.world.faultPoints(host); }
  judged(): boolean { return false; }
}

/** The second copy of `original`, on network slot `slot`. */
export function twinOf(original: SimHost, world: HostEnv & { stream(name: string): Rng }, slot: number): SimHost {
  const clock = new HostClock(original.clock.offsetAt(0), original.clock.driftPpm);
  const mono = new HostClock(original.mono.offsetAt(0), original.mono.driftPpm);
  return new SimHost(original.id, clock, mono, new TwinEnv(world, slot));
}
