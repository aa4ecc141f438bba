// An interaction environment for page-manager scripts: a few hosts, each a
// real Vmm (page client, and on host 1 the company's page manager) over an
// in-test VmmEnv whose every effect is printed: a manual clock that only
// `advance` moves, timers that fire when it passes them, a message queue the
// script delivers from, and page memory (the simulator's SimMemory) whose
// protection changes show.
//
// The company is one host: host 1 leads it at term 1 and its proposals wait
// in a list until `commit` applies them, in order, to a real CompanyMachine
// (the page table), then hands the results to host 1's VMM as a Raft driver
// would. That keeps consensus out of the way and every step explicit. With
// `commit=inline` each proposal is committed and applied within propose(), as
// a single-voter group whose store persists inline (real mode) does.
//
// Output: what a command does directly starts a line; what that caused is
// indented under it (`deliver` prints each message, then the messages it
// made the receiver send, the proposals, protection changes).
//
// Commands:
//   hosts N [pages=16] [root=8] [page-size=64] [lease=10ms] [retry=1ms] [drift-ppm=0] [commit=manual|inline]   first, once
//   fault H page=P read|write          the VMM's fault entry, as the SIGSEGV handler calls it
//   read H page=P [word=0]             a thread's access: faults, and is retried until it is done
//   write H page=P value=V [word=0]
//   deliver [from=H] [to=H] [t=acquire] [drop=true]   commit [count=N]   stabilize
//   advance 500us   crash H...
//   protections [H...]   table page=P   leases H...   pending
import type { Command } from '../datadriven/command.js';
import { ScriptError, toInt } from '../datadriven/command.js';
import type { Handler } from '../datadriven/runner.js';
import { inertFaultPoints } from '../../src/raft/index.js';
import type { Entry } from '../../src/raft/index.js';
import { CompanyMachine, eachApplied, encodeCompanyEntry } from '../../src/vmm/company.js';
import type { CompanyEntry } from '../../src/vmm/company.js';
import type { FaultRequest, MemoryBackend, Protection } from '../../src/vmm/memory.js';
import type { LeaseMode, LeaseToken, PageCommand } from '../../src/vmm/page-table-commands.js';
import type { ApplyResult } from '../../src/vmm/page-table.js';
import type { CompanyPlan } from '../../src/vmm/placement.js';
import type { VmmMessage } from '../../src/vmm/protocol.js';
import type { CompanyAccess, VmmConfig, VmmEnv } from '../../src/vmm/vmm-env.js';
import { Vmm } from '../../src/vmm/vmm.js';
import { SimMemory } from '../../src/sim/memory.js';

const COMPANY = 1;
const LEADER = 1;
const TERM = 1;

// ------------------------------------------------------------------ formatting

/** Page contents as their non-zero 32-bit words: [w0=42 w3=7], or zeros. */
export function describeData(bytes: Uint8Array): string {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const words: string[] = [];
  for (let w = 0; w * 4 + 4 <= bytes.length; w++) {
    const v = view.getUint32(w * 4, true);
    if (v !== 0) words.push(`w${w}=${v}`);
  }
  return words.length === 0 ? 'zeros' : `[${words.join(' ')}]`;
}

function describeBase64(data: string | null): string {
  if (data === null) return 'none';
  return data === '' ? 'zeros' : describeData(Buffer.from(data, 'base64'));
}

const describeLease = (l: LeaseToken): string => `${l.term}@${l.grantedAtUs}us`;

/** key=value for each field, in the object's order; page contents and lease tokens made short, hashes left out. */
function describeFields(o: object, skip: readonly string[]): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(o)) {
    if (skip.includes(k) || v === undefined) continue;
    if (k === 'data') parts.push(`data=${describeBase64(v as string | null)}`);
    else if (k === 'lease' && v !== null) parts.push(`lease=${describeLease(v as LeaseToken)}`);
    else if (k === 'mark') parts.push(`mark=${(v as { host: number; seq: number }).host}:${(v as { seq: number }).seq}`);
    else parts.push(`${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`);
  }
  return parts.join(' ');
}

export function describeMessage(from: number, to: number, m: VmmMessage): string {
  return `${from}->${to} ${m.t} ${describeFields(m, ['t'])}`;
}

/** An entry's commands in order (a batched entry carries several). */
function describeEntry(e: CompanyEntry): string {
  return [e.cmd, ...(e.more ?? []).map((m) => m.cmd)].map(describeCommand).join(' + ');
}

export function describeCommand(c: PageCommand): string {
  return `${c.op} ${describeFields(c, ['op', 'hash'])}`;
}

