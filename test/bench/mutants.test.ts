// The mutation benchmark (npm run mutants) without building or fuzzing
// anything real: every mutant in bench/mutants applies cleanly to this tree
// (so a refactor that moves the code under a mutant fails here, not hours
// later in the benchmark), the file format rejects what it should with the
// file and line, and the hunt's schedule finds, skips and times out the seeds
// a stand-in `gallocy fuzz` says it should.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cpuLimit, runNode } from '../../bench/mutants/child.js';
import { hunt } from '../../bench/mutants/hunt.js';
import { applyMutant, FAMILIES, MutantFormatError, parseMutant, type Mutant } from '../../bench/mutants/mutant.js';
import { familyScenarios, FIRST_SCENARIOS, loadMutants, summarize, type MutantReport } from '../../bench/mutants/run.js';
import { findRepoRoot } from '../../src/cli/repo-root.js';
import { parseScenarioText } from '../../src/cli/scenario-file.js';

const root = findRepoRoot();
const readTree = (p: string): string | null => {
  try {
    return readFileSync(path.join(root, p), 'utf8');
  } catch {
    return null;
  }
};

function formatError(text: string): string {
  try {
    parseMutant(text, 'x.mutant');
  } catch (err) {
    if (err instanceof MutantFormatError) return err.message;
    throw err;
  }
  throw new Error('expected a MutantFormatError');
}

const HEADER = '# name: x\n# family: raft\n# class: c\n# source: s\n# checker: k\n';
const block = (file: string, search: string, replace: string): string =>
  `@@ ${file}\n<<<<<<< SEARCH\n${search}\n=======\n${replace}\n>>>>>>> REPLACE\n`;

