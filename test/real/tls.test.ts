// The attacks of issue 10 against live hosts with mutual TLS, each from a
// process without the hosts' keys (this one): a forged Raft append from the
// leader carrying a commit index that covers it, a heartbeat at the largest
// term the wire allows, a process on a stopped host's address, and a real host
// holding a valid certificate of another cluster (same cluster id, same host
// id, another authority). None of them changes a host's Raft state, each is
// counted, and the cluster keeps working.
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync } from 'node:fs';
import { connect as connectTcp } from 'node:net';
import path from 'node:path';
import { connect as connectTls, createServer as createTlsServer } from 'node:tls';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Message } from '../../src/raft/types.js';
import { writeClusterCerts } from '../../src/real/certs.js';
import { loadCluster } from '../../src/real/cluster-file.js';
import { parseAddress } from '../../src/real/cluster.js';
import { encodeEnvelope } from '../../src/real/envelope-codec.js';
import { encodeFrame } from '../../src/real/frame.js';
import type { HostStatus } from '../../src/real/host-status.js';
import { nativeAvailable } from '../../src/real/native-memory.js';
import { BIN, groupOf, onExit, REPO, TestCluster, watchdog } from './cluster-harness.js';

watchdog('tls.test', 240_000);

const LARGEST_TERM = Number.MAX_SAFE_INTEGER;

function message(m: Partial<Message> & Pick<Message, 'type' | 'from' | 'to' | 'term'>): Message {
  return { logTerm: 0, index: 0, entries: [], commit: 0, reject: false, rejectHint: 0, snapshot: null, transfer: false, ...m };
}

interface Credentials {
  key: Buffer;
  cert: Buffer;
}

/**
 * Delivers `frames` to `address` every way an outsider can: plain TCP, TLS
 * without a certificate, and TLS with `foreign` (a certificate of another
 * authority). Each attempt is one refused connection at the host.
 */
async function deliverEveryWay(address: string, frames: Buffer[], foreign: Credentials): Promise<void> {
  const a = parseAddress(address)!;
  const once = (open: () => import('node:net').Socket, event: string): Promise<void> =>
    new Promise((resolve) => {
      const s = open();
      s.on(event, () => {
        for (const f of frames) s.write(f);
      });
      s.on('error', () => {});
      const t = setTimeout(() => s.destroy(), 3000);
      s.on('close', () => {
        clearTimeout(t);
        resolve();
      });
    });
  const tls = (extra: Partial<Credentials>) => () => connectTls({ host: a.host, port: a.port, ...extra, rejectUnauthorized: false });
  await once(() => connectTcp({ host: a.host, port: a.port }), 'connect');
  await once(tls({}), 'secureConnect');
  await once(tls(foreign), 'secureConnect');
}

/** Every group's term, commit and last index on every host. */
function raftState(st: Map<number, HostStatus | null>): Map<string, { term: number; commit: number; lastIndex: number }> {
  const out = new Map<string, { term: number; commit: number; lastIndex: number }>();
  for (const [id, s] of st) for (const g of s?.groups ?? []) out.set(`host ${id} group ${g.group}`, { term: g.term, commit: g.commit, lastIndex: g.lastIndex });
  return out;
}

/** A copy of the cluster file (same id, hosts, addresses) with certificates of another authority, in `dir`. */
async function impostorCluster(c: TestCluster, dir: string): Promise<string> {
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'cluster.yaml');
  cpSync(c.file, file);
  await writeClusterCerts(loadCluster(file).cluster, path.join(dir, 'certs'), dir);
  return file;
}

