// Prometheus metrics of one host. Fault latency is observed as faults are
// served; everything else is read from the host's status at scrape time, so
// the host keeps one source of truth (HostStatus) and this module only
// translates it. A private Registry keeps tests and several hosts in one
// process from sharing (and double-registering) metrics.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { FaultKind } from './fault-timing.js';
import type { HostStatus } from './host-status.js';

/** From a fault answered locally (tens of µs) to one stuck behind elections and retries (a second). */
export const FAULT_LATENCY_BUCKETS = [
  25e-6, 50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3, 50e-3, 100e-3, 250e-3, 1,
];

export class HostMetrics {
  private readonly registry = new Registry();
  private readonly faults: Counter<'kind'>;
  private readonly faultLatency: Histogram<'kind'>;
  /**
   * The status read at the start of the current scrape. Every collect callback
   * reads this one value, so a scrape is consistent and status() runs once per
   * scrape, not once per metric. Only text() scrapes the private registry, so
   * it is always fresh when the callbacks run.
   */
  private snapshot: HostStatus | null = null;

  constructor(private readonly status: () => HostStatus) {
    const registers = [this.registry];
    this.faults = new Counter({
      name: 'gallocy_faults_total', help: 'Page faults served, by access kind.', labelNames: ['kind'], registers,
    });
    this.faultLatency = new Histogram({
      name: 'gallocy_fault_latency_seconds', help: 'Time from a page fault to the resumed thread, by access kind.',
      labelNames: ['kind'], buckets: FAULT_LATENCY_BUCKETS, registers,
    });
    // Export both kinds from the first scrape, so rate() has a zero to start from.
    for (const kind of ['read', 'write'] as const) {
      this.faults.inc({ kind }, 0);
      this.faultLatency.zero({ kind });
    }

    const snap = (): HostStatus => this.snapshot ?? this.status();

    // Totals kept by the host: a counter set to the host's value at each scrape.
    const total = (name: string, help: string, value: (s: HostStatus) => number): void => {
      new Counter({
        name, help, registers,
        collect(this: Counter) {
          this.reset();
          this.inc(value(snap()));
        },
      });
    };
    total('gallocy_commits_total', 'Raft entries this host applied, all groups.', (s) => s.commits);
    total('gallocy_messages_sent_total', 'Frames handed to a socket.', (s) => s.transport.sent);
    total('gallocy_messages_received_total', 'Envelopes received from the network and delivered.', (s) => s.transport.received);
    total('gallocy_socket_writes_total', 'Writes to peer sockets (each carrying one or more frames).', (s) => s.transport.writes);
    total('gallocy_wire_bytes_sent_total', 'Bytes of frames handed to peer sockets (before TLS).', (s) => s.transport.bytesSent);
    total('gallocy_wire_bytes_received_total', 'Bytes of frames received from peers (after TLS).', (s) => s.transport.bytesReceived);
    total('gallocy_transport_reconnects_total', 'Outbound connections established again after a loss.', (s) => s.transport.reconnects);
    total('gallocy_raft_store_transactions_total', 'Transactions the Raft store committed (each holds one or more turns of Readies).', (s) => s.disk.transactions);
    total('gallocy_raft_store_fsyncs_total', 'Of them, those fsynced at commit.', (s) => s.disk.fsyncs);

    new Counter({
      name: 'gallocy_frames_dropped_total', help: 'Frames or envelopes the transport dropped, by reason.', labelNames: ['reason'], registers,
      collect(this: Counter<'reason'>) {
        this.reset();
        for (const [reason, n] of Object.entries(snap().transport.dropped)) this.inc({ reason }, n);
      },
    });

    new Counter({
      name: 'gallocy_connections_refused_total', help: 'Connections refused or closed for what the far end did (unauthenticated, over a limit), by reason.',
      labelNames: ['reason'], registers,
      collect(this: Counter<'reason'>) {
        this.reset();
        for (const [reason, n] of Object.entries(snap().transport.refused)) this.inc({ reason }, n);
      },
    });
    new Gauge({
      name: 'gallocy_inbound_connections', help: 'Inbound peer connections open now.', registers,
      collect(this: Gauge) {
        this.set(snap().transport.inbound.connections);
      },
    });
    new Gauge({
      name: 'gallocy_inbound_buffered_bytes', help: 'Bytes of partial frames held for inbound connections.', registers,
      collect(this: Gauge) {
        this.set(snap().transport.inbound.bufferedBytes);
      },
    });

    // Per Raft group; reset first so a group this host no longer replicates disappears.
    const perGroup = (name: string, help: string, value: (g: HostStatus['groups'][number]) => number): void => {
      new Gauge({
        name, help, labelNames: ['group'], registers,
        collect(this: Gauge<'group'>) {
          this.reset();
          for (const g of snap().groups) this.set({ group: String(g.group) }, value(g));
        },
      });
    };
    perGroup('gallocy_raft_term', 'Current Raft term, by group (0: the registry).', (g) => g.term);
    perGroup('gallocy_raft_commit_index', 'Raft commit index, by group (0: the registry).', (g) => g.commit);
    perGroup('gallocy_raft_is_leader', '1 if this host leads the group (0: the registry), else 0.', (g) => (g.role === 'leader' ? 1 : 0));

    new Gauge({
      name: 'gallocy_pages_held', help: 'Heap pages this host holds, by mode.', labelNames: ['mode'], registers,
      collect(this: Gauge<'mode'>) {
        const held = snap().pagesHeld;
        this.set({ mode: 'read' }, held.read);
        this.set({ mode: 'write' }, held.write);
      },
    });
    new Gauge({
      name: 'gallocy_up_seconds', help: 'Seconds since the host process started.', registers,
      collect(this: Gauge) {
        this.set(snap().uptimeSeconds);
      },
    });

    collectDefaultMetrics({ register: this.registry, prefix: 'gallocy_' });
  }

  /** Records one served fault and how long the faulting thread waited. */
  faultServed(kind: FaultKind, seconds: number): void {
    this.faults.inc({ kind });
    this.faultLatency.observe({ kind }, seconds);
  }

  /** The Prometheus exposition text. Rejects if status() throws, so the scrape fails visibly instead of showing stale values. */
  async text(): Promise<string> {
    this.snapshot = this.status();
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
