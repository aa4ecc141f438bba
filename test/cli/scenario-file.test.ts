// Scenario files: every shipped scenario validates, and bad files fail with a
// message naming the file, the field and what was expected.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parse } from 'yaml';
import { inputError } from '../input/input-error.js';
import { findRepoRoot } from '../../src/cli/repo-root.js';
import { DEFAULT_SCENARIO, listScenarioNames, loadScenario, parseScenarioText } from '../../src/cli/scenario-file.js';
import { FAULT_KINDS } from '../../src/sim/scenario.js';
import { validateSpec } from '../../src/sim/swarm.js';

const repoRoot = findRepoRoot();
const dir = path.join(repoRoot, 'scenarios');


test('every file in scenarios/ validates and is named after its file', () => {
  const files = readdirSync(dir).filter((f) => f.endsWith('.yaml'));
  assert.ok(files.length >= 6, `only ${files.length} scenario files`);
  for (const f of files) {
    const checked = validateSpec(parse(readFileSync(path.join(dir, f), 'utf8')));
    assert.ok(checked.ok, `${f}: ${checked.ok ? '' : JSON.stringify(checked.issues)}`);
    if (checked.ok) assert.is(checked.spec.base.name, f.replace(/\.yaml$/, ''), f);
    assert.match(readFileSync(path.join(dir, f), 'utf8'), /^# /, `${f} has a comment header`);
  }
});

test('the shipped scenarios exercise what they say', () => {
  const names = listScenarioNames();
  for (const n of ['raft-basic', 'raft-partitions', 'raft-crashes', 'raft-clock', 'raft-membership', 'raft-chaos']) {
    assert.ok(names.includes(n), `missing ${n}`);
  }
  assert.ok(names.includes(DEFAULT_SCENARIO));
  const chaos = loadScenario('raft-chaos').spec.base;
  assert.equal([...(chaos.faults.nemesis?.kinds ?? [])].sort(), [...FAULT_KINDS].sort());
  assert.is(chaos.faults.nemesis?.swarm, true);
  const basic = loadScenario('raft-basic').spec.base;
  assert.is(basic.hosts, 3);
  assert.is(basic.faults.schedule.length + (basic.faults.nemesis ? 1 : 0), 0);
  const membership = loadScenario('raft-membership').spec.base;
  assert.is(membership.initialVoters, 3);
  assert.is(loadScenario('raft-crashes').spec.base.disk.tornWrites, true);
});

test('loads by name with ref = name, and by path with ref = the path given', () => {
  const byName = loadScenario('raft-basic');
  assert.is(byName.ref, 'raft-basic');
  assert.is(byName.file, path.join(dir, 'raft-basic.yaml'));
  const rel = path.relative(process.cwd(), path.join(dir, 'raft-basic.yaml'));
  const byPath = loadScenario(rel);
  assert.is(byPath.ref, rel);
  assert.equal(byPath.spec, byName.spec);
});

test('an unknown name lists the available names', () => {
  const e = inputError(() => loadScenario('raft-nope'));
  assert.match(e.message, 'unknown scenario "raft-nope"');
  assert.match(e.message, 'raft-basic');
  assert.match(e.message, 'raft-chaos');
});

test('a schema issue names the file, the field, what was expected and the line', () => {
  const text = ['name: x', 'durationS: 10', 'hosts: 3', 'network:', '  loss: 2', 'faults:', '  nemesis:', '    kinds: [crash, meteor]'].join('\n');
  const e = inputError(() => parseScenarioText(text, '/tmp/x.yaml'));
  assert.match(e.message, '/tmp/x.yaml: field network.loss: expected number to be <=1 (line 5)');
  assert.match(e.message, /\/tmp\/x\.yaml: field faults\.nemesis\.kinds\[1\]: expected one of .*"crash".* \(line 8\)/);
});

test('missing and unknown fields are named', () => {
  const e = inputError(() => parseScenarioText('name: x\nhosts: 3\nhostz: 4\n', 'f.yaml'));
  assert.match(e.message, 'f.yaml: field durationS: expected number');
  assert.match(e.message, 'f.yaml: field hostz: expected a known field, got unrecognized key "hostz" (line 3)');
});

test('a YAML syntax error gives file, line and column', () => {
  const e = inputError(() => parseScenarioText('name: x\nhosts: [3\ndurationS: 5\n', 'bad.yaml'));
  assert.match(e.message, /^bad\.yaml:\d+:\d+: YAML syntax error \(line \d+, column \d+\)/);
  const dup = inputError(() => parseScenarioText('name: x\nname: y\n', 'dup.yaml'));
  assert.match(dup.message, /^dup\.yaml:2:1: YAML syntax error/);
});

test('an empty file and a missing file are input errors naming the file', () => {
  assert.match(inputError(() => parseScenarioText('', 'empty.yaml')).message, 'empty.yaml: field (top level): expected object');
  assert.match(inputError(() => loadScenario('/nonexistent/s.yaml')).message, '/nonexistent/s.yaml: cannot read scenario file: no such file');
});

test.run();
