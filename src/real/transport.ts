// The real-mode network between hosts (design section 8, "Transport"): one
// persistent outbound TCP connection per peer for what we send, and whatever
// inbound connections peers open to us for what we receive. Connections are
// one-way so neither side has to agree who dials whom, and a restarted host
// simply dials again.
//
// Delivery is at most once, like the simulated network: a frame written to a
// connection that then breaks is lost, and Raft and the VMM protocol already
// retry. What the transport does guarantee is bounded memory (a queue limit
// per peer, a frame-size limit per connection) and that nothing a peer sends,
// and no socket failure, can throw out of it or crash the host: bad input is
// dropped, counted and logged.
//
// With TLS (the default of a cluster file), both ends present a certificate
// of the cluster's authority naming their host (src/real/tls.ts): a frame is
// accepted only on a connection whose peer proved to be a host of this
// cluster, and only if its header names that same host; we send only to a
// peer that proved to be the host we dialed, so a process squatting on a
// stopped host's address gets nothing. Without TLS ("insecurePlainTcp") the
// header's sender is taken on trust.
//
// Limits, so that no stranger can exhaust the host: connections per source
// address and in all, a deadline for the TLS handshake and for each partial
// frame, a cap on the bytes held for partial frames over all connections
// (each connection's buffer grows with the bytes that arrived, never with the
// length announced), and an idle timeout. Every refusal is counted by reason
// and logged once per source and reason.
//
// This is outside the deterministic core, so real timers and Math.random (for
// back-off jitter) are fine here.
import { X509Certificate } from 'node:crypto';
import { createServer, connect as connectTcp, type AddressInfo, type Server, type Socket } from 'node:net';
import { connect as connectTls, createSecureContext, TLSSocket, type SecureContext } from 'node:tls';
import type { Envelope } from '../vmm/wire.js';
import { decodeEnvelope, EnvelopeEncoder } from './envelope-codec.js';
import { DEFAULT_MAX_FRAME_BYTES, decodeFrame, FrameDecoder, framePrefix, matchFrame, payloadLength, sealFrame } from './frame.js';
import { collectGarbage } from './collect-garbage.js';
import { hostIdOf } from './tls.js';
import type { TlsMaterial } from './tls.js';
import { noTimeline } from './timeline.js';
import type { Timeline } from './timeline.js';

export interface PeerAddress {
  host: string;
  port: number;
}

export interface TransportOptions {
  /** This host's id (an unsigned 32-bit integer; it travels in every frame header). */
  self: number;
  /** Frames carrying another cluster id are dropped: two clusters on one network never mix. */
  clusterId: string;
  /** Every other host; an entry for `self` is ignored. */
  peers: Map<number, PeerAddress>;
  listen: PeerAddress;
  /** Largest payload sent or accepted; default 16 MiB. */
  maxFrameBytes?: number;
  /** Frames held per peer while it is unreachable or slow; default 1024. */
  maxQueue?: number;
  /** Reconnect delay: doubles per failed attempt from minMs up to maxMs, with jitter; default 50..5000 ms. */
  backoff?: { minMs: number; maxMs: number };
  /** Default plain TCP: RealHost always says which, from the cluster file. */
  security?: TransportSecurity;
  limits?: Partial<TransportLimits>;
  /**
   * Called with each accepted envelope. With TLS, `from` is the sender the
   * handshake authenticated (the frame header must agree with it).
   */
  onMessage: (from: number, env: Envelope) => void;
  log?: (event: string, fields: object) => void;
  /** Where the time of encoding, sending, decoding and handling frames is summed (default: nowhere). */
  timeline?: Pick<Timeline, 'time'>;
}

export type TransportSecurity = { kind: 'tls'; material: TlsMaterial } | { kind: 'plain' };

export interface TransportLimits {
  /** Inbound connections from one IP address at once (a host needs one; restarts briefly make two); default max(8, 2 x peers). */
  connectionsPerSource: number;
  /** Inbound connections at once, from anyone. */
  connections: number;
  /** From TCP accept to a completed TLS handshake. */
  handshakeMs: number;
  /** From a frame's first byte to its last. */
  frameDeadlineMs: number;
  /** An inbound connection that carries nothing this long is closed (its peer redials when it has something to say). */
  idleMs: number;
  /** Bytes of partial frames held over all inbound connections. */
  bufferedBytes: number;
}