test('every mutant applies cleanly to this tree and changes only what its blocks name', () => {
  const mutants = loadMutants(root);
  const problems: string[] = [];
  for (const m of mutants) {
    const r = applyMutant(m, readTree);
    if (!r.ok) {
      problems.push(`${m.name}: ${r.problems.join('; ')}`);
      continue;
    }
    for (const [p, text] of r.files) assert.is.not(text, readTree(p), `${m.name} leaves ${p} as it was`);
    for (const f of m.files) assert.ok(/^src\/(raft|vmm|host)\//.test(f.path), `${m.name} patches ${f.path}, outside src/raft, src/vmm and src/host`);
  }
  assert.equal(problems, [], `stale mutants (the code they patch moved):\n${problems.join('\n')}`);
});

test('the benchmark has at least 25 counted mutants, every family, unique names', () => {
  const mutants = loadMutants(root);
  const counted = mutants.filter((m) => m.equivalent === null);
  assert.ok(counted.length >= 25, `only ${counted.length} non-equivalent mutants`);
  for (const f of FAMILIES) assert.ok(mutants.some((m) => m.family === f), `no mutant of family ${f}`);
  assert.is(new Set(mutants.map((m) => m.name)).size, mutants.length);
  for (const m of mutants.filter((x) => x.equivalent !== null)) assert.ok(m.equivalent!.length > 80, `${m.name}: argue the equivalence`);
});

test('a parsed mutant keeps its header fields, continuation lines and blocks', () => {
  const text = `${HEADER.replace('# source: s\n', '# source: first part\n#   second part\n# prose that is no field\n')}${block('src/a.ts', 'x = 1;', 'x = 2;')}`;
  const m = parseMutant(text, 'x.mutant');
  assert.is(m.source, 'first part second part');
  assert.is(m.checker, 'k');
  assert.is(m.equivalent, null);
  assert.equal(m.files, [{ path: 'src/a.ts', blocks: [{ line: 9, search: 'x = 1;', replace: 'x = 2;' }] }]);
});

test('a malformed mutant file is refused with the file, the line and what was expected', () => {
  assert.match(formatError(`# name: x\n# family: raft\n${block('src/a.ts', 'a', 'b')}`), "x.mutant: missing header field '# class: ...'");
  assert.match(formatError(HEADER.replace('raft', 'paxos') + block('src/a.ts', 'a', 'b')), "field 'family': expected one of raft, dsm, heap, host, got 'paxos'");
  assert.match(formatError(`${HEADER}@@ src/a.ts\n<<<<<<< SEARCH\na\n=======\nb\n`), "x.mutant:7: block not closed by '=======' and '>>>>>>> REPLACE'");
  assert.match(formatError(HEADER + block('src/a.ts', 'same', 'same')), 'x.mutant:7: the replacement equals the search text');
  assert.match(formatError(HEADER + block('../etc/passwd', 'a', 'b')), "x.mutant:6: expected a path inside the repository after '@@ '");
  assert.match(formatError(`${HEADER}stray text\n`), "x.mutant:6: expected '@@ path' or '<<<<<<< SEARCH', got 'stray text'");
  assert.match(formatError(HEADER), "x.mutant: no '@@ path' section after the header");
});

test('a patch whose search text is gone, repeated or in a missing file is stale', () => {
  const m = (search: string, file = 'src/a.ts'): Mutant => parseMutant(HEADER + block(file, search, 'z'), 'x.mutant');
  const tree = (p: string): string | null => (p === 'src/a.ts' ? 'let a = 1;\nlet b = 1;\n' : null);
  assert.equal(applyMutant(m('let c'), tree), { ok: false, problems: ['src/a.ts: the block at line 7 of the mutant is not in the file'] });
  assert.equal(applyMutant(m(' = 1;'), tree), { ok: false, problems: ['src/a.ts: the block at line 7 of the mutant occurs 2 times'] });
  assert.equal(applyMutant(m('a', 'src/b.ts'), tree), { ok: false, problems: ['src/b.ts: no such file'] });
  const ok = applyMutant(m('let b = 1;'), tree);
  assert.equal(ok, { ok: true, files: new Map([['src/a.ts', 'let a = 1;\nz\n']]) });
});

test('families hunt their own scenarios; one that expects a violation never hunts', () => {
  const f = familyScenarios(root);
  assert.ok(f.raft.length >= 6 && f.raft.every((s) => s.startsWith('raft-')), f.raft.join());
  assert.ok(f.dsm.includes('dsm-chaos') && !f.dsm.includes('dsm-clock-unsafe'), f.dsm.join());
  const sharp = FIRST_SCENARIOS.filter((s) => s.startsWith('dsm-'));
  assert.equal(f.dsm.slice(0, sharp.length), sharp, 'the small-scope scenarios lead each round');
  assert.ok(f.heap[0]!.startsWith('bench/mutants/scenarios/heap-'), f.heap.join());
  assert.equal(f.host, [...f.raft, ...f.dsm.filter((s) => !s.startsWith('bench/'))]);
  for (const s of f.heap.filter((x) => x.startsWith('bench/'))) {
    const scenario = parseScenarioText(readFileSync(path.join(root, s), 'utf8'), s).base;
    assert.is(`bench/mutants/scenarios/${scenario.name}.yaml`, s);
    assert.is(scenario.dsm?.workload, 'alloc-churn');
  }
});

const report = (mutant: string, verdict: MutantReport['verdict'], seconds: number | null): MutantReport => ({
  mutant, family: 'raft', verdict, seconds, cpuSeconds: seconds, invariant: null, expected: 'k', scenario: null, seed: null,
  message: null, replay: null, reproduced: null, seeds: 0, scenarios: [], preexisting: [], problems: [],
});

test('the summary counts survivors as slower than the budget and leaves equivalents out', () => {
  const s = summarize([report('a', 'killed', 2), report('b', 'killed', 8), report('c', 'survived', 120), report('d', 'equivalent', null)], 120);
  assert.is(s['killRate'], 0.67);
  assert.is(s['medianSeconds'], 8);
  assert.is(s['maxSeconds'], 8);
  assert.equal(s['survivors'], ['c']);
  const mostlySurvived = summarize([report('a', 'killed', 2), report('c', 'survived', 120), report('e', 'survived', 120)], 120);
  assert.is(mostlySurvived['medianSeconds'], null);
});

// A stand-in for `gallocy fuzz`: scenario "b" fails at seed 6 (the original
// code fails seed 6 of "c" too), and seed 3 of "hang" never finishes.
const fakeTrees: string[] = [];
test.after(() => {
  for (const d of fakeTrees) rmSync(d, { recursive: true, force: true });
});

function fakeTree(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'gallocy-mutants-test-'));
  fakeTrees.push(dir);
  mkdirSync(path.join(dir, 'bin'));
  writeFileSync(path.join(dir, 'bin', 'gallocy.js'), `
const arg = (f) => process.argv[process.argv.indexOf(f) + 1];
const scenario = arg('--scenario'), start = Number(arg('--start')), seeds = Number(arg('--seeds'));
const failAt = { b: 6, c: 6 }[scenario];
const failures = [];
let ran = 0;
for (let s = start; s < start + seeds; s++) {
  ran++;
  if (scenario === 'hang' && s === 3) for (;;) {}
  if (s === failAt) { failures.push({ seed: s, invariant: 'election-safety', message: 'two leaders\\nmore', replay: '' }); break; }
}
process.stdout.write(JSON.stringify({ scenario, seeds: ran, start, failures, events: 0, simSeconds: 0, wallSeconds: 0 }));
process.exitCode = failures.length > 0 ? 1 : 0;
`);
  return dir;
}

