// What a Byzantine host does, one behaviour per run. Each is applied to the
// faulty host's outgoing messages (and, where it says so, to what reaches its
// replica), over correct Raft and VMM code underneath: the replica believes
// it behaves, its peers see the lies. Twins (two correct copies under one
// identity) live in the world (run.ts, twins.ts), not here.
//
// Every lie stays well-formed unless the behaviour is about shape, so it gets
// past validation and reaches the protocol logic, where plain Raft must then
// be caught by an invariant or by liveness (scenarios/*-byz-*.yaml).
import type { Entry, Message } from '../../raft/index.js';
import type { Envelope } from '../../vmm/wire.js';
import type { VmmMessage } from '../../vmm/protocol.js';
import type { Rng } from '../rng.js';

export const BYZANTINE_BEHAVIOURS = [
  'equivocate',      // a leader sends different entries at the same index and term to different peers; a manager hands a page's grant to a second host
  'double-vote',     // grants every vote and pre-vote it is asked for, several in one term
  'inflate-term',    // sends terms up to the largest the wire carries (2^53 - 1): refused by the bound, must be tolerated
  'inflate-term-bounded', // sends terms raised by up to the bound (adopted): disrupts every leader
  'replay',          // sends old messages again: its own and (under their senders' names) those it received
  'forge-sender',    // its Raft messages claim another host as sender: dropped by the runtime, must be tolerated
  'false-ack',       // acknowledges entries it never stored, up to the last index it was offered
  'false-page',      // write-backs carry other bytes than the page holds; grants it manages carry a wrong version
  'nonsense',        // adds well-formed messages of random type and fields
  'small-scope',     // ByzzFuzz: a term or index off by one, or an older value replayed, under round-based partitions
  'twins',           // two copies of correct code under its identity, peers split between them by round
] as const;
export type ByzantineBehaviour = (typeof BYZANTINE_BEHAVIOURS)[number];

/** The largest term or index the wire carries (a safe integer). */
export const WIRE_MAX = Number.MAX_SAFE_INTEGER;

/** The faulty host as a behaviour sees it: where to send, its past traffic, a random stream. */
export interface Liar {
  readonly self: number;
  readonly hosts: number;
  readonly rng: Rng;
  readonly probability: number;
  /** Sends as the faulty host (an extra message, or the rewritten one). */
  emit(to: number, env: Envelope): void;
}

type Raft = Extract<Envelope, { kind: 'raft' }>;
type Vmm = Extract<Envelope, { kind: 'vmm' }>;

const raftEnv = (env: Raft, msg: Message): Raft => ({ kind: 'raft', group: env.group, msg });
const vmmEnv = (msg: VmmMessage): Vmm => ({ kind: 'vmm', msg });

/** One run's behaviour: it rewrites what the faulty host sends and may change what reaches it. */
export interface Behaviour {
  /** An envelope the faulty host sends: emit what goes out instead (nothing, it, or more). */
  outgoing(to: number, env: Envelope, liar: Liar): void;
  /** An envelope on its way to the faulty host: what its replica gets (null: nothing). */
  incoming(from: number, env: Envelope, liar: Liar): Envelope | null;
}

const honest: Behaviour['incoming'] = (_from, env) => env;

/** A ring of recent envelopes, for replays. */
class Recent {
  private readonly items: [number, Envelope][] = [];
  constructor(private readonly size: number) {}
  add(peer: number, env: Envelope): void {
    this.items.push([peer, env]);
    if (this.items.length > this.size) this.items.shift();
  }
  /** One of the older half, if any. */
  old(rng: Rng, match?: (peer: number, env: Envelope) => boolean): [number, Envelope] | undefined {
    const pool = this.items.slice(0, Math.ceil(this.items.length / 2)).filter(([p, e]) => match === undefined || match(p, e));
    return pool.length === 0 ? undefined : rng.pick(pool);
  }
}

/** The hosts other than the liar and `peer`. */
function hostsBut(liar: Liar, peer: number): number[] {
  return Array.from({ length: liar.hosts }, (_, i) => i + 1).filter((h) => h !== liar.self && h !== peer);
}

function bytesLike(data: string, byte: number): string {
  const n = Buffer.from(data, 'base64').length;
  return Buffer.alloc(n, byte).toString('base64');
}