export const DEFAULT_LIMITS: TransportLimits = {
  connectionsPerSource: 8,
  connections: 256,
  handshakeMs: 5000,
  frameDeadlineMs: 30_000,
  idleMs: 300_000,
  bufferedBytes: 64 * 1024 * 1024,
};

export type DropReason =
  | 'queue-full' | 'oversized' | 'malformed' | 'unknown-sender' | 'wrong-cluster' | 'unknown-peer'
  /** An authenticated peer sent a frame whose header names another host. */
  | 'forged-sender';

/** Connections refused or closed for what their far end did (or did not do). */
export type RefusalReason =
  /** Inbound: no certificate, or one our authority did not sign or that is not valid now; or the TLS handshake failed. */
  | 'unauthenticated'
  /** Inbound: a certificate of our authority that names no other host of this cluster. */
  | 'unknown-identity'
  | 'handshake-timeout'
  | 'too-many-connections'
  | 'frame-deadline'
  | 'buffer-cap'
  | 'idle'
  /** Outbound: the host we dialed did not prove to be that host of this cluster. */
  | 'peer-unauthenticated';

export interface TransportStats {
  /** Frames handed to a socket. */
  sent: number;
  /** Writes to sockets (each one system call, more or less, carrying one or more frames). */
  writes: number;
  /** Bytes of the frames handed to sockets, and of what arrived on inbound connections (TLS excluded both ways). */
  bytesSent: number;
  bytesReceived: number;
  /** Envelopes received from the network and delivered. */
  received: number;
  /** Envelopes sent to self and delivered locally. */
  local: number;
  dropped: Record<DropReason, number>;
  /** Outbound connections established again after a loss. */
  reconnects: number;
  /** Peers with an established outbound connection, ascending. */
  connectedPeers: number[];
  /** Frames waiting in the peers' queues. */
  queued: number;
  /** Exceptions thrown by onMessage (caught so one bad handler call cannot stop the host). */
  handlerErrors: number;
  refused: Record<RefusalReason, number>;
  /** Inbound connections open now, and the bytes of partial frames they hold. */
  inbound: { connections: number; bufferedBytes: number };
  security: TransportSecurity['kind'];
}

/** A count of 0 for every refusal reason (every reason shows in /metrics from the start). */
export function zeroRefusals(): Record<RefusalReason, number> {
  return {
    unauthenticated: 0, 'unknown-identity': 0, 'handshake-timeout': 0, 'too-many-connections': 0, 'frame-deadline': 0, 'buffer-cap': 0, idle: 0,
    'peer-unauthenticated': 0,
  };
}

/** A connection closed holding at least this much of a partial frame leaves enough garbage to collect (collect-garbage.ts). */
const COLLECT_AFTER_BYTES = 1024 * 1024;
/** At most one such collection this often. */
const COLLECT_DELAY_MS = 1000;

/** Source-and-reason pairs logged so far are remembered up to this many; past it refusals are counted, no longer logged. */
const MAX_LOGGED_REFUSALS = 4096;

/** A dial that neither connects nor fails (a silently dropped SYN) would otherwise wait minutes for the kernel. */
const CONNECT_TIMEOUT_MS = 5000;
/** Keepalive probes find a peer that vanished without a FIN (power loss, partition) while we have nothing to send. */
const KEEPALIVE_MS = 5000;

interface Peer {
  readonly id: number;
  readonly addr: PeerAddress;
  queue: Buffer[];
  /** How many frames at the head of `queue` are the VMM's (see send: they go before Raft's). */
  vmmQueued: number;
  socket: Socket | null;
  connected: boolean;
  everConnected: boolean;
  /** Failed attempts since the last success: the back-off exponent. */
  attempts: number;
  timer: ReturnType<typeof setTimeout> | null;
}

function uint32(x: number): boolean {
  return Number.isInteger(x) && x >= 0 && x <= 0xffffffff;
}

