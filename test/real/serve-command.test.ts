// `gallocy serve` refuses what it cannot run, before it opens anything: bad
// flags exit 2 naming the flag, and a data directory that belongs to another
// cluster or host is refused (exit 1) rather than adopted.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { appRunOf } from '../../src/cli/serve-command.js';
import { nativeAvailable } from '../../src/real/native-memory.js';
import { runCli, TestCluster } from './cluster-harness.js';

let c: TestCluster | null = null;
test.before(async () => {
  c = await TestCluster.create({ name: 'serve-flags' });
});
test.after(async () => {
  await c?.cleanup();
});

const serve = (...extra: string[]) => runCli(['serve', '--cluster', c!.file, ...extra]);

test('bad flags exit 2 with a message naming the flag', async () => {
  const cases: [string[], RegExp][] = [
    [['--host', '9'], /unknown host id 9 in cluster "serve-flags": expected one of 1, 2, 3/],
    [['--host', '1', '--workload', 'bogus'], /--workload: expected one of registers, counter, matrix, false-sharing, matrix-barrier, locked-list, got "bogus"/],
    [['--host', '1', '--workload', 'counter', '--app', 'x.mjs'], /--workload and --app: expected one of them, got both/],
    [['--host', '1', '--history', '/tmp/h.jsonl'], /--history: expected --workload too/],
    [['--host', '1', '--app', '/nonexistent/app.mjs'], /--app: \/nonexistent\/app.mjs: no such file/],
    [['--host', '3', '--workload', 'counter', '--threads', '2', '--total-threads', '3'], /--total-threads: expected at least 6/],
    [['--host', '1', '--log-level', 'loud'], /--log-level: expected one of trace, debug, info/],
    [['--host', 'one'], /--host: expected an integer >= 1, got "one"/],
  ];
  for (const [args, message] of cases) {
    const r = await serve(...args);
    assert.is(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message, args.join(' '));
  }
});

test('threads are numbered by host order; the total defaults to threads x hosts', () => {
  const base = { cluster: 'f', host: 2, threads: 3, seed: 1, logLevel: 'info', workload: 'counter' };
  assert.equal(appRunOf(base, 1, 3)?.firstIndex, 3);
  assert.equal(appRunOf(base, 1, 3)?.totalThreads, 9);
  assert.is(appRunOf({ ...base, workload: undefined }, 1, 3), null);
});

const native = nativeAvailable();
test(`a data directory of another cluster is refused${native.ok ? '' : ' (skipped: no native shim)'}`, async () => {
  if (!native.ok) return;
  const dir = path.join(c!.dir, 'data', 'host-1');
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'owner.json'), JSON.stringify({ cluster: 'someone-else', host: 1 }));
  const r = await serve('--host', '1');
  assert.is(r.code, 1, r.stderr);
  assert.match(r.stderr, /belongs to host 1 of cluster "someone-else", not host 1 of "serve-flags-\d+"/);
});

test.run();
