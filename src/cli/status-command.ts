// `gallocy status --cluster FILE`: asks every host of a cluster for its
// GET /admin, all at once, and prints one table row per host per Raft group
// plus a line per host for its pages and app. Fetching and formatting are
// apart so the formatting (a pure function of the results) is unit-tested
// without a network. Exit 0 only if every Raft group has a leader that a
// quorum of its members follows (cluster-health.ts): a host down is no fault
// while its groups keep their quorum. Exit 1 otherwise, with the groups and
// hosts at fault; a bad cluster file is an InputError from loadCluster (exit 2).
import { EXIT_CHECK_FAILED, EXIT_OK, InputError } from '../input/errors.js';
import { loadCluster } from '../real/cluster-file.js';
import { readAdminToken } from '../real/admin-token.js';
import { clusterHealth, formatHealth, type ClusterHealth } from '../real/cluster-health.js';
import type { AppStatus, GroupStatus, HostStatus } from '../real/host-status.js';

export interface StatusArgs {
  cluster: string;
  json: boolean;
  timeoutMs: number;
}

/** One host's answer; also the shape of each entry of `--json`. */
export interface HostResult {
  id: number;
  /** The admin address asked, "host:port". */
  admin: string;
  ok: boolean;
  /** Why the host is unreachable (only when !ok). */
  error?: string;
  status?: HostStatus;
}

export interface StatusReport {
  cluster: string;
  hosts: HostResult[];
  /** Absent only in reports built by hand (formatStatus then prints no verdict). */
  health?: ClusterHealth;
}

export async function statusCommand(args: StatusArgs, out: { log(s: string): void }): Promise<number> {
  if (!(args.timeoutMs > 0) || !Number.isFinite(args.timeoutMs)) {
    throw new InputError(`--timeout-ms: expected a number of milliseconds > 0, got ${args.timeoutMs}`);
  }
  const { cluster } = loadCluster(args.cluster);
  const token = cluster.adminToken !== undefined ? readAdminToken(cluster.adminToken) : undefined;
  const hosts = await Promise.all(cluster.hosts.map((h) => fetchHostStatus(h.id, h.admin, args.timeoutMs, token)));
  const health = clusterHealth(cluster, new Map(hosts.map((h) => [h.id, h.ok && h.status !== undefined ? h.status : null])));
  const report: StatusReport = { cluster: cluster.name, hosts, health };
  if (args.json) out.log(JSON.stringify(report));
  else for (const line of formatStatus(report)) out.log(line);
  return health.ok ? EXIT_OK : EXIT_CHECK_FAILED;
}

/** GET http://ADMIN/admin within timeoutMs; never throws: a failure is a result with the reason. */
export async function fetchHostStatus(id: number, admin: string, timeoutMs: number, token?: string): Promise<HostResult> {
  const fail = (error: string): HostResult => ({ id, admin, ok: false, error });
  let body: unknown;
  try {
    const headers: Record<string, string> = token !== undefined ? { authorization: `Bearer ${token}` } : {};
    const res = await fetch(`http://${admin}/admin`, { signal: AbortSignal.timeout(timeoutMs), headers });
    const text = await res.text();
    if (!res.ok) return fail(`HTTP ${res.status}: ${errorOf(text)}`);
    body = JSON.parse(text);
  } catch (err) {
    return fail(fetchError(err, timeoutMs));
  }
  if (!looksLikeStatus(body)) return fail('answered /admin, but not with a host status');
  // A wrong admin address in the cluster file would otherwise show another host's state under this id.
  if (body.host !== id) return fail(`answered as host ${body.host}, expected host ${id}`);
  return { id, admin, ok: true, status: body };
}