export class Transport {
  private readonly self: number;
  private readonly clusterId: string;
  /** Length prefix and header of every frame we send (they never change). */
  private readonly prefix: Buffer;
  /** Keeps the bytes of the Raft entries sent, so a broadcast encodes each entry once. */
  private readonly encoder = new EnvelopeEncoder();
  private readonly listenAt: PeerAddress;
  private readonly maxFrameBytes: number;
  private readonly maxQueue: number;
  private readonly backoff: { minMs: number; maxMs: number };
  private readonly onMessage: (from: number, env: Envelope) => void;
  private readonly log: (event: string, fields: object) => void;
  private readonly timeline: Pick<Timeline, 'time'>;
  private readonly peers = new Map<number, Peer>();
  /** Peers sent to in this turn, written at its end: those with a VMM frame first (see send). */
  private readonly turnPeers = new Set<Peer>();
  private turnFlushQueued = false;
  private readonly inbound = new Set<Socket>();
  /** Open inbound connections by remote address. */
  private readonly perSource = new Map<string, number>();
  /** "reason source" pairs already logged. */
  private readonly loggedRefusals = new Set<string>();
  private readonly limits: TransportLimits;
  private readonly security: TransportSecurity['kind'];
  private readonly material: TlsMaterial | null;
  private readonly secureContext: SecureContext | null;
  private readonly authority: X509Certificate | null;
  /** Bytes of partial frames held by all inbound connections. */
  private buffered = 0;
  private server: Server | null = null;
  private collectTimer: ReturnType<typeof setTimeout> | null = null;
  private state: 'new' | 'starting' | 'running' | 'stopped' = 'new';
  private counters = {
    sent: 0,
    writes: 0,
    bytesSent: 0,
    bytesReceived: 0,
    received: 0,
    local: 0,
    reconnects: 0,
    handlerErrors: 0,
    dropped: { 'queue-full': 0, oversized: 0, malformed: 0, 'unknown-sender': 0, 'wrong-cluster': 0, 'unknown-peer': 0, 'forged-sender': 0 } as Record<DropReason, number>,
    refused: zeroRefusals(),
  };

  constructor(opts: TransportOptions) {
    // Bad configuration is the operator's error and is reported at once; only
    // network input is tolerated silently.
    this.prefix = framePrefix({ clusterId: opts.clusterId, from: opts.self });
    this.self = opts.self;
    this.clusterId = opts.clusterId;
    this.listenAt = { ...opts.listen };
    this.maxFrameBytes = opts.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    if (!uint32(this.maxFrameBytes)) throw new RangeError(`maxFrameBytes must be an integer in [0, 2^32), got ${this.maxFrameBytes}`);
    this.maxQueue = opts.maxQueue ?? 1024;
    if (!Number.isSafeInteger(this.maxQueue) || this.maxQueue < 1) throw new RangeError(`maxQueue must be a positive integer, got ${this.maxQueue}`);
    this.backoff = { ...(opts.backoff ?? { minMs: 50, maxMs: 5000 }) };
    if (!(this.backoff.minMs > 0 && this.backoff.maxMs >= this.backoff.minMs)) {
      throw new RangeError(`backoff needs 0 < minMs <= maxMs, got ${this.backoff.minMs}..${this.backoff.maxMs}`);
    }
    // Hosts sharing one machine share a source address, each with a connection (two while one redials).
    const perSource = Math.max(DEFAULT_LIMITS.connectionsPerSource, 2 * opts.peers.size);
    this.limits = { ...DEFAULT_LIMITS, connectionsPerSource: perSource, ...opts.limits };
    for (const [k, v] of Object.entries(this.limits)) {
      if (!Number.isSafeInteger(v) || v < 1) throw new RangeError(`limits.${k} must be a positive integer, got ${String(v)}`);
    }
    const security = opts.security ?? { kind: 'plain' };
    this.security = security.kind;
    this.material = security.kind === 'tls' ? security.material : null;
    this.secureContext = this.material === null ? null : createSecureContext({ key: this.material.key, cert: this.material.cert, ca: this.material.ca });
    this.authority = this.material === null ? null : new X509Certificate(this.material.ca);
    this.onMessage = opts.onMessage;
    this.log = opts.log ?? (() => {});
    this.timeline = opts.timeline ?? noTimeline;
    for (const [id, addr] of opts.peers) {
      if (!uint32(id)) throw new RangeError(`peer id must be an integer in [0, 2^32), got ${id}`);
      if (id === this.self) continue;
      this.peers.set(id, { id, addr: { ...addr }, queue: [], vmmQueued: 0, socket: null, connected: false, everConnected: false, attempts: 0, timer: null });
    }
  }