function equivocate(): Behaviour {
  /** Last grant sent per page, to hand again to the next host that asks. */
  const grants = new Map<number, Extract<VmmMessage, { t: 'grant' }>>();
  return {
    outgoing(to, env, liar) {
      if (env.kind === 'raft' && env.msg.type === 'app' && env.msg.entries.length > 0 && to % 2 === 0 && liar.rng.bool(liar.probability)) {
        // Peers of even id get other entries at the same indexes and terms: no-ops.
        const entries: Entry[] = env.msg.entries.map((e) => ({ ...e, kind: 'normal', data: '' }));
        liar.emit(to, raftEnv(env, { ...env.msg, entries }));
        return;
      }
      if (env.kind === 'vmm' && env.msg.t === 'grant') grants.set(env.msg.page, env.msg);
      liar.emit(to, env);
    },
    incoming(from, env, liar) {
      if (env.kind === 'vmm' && env.msg.t === 'acquire') {
        const g = grants.get(env.msg.page);
        // The page is held elsewhere: grant it anyway, as the lease already committed.
        if (g !== undefined && liar.rng.bool(liar.probability)) liar.emit(from, vmmEnv({ ...g, req: env.msg.req, mode: env.msg.mode }));
      }
      return env;
    },
  };
}

function doubleVote(): Behaviour {
  /** "group:candidate" -> the term it last asked our vote for. */
  const asked = new Map<string, number>();
  return {
    outgoing(to, env, liar) {
      if (env.kind === 'raft' && (env.msg.type === 'voteResp' || env.msg.type === 'preVoteResp') && env.msg.reject) {
        // A grant must carry the term asked for, or the candidate ignores it.
        liar.emit(to, raftEnv(env, { ...env.msg, reject: false, term: Math.max(env.msg.term, asked.get(`${env.group}:${to}`) ?? 0) }));
        return;
      }
      liar.emit(to, env);
    },
    incoming(from, env) {
      if (env.kind === 'raft' && (env.msg.type === 'vote' || env.msg.type === 'preVote')) asked.set(`${env.group}:${from}`, env.msg.term);
      return env;
    },
  };
}

function inflate(to: (term: number, rng: Rng) => number): Behaviour {
  return {
    outgoing(peer, env, liar) {
      if (env.kind === 'raft' && liar.rng.bool(liar.probability)) {
        liar.emit(peer, raftEnv(env, { ...env.msg, term: to(env.msg.term, liar.rng) }));
        return;
      }
      liar.emit(peer, env);
    },
    incoming: honest,
  };
}

function replay(): Behaviour {
  const sent = new Recent(256);
  const heard = new Recent(256);
  return {
    outgoing(to, env, liar) {
      liar.emit(to, env);
      sent.add(to, env);
      if (!liar.rng.bool(liar.probability)) return;
      if (liar.rng.bool()) {
        const old = sent.old(liar.rng);
        if (old !== undefined) liar.emit(old[0], old[1]);
        return;
      }
      // A message it received, to a third host, under the name of its sender.
      const old = heard.old(liar.rng);
      if (old === undefined) return;
      const others = hostsBut(liar, old[0]);
      if (others.length > 0) liar.emit(liar.rng.pick(others), old[1]);
    },
    incoming(from, env) {
      if (env.kind === 'raft') heard.add(from, env);
      return env;
    },
  };
}

const forgeSender: Behaviour = {
  outgoing(to, env, liar) {
    if (env.kind === 'raft' && liar.rng.bool(liar.probability)) {
      // Speak for a peer that is neither us nor the recipient.
      const others = hostsBut(liar, to);
      if (others.length > 0) {
        liar.emit(to, raftEnv(env, { ...env.msg, from: liar.rng.pick(others) }));
        return;
      }
    }
    liar.emit(to, env);
  },
  incoming: honest,
};

function falseAck(): Behaviour {
  /** "group:leader" -> the last index that leader offered us, while we dropped its entries. */
  const owed = new Map<string, number>();
  return {
    outgoing(to, env, liar) {
      if (env.kind === 'raft' && env.msg.type === 'appResp') {
        const claim = owed.get(`${env.group}:${to}`);
        if (claim !== undefined && (env.msg.reject || claim > env.msg.index)) {
          liar.emit(to, raftEnv(env, { ...env.msg, reject: false, index: claim, rejectHint: 0, logTerm: 0 }));
          return;
        }
      }
      liar.emit(to, env);
    },
    incoming(from, env, liar) {
      if (env.kind !== 'raft' || env.msg.type !== 'app' || env.msg.entries.length === 0) return env;
      const key = `${env.group}:${from}`;
      if (!liar.rng.bool(liar.probability)) {
        owed.delete(key);
        return env;
      }
      // The replica never stores what it will acknowledge.
      owed.set(key, env.msg.index + env.msg.entries.length);
      return raftEnv(env, { ...env.msg, entries: [] });
    },
  };
}

