// The cluster file of real mode: which hosts there are and where they listen,
// the shared heap, replication, leases and Raft timing. Files are YAML, read
// by cluster-file.ts; this module only validates the parsed value and resolves
// defaults (admin ports, data directories), so it does no I/O.
import path from 'node:path';
import { z } from 'zod';
import { issuesOf } from '../input/issues.js';
import type { InputIssue } from '../input/issues.js';
import { memorySettingsShape, raftSettingsSchema, replicationIssue, replicationOf } from '../host/config.js';
import { InputError } from '../input/errors.js';

export interface Address {
  /** A host name, an IPv4 address, or an IPv6 address without its brackets. */
  host: string;
  port: number;
}

// A DNS name or IPv4 (labels of letters, digits and hyphens), or [IPv6]; then a port.
const ADDRESS = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*)):(\d{1,5})$/;

/** Parses "host:port" (IPv6 as "[::1]:7000"); null unless the port is 1..65535. */
export function parseAddress(s: string): Address | null {
  const m = ADDRESS.exec(s);
  if (!m) return null;
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return null;
  return { host: m[1] ?? m[2]!, port };
}

/** Host names that always mean this machine's loopback, whatever the resolver says. */
const LOOPBACK_NAMES = new Set(['localhost', 'localhost.localdomain', 'ip6-localhost', 'ip6-loopback']);

/**
 * The forms an address is compared in: two spellings of one endpoint must not
 * pass as different. The WHATWG URL parser gives one spelling of an IP
 * address as the resolver reads it (127.1 and 127.000.000.001 are 127.0.0.1,
 * ::0:1 is ::1), an IPv4-mapped IPv6 address is its IPv4 address, and
 * `localhost` stands for both loopback addresses, since it resolves to
 * either. Other names are compared as names (no DNS here: this module does
 * no I/O).
 */
