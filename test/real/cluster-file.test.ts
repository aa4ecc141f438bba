// Cluster files: the shipped examples validate and resolve as documented, and
// each kind of bad input fails with an InputError naming the file, the field
// and what was expected.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { inputError } from '../input/input-error.js';
import { findRepoRoot } from '../../src/cli/repo-root.js';
import { hostById, parseAddress } from '../../src/real/cluster.js';
import { loadCluster, parseClusterText } from '../../src/real/cluster-file.js';

const clustersDir = path.join(findRepoRoot(), 'clusters');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'gallocy-cluster-'));
const FILE = path.join(tmp, 'c.yaml');


const GOOD = `name: t
id: t-1
hosts:
  - id: 1
    address: 127.0.0.1:7001
  - id: 2
    address: 127.0.0.1:7002
  - id: 3
    address: localhost:7003
`;

/** The message for `text`, which must fail; each line must name the file. */
function errorFor(text: string): string {
  const msg = inputError(() => parseClusterText(text, FILE)).message;
  for (const line of msg.split('\n')) assert.ok(line.startsWith(FILE), `line does not name the file: ${line}`);
  return msg;
}

test('every file in clusters/ validates, is named after its file and has a comment header', () => {
  const files = readdirSync(clustersDir).filter((f) => f.endsWith('.yaml')).sort();
  assert.equal(files, ['example-3-machines.yaml', 'local-1.yaml', 'local-3.yaml']);
  for (const f of files) {
    const { cluster, file } = loadCluster(path.join(clustersDir, f));
    assert.is(file, path.join(clustersDir, f));
    assert.is(cluster.name, f.replace(/\.yaml$/, ''));
    // Each is named after its number of hosts.
    assert.is(cluster.hosts.length, Number(/-(\d+)/.exec(f)![1]));
    assert.match(readFileSync(file, 'utf8'), /^# /);
  }
});

test('local-1: one host on 127.0.0.1, replication 1 without naming it', () => {
  const { cluster, file } = loadCluster(path.join(clustersDir, 'local-1.yaml'));
  assert.not.match(readFileSync(file, 'utf8'), /^replication:/m);
  assert.is(cluster.replication, 1);
  assert.equal(cluster.hosts, [{ id: 1, address: '127.0.0.1:7201', admin: '127.0.0.1:8201', dataDir: path.join(clustersDir, 'state', 'local-1', 'data', 'host-1') }]);
});

test('local-3: three hosts on 127.0.0.1 with admin on port + 1000', () => {
  const { cluster } = loadCluster(path.join(clustersDir, 'local-3.yaml'));
  assert.equal(cluster.hosts.map((h) => parseAddress(h.address)?.host), ['127.0.0.1', '127.0.0.1', '127.0.0.1']);
  assert.equal(cluster.hosts.map((h) => h.admin), ['127.0.0.1:8101', '127.0.0.1:8102', '127.0.0.1:8103']);
  assert.equal(cluster.hosts.map((h) => h.dataDir), [1, 2, 3].map((i) => path.join(clustersDir, 'state', 'local-3', 'data', `host-${i}`)));
  assert.is(cluster.replication, 3);
  assert.is(cluster.heap.pageSize, 4096);
});

test('example-3-machines: explicit admin addresses, defaults for what it leaves out', () => {
  const { cluster } = loadCluster(path.join(clustersDir, 'example-3-machines.yaml'));
  assert.is(cluster.id, 'prod-east-1');
  assert.is(hostById(cluster, 2).admin, '10.0.0.12:9100');
  assert.is(hostById(cluster, 3).dataDir, '/var/lib/gallocy/host-3');
  assert.is(cluster.raft.preVote, true); // not in the file: the default
  assert.is(cluster.raft.snapshotEveryEntries, 1000);
  assert.is(cluster.raft.electionTicks, 20);
});

test('defaults, and relative data directories resolved against the file\'s folder, not the working directory', () => {
  const dir = path.join(tmp, 'conf');
  mkdirSync(dir);
  const file = path.join(dir, 'x.yaml');
  writeFileSync(file, `${GOOD}  - id: 9\n    address: "[::1]:7009"\n    dataDir: ../elsewhere/nine\n`);
  const { cluster } = loadCluster(path.relative(process.cwd(), file));
  assert.is(cluster.dataDir, path.join(dir, 'data'));
  assert.is(hostById(cluster, 1).dataDir, path.join(dir, 'data', 'host-1'));
  assert.is(hostById(cluster, 9).dataDir, path.join(tmp, 'elsewhere', 'nine'));
  assert.is(hostById(cluster, 9).admin, '[::1]:8009');
  assert.is(hostById(cluster, 3).admin, 'localhost:8003');
  assert.equal(cluster.heap, { pageSize: 4096, pages: 1024, rootPages: 4 });
  assert.equal(cluster.leases, { leaseMs: 1000, driftBoundPpm: 1000, retryMs: 50, minHoldMs: 2 });
  assert.equal(cluster.raft, { tickMs: 100, electionTicks: 10, heartbeatTicks: 1, preVote: true, checkQuorum: true, snapshotEveryEntries: 1000, maxEntriesPerMsg: 64 });
  assert.is(cluster.description, '');
  // Defaults are fresh objects: changing one cluster cannot leak into the next.
  cluster.raft.tickMs = 1;
  assert.is(parseClusterText(GOOD, FILE).raft.tickMs, 100);
});

test('hostById names the ids there are when the id is unknown', () => {
  const cluster = parseClusterText(GOOD, FILE);
  assert.is(hostById(cluster, 2).address, '127.0.0.1:7002');
  const err = inputError(() => hostById(cluster, 4));
  assert.match(err.message, 'unknown host id 4 in cluster "t": expected one of 1, 2, 3');
  assert.is(err.exitCode, 2);
});

test('parseAddress takes host:port forms and refuses the rest', () => {
  assert.equal(parseAddress('10.0.0.1:7000'), { host: '10.0.0.1', port: 7000 });
  assert.equal(parseAddress('db-1.example.org:1'), { host: 'db-1.example.org', port: 1 });
  assert.equal(parseAddress('[fe80::1]:65535'), { host: 'fe80::1', port: 65535 });
  for (const bad of ['10.0.0.1', '10.0.0.1:0', 'h:65536', ':7000', 'h:70a', 'a b:1', '-h:1', 'h.:1', '::1:7000', 'http://h:1']) {
    assert.is(parseAddress(bad), null, bad);
  }
});

test('a missing field names it and what was expected', () => {
  const msg = errorFor(GOOD.replace('id: t-1\n', ''));
  assert.match(msg, `${FILE}: field id: expected string, received undefined`);
  const host = errorFor(GOOD.replace('    address: 127.0.0.1:7002\n', ''));
  assert.match(host, `${FILE}: field hosts[1].address: expected string, received undefined (line 6)`);
});

test('a wrong type names the field, the type expected and the line', () => {
  const msg = errorFor(GOOD.replace('  - id: 2\n', '  - id: two\n'));
  assert.match(msg, `${FILE}: field hosts[1].id: expected number, received string (line 6)`);
  const raft = errorFor(`${GOOD}raft:\n  preVote: "yes"\n`);
  assert.match(raft, `${FILE}: field raft.preVote: expected boolean, received string (line 11)`);
  const hosts = errorFor(GOOD.replace(/hosts:[\s\S]*/, 'hosts: 3\n'));
  assert.match(hosts, `${FILE}: field hosts: expected array, received number (line 3)`);
});

test('a duplicate host id is refused at the second one', () => {
  const msg = errorFor(GOOD.replace('  - id: 3\n', '  - id: 1\n'));
  assert.match(msg, `${FILE}: field hosts[2].id: expected a unique host id, got 1 again (also hosts[0].id) (line 8)`);
});

test('a duplicate address is refused, also against an admin address or a default admin port', () => {
  const msg = errorFor(GOOD.replace('127.0.0.1:7002', '127.0.0.1:7001'));
  assert.match(msg, `${FILE}: field hosts[1].address: expected a unique address, got "127.0.0.1:7001" again (also hosts[0].address)`);
  // Host names compare without case: LOCALHOST and localhost are one endpoint.
  const caseMsg = errorFor(`${GOOD}  - id: 4\n    address: LOCALHOST:7003\n`);
  assert.match(caseMsg, `${FILE}: field hosts[3].address: expected a unique address, got "LOCALHOST:7003" again (also hosts[2].address)`);
  // Host 2's default admin port (8001 + ...) collides with host 1's peer port.
  const admin = errorFor(GOOD.replace('127.0.0.1:7002', '127.0.0.1:6001'));
  assert.match(admin, `${FILE}: field hosts[1].admin: expected a unique address, got "127.0.0.1:7001" again (also hosts[0].address)`);
  const high = errorFor(GOOD.replace('127.0.0.1:7002', '127.0.0.1:65000'));
  assert.match(high, `${FILE}: field hosts[1].admin: expected an admin address: the default, port + 1000 = 66000, is above 65535`);
});

test('two spellings of one endpoint are refused: localhost and 127.0.0.1, short and long IPv4 and IPv6 forms', () => {
  const alias = (a: string, b: string): string => errorFor(GOOD.replace('127.0.0.1:7001', a).replace('127.0.0.1:7002', b));
  assert.match(alias('127.0.0.1:7001', 'localhost:7001'), `${FILE}: field hosts[1].address: expected a unique address, got "localhost:7001", another spelling of hosts[0].address ("127.0.0.1:7001") (line 7)`);
  assert.match(alias('localhost:7001', '127.0.0.1:7001'), 'another spelling of hosts[0].address ("localhost:7001")');
  assert.match(alias('localhost:7001', '"[::1]:7001"'), 'another spelling of hosts[0].address ("localhost:7001")');
  assert.match(alias('127.0.0.1:7001', '127.1:7001'), 'got "127.1:7001", another spelling of hosts[0].address');
  assert.match(alias('127.0.0.1:7001', '127.000.000.001:7001'), 'another spelling of hosts[0].address');
  assert.match(alias('"[::1]:7001"', '"[0:0:0:0:0:0:0:1]:7001"'), 'got "[0:0:0:0:0:0:0:1]:7001", another spelling of hosts[0].address ("[::1]:7001")');
  assert.match(alias('127.0.0.1:7001', '"[::ffff:127.0.0.1]:7001"'), 'another spelling of hosts[0].address');
  // A peer port against another host's default admin port, through an alias.
  assert.match(errorFor(GOOD.replace('127.0.0.1:7002', 'localhost:8001')), `${FILE}: field hosts[1].address: expected a unique address, got "localhost:8001", another spelling of hosts[0].admin (default) ("127.0.0.1:8001")`);
  // Distinct loopback addresses and ports stay distinct.
  assert.is(parseClusterText(GOOD.replace('127.0.0.1:7002', '127.0.0.2:7001'), FILE).hosts.length, 3);
});

test('1- and 2-host files need no replication, and run with one company of all their hosts', () => {
  const one = parseClusterText('name: a\nid: a\nhosts:\n  - id: 1\n    address: 127.0.0.1:7001\n', FILE);
  assert.is(one.replication, 1);
  const two = parseClusterText('name: b\nid: b\nhosts:\n  - id: 1\n    address: 127.0.0.1:7001\n  - id: 2\n    address: 127.0.0.1:7002\n', FILE);
  assert.is(two.replication, 2);
  assert.match(errorFor('name: b\nid: b\nreplication: 3\nhosts:\n  - id: 1\n    address: 127.0.0.1:7001\n  - id: 2\n    address: 127.0.0.1:7002\n'), `${FILE}: field replication: expected at most the number of hosts (2)`);
});

test('a bad address format says what form was expected', () => {
  for (const bad of ['127.0.0.1', '127.0.0.1:99999', 'http://127.0.0.1:7002']) {
    const msg = errorFor(GOOD.replace('127.0.0.1:7002', bad));
    assert.match(msg, `${FILE}: field hosts[1].address: expected "host:port" (a host name, IPv4 address or [IPv6] address, and a port from 1 to 65535) (line 7)`, bad);
  }
  const admin = errorFor(GOOD.replace('    address: 127.0.0.1:7002\n', '    address: 127.0.0.1:7002\n    admin: 8002\n'));
  assert.match(admin, `${FILE}: field hosts[1].admin: expected string, received number`);
});

test('an unknown key is named as the field, at any depth', () => {
  assert.match(errorFor(`${GOOD}replicas: 3\n`), `${FILE}: field replicas: expected a known field, got unrecognized key "replicas" (line 10)`);
  assert.match(
    errorFor(GOOD.replace('  - id: 2\n', '  - id: 2\n    port: 7\n')),
    `${FILE}: field hosts[1].port: expected a known field, got unrecognized key "port" (line 7)`,
  );
  assert.match(errorFor(`${GOOD}raft:\n  electionTick: 10\n`), `${FILE}: field raft.electionTick: expected a known field, got unrecognized key "electionTick"`);
});

test('range and cross-field rules name the field and the limit', () => {
  assert.match(errorFor(`${GOOD}heap:\n  pageSize: 6144\n`), `${FILE}: field heap.pageSize: expected a power of two`);
  assert.match(errorFor(`${GOOD}heap:\n  pageSize: 1024\n`), `${FILE}: field heap.pageSize: expected a power of two of at least 4096`);
  assert.match(errorFor(`${GOOD}heap:\n  pages: 8\n  rootPages: 8\n`), `${FILE}: field heap.rootPages: expected fewer than pages (8)`);
  assert.match(errorFor(`${GOOD}replication: 4\n`), `${FILE}: field replication: expected at most the number of hosts (3)`);
  assert.match(errorFor(`${GOOD}raft:\n  heartbeatTicks: 10\n`), `${FILE}: field raft.heartbeatTicks: expected fewer than electionTicks (10)`);
  assert.match(errorFor(GOOD.replace(/hosts:[\s\S]*/, 'hosts: []\n')), `${FILE}: field hosts: expected array to have >=1 items`);
  assert.match(errorFor(GOOD.replace('id: t-1', 'id: "t 1"')), `${FILE}: field id: expected a cluster id of letters`);
  assert.match(errorFor(GOOD.replace('  - id: 1\n', '  - id: 0\n')), `${FILE}: field hosts[0].id: expected a host id from 1 to 4294967295 (the wire carries it in 32 bits)`);
  // One past what a frame header's 32 bits carry: refused here, not by serve at its first frame.
  assert.match(errorFor(GOOD.replace('  - id: 1\n', '  - id: 4294967296\n')), `${FILE}: field hosts[0].id: expected a host id from 1 to 4294967295 (the wire carries it in 32 bits) (line 4)`);
  assert.is(parseClusterText(GOOD.replace('  - id: 1\n', '  - id: 4294967295\n'), FILE).hosts[0]!.id, 4294967295);
});

test('a YAML syntax error gives the file, line and column', () => {
  const msg = errorFor(`${GOOD}heap: [1, 2\n`);
  assert.match(msg, new RegExp(`^${FILE.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+:\\d+: YAML syntax error \\(line \\d+, column \\d+\\): `));
  assert.is(errorFor('name: t\nid: x\n\tbad: 1\n'), `${FILE}:3:1: YAML syntax error (line 3, column 1): Tabs are not allowed as indentation`);
  assert.match(errorFor('name: t\nid: x\nhosts:\n  - id: 1\n     address: a:1\n'), `${FILE}:4:9: YAML syntax error (line 4, column 9): `);
  assert.match(errorFor(`${GOOD}name: again\n`), /YAML syntax error \(line 10, column 1\): Map keys must be unique/);
});

test('an empty file or a missing file is bad input too', () => {
  assert.match(errorFor(''), `${FILE}: field (top level): expected object, received null`);
  const missing = path.join(tmp, 'nope.yaml');
  const err = inputError(() => loadCluster(missing));
  assert.is(err.message, `${missing}: cannot read cluster file: no such file`);
});

test.after(() => rmSync(tmp, { recursive: true, force: true }));

test.run();
