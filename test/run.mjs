#!/usr/bin/env node
// Runs every compiled uvu test file (dist/test/**/*.test.js), each in its own
// process, two at a time (one per core), and ends with one line:
// "N passed, N failed". Usage: node test/run.mjs [filter-substring]
import { spawn } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { readdirSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const testDir = join(root, 'dist', 'test');
const filter = process.argv[2] ?? '';

function list(dir) {
  return readdirSync(dir).sort().flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return list(p);
    return name.endsWith('.test.js') ? [p] : [];
  });
}

const files = list(testDir).filter((f) => relative(testDir, f).includes(filter));
if (files.length === 0) {
  console.error(`no test files under ${testDir}${filter ? ` matching ${filter}` : ''}: run npm run build`);
  process.exit(1);
}

const strip = (s) => s.replace(/\x1b\[[0-9;]*m/g, '');
let passed = 0;
let failed = 0;
const failedFiles = [];

function runFile(file) {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(process.execPath, [file], { cwd: root, env: { ...process.env, FORCE_COLOR: '0' } });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('close', (code, signal) => {
      const text = strip(out);
      const total = Number(/Total:\s+(\d+)/.exec(text)?.[1] ?? 0);
      const ok = Number(/Passed:\s+(\d+)/.exec(text)?.[1] ?? 0);
      const name = relative(root, file);
      const secs = ((Date.now() - started) / 1000).toFixed(1);
      const bad = code !== 0 || total === 0 || ok < total;
      passed += ok;
      failed += Math.max(total - ok, bad && total === ok ? 1 : 0);
      if (bad) {
        failedFiles.push(name);
        process.stdout.write(`\n--- ${name} FAILED (exit ${code ?? signal}, ${secs} s) ---\n${text}\n`);
      } else {
        process.stdout.write(`ok   ${name}  (${ok} tests, ${secs} s)\n`);
      }
      resolve();
    });
  });
}

const queue = [...files];
const jobs = Math.max(1, Math.min(availableParallelism(), 2));
await Promise.all(Array.from({ length: jobs }, async () => {
  while (queue.length > 0) await runFile(queue.shift());
}));
if (failedFiles.length > 0) console.log(`\nfailed files: ${failedFiles.join(', ')}`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
