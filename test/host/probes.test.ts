// The tables of fault points and coverage probes against the code: every
// declared name is used somewhere in src (a probe no code reaches is a dead
// row), every name the code uses is declared, and each layer's ids are the
// rows' positions in the one table.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { findRepoRoot } from '../../src/cli/repo-root.js';
import { FAULT_POINTS, HostPoint } from '../../src/host/fault-points.js';
import { HostProbe, PROBES, probeCounts } from '../../src/host/probes.js';
import { inertFaultPoints, RaftPoint, RaftProbe } from '../../src/raft/index.js';
import { VmmPoint, VmmProbe } from '../../src/vmm/fault-points.js';
import { codeOnly, tsFiles } from '../lint/source.js';

const ID_TABLES = { RaftProbe, VmmProbe, HostProbe, RaftPoint, VmmPoint, HostPoint } as const;
type IdTable = keyof typeof ID_TABLES;

const kebab = (key: string): string => key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

/** Every `Table.key` the sources use, as "Table.key". */
export function referencedIds(sources: readonly string[]): Set<string> {
  const re = new RegExp(`\\b(${Object.keys(ID_TABLES).join('|')})\\.(\\w+)`, 'g');
  const out = new Set<string>();
  for (const src of sources) for (const m of codeOnly(src).matchAll(re)) out.add(`${m[1]}.${m[2]}`);
  return out;
}

/** Declared keys no source uses, and used keys no table declares. */
export function tableMismatches(declared: Readonly<Record<string, Readonly<Record<string, number>>>>, used: Set<string>): { unused: string[]; undeclared: string[] } {
  const all = new Set(Object.entries(declared).flatMap(([t, ids]) => Object.keys(ids).map((k) => `${t}.${k}`)));
  return { unused: [...all].filter((k) => !used.has(k)).sort(), undeclared: [...used].filter((k) => !all.has(k)).sort() };
}

test('the cross-check finds a declared name no code uses, and a used name no table declares', () => {
  const declared = { RaftProbe: { snapshotInstalled: 0, neverUsed: 1 } };
  const used = referencedIds(['f.probe(RaftProbe.snapshotInstalled); f.probe(RaftProbe.typo);', '// RaftProbe.neverUsed in a comment does not count']);
  assert.equal(tableMismatches(declared, used), { unused: ['RaftProbe.neverUsed'], undeclared: ['RaftProbe.typo'] });
});

test('every declared fault point and probe is used in src, and every one used is declared', () => {
  // The declarations (their own files) do not count as uses.
  const sources = tsFiles(join(findRepoRoot(), 'src')).filter((f) => !f.endsWith('fault-points.ts') && !f.endsWith('probes.ts'));
  const used = referencedIds(sources.map((f) => readFileSync(f, 'utf8')));
  const { unused, undeclared } = tableMismatches(ID_TABLES, used);
  assert.equal(unused, [], `declared but reached by no code: ${unused.join(', ')}`);
  assert.equal(undeclared, [], `used but not declared: ${undeclared.join(', ')}`);
});

test("each layer's ids are its rows' positions in the one table, with the layer's name", () => {
  const check = (table: IdTable, rows: readonly { name: string }[], layer: string): void => {
    for (const [key, id] of Object.entries(ID_TABLES[table])) assert.is(rows[id]?.name, `${layer}.${kebab(key)}`, `${table}.${key} (id ${id})`);
  };
  check('RaftProbe', PROBES, 'raft');
  check('VmmProbe', PROBES, 'vmm');
  check('HostProbe', PROBES, 'host');
  check('RaftPoint', FAULT_POINTS, 'raft');
  check('VmmPoint', FAULT_POINTS, 'vmm');
  check('HostPoint', FAULT_POINTS, 'host');
  const ids = (t: readonly IdTable[]): number => t.reduce((n, k) => n + Object.keys(ID_TABLES[k]).length, 0);
  assert.is(PROBES.length, ids(['RaftProbe', 'VmmProbe', 'HostProbe']));
  assert.is(FAULT_POINTS.length, ids(['RaftPoint', 'VmmPoint', 'HostPoint']));
  assert.is(new Set(PROBES.map((p) => p.name)).size, PROBES.length, 'probe names are unique');
});

test('every row says what it means; fault points fire with a probability in (0, 1]', () => {
  for (const p of [...PROBES, ...FAULT_POINTS]) assert.ok(p.what.length > 20 && !p.what.includes('\n'), `${p.name}: a one-line description`);
  for (const p of FAULT_POINTS) assert.ok(p.fires > 0 && p.fires <= 1, `${p.name}: fires ${p.fires}`);
  assert.ok(PROBES.length >= 20 && PROBES.length <= 40, `about 20-40 probes, got ${PROBES.length}`);
});

test('the inert port never fires and counts nothing; counts by name cover every probe', () => {
  assert.ok(FAULT_POINTS.every((_, i) => !inertFaultPoints.buggify(i)));
  const counts = new Array<number>(PROBES.length).fill(0);
  counts[HostProbe.bootFailed] = 3;
  const named = probeCounts(counts);
  assert.equal(Object.keys(named), PROBES.map((p) => p.name));
  assert.is(named['host.boot-failed'], 3);
  assert.is(named['raft.snapshot-installed'], 0);
});

test.run();
