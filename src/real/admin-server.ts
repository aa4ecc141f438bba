// The HTTP admin endpoint of one host: GET /admin (status JSON, read by
// `gallocy status`), GET /metrics (Prometheus) and GET /healthz. It only
// reads; nothing here can change the host, but for POST /debug/stall, which
// exists only on a host started for tests of a stuck event loop (and is
// refused on any other). A failing handler answers 500 and is logged, never
// thrown: the admin port must not be a way to crash a host.
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { HostStatus } from './host-status.js';
import type { HostMetrics } from './metrics.js';

export interface AdminServerOptions {
  host: string;
  /** 0: any free port (tests); the bound one is in the result's address. */
  port: number;
  status: () => HostStatus;
  metrics: HostMetrics;
  log?: (event: string, fields: object) => void;
  /** What the debug endpoints do; absent (the default), they are refused. */
  debug?: DebugHooks;
  /** If set, every route but /healthz requires `Authorization: Bearer <token>`. */
  token?: string;
  /** GET /clock: this host's id and monotonic clock, for the other hosts' clock offsets (clock-map.ts). */
  clock?: () => { host: number; monoUs: number };
}

/** The longest stall POST /debug/stall accepts. */
export const MAX_STALL_MS = 60_000;

/** `gallocy serve` offers the debug endpoints only when this is set to 1 in its environment. */
export const DEBUG_STALL_ENV = 'GALLOCY_DEBUG_STALL';

export interface DebugHooks {
  /**
   * Keeps the main thread busy for ms (not one event loop turn meanwhile);
   * deadlines false: with page deadlines suspended meanwhile (the bug they
   * fix, planted). Returns when the stall began and ended, wall-clock µs.
   */
  stall(ms: number, deadlines: boolean): { startedAtUs: number; endedAtUs: number };
}

export interface AdminServer {
  address: { host: string; port: number };
  /** Stops listening and drops open (keep-alive) connections. */
  close(): Promise<void>;
}

const ROUTES = new Set(['/admin', '/metrics', '/healthz', '/clock']);
const STALL = '/debug/stall';

/** ms and deadlines of POST /debug/stall?ms=N[&deadlines=on|off], or what is wrong with them. */
export function stallQuery(q: URLSearchParams): { ms: number; deadlines: boolean } | { error: string } {
  const ms = q.get('ms');
  if (ms === null || !/^\d+$/.test(ms) || Number(ms) < 1 || Number(ms) > MAX_STALL_MS) {
    return { error: `ms: expected an integer from 1 to ${MAX_STALL_MS} (milliseconds), got ${ms === null ? 'nothing' : `"${ms}"`}` };
  }
  const deadlines = q.get('deadlines') ?? 'on';
  if (deadlines !== 'on' && deadlines !== 'off') return { error: `deadlines: expected on or off, got "${deadlines}"` };
  return { ms: Number(ms), deadlines: deadlines === 'on' };
}

export async function startAdminServer(opts: AdminServerOptions): Promise<AdminServer> {
  const log = opts.log ?? (() => {});

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    // Only the path routes; a query string (cache busting) is ignored.
    const url = new URL(req.url ?? '/', 'http://admin');
    const path = url.pathname;
    if (path !== '/healthz' && !authorized(req, opts.token)) {
      res.setHeader('WWW-Authenticate', 'Bearer');
      return sendJson(res, 401, { error: `${path} needs Authorization: Bearer <token> (the cluster file's adminToken file)` });
    }
    if (path === STALL) return debugStall(req, res, url.searchParams);
    if (!ROUTES.has(path)) return sendJson(res, 404, { error: `not found: ${path} (try /admin, /metrics or /healthz)` });
    if (req.method !== 'GET') {
      res.setHeader('Allow', 'GET');
      return sendJson(res, 405, { error: `method ${req.method ?? '?'} not allowed on ${path}: only GET` });
    }
    try {
      if (path === '/admin') return sendJson(res, 200, opts.status());
      if (path === '/clock') {
        if (opts.clock === undefined) return sendJson(res, 404, { error: 'not found: /clock (this server keeps no clock)' });
        return sendJson(res, 200, opts.clock());
      }
      if (path === '/metrics') return send(res, 200, opts.metrics.contentType, await opts.metrics.text());
      return send(res, 200, 'text/plain; charset=utf-8', 'ok');
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      log('admin-error', { path, error });
      if (!res.headersSent) sendJson(res, 500, { error: `${path} failed: ${error}` });
      else res.destroy();
    }
  };

  const debugStall = (req: IncomingMessage, res: ServerResponse, q: URLSearchParams): void => {
    const debug = opts.debug;
    if (debug === undefined) return sendJson(res, 403, { error: `${STALL} is off on this host: it is only for tests, on a host started with ${DEBUG_STALL_ENV}=1` });
    if (req.method !== 'POST') {
      res.setHeader('Allow', 'POST');
      return sendJson(res, 405, { error: `method ${req.method ?? '?'} not allowed on ${STALL}: only POST` });
    }
    const asked = stallQuery(q);
    if ('error' in asked) return sendJson(res, 400, { error: `${STALL}: ${asked.error}` });
    log('debug-stall', { ms: asked.ms, deadlines: asked.deadlines ? 'on' : 'off' });
    // The answer goes once the stall is over: whoever asked knows it ended.
    sendJson(res, 200, { ms: asked.ms, deadlines: asked.deadlines ? 'on' : 'off', ...debug.stall(asked.ms, asked.deadlines) });
  };

  const server = createServer((req, res) => {
    // handle() catches its own errors; this catch is for a bug in that catch, so it still cannot crash the host.
    handle(req, res).catch((err: unknown) => {
      log('admin-error', { error: err instanceof Error ? err.message : String(err) });
      res.destroy();
    });
  });
  // A malformed request from a client must not surface as an uncaught error.
  server.on('clientError', (_err, socket) => socket.destroy());

  const where = `${opts.host.includes(':') ? `[${opts.host}]` : opts.host}:${opts.port}`;
  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      reject(new Error(`admin server: cannot listen on ${where}: ${err.code ?? err.message}`, { cause: err }));
    };
    server.once('error', onError);
    server.listen(opts.port, opts.host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  // After listening, a server error (EMFILE on accept) is logged, not thrown.
  server.on('error', (err) => log('admin-server-error', { error: err.message }));

  const bound = server.address() as AddressInfo;
  const address = { host: opts.host, port: bound.port };
  // "host" is the logger's own field (the host id): the address goes as one string.
  log('admin-listening', { address: `${address.host}:${address.port}` });

  return {
    address,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        // Clients such as fetch keep connections alive; without this close() waits for them to time out.
        server.closeAllConnections();
      }),
  };
}

/** True without a token, or if the request carries it; compared in constant time, so timing tells nothing of it. */
function authorized(req: IncomingMessage, token: string | undefined): boolean {
  if (token === undefined) return true;
  const m = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '');
  if (m === null) return false;
  const given = createHash('sha256').update(m[1]!).digest();
  return timingSafeEqual(given, createHash('sha256').update(token).digest());
}

function send(res: ServerResponse, code: number, contentType: string, body: string): void {
  res.writeHead(code, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

function sendJson(res: ServerResponse, code: number, value: unknown): void {
  send(res, code, 'application/json; charset=utf-8', `${JSON.stringify(value)}\n`);
}
