// The heap's geometry, recorded in a host's data directory at its first start
// and checked at every later one. The Raft store holds page contents and page
// tables laid out by page size, page count and companies; read under another
// geometry they would be misread silently (a page of 4096 bytes taken for one
// of 8192, page 300 of a company that now ends at 255). So a changed
// `heap` or `replication` on an existing data directory is refused, naming
// each field that differs, rather than adopted.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { CompanyPlan } from '../vmm/placement.js';
import type { Cluster } from './cluster.js';

export const GEOMETRY_FILE = 'geometry.json';

export interface Geometry {
  pageSize: number;
  pages: number;
  rootPages: number;
  replication: number;
  /** Each company's page range and owners, as planCompanies laid them out. */
  companies: { company: number; firstPage: number; pages: number; members: number[] }[];
}

export function geometryOf(cluster: Cluster, plans: readonly CompanyPlan[]): Geometry {
  const { pageSize, pages, rootPages } = cluster.heap;
  return {
    pageSize, pages, rootPages, replication: cluster.replication,
    companies: plans.map((p) => ({ company: p.company, firstPage: p.firstPage, pages: p.pages, members: [...p.members] })),
  };
}

/** What differs between the recorded geometry and the cluster file's, one phrase per field. */
export function geometryDifferences(recorded: Geometry, now: Geometry): string[] {
  const out: string[] = [];
  for (const k of ['pageSize', 'pages', 'rootPages', 'replication'] as const) {
    if (recorded[k] !== now[k]) out.push(`${k === 'replication' ? 'replication' : `heap.${k}`} was ${recorded[k]}, the cluster file says ${now[k]}`);
  }
  const show = (g: Geometry): string => JSON.stringify(g.companies.map((c) => [c.company, c.firstPage, c.pages, c.members]));
  if (out.length === 0 && show(recorded) !== show(now)) {
    out.push(`the companies (company, first page, pages, owners) were ${show(recorded)}, the cluster file makes them ${show(now)} (were hosts added or removed?)`);
  }
  return out;
}

/**
 * Records the geometry in `dir` if it has none yet, else throws unless the
 * recorded one is the same. Call once the directory is known to be this host's.
 */
export function checkGeometry(dir: string, now: Geometry): void {
  const file = path.join(dir, GEOMETRY_FILE);
  if (!existsSync(file)) {
    writeFileSync(file, `${JSON.stringify(now)}\n`);
    return;
  }
  let recorded: Geometry;
  try {
    recorded = JSON.parse(readFileSync(file, 'utf8')) as Geometry;
    if (typeof recorded !== 'object' || recorded === null || !Array.isArray(recorded.companies)) throw new Error('not a geometry object');
  } catch (err) {
    throw new Error(`${file}: unreadable (${err instanceof Error ? err.message : String(err)}); it records the heap geometry this data directory was made with`);
  }
  const diff = geometryDifferences(recorded, now);
  if (diff.length > 0) {
    throw new Error(`data directory ${dir} was made with another heap geometry: ${diff.join('; ')}. Its pages cannot be read under the new one: restore the old settings, or use another dataDir (or delete it) to start this host empty`);
  }
}
