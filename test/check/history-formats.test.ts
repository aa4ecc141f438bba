import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { detectFormat, parseEdnFlatMap, parseHistory, parseJepsenRegisterLog, parseKvEdnLog } from '../../src/check/history-formats.js';

import { historyData, readHistory } from './history-data.js';

const J = (p: number, type: string, f: string, v: string): string => `INFO  jepsen.util - ${p}\t:${type}\t:${f}\t${v}`;

test('jepsen: ok, fail, info and pending operations', () => {
  const text = [
    J(0, 'invoke', 'write', '4'),
    J(1, 'invoke', 'read', 'nil'),
    J(0, 'ok', 'write', '4'),
    J(1, 'ok', 'read', 'nil'),
    J(2, 'invoke', 'cas', '[1 0]'),
    J(2, 'fail', 'cas', '[1 0]'),
    J(3, 'invoke', 'cas', '[4 2]'),
    J(3, 'info', 'cas', ':timed-out'),
    J(4, 'invoke', 'write', '7'),
    J(5, 'invoke', 'read', 'nil'),
    J(5, 'fail', 'read', 'nil'),
    J(6, 'invoke', 'read', 'nil'),
    J(6, 'ok', 'read', '4'),
    '',
  ].join('\n');
  const ops = parseJepsenRegisterLog(text);
  assert.equal(ops, [
    { client: 0, input: { kind: 'write', value: 4 }, output: { kind: 'write' }, call: 1, ret: 3 },
    { client: 1, input: { kind: 'read' }, output: { kind: 'read', value: null }, call: 2, ret: 4 },
    { client: 2, input: { kind: 'cas', from: 1, to: 0 }, output: { kind: 'cas', ok: false }, call: 5, ret: 6 },
    { client: 3, input: { kind: 'cas', from: 4, to: 2 }, output: { kind: 'cas', ok: false }, call: 7, ret: Infinity },
    // still pending at the end: unknown outcome
    { client: 4, input: { kind: 'write', value: 7 }, output: { kind: 'write' }, call: 9, ret: Infinity },
    // the failed read of process 5 did not happen and is dropped
    { client: 6, input: { kind: 'read' }, output: { kind: 'read', value: 4 }, call: 12, ret: 13 },
  ]);
});

test('jepsen: fields separated by runs of spaces read as those separated by tabs', () => {
  const tabs = [J(0, 'invoke', 'cas', '[1 0]'), J(1, 'invoke', 'read', 'nil'), J(1, 'ok', 'read', '3'), J(0, 'fail', 'cas', '[1 0]')].join('\n');
  const spaces = tabs.split('\n').map((l, i) => l.replace(/\t/g, i % 2 === 0 ? '   ' : ' ')).join('\n');
  assert.not.match(spaces, '\t');
  assert.is(detectFormat(spaces), 'jepsen-register');
  assert.equal(parseJepsenRegisterLog(spaces), parseJepsenRegisterLog(tabs));
  assert.equal(parseHistory('2 :invoke :write 4\n2 \t :ok :write 4').operations, [{ client: 2, input: { kind: 'write', value: 4 }, output: { kind: 'write' }, call: 1, ret: 2 }]);
});