const available = nativeAvailable();
if (!available.ok) {
  test(`tls attacks (skipped: ${available.reason})`, () => {});
} else {
  let c: TestCluster | null = null;
  const children: ChildProcess[] = [];
  onExit(() => children.forEach((p) => p.kill('SIGKILL')));
  test.after(async () => {
    for (const p of children) p.kill('SIGKILL');
    await c?.cleanup();
  });

  test('forged append, term inflation, a squatter on a stopped host\'s address, another cluster\'s host: refused, counted, nothing changes', async () => {
    c = await TestCluster.create({ name: 'tls-attacks' });
    const cluster = c;
    cluster.startAll();
    const reg = await cluster.leaderOf(0);
    const company = await cluster.leaderOf(1);
    const clusterId = loadCluster(cluster.file).cluster.id;
    const impostorDir = path.join(cluster.dir, 'impostor');
    const impostorFile = await impostorCluster(cluster, impostorDir);
    const foreign = (id: number): Credentials => ({
      key: readFileSync(path.join(impostorDir, 'certs', `host-${id}.key`)),
      cert: readFileSync(path.join(impostorDir, 'certs', `host-${id}.crt`)),
    });

    // 1 and 2: a forged append and a term-inflation heartbeat to every follower of each group, "from" its leader.
    const before = await cluster.statuses();
    const attacked: number[] = [];
    for (const id of cluster.ids) {
      const frames: Buffer[] = [];
      for (const { group, leader } of [{ group: 0, leader: reg.leader }, { group: 1, leader: company.leader }]) {
        if (id === leader) continue;
        const g = groupOf(before.get(id), group)!;
        const entry = { term: g.term, index: g.lastIndex + 1, kind: 'normal' as const, data: '' };
        const append = message({ type: 'app', from: leader, to: id, term: g.term, index: g.lastIndex, logTerm: g.term, entries: [entry], commit: entry.index });
        const inflate = message({ type: 'heartbeat', from: leader, to: id, term: LARGEST_TERM, commit: g.commit });
        for (const msg of [append, inflate]) frames.push(encodeFrame({ clusterId, from: leader }, encodeEnvelope({ kind: 'raft', group, msg })));
      }
      if (frames.length === 0) continue;
      attacked.push(id);
      await deliverEveryWay(cluster.host(id).address, frames, foreign(reg.leader));
    }
    await cluster.waitFor('every attacked host to count three refused connections', async () => {
      const st = await cluster.statuses(attacked);
      return attacked.every((id) => (st.get(id)?.transport.refused.unauthenticated ?? 0) >= 3);
    });
    await new Promise((r) => setTimeout(r, 1000));
    const after = await cluster.statuses();
    const was = raftState(before);
    for (const [where, now] of raftState(after)) {
      const then = was.get(where)!;
      assert.ok(now.term < 1000, `${where}: term ${now.term} (inflated)`);
      // A spontaneous election on a loaded machine may move things on; at the same term nothing may have.
      if (now.term === then.term) assert.equal({ commit: now.commit, lastIndex: now.lastIndex }, { commit: then.commit, lastIndex: then.lastIndex }, where);
    }
    for (const [id, s] of after) {
      assert.ok(s !== null, `host ${id} answers`);
      assert.equal(Object.values(s.transport.dropped).reduce((x, y) => x + y, 0), 0, `host ${id}: no attacker frame was even decoded`);
    }

    // 3: host 3 stops; a process on its address shows another authority's certificate for host 3.
    const victim = 3;
    await cluster.stop(victim);
    const at = parseAddress(cluster.host(victim).address)!;
    let sessions = 0;
    let bytes = 0;
    const squatter = createTlsServer({ ...foreign(victim), requestCert: true, rejectUnauthorized: false }, (s) => {
      sessions++;
      s.on('data', (d: Buffer) => (bytes += d.length));
      s.on('error', () => {});
    });
    squatter.on('tlsClientError', () => {});
    await new Promise<void>((resolve, reject) => squatter.once('error', reject).listen(at.port, at.host, () => resolve()));
    const others = cluster.ids.filter((id) => id !== victim);
    try {
      await cluster.waitFor('hosts 1 and 2 to refuse the squatter', async () => {
        const st = await cluster.statuses(others);
        return others.every((id) => (st.get(id)?.transport.refused['peer-unauthenticated'] ?? 0) >= 1);
      });
    } finally {
      await new Promise<void>((resolve) => squatter.close(() => resolve()));
    }
    assert.is(bytes, 0, 'the squatter received no application data');
    assert.ok(sessions <= others.length * 10, 'no session beyond handshakes the hosts abandoned');

    // 4: a real host of a copy of the cluster, certificates from another authority, as host 3.
    const refusedBefore = await cluster.statuses(others);
    const impostor = spawn(process.execPath, [BIN, 'serve', '--cluster', impostorFile, '--host', String(victim), '--log-file', path.join(impostorDir, 'host.log')], {
      cwd: REPO, stdio: 'ignore',
    });
    children.push(impostor);
    await cluster.waitFor('hosts 1 and 2 to refuse the impostor\'s connections, and it to refuse theirs', async () => {
      const st = await cluster.statuses(others);
      const inbound = others.every((id) => (st.get(id)?.transport.refused.unauthenticated ?? 0) > (refusedBefore.get(id)?.transport.refused.unauthenticated ?? 0));
      const outbound = others.every((id) => (st.get(id)?.transport.refused['peer-unauthenticated'] ?? 0) > (refusedBefore.get(id)?.transport.refused['peer-unauthenticated'] ?? 0));
      return inbound && outbound;
    });
    impostor.kill('SIGKILL');
    const log = readFileSync(path.join(impostorDir, 'host.log'), 'utf8');
    assert.not.match(log, /"event":"role".*"role":"leader"/, 'the impostor never led anything');

    // The real host 3 comes back and the cluster is whole again.
    cluster.start(victim);
    await cluster.leaderOf(1);
  });
}

test.run();
