// A scenario's dsm block and a cluster file hold the shared memory's settings
// in one type: the same defaults, the same bounds, the same messages, and the
// same VMM settings out of them.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { replicationOf, vmmConfigOf } from '../../src/host/config.js';
import { parseClusterText } from '../../src/real/cluster-file.js';
import { parseScenarioText } from '../../src/cli/scenario-file.js';
import { planCompanies } from '../../src/vmm/placement.js';

const cluster = (extra: string, hosts = 3): string => [
  'name: t', 'id: t-1', 'hosts:',
  ...Array.from({ length: hosts }, (_, i) => `  - { id: ${i + 1}, address: "127.0.0.1:${7101 + i}" }`),
  extra,
].join('\n');

const scenario = (dsm: string, hosts = 3): string => `name: s\ndurationS: 10\nhosts: ${hosts}\ndsm:\n${dsm}\n`;

function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
  return 'no error';
}

test('the same defaults in a scenario and a cluster file', () => {
  const c = parseClusterText(cluster(''), '/c.yaml');
  const s = parseScenarioText(scenario('  workload: counter'), '/s.yaml').base.dsm!;
  assert.equal(s.heap, c.heap);
  assert.equal(s.leases, c.leases);
  assert.is(replicationOf(s, 3), c.replication);
  const plans = planCompanies({ pages: c.heap.pages, owners: [1, 2, 3], replication: c.replication });
  assert.equal(vmmConfigOf(s, 2, plans), vmmConfigOf(c, 2, plans));
});

test('the same settings give the same VMM configuration', () => {
  const c = parseClusterText(cluster('heap: { pageSize: 8192, pages: 64 }\nleases: { leaseMs: 500, minHoldMs: 1 }\nreplication: 2'), '/c.yaml');
  const s = parseScenarioText(scenario('  heap: { pageSize: 8192, pages: 64 }\n  leases: { leaseMs: 500, minHoldMs: 1 }\n  replication: 2'), '/s.yaml').base.dsm!;
  const plans = planCompanies({ pages: 64, owners: [1, 2, 3], replication: 2 });
  const v = vmmConfigOf(s, 1, plans);
  assert.equal(v, vmmConfigOf(c, 1, plans));
  assert.is(v.leaseUs, 500_000);
  assert.is(v.minHoldUs, 1000);
});

test('the same bounds, named in each file', () => {
  const hold = 'leases: { leaseMs: 5, minHoldMs: 5 }';
  assert.match(errorOf(() => parseClusterText(cluster(hold), '/c.yaml')), '/c.yaml: field leases.minHoldMs: expected less than leaseMs (5)');
  assert.match(errorOf(() => parseScenarioText(scenario(`  ${hold}`), '/s.yaml')), '/s.yaml: field dsm.leases.minHoldMs: expected less than leaseMs (5)');
  const root = 'heap: { pages: 4, rootPages: 4 }';
  assert.match(errorOf(() => parseClusterText(cluster(root), '/c.yaml')), 'field heap.rootPages: expected fewer than pages (4)');
  assert.match(errorOf(() => parseScenarioText(scenario(`  ${root}`), '/s.yaml')), 'field dsm.heap.rootPages: expected fewer than pages (4)');
  assert.match(errorOf(() => parseClusterText(cluster('replication: 3', 2), '/c.yaml')), 'field replication: expected at most the number of hosts (2)');
  assert.match(errorOf(() => parseScenarioText(scenario('  replication: 3', 2), '/s.yaml')), 'field dsm.replication: expected at most the number of hosts (2)');
});

test('replication defaults to what the hosts can provide', () => {
  assert.is(parseClusterText(cluster('', 1), '/c.yaml').replication, 1);
  assert.is(parseClusterText(cluster('', 2), '/c.yaml').replication, 2);
  assert.is(parseClusterText(cluster('', 5), '/c.yaml').replication, 3);
  assert.is(replicationOf(parseScenarioText(scenario('  workload: counter', 1), '/s.yaml').base.dsm!, 1), 1);
});

test('only real hosts need whole OS pages', () => {
  assert.is(parseScenarioText(scenario('  heap: { pageSize: 256, pages: 64 }'), '/s.yaml').base.dsm!.heap.pageSize, 256);
  assert.match(errorOf(() => parseClusterText(cluster('heap: { pageSize: 256 }'), '/c.yaml')), 'field heap.pageSize: expected a power of two of at least 4096');
});

test('the coherence model: sequential by default, release on request, anything else named', () => {
  const plans = planCompanies({ pages: 1024, owners: [1, 2, 3], replication: 3 });
  assert.is(vmmConfigOf(parseClusterText(cluster(''), '/c.yaml'), 1, plans).coherence, undefined);
  const c = parseClusterText(cluster('coherence: release'), '/c.yaml');
  const s = parseScenarioText(scenario('  coherence: release'), '/s.yaml').base.dsm!;
  assert.is(vmmConfigOf(c, 1, plans).coherence, 'release');
  assert.equal(vmmConfigOf(s, 1, plans), vmmConfigOf(c, 1, plans));
  assert.match(errorOf(() => parseClusterText(cluster('coherence: lazy'), '/c.yaml')), "/c.yaml: field coherence: expected one of 'sequential', 'release'");
  assert.match(errorOf(() => parseScenarioText(scenario('  coherence: 3'), '/s.yaml')), "/s.yaml: field dsm.coherence: expected one of 'sequential', 'release'");
});

test.run();