function parseDuration(s: string): number {
  const m = /^(\d+)(us|ms|s)$/.exec(s);
  if (m === null) throw new ScriptError(`duration ${JSON.stringify(s)} must be a whole number with us, ms or s (e.g. 500us)`);
  const scale = m[2] === 'us' ? 1 : m[2] === 'ms' ? 1000 : 1_000_000;
  return Number(m[1]) * scale;
}

// ------------------------------------------------------------------ the world

interface Timer {
  at: number;
  seq: number;
  host: number;
  /** A VMM timer, or one of the memory's own deadline events (which `pending` does not list). */
  what: 'timer' | 'deadline';
  fn: () => void;
}

interface Envelope {
  from: number;
  to: number;
  msg: VmmMessage;
}

interface Host {
  readonly id: number;
  readonly vmm: Vmm;
  readonly memory: SimMemory;
  up: boolean;
  /** Memory operations done by this host's "threads" (the script), for write-back marks. */
  ops: number;
}

export interface VmmScriptOptions {
  /** Deliberate bugs of the VMM, to show a script catches them. */
  bugs?: VmmConfig['bugs'];
}

export class VmmInteractionEnv {
  private now = 0;
  private timerSeq = 0;
  private timers: Timer[] = [];
  private queue: Envelope[] = [];
  private hosts = new Map<number, Host>();
  private cfg: Omit<VmmConfig, 'host'> | null = null;
  private machine: CompanyMachine | null = null;
  /** Proposals not yet committed, with the log index each got. */
  private proposals: { index: number; entry: CompanyEntry }[] = [];
  private lastIndex = 0;
  /** Proposals are committed within propose() (commit=inline), not by `commit`. */
  private commitInline = false;
  /** Committed entries are being applied. */
  private applying = false;
  /** Memory accesses that faulted, retried when their page's protection changes. */
  private woken: (() => void)[] = [];
  private out: string[] = [];
  private depth = 0;

  private readonly commands: Record<string, (c: Command) => void> = {
    hosts: (c) => this.addHosts(c),
    fault: (c) => this.fault(c),
    read: (c) => this.threadAccess(c, 'read'),
    write: (c) => this.threadAccess(c, 'write'),
    deliver: (c) => this.deliverCmd(c),
    commit: (c) => this.commit(c.int('count')),
    stabilize: () => this.stabilize(),
    advance: (c) => this.advance(c),
    crash: (c) => this.crash(c),
    protections: (c) => this.protections(c),
    table: (c) => this.tableCmd(c),
    leases: (c) => this.leases(c),
    pending: () => this.pending(),
  };

  constructor(private readonly opts: VmmScriptOptions = {}) {}

  readonly handle: Handler = (c) => {
    const run = this.commands[c.cmd];
    if (run === undefined) throw new ScriptError(`unknown command ${JSON.stringify(c.cmd)} (expected one of ${Object.keys(this.commands).join(', ')})`);
    if (this.cfg === null && c.cmd !== 'hosts') throw new ScriptError('start with hosts N');
    this.out = [];
    run(c);
    this.runWoken();
    return this.out.length === 0 ? 'ok' : this.out.join('\n');
  };

  private print(line: string): void {
    this.out.push(`${'  '.repeat(this.depth)}${line}`);
  }

  /** Prints a cause, then what it caused one level deeper. */
  private cause(line: string | null, fn: () => void): void {
    if (line !== null) this.print(line);
    this.depth++;
    try {
      fn();
    } finally {
      this.depth--;
    }
  }

  private host(id: number): Host {
    const h = this.hosts.get(id);
    if (h === undefined) throw new ScriptError(`no host ${id} (hosts: ${[...this.hosts.keys()].join(', ')})`);
    return h;
  }

  private upHost(id: number): Host {
    const h = this.host(id);
    if (!h.up) throw new ScriptError(`host ${id} is down`);
    return h;
  }

  private page(c: Command): number {
    const page = c.mustInt('page');
    if (page >= this.cfg!.pages) throw new ScriptError(`page ${page} is outside the heap (pages 0..${this.cfg!.pages - 1})`);
    return page;
  }

  // -------------------------------------------------------------- setting up

