// Test helper run as a child process (node raft-store-child.js DB_FILE) by
// raft-store.test.ts, which kills it with SIGKILL mid-run. It persists Raft
// records in a tight loop and writes "ack N" to stdout only after the persist
// holding index N has returned, so every acknowledged index must survive.
// Batches of 1 to 3 entries carry a hard state committing them; every 40
// indexes the log is compacted, so a kill can also land in a compaction.
import { writeSync } from 'node:fs';
import { RaftStore } from '../../src/real/raft-store.js';
import type { Entry } from '../../src/raft/index.js';

/** The data the parent expects at each index. */
export function childData(index: number): string {
  return `entry-${index}-${'x'.repeat(index % 97)}`;
}

export const CHILD_GROUP = 3;
const TERM = 2;

function main(file: string): void {
  const store = RaftStore.open(file);
  const boot = store.load(CHILD_GROUP, { voters: [1], learners: [] });
  let next = (boot.entries.at(-1)?.index ?? boot.snapshot?.index ?? 0) + 1;
  writeSync(1, `ready ${next}\n`);
  for (;;) {
    const size = 1 + (next % 3);
    const entries: Entry[] = [];
    for (let i = 0; i < size; i++) entries.push({ term: TERM, index: next + i, kind: 'normal', data: childData(next + i) });
    const last = next + size - 1;
    store.persist(CHILD_GROUP, { hardState: { term: TERM, vote: 1, commit: last }, entries, snapshot: null });
    // Synchronous write: the parent may read "ack" only for a persist that has returned.
    writeSync(1, `ack ${last}\n`);
    if (Math.floor(last / 40) > Math.floor((next - 1) / 40)) {
      const at = Math.floor(last / 40) * 40;
      store.compact(CHILD_GROUP, { index: at, term: TERM, conf: { voters: [1], learners: [] }, data: `snap-${at}` });
      writeSync(1, `compacted ${at}\n`);
    }
    next = last + 1;
  }
}

// Only when run as a program (imported by a test runner it does nothing).
if (process.argv[1]?.endsWith('raft-store-child.js') && process.argv[2] !== undefined) main(process.argv[2]);
