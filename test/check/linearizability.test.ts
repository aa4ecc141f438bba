import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { performance } from 'node:perf_hooks';
import { checkLinearizable, describeOperation, type Model, type Operation } from '../../src/check/linearizability.js';
import { kvModel, type KvInput, type KvOp, type KvOutput, type KvValue } from '../../src/check/kv-model.js';
import { registerModel, type RegisterInput, type RegisterOp, type RegisterOutput, type RegisterValue } from '../../src/check/register-model.js';
import { parseHistory } from '../../src/check/history-formats.js';
import { expectedVerdicts, readHistory } from './history-data.js';
import { impossibleRead, kvHistory, registerHistory } from './generated-histories.js';

// --- helpers for hand-built histories --------------------------------------

const R = (client: number, call: number, ret: number, value: number | null): RegisterOp => ({
  client,
  input: { kind: 'read' },
  output: { kind: 'read', value },
  call,
  ret,
});
const W = (client: number, call: number, ret: number, value: number): RegisterOp => ({
  client,
  input: { kind: 'write', value },
  output: { kind: 'write' },
  call,
  ret,
});
const CAS = (client: number, call: number, ret: number, from: number | null, to: number, ok: boolean): RegisterOp => ({
  client,
  input: { kind: 'cas', from, to },
  output: { kind: 'cas', ok },
  call,
  ret,
});

/**
 * The models without their read-only hint, which changes how the search
 * goes (a legal read is no choice): it must never change a verdict.
 */
const bareRegisters: Model<RegisterValue, RegisterInput, RegisterOutput> = { ...registerModel, readOnly: undefined };
const bareKv: Model<KvValue, KvInput, KvOutput> = { ...kvModel, readOnly: undefined };

/** Check with the register model and its bare form; both must agree. */
function check(history: RegisterOp[]) {
  const r = checkLinearizable(registerModel, history);
  assert.is(checkLinearizable(bareRegisters, history).verdict, r.verdict, 'the read-only hint changed the verdict');
  return r;
}

// --- Porcupine's histories with known answers -------------------------------

const expected = expectedVerdicts();

test('Porcupine histories: every file agrees with expected.json, with and without the read-only hint', () => {
  const files = Object.keys(expected).sort();
  assert.ok(files.length >= 50, `expected.json lists ${files.length} files`);
  const times: string[] = [];
  // Far more than any of them needs (c50-ok takes about 2 million), so a slower search fails instead of hanging.
  const options = { maxSteps: 50_000_000 };
  for (const file of files) {
    const text = readHistory(file);
    const t0 = performance.now();
    const parsed = parseHistory(text);
    const r = parsed.format !== 'kv-edn' ? checkLinearizable(registerModel, parsed.operations, options) : checkLinearizable(kvModel, parsed.operations, options);
    const ms = performance.now() - t0;
    times.push(`${file}=${ms.toFixed(1)}ms`);
    assert.is(r.ok, expected[file], `${file}: got ${r.verdict}, expected ${expected[file] ? 'linearizable' : 'not linearizable'}`);
    assert.is.not(r.verdict, 'unknown');
    if (!r.ok) {
      assert.ok((r.unordered ?? []).length > 0, `${file}: a violation names the operations it could not order`);
    }
    const bare = parsed.format !== 'kv-edn' ? checkLinearizable(bareRegisters, parsed.operations, options) : checkLinearizable(bareKv, parsed.operations, options);
    assert.is(bare.ok, expected[file], `${file}: the bare model disagrees`);
  }
  console.log('  lincheck times: ' + times.join(' '));
});

test('Porcupine kv histories are split by key', () => {
  const text = readHistory('kv/c10-ok.txt');
  const parsed = parseHistory(text);
  assert.is(parsed.format, 'kv-edn');
  const r = checkLinearizable(kvModel, parsed.operations as KvOp[]);
  const keys = new Set((parsed.operations as KvOp[]).map((o) => o.input.key));
  assert.is(r.partitions, keys.size);
  assert.ok(keys.size > 1);
});

// --- hand-built histories ---------------------------------------------------

test('sequential history is linearizable', () => {
  const r = check([W(0, 1, 2, 1), R(1, 3, 4, 1), CAS(0, 5, 6, 1, 2, true), R(1, 7, 8, 2), CAS(1, 9, 10, 1, 3, false), R(0, 11, 12, 2)]);
  assert.ok(r.ok);
  assert.is(r.verdict, 'linearizable');
  assert.is(r.unordered, undefined);
});

