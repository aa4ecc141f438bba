// The company side of one host, the same in both worlds: which state machine
// each Raft group runs, who should serve each company (from the registry),
// the VMM's access to a company replica, moving a led company toward its
// target members, and handing applied entries to the VMM. The shared memory's
// service (dsm-service.ts) calls this for everything the VMM needs of the
// groups; the runtime owns the replicas and their Ready loop.
import type { ConfChange, Entry, RawNode, Role } from '../raft/index.js';
import type { CompanyApplied, CompanyEntry } from '../vmm/company.js';
import { CompanyMachine, eachApplied, encodeCompanyEntry } from '../vmm/company.js';
import type { CompanyPlan } from '../vmm/placement.js';
import { nextConfChange, RegistryMachine, targetMembers } from '../vmm/registry.js';
import type { StateMachine, StateMachineFactory } from '../vmm/state-machine.js';
import type { CompanyAccess } from '../vmm/vmm-env.js';
import type { Vmm } from '../vmm/vmm.js';

/** One Raft group's replica on this host, as seen from above the Ready loop. */
export interface GroupReplica {
  readonly role: Role;
  readonly lead: number;
  readonly node: RawNode;
  readonly machine: StateMachine;
  /** Handles whatever the node has ready (call after proposing). */
  pump(): void;
}

export interface CompanyHostConfig {
  readonly plans: readonly CompanyPlan[];
  /** The owners at genesis. */
  readonly owners: readonly number[];
  /** Owners per company. */
  readonly replication: number;
  readonly pageSize: number;
  readonly rootPages: number;
}

export class CompanyHost {
  /** Group 0 is the registry; group c >= 1 is company c. */
  readonly machine: StateMachineFactory;
  /** Target members by company, for the owners list they were computed from. */
  private membersCache: { owners: readonly number[]; byCompany: Map<number, number[]> } | null = null;
  /** By company: the access made for its current replica (a new replica, after a restart or first contact, gets a new one). */
  private readonly accessCache: ({ replica: GroupReplica; access: CompanyAccess } | undefined)[] = [];

  constructor(
    private readonly cfg: CompanyHostConfig,
    private readonly replica: (group: number) => GroupReplica | undefined,
  ) {
    this.machine = (group, snapshot) => group === 0
      ? new RegistryMachine(cfg.owners, snapshot, cfg.replication)
      : new CompanyMachine(this.plan(group), cfg.pageSize, cfg.rootPages, snapshot);
  }

  private plan(company: number): CompanyPlan {
    const p = this.cfg.plans.find((x) => x.company === company);
    if (p === undefined) throw new Error(`no company ${company}`);
    return p;
  }

  /** The owners as this host's registry replica knows them (the genesis owners if it has none). */
  private owners(): readonly number[] {
    const r = this.replica(0);
    return r === undefined ? this.cfg.owners : (r.machine as RegistryMachine).owners;
  }

  /** Who should serve a company now, as best this host knows. */
  members(company: number): number[] {
    const owners = this.owners();
    if (this.membersCache?.owners !== owners) this.membersCache = { owners, byCompany: new Map() };
    let m = this.membersCache.byCompany.get(company);
    if (m === undefined) {
      m = targetMembers(company, owners, this.cfg.replication);
      this.membersCache.byCompany.set(company, m);
    }
    return m;
  }

  /** The VMM's view of this host's replica of a company (null: not a member). */
  access(company: number): CompanyAccess | null {
    const r = this.replica(company);
    if (r === undefined) return null;
    // The VMM asks at every request it routes: one view per replica, not one per call.
    const cached = this.accessCache[company];
    if (cached?.replica === r) return cached.access;
    const access = this.accessOf(r);
    this.accessCache[company] = { replica: r, access };
    return access;
  }

  private accessOf(r: GroupReplica): CompanyAccess {
    return {
      isLeader: () => r.role === 'leader',
      term: () => r.node.term(),
      lead: () => r.lead,
      propose: (entry: CompanyEntry) => {
        if (r.role !== 'leader' || !r.node.propose(encodeCompanyEntry(entry))) return false;
        r.pump();
        return true;
      },
      table: () => (r.machine as CompanyMachine).table,
      appliedIndex: () => (r.machine as CompanyMachine).appliedIndex,
    };
  }

  /**
   * A company's leader moves its group toward the members the registry says it
   * should have, one change at a time (Raft refuses a second while one is
   * pending). Call on every tick; `changed` hears of each change proposed.
   */
  reconcile(self: number, changed: (company: number, type: ConfChange['type'], node: number) => void): void {
    for (const plan of this.cfg.plans) {
      const r = this.replica(plan.company);
      if (r === undefined || r.role !== 'leader') continue;
      const voters = r.node.status().conf.voters;
      const change = nextConfChange(voters, this.members(plan.company), self);
      if (change !== null && r.node.proposeConfChange(change)) {
        changed(plan.company, change.type, change.node);
        r.pump();
      }
    }
  }

  /** Tells a new VMM which companies this host leads already (after a start or restart). */
  announceLeadership(vmm: Vmm): void {
    for (const plan of this.cfg.plans) {
      const r = this.replica(plan.company);
      if (r?.role === 'leader') vmm.leadership(plan.company, true, r.node.term());
    }
  }

  /**
   * An entry of `group` applied here with `result`: the VMM hears of company
   * entries, and a leader's own no-op of its term (its table is current, it may
   * manage). `watch` sees each company entry's result and table first (the
   * simulator's checkers).
   */
  applied(vmm: Vmm | null, group: number, entry: Entry, result: unknown, watch?: (a: CompanyApplied, index: number, table: CompanyMachine) => void): void {
    const r = this.replica(group);
    if (r === undefined) return;
    if (result === null && entry.data === '' && r.role === 'leader' && entry.term === r.node.term()) {
      vmm?.leadership(group, true, entry.term);
      return;
    }
    if (result === null || group === 0) return;
    const a = result as CompanyApplied;
    if (watch !== undefined) for (const x of eachApplied(a)) watch(x, entry.index, r.machine as CompanyMachine);
    vmm?.applied(a);
  }

  /** A replica stopped leading: its manager goes. */
  roleChanged(vmm: Vmm | null, group: number, role: Role): void {
    if (role !== 'leader') vmm?.leadership(group, false, 0);
  }
}