  /** Listens, then dials every peer. Rejects if the address cannot be bound (say, in use). */
  async start(): Promise<void> {
    if (this.state !== 'new') throw new Error(`transport: start() called when ${this.state}`);
    this.state = 'starting';
    const server = createServer({ noDelay: true }, (sock) => this.accept(sock));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      const failed = (err: Error): void => reject(err);
      server.once('error', failed);
      server.listen({ host: this.listenAt.host, port: this.listenAt.port }, () => {
        server.off('error', failed);
        resolve();
      });
    }).catch((err: unknown) => {
      this.state = 'stopped';
      this.server = null;
      throw err;
    });
    // After listening, a server error (rare: EMFILE on accept) is logged, not thrown: it must not crash the host.
    server.on('error', (err) => this.log('server-error', { error: err.message }));
    if ((this.state as Transport['state']) === 'stopped') {
      // stop() ran while we were binding and found nothing listening yet: close what we just opened.
      await new Promise<void>((resolve) => server.close(() => resolve()));
      return;
    }
    this.state = 'running';
    // "host" is the logger's own field (the host id): the address goes as one string.
    const at = this.address();
    this.log('listening', { self: this.self, address: at === null ? null : `${at.host}:${at.port}` });
    for (const peer of this.peers.values()) this.dial(peer);
  }

  /** The bound address (useful with port 0); null before start() or after stop(). */
  address(): PeerAddress | null {
    const a = this.server?.address();
    if (a === null || a === undefined || typeof a === 'string') return null;
    return { host: (a as AddressInfo).address, port: (a as AddressInfo).port };
  }

  /**
   * Queues `env` for host `to` and returns at once. To self: delivered in a
   * microtask (never re-entrantly, as the simulator never does). Before start()
   * frames wait in the queue; after stop() they are discarded.
   */
  send(to: number, env: Envelope): void {
    if (this.state === 'stopped') return;
    if (to === this.self) {
      this.counters.local++;
      queueMicrotask(() => {
        if (this.state !== 'stopped') this.deliver(this.self, env);
      });
      return;
    }
    const peer = this.peers.get(to);
    if (peer === undefined) {
      this.drop('unknown-peer', { to });
      return;
    }
    let frame: Buffer;
    try {
      frame = this.timeline.time('encode', () => sealFrame(this.encoder.encode(env, this.prefix)));
    } catch (err) {
      // An envelope no peer could decode (an unknown variant): a local bug, but send() promises not to throw.
      this.drop('malformed', { to, error: (err as Error).message });
      return;
    }
    // The receiver would drop the whole connection on it, losing every frame behind it too.
    if (payloadLength(frame) > this.maxFrameBytes) {
      this.drop('oversized', { to, bytes: payloadLength(frame) });
      return;
    }
    if (peer.queue.length >= this.maxQueue) {
      // Drop the oldest: after an outage the newest messages (current term, current requests) matter most.
      peer.queue.shift();
      if (peer.vmmQueued > 0) peer.vmmQueued--;
      this.drop('queue-full', { to });
    }
    // A VMM frame (a grant, a reply, a request) goes ahead of the Raft frames queued
    // before it, in the order the VMM sent them: a thread waits on it, while Raft's
    // frames of the turn (appends of other proposals, their acknowledgements) are
    // not what it waits for, and both protocols take reordering (the simulated
    // network reorders too). The receiver handles the frames of one read in order.
    if (env.kind === 'vmm') peer.queue.splice(peer.vmmQueued++, 0, frame);
    else peer.queue.push(frame);
    // Written at the end of this turn of the event loop, with every other frame the turn sends this
    // peer (a Ready's messages, a grant and its append response): one corked write, one system call.
    this.turnPeers.add(peer);
    if (!this.turnFlushQueued) {
      this.turnFlushQueued = true;
      queueMicrotask(this.flushTurn);
    }
  }

  /**
   * The end of a turn: every peer sent to is written, those with a VMM frame
   * first, since each write costs the main thread its encryption and system
   * call, and a grant should not wait behind another peer's appends.
   */
  private readonly flushTurn = (): void => {
    this.turnFlushQueued = false;
    for (const peer of this.turnPeers) if (peer.vmmQueued > 0) this.flush(peer);
    // Then the rest (a peer written above has an empty queue now, unless its socket is full).
    for (const peer of this.turnPeers) this.flush(peer);
    this.turnPeers.clear();
  };

  /** Closes every socket and timer; afterwards nothing of this transport keeps the process alive. */
  async stop(): Promise<void> {
    if (this.state === 'stopped') return;
    this.state = 'stopped';
    for (const peer of this.peers.values()) {
      if (peer.timer !== null) clearTimeout(peer.timer);
      peer.timer = null;
      peer.queue = [];
      peer.vmmQueued = 0;
      const s = peer.socket;
      peer.socket = null;
      peer.connected = false;
      s?.destroy();
    }
    for (const s of this.inbound) s.destroy();
    this.inbound.clear();
    if (this.collectTimer !== null) clearTimeout(this.collectTimer);
    this.collectTimer = null;
    const server = this.server;
    this.server = null;
    if (server !== null && server.listening) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  stats(): TransportStats {
    const c = this.counters;
    let queued = 0;
    const connectedPeers: number[] = [];
    for (const p of this.peers.values()) {
      queued += p.queue.length;
      if (p.connected) connectedPeers.push(p.id);
    }
    connectedPeers.sort((a, b) => a - b);
    return {
      sent: c.sent, writes: c.writes, bytesSent: c.bytesSent, bytesReceived: c.bytesReceived, received: c.received, local: c.local, dropped: { ...c.dropped }, reconnects: c.reconnects,
      connectedPeers, queued, handlerErrors: c.handlerErrors, refused: { ...c.refused },
      inbound: { connections: this.inbound.size, bufferedBytes: this.buffered }, security: this.security,
    };
  }

  // Outbound

  private dial(peer: Peer): void {
    if (this.state !== 'running') return;
    const s = this.material === null ? connectTcp({ host: peer.addr.host, port: peer.addr.port }) : this.dialTls(peer);
    peer.socket = s;
    s.setNoDelay(true);
    s.setTimeout(CONNECT_TIMEOUT_MS, () => s.destroy(new Error('connect timeout')));
    let reached = false;
    s.once('connect', () => (reached = true));
    s.on(this.material === null ? 'connect' : 'secureConnect', () => {
      s.setTimeout(0);
      s.setKeepAlive(true, KEEPALIVE_MS);
      peer.connected = true;
      peer.attempts = 0;
      if (peer.everConnected) this.counters.reconnects++;
      peer.everConnected = true;
      this.log('connected', { peer: peer.id });
      this.flush(peer);
    });
    s.on('drain', () => this.flush(peer));
    // Peers never write on our outbound connection; read and discard so a misbehaving one cannot fill our buffers.
    s.on('data', () => {});
    // An 'error' event without a listener would be thrown; 'close' always follows it, and handles the loss.
    s.on('error', (err) => {
      // Reached over TCP but no secure connection: whoever answers there is not that host (or not yet ready to prove it).
      if (reached && !peer.connected && this.material !== null) this.refuse('peer-unauthenticated', `host ${peer.id}`, { peer: peer.id, error: err.message });
      else this.log(peer.connected ? 'socket-error' : 'connect-error', { peer: peer.id, error: err.message });
    });
    s.on('close', () => {
      if (peer.socket !== s) return; // stop() already let go of it
      const was = peer.connected;
      peer.socket = null;
      peer.connected = false;
      if (was) this.log('disconnected', { peer: peer.id });
      this.redial(peer);
    });
  }

  /** A client connection that succeeds only if the far end proves to be host `peer.id` of this cluster. */
  private dialTls(peer: Peer): TLSSocket {
    const m = this.material as TlsMaterial;
    return connectTls({
      host: peer.addr.host, port: peer.addr.port, key: m.key, cert: m.cert, ca: m.ca,
      // Node checks the chain against our authority; the host name is replaced by the identity URI.
      checkServerIdentity: (_name, cert) => {
        const id = hostIdOf(cert.subjectaltname, this.clusterId);
        return id === peer.id ? undefined : new Error(`expected the certificate of host ${peer.id}, got ${cert.subjectaltname ?? 'none naming a host'}`);
      },
    });
  }

  private redial(peer: Peer): void {
    if (this.state !== 'running' || peer.timer !== null) return;
    const { minMs, maxMs } = this.backoff;
    const ceiling = Math.min(maxMs, minMs * 2 ** Math.min(peer.attempts, 30));
    // Equal jitter: hosts that lost each other at the same moment do not redial in lockstep.
    const delay = ceiling / 2 + Math.random() * (ceiling / 2);
    peer.attempts++;
    peer.timer = setTimeout(() => {
      peer.timer = null;
      this.dial(peer);
    }, delay);
  }

  /**
   * Writes queued frames until the socket's buffer is full. A frame stays in
   * our bounded queue rather than the socket's unbounded one, so a slow peer
   * costs at most maxQueue frames (plus one socket buffer) of memory.
   */
  private flush(peer: Peer): void {
    const s = peer.socket;
    if (!peer.connected || s === null || s.writableNeedDrain || peer.queue.length === 0) return;
    this.timeline.time('send', () => {
      s.cork();
      while (peer.queue.length > 0) {
        const frame = peer.queue.shift() as Buffer;
        if (peer.vmmQueued > 0) peer.vmmQueued--;
        this.counters.sent++;
        this.counters.bytesSent += frame.length;
        if (!s.write(frame)) break;
      }
      s.uncork();
      this.counters.writes++;
    });
  }

  // Inbound

  private accept(sock: Socket): void {
    if (this.state === 'stopped') {
      sock.destroy();
      return;
    }
    const source = sock.remoteAddress ?? '?';
    const remote = `${source}:${sock.remotePort ?? '?'}`;
    const fromSource = this.perSource.get(source) ?? 0;
    if (fromSource >= this.limits.connectionsPerSource || this.inbound.size >= this.limits.connections) {
      this.refuse('too-many-connections', source, { remote, fromSource, open: this.inbound.size });
      sock.destroy();
      return;
    }
    this.perSource.set(source, fromSource + 1);
    this.inbound.add(sock);
    sock.on('error', (err) => this.log('inbound-error', { remote, error: err.message }));
    sock.once('close', () => {
      this.inbound.delete(sock);
      const n = (this.perSource.get(source) ?? 1) - 1;
      if (n === 0) this.perSource.delete(source);
      else this.perSource.set(source, n);
    });
    if (this.secureContext === null) {
      this.serveInbound(sock, sock, source, remote, null);
      return;
    }
    const tls = new TLSSocket(sock, { isServer: true, secureContext: this.secureContext, requestCert: true, rejectUnauthorized: true });
    // Every connection that does not finish a handshake is refused exactly once: at the deadline, on
    // an error, or when it closes (a client that gave up on our certificate may just hang up).
    let settled = false;
    let error: string | null = null;
    const deadline = setTimeout(() => {
      settled = true;
      this.refuse('handshake-timeout', source, { remote });
      sock.destroy();
    }, this.limits.handshakeMs);
    sock.once('close', () => {
      clearTimeout(deadline);
      if (!settled) this.refuse('unauthenticated', source, { remote, error: error ?? 'closed during the handshake' });
      settled = true;
    });
    tls.on('error', (err) => {
      if (settled) this.log('inbound-error', { remote, error: err.message });
      else error = err.message;
      sock.destroy();
    });
    tls.once('secure', () => {
      clearTimeout(deadline);
      settled = true;
      const peer = this.authenticate(tls);
      if (typeof peer === 'string') {
        this.refuse(peer === 'unknown' ? 'unknown-identity' : 'unauthenticated', source, { remote, why: peer });
        sock.destroy();
        return;
      }
      this.serveInbound(tls, sock, source, remote, peer);
    });
  }

  /**
   * The host the peer of a finished handshake proved to be, or why not. The
   * handshake proved it holds the key of the certificate it sent; OpenSSL only
   * requires that there is one, so the chain is checked here: our authority
   * signed it directly (the only shape `gallocy certs` makes), it is valid now,
   * and it names another host of this cluster.
   */
  private authenticate(tls: TLSSocket): number | string {
    const ca = this.authority as X509Certificate;
    const cert = tls.getPeerX509Certificate();
    if (cert === undefined) return 'no certificate';
    if (!cert.checkIssued(ca) || !cert.verify(ca.publicKey)) return `not signed by this cluster's authority (${cert.subject.replaceAll('\n', ', ')})`;
    const now = Date.now();
    if (now < Date.parse(cert.validFrom) || now > Date.parse(cert.validTo)) return `certificate not valid now (${cert.validFrom} to ${cert.validTo})`;
    const id = hostIdOf(cert.subjectAltName, this.clusterId);
    if (id === null || id === this.self || !this.peers.has(id)) return 'unknown';
    return id;
  }

  /**
   * Reads frames from an accepted connection (`stream`: the TLS layer, or the
   * socket itself; `sock`: the TCP socket beneath, destroyed to close). `peer`
   * is the authenticated sender, null on plain TCP.
   */
  private serveInbound(stream: Socket, sock: Socket, source: string, remote: string, peer: number | null): void {
    const decoder = new FrameDecoder(this.maxFrameBytes);
    let held = 0;
    let partial: ReturnType<typeof setTimeout> | null = null;
    /** Gives back what this connection holds (at once on close, not at the socket's later 'close'). */
    const release = (): void => {
      if (partial !== null) clearTimeout(partial);
      partial = null;
      if (held >= COLLECT_AFTER_BYTES) this.collectSoon();
      this.buffered -= held;
      held = 0;
    };
    const close = (reason: RefusalReason | null, fields: object = {}): void => {
      if (reason !== null) this.refuse(reason, source, { remote, ...(peer !== null ? { peer } : {}), ...fields });
      release();
      sock.destroy();
    };
    const account = (): void => {
      this.buffered += decoder.pending - held;
      held = decoder.pending;
      if (held > 0 && partial === null) partial = setTimeout(() => close('frame-deadline', { held }), this.limits.frameDeadlineMs);
      else if (held === 0 && partial !== null) {
        clearTimeout(partial);
        partial = null;
      }
    };
    sock.once('close', release);
    stream.setTimeout(this.limits.idleMs, () => close('idle'));
    stream.on('data', (chunk: Buffer) => {
      if (sock.destroyed) return;
      this.counters.bytesReceived += chunk.length;
      const r = decoder.push(chunk);
      account();
      for (const payload of r.frames) {
        if (this.state === 'stopped' || sock.destroyed) return;
        this.frame(payload, remote, peer);
      }
      if (r.error !== null) {
        // Past an oversized length the stream cannot be resynchronized: drop the connection; the peer redials.
        this.drop('oversized', { remote });
        close(null);
      } else if (this.buffered > this.limits.bufferedBytes) {
        close('buffer-cap', { held, buffered: this.buffered });
      }
    });
  }

  private frame(payload: Buffer, remote: string, peer: number | null): void {
    const got = this.timeline.time('decode', () => this.decode(payload, remote, peer));
    if (got === null) return;
    this.counters.received++;
    this.timeline.time('handle', () => this.deliver(got.from, got.env));
  }

  /** The sender and envelope of a frame from an accepted sender, or null (dropped and counted). */
  private decode(payload: Buffer, remote: string, peer: number | null): { from: number; env: Envelope } | null {
    const ours = matchFrame(payload, this.prefix);
    if (ours === null) {
      // Not a frame of this cluster in this version: its header, decoded, says what it is.
      const d = decodeFrame(payload);
      if (d.ok) this.drop('wrong-cluster', { remote, clusterId: d.header.clusterId, from: d.header.from });
      else this.drop('malformed', { remote, reason: d.reason });
      return null;
    }
    const { from, body } = ours;
    // A frame claiming our own id comes from a host configured with a duplicate id: as unknown as a stranger.
    if (from === this.self || !this.peers.has(from)) {
      this.drop('unknown-sender', { remote, from });
      return null;
    }
    if (peer !== null && from !== peer) {
      this.drop('forged-sender', { remote, from, peer });
      return null;
    }
    const env = decodeEnvelope(body);
    if (env === null) {
      this.drop('malformed', { remote, from, reason: 'envelope' });
      return null;
    }
    return { from, env };
  }

  private deliver(from: number, env: Envelope): void {
    try {
      this.onMessage(from, env);
    } catch (err) {
      this.counters.handlerErrors++;
      this.log('handler-error', { from, error: err instanceof Error ? err.message : String(err) });
    }
  }

  private drop(reason: DropReason, fields: object): void {
    this.counters.dropped[reason]++;
    this.log('drop', { reason, ...fields });
  }

  /** Collects garbage once a burst of abandoned partial frames is over (one collection per burst). */
  private collectSoon(): void {
    if (this.collectTimer !== null || this.state === 'stopped') return;
    this.collectTimer = setTimeout(() => {
      this.collectTimer = null;
      if (this.state !== 'stopped') collectGarbage();
    }, COLLECT_DELAY_MS);
    this.collectTimer.unref();
  }

  /** Counts a refused connection; logs it only the first time for this source and reason, so a flood cannot flood the log. */
  private refuse(reason: RefusalReason, source: string, fields: object): void {
    this.counters.refused[reason]++;
    const key = `${reason} ${source}`;
    if (this.loggedRefusals.has(key) || this.loggedRefusals.size >= MAX_LOGGED_REFUSALS) return;
    this.loggedRefusals.add(key);
    this.log('refused', { reason, source, ...fields, note: 'logged once per source and reason; see gallocy_connections_refused_total' });
  }
}
