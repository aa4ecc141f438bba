// The worker thread behind a real host's disk port (disk-port.ts): it owns
// the write connection to the host's Raft store. Each turn's writes arrive as
// one message; whatever arrived while the last commit was fsyncing is
// written in one transaction with one fsync (group commit), and the commit
// is reported with the last turn it holds. After a failed write it writes
// nothing more (the host stops), so a turn is never committed after one that
// was lost.
import { performance } from 'node:perf_hooks';
import { parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads';
import type { MessagePort } from 'node:worker_threads';
import { countCommit } from './disk-port.js';
import type { DiskWorkerFailure, DiskWorkerStats, FromDiskWorker, ToDiskWorker } from './disk-port.js';
import { DiskFullError, RaftStore } from './raft-store.js';
import type { StoreWrite } from './raft-store.js';

function failure(err: unknown): DiskWorkerFailure {
  const e = err instanceof Error ? err : new Error(String(err));
  const diskFull = err instanceof DiskFullError ? { dir: err.dir, writing: err.writing, cause: err.cause instanceof Error ? err.cause.message : String(err.cause) } : null;
  return { message: e.message, stack: e.stack, diskFull };
}

function run(port: MessagePort, file: string): void {
  // The only connection to the file while the host runs: exclusive (no file locks per commit).
  const store = RaftStore.open(file, { exclusive: true });
  const stats: DiskWorkerStats = { transactions: 0, fsyncs: 0, writeUs: 0, entries: 0, entryBytes: 0 };
  let failed = false;
  const reply = (m: FromDiskWorker): void => port.postMessage(m);
  port.on('message', (first: ToDiskWorker) => {
    // Everything queued behind the first message: one transaction for all.
    const msgs = [first];
    for (let m = receiveMessageOnPort(port); m !== undefined; m = receiveMessageOnPort(port)) msgs.push(m.message as ToDiskWorker);
    const writes: StoreWrite[] = [];
    let sync = false;
    let upTo = 0;
    for (const m of msgs) {
      if (m.t !== 'write') continue;
      writes.push(...m.writes);
      sync ||= m.sync;
      upTo = m.seq;
    }
    if (upTo > 0 && !failed) {
      const t0 = performance.now();
      try {
        if (store.write(writes, sync)) countCommit(stats, writes, sync);
        stats.writeUs += (performance.now() - t0) * 1000;
        reply({ t: 'done', upTo, stats });
      } catch (err) {
        failed = true;
        reply({ t: 'failed', error: failure(err) });
      }
    }
    if (msgs.some((m) => m.t === 'close')) {
      store.close();
      port.close();
    }
  });
}

if (parentPort !== null) run(parentPort, (workerData as { file: string }).file);