/** The report as text lines: a heading, one row per host per group, then one row per host. */
export function formatStatus(report: StatusReport): string[] {
  const up = report.hosts.filter((h) => h.ok).length;
  const lines = [`cluster ${report.cluster}: ${up} of ${report.hosts.length} hosts up`, ''];

  const groupRows: Row[] = [];
  const hostRows: Row[] = [];
  for (const h of report.hosts) {
    const id = String(h.id);
    if (!h.ok || h.status === undefined) {
      // The reason trails the row, outside the columns, so a long message does not widen the table.
      groupRows.push({ cells: [id, h.admin, 'unreachable'], tail: h.error ?? '' });
      hostRows.push({ cells: [id, 'unreachable', '-', '-', '-', '-'] });
      continue;
    }
    const s = h.status;
    if (s.groups.length === 0) groupRows.push({ cells: [id, h.admin, 'up', 'none'] });
    for (const g of s.groups) {
      groupRows.push({
        cells: [id, h.admin, 'up', groupName(g), g.role, String(g.term), g.lead === 0 ? '-' : String(g.lead), String(g.commit), String(g.applied), g.voters.join(',')],
      });
    }
    hostRows.push({
      cells: [id, 'up', formatUptime(s.uptimeSeconds), String(s.pagesHeld.read), String(s.pagesHeld.write), formatApp(s.app)],
    });
  }
  lines.push(...table(['HOST', 'ADMIN', 'STATE', 'GROUP', 'ROLE', 'TERM', 'LEAD', 'COMMIT', 'APPLIED', 'VOTERS'], groupRows));
  lines.push('');
  lines.push(...table(['HOST', 'STATE', 'UPTIME', 'READ PAGES', 'WRITE PAGES', 'APP'], hostRows));
  if (report.health !== undefined) lines.push('', ...formatHealth(report.health));
  return lines;
}

function groupName(g: GroupStatus): string {
  if (g.kind === 'registry') return 'registry';
  if (g.firstPage === undefined || g.pages === undefined) return `company ${g.group}`;
  return `company ${g.group} (pages ${g.firstPage}-${g.firstPage + g.pages - 1})`;
}

function formatApp(app: AppStatus | null): string {
  if (app === null) return 'none';
  let s = `${app.program}: ${app.state}, ${app.threadsDone}/${app.threads} threads done, ${app.ops} ops`;
  if (app.verified === true) s += ', verified';
  if (app.verified === false) s += ', verify FAILED';
  if (app.error !== null) s += `, error: ${app.error}`;
  if (app.waitingFor !== null) s += `, waiting for ${app.waitingFor}${app.waitingSince !== null ? ` since ${app.waitingSince}` : ''}`;
  return s;
}

/** 42 -> "42s", 3725 -> "1h02m", 90000 -> "1d01h": enough to tell a restarted host from a long-running one. */
export function formatUptime(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const two = (n: number): string => String(n).padStart(2, '0');
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${two(s % 60)}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${two(Math.floor(s / 60) % 60)}m`;
  return `${Math.floor(s / 86400)}d${two(Math.floor(s / 3600) % 24)}h`;
}

interface Row {
  cells: string[];
  /** Printed after the cells, unpadded and not counted in column widths. */
  tail?: string;
}

/** Left-aligned columns two spaces apart; rows may have fewer cells than the header. */
function table(header: string[], rows: Row[]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r.cells[i]?.length ?? 0)));
  const render = (cells: string[], tail?: string): string => {
    const parts = cells.map((c, i) => c.padEnd(widths[i] ?? 0));
    if (tail !== undefined && tail !== '') parts.push(tail);
    return parts.join('  ').trimEnd();
  };
  return [render(header), ...rows.map((r) => render(r.cells, r.tail))];
}

/** The `error` of a JSON error body (what the admin server sends), else the text itself, shortened. */
function errorOf(text: string): string {
  try {
    const v = JSON.parse(text) as unknown;
    if (typeof v === 'object' && v !== null && typeof (v as { error?: unknown }).error === 'string') return (v as { error: string }).error;
  } catch {
    // not JSON: show the text
  }
  const t = text.trim();
  return t.length > 200 ? `${t.slice(0, 200)}...` : t || '(empty body)';
}

/** fetch wraps the useful part ("connect ECONNREFUSED 127.0.0.1:8103") in a TypeError("fetch failed"). */
function fetchError(err: unknown, timeoutMs: number): string {
  if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')) return `no answer within ${timeoutMs} ms`;
  if (err instanceof SyntaxError) return `bad JSON from /admin: ${err.message}`;
  if (err instanceof Error) {
    const cause = err.cause as { message?: unknown; code?: unknown } | undefined;
    if (cause !== undefined && cause !== null) {
      if (typeof cause.message === 'string' && cause.message !== '') return cause.message;
      if (typeof cause.code === 'string') return cause.code;
    }
    return err.message;
  }
  return String(err);
}

/** Enough of the shape to format it; the admin server and this command share HostStatus, so this catches only strangers. */
function looksLikeStatus(v: unknown): v is HostStatus {
  if (typeof v !== 'object' || v === null) return false;
  const s = v as Partial<Record<keyof HostStatus, unknown>>;
  return typeof s.host === 'number' && Array.isArray(s.groups) && typeof s.pagesHeld === 'object' && s.pagesHeld !== null
    && typeof s.uptimeSeconds === 'number';
}
