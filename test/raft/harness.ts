// A hand-driven cluster for Raft tests: N RawNodes, a message queue delivered explicitly, an
// in-memory "disk" per node, crash/restart, partitions, and always-on safety checks
// (one leader per term, one entry per committed index).

import { RawNode } from '../../src/raft/index.js';
import type { BootState, ConfChange, ConfState, Entry, HardState, Message, NodeId, RaftConfig, Ready, Snapshot } from '../../src/raft/index.js';
import { parseConfChange } from '../../src/raft/index.js';

/** Small deterministic PRNG (mulberry32); tests must not depend on Math.random. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface Disk {
  hardState: HardState;
  snapshot: Snapshot | null;
  entries: Entry[];
  conf: ConfState;
}

export interface Options {
  preVote?: boolean;
  checkQuorum?: boolean;
  electionTick?: number;
  heartbeatTick?: number;
  maxEntriesPerMsg?: number;
  maxInflight?: number;
  seed?: number;
  /** Deliver JSON.parse(JSON.stringify(m)) instead of m. */
  json?: boolean;
  /** Initial voters (default: all ids). */
  voters?: NodeId[];
  learners?: NodeId[];
}

export class Cluster {
  readonly ids: NodeId[];
  readonly nodes = new Map<NodeId, RawNode | null>();
  readonly disks = new Map<NodeId, Disk>();
  /** The applied state machine: data of applied entries, in order (snapshot restores it). */
  readonly sm = new Map<NodeId, string[]>();
  readonly smIndex = new Map<NodeId, number>();
  queue: Message[] = [];
  /** Every message ever sent, in order (for trace comparisons). */
  readonly sent: Message[] = [];
  readonly violations: string[] = [];
  /** term -> leader id, as observed. */
  readonly leaders = new Map<number, NodeId>();
  /** index -> "term:kind:data" of the entry applied there by anyone. */
  readonly committed = new Map<number, string>();
  private cut = new Set<string>();
  private readonly opts: Options;
  private rngs = new Map<NodeId, () => number>();

  constructor(ids: NodeId[], opts: Options = {}) {
    this.ids = ids;
    this.opts = opts;
    const conf: ConfState = { voters: opts.voters ?? [...ids], learners: opts.learners ?? [] };
    for (const id of ids) {
      this.disks.set(id, { hardState: { term: 0, vote: 0, commit: 0 }, snapshot: null, entries: [], conf });
      this.rngs.set(id, mulberry32((opts.seed ?? 1) * 1000 + id));
      this.start(id);
    }
  }

  config(id: NodeId): RaftConfig {
    return {
      id,
      electionTick: this.opts.electionTick ?? 10,
      heartbeatTick: this.opts.heartbeatTick ?? 1,
      preVote: this.opts.preVote ?? false,
      checkQuorum: this.opts.checkQuorum ?? false,
      random: this.rngs.get(id)!,
      ...(this.opts.maxEntriesPerMsg !== undefined ? { maxEntriesPerMsg: this.opts.maxEntriesPerMsg } : {}),
      ...(this.opts.maxInflight !== undefined ? { maxInflight: this.opts.maxInflight } : {}),
    };
  }

  /** Overwrite a node's disk (e.g. to set up a paper figure) and restart it from it. */
  setDisk(id: NodeId, d: Partial<Disk>): void {
    const cur = this.disks.get(id)!;
    this.disks.set(id, { ...cur, ...d });
    this.start(id);
  }

  /** (Re)start a node from its disk; volatile state (sm, in-flight Ready) is rebuilt. */
  start(id: NodeId): void {
    const d = this.disks.get(id)!;
    const boot: BootState = { hardState: d.hardState, snapshot: d.snapshot, entries: [...d.entries], conf: d.conf };
    this.nodes.set(id, new RawNode(this.config(id), boot));
    this.sm.set(id, d.snapshot ? (JSON.parse(d.snapshot.data) as string[]) : []);
    this.smIndex.set(id, d.snapshot ? d.snapshot.index : 0);
  }

  node(id: NodeId): RawNode {
    const n = this.nodes.get(id);
    if (!n) throw new Error(`node ${id} is down`);
    return n;
  }

  isUp(id: NodeId): boolean {
    return this.nodes.get(id) != null;
  }

  crash(id: NodeId): void {
    this.nodes.set(id, null);
  }

  restart(id: NodeId): void {
    this.start(id);
  }

  // ------------------------------------------------------------ network

  private key(a: NodeId, b: NodeId): string {
    return `${a}>${b}`;
  }

  /** Cut both directions between a and b. */
  cutLink(a: NodeId, b: NodeId): void {
    this.cut.add(this.key(a, b));
    this.cut.add(this.key(b, a));
  }

  isolate(id: NodeId): void {
    for (const o of this.ids) if (o !== id) this.cutLink(id, o);
  }

  heal(): void {
    this.cut.clear();
  }

  linked(from: NodeId, to: NodeId): boolean {
    return !this.cut.has(this.key(from, to));
  }

  // ------------------------------------------------------------ driving

  /** Persist, send, apply and advance one Ready (the synchronous driver). */
  handleReady(id: NodeId, rd: Ready): void {
    this.persist(id, rd);
    this.sendAll(rd.messages);
    this.sendAll(rd.messagesAfterPersist);
    this.apply(id, rd);
    this.node(id).advance(rd);
    this.observe(id);
  }

