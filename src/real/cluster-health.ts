// Whether a cluster can serve, judged from what its hosts answered on GET
// /admin: every Raft group (the registry and each company) must have a
// leader that a quorum of the group's members follows at the leader's term.
// A host down is no fault as long as every group keeps its quorum; a group
// without a leader, or whose leader too few members follow, is, named with
// the hosts that do not follow it and why. Pure: `gallocy status` and the
// tests call it on fetched results.
import { planCompanies } from '../vmm/placement.js';
import type { Cluster } from './cluster.js';
import type { GroupStatus, HostStatus } from './host-status.js';

export interface GroupHealth {
  group: number;
  /** "registry" or "company 2 (pages 132-259)". */
  name: string;
  ok: boolean;
  leader: number | null;
  term: number | null;
  /** Members following the leader at its term (the leader included). */
  following: number[];
  members: number[];
  /** What is wrong (only when !ok). */
  problem: string | null;
  /** The members at fault: unreachable, or not following the leader. */
  hostsAtFault: number[];
}

export interface ClusterHealth {
  ok: boolean;
  groups: GroupHealth[];
  /** Hosts that did not answer (a fault only if a group lost its quorum with them). */
  unreachable: number[];
}

/** The groups the cluster file lays out: the registry over every host, then each company over its owners. */
function expectedGroups(cluster: Cluster): { group: number; members: number[]; name: string }[] {
  const owners = cluster.hosts.map((h) => h.id).sort((a, b) => a - b);
  const plans = planCompanies({ pages: cluster.heap.pages, owners, replication: cluster.replication });
  return [
    { group: 0, members: owners, name: 'registry' },
    ...plans.map((p) => ({ group: p.company, members: [...p.members], name: `company ${p.company} (pages ${p.firstPage}-${p.firstPage + p.pages - 1})` })),
  ];
}

export function clusterHealth(cluster: Cluster, answers: ReadonlyMap<number, HostStatus | null>): ClusterHealth {
  const unreachable = cluster.hosts.map((h) => h.id).filter((id) => (answers.get(id) ?? null) === null);
  const groups = expectedGroups(cluster).map((g) => groupHealth(g, answers));
  return { ok: groups.every((g) => g.ok), groups, unreachable };
}

function groupHealth(g: { group: number; members: number[]; name: string }, answers: ReadonlyMap<number, HostStatus | null>): GroupHealth {
  const replica = (id: number): GroupStatus | undefined => answers.get(id)?.groups.find((r) => r.group === g.group);
  // The leader at the highest term any member reports: an old leader cut off from the rest may still think it leads.
  let leader: number | null = null;
  let term = -1;
  for (const id of g.members) {
    const r = replica(id);
    if (r?.role === 'leader' && r.term > term) [leader, term] = [id, r.term];
  }
  // Membership can change (a company replaces an owner that is gone): the leader's configuration is the one that counts.
  const members = leader !== null ? [...(replica(leader)?.voters ?? g.members)] : g.members;
  const quorum = Math.floor(members.length / 2) + 1;
  const following = leader === null ? [] : members.filter((id) => {
    const r = replica(id);
    return r !== undefined && r.term === term && (id === leader || r.lead === leader);
  });
  const why = (id: number): string => {
    const st = answers.get(id) ?? null;
    if (st === null) return `host ${id} unreachable`;
    const r = replica(id);
    if (r === undefined) return `host ${id} runs no replica of it`;
    const lead = r.lead === 0 ? 'no leader' : `leader ${r.lead}`;
    return `host ${id} is ${r.role} at term ${r.term} following ${lead}`;
  };
  const base = { group: g.group, name: g.name, members, term: leader === null ? null : term, leader, following };
  if (leader !== null && following.length >= quorum) return { ...base, ok: true, problem: null, hostsAtFault: [] };
  const atFault = members.filter((id) => !following.includes(id));
  const problem = leader === null
    ? `no leader (members ${members.join(', ')}: ${atFault.map(why).join('; ')})`
    : `leader ${leader} at term ${term} is followed by ${following.length} of ${members.length} members, a quorum is ${quorum} (${atFault.map(why).join('; ')})`;
  return { ...base, ok: false, problem, hostsAtFault: atFault };
}

/** One line per group at fault, or the one line saying all is well (with the hosts down, if any). */
export function formatHealth(h: ClusterHealth): string[] {
  const down = h.unreachable.length === 0 ? '' : `; host${h.unreachable.length > 1 ? 's' : ''} ${h.unreachable.join(', ')} unreachable`;
  if (h.ok) return [`healthy: every group has a leader followed by a quorum of its members${down}`];
  const bad = h.groups.filter((g) => !g.ok);
  return [
    `UNHEALTHY: ${bad.length} of ${h.groups.length} groups cannot commit${down}`,
    ...bad.map((g) => `  ${g.name}: ${g.problem}`),
  ];
}