test('concurrent write and read may go either way', () => {
  assert.ok(check([W(0, 1, 4, 1), R(1, 2, 3, 1)]).ok);
  assert.ok(check([W(0, 1, 4, 1), R(1, 2, 3, null)]).ok);
});

test('stale read after a completed overwrite is not linearizable; the stuck read is reported', () => {
  const h = [W(0, 1, 2, 1), W(0, 3, 4, 2), R(1, 5, 6, 1)];
  const r = check(h);
  assert.not.ok(r.ok);
  assert.is(r.verdict, 'not-linearizable');
  assert.is(r.failedPartition, 0);
  assert.equal(r.linearizedPrefix, [h[0], h[1]]);
  assert.equal(r.unordered, [h[2]]);
});

test('read of a never-written value: the prefix before it and the read are named', () => {
  const h = [W(0, 1, 2, 1), R(1, 3, 4, 7)];
  const r = check(h);
  assert.not.ok(r.ok);
  assert.equal(r.linearizedPrefix, [h[0]]);
  assert.equal(r.unordered, [h[1]]);
});

test('read of a value before its write was called is not linearizable', () => {
  const h = [R(1, 1, 2, 5), W(0, 3, 4, 5)];
  const r = check(h);
  assert.not.ok(r.ok);
  assert.equal(r.unordered, [h[0]]);
});

test('null read after a completed write is not linearizable', () => {
  const h = [W(0, 1, 2, 5), R(1, 3, 4, null)];
  const r = check(h);
  assert.not.ok(r.ok);
  assert.equal(r.unordered, [h[1]]);
});

test('a value written twice may be read after either write', () => {
  const h = [W(0, 1, 2, 1), W(0, 3, 4, 2), W(0, 5, 6, 1), R(1, 7, 8, 1)];
  assert.ok(check(h).ok);
});

test('two readers seeing two writes in opposite orders: not linearizable', () => {
  // Writes of 1 and 2 concurrent; client 2 sees 1 then 2, client 3 sees 2 then 1.
  const h = [W(0, 1, 10, 1), W(1, 2, 11, 2), R(2, 3, 4, 1), R(2, 5, 6, 2), R(3, 3, 4, 2), R(3, 7, 8, 1)];
  const r = check(h);
  assert.not.ok(r.ok);
  assert.ok((r.unordered ?? []).length >= 1);
});

test('indeterminate write may take effect late', () => {
  // The write of 2 timed out (ret = Infinity) but a read much later sees it.
  const h = [W(0, 1, 2, 1), W(1, 3, Infinity, 2), R(2, 10, 11, 1), R(2, 20, 21, 2)];
  assert.ok(check(h).ok);
});

test('indeterminate write may never take effect', () => {
  const h = [W(0, 1, 2, 1), W(1, 3, Infinity, 2), R(2, 10, 11, 1), R(2, 20, 21, 1)];
  assert.ok(check(h).ok);
});

test('indeterminate write cannot take effect before it was called', () => {
  const h = [W(0, 1, 2, 1), R(2, 3, 4, 2), W(1, 5, Infinity, 2)];
  const r = check(h);
  assert.not.ok(r.ok);
  assert.equal(r.linearizedPrefix, [h[0]]);
  assert.equal(r.unordered, [h[1]]);
});

test('indeterminate write cannot take effect twice', () => {
  // 1, then the lost write of 2, then 3, then 2 again: impossible.
  const h = [W(0, 1, 2, 1), W(1, 3, Infinity, 2), R(2, 5, 6, 2), W(0, 7, 8, 3), R(2, 9, 10, 3), R(2, 11, 12, 2)];
  const r = check(h);
  assert.not.ok(r.ok);
  assert.equal(r.unordered, [h[5]]);
});

test('indeterminate cas takes effect only if its comparison held', () => {
  const ok = [W(0, 1, 2, 1), CAS(1, 3, Infinity, 1, 9, false), R(2, 5, 6, 9)];
  assert.ok(check(ok).ok);
  const bad = [W(0, 1, 2, 4), CAS(1, 3, Infinity, 1, 9, false), R(2, 5, 6, 9)];
  const r = check(bad);
  assert.not.ok(r.ok);
  assert.equal(r.unordered, [bad[2], bad[1]]);
});

