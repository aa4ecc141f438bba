// The bare round: what a remote read fault's messages and commits cost three
// node processes on this machine, with none of gallocy's work between them.
// The floor (handoff + 2 round trips + 1 commit) times each part alone, on an
// idle machine; a fault's messages wake three processes that share the CPUs.
// This runs the same pattern over the same loopback TCP and SQLite:
//
//   faulting -> leader        request
//   leader -> faulting, other append (both written, then the leader commits a row)
//   faulting, other -> leader ack (each after committing a row)
//   leader -> faulting        grant, on the first ack
//
// Six socket writes and three one-row fsynced commits, all plain TCP with
// Nagle off; 16-byte frames. Between it and a fault's latency is what the
// hosts do themselves (encoding, TLS, Raft, the page table, the timeline)
// and the further frames of the real protocol (the commit index and its
// acknowledgements: real.remote_read_fault_socket_writes).
//
// Run as a child: `node bare-round.js leader DB` prints its port, then
// `node bare-round.js faulting|other DB PORT [SAMPLES]`; the faulting one
// prints its latencies (JSON) and every process exits.
import { once } from 'node:events';
import net from 'node:net';
import { floorDatabase } from './floor-database.js';

const FRAME = 16;
const [REQUEST, APPEND, ACK, GRANT, DONE] = [1, 2, 3, 4, 5];

/** The floor's database at `file`; only its commit is used. */
const commitTo = (file: string): (() => void) => floorDatabase(file).commit;

const frame = (kind: number): Buffer => Buffer.alloc(FRAME, kind);

/** Calls onFrame with the kind of each whole frame the socket delivers (TCP may split or join them). */
function frames(sock: net.Socket, onFrame: (kind: number) => void): void {
  let pending: Buffer = Buffer.alloc(0);
  sock.on('data', (d: Buffer) => {
    pending = pending.length === 0 ? d : Buffer.concat([pending, d]);
    let at = 0;
    for (; at + FRAME <= pending.length; at += FRAME) onFrame(pending[at]!);
    pending = pending.subarray(at);
  });
}

async function leader(db: string): Promise<void> {
  const commit = commitTo(db);
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  console.log((server.address() as net.AddressInfo).port);
  // The first frame of a connection says who it is: REQUEST (the faulting one) or ACK (the other).
  const peers: { faulting?: net.Socket; other?: net.Socket } = {};
  let acked = false;
  server.on('connection', (sock) => {
    sock.setNoDelay(true);
    let known = false;
    frames(sock, (kind) => {
      if (!known) {
        known = true;
        if (kind === REQUEST) peers.faulting = sock;
        else peers.other = sock;
        return;
      }
      if (kind === REQUEST) {
        acked = false;
        peers.faulting!.write(frame(APPEND));
        peers.other!.write(frame(APPEND));
        commit();
      } else if (kind === ACK && !acked) {
        acked = true;
        peers.faulting!.write(frame(GRANT));
      } else if (kind === DONE) {
        peers.other?.end();
        sock.end();
        server.close();
      }
    });
  });
}

async function follower(role: 'faulting' | 'other', db: string, port: number, samples: number): Promise<void> {
  const commit = commitTo(db);
  const sock = net.connect(port, '127.0.0.1');
  await once(sock, 'connect');
  sock.setNoDelay(true);
  sock.write(frame(role === 'faulting' ? REQUEST : ACK)); // who this is
  if (role === 'other') {
    frames(sock, () => {
      commit();
      sock.write(frame(ACK));
    });
    sock.on('end', () => sock.end());
    return;
  }
  const us: number[] = [];
  let t0 = 0;
  const start = (): void => {
    t0 = performance.now();
    sock.write(frame(REQUEST));
  };
  frames(sock, (kind) => {
    if (kind === APPEND) {
      commit();
      sock.write(frame(ACK));
    } else if (kind === GRANT) {
      us.push((performance.now() - t0) * 1000);
      if (us.length < samples) start();
      else {
        console.log(JSON.stringify(us));
        sock.end(frame(DONE));
      }
    }
  });
  // The other follower connects about now: give it a moment before the first round.
  setTimeout(start, 200);
}

const [role, db, port, samples] = process.argv.slice(2);
if (role === 'leader' && db !== undefined) await leader(db);
else if ((role === 'faulting' || role === 'other') && db !== undefined && port !== undefined) {
  await follower(role, db, Number(port), Number(samples ?? 1));
} else {
  console.error('usage: bare-round.js leader DB | faulting|other DB PORT [SAMPLES]');
  process.exit(2);
}
