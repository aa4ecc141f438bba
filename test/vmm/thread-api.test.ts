// calloc and realloc, built from malloc, free and word accesses, on the test
// interpreter's heap (which fills fresh memory with garbage, so calloc must zero).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { calloc, malloc, read, realloc, write } from '../../src/vmm/thread-api.js';
import type { ThreadContext, Workload } from '../../src/vmm/thread.js';
import { runWorkload } from './interpreter.js';

function workload(body: (ctx: ThreadContext) => Generator<import('../../src/vmm/thread.js').ThreadOp, string | null, number>): Workload {
  let verdict: string | null = 'not run';
  return {
    name: 'heap-api',
    *thread(ctx) {
      verdict = yield* body(ctx);
    },
    *verify() {
      return verdict;
    },
  };
}

test('calloc gives zeroed memory even where a freed block held data', () => {
  const w = workload(function* () {
    const a = yield* malloc(64);
    for (let off = 0; off < 64; off += 4) yield* write(a + off, 0xabcdef);
    yield { op: 'free', addr: a };
    const b = yield* calloc(16, 4);
    if (b === 0) return 'calloc failed';
    for (let off = 0; off < 64; off += 4) {
      const v = yield* read(b + off);
      if (v !== 0) return `word ${off} is ${v}`;
    }
    return null;
  });
  assert.is(runWorkload(w, { threads: 1, seed: 1 }).verdict, null);
});

test('realloc keeps the contents up to the smaller size and frees the old block', () => {
  const w = workload(function* () {
    const a = yield* malloc(16);
    for (let i = 0; i < 4; i++) yield* write(a + 4 * i, 100 + i);
    const b = yield* realloc(a, 16, 256);
    if (b === 0 || b === a) return `realloc gave ${b}`;
    for (let i = 0; i < 4; i++) {
      const v = yield* read(b + 4 * i);
      if (v !== 100 + i) return `word ${i} is ${v}`;
    }
    const c = yield* realloc(b, 256, 8);
    const first = yield* read(c);
    const second = yield* read(c + 4);
    return first === 100 && second === 101 ? null : `shrunk block holds ${first}, ${second}`;
  });
  const r = runWorkload(w, { threads: 1, seed: 2 });
  assert.is(r.verdict, null);
  assert.is(r.stats.frees, 2, 'both old blocks were freed');
});

test.run();
