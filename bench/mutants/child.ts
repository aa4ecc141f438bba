// Runs one Node process of the benchmark (a build, a fuzz campaign, a replay)
// with a time limit, and measures its wall and CPU time.
import { spawn } from 'node:child_process';

/** The line cpu-hook.ts writes on stderr as the process exits. */
export const CPU_TAG = 'gallocy-mutants-cpu-seconds ';
const CPU_HOOK = new URL('./cpu-hook.js', import.meta.url).href;

export interface ChildResult {
  /** Exit code; null when killed (timedOut) or ended by a signal. */
  code: number | null;
  stdout: string;
  stderr: string;
  wallSeconds: number;
  /** CPU seconds of the process, all threads; null if it could not report them (killed). */
  cpuSeconds: number | null;
  /** Killed at the time limit. */
  timedOut: boolean;
}

/** Runs `node args...` in cwd; past timeoutSeconds the process is killed. */
export function runNode(args: readonly string[], cwd: string, timeoutSeconds: number): Promise<ChildResult> {
  return new Promise((resolve) => {
    const started = performance.now();
    const child = spawn(process.execPath, ['--import', CPU_HOOK, ...args], { cwd, env: { ...process.env, FORCE_COLOR: '0' } });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, Math.max(0, timeoutSeconds) * 1000);
    child.on('close', (code) => {
      clearTimeout(timer);
      const tagged = stderr.split('\n').filter((l) => l.startsWith(CPU_TAG));
      const cpu = tagged.length > 0 ? Number(tagged[tagged.length - 1]!.slice(CPU_TAG.length)) : NaN;
      resolve({
        code: timedOut ? null : code,
        stdout,
        stderr: stderr.split('\n').filter((l) => !l.startsWith(CPU_TAG)).join('\n').trim(),
        wallSeconds: (performance.now() - started) / 1000,
        cpuSeconds: Number.isFinite(cpu) ? cpu : null,
        timedOut,
      });
    });
  });
}
