// An interaction environment for Raft scripts (after etcd-io/raft's
// rafttest.InteractionEnv): RawNodes with an in-memory disk each, a network
// queue the script delivers from explicitly, drop rules and partitions,
// crash and restart. Every Ready is printed the way a driver sees it, with
// its two message lists apart: `Messages` may leave at once, while
// `MessagesAfterPersist` leave only once the Ready's records are on disk.
//
// Randomness: a node's election timeout is electionTick + floor(r *
// electionTick) for the r its random source returns. Each node's source
// returns one fixed r: 0 by default (the timeout is electionTick), or the r
// that gives the timeout add-nodes timeout=(...) asks for. So the output is
// the same on every run, and a script says which node times out first.
//
// Commands (ID... means node ids; none means every node):
//   add-nodes N [voters=(..)] [learners=(..)] [prevote=] [checkquorum=] [election=3] [heartbeat=1]
//             [max-entries=] [max-inflight=] [timeout=(t1,..,tN)]
//   set-log ID terms=(..) [data=(..)] [term=] [vote=] [commit=]   a node's disk as after a past; restarts it
//   campaign ID...   propose ID DATA   transfer-leadership from=ID to=ID   compact ID INDEX
//   tick [ID...] [count=1]   tick-election [ID...]   tick-heartbeat [ID...]
//   process-ready [ID...] [persist=false]   persist [ID...]   stabilize [ID...]
//   deliver-msgs [ID...] [from=ID] [type=MsgApp] [drop=true]
//   drop [from=ID] [to=ID] [type=T]   partition ID.. | ID..   isolate ID...   heal
//   crash ID...   restart ID...
//   raft-state   raft-log [ID...]   log-terms [ID...]   status [ID...]   applied [ID...]   disk [ID...]
// Any command takes quiet=true (print nothing but ok).
import type { Command } from '../datadriven/command.js';
import { ScriptError, toInt } from '../datadriven/command.js';
import type { Handler } from '../datadriven/runner.js';
import { applyCommitted, parseConfChange, RawNode } from '../../src/raft/index.js';
import type { BootState, ConfState, Entry, HardState, Message, MessageType, NodeId, RaftConfig, Ready, Role, Snapshot } from '../../src/raft/index.js';

// ------------------------------------------------------------------ formatting (etcd's Describe*)

const MSG_NAMES: Record<MessageType, string> = {
  app: 'MsgApp', appResp: 'MsgAppResp', heartbeat: 'MsgHeartbeat', heartbeatResp: 'MsgHeartbeatResp',
  vote: 'MsgVote', voteResp: 'MsgVoteResp', preVote: 'MsgPreVote', preVoteResp: 'MsgPreVoteResp',
  snap: 'MsgSnap', timeoutNow: 'MsgTimeoutNow',
};

const ROLE_NAMES: Record<Role, string> = {
  follower: 'StateFollower', preCandidate: 'StatePreCandidate', candidate: 'StateCandidate', leader: 'StateLeader',
};

const ROLE_WORDS: Record<Role, string> = {
  follower: 'follower', preCandidate: 'pre-candidate', candidate: 'candidate', leader: 'leader',
};

function messageType(name: string): MessageType {
  for (const [t, n] of Object.entries(MSG_NAMES) as [MessageType, string][]) if (name === t || name === n) return t;
  throw new ScriptError(`unknown message type ${JSON.stringify(name)} (expected one of ${Object.values(MSG_NAMES).join(', ')})`);
}

export function describeEntry(e: Entry): string {
  if (e.kind === 'conf') {
    const cc = parseConfChange(e.data);
    return `${e.term}/${e.index} EntryConfChange ${cc ? `${cc.type} ${cc.node}` : JSON.stringify(e.data)}`;
  }
  return `${e.term}/${e.index} EntryNormal ${JSON.stringify(e.data)}`;
}

function describeConf(c: ConfState): string {
  const l = c.learners.length > 0 ? ` Learners:[${c.learners.join(' ')}]` : '';
  return `Voters:[${c.voters.join(' ')}]${l}`;
}

export function describeSnapshot(s: Snapshot): string {
  return `Index:${s.index} Term:${s.term} ${describeConf(s.conf)}`;
}

