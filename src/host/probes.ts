// Every coverage probe: a named rare path, counted each time a run takes it
// (FoundationDB's TEST() macro). A campaign's totals say which rare paths it
// reached, and the ones it never reached say where a scenario is missing.
// Raft's and the VMM's probes are declared beside their code; the host
// runtime's here; this is the one list, in id order.
import { declareProbes, RAFT_PROBES } from '../raft/index.js';
import type { ProbeInfo } from '../raft/index.js';
import { VMM_PROBES } from '../vmm/fault-points.js';

const HOST = declareProbes('host', RAFT_PROBES.length + VMM_PROBES.length, {
  replicaOnFirstContact: "a group's leader reached a host without a replica of it: the host started an empty one",
  timerWokeEarly: 'a timer woke before the monotonic clock reached its time (a coarse or drifting clock) and was set again',
  bootFailed: 'a host could not read its state from disk at boot (corrupted reads) and stays down',
});

export const HostProbe = HOST.ids;

/** All probes; a probe's id is its index here. */
export const PROBES: readonly ProbeInfo[] = [...RAFT_PROBES, ...VMM_PROBES, ...HOST.rows];

export const PROBE_NAMES: readonly string[] = PROBES.map((p) => p.name);

/** A run's counts by probe name, every probe present (0: never reached). */
export function probeCounts(counts: ArrayLike<number>): Record<string, number> {
  return Object.fromEntries(PROBES.map((p, i) => [p.name, counts[i] ?? 0]));
}