  /**
   * hosts N [pages=16] [root=8] [page-size=64] [lease=10ms] [retry=1ms] [drift-ppm=0] [commit=manual|inline]:
   * hosts 1..N, one company of every page led by host 1; the root pages are allocated at genesis.
   */
  private addHosts(c: Command): void {
    if (this.cfg !== null) throw new ScriptError('hosts was given already');
    const [count, ...rest] = c.positional();
    if (count === undefined || rest.length > 0) throw new ScriptError('hosts takes one count: hosts N');
    const n = toInt(count, 'the host count', 1);
    const pages = c.int('pages', 16);
    const rootPages = c.int('root', 8);
    const pageSize = c.int('page-size', 64);
    const commit = c.str('commit', 'manual');
    if (commit !== 'manual' && commit !== 'inline') throw new ScriptError(`commit= takes manual or inline, got ${JSON.stringify(commit)}`);
    this.commitInline = commit === 'inline';
    const plan: CompanyPlan = { company: COMPANY, firstPage: 0, pages, members: [LEADER] };
    this.cfg = {
      pageSize, pages, rootPages, plans: [plan], incarnation: 1,
      leaseUs: parseDuration(c.str('lease', '10ms')),
      retryUs: parseDuration(c.str('retry', '1ms')),
      driftBoundPpm: c.int('drift-ppm', 0),
      ...(this.opts.bugs !== undefined ? { bugs: this.opts.bugs } : {}),
    };
    this.machine = new CompanyMachine(plan, pageSize, rootPages, null);
    for (let id = 1; id <= n; id++) this.hosts.set(id, this.newHost(id));
    this.host(LEADER).vmm.leadership(COMPANY, true, TERM);
    this.print(`company ${COMPANY}: pages 0..${pages - 1}, led by host ${LEADER} at term ${TERM}; pages 0..${rootPages - 1} allocated`);
    this.print(`lease ${this.cfg.leaseUs}us, retry ${this.cfg.retryUs}us${this.commitInline ? ', proposals commit within propose()' : ''}`);
  }

  private newHost(id: number): Host {
    const cfg = this.cfg!;
    const memory = new SimMemory(id, cfg.pageSize, cfg.pages, {
      changed: (host, page, prot) => this.print(`${host} page ${page} -> ${prot}`),
    }, (fn) => this.woken.push(fn), {
      now: () => this.now,
      at: (at, fn) => this.timers.push({ at, seq: this.timerSeq++, host: id, what: 'deadline', fn }),
    });
    const env: VmmEnv = {
      memory: this.logged(id, memory),
      faults: inertFaultPoints,
      now: () => this.now,
      timer: (at, fn) => this.timers.push({ at, seq: this.timerSeq++, host: id, what: 'timer', fn }),
      send: (to, msg) => {
        this.print(describeMessage(id, to, msg));
        this.queue.push({ from: id, to, msg });
      },
      company: (company) => (company === COMPANY && id === LEADER ? this.replica : null),
      members: () => [LEADER],
      opSeq: () => host.ops,
      segfault: (page, why) => this.print(`${id} segfault page ${page}: ${why}`),
      lostWrites: (page) => this.print(`${id} lost its writes to page ${page}`),
      lostLock: (lock, thread) => this.print(`${id} lost lock ${lock} of thread ${thread}`),
    };
    const vmm = new Vmm({ ...cfg, host: id }, env);
    const host: Host = { id, memory, vmm, ops: 0, up: true };
    memory.onFault((req: FaultRequest) => vmm.fault(req.page, req.access));
    return host;
  }

  /** SimMemory, with each fill printed (what the page was filled with). */
  private logged(id: number, memory: SimMemory): MemoryBackend {
    return {
      pageSize: memory.pageSize,
      pages: memory.pages,
      protection: (page) => memory.protection(page),
      fill: (page, data, prot) => {
        this.print(`${id} page ${page} filled with ${describeData(data)}`);
        memory.fill(page, data, prot);
      },
      read: (page) => memory.read(page),
      setProtection: (page, prot) => memory.setProtection(page, prot),
      setDeadline: (page, localUs) => memory.setDeadline(page, localUs),
      onFault: (handler) => memory.onFault(handler),
      close: () => memory.close(),
    };
  }

  /** Host 1's replica of the company: proposals wait for `commit`, or commit at once (commit=inline). */
  private readonly replica: CompanyAccess = {
    isLeader: () => true,
    term: () => TERM,
    lead: () => LEADER,
    propose: (entry) => {
      const index = ++this.lastIndex;
      this.proposals.push({ index, entry });
      this.cause(`propose ${index}: ${describeEntry(entry)}`, () => {
        // Proposed while applying: committed after the entries being applied, as the Ready loop does.
        if (this.commitInline && !this.applying) this.commit(undefined);
      });
      return true;
    },
    table: () => this.machine!.table,
    appliedIndex: () => this.machine!.appliedIndex,
  };

