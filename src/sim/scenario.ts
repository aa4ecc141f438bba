// The scenario: everything about a run except the seed. Files are YAML (read in
// src/cli); this module only validates the parsed value, so the simulator stays
// free of I/O. Durations in files are milliseconds or seconds as the field name
// says; the simulator converts them to integer microseconds.
import { z } from 'zod';
import { issuesOf } from '../input/issues.js';
import type { InputIssue } from '../input/issues.js';
import { memorySettingsShape, raftSettingsSchema, replicationIssue } from '../host/config.js';
import { WORKLOAD_OPTION_DEFAULTS, workloadOf } from '../vmm/workloads/index.js';
import { FAULT_POINT_NAMES } from '../host/fault-points.js';
import { BYZANTINE_BEHAVIOURS } from './byzantine/behaviours.js';

export const FAULT_KINDS = [
  'partition',        // two-way split of the hosts into two sides
  'partition-one-way',// one host cannot send to (some) others, but still hears them
  'partition-partial',// one host sees some peers but not others
  'clog',             // messages on some links are held, then released together
  'flaky',            // a burst of loss, duplication and reordering
  'crash',            // a host stops, loses unsynced writes, restarts from its disk later
  'pause',            // a host stops processing (a GC pause, SIGSTOP), then resumes
  'corrupt-read',     // a host restarts while its disk flips bits on reads (caught by checksums, read again)
  'stall',            // a host's event loop stalls (no message, timer or disk completion handled) while its application threads run on
  'clock-jump',       // a host's clock steps forward or back
  'clock-drift',      // a host's clock rate changes (within the configured bound)
  'membership',       // a host leaves or (re)joins the Raft groups
  'transfer',         // leadership transfer to a random peer
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

const ms = z.number().nonnegative();
const probability = z.number().min(0).max(1);

const latencySchema = z
  .object({ minMs: ms, meanMs: ms, maxMs: ms })
  .strict()
  .refine((l) => l.minMs <= l.meanMs && l.meanMs <= l.maxMs, {
    message: 'expected minMs <= meanMs <= maxMs',
  });

const scheduledFaultSchema = z
  .object({
    atMs: ms,
    kind: z.enum(FAULT_KINDS),
    /** How long the fault lasts before it heals (a crash: until restart). */
    forMs: ms.default(0),
    /** Hosts the fault applies to; chosen at random from the live hosts if absent. */
    hosts: z.array(z.number().int().positive()).optional(),
    /** clock-jump: the step; clock-drift: the new rate in ppm. */
    amount: z.number().optional(),
    /** membership: whether a host is added or removed (random if absent). */
    action: z.enum(['add', 'remove']).optional(),
    /**
     * partition-one-way: the hosts it cannot send to; partition-partial: the
     * peers it is cut from (both ways); transfer: the new leader (random if absent).
     */
    peers: z.array(z.number().int().positive()).optional(),
    /** clog: the links [from, to] whose messages are held (random if absent). */
    links: z.array(z.tuple([z.number().int().positive(), z.number().int().positive()])).optional(),
    /** membership: a burst of this many changes in quick succession, `everyMs` apart. */
    count: z.number().int().min(1).max(100).default(1),
    everyMs: ms.default(0),
  })
  .strict();

const membershipBurstSchema = z
  .object({
    /** Changes per membership fault. */
    count: z.number().int().min(1).max(100),
    /** Between one change and the next: shorter than a change takes to commit puts several in flight at once. */
    everyMs: ms,
  })
  .strict();

export const scenarioSchema = z
  .object({
    name: z.string().min(1),
    description: z.string().default(''),
    /** Simulated length of a run, in seconds. */
    durationS: z.number().positive().max(3600),
    hosts: z.number().int().min(1).max(32),
    /** Hosts that start as voters; the rest wait to be added by membership faults. */
    initialVoters: z.number().int().min(1).max(32).optional(),
    /** Raft groups run side by side on every host (the page table runs one per company). */
    groups: z.number().int().min(1).max(16).default(1),
    raft: raftSettingsSchema(100).prefault({}),
    network: z
      .object({
        latency: latencySchema.default({ minMs: 0.2, meanMs: 1, maxMs: 10 }),
        loss: probability.default(0),
        duplicate: probability.default(0),
        reorder: probability.default(0),
      })
      .strict()
      .default({ latency: { minMs: 0.2, meanMs: 1, maxMs: 10 }, loss: 0, duplicate: 0, reorder: 0 }),
    disk: z
      .object({
        syncMs: latencySchema.default({ minMs: 0.05, meanMs: 0.2, maxMs: 2 }),
        tornWrites: z.boolean().default(false),
        /**
         * Sync at once, inside the Ready loop, as real mode's SQLite store does (its fsync
         * blocks the host): a single-voter group then commits and applies an entry within
         * the propose() that made it.
         */
        syncInline: z.boolean().default(false),
      })
      .strict()
      .default({ syncMs: { minMs: 0.05, meanMs: 0.2, maxMs: 2 }, tornWrites: false, syncInline: false }),
    clock: z
      .object({
        /** Initial offsets are drawn from [-maxOffsetMs, maxOffsetMs]. */
        maxOffsetMs: ms.default(0),
        /** Drift rates are drawn from [-maxDriftPpm, maxDriftPpm]. */
        maxDriftPpm: z.number().nonnegative().default(0),
        maxJumpMs: ms.default(0),
      })
      .strict()
      .default({ maxOffsetMs: 0, maxDriftPpm: 0, maxJumpMs: 0 }),
    workload: z
      .object({
        kind: z.literal('kv'),
        clients: z.number().int().min(0).max(64).default(3),
        /** Requests a client sends per simulated second (each waits for its answer). */
        rateHz: z.number().positive().default(5),
        keys: z.number().int().positive().default(8),
        /** A client gives up on a request it got no answer for and retries elsewhere. */
        timeoutMs: z.number().positive().default(1000),
      })
      .strict()
      .default({ kind: 'kv', clients: 3, rateHz: 5, keys: 8, timeoutMs: 1000 }),
    /**
     * The distributed shared memory. With it, the hosts run companies of page
     * tables instead of the key-value groups, and application threads run a
     * workload on the shared heap.
     */
    dsm: z
      .object({
        // heap, replication, leases and memoryLimitPages: the same settings as a cluster file's.
        ...memorySettingsShape,
        workload: z.enum(['registers', 'counter', 'matrix', 'alloc-churn', 'false-sharing', 'matrix-barrier', 'locked-list']).default('registers'),
        /** Options of the workload, e.g. { opsPerThread: 50 } (see src/vmm/workloads). */
        workloadOptions: z.record(z.string(), z.number()).default({}),
        threadsPerHost: z.number().int().min(0).max(16).default(2),
        /** Hosts that run application threads (default: all). */
        appHosts: z.array(z.number().int().positive()).optional(),
      })
      .strict()
      .optional(),
    faults: z
      .object({
        /** After this time no new fault starts and every fault heals: the quiet period. */
        untilS: z.number().nonnegative().optional(),
        schedule: z.array(scheduledFaultSchema).default([]),
        nemesis: z
          .object({
            kinds: z.array(z.enum(FAULT_KINDS)).min(1),
            /** Mean time between fault starts. */
            meanIntervalMs: z.number().positive().default(2000),
            /** Faults last between these bounds. */
            minDurationMs: ms.default(200),
            maxDurationMs: ms.default(3000),
            /** Swarm testing: each seed enables a random non-empty subset of kinds. */
            swarm: z.boolean().default(false),
            /** Each membership fault is a burst of changes in quick succession. */
            membershipBurst: membershipBurstSchema.optional(),
          })
          .strict()
          .optional(),
      })
      .strict()
      .default({ schedule: [] }),
    /**
     * In-code fault points (BUGGIFY, listed in src/host/fault-points.ts):
     * true enables each point for a seed with probability 1/4; an object
     * chooses the points and that probability. Off by default.
     */
    buggify: z.preprocess(
      (v) => (v === true ? {} : v === false ? undefined : v),
      z
        .object({
          /** Only these points (default: all). */
          points: z.array(z.enum(FAULT_POINT_NAMES as [string, ...string[]])).min(1).optional(),
          /** Each point is enabled for a seed with this probability. */
          enableProbability: probability.default(0.25),
        }, { error: 'expected true, false, or { points, enableProbability }' })
        .strict()
        .optional(),
    ),
    liveness: z
      .object({
        /** After faults stop, a leader and all pending requests must be done within this. */
        withinS: z.number().positive(),
      })
      .strict()
      .optional(),
    /**
     * One faulty host (src/sim/byzantine): which, what it does, how often it
     * lies where a behaviour lies now and then, and the length of a round of
     * partitions (small-scope, twins). Invariants judge the other hosts only.
     */
    byzantine: z
      .object({
        host: z.number().int().min(1).max(32),
        behaviour: z.enum(BYZANTINE_BEHAVIOURS),
        probability: probability.default(0.5),
        roundMs: z.number().positive().default(500),
      })
      .strict()
      .optional(),
    /** Deliberate bugs, to show that the checkers catch them (never on in a real scenario). */
    bugs: z
      .object({
        /** Send messages before the disk sync that should precede them. */
        sendBeforeSync: z.boolean().default(false),
        /** Let a node vote twice in one term after a restart (it forgets its vote). */
        forgetVote: z.boolean().default(false),
        /** Answer gets from the local state machine without going through the log. */
        localReads: z.boolean().default(false),
        /** Answer a revoke of a written page without writing it back first. */
        skipWriteBack: z.boolean().default(false),
        /** Release consistency: publish a release's write notices before its diffs are committed. */
        publishBeforeDurable: z.boolean().default(false),
        /** A lock manager grants a waiter at once, before the holder's release is committed. */
        grantBeforeRelease: z.boolean().default(false),
        /** A barrier opens one arrival early. */
        barrierEarly: z.boolean().default(false),
        /** A lock holder goes on past its lock's lease. */
        ignoreLockLease: z.boolean().default(false),
      })
      .strict()
      .optional(),
    /** A scenario that must find a violation: a seed without one is the failure. A list: any of them (a Byzantine host may be caught by several). */
    expect: z.object({ violation: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]) }).strict().optional(),
  })
  .strict()
  .superRefine((s, ctx) => {
    if (s.initialVoters !== undefined && s.initialVoters > s.hosts) {
      ctx.addIssue({ code: 'custom', path: ['initialVoters'], message: `expected at most hosts (${s.hosts})` });
    }
    if (s.faults.untilS !== undefined && s.faults.untilS > s.durationS) {
      ctx.addIssue({ code: 'custom', path: ['faults', 'untilS'], message: `expected at most durationS (${s.durationS})` });
    }
    if (s.liveness && (s.faults.untilS ?? 0) + s.liveness.withinS > s.durationS) {
      ctx.addIssue({
        code: 'custom', path: ['liveness', 'withinS'],
        message: 'expected faults.untilS + liveness.withinS <= durationS, so the run lasts long enough to judge liveness',
      });
    }
    if (s.dsm !== undefined) {
      const replication = replicationIssue(s.dsm, s.hosts);
      if (replication !== null) ctx.addIssue({ code: 'custom', path: ['dsm', 'replication'], message: replication });
      for (const h of s.dsm.appHosts ?? []) {
        if (h > s.hosts) ctx.addIssue({ code: 'custom', path: ['dsm', 'appHosts'], message: `expected host ids from 1 to ${s.hosts}` });
      }
      const options = workloadOptionsIssue(s.dsm.workload, s.dsm.workloadOptions);
      if (options !== null) {
        ctx.addIssue({ code: 'custom', path: ['dsm', 'workloadOptions', ...(options.option !== null ? [options.option] : [])], message: options.message });
      }
      if (s.expect === undefined && s.clock.maxDriftPpm > s.dsm.leases.driftBoundPpm) {
        ctx.addIssue({
          code: 'custom', path: ['clock', 'maxDriftPpm'],
          message: `expected at most dsm.leases.driftBoundPpm (${s.dsm.leases.driftBoundPpm}): leases are judged with that bound, so a larger drift is unsafe (a scenario that means it says expect)`,
        });
      }
    }
    if (s.byzantine !== undefined && s.byzantine.host > s.hosts) {
      ctx.addIssue({ code: 'custom', path: ['byzantine', 'host'], message: `expected a host id from 1 to ${s.hosts}` });
    }
    if (s.byzantine?.behaviour === 'twins' && s.dsm !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['byzantine', 'behaviour'], message: 'expected another behaviour: twins run in Raft scenarios (a shared-memory host keeps application threads that two copies cannot share)' });
    }
    for (const [i, f] of s.faults.schedule.entries()) {
      for (const field of ['hosts', 'peers'] as const) {
        if ((f[field] ?? []).some((h) => h > s.hosts)) {
          ctx.addIssue({ code: 'custom', path: ['faults', 'schedule', i, field], message: `expected host ids from 1 to ${s.hosts}` });
        }
      }
      for (const [j, link] of (f.links ?? []).entries()) {
        if (link.some((h) => h > s.hosts)) {
          ctx.addIssue({ code: 'custom', path: ['faults', 'schedule', i, 'links', j], message: `expected host ids from 1 to ${s.hosts}` });
        }
      }
    }
  });

