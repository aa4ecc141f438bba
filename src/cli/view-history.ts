// A key-value run's history for the viewer, per key, with what the
// linearizability checker made of it: the longest linearizable prefix it
// found and the operations it could not order next. Runs the seed again to
// read its clients' history (the trace does not hold values).
import { checkLinearizable, describeOperation } from '../check/linearizability.js';
import { kvModel } from '../check/kv-model.js';
import { kvHistory, World } from '../sim/run.js';
import type { Scenario } from '../sim/scenario.js';
import type { KeyHistory } from './view-model.js';

export function kvHistoryByKey(scenario: Scenario, seed: number): KeyHistory[] {
  const world = new World(scenario, seed, {});
  world.run();
  const history = kvHistory(world.clients, false);
  const result = checkLinearizable(kvModel, history, { maxSteps: 2_000_000 });
  const parts = kvModel.partition!(history);
  return parts.map((ops, p) => {
    const failed = result.failedPartition === p;
    return {
      key: String(ops[0]?.input.key ?? ''),
      ops: ops.map((o) => ({ client: o.client, op: describeOperation(kvModel, o), call: o.call, ret: o.ret === Infinity ? null : o.ret })),
      linearized: failed ? (result.linearizedPrefix ?? []).map((o) => ops.indexOf(o)) : [],
      unordered: failed ? (result.unordered ?? []).map((o) => ops.indexOf(o)) : [],
    };
  }).sort((a, b) => Number(b.unordered.length > 0) - Number(a.unordered.length > 0));
}