  // -------------------------------------------------------------- application threads and faults

  /** fault H page=P read|write: the access faulted (as the SIGSEGV handler reports it). */
  private fault(c: Command): void {
    const [id, mode, ...rest] = c.positional();
    if (id === undefined || (mode !== 'read' && mode !== 'write') || rest.length > 0) throw new ScriptError('fault takes a host and read or write: fault 2 page=5 read');
    const h = this.upHost(toInt(id, 'the host id', 1));
    h.vmm.fault(this.page(c), mode as LeaseMode);
  }

  /**
   * read H page=P [word=0] / write H page=P value=V [word=0]: a thread's
   * access. If the page's protection does not allow it, it faults into the
   * VMM and is retried whenever the protection changes, until it succeeds.
   */
  private threadAccess(c: Command, kind: 'read' | 'write'): void {
    const [id, ...rest] = c.ids();
    if (id === undefined || rest.length > 0) throw new ScriptError(`${kind} takes one host id`);
    const h = this.upHost(id);
    const page = this.page(c);
    const word = c.int('word', 0);
    if ((word + 1) * 4 > this.cfg!.pageSize) throw new ScriptError(`word ${word} is outside a page of ${this.cfg!.pageSize} bytes`);
    const value = kind === 'write' ? c.mustInt('value') : 0;
    const addr = page * this.cfg!.pageSize + word * 4;
    const what = `${id} ${kind} page ${page} word ${word}`;
    const attempt = (): void => {
      if (!h.up) return;
      if (kind === 'write') {
        if (!h.memory.storeWord(addr, value, attempt)) return;
        h.ops++;
        this.print(`${what} = ${value}: done`);
      } else {
        const v = h.memory.loadWord(addr, attempt);
        if (v === null) return;
        h.ops++;
        this.print(`${what}: ${v}`);
      }
    };
    const prot: Protection = h.memory.protection(page);
    if (prot === 'none' || (kind === 'write' && prot === 'read')) this.print(`${what}: faults (page is ${prot})`);
    this.cause(null, attempt);
  }

  /** Accesses woken by a protection change run once the command's own work is done, as a scheduler would. */
  private runWoken(): void {
    while (this.woken.length > 0) {
      const fns = this.woken;
      this.woken = [];
      for (const fn of fns) fn();
    }
  }

  // -------------------------------------------------------------- network, company, time

  /** deliver [from=H] [to=H] [t=kind] [drop=true]: the messages queued now that match, in order (or dropped). */
  private deliverCmd(c: Command): void {
    const from = c.int('from');
    const to = c.int('to');
    const t = c.str('t');
    const drop = c.bool('drop', false);
    const match = (e: Envelope): boolean => (from === undefined || e.from === from) && (to === undefined || e.to === to) && (t === undefined || e.msg.t === t);
    const picked = this.queue.filter(match);
    this.queue = this.queue.filter((e) => !match(e));
    if (picked.length === 0) this.print('no messages');
    for (const e of picked) this.deliver(e, drop);
  }

  private deliver(e: Envelope, drop: boolean): void {
    const line = describeMessage(e.from, e.to, e.msg);
    const to = this.hosts.get(e.to);
    if (drop || to === undefined || !to.up) {
      this.print(`dropped: ${line}${drop ? '' : ` (${e.to} is down)`}`);
      return;
    }
    this.cause(line, () => to.vmm.receive(e.from, e.msg));
  }

  /** Applies the waiting proposals (or the first `count`) to the page table, in log order. */
  private commit(count: number | undefined): void {
    const batch = this.proposals.splice(0, count ?? this.proposals.length);
    if (batch.length === 0) this.print('nothing to commit');
    this.applying = true;
    try {
      for (const { index, entry } of batch) {
        const e: Entry = { term: TERM, index, kind: 'normal', data: encodeCompanyEntry(entry) };
        const applied = this.machine!.apply(e)!;
        const result = (r: ApplyResult): string => r.ok ? `ok${r.version !== undefined ? ` version=${r.version}` : ''}${r.firstPage !== undefined ? ` firstPage=${r.firstPage}` : ''}` : `${r.error}: ${r.detail}`;
        // A batched entry's commands one after the other, each with its result.
        const line = eachApplied(applied).map((x) => `${describeCommand(x.cmd)} -> ${result(x.result)}`).join(' + ');
        this.cause(`commit ${index}: ${line}`, () => this.host(LEADER).vmm.applied(applied));
      }
    } finally {
      this.applying = false;
    }
    if (this.commitInline && this.proposals.length > 0) this.commit(undefined);
  }

