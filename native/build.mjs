#!/usr/bin/env node
// Builds the native page-fault shim into native/build/libgallocy_shim.so.
// Runs from `npm install` / `npm ci` (the package's prepare script). It never
// fails the install: on an unsupported platform or without a C compiler it
// prints one line and exits 0, and real mode then reports itself unavailable.
import { execFileSync } from 'node:child_process';
import { mkdirSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const outDir = join(here, 'build');
const out = join(outDir, 'libgallocy_shim.so');
const src = join(here, 'gallocy_shim.c');

// GALLOCY_NATIVE_REQUIRED=1 (e.g. in CI) turns a skipped build into a failure.
const required = process.env.GALLOCY_NATIVE_REQUIRED === '1';

function skip(reason) {
  const line = `gallocy: native shim not built (${reason}); real mode will be unavailable`;
  if (required) {
    console.error(line);
    process.exit(1);
  }
  console.log(line);
  process.exit(0);
}

if (process.platform !== 'linux') skip(`platform ${process.platform} is not linux`);
if (process.arch !== 'x64') skip(`architecture ${process.arch} is not x64`);

const cc = process.env.CC || 'cc';
try {
  execFileSync(cc, ['--version'], { stdio: 'ignore' });
} catch {
  skip(`no C compiler found (tried "${cc}")`);
}

mkdirSync(outDir, { recursive: true });
const tmp = `${out}.${process.pid}.tmp`;
try {
  execFileSync(
    cc,
    ['-O2', '-fPIC', '-shared', '-pthread', '-Wall', '-Wextra', '-std=c11', '-fvisibility=hidden', '-o', tmp, src],
    { stdio: ['ignore', 'inherit', 'inherit'] },
  );
  renameSync(tmp, out); // atomic: a running process never sees a half-written library
} catch (err) {
  rmSync(tmp, { force: true });
  skip(`compiling ${src} with ${cc} failed: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`);
}
console.log(`gallocy: built ${out}`);