test('failed cas changes nothing and means the register did not hold `from`', () => {
  // The cas failed, so it did not write 9.
  assert.not.ok(check([W(0, 1, 2, 1), CAS(1, 3, 4, 1, 9, false), R(2, 5, 6, 9)]).ok);
  // It failed while the register provably held 1 throughout: not linearizable.
  const h = [W(0, 1, 2, 1), CAS(1, 3, 4, 1, 9, false), R(2, 5, 6, 1)];
  const r = check(h);
  assert.not.ok(r.ok);
  assert.equal(r.unordered, [h[1]]);
  // Concurrent with an overwrite, the failure is explained.
  assert.ok(check([W(0, 1, 2, 1), W(0, 3, 6, 2), CAS(1, 4, 5, 1, 9, false), R(2, 7, 8, 2)]).ok);
});

test('only indeterminate operations: trivially linearizable', () => {
  assert.ok(check([W(0, 1, Infinity, 1), CAS(1, 2, Infinity, 3, 4, false)]).ok);
  assert.ok(check([]).ok);
});

test('call after return is rejected', () => {
  assert.throws(() => checkLinearizable(registerModel, [W(0, 5, 4, 1)]), /call 5 after return 4/);
});

test('registers with keys are checked independently; the failing one is named', () => {
  const k = (op: RegisterOp, key: string): RegisterOp => ({ ...op, input: { ...op.input, key } as RegisterInput });
  const h = [k(W(0, 1, 2, 1), 'a'), k(W(0, 3, 4, 1), 'b'), k(R(1, 5, 6, 1), 'a'), k(R(1, 7, 8, null), 'b')];
  const r = check(h);
  assert.not.ok(r.ok);
  assert.is(r.partitions, 2);
  assert.is(r.failedPartition, 1);
  assert.equal(r.unordered, [h[3]]);
});

test('kv model: append order is observable', () => {
  const op = (client: number, call: number, ret: number, kind: 'get' | 'put' | 'append', value: string): KvOp =>
    kind === 'get'
      ? { client, input: { kind, key: 'k' }, output: value, call, ret }
      : { client, input: { kind, key: 'k', value }, output: null, call, ret };
  assert.ok(checkLinearizable(kvModel, [op(0, 1, 4, 'append', 'a'), op(1, 2, 5, 'append', 'b'), op(2, 6, 7, 'get', 'ba')]).ok);
  const bad = [op(0, 1, 2, 'append', 'a'), op(1, 3, 4, 'append', 'b'), op(2, 6, 7, 'get', 'ba')];
  const r = checkLinearizable(kvModel, bad);
  assert.not.ok(r.ok);
  assert.equal(r.unordered, [bad[2]]);
  assert.ok(checkLinearizable(kvModel, [op(0, 1, 2, 'get', ''), op(0, 3, 4, 'put', 'x'), op(1, 5, 6, 'get', 'x')]).ok);
});

test('step budget: exceeding it gives unknown, never a wrong verdict', () => {
  const text = readHistory('jepsen-etcd/etcd_002.log');
  const ops = parseHistory(text).operations as RegisterOp[];
  const r = checkLinearizable(registerModel, ops, { maxSteps: 10 });
  assert.is(r.verdict, 'unknown');
  assert.not.ok(r.ok);
  const full = checkLinearizable(registerModel, ops);
  assert.is(full.ok, expected['jepsen-etcd/etcd_002.log']);
  assert.ok(full.steps > 10);
});

test('models without hash() remember states with equal()', () => {
  const m: Model<{ v: number | null }, RegisterInput, RegisterOutput> = {
    init: () => ({ v: null }),
    step: (s, i, o) => {
      const [ok, v] = registerModel.step(s.v, i, o);
      return [ok, { v }];
    },
    equal: (a, b) => a.v === b.v,
  };
  const text = readHistory('jepsen-etcd/etcd_007.log');
  const ops = parseHistory(text).operations as RegisterOp[];
  assert.is(checkLinearizable(m, ops).ok, expected['jepsen-etcd/etcd_007.log']);
  const text0 = readHistory('jepsen-etcd/etcd_000.log');
  assert.is(checkLinearizable(m, parseHistory(text0).operations as RegisterOp[]).ok, expected['jepsen-etcd/etcd_000.log']);
});

