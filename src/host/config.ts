// Configuration shared by both worlds: a scenario's `raft` and `dsm` blocks and
// a cluster file's `raft`, `heap`, `replication` and `leases` parse with these
// schemas into these types, with the same defaults and bounds, and map here to
// Raft's and the VMM's settings.
import { z } from 'zod';
import type { RaftConfig } from '../raft/index.js';
import type { CompanyPlan } from '../vmm/placement.js';
import type { VmmConfig } from '../vmm/vmm-env.js';

export const RAFT_DEFAULTS = {
  tickMs: 100, electionTicks: 10, heartbeatTicks: 1, preVote: true, checkQuorum: true, snapshotEveryEntries: 1000, maxEntriesPerMsg: 64,
};

/**
 * Raft's settings. The simulator snapshots more often by default (every 100
 * entries), so that short runs exercise snapshots; real hosts every 1000.
 */
export function raftSettingsSchema(snapshotEveryEntries = RAFT_DEFAULTS.snapshotEveryEntries) {
  return z
    .object({
      tickMs: z.number().int().positive().default(RAFT_DEFAULTS.tickMs),
      electionTicks: z.number().int().min(2).default(RAFT_DEFAULTS.electionTicks),
      heartbeatTicks: z.number().int().min(1).default(RAFT_DEFAULTS.heartbeatTicks),
      preVote: z.boolean().default(RAFT_DEFAULTS.preVote),
      checkQuorum: z.boolean().default(RAFT_DEFAULTS.checkQuorum),
      /** Entries applied between snapshots of the state machine (which compact the log). */
      snapshotEveryEntries: z.number().int().min(2).default(snapshotEveryEntries),
      maxEntriesPerMsg: z.number().int().positive().default(RAFT_DEFAULTS.maxEntriesPerMsg),
    })
    .strict()
    .superRefine((r, ctx) => {
      if (r.heartbeatTicks >= r.electionTicks) {
        ctx.addIssue({
          code: 'custom', path: ['heartbeatTicks'],
          message: `expected fewer than electionTicks (${r.electionTicks}), else followers time out between heartbeats`,
        });
      }
    });
}

export type RaftSettings = z.infer<ReturnType<typeof raftSettingsSchema>>;

export function raftConfigOf(s: RaftSettings, id: number, random: () => number): RaftConfig {
  return {
    id, random, electionTick: s.electionTicks, heartbeatTick: s.heartbeatTicks, preVote: s.preVote, checkQuorum: s.checkQuorum,
    maxEntriesPerMsg: s.maxEntriesPerMsg,
  };
}

export const HEAP_DEFAULTS = { pageSize: 4096, pages: 1024, rootPages: 4 };
export const LEASE_DEFAULTS = { leaseMs: 1000, driftBoundPpm: 1000, retryMs: 50, minHoldMs: 2 };
export const COHERENCE_MODELS = ['sequential', 'release'] as const;
export type Coherence = (typeof COHERENCE_MODELS)[number];

/** Owners per company unless a file says otherwise, or fewer where there are fewer hosts. */
export const DEFAULT_REPLICATION = 3;

export const heapSchema = z
  .object({
    /** Bytes per page; real mode also needs a whole number of the OS's pages. */
    pageSize: z.number().int().min(64).max(1 << 24)
      .refine((n) => n % 8 === 0, { message: 'expected a multiple of 8' })
      .default(HEAP_DEFAULTS.pageSize),
    pages: z.number().int().min(2).max(1 << 24).default(HEAP_DEFAULTS.pages),
    /** The root region at address 0, reserved at genesis for the application's shared words. */
    rootPages: z.number().int().min(1).default(HEAP_DEFAULTS.rootPages),
  })
  .strict()
  .superRefine((h, ctx) => {
    if (h.rootPages >= h.pages) ctx.addIssue({ code: 'custom', path: ['rootPages'], message: `expected fewer than pages (${h.pages})` });
  });

export const leasesSchema = z
  .object({
    leaseMs: z.number().positive().default(LEASE_DEFAULTS.leaseMs),
    /** The clock drift hosts stay within; leases are judged with it (a simulated drift beyond it is unsafe). */
    driftBoundPpm: z.number().nonnegative().max(100_000).default(LEASE_DEFAULTS.driftBoundPpm),
    /** How long to wait for an answer before asking again. */
    retryMs: z.number().positive().default(LEASE_DEFAULTS.retryMs),
    /** A host keeps a page it was just granted at least this long before giving it up, so contending hosts all progress. */
    minHoldMs: z.number().nonnegative().default(LEASE_DEFAULTS.minHoldMs),
  })
  .strict()
  .superRefine((l, ctx) => {
    if (l.minHoldMs >= l.leaseMs) ctx.addIssue({ code: 'custom', path: ['minHoldMs'], message: `expected less than leaseMs (${l.leaseMs})` });
  });

/** The shared memory's settings, as both a scenario's `dsm` block and a cluster file hold them. */
export const memorySettingsShape = {
  heap: heapSchema.prefault({}),
  /** Owners per company (the Raft group replicating a range of the page table); default min(3, hosts). */
  replication: z.number().int().min(1).max(7).optional(),
  leases: leasesSchema.prefault({}),
  /** Pages a host keeps at most; past it, it drops pages it holds only for reading. */
  memoryLimitPages: z.number().int().positive().optional(),
  /**
   * The coherence model of application memory: sequential (single writer, write-invalidate) or
   * release (lazy release consistency: many writers, diffs published at unlock and barriers).
   */
  coherence: z.enum(COHERENCE_MODELS, { error: `expected one of ${COHERENCE_MODELS.map((m) => `'${m}'`).join(', ')}` }).default('sequential'),
};

export interface MemorySettings {
  heap: z.infer<typeof heapSchema>;
  coherence?: Coherence | undefined;
  replication?: number | undefined;
  leases: z.infer<typeof leasesSchema>;
  memoryLimitPages?: number | undefined;
}

/** Replication as configured, or the default that fits the number of owners. */
export function replicationOf(m: Pick<MemorySettings, 'replication'>, owners: number): number {
  return m.replication ?? Math.min(DEFAULT_REPLICATION, owners);
}

/** The issue, if any, of a replication the hosts cannot provide. */
export function replicationIssue(m: Pick<MemorySettings, 'replication'>, owners: number): string | null {
  if (m.replication === undefined || m.replication <= owners) return null;
  return `expected at most the number of hosts (${owners})`;
}

const us = (ms: number): number => Math.round(ms * 1000);

/** The VMM's settings for one host. */
/** The VMM's settings; the world adds which incarnation of the host runs them. */
export function vmmConfigOf(m: MemorySettings, host: number, plans: readonly CompanyPlan[], bugs?: VmmConfig['bugs']): Omit<VmmConfig, 'incarnation'> {
  return {
    host,
    pageSize: m.heap.pageSize,
    pages: m.heap.pages,
    rootPages: m.heap.rootPages,
    plans,
    leaseUs: us(m.leases.leaseMs),
    driftBoundPpm: m.leases.driftBoundPpm,
    retryUs: us(m.leases.retryMs),
    minHoldUs: us(m.leases.minHoldMs),
    ...(m.memoryLimitPages !== undefined ? { memoryLimitPages: m.memoryLimitPages } : {}),
    ...(m.coherence === 'release' ? { coherence: m.coherence } : {}),
    ...(bugs !== undefined ? { bugs } : {}),
  };
}