function describeHardState(h: HardState): string {
  return `Term:${h.term} Vote:${h.vote} Commit:${h.commit}`;
}

export function describeMessage(m: Message): string {
  let s = `${m.from}->${m.to} ${MSG_NAMES[m.type]} Term:${m.term} Log:${m.logTerm}/${m.index}`;
  if (m.reject) s += m.type === 'appResp' ? ` Rejected (Hint: ${m.rejectHint})` : ' Rejected';
  if (m.commit !== 0) s += ` Commit:${m.commit}`;
  if (m.transfer) s += ' Transfer';
  if (m.entries.length > 0) s += ` Entries:[${m.entries.map(describeEntry).join(', ')}]`;
  if (m.snapshot) s += ` Snapshot: ${describeSnapshot(m.snapshot)}`;
  return s;
}

export function describeReady(rd: Ready): string[] {
  const out = [`Ready MustSync=${rd.mustSync}:`];
  if (rd.softState) out.push(`Lead:${rd.softState.lead} State:${ROLE_NAMES[rd.softState.role]}`);
  if (rd.hardState) out.push(`HardState ${describeHardState(rd.hardState)}`);
  if (rd.entries.length > 0) out.push('Entries:', ...rd.entries.map(describeEntry));
  if (rd.snapshot) out.push(`Snapshot ${describeSnapshot(rd.snapshot)}`);
  if (rd.committedEntries.length > 0) out.push('CommittedEntries:', ...rd.committedEntries.map(describeEntry));
  if (rd.messages.length > 0) out.push('Messages:', ...rd.messages.map(describeMessage));
  if (rd.messagesAfterPersist.length > 0) out.push('MessagesAfterPersist:', ...rd.messagesAfterPersist.map(describeMessage));
  return out;
}

const indent = (lines: string[]): string[] => lines.map((l) => `  ${l}`);

// ------------------------------------------------------------------ nodes

interface Disk {
  hardState: HardState;
  snapshot: Snapshot | null;
  entries: Entry[];
}

/** The application: the data of every applied normal entry (no-ops left out), snapshots included. */
interface AppState {
  /** What the last snapshot restored. */
  base: string[];
  entries: { index: number; data: string }[];
  /** The index applied through (no-ops and conf changes count). */
  applied: number;
}

interface Node {
  readonly id: NodeId;
  readonly config: RaftConfig;
  /** The configuration the group started with (the disk's base when there is no snapshot). */
  readonly conf: ConfState;
  /** null while crashed. */
  raw: RawNode | null;
  disk: Disk;
  app: AppState;
  /** A Ready handed out by `process-ready persist=false`, its records not yet on disk. */
  unpersisted: Ready | null;
}

function appFromSnapshot(s: Snapshot | null): AppState {
  return { base: s ? (JSON.parse(s.data) as string[]) : [], entries: [], applied: s ? s.index : 0 };
}

/** The application's contents after applying everything up to `index`. */
function appAt(app: AppState, index: number): string[] {
  return [...app.base, ...app.entries.filter((e) => e.index <= index).map((e) => e.data)];
}

interface DropRule {
  from: NodeId | null;
  to: NodeId | null;
  type: MessageType | null;
}

/** A random source that makes the election timeout `timeout` (electionTick if none is asked for). */
function randomFor(id: NodeId, electionTick: number, timeout: number | undefined): () => number {
  if (timeout === undefined) return () => 0;
  if (timeout < electionTick || timeout >= 2 * electionTick) {
    throw new ScriptError(`timeout ${timeout} of node ${id} is outside [${electionTick}, ${2 * electionTick}) (electionTick ${electionTick})`);
  }
  // The middle of the bucket that floors to the wanted timeout, safe from rounding.
  const r = (timeout - electionTick + 0.5) / electionTick;
  return () => r;
}

const MAX_STABILIZE_ROUNDS = 10_000;

export interface RaftScriptOptions {
  /** A driver bug, to show a script catches it: MessagesAfterPersist go out with Messages, before the write. */
  sendBeforePersist?: boolean;
}

export class RaftInteractionEnv {
  private readonly nodes = new Map<NodeId, Node>();
  /** Messages sent and not yet delivered or dropped, in send order. */
  private queue: Message[] = [];
  private rules: DropRule[] = [];
  private out: string[] = [];