test('models describe operations; an unknown outcome is shown as ?', () => {
  assert.is(describeOperation(registerModel, CAS(2, 5, 6, 1, 0, false)), 'cas 1 -> 0 : fail');
  assert.is(describeOperation(registerModel, CAS(3, 7, Infinity, 4, 2, false)), 'cas 4 -> 2 : ?');
  assert.is(describeOperation(registerModel, { ...R(1, 1, 2, null), input: { kind: 'read', key: '64' } }), 'read -> nil [key 64]');
  assert.is(describeOperation(registerModel, W(0, 1, 2, 7)), 'write 7');
  const get: KvOp = { client: 0, input: { kind: 'get', key: 'k' }, output: 'ab', call: 1, ret: 2 };
  assert.is(describeOperation(kvModel, get), 'get "k" -> "ab"');
  assert.is(describeOperation(kvModel, { ...get, ret: Infinity }), 'get "k" -> ?');
  assert.is(describeOperation(kvModel, { ...get, input: { kind: 'append', key: 'k', value: 'x' }, output: null }), 'append "k" "x"');
  // A model without a describer gets its input and output as JSON.
  const bare: Model<number, number, number> = { init: () => 0, step: (s) => [true, s] };
  assert.is(describeOperation(bare, { client: 0, input: 1, output: 2, call: 1, ret: 2 }), '1 -> 2');
});

// --- against the definition ------------------------------------------------

/**
 * Linearizability by its definition, for tiny histories: some order of the
 * operations that respects real time (an operation that returned before
 * another was called comes first) and that the model accepts, where an
 * operation of unknown outcome may also be left out.
 */
function bruteForce<S, I, O>(model: Model<S, I, O>, ops: readonly Operation<I, O>[]): boolean {
  const done = ops.map(() => false);
  const search = (state: S): boolean => {
    if (ops.every((o, i) => done[i] || o.ret === Infinity)) return true;
    for (let i = 0; i < ops.length; i++) {
      if (done[i] || ops.some((o, j) => !done[j] && o.ret < ops[i]!.call)) continue;
      const [legal, after] = model.step(state, ops[i]!.input, ops[i]!.ret === Infinity ? undefined : ops[i]!.output);
      if (!legal) continue;
      done[i] = true;
      const found = search(after);
      done[i] = false;
      if (found) return true;
    }
    return false;
  };
  return search(model.init());
}

const timing = fc.record({ client: fc.nat(3), call: fc.nat(12), length: fc.nat(6), lost: fc.nat(5).map((x) => x === 0) });
const timed = <I, O>(t: { client: number; call: number; length: number; lost: boolean }, input: I, output: O): Operation<I, O> =>
  ({ client: t.client, input, output, call: t.call, ret: t.lost ? Infinity : t.call + t.length });
const small = fc.constantFrom<RegisterValue>(null, 1, 2, 3);
const registerOpArb: fc.Arbitrary<RegisterOp> = fc.oneof(
  fc.tuple(timing, small).map(([t, value]) => timed<RegisterInput, RegisterOutput>(t, { kind: 'read' }, { kind: 'read', value })),
  fc.tuple(timing, fc.integer({ min: 1, max: 3 })).map(([t, value]) => timed<RegisterInput, RegisterOutput>(t, { kind: 'write', value }, { kind: 'write' })),
  fc.tuple(timing, small, fc.integer({ min: 1, max: 3 }), fc.boolean()).map(([t, from, to, ok]) => timed<RegisterInput, RegisterOutput>(t, { kind: 'cas', from, to }, { kind: 'cas', ok })),
);
const kvOpArb: fc.Arbitrary<KvOp> = fc.oneof(
  fc.tuple(timing, fc.constantFrom('', 'a', 'b', 'ab', 'ba', 'aa')).map(([t, value]) => timed<KvInput, KvOutput>(t, { kind: 'get', key: 'k' }, value)),
  fc.tuple(timing, fc.constantFrom('a', 'b')).map(([t, value]) => timed<KvInput, KvOutput>(t, { kind: 'put', key: 'k', value }, null)),
  fc.tuple(timing, fc.constantFrom('a', 'b')).map(([t, value]) => timed<KvInput, KvOutput>(t, { kind: 'append', key: 'k', value }, null)),
);