  /** Delivers and commits until no message and no proposal is left. */
  private stabilize(): void {
    for (let round = 0; round < 1000; round++) {
      if (this.queue.length === 0 && this.proposals.length === 0) return;
      const msgs = this.queue;
      this.queue = [];
      for (const e of msgs) this.deliver(e, false);
      if (this.proposals.length > 0) this.commit(undefined);
      this.runWoken();
    }
    throw new ScriptError('stabilize: still busy after 1000 rounds');
  }

  /** advance D: the clock moves on by D; timers due fire in order, each at its time. */
  private advance(c: Command): void {
    const [d, ...rest] = c.positional();
    if (d === undefined || rest.length > 0) throw new ScriptError('advance takes one duration: advance 500us');
    const until = this.now + parseDuration(d);
    for (;;) {
      this.timers.sort((a, b) => a.at - b.at || a.seq - b.seq);
      const next = this.timers[0];
      if (next === undefined || next.at > until) break;
      this.timers.shift();
      this.now = Math.max(this.now, next.at);
      const h = this.host(next.host);
      if (!h.up) continue;
      // Only timers that do something are shown: most retry timers find their request answered.
      const saved = this.out;
      this.out = [];
      this.cause(null, () => next.fn());
      this.runWoken();
      const effects = this.out;
      this.out = saved;
      if (effects.length > 0) {
        this.print(`${this.now}us: ${next.what} of host ${h.id}`);
        this.out.push(...effects);
      }
    }
    this.now = until;
    this.print(`now ${this.now}us`);
  }

  /** crash H: the host stops; messages to it are lost and its timers never fire. */
  private crash(c: Command): void {
    for (const id of c.ids()) {
      const h = this.upHost(id);
      h.up = false;
      this.cause(`${id} crashed`, () => {
        h.vmm.close();
        h.memory.close();
      });
    }
  }

  // -------------------------------------------------------------- inspection

  /** protections [H...]: each host's pages that are not closed. */
  private protections(c: Command): void {
    const ids = c.ids();
    for (const id of ids.length > 0 ? ids : [...this.hosts.keys()]) {
      const h = this.host(id);
      if (!h.up) {
        this.print(`${id}: down`);
        continue;
      }
      const open: string[] = [];
      for (let p = 0; p < this.cfg!.pages; p++) {
        const prot = h.memory.protection(p);
        if (prot !== 'none') open.push(`${p}=${prot}`);
      }
      this.print(`${id}: ${open.length === 0 ? 'none' : open.join(' ')}`);
    }
  }

  /** table page=P: the page's committed row and lease holders. */
  private tableCmd(c: Command): void {
    const page = this.page(c);
    const t = this.machine!.table;
    const row = t.page(page)!;
    this.print(`page ${page}: version ${row.version} data=${describeBase64(row.data ?? '')} allocation=${row.allocation ?? 'none'} (applied index ${this.machine!.appliedIndex})`);
    const holders = t.holders(page);
    if (holders.length === 0) this.print('  no holders');
    for (const l of holders) this.print(`  host ${l.host} ${l.mode} lease=${describeLease(l)}`);
  }

  /** leases H...: the leases each host's page client holds. */
  private leases(c: Command): void {
    for (const id of c.ids()) {
      const h = this.upHost(id);
      const held = h.vmm.client.heldPages();
      if (held.length === 0) this.print(`${id}: none`);
      for (const [page, l] of held) {
        const dirty = h.vmm.client.dirtyPage === page ? ' dirty' : '';
        this.print(`${id}: page ${page} ${l.mode} version=${l.version} index=${l.index} expires=${l.expires}us${dirty}`);
      }
    }
  }

  /** pending: messages in flight, proposals not committed, timers set. */
  private pending(): void {
    for (const e of this.queue) this.print(`in flight: ${describeMessage(e.from, e.to, e.msg)}`);
    for (const p of this.proposals) this.print(`proposed: ${p.index}: ${describeEntry(p.entry)}`);
    const due = [...this.timers].sort((a, b) => a.at - b.at || a.seq - b.seq).filter((t) => t.what === 'timer' && this.hosts.get(t.host)?.up);
    if (due.length > 0) this.print(`timers: ${due.map((t) => `${t.at}us@${t.host}`).join(' ')}`);
    if (this.out.length === 0) this.print('nothing pending');
  }
}

export function newVmmEnv(opts: VmmScriptOptions = {}): Handler {
  return new VmmInteractionEnv(opts).handle;
}