  private readonly commands: Record<string, (c: Command) => void> = {
    'add-nodes': (c) => this.addNodes(c),
    'set-log': (c) => this.setLog(c),
    campaign: (c) => this.campaign(c),
    propose: (c) => this.propose(c),
    'transfer-leadership': (c) => this.transfer(c),
    tick: (c) => this.tick(c, c.int('count', 1)),
    'tick-election': (c) => this.tick(c, null),
    'tick-heartbeat': (c) => this.tick(c, 'heartbeat'),
    'process-ready': (c) => this.processReadyCmd(c),
    persist: (c) => this.persistCmd(c),
    stabilize: (c) => this.stabilize(c),
    'deliver-msgs': (c) => this.deliverMsgs(c),
    drop: (c) => this.dropCmd(c),
    partition: (c) => this.partition(c),
    isolate: (c) => this.isolate(c),
    heal: () => {
      this.rules = [];
    },
    crash: (c) => this.crash(c),
    restart: (c) => this.restart(c),
    compact: (c) => this.compact(c),
    'raft-state': () => this.raftState(),
    'raft-log': (c) => this.raftLog(c),
    'log-terms': (c) => this.logTerms(c),
    status: (c) => this.status(c),
    applied: (c) => this.applied(c),
    disk: (c) => this.diskCmd(c),
  };

  constructor(private readonly opts: RaftScriptOptions = {}) {}

  readonly handle: Handler = (c) => {
    const run = this.commands[c.cmd];
    if (run === undefined) throw new ScriptError(`unknown command ${JSON.stringify(c.cmd)} (expected one of ${Object.keys(this.commands).join(', ')})`);
    // quiet=true runs any command without printing (setup steps whose details do not matter).
    const quiet = c.bool('quiet', false);
    this.out = [];
    run(c);
    return quiet || this.out.length === 0 ? 'ok' : this.out.join('\n');
  };

  private print(...lines: string[]): void {
    this.out.push(...lines);
  }

  /** Collects what fn prints, to indent it under a header. */
  private capture(fn: () => void): string[] {
    const saved = this.out;
    this.out = [];
    try {
      fn();
      return this.out;
    } finally {
      this.out = saved;
    }
  }

  private node(id: NodeId): Node {
    const n = this.nodes.get(id);
    if (n === undefined) throw new ScriptError(`no node ${id} (nodes: ${[...this.nodes.keys()].join(', ') || 'none'})`);
    return n;
  }

  private live(n: Node): RawNode {
    if (n.raw === null) throw new ScriptError(`node ${n.id} is down (restart it first)`);
    return n.raw;
  }

  private ids(): NodeId[] {
    return [...this.nodes.keys()].sort((a, b) => a - b);
  }

  /** The ids named by a command's bare words, or every node if it names none. */
  private selected(c: Command): Node[] {
    const ids = c.ids();
    return (ids.length > 0 ? ids : this.ids()).map((id) => this.node(id));
  }

  /** Runs fn and prints the role and term changes it caused the node. */
  private watch(n: Node, fn: () => void): void {
    const before = n.raw?.status();
    fn();
    const after = n.raw?.status();
    if (before === undefined || after === undefined) return;
    if (before.role !== after.role || before.term !== after.term) this.print(`${n.id} became ${ROLE_WORDS[after.role]} at term ${after.term}`);
  }

  // -------------------------------------------------------------- building the group

