// Histories across machines whose clocks disagree (issue 11): three real
// hosts, two of them in Linux time namespaces whose monotonic clocks are 7 s
// ahead and 3 s behind the first host's, as separate machines' clocks may be.
// Each host records its registers operations on its own monotonic clock and
// maps them onto host 1's through offsets measured on round trips, widening
// each interval by the uncertainty; the merged history must be linearizable.
// The second test plants the bug (GALLOCY_DEBUG_NO_CLOCK_MAP=1: times left on
// each host's own clock) and shows lincheck then finds the history wrong.
//
// Needs the native shim and `unshare --time` (root, Linux >= 5.6); else skipped, saying why.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { checkLinearizable } from '../../src/check/linearizability.js';
import { parseGallocyRecords } from '../../src/check/formats/gallocy-records.js';
import { registerModel } from '../../src/check/register-model.js';
import { nativeAvailable } from '../../src/real/native-memory.js';
import { runCli, TestCluster, WAIT_MS, watchdog } from './cluster-harness.js';

watchdog('clock-skew.test', 600_000);

/** Host 2's clock runs 7 s ahead of host 1's, host 3's 3 s behind. */
const SKEW_S: Record<number, number> = { 2: 7, 3: -3 };
const timeNamespace = (id: number): string[] =>
  SKEW_S[id] === undefined ? [] : ['unshare', '--fork', '--kill-child=SIGTERM', '--time', `--monotonic=${SKEW_S[id]}`];

function unavailable(): string | null {
  const native = nativeAvailable();
  if (!native.ok) return `real mode unavailable: ${native.reason}`;
  const r = spawnSync('unshare', ['--fork', '--time', '--monotonic=5', 'true'], { encoding: 'utf8' });
  if (r.status !== 0) return `unshare --time failed: ${r.stderr?.trim() || r.error?.message || `exit ${r.status}`}`;
  return null;
}

const clusters: TestCluster[] = [];
test.after.each(async () => {
  await Promise.all(clusters.splice(0).map((c) => c.cleanup()));
});

/** Runs registers on 3 skewed hosts to their verdicts; returns the merged history file. */
async function skewedRun(name: string, env: Record<string, string> = {}): Promise<{ c: TestCluster; file: string }> {
  const c = await TestCluster.create({ name, wrap: timeNamespace });
  clusters.push(c);
  c.startAll({ workload: 'registers', threads: 2, history: true, env, args: ['--ops', '150', '--duration', '3'] });
  await c.waitFor('every host\'s verdict', async () =>
    c.ids.every((id) => c.logEntries(id).some((e) => e['event'] === 'app-verified')) || null, 2 * WAIT_MS);
  const file = path.join(c.dir, 'merged.jsonl');
  writeFileSync(file, c.histories().map((r) => JSON.stringify(r)).join('\n') + '\n');
  return { c, file };
}

const why = unavailable();
if (why !== null) {
  console.log(`clock-skew.test: skipped: ${why}`);
  test(`clock skew (skipped: ${why})`, () => {});
} else {
  test('clocks 7 s ahead and 3 s behind: offsets measured, intervals widened, the merged history linearizable', async () => {
    const { c, file } = await skewedRun('skew');
    for (const [id, skew] of Object.entries(SKEW_S)) {
      const o = c.logEntries(Number(id)).find((e) => e['event'] === 'clock-offset');
      assert.ok(o !== undefined, `host ${id} logged its clock offset`);
      // reference = local + offset, and local = reference + skew: the true offset is within the
      // measured uncertainty (half a round trip, long on a loaded machine; 1 ms for rounding).
      const [offset, uncertainty] = [o['offsetUs'] as number, o['uncertaintyUs'] as number];
      assert.ok(Math.abs(offset + skew * 1e6) <= uncertainty + 1000, `host ${id}: offset ${offset} ± ${uncertainty} µs for a skew of ${skew} s`);
      // Far below the skews, so the mapping, not the widening, is what orders the hosts' operations.
      assert.ok(uncertainty < 1e6, `host ${id}: uncertainty ${uncertainty} µs`);
    }
    const records = c.histories();
    assert.is(records.length, 3 * 2 * 150);
    assert.ok(records.every((r) => typeof r.err === 'number' && r.err >= 0 && r.err < 1e6), 'every record carries its uncertainty, below the skews');
    const result = checkLinearizable(registerModel, parseGallocyRecords(`${records.map((r) => JSON.stringify(r)).join('\n')}\n`));
    assert.is(result.verdict, 'linearizable');
    const cli = await runCli(['lincheck', file], 120_000);
    assert.is(cli.code, 0, cli.stdout + cli.stderr);
  });

  test('planted: the same run with times left on each host\'s own clock is not linearizable', async () => {
    const { c } = await skewedRun('skew-unmapped', { GALLOCY_DEBUG_NO_CLOCK_MAP: '1' });
    const records = c.histories();
    const result = checkLinearizable(registerModel, parseGallocyRecords(`${records.map((r) => JSON.stringify(r)).join('\n')}\n`));
    assert.is(result.verdict, 'not-linearizable');
  });
}

test.run();
