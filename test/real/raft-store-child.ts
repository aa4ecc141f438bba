// Test helper run as a child process (node raft-store-child.js DB_FILE) by
// raft-store.test.ts, which kills it with SIGKILL mid-run. It persists Raft
// records in a tight loop through the host's disk port (storeDisk: the
// Readies of one turn in one batch) and writes "ack N" to stdout only after
// the port said the batch holding index N is durable, so every acknowledged
// index must survive. Each turn writes two Readies of 1 to 3 entries, each
// with a hard state committing them; every 40 indexes the log is compacted,
// so a kill can also land in a compaction.
import { writeSync } from 'node:fs';
import { RaftStore, storeDisk } from '../../src/real/raft-store.js';
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

async function main(file: string): Promise<void> {
  const store = RaftStore.open(file);
  const disk = storeDisk(store, (err) => {
    throw err;
  });
  const boot = store.load(CHILD_GROUP, { voters: [1], learners: [] });
  let next = (boot.entries.at(-1)?.index ?? boot.snapshot?.index ?? 0) + 1;
  writeSync(1, `ready ${next}\n`);
  for (;;) {
    const a = ready(next);
    const b = ready(a.last + 1);
    disk.append(CHILD_GROUP, a);
    disk.append(CHILD_GROUP, b);
    await new Promise<void>((resolve) => disk.sync(CHILD_GROUP, resolve));
    // Synchronous write: the parent may read "ack" only for a batch the port said is durable.
    writeSync(1, `ack ${b.last}\n`);
    if (Math.floor(b.last / 40) > Math.floor((next - 1) / 40)) {
      const at = Math.floor(b.last / 40) * 40;
      // No batch is open here: the compaction is its own transaction, durable on return.
      disk.compact(CHILD_GROUP, { index: at, term: TERM, conf: { voters: [1], learners: [] }, data: `snap-${at}` }, { term: TERM, vote: 1, commit: b.last }, []);
      writeSync(1, `compacted ${at}\n`);
    }
    next = b.last + 1;
  }
}

// Only when run as a program (imported by a test runner it does nothing).
if (process.argv[1]?.endsWith('raft-store-child.js') && process.argv[2] !== undefined) void main(process.argv[2]);
