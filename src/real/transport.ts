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
// This is outside the deterministic core, so real timers and Math.random (for
// back-off jitter) are fine here.
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';
import type { Envelope } from '../vmm/wire.js';
import { validateEnvelope } from './envelope-codec.js';
import { checkHeader, decodeFrame, DEFAULT_MAX_FRAME_BYTES, encodeFrame, FrameDecoder, payloadLength } from './frame.js';

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
  onMessage: (from: number, env: Envelope) => void;
  log?: (event: string, fields: object) => void;
}

export type DropReason = 'queue-full' | 'oversized' | 'malformed' | 'unknown-sender' | 'wrong-cluster' | 'unknown-peer';

export interface TransportStats {
  /** Frames handed to a socket. */
  sent: number;
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
}

/** A dial that neither connects nor fails (a silently dropped SYN) would otherwise wait minutes for the kernel. */
const CONNECT_TIMEOUT_MS = 5000;
/** Keepalive probes find a peer that vanished without a FIN (power loss, partition) while we have nothing to send. */
const KEEPALIVE_MS = 5000;

interface Peer {
  readonly id: number;
  readonly addr: PeerAddress;
  queue: Buffer[];
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
  private readonly listenAt: PeerAddress;
  private readonly maxFrameBytes: number;
  private readonly maxQueue: number;
  private readonly backoff: { minMs: number; maxMs: number };
  private readonly onMessage: (from: number, env: Envelope) => void;
  private readonly log: (event: string, fields: object) => void;
  private readonly peers = new Map<number, Peer>();
  private readonly inbound = new Set<Socket>();
  private server: Server | null = null;
  private state: 'new' | 'starting' | 'running' | 'stopped' = 'new';
  private counters = {
    sent: 0,
    received: 0,
    local: 0,
    reconnects: 0,
    handlerErrors: 0,
    dropped: { 'queue-full': 0, oversized: 0, malformed: 0, 'unknown-sender': 0, 'wrong-cluster': 0, 'unknown-peer': 0 } as Record<DropReason, number>,
  };

  constructor(opts: TransportOptions) {
    // Bad configuration is the operator's error and is reported at once; only
    // network input is tolerated silently.
    checkHeader({ clusterId: opts.clusterId, from: opts.self });
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
    this.onMessage = opts.onMessage;
    this.log = opts.log ?? (() => {});
    for (const [id, addr] of opts.peers) {
      if (!uint32(id)) throw new RangeError(`peer id must be an integer in [0, 2^32), got ${id}`);
      if (id === this.self) continue;
      this.peers.set(id, { id, addr: { ...addr }, queue: [], socket: null, connected: false, everConnected: false, attempts: 0, timer: null });
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
      frame = encodeFrame({ clusterId: this.clusterId, from: this.self }, env);
    } catch (err) {
      // A cycle or a BigInt in an envelope: a local bug, but send() promises not to throw.
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
      this.drop('queue-full', { to });
    }
    peer.queue.push(frame);
    this.flush(peer);
  }

  /** Closes every socket and timer; afterwards nothing of this transport keeps the process alive. */
  async stop(): Promise<void> {
    if (this.state === 'stopped') return;
    this.state = 'stopped';
    for (const peer of this.peers.values()) {
      if (peer.timer !== null) clearTimeout(peer.timer);
      peer.timer = null;
      peer.queue = [];
      const s = peer.socket;
      peer.socket = null;
      peer.connected = false;
      s?.destroy();
    }
    for (const s of this.inbound) s.destroy();
    this.inbound.clear();
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
      sent: c.sent, received: c.received, local: c.local, dropped: { ...c.dropped }, reconnects: c.reconnects,
      connectedPeers, queued, handlerErrors: c.handlerErrors,
    };
  }

  // Outbound

  private dial(peer: Peer): void {
    if (this.state !== 'running') return;
    const s = connect({ host: peer.addr.host, port: peer.addr.port });
    peer.socket = s;
    s.setNoDelay(true);
    s.setTimeout(CONNECT_TIMEOUT_MS, () => s.destroy(new Error('connect timeout')));
    s.on('connect', () => {
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
    s.on('error', (err) => this.log(peer.connected ? 'socket-error' : 'connect-error', { peer: peer.id, error: err.message }));
    s.on('close', () => {
      if (peer.socket !== s) return; // stop() already let go of it
      const was = peer.connected;
      peer.socket = null;
      peer.connected = false;
      if (was) this.log('disconnected', { peer: peer.id });
      this.redial(peer);
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
    s.cork();
    while (peer.queue.length > 0) {
      const frame = peer.queue.shift() as Buffer;
      this.counters.sent++;
      if (!s.write(frame)) break;
    }
    s.uncork();
  }

  // Inbound

  private accept(sock: Socket): void {
    if (this.state === 'stopped') {
      sock.destroy();
      return;
    }
    this.inbound.add(sock);
    const remote = `${sock.remoteAddress ?? '?'}:${sock.remotePort ?? '?'}`;
    const decoder = new FrameDecoder(this.maxFrameBytes);
    sock.on('data', (chunk: Buffer) => {
      const r = decoder.push(chunk);
      for (const payload of r.frames) {
        if (this.state === 'stopped') return;
        this.frame(payload, remote);
      }
      if (r.error !== null) {
        // Past an oversized length the stream cannot be resynchronized: drop the connection; the peer redials.
        this.drop('oversized', { remote });
        sock.destroy();
      }
    });
    sock.on('error', (err) => this.log('inbound-error', { remote, error: err.message }));
    sock.on('close', () => this.inbound.delete(sock));
  }

  private frame(payload: Buffer, remote: string): void {
    const d = decodeFrame(payload);
    if (!d.ok) {
      this.drop('malformed', { remote, reason: d.reason });
      return;
    }
    const { clusterId, from } = d.header;
    if (clusterId !== this.clusterId) {
      this.drop('wrong-cluster', { remote, clusterId, from });
      return;
    }
    // A frame claiming our own id comes from a host configured with a duplicate id: as unknown as a stranger.
    if (from === this.self || !this.peers.has(from)) {
      this.drop('unknown-sender', { remote, from });
      return;
    }
    const env = validateEnvelope(d.message);
    if (env === null) {
      this.drop('malformed', { remote, from, reason: 'envelope' });
      return;
    }
    this.counters.received++;
    this.deliver(from, env);
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
}