  persist(id: NodeId, rd: Ready): void {
    const d = this.disks.get(id)!;
    if (rd.hardState) d.hardState = rd.hardState;
    if (rd.snapshot) {
      d.snapshot = rd.snapshot;
      d.entries = [];
    }
    if (rd.entries.length > 0) {
      const first = rd.entries[0]!.index;
      d.entries = d.entries.filter((e) => e.index < first).concat(rd.entries);
    }
  }

  sendAll(ms: Message[]): void {
    for (const m of ms) {
      this.sent.push(m);
      this.queue.push(m);
    }
  }

  apply(id: NodeId, rd: Ready): void {
    const n = this.node(id);
    const sm = this.sm.get(id)!;
    if (rd.snapshot) {
      this.sm.set(id, JSON.parse(rd.snapshot.data) as string[]);
      this.smIndex.set(id, rd.snapshot.index);
    }
    for (const e of rd.committedEntries) {
      const want = this.smIndex.get(id)! + 1;
      if (e.index !== want) this.violations.push(`node ${id} applied ${e.index}, expected ${want}`);
      this.smIndex.set(id, e.index);
      const sig = `${e.term}:${e.kind}:${e.data}`;
      const prev = this.committed.get(e.index);
      if (prev !== undefined && prev !== sig) {
        this.violations.push(`index ${e.index} committed as ${prev} and as ${sig} (node ${id})`);
      }
      this.committed.set(e.index, sig);
      if (e.kind === 'conf') {
        const cc = parseConfChange(e.data);
        if (cc) n.applyConfChange(cc);
      }
      (this.sm.get(id) ?? sm).push(e.data);
    }
  }

  /** Election safety: at most one leader per term. */
  observe(id: NodeId): void {
    const n = this.nodes.get(id);
    if (!n) return;
    const s = n.status();
    if (s.role !== 'leader') return;
    const prev = this.leaders.get(s.term);
    if (prev !== undefined && prev !== id) this.violations.push(`two leaders in term ${s.term}: ${prev} and ${id}`);
    this.leaders.set(s.term, id);
  }

  /** Drain every node's Ready synchronously. */
  processAll(): void {
    for (let again = true; again; ) {
      again = false;
      for (const id of this.ids) {
        const n = this.nodes.get(id);
        if (n && n.hasReady()) {
          this.handleReady(id, n.ready());
          again = true;
        }
      }
    }
  }

  /** Deliver one message (respecting cuts and crashes). */
  deliver(m: Message): void {
    if (!this.linked(m.from, m.to)) return;
    const n = this.nodes.get(m.to);
    if (!n) return;
    n.step(this.opts.json ? (JSON.parse(JSON.stringify(m)) as Message) : m);
    this.observe(m.to);
  }

  /**
   * Deliver queued messages (only those matching `filter`; others are dropped unless `keep`)
   * and process Readys, until the network is quiet.
   */
  stabilize(filter: (m: Message) => boolean = () => true, keep = false, maxRounds = 1000): void {
    this.processAll();
    for (let round = 0; round < maxRounds; round++) {
      const q = this.queue;
      const deliverable = q.filter(filter);
      this.queue = keep ? q.filter((m) => !filter(m)) : [];
      if (deliverable.length === 0) return;
      for (const m of deliverable) this.deliver(m);
      this.processAll();
    }
    throw new Error('stabilize: no quiescence');
  }

  /** Tick every live node once per round, stabilizing after each round. */
  tickAll(rounds = 1): void {
    for (let i = 0; i < rounds; i++) {
      for (const id of this.ids) this.nodes.get(id)?.tick();
      this.stabilize();
    }
  }

  tickNode(id: NodeId, n = 1): void {
    for (let i = 0; i < n; i++) this.node(id).tick();
    this.stabilize();
  }

  /** Make id campaign and run the election to completion. */
  elect(id: NodeId): void {
    this.node(id).campaign();
    this.stabilize();
  }

  /** The current leaders among live nodes (normally one). */
  leadersNow(): NodeId[] {
    return this.ids.filter((id) => this.nodes.get(id)?.status().role === 'leader');
  }

  /** Propose at the leader and replicate; returns whether the proposal was accepted. */
  propose(id: NodeId, data: string): boolean {
    const ok = this.node(id).propose(data);
    this.stabilize();
    return ok;
  }

  proposeConf(id: NodeId, cc: ConfChange): boolean {
    const ok = this.node(id).proposeConfChange(cc);
    this.stabilize();
    return ok;
  }

  /** Application snapshot at the node's applied index, stored on its disk. */
  compact(id: NodeId): void {
    const n = this.node(id);
    const idx = this.smIndex.get(id)!;
    n.compact(idx, JSON.stringify(this.sm.get(id)));
    const s = n.lastSnapshot();
    if (s && s.index === idx) {
      const d = this.disks.get(id)!;
      d.snapshot = s;
      d.entries = d.entries.filter((e) => e.index > idx);
    }
  }

  /** Log terms [first..last] for comparisons. */
  logTerms(id: NodeId): number[] {
    const n = this.node(id);
    const s = n.status();
    return n.entriesFrom(s.firstIndex, s.lastIndex + 1).map((e) => e.term);
  }
}

/** Build a log of entries from a list of terms, starting at index 1. */
export function entriesOfTerms(terms: number[]): Entry[] {
  return terms.map((term, i) => ({ term, index: i + 1, kind: 'normal' as const, data: `t${term}i${i + 1}` }));
}