test('jepsen: errors name the line and what was expected', () => {
  assert.throws(() => parseJepsenRegisterLog(J(0, 'invoke', 'read', 'nil') + '\nhello'), /line 2: expected "INFO  jepsen\.util/);
  assert.throws(() => parseJepsenRegisterLog(J(0, 'ok', 'read', '1')), /line 1: :ok :read for process 0, which has no pending operation \(expected an :invoke first\)/);
  assert.throws(() => parseJepsenRegisterLog([J(0, 'invoke', 'read', 'nil'), J(0, 'invoke', 'write', '1')].join('\n')), /line 2: process 0 invokes :write but its :read from line 1 has not completed/);
  assert.throws(() => parseJepsenRegisterLog([J(0, 'invoke', 'read', 'nil'), J(0, 'ok', 'write', '1')].join('\n')), /line 2: .*pending operation is :read from line 1/);
  assert.throws(() => parseJepsenRegisterLog(J(0, 'invoke', 'cas', '3')), /line 1: :invoke :cas needs \[from to\]/);
  assert.throws(() => parseJepsenRegisterLog(J(0, 'invoke', 'write', 'nil')), /line 1: :invoke :write needs an integer value/);
  assert.throws(() => parseJepsenRegisterLog(J(0, 'invoke', 'read', '{}')), /line 1: bad value "\{\}": expected nil, an integer/);
  assert.throws(() => parseJepsenRegisterLog(J(0, 'invoke', 'delete', 'nil')), /line 1: unknown operation :delete: expected :read, :write or :cas/);
  assert.throws(() => parseJepsenRegisterLog(J(0, 'begin', 'read', 'nil')), /line 1: unknown type :begin: expected :invoke, :ok, :fail or :info/);
  assert.throws(() => parseJepsenRegisterLog([J(0, 'invoke', 'read', 'nil'), J(0, 'ok', 'read', ':x')].join('\n')), /line 2: :ok :read needs nil or an integer/);
});

test('edn: flat map parser', () => {
  const m = parseEdnFlatMap('{:process 9, :type :ok, :f :append, :key "0", :value "x \\"9\\" y", :n nil, :b true}', 1);
  assert.equal([...m.entries()], [
    ['process', 9],
    ['type', { keyword: 'ok' }],
    ['f', { keyword: 'append' }],
    ['key', '0'],
    ['value', 'x "9" y'],
    ['n', null],
    ['b', true],
  ]);
  assert.throws(() => parseEdnFlatMap('{:a 1', 3), /line 3, column 6: expected a keyword key or \}, got end of line/);
  assert.throws(() => parseEdnFlatMap('{:a "x', 3), /line 3, column 7: expected closing "/);
  assert.throws(() => parseEdnFlatMap('{:a [1 2]}', 4), /line 4, column 5: expected nil, true, false, an integer, a string or a keyword/);
  assert.throws(() => parseEdnFlatMap('(:a 1)', 5), /line 5, column 1: expected \{/);
  assert.throws(() => parseEdnFlatMap('{:a 1 :a 2}', 6), /line 6: duplicate key :a/);
  assert.throws(() => parseEdnFlatMap('{:a 1} x', 7), /line 7, column 8: expected end of line after \}/);
});

test('edn kv log: operations, nil get, fail dropped, info unknown', () => {
  const text = [
    '{:process 9, :type :invoke, :f :append, :key "0", :value "x 9 0 y"}',
    '{:process 2, :type :invoke, :f :get, :key "1", :value nil}',
    '{:process 9, :type :ok, :f :append, :key "0", :value "x 9 0 y"}',
    '{:process 2, :type :ok, :f :get, :key "1", :value nil}',
    '{:process 0, :type :invoke, :f :put, :key "3", :value "x 0 5 y"}',
    '{:process 0, :type :fail, :f :put, :key "3", :value "x 0 5 y"}',
    '{:process 1, :type :invoke, :f :put, :key "3", :value "z"}',
    '{:process 1, :type :info, :f :put, :key "3", :value "z"}',
  ].join('\n');
  assert.equal(parseKvEdnLog(text), [
    { client: 9, input: { kind: 'append', key: '0', value: 'x 9 0 y' }, output: null, call: 1, ret: 3 },
    { client: 2, input: { kind: 'get', key: '1' }, output: '', call: 2, ret: 4 },
    { client: 1, input: { kind: 'put', key: '3', value: 'z' }, output: null, call: 7, ret: Infinity },
  ]);
});

test('edn kv log: errors name the line and what was expected', () => {
  assert.throws(() => parseKvEdnLog('{:type :invoke, :f :get, :key "1", :value nil}'), /line 1: expected :process to be an integer/);
  assert.throws(() => parseKvEdnLog('\n{:process 1, :type :invoke, :f :cas, :key "1", :value nil}'), /line 2: expected :f to be :get, :put or :append/);
  assert.throws(() => parseKvEdnLog('{:process 1, :type :invoke, :f :get, :value nil}'), /line 1: expected :key to be a string/);
  assert.throws(() => parseKvEdnLog('{:process 1, :type :invoke, :f :put, :key "a", :value nil}'), /line 1: :invoke :put needs a string :value/);
  assert.throws(() => parseKvEdnLog('{:process 1, :type "ok", :f :put, :key "a", :value nil}'), /line 1: expected :type to be a keyword/);
  assert.throws(() => parseKvEdnLog('{:process 1, :type :ok, :f :put, :key "a", :value "v"}'), /line 1: :ok :put for process 1, which has no pending operation/);
});

test('detectFormat tells the formats apart by content', () => {
  assert.is(detectFormat('\n' + J(0, 'invoke', 'read', 'nil')), 'jepsen-register');
  assert.is(detectFormat('{:process 1, :type :invoke, :f :get, :key "1", :value nil}'), 'kv-edn');
  assert.is(detectFormat('hello world'), null);
  assert.is(detectFormat(''), null);
  assert.throws(() => parseHistory('\n\nhello'), /line 3: unrecognized history format/);
  assert.throws(() => parseHistory(''), /empty history/);
});

test('gallocy records: reads and writes of words from several hosts, checked as registers', () => {
  const rec = (host: number, thread: number, kind: string, value: number, call: number, ret: number): string =>
    JSON.stringify({ host, thread, kind, addr: 64, value, call, ret });
  const text = [rec(2, 1, 'read', 0, 1, 2), rec(1, 0, 'write', 7, 3, 5), rec(2, 1, 'read', 7, 6, 8)].join('\n');
  assert.is(detectFormat(text), 'gallocy-records');
  const p = parseHistory(text);
  assert.is(p.format, 'gallocy-records');
  assert.equal(p.operations[0], { client: 1, input: { kind: 'read', key: '64' }, output: { kind: 'read', value: null }, call: 1, ret: 2 });
  assert.equal(p.operations[1]?.input, { kind: 'write', key: '64', value: 7 });
  assert.throws(() => parseHistory(rec(1, 0, 'add', 1, 1, 2)), /line 1: field 'kind': expected "read" or "write"/);
  assert.throws(() => parseHistory(rec(1, 0, 'read', 1, 5, 2)), /line 1: 'ret' \(2\) is before 'call' \(5\)/);
  assert.throws(() => parseHistory('{"kind": "read"}\n{oops'), /line 1: field 'addr': expected a number/);
});

test('every Porcupine file parses and is detected by its content', () => {
  let n = 0;
  for (const sub of ['jepsen-etcd', 'kv']) {
    for (const f of readdirSync(historyData(sub)).sort()) {
      const text = readHistory(path.join(sub, f));
      const p = parseHistory(text);
      assert.is(p.format, sub === 'kv' ? 'kv-edn' : 'jepsen-register', f);
      assert.ok(p.operations.length > 0, f);
      for (const op of p.operations) assert.ok(op.call < op.ret, `${f}: call before return`);
      n++;
    }
  }
  assert.is(n, 56);
});

test.run();
