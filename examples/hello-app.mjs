// A minimal gallocy application (plain JS: runs without a build step).
//
//   npx gallocy serve --cluster clusters/local-3.yaml --host 1 --app examples/hello-app.mjs --threads 2
//
// on every host of the cluster (hosts 2 and 3 the same), on fresh data
// directories: verify expects the root counter to start from 0.
//
// Every application thread of the cluster runs the default export once, in a
// worker thread of its host, with the API described in src/real/app-api.ts.
// Addresses are byte offsets into the shared heap; u32[addr >>> 2] is the
// word at addr.

/** @param {import('../src/real/app-api.js').GallocyApp} gallocy */
export default function hello(gallocy) {
  const { u32 } = gallocy;
  const words = 16;

  // A private block: malloc is synchronous and returns 0 when the heap is full.
  const block = gallocy.malloc(words * 4);
  if (block === 0) throw new Error('the heap is full');
  for (let i = 0; i < words; i++) u32[(block >>> 2) + i] = gallocy.thread * 1000 + i;
  let sum = 0;
  for (let i = 0; i < words; i++) sum += u32[(block >>> 2) + i];
  const expected = words * gallocy.thread * 1000 + (words * (words - 1)) / 2;
  if (sum !== expected) throw new Error(`read back ${sum} from block ${block}, wrote ${expected}`);

  // A shared counter at the root: other threads (on other hosts too) add to it
  // at the same time, so the add must be atomic.
  const before = Atomics.add(u32, gallocy.root >>> 2, 1);

  gallocy.free(block);
  gallocy.log('hello from a gallocy thread', { thread: gallocy.thread, block, counterBefore: before });
}

/** Runs once, after every thread of the cluster finished: null means right. */
export function verify(gallocy) {
  const count = Atomics.load(gallocy.u32, gallocy.root >>> 2);
  return count === gallocy.threads ? null : `the root counter is ${count}, expected ${gallocy.threads} threads`;
}