test('property: on random small histories the verdict is the definition\'s, with and without the read-only hint', () => {
  let linearizable = 0;
  fc.assert(
    fc.property(fc.array(registerOpArb, { maxLength: 7 }), (ops) => {
      const truth = bruteForce(registerModel, ops);
      if (truth) linearizable++;
      return checkLinearizable(registerModel, ops).ok === truth && checkLinearizable(bareRegisters, ops).ok === truth;
    }),
    { numRuns: 1500 },
  );
  fc.assert(
    fc.property(fc.array(kvOpArb, { maxLength: 7 }), (ops) => {
      const truth = bruteForce(kvModel, ops);
      if (truth) linearizable++;
      return checkLinearizable(kvModel, ops).ok === truth && checkLinearizable(bareKv, ops).ok === truth;
    }),
    { numRuns: 1500 },
  );
  // Both answers must come up often, or the property says little.
  assert.ok(linearizable > 600 && linearizable < 2400, `${linearizable} of 3000 histories linearizable`);
});

// --- search order, memory and budgets -----------------------------------------

test('partitions take turns: one quick to fail is found beside one whose search outlasts the budget', () => {
  const ops = parseHistory(readHistory('kv/c50-bad.txt')).operations as KvOp[];
  const slow = kvModel.partition!(ops)[0]!;
  const budget = 1_000_000;
  assert.is(checkLinearizable(kvModel, slow, { maxSteps: budget }).verdict, 'unknown', 'the first key alone is not decided within the budget');
  const r = checkLinearizable(kvModel, ops, { maxSteps: budget });
  assert.is(r.verdict, 'not-linearizable');
  assert.ok(r.failedPartition !== 0);
  assert.ok(r.steps < budget);
});

test('remembering few configurations costs steps, never a verdict', () => {
  let grew = 0;
  const compare = <S, I, O>(name: string, model: Model<S, I, O>, h: Operation<I, O>[], maxVisited: number): void => {
    const full = checkLinearizable(model, h);
    const forgetful = checkLinearizable(model, h, { maxVisited });
    assert.is(forgetful.verdict, full.verdict, name);
    assert.is.not(full.verdict, 'unknown', name);
    if (forgetful.steps > full.steps) grew++;
  };
  compare('registers, one key', registerModel, registerHistory('forgetful', { ops: 5_000, clients: 8, keys: 1 }), 256);
  const kv = kvHistory('forgetful', { ops: 1_000, clients: 20, keys: 10 });
  compare('kv', kvModel, kv, 64);
  compare('kv, broken', kvModel, impossibleRead(kv), 64);
  assert.is(grew, 3, 'each search should have had to explore some configurations again');
});

test('generated histories, large and with many clients: linearizable as built, and not once a read is made impossible', () => {
  const expectVerdicts = <S, I, O>(name: string, model: Model<S, I, O>, h: Operation<I, O>[], broken: Operation<I, O>[]): void => {
    assert.is(checkLinearizable(model, h).verdict, 'linearizable', name);
    const r = checkLinearizable(model, broken);
    assert.is(r.verdict, 'not-linearizable', `${name}, broken`);
    const victim = broken.find((o, i) => o !== h[i]);
    assert.ok(victim !== undefined && r.unordered?.includes(victim), `${name}: the impossible read is among the operations reported`);
  };
  const registers = (name: string, h: RegisterOp[]): void => expectVerdicts(name, registerModel, h, impossibleRead(h));
  registers('registers: 10,000 ops, 8 clients, 100 keys, 2% unknown outcomes', registerHistory('large', { ops: 10_000, clients: 8, keys: 100, lost: 0.02 }));
  registers('registers: 20,000 ops, 8 clients, one key', registerHistory('long', { ops: 20_000, clients: 8, keys: 1 }));
  registers('registers: 2,000 ops, 50 clients, 10 keys', registerHistory('crowd', { ops: 2_000, clients: 50, keys: 10 }));
  const kv = kvHistory('crowd', { ops: 2_000, clients: 50, keys: 20 });
  expectVerdicts('kv: 2,000 ops, 50 clients, 20 keys', kvModel, kv, impossibleRead(kv));
});

// --- property: executions of a real register are linearizable --------------

