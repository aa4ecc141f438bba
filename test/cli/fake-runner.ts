// A stand-in runSeed for fuzz and merge tests, so campaigns take milliseconds:
// every 4th seed reports an election-safety violation (seed 0 too), seed 13
// throws (a crash), the rest pass; events are 100 + seed, 2 simulated seconds each;
// odd seeds reach one probe once, seeds divisible by 3 fire one fault point seed times.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Io } from '../../src/cli/output.js';

/** Writes the runner module into `dir`; returns its URL for FuzzDeps.runnerModule. */
export function writeFakeRunner(dir: string): string {
  const file = path.join(dir, 'fake-runner.mjs');
  writeFileSync(
    file,
    `export function runSeed(scenario, seed) {
      if (seed === 13) throw new Error('boom at seed 13');
      const violation = seed % 4 === 0
        ? { invariant: 'election-safety', message: 'two leaders in term ' + seed, timeUs: 1000, lastEvents: [{ t: 1000, host: 1, kind: 'leader', group: 0, term: seed }] }
        : null;
      return { scenario: scenario.name, seed, traceHash: 'h' + seed, events: 100 + seed, simSeconds: 2,
               violation, faultKinds: [], stats: {}, probes: { 'raft.snapshot-installed': seed % 2, 'host.boot-failed': 0 },
               faultPointsFired: seed % 3 === 0 ? { 'raft.split-ready': seed } : {} };
    }\n`,
  );
  return pathToFileURL(file).href;
}

/** The seeds the fake runner fails, of a list. */
export function fakeFailures(seeds: readonly number[]): number[] {
  return seeds.filter((s) => s % 4 === 0 || s === 13);
}

export function capture(): Io & { stdout: () => string; stderr: () => string } {
  let out = '';
  let err = '';
  return {
    out: (t) => void (out += t),
    err: (t) => void (err += t),
    errIsTTY: false,
    errStream: process.stderr,
    stdout: () => out,
    stderr: () => err,
  };
}