  private addNodes(c: Command): void {
    const [count, ...rest] = c.positional();
    if (count === undefined || rest.length > 0) throw new ScriptError('add-nodes takes one count: add-nodes N [voters=(...)] ...');
    const n = toInt(count, 'the node count', 1);
    const first = (this.ids().at(-1) ?? 0) + 1;
    const ids = Array.from({ length: n }, (_, k) => first + k);
    const conf: ConfState = { voters: c.ints('voters') ?? ids, learners: c.ints('learners') ?? [] };
    const electionTick = c.int('election', 3);
    const heartbeatTick = c.int('heartbeat', 1);
    const timeouts = c.ints('timeout');
    if (timeouts !== undefined && timeouts.length !== n) throw new ScriptError(`timeout=(...) needs ${n} values, one per node, got ${timeouts.length}`);
    const preVote = c.bool('prevote', false);
    const checkQuorum = c.bool('checkquorum', false);
    const maxEntries = c.int('max-entries');
    const maxInflight = c.int('max-inflight');
    for (const [k, id] of ids.entries()) {
      const config: RaftConfig = {
        id, electionTick, heartbeatTick, preVote, checkQuorum,
        random: randomFor(id, electionTick, timeouts?.[k]),
        ...(maxEntries !== undefined ? { maxEntriesPerMsg: maxEntries } : {}),
        ...(maxInflight !== undefined ? { maxInflight } : {}),
      };
      const node: Node = {
        id, config, conf, raw: null, unpersisted: null, app: appFromSnapshot(null),
        disk: { hardState: { term: 0, vote: 0, commit: 0 }, snapshot: null, entries: [] },
      };
      this.nodes.set(id, node);
      this.boot(node);
      this.print(this.stateLine(node));
    }
  }

  /** Starts a node from its disk; what was not on disk is gone. */
  private boot(n: Node): void {
    const d = n.disk;
    const boot: BootState = { hardState: d.hardState, snapshot: d.snapshot, entries: [...d.entries], conf: n.conf };
    n.raw = new RawNode(n.config, boot);
    n.unpersisted = null;
    n.app = appFromSnapshot(d.snapshot);
  }

  /** set-log ID terms=(1,1,2) [data=(a,b,c)] [term=T] [vote=V] [commit=C]: a node's disk, as after a past, then a restart. */
  private setLog(c: Command): void {
    const [id, ...rest] = c.ids();
    if (id === undefined || rest.length > 0) throw new ScriptError('set-log takes one node id');
    const n = this.node(id);
    const terms = c.ints('terms') ?? [];
    const data = c.list('data') ?? [];
    if (data.length > 0 && data.length !== terms.length) throw new ScriptError(`data=(...) needs ${terms.length} values, one per entry, got ${data.length}`);
    const entries: Entry[] = terms.map((term, i) => ({ term, index: i + 1, kind: 'normal', data: data[i] ?? '' }));
    const lastTerm = terms.at(-1) ?? 0;
    n.disk = {
      hardState: { term: c.int('term', lastTerm), vote: c.int('vote', 0), commit: c.int('commit', 0) },
      snapshot: null,
      entries,
    };
    this.boot(n);
    this.print(this.stateLine(n));
  }

  // -------------------------------------------------------------- local requests

  private campaign(c: Command): void {
    const ids = c.ids();
    if (ids.length === 0) throw new ScriptError('campaign needs node ids');
    for (const id of ids) {
      const n = this.node(id);
      this.watch(n, () => this.live(n).campaign());
    }
  }

  private propose(c: Command): void {
    const [id, data, ...rest] = c.positional();
    if (id === undefined || data === undefined || rest.length > 0) throw new ScriptError('propose takes a node id and the data: propose 1 "x"');
    const n = this.node(toInt(id, 'the node id', 1));
    let ok = false;
    this.watch(n, () => (ok = this.live(n).propose(data)));
    if (!ok) this.print(`${n.id} refused the proposal`);
  }

  private transfer(c: Command): void {
    const from = this.node(c.mustInt('from'));
    const to = c.mustInt('to');
    this.watch(from, () => this.live(from).transferLeadership(to));
    const t = this.live(from).status().leadTransferee;
    this.print(t === to ? `${from.id} transfers leadership to ${to}` : `${from.id} ignored the transfer to ${to}`);
  }

  /** tick: count ticks; tick-election: electionTick ticks; tick-heartbeat: heartbeatTick ticks. */
  private tick(c: Command, count: number | 'heartbeat' | null): void {
    for (const n of this.selected(c)) {
      if (n.raw === null) continue;
      const times = count === null ? n.config.electionTick : count === 'heartbeat' ? n.config.heartbeatTick : count;
      for (let i = 0; i < times; i++) this.watch(n, () => n.raw!.tick());
    }
  }

  // -------------------------------------------------------------- Ready handling