const falsePage: Behaviour = {
  outgoing(to, env, liar) {
    if (env.kind === 'vmm') {
      const m = env.msg;
      if ((m.t === 'release' || m.t === 'revoked') && m.data !== null && liar.rng.bool(liar.probability)) {
        liar.emit(to, vmmEnv({ ...m, data: bytesLike(m.data, 0xef) }));
        return;
      }
      if (m.t === 'grant' && liar.rng.bool(liar.probability)) {
        liar.emit(to, vmmEnv({ ...m, version: m.version + 1, data: m.data === null ? null : bytesLike(m.data, 0xad) }));
        return;
      }
    }
    liar.emit(to, env);
  },
  incoming: honest,
};

const RAFT_TYPES: Message['type'][] = ['app', 'appResp', 'heartbeat', 'heartbeatResp', 'vote', 'voteResp', 'preVote', 'preVoteResp', 'timeoutNow'];

function nonsense(): Behaviour {
  /** The highest term and index seen, so the nonsense lands near the live range. */
  let term = 1;
  let index = 1;
  return {
    outgoing(to, env, liar) {
      liar.emit(to, env);
      if (env.kind !== 'raft') return;
      term = Math.max(term, env.msg.term);
      index = Math.max(index, env.msg.index + env.msg.entries.length, env.msg.commit);
      if (!liar.rng.bool(liar.probability)) return;
      const r = liar.rng;
      const at = r.int(0, index + 3);
      const t = r.int(0, term + 3);
      const entries: Entry[] = r.bool(0.3) ? Array.from({ length: r.int(1, 4) }, (_, i) => ({ term: Math.max(1, t), index: at + 1 + i, kind: 'normal' as const, data: '' })) : [];
      const msg: Message = {
        type: r.pick(RAFT_TYPES), from: liar.self, to, term: Math.max(t, ...entries.map((e) => e.term)), logTerm: r.int(0, t + 1), index: at,
        entries, commit: r.int(0, index + 3), reject: r.bool(), rejectHint: r.int(0, at + 1), snapshot: null, transfer: r.bool(0.1),
      };
      liar.emit(to, raftEnv(env, msg));
    },
    incoming: honest,
  };
}

function smallScope(): Behaviour {
  const sent = new Recent(64);
  return {
    outgoing(to, env, liar) {
      if (env.kind !== 'raft' || !liar.rng.bool(liar.probability)) {
        liar.emit(to, env);
        if (env.kind === 'raft') sent.add(to, env);
        return;
      }
      const m = env.msg;
      const d = liar.rng.bool() ? 1 : -1;
      const r = liar.rng.int(0, 5);
      let out: Message | undefined;
      if (r === 0) out = { ...m, term: Math.max(0, m.term + d) };
      else if (r === 1) {
        // The whole run moves, so it stays well-formed but lands one slot off.
        const index = Math.max(0, m.index + d);
        out = { ...m, index, entries: m.entries.map((e, i) => ({ ...e, index: index + 1 + i })) };
      } else if (r === 2) out = { ...m, commit: Math.max(0, m.commit + d) };
      else if (r === 3) out = { ...m, logTerm: Math.max(0, m.logTerm + d) };
      else {
        // An older value: the last message of the same type to the same peer, sent again instead.
        const old = sent.old(liar.rng, (p, e) => p === to && e.kind === 'raft' && e.msg.type === m.type);
        out = old === undefined ? m : (old[1] as Raft).msg;
      }
      liar.emit(to, raftEnv(env, out));
      sent.add(to, env);
    },
    incoming: honest,
  };
}

/** A fresh behaviour for one run (each keeps its own memory of the traffic). */
export function behaviourOf(name: ByzantineBehaviour): Behaviour {
  switch (name) {
    case 'equivocate': return equivocate();
    case 'double-vote': return doubleVote();
    case 'inflate-term': return inflate(() => WIRE_MAX);
    case 'inflate-term-bounded': return inflate((t, rng) => t + rng.int(1, 2 ** 32 + 1));
    case 'replay': return replay();
    case 'forge-sender': return forgeSender;
    case 'false-ack': return falseAck();
    case 'false-page': return falsePage;
    case 'nonsense': return nonsense();
    case 'small-scope': return smallScope();
    case 'twins': return { outgoing: (to, env, liar) => liar.emit(to, env), incoming: honest };
  }
}
