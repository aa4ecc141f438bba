// What a user sees of a run's state with `gallocy replay --inspect`: for each
// host, its replicas (role, term, commit, voters), the page tables of the
// companies it belongs to, and the pages it holds, so one can tell why a page
// was granted.
import { CompanyMachine } from '../vmm/company.js';
import { SimDsmApp } from './dsm-app.js';
import type { SimHost } from './host.js';

export interface GroupInspection {
  group: number;
  role: string;
  term: number;
  commit: number;
  applied: number;
  voters: number[];
  /** The company's page table, for DSM groups. */
  table?: {
    allocations: { id: string; firstPage: number; pages: number; owner: number }[];
    leases: { page: number; host: number; mode: string; term: number; grantedAtUs: number }[];
    pages: { page: number; version: number; hash: string }[];
  };
}

export interface HostInspection {
  host: number;
  state: string;
  groups: GroupInspection[];
  /** DSM: the leases this host holds, as its page client sees them. */
  holds?: { page: number; mode: string; version: number; leaseEndsInMs: number }[];
  dirtyPage?: number | null;
}

export function inspectHost(h: SimHost, nowLocalUs: number, dsm: boolean): HostInspection {
  const groups: GroupInspection[] = [];
  h.replicas.forEach((r, group) => {
    if (r === undefined) return;
    const st = r.node.status();
    const g: GroupInspection = { group, role: st.role, term: st.term, commit: st.commit, applied: st.applied, voters: st.conf.voters };
    if (dsm && r.machine instanceof CompanyMachine) {
      const d = r.machine.table.dump();
      g.table = {
        allocations: d.allocations.map((a) => ({ id: a.id, firstPage: a.firstPage, pages: a.pages, owner: a.owner })),
        leases: d.leases.map((l) => ({ page: l.page, host: l.host, mode: l.mode, term: l.term, grantedAtUs: l.grantedAtUs })),
        pages: d.pages.filter((p) => p.allocation !== null).map((p) => ({ page: p.page, version: p.version, hash: p.hash })),
      };
    }
    groups.push(g);
  });
  const out: HostInspection = { host: h.id, state: h.state, groups };
  if (dsm) {
    const client = h.app instanceof SimDsmApp ? h.app.vmm.client : undefined;
    out.holds = (client?.heldPages() ?? []).map(([page, x]) => ({
      page, mode: x.mode, version: x.version, leaseEndsInMs: Math.round((x.expires - nowLocalUs) / 1000),
    }));
    out.dirtyPage = client?.dirtyPage ?? null;
  }
  return out;
}

export function formatInspection(hosts: readonly HostInspection[]): string {
  const lines: string[] = [];
  for (const h of hosts) {
    lines.push(`host ${h.host} (${h.state})${h.dirtyPage !== undefined ? `, dirty page: ${h.dirtyPage ?? 'none'}` : ''}`);
    if (h.holds !== undefined) {
      lines.push(h.holds.length === 0 ? '  holds no page'
        : `  holds: ${h.holds.map((x) => `page ${x.page} ${x.mode} v${x.version} (lease ends in ${x.leaseEndsInMs} ms)`).join('; ')}`);
    }
    for (const g of h.groups) {
      lines.push(`  group ${g.group}: ${g.role}, term ${g.term}, commit ${g.commit}, applied ${g.applied}, voters [${g.voters.join(', ')}]`);
      if (g.table === undefined) continue;
      lines.push(`    allocations: ${g.table.allocations.map((a) => `${a.id} pages ${a.firstPage}+${a.pages} (owner ${a.owner})`).join('; ') || 'none'}`);
      lines.push(`    leases: ${g.table.leases.map((l) => `page ${l.page} -> host ${l.host} ${l.mode} (term ${l.term}, granted at ${l.grantedAtUs} us)`).join('; ') || 'none'}`);
      const written = g.table.pages.filter((p) => p.version > 0);
      lines.push(`    pages written: ${written.map((p) => `${p.page} v${p.version}`).join(', ') || 'none'}`);
    }
  }
  return `${lines.join('\n')}\n`;
}