  private processReadyCmd(c: Command): void {
    const persist = c.bool('persist', true);
    const nodes = this.selected(c).filter((n) => n.raw !== null);
    const many = nodes.length > 1;
    for (const n of nodes) {
      const lines = this.capture(() => this.processReady(n, persist));
      if (many) this.print(`> ${n.id} handling Ready`, ...indent(lines));
      else this.print(...lines);
    }
  }

  /**
   * Takes a node's Ready and handles it in the order a driver must: the
   * messages that may leave at once are sent, the records are persisted, and
   * only then the messages that promise them, then committed entries are
   * applied. With persist=false it stops after the first step: the Ready is
   * in flight until `persist` (or lost in a crash).
   */
  private processReady(n: Node, persist: boolean): void {
    const raw = this.live(n);
    if (n.unpersisted !== null) {
      this.print(`${n.id} has a Ready being persisted (use persist ${n.id})`);
      return;
    }
    if (!raw.hasReady()) {
      this.print('<empty Ready>');
      return;
    }
    const rd = raw.ready();
    this.print(...describeReady(rd));
    this.send(rd.messages);
    if (this.opts.sendBeforePersist) this.send(rd.messagesAfterPersist);
    n.unpersisted = rd;
    if (persist) this.finishReady(n, false);
  }

  private persistCmd(c: Command): void {
    for (const n of this.selected(c)) {
      if (n.unpersisted === null) {
        if (c.ids().length > 0) this.print(`${n.id} has no Ready being persisted`);
        continue;
      }
      this.print(`${n.id} persisted its Ready`, ...indent(this.capture(() => this.finishReady(n, true))));
    }
  }

  /** The Ready's records are durable: the messages that promise them leave, committed entries are applied. */
  private finishReady(n: Node, printSent: boolean): void {
    const rd = n.unpersisted!;
    const raw = this.live(n);
    this.persistTo(n.disk, rd);
    if (!this.opts.sendBeforePersist) this.send(rd.messagesAfterPersist);
    if (printSent && rd.messagesAfterPersist.length > 0) this.print('sent:', ...rd.messagesAfterPersist.map(describeMessage));
    if (rd.snapshot) n.app = appFromSnapshot(rd.snapshot);
    const app = n.app;
    app.applied = applyCommitted(raw, rd.committedEntries, app.applied, (e) => {
      if (e.data !== '') app.entries.push({ index: e.index, data: e.data });
    });
    n.unpersisted = null;
    this.watch(n, () => raw.advance(rd));
  }

  private persistTo(d: Disk, rd: Ready): void {
    if (rd.hardState) d.hardState = rd.hardState;
    if (rd.snapshot) {
      d.snapshot = rd.snapshot;
      d.entries = [];
    }
    const first = rd.entries[0];
    if (first) d.entries = d.entries.filter((e) => e.index < first.index).concat(rd.entries);
  }

  private send(ms: readonly Message[]): void {
    this.queue.push(...ms);
  }

  // -------------------------------------------------------------- the network

  private cut(m: Message): boolean {
    return this.rules.some((r) => (r.from === null || r.from === m.from) && (r.to === null || r.to === m.to) && (r.type === null || r.type === m.type));
  }

  /** Takes the queued messages for which pick() holds out of the queue, in order. */
  private take(pick: (m: Message) => boolean): Message[] {
    const taken = this.queue.filter(pick);
    this.queue = this.queue.filter((m) => !pick(m));
    return taken;
  }

  /** Delivers (or drops) messages; returns how many it handled. */
  private deliver(ms: readonly Message[], drop: boolean): number {
    for (const m of ms) {
      const to = this.nodes.get(m.to);
      const why = drop ? '' : to === undefined ? ' (no such node)' : to.raw === null ? ` (${m.to} is down)` : this.cut(m) ? ' (cut)' : null;
      if (why !== null) {
        this.print(`dropped: ${describeMessage(m)}${why}`);
        continue;
      }
      this.print(describeMessage(m));
      this.watch(to!, () => to!.raw!.step(m));
    }
    return ms.length;
  }

