// The files around mutual TLS: what `gallocy certs` writes (modes, reruns,
// a host added later), the checks a host makes of its own files at startup,
// the cluster file's tls / insecurePlainTcp / adminToken fields, and the
// admin server's bearer token.
import { copyFileSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { inputError } from '../input/input-error.js';
import { startAdminServer } from '../../src/real/admin-server.js';
import { adminTokenOf } from '../../src/real/admin-token.js';
import { CERT_FILES, writeClusterCerts } from '../../src/real/certs.js';
import { tlsFilesOf } from '../../src/real/cluster.js';
import { loadCluster, parseClusterText } from '../../src/real/cluster-file.js';
import { HostMetrics } from '../../src/real/metrics.js';
import type { HostStatus } from '../../src/real/host-status.js';
import { loadTlsMaterial } from '../../src/real/tls.js';
import { runCli } from './cluster-harness.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'gallocy-tls-files-'));
test.after(() => rmSync(tmp, { recursive: true, force: true }));

const hostsYaml = (n: number): string => Array.from({ length: n }, (_, i) => `  - id: ${i + 1}\n    address: 127.0.0.1:${17_100 + i}\n`).join('');
const TLS = 'tls:\n  ca: ./certs/ca.crt\n  cert: ./certs/host-{id}.crt\n  key: ./certs/host-{id}.key\nadminToken: ./certs/admin.token\n';

function clusterFile(dir: string, hosts: number, extra = TLS, id = 'files-1'): string {
  const file = path.join(dir, 'cluster.yaml');
  writeFileSync(file, `name: files\nid: ${id}\nhosts:\n${hostsYaml(hosts)}heap: { pageSize: 4096, pages: 64, rootPages: 4 }\n${extra}`);
  return file;
}

const mode = (f: string): number => statSync(f).mode & 0o777;

test('gallocy certs writes the authority, a key and certificate per host and a token; keys 0600, folder 0700; reruns keep them', async () => {
  const dir = mkdtempSync(path.join(tmp, 'c-'));
  const file = clusterFile(dir, 2);
  const first = await runCli(['certs', '--cluster', file, '--out', path.join(dir, 'certs')]);
  assert.is(first.code, 0, first.stderr);
  assert.match(first.stdout, /already points at these files/);
  const certs = path.join(dir, 'certs');
  assert.is(mode(certs), 0o700);
  for (const f of [CERT_FILES.caKey, CERT_FILES.hostKey(1), CERT_FILES.hostKey(2), CERT_FILES.adminToken]) assert.is(mode(path.join(certs, f)), 0o600, f);
  const cluster = loadCluster(file).cluster;
  for (const id of [1, 2]) loadTlsMaterial(tlsFilesOf(cluster, id)!, cluster.id, id);
  const before = readFileSync(path.join(certs, CERT_FILES.hostCert(1)), 'utf8');

  // A third host joins the file: only it gets a new certificate, from the same authority.
  clusterFile(dir, 3);
  const again = await writeClusterCerts(loadCluster(file).cluster, certs, dir);
  assert.equal(again.written.map((f) => path.basename(f)), ['host-3.crt', 'host-3.key']);
  assert.is(readFileSync(path.join(certs, CERT_FILES.hostCert(1)), 'utf8'), before);
  const grown = loadCluster(file).cluster;
  loadTlsMaterial(tlsFilesOf(grown, 3)!, grown.id, 3);
});

test('a host refuses to start on files that do not fit, naming the file', async () => {
  const dir = mkdtempSync(path.join(tmp, 'bad-'));
  const file = clusterFile(dir, 2);
  const c = loadCluster(file).cluster;
  await writeClusterCerts(c, path.join(dir, 'certs'), dir);
  const other = mkdtempSync(path.join(tmp, 'other-'));
  const otherCluster = loadCluster(clusterFile(other, 2)).cluster;
  await writeClusterCerts(otherCluster, path.join(other, 'certs'), other);
  const files = tlsFilesOf(c, 1)!;

  assert.match(inputError(() => loadTlsMaterial(files, c.id, 2)).message, /host-1\.crt: expected a certificate naming gallocy:\/\/cluster\/files-1\/host\/2/);
  assert.match(inputError(() => loadTlsMaterial(files, 'another-id', 1)).message, /naming gallocy:\/\/cluster\/another-id\/host\/1/);
  assert.match(inputError(() => loadTlsMaterial({ ...files, ca: path.join(other, 'certs', 'ca.crt') }, c.id, 1)).message, /host-1\.crt: not signed by the authority/);
  assert.match(inputError(() => loadTlsMaterial({ ...files, key: tlsFilesOf(c, 2)!.key }, c.id, 1)).message, /host-2\.key: not the private key of the certificate/);
  assert.match(inputError(() => loadTlsMaterial({ ...files, ca: files.cert }, c.id, 1)).message, /expected a certificate authority/);
  assert.match(inputError(() => loadTlsMaterial({ ...files, cert: path.join(dir, 'none.crt') }, c.id, 1)).message, /none\.crt: cannot read host 1's certificate \(ENOENT\)/);
  copyFileSync(file, path.join(dir, 'garbage.crt'));
  assert.match(inputError(() => loadTlsMaterial({ ...files, cert: path.join(dir, 'garbage.crt') }, c.id, 1)).message, /garbage\.crt: expected a certificate in PEM form/);
});

test('cluster file: tls paths resolve from its folder, {id} per host; tls and insecurePlainTcp together are refused', () => {
  const dir = mkdtempSync(path.join(tmp, 'f-'));
  const c = loadCluster(clusterFile(dir, 2)).cluster;
  assert.equal(tlsFilesOf(c, 2), { ca: path.join(dir, 'certs', 'ca.crt'), cert: path.join(dir, 'certs', 'host-2.crt'), key: path.join(dir, 'certs', 'host-2.key') });
  assert.is(c.adminToken, path.join(dir, 'certs', 'admin.token'));
  assert.is(tlsFilesOf(loadCluster(clusterFile(dir, 2, 'insecurePlainTcp: true\n')).cluster, 1), null);
  const both = path.join(dir, 'both.yaml');
  const msg = inputError(() => parseClusterText(`name: x\nid: x\nhosts:\n${hostsYaml(1)}${TLS}insecurePlainTcp: true\n`, both)).message;
  assert.match(msg, /insecurePlainTcp: expected either a tls section or insecurePlainTcp: true, not both/);
});

test('serve refuses, with exit 2, a cluster file with neither tls nor insecurePlainTcp, and a non-loopback admin without a token', async () => {
  const dir = mkdtempSync(path.join(tmp, 's-'));
  const r = await runCli(['serve', '--cluster', clusterFile(dir, 1, ''), '--host', '1']);
  assert.is(r.code, 2, r.stderr);
  assert.match(r.stderr, /expected a tls section .* or insecurePlainTcp: true/);
  const c = loadCluster(clusterFile(dir, 1, 'insecurePlainTcp: true\n')).cluster;
  assert.is(adminTokenOf(c, '127.0.0.1'), undefined);
  assert.match(inputError(() => adminTokenOf(c, '10.0.0.5')).message, /admin address 10\.0\.0\.5 is not loopback, so adminToken is required/);
});

test('with a token, /admin and /metrics answer 401 without it and 200 with it; /healthz stays open', async () => {
  const status = (): HostStatus => { throw new Error('not reached in this test but for the 200s'); };
  const token = 'a'.repeat(32);
  const admin = await startAdminServer({ host: '127.0.0.1', port: 0, status, metrics: new HostMetrics(status), token });
  const base = `http://127.0.0.1:${admin.address.port}`;
  try {
    for (const p of ['/admin', '/metrics', '/debug/stall?ms=1']) {
      assert.is((await fetch(base + p)).status, 401, p);
      assert.is((await fetch(base + p, { headers: { authorization: `Bearer ${'b'.repeat(32)}` } })).status, 401, `${p} wrong token`);
    }
    // Past the token check: the status callback throws, which the server answers with 500.
    assert.is((await fetch(`${base}/admin`, { headers: { authorization: `Bearer ${token}` } })).status, 500);
    assert.is((await fetch(`${base}/healthz`)).status, 200);
  } finally {
    await admin.close();
  }
});

test.run();