test('the hunt finds the first failing seed, in rounds over the scenarios', async () => {
  const asked: string[] = [];
  const r = await hunt({
    dir: fakeTree(), scenarios: ['a', 'b'], budgetSeconds: 60, seedTimeoutSeconds: 30,
    originalPasses: async (s, seed) => {
      asked.push(`${s}:${seed}`);
      return true;
    },
  });
  assert.equal(r.kill, { scenario: 'b', seed: 6, invariant: 'election-safety', message: 'two leaders' });
  assert.equal(asked, ['b:6']);
  // Rounds of 1, 2 and 4 seeds: a 1..7 and b 1..3 pass, then b 4..6 stops at 6.
  assert.is(r.seeds, 7 + 6);
  assert.ok(r.wallSeconds > 0 && r.cpuSeconds > 0);
});

test('a failure the original code shares is skipped; a seed that hangs is the kill', async () => {
  const dir = fakeTree();
  const shared = await hunt({ dir, scenarios: ['c'], budgetSeconds: 2, seedTimeoutSeconds: 30, originalPasses: async () => false });
  assert.is(shared.kill, null);
  assert.equal(shared.preexisting.map((k) => `${k.scenario}:${k.seed}`), ['c:6']);
  // A seed's limit well above a loaded machine's process start, so only the endless one is the hang.
  const hang = await hunt({ dir, scenarios: ['hang'], budgetSeconds: 120, seedTimeoutSeconds: 8, originalPasses: async () => true });
  assert.equal(hang.kill, { scenario: 'hang', seed: 3, invariant: 'hang', message: 'seed 3 ran longer than 8 s' });
});

test('a CPU limit stops a process that computes, not one that waits', async () => {
  const dir = fakeTree();
  const waits = await runNode(['-e', 'setTimeout(() => {}, 1500)'], dir, cpuLimit(1));
  assert.is(waits.timedOut, false);
  assert.is(waits.code, 0);
  assert.ok(waits.wallSeconds >= 1.5 && waits.cpuSeconds !== null && waits.cpuSeconds < 1);
  const spins = await runNode(['-e', 'for (;;) {}'], dir, cpuLimit(1));
  assert.is(spins.timedOut, true);
  assert.ok(spins.cpuSeconds !== null && spins.cpuSeconds >= 1, `stopped at ${spins.cpuSeconds} CPU s`);
});

test('an explorer interlude runs once after its round; its kill ends the hunt unless the original shares it', async () => {
  const dir = fakeTree();
  const kill = { scenario: 'raft-tiny', seed: 1, invariant: 'election-safety', message: 'two leaders', choices: '/tmp/x.choices.json' };
  const ran: number[] = [];
  const interlude = (found: boolean) => ({
    afterBatches: 2,
    run: async () => {
      ran.push(r.seeds);
      return { kill: found ? kill : null, wallSeconds: 0.5, cpuSeconds: 0.25, error: null };
    },
  });
  const r = { seeds: 0 };
  const killed = await hunt({
    dir, scenarios: ['a'], budgetSeconds: 60, seedTimeoutSeconds: 30, originalPasses: async () => true,
    interludes: [interlude(true)], originalPassesPath: async () => true,
  });
  assert.equal(killed.kill, kill);
  // Two campaigns of scenario a ran (rounds 0 and 1: 1 + 2 seeds) before it.
  assert.is(killed.seeds, 3);
  assert.ok(killed.cpuSeconds >= 0.25);
  const shared = await hunt({
    dir, scenarios: ['b'], budgetSeconds: 60, seedTimeoutSeconds: 30, originalPasses: async () => true,
    interludes: [interlude(true)], originalPassesPath: async () => false,
  });
  assert.equal(shared.preexisting, [kill]);
  assert.equal(shared.kill?.seed, 6, 'the fuzz rounds go on and find seed 6 of b');
  assert.is(ran.length, 2);
});

test.run();