  /** deliver-msgs [ID...] [from=ID] [type=T] [drop=true]: the queued messages to those nodes. */
  private deliverMsgs(c: Command): void {
    const ids = c.ids();
    const from = c.int('from');
    const typeName = c.str('type');
    const type = typeName === undefined ? null : messageType(typeName);
    const drop = c.bool('drop', false);
    const picked = this.take((m) => (ids.length === 0 || ids.includes(m.to)) && (from === undefined || m.from === from) && (type === null || m.type === type));
    if (this.deliver(picked, drop) === 0) this.print('no messages');
  }

  /** Handles Readies and delivers messages until nothing is left to do. */
  private stabilize(c: Command): void {
    const nodes = this.selected(c);
    for (let round = 0; round < MAX_STABILIZE_ROUNDS; round++) {
      let busy = false;
      for (const n of nodes) {
        if (n.raw === null || n.unpersisted !== null || !n.raw.hasReady()) continue;
        busy = true;
        this.print(`> ${n.id} handling Ready`, ...indent(this.capture(() => this.processReady(n, true))));
      }
      for (const n of nodes) {
        const msgs = this.take((m) => m.to === n.id);
        if (msgs.length === 0) continue;
        busy = true;
        this.print(`> ${n.id} receiving messages`, ...indent(this.capture(() => this.deliver(msgs, false))));
      }
      if (!busy) return;
    }
    throw new ScriptError(`stabilize: still busy after ${MAX_STABILIZE_ROUNDS} rounds`);
  }

  /** drop [from=ID] [to=ID] [type=T]: from now on (until heal) such messages are lost at delivery. */
  private dropCmd(c: Command): void {
    const typeName = c.str('type');
    const rule = { from: c.int('from') ?? null, to: c.int('to') ?? null, type: typeName === undefined ? null : messageType(typeName) };
    if (rule.from === null && rule.to === null && rule.type === null) throw new ScriptError('drop needs from=, to= or type=');
    this.rules.push(rule);
  }

  /** partition 1 | 2 3: messages between the groups are lost until heal. */
  private partition(c: Command): void {
    const groups: NodeId[][] = [[]];
    for (const w of c.positional()) {
      if (w === '|') groups.push([]);
      else groups[groups.length - 1]!.push(this.node(toInt(w, 'a node id', 1)).id);
    }
    if (groups.length < 2 || groups.some((g) => g.length === 0)) throw new ScriptError('partition needs groups of node ids separated by |, e.g. partition 1 | 2 3');
    for (const [i, a] of groups.entries()) {
      for (const [j, b] of groups.entries()) {
        if (i === j) continue;
        for (const from of a) for (const to of b) this.rules.push({ from, to, type: null });
      }
    }
  }

  private isolate(c: Command): void {
    for (const n of this.selected(c)) this.rules.push({ from: n.id, to: null, type: null }, { from: null, to: n.id, type: null });
  }

  // -------------------------------------------------------------- crashes

  private crash(c: Command): void {
    for (const n of this.selected(c)) {
      const lost = n.unpersisted !== null ? ' (its Ready in flight is lost)' : '';
      n.raw = null;
      n.unpersisted = null;
      this.print(`${n.id} crashed${lost}; on disk: ${this.diskLine(n.disk)}`);
    }
  }

  private restart(c: Command): void {
    for (const n of this.selected(c)) {
      if (n.raw !== null) throw new ScriptError(`node ${n.id} is up (crash it first)`);
      this.boot(n);
      this.print(this.stateLine(n));
    }
  }

  /** compact ID INDEX: the application's snapshot at INDEX (<= applied) replaces the log up to it. */
  private compact(c: Command): void {
    const [id, index, ...rest] = c.ids();
    if (id === undefined || index === undefined || rest.length > 0) throw new ScriptError('compact takes a node id and an index: compact 1 21');
    const n = this.node(id);
    const raw = this.live(n);
    if (index > n.app.applied) throw new ScriptError(`node ${id} has applied only up to ${n.app.applied}, cannot compact at ${index}`);
    raw.compact(index, JSON.stringify(appAt(n.app, index)));
    const s = raw.lastSnapshot();
    if (s === null || s.index !== index) {
      this.print(`${id} did not compact at ${index}`);
      return;
    }
    n.disk.snapshot = s;
    n.disk.entries = n.disk.entries.filter((e) => e.index > index);
    this.print(`${id} snapshot ${describeSnapshot(s)}`);
  }

  // -------------------------------------------------------------- inspection

