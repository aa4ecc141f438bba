// Test helper run as a child process (node raft-store-child.js DB_FILE) by
// raft-store.test.ts, which kills it with SIGKILL mid-run. It persists Raft
// records in a tight loop through the host's disk port (WorkerDisk: the
// Readies of one turn handed to a worker thread, which commits them, or with
// argument `inline` committed on the main thread at the end of the turn) and
// writes "ack N" to stdout only after the port said the batch holding index
// N is durable, so every acknowledged index must survive. Each turn writes
// two Readies of 1 to 3 entries, each with a hard state committing them;
// every 40 indexes the log is compacted in the same turn (and reported once
// that turn is durable), so a kill can also land in a compaction.
import { writeSync } from 'node:fs';
import { RaftStore } from '../../src/real/raft-store.js';
import { WorkerDisk } from '../../src/real/disk-port.js';
import type { DiskWriter } from '../../src/real/disk-port.js';
import type { Entry } from '../../src/raft/index.js';
import type { PersistBatch } from '../../src/host/ports.js';

/** The data the parent expects at each index. */
export function childData(index: number): string {
  return `entry-${index}-${'x'.repeat(index % 97)}`;
}

export const CHILD_GROUP = 3;
const TERM = 2;

/** A Ready's records: 1 to 3 entries from `next`, and a hard state committing them. */
function ready(next: number): PersistBatch & { last: number } {
  const size = 1 + (next % 3);
  const entries: Entry[] = [];
  for (let i = 0; i < size; i++) entries.push({ term: TERM, index: next + i, kind: 'normal', data: childData(next + i) });
  const last = next + size - 1;
  return { hardState: { term: TERM, vote: 1, commit: last }, entries, snapshot: null, mustSync: true, last };
}

async function main(file: string, writer: DiskWriter): Promise<void> {
  const store = RaftStore.open(file);
  const disk = new WorkerDisk(store, (err) => {
    writeSync(2, `${err.stack ?? err.message}\n`);
    process.exit(1);
  }, undefined, writer);
  const boot = disk.load(CHILD_GROUP, { voters: [1], learners: [] });
  let next = (boot.entries.at(-1)?.index ?? boot.snapshot?.index ?? 0) + 1;
  writeSync(1, `ready ${next}\n`);
  for (;;) {
    const a = ready(next);
    const b = ready(a.last + 1);
    disk.append(CHILD_GROUP, a);
    disk.append(CHILD_GROUP, b);
    const compactAt = Math.floor(b.last / 40) > Math.floor((next - 1) / 40) ? Math.floor(b.last / 40) * 40 : null;
    if (compactAt !== null) disk.compact(CHILD_GROUP, { index: compactAt, term: TERM, conf: { voters: [1], learners: [] }, data: `snap-${compactAt}` });
    await new Promise<void>((resolve) => disk.sync(CHILD_GROUP, resolve));
    // Synchronous writes: the parent may read "ack" only for a batch the port said is durable.
    writeSync(1, `ack ${b.last}\n`);
    if (compactAt !== null) writeSync(1, `compacted ${compactAt}\n`);
    next = b.last + 1;
  }
}

// Only when run as a program (imported by a test runner it does nothing).
if (process.argv[1]?.endsWith('raft-store-child.js') && process.argv[2] !== undefined) void main(process.argv[2], process.argv[3] === 'inline' ? 'inline' : 'worker');