export function endpointKeys(a: Address): string[] {
  let host = a.host.toLowerCase().replace(/\.$/, '');
  if (LOOPBACK_NAMES.has(host)) return [`127.0.0.1:${a.port}`, `[::1]:${a.port}`];
  try {
    host = new URL(`http://${a.host.includes(':') ? `[${a.host}]` : a.host}/`).hostname.replace(/\.$/, '');
  } catch {
    // Not something URL reads as a host: compare it as written.
  }
  const mapped = /^\[::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})\]$/.exec(host);
  if (mapped) {
    const [hi, lo] = [parseInt(mapped[1]!, 16), parseInt(mapped[2]!, 16)];
    host = `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  }
  return [`${host}:${a.port}`];
}

const ADDRESS_EXPECTED = 'expected "host:port" (a host name, IPv4 address or [IPv6] address, and a port from 1 to 65535)';
const address = z.string().refine((s) => parseAddress(s) !== null, { message: ADDRESS_EXPECTED });

/** The admin/metrics HTTP port is the host's port plus this unless the host names its own. */
export const ADMIN_PORT_OFFSET = 1000;

/** The largest host id a frame header can carry (an unsigned 32-bit integer). */
export const MAX_HOST_ID = 0xffffffff;
const HOST_ID_EXPECTED = `expected a host id from 1 to ${MAX_HOST_ID} (the wire carries it in 32 bits)`;

const hostSchema = z
  .object({
    // Frames carry the sender's id in 32 bits (frame.ts), so a larger id could never be told apart.
    id: z.number().int().min(1, { message: HOST_ID_EXPECTED }).max(MAX_HOST_ID, { message: HOST_ID_EXPECTED }),
    /** Where peers reach this host's Raft and page traffic (TCP). */
    address,
    /** HTTP admin and metrics (default: the same host, port + 1000). */
    admin: address.optional(),
    /** This host's data directory (default: <dataDir>/host-<id>). */
    dataDir: z.string().min(1).optional(),
  })
  .strict();

/** Paths of the TLS files; "{id}" in cert and key stands for the host's id (relative: from the cluster file's folder). */
const tlsSchema = z
  .object({
    /** The cluster's certificate authority: peers must present a certificate it signed. */
    ca: z.string().min(1),
    cert: z.string().min(1),
    key: z.string().min(1),
  })
  .strict();

const isPowerOfTwo = (n: number): boolean => n > 0 && (n & (n - 1)) === 0;

const runSchema = z
  .object({
    /** A run ends this many seconds after its host started, with its verdict or without one (exit 4); `serve --deadline` overrides it. */
    deadlineS: z.number().positive().optional(),
    /** A host not reached this long, while its share of a run is unfinished, is gone: the run's barrier gives up on it. */
    hostGoneS: z.number().positive().default(30),
  })
  .strict();

export const clusterSchema = z
  .object({
    name: z.string().min(1),
    description: z.string().default(''),
    /** Sent in every connection handshake, so hosts of different clusters never talk. */
    id: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, {
      message: 'expected a cluster id of letters, digits, ".", "_" and "-", starting with a letter or digit',
    }),
    hosts: z.array(hostSchema).min(1),
    // heap, replication, leases and memoryLimitPages: the same settings as a scenario's dsm block.
    ...memorySettingsShape,
    raft: raftSettingsSchema().prefault({}),
    /** Application runs (`serve --workload` or `--app`) on this cluster. */
    run: runSchema.prefault({}),
    /** Where hosts keep their Raft store (relative paths: from the cluster file's folder). */
    dataDir: z.string().min(1).default('./data'),
    /** Mutual TLS between hosts (see src/real/tls.ts); `gallocy certs` writes the files. */
    tls: tlsSchema.optional(),
    /** Hosts talk plain TCP, unauthenticated: anyone who reaches a port can forge messages. Only with no tls section. */
    insecurePlainTcp: z.literal(true).optional(),
    /** The transport's limits on inbound connections (src/real/transport.ts, DEFAULT_LIMITS); omitted ones take defaults. */
    limits: z
      .object({
        connectionsPerSource: z.number().int().positive(),
        connections: z.number().int().positive(),
        handshakeMs: z.number().int().positive(),
        frameDeadlineMs: z.number().int().positive(),
        idleMs: z.number().int().positive(),
        bufferedBytes: z.number().int().positive(),
      })
      .partial()
      .strict()
      .optional(),
    /** A file holding the bearer token /admin and /metrics require (relative: from the cluster file's folder). */
    adminToken: z.string().min(1).optional(),
  })
  .strict()
  .superRefine((c, ctx) => {
    // Real pages are protected with mprotect, so a heap page is a whole number of OS pages.
    if (c.heap.pageSize < 4096 || !isPowerOfTwo(c.heap.pageSize)) {
      ctx.addIssue({ code: 'custom', path: ['heap', 'pageSize'], message: 'expected a power of two of at least 4096 (a whole number of 4096-byte OS pages)' });
    }
    if (c.tls !== undefined && c.insecurePlainTcp === true) {
      ctx.addIssue({ code: 'custom', path: ['insecurePlainTcp'], message: 'expected either a tls section or insecurePlainTcp: true, not both' });
    }
    const replication = replicationIssue(c, c.hosts.length);
    if (replication !== null) ctx.addIssue({ code: 'custom', path: ['replication'], message: replication });
    const ids = new Map<number, number>();
    // Every listening endpoint (peer address or admin) belongs to one host and one role.
    const endpoints = new Map<string, { field: string; spelled: string }>();
    const claim = (addr: Address, field: string, i: number, key: 'address' | 'admin'): void => {
      const keys = endpointKeys(addr);
      const spelled = `${addr.host.includes(':') ? `[${addr.host}]` : addr.host}:${addr.port}`;
      const prev = keys.map((k) => endpoints.get(k)).find((f) => f !== undefined);
      if (prev === undefined) {
        for (const k of keys) endpoints.set(k, { field, spelled });
        return;
      }
      const message = prev.spelled.toLowerCase() === spelled.toLowerCase()
        ? `expected a unique address, got "${spelled}" again (also ${prev.field})`
        : `expected a unique address, got "${spelled}", another spelling of ${prev.field} ("${prev.spelled}")`;
      ctx.addIssue({ code: 'custom', path: ['hosts', i, key], message });
    };
    c.hosts.forEach((h, i) => {
      const first = ids.get(h.id);
      if (first !== undefined) {
        ctx.addIssue({ code: 'custom', path: ['hosts', i, 'id'], message: `expected a unique host id, got ${h.id} again (also hosts[${first}].id)` });
      } else ids.set(h.id, i);
      // zod runs this even when an address failed its own check; those are reported already.
      const addr = parseAddress(h.address);
      if (addr === null) return;
      claim(addr, `hosts[${i}].address`, i, 'address');
      if (h.admin !== undefined) {
        const admin = parseAddress(h.admin);
        if (admin !== null) claim(admin, `hosts[${i}].admin`, i, 'admin');
      } else if (addr.port + ADMIN_PORT_OFFSET > 65535) {
        ctx.addIssue({
          code: 'custom', path: ['hosts', i, 'admin'],
          message: `expected an admin address: the default, port + ${ADMIN_PORT_OFFSET} = ${addr.port + ADMIN_PORT_OFFSET}, is above 65535`,
        });
      } else claim({ host: addr.host, port: addr.port + ADMIN_PORT_OFFSET }, `hosts[${i}].admin (default)`, i, 'admin');
    });
  });

/** The cluster file as written, defaults filled in. */
export type ClusterInput = z.infer<typeof clusterSchema>;

export interface ClusterHost {
  id: number;
  address: string;
  /** HTTP admin and metrics, "host:port" (defaulted). */
  admin: string;
  /** Absolute path of this host's data directory (defaulted and resolved). */
  dataDir: string;
}

/** A validated cluster with every default resolved: what `serve` runs from. */
export interface Cluster extends Omit<ClusterInput, 'hosts' | 'dataDir' | 'replication' | 'tls' | 'adminToken'> {
  /** Owners per company, defaulted to what the hosts can provide. */
  replication: number;
  /** Absolute path. */
  dataDir: string;
  /** In file order. */
  hosts: ClusterHost[];
  /** Absolute paths ("{id}" kept in cert and key: see tlsFilesOf); absent: no tls section. */
  tls?: TlsFiles;
  /** Absolute path. */
  adminToken?: string;
}

/** Where one host finds its TLS files (absolute paths). */
export interface TlsFiles {
  ca: string;
  cert: string;
  key: string;
}

/** Host `id`'s TLS files, "{id}" replaced; null if the cluster has no tls section. */
export function tlsFilesOf(cluster: Cluster, id: number): TlsFiles | null {
  const t = cluster.tls;
  if (t === undefined) return null;
  const ofHost = (p: string): string => p.replaceAll('{id}', String(id));
  return { ca: t.ca, cert: ofHost(t.cert), key: ofHost(t.key) };
}

/** Validates a parsed cluster file; issues name the field (a.b[2].c) and what was expected. */
export function validateCluster(value: unknown): { ok: true; cluster: ClusterInput } | { ok: false; issues: InputIssue[] } {
  const parsed = clusterSchema.safeParse(value);
  if (parsed.success) return { ok: true, cluster: parsed.data };
  return { ok: false, issues: issuesOf(parsed.error) };
}

/**
 * Fills in what hosts leave out: the admin address (same host, port + 1000)
 * and the data directory (<dataDir>/host-<id>). Relative paths are resolved
 * against `baseDir`, the cluster file's folder, so a file means the same
 * thing whatever directory `serve` is started from.
 */
export function resolveCluster(input: ClusterInput, baseDir: string): Cluster {
  const dataDir = path.resolve(baseDir, input.dataDir);
  const hosts = input.hosts.map((h): ClusterHost => {
    const addr = parseAddress(h.address);
    if (addr === null) throw new Error(`cluster: hosts id ${h.id}: address ${h.address} was not validated`);
    const host = addr.host.includes(':') ? `[${addr.host}]` : addr.host;
    return {
      id: h.id,
      address: h.address,
      admin: h.admin ?? `${host}:${addr.port + ADMIN_PORT_OFFSET}`,
      dataDir: h.dataDir !== undefined ? path.resolve(baseDir, h.dataDir) : path.join(dataDir, `host-${h.id}`),
    };
  });
  const { tls, adminToken, ...rest } = input;
  return {
    ...rest, dataDir, hosts, replication: replicationOf(input, hosts.length),
    ...(tls !== undefined ? { tls: { ca: path.resolve(baseDir, tls.ca), cert: path.resolve(baseDir, tls.cert), key: path.resolve(baseDir, tls.key) } } : {}),
    ...(adminToken !== undefined ? { adminToken: path.resolve(baseDir, adminToken) } : {}),
  };
}

/** The host with this id; an unknown id is bad input (a --host flag, say), named with the ids there are. */
export function hostById(cluster: Cluster, id: number): ClusterHost {
  const host = cluster.hosts.find((h) => h.id === id);
  if (host !== undefined) return host;
  throw new InputError(
    `unknown host id ${id} in cluster "${cluster.name}": expected one of ${cluster.hosts.map((h) => h.id).join(', ')}`,
  );
}