export type Scenario = z.infer<typeof scenarioSchema>;

/** What is wrong with a workload's options (an unknown name, a value out of range), and which option; or null. */
function workloadOptionsIssue(workload: string, options: Record<string, number>): { option: string | null; message: string } | null {
  const known = Object.keys(WORKLOAD_OPTION_DEFAULTS[workload] ?? {});
  const unknown = Object.keys(options).filter((k) => !known.includes(k));
  if (unknown.length > 0) return { option: null, message: `expected options of ${workload} (${known.join(', ')}), got ${unknown.join(', ')}` };
  try {
    workloadOf(workload, options);
    return null;
  } catch (e) {
    // "matrix: option n must be an integer in [1, 256], got 300"
    const m = /option (\w+) must be (.*)$/.exec((e as Error).message);
    return m === null ? { option: null, message: (e as Error).message } : { option: m[1]!, message: `expected ${m[2]!.replace(/^in /, 'a number in ')}` };
  }
}

export type ScheduledFault = z.infer<typeof scheduledFaultSchema>;

/** Validates a parsed scenario; issues name the field (a.b[2].c) and what was expected. */
export function validateScenario(value: unknown): { ok: true; scenario: Scenario } | { ok: false; issues: InputIssue[] } {
  const parsed = scenarioSchema.safeParse(value);
  if (parsed.success) return { ok: true, scenario: parsed.data };
  return {
    ok: false,
    issues: issuesOf(parsed.error),
  };
}

/** The violations a scenario expects (any one of them will do), or null. */
export function expectedViolations(s: Scenario): readonly string[] | null {
  const v = s.expect?.violation;
  return v === undefined ? null : typeof v === 'string' ? [v] : v;
}

/** How reports name what a scenario expects: `liveness` or `election-safety | liveness`. */
export function expectLabel(s: Scenario): string | undefined {
  return expectedViolations(s)?.join(' | ');
}