  private stateLine(n: Node): string {
    if (n.raw === null) return `${n.id}: down`;
    const s = n.raw.status();
    const lt = s.leadTransferee !== 0 ? ` Transferring:${s.leadTransferee}` : '';
    return `${n.id}: ${ROLE_NAMES[s.role]} Term:${s.term} Lead:${s.lead} Commit:${s.commit} Last:${s.lastIndex}${lt}`;
  }

  private raftState(): void {
    for (const id of this.ids()) this.print(this.stateLine(this.node(id)));
  }

  /** Runs fn for each selected node that is up; a node that is down is shown as such. */
  private eachUp(c: Command, fn: (n: Node, raw: RawNode) => void): void {
    for (const n of this.selected(c)) {
      if (n.raw === null) this.print(`${n.id}: down`);
      else fn(n, n.raw);
    }
  }

  private raftLog(c: Command): void {
    const many = c.ids().length !== 1;
    this.eachUp(c, (n, raw) => {
      const s = raw.status();
      const lines: string[] = [];
      if (s.snapshotIndex > 0) lines.push(`snapshot Index:${s.snapshotIndex} Term:${raw.termAt(s.snapshotIndex)}`);
      lines.push(...raw.entriesFrom(s.firstIndex, s.lastIndex + 1).map(describeEntry));
      if (lines.length === 0) lines.push('log is empty');
      if (many) this.print(`> ${n.id}`, ...indent(lines));
      else this.print(...lines);
    });
  }

  /**
   * The terms of each node's log, one line per node (the snapshot's index as
   * `[N]`); a disk that does not hold the same entries is shown beside it.
   */
  private logTerms(c: Command): void {
    this.eachUp(c, (n, raw) => {
      const s = raw.status();
      const mem = raw.entriesFrom(s.firstIndex, s.lastIndex + 1);
      const snap = s.snapshotIndex > 0 ? `[${s.snapshotIndex}] ` : '';
      const line = `${n.id}: ${snap}${mem.map((e) => e.term).join(' ')}`.trimEnd();
      const d = n.disk;
      const same = (d.snapshot?.index ?? 0) === s.snapshotIndex && JSON.stringify(d.entries) === JSON.stringify(mem);
      this.print(same ? line : `${line} (disk: ${d.snapshot ? `[${d.snapshot.index}] ` : ''}${d.entries.map((e) => e.term).join(' ')})`);
    });
  }

  private status(c: Command): void {
    this.eachUp(c, (n, raw) => {
      const s = raw.status();
      this.print(
        `${n.id}: ${ROLE_NAMES[s.role]} Term:${s.term} Vote:${s.vote} Lead:${s.lead} Commit:${s.commit} Applied:${s.applied}` +
          ` Log:${s.firstIndex}..${s.lastIndex} Snapshot:${s.snapshotIndex} ${describeConf(s.conf)}` +
          (s.leadTransferee !== 0 ? ` Transferring:${s.leadTransferee}` : ''),
      );
    });
  }

  private applied(c: Command): void {
    this.eachUp(c, (n) => {
      const data = appAt(n.app, Number.MAX_SAFE_INTEGER);
      this.print(`${n.id}: ${data.length === 0 ? '(nothing)' : data.map((d) => JSON.stringify(d)).join(' ')}`);
    });
  }

  private diskLine(d: Disk): string {
    const snap = d.snapshot ? ` Snapshot:${d.snapshot.index}` : '';
    const first = d.entries[0];
    const last = d.entries[d.entries.length - 1];
    const ents = first && last ? ` Entries:${first.index}..${last.index}` : ' Entries:none';
    return `HardState ${describeHardState(d.hardState)}${snap}${ents}`;
  }

  private diskCmd(c: Command): void {
    for (const n of this.selected(c)) {
      const d = n.disk;
      this.print(`${n.id}: HardState ${describeHardState(d.hardState)}`);
      if (d.snapshot) this.print(`  Snapshot ${describeSnapshot(d.snapshot)}`);
      this.print(...indent(d.entries.map(describeEntry)));
    }
  }
}

export function newRaftEnv(opts: RaftScriptOptions = {}): Handler {
  return new RaftInteractionEnv(opts).handle;
}