interface Step {
  client: number;
  kind: 'read' | 'write' | 'cas';
  pick: number; // which written value a cas compares with
  think: number; // gap before the call
  before: number; // call -> linearization point
  after: number; // linearization point -> return
  lost: boolean; // outcome reported as unknown
}

const stepArb = fc.record({
  client: fc.integer({ min: 0, max: 3 }),
  kind: fc.constantFrom<'read' | 'write' | 'cas'>('read', 'write', 'cas'),
  pick: fc.nat(),
  think: fc.integer({ min: 0, max: 6 }),
  before: fc.integer({ min: 0, max: 6 }),
  after: fc.integer({ min: 0, max: 6 }),
  lost: fc.boolean(),
});

/**
 * Run the steps on a sequential register: each client issues its steps one
 * after another, each takes effect at a point inside its [call, ret]
 * interval; executing in the order of those points gives the outputs. Lost
 * operations (unknown outcome) take effect or not, by `pick` parity.
 */
function execute(steps: Step[]): RegisterOp[] {
  const clock = [0, 0, 0, 0];
  const timed = steps.map((s, idx) => {
    const call = clock[s.client]! + s.think + 1;
    const lp = call + s.before;
    const ret = lp + s.after;
    clock[s.client] = ret;
    return { s, idx, call, lp, ret };
  });
  const order = [...timed].sort((a, b) => a.lp - b.lp || a.idx - b.idx);
  let value: number | null = null;
  let nextValue = 100;
  const written: number[] = [];
  const ops: RegisterOp[] = new Array<RegisterOp>(steps.length);
  for (const t of order) {
    const effective = !t.s.lost || t.s.pick % 2 === 0;
    const ret = t.s.lost ? Infinity : t.ret;
    let op: RegisterOp;
    if (t.s.kind === 'read') {
      op = { client: t.s.client, input: { kind: 'read' }, output: { kind: 'read', value }, call: t.call, ret };
    } else if (t.s.kind === 'write') {
      const v = nextValue++;
      if (effective) value = v;
      written.push(v);
      op = { client: t.s.client, input: { kind: 'write', value: v }, output: { kind: 'write' }, call: t.call, ret };
    } else {
      const from = written.length === 0 || t.s.pick % 3 === 0 ? null : written[t.s.pick % written.length]!;
      const to = nextValue++;
      const holds = value === from;
      if (holds && effective) value = to;
      written.push(to);
      op = { client: t.s.client, input: { kind: 'cas', from, to }, output: { kind: 'cas', ok: holds }, call: t.call, ret };
    }
    ops[t.idx] = op;
  }
  return ops;
}

test('property: executions of a sequential register are linearizable; a never-written read value is not', () => {
  fc.assert(
    fc.property(fc.array(stepArb, { minLength: 1, maxLength: 40 }), fc.nat(), (steps, which) => {
      const ops = execute(steps);
      if (!checkLinearizable(registerModel, ops).ok || !checkLinearizable(bareRegisters, ops).ok) return false;
      const reads = ops.map((o, i) => [o, i] as const).filter(([o]) => o.input.kind === 'read' && o.ret !== Infinity);
      if (reads.length === 0) return true;
      const [victim, at] = reads[which % reads.length]!;
      const mutated = ops.slice();
      mutated[at] = { ...victim, output: { kind: 'read', value: -1 } };
      return !checkLinearizable(registerModel, mutated).ok && !checkLinearizable(bareRegisters, mutated).ok;
    }),
    { numRuns: 300 },
  );
});

test('property: a successful cas from a never-written value is not linearizable', () => {
  fc.assert(
    fc.property(fc.array(stepArb, { minLength: 1, maxLength: 30 }), fc.nat(), (steps, which) => {
      const ops = execute(steps);
      const cas = ops.map((o, i) => [o, i] as const).filter(([o]) => o.input.kind === 'cas' && o.ret !== Infinity);
      if (cas.length === 0) return true;
      const [victim, at] = cas[which % cas.length]!;
      if (victim.input.kind !== 'cas') return false;
      const mutated = ops.slice();
      mutated[at] = { ...victim, input: { ...victim.input, from: -1 }, output: { kind: 'cas', ok: true } };
      return !checkLinearizable(registerModel, mutated).ok;
    }),
    { numRuns: 200 },
  );
});

test.run();
