// Runs one Node process of the benchmark (a build, a fuzz campaign, a replay)
// with a time limit, and measures its wall and CPU time. The limit may be in
// CPU seconds, so that a machine other work keeps busy does not turn a
// mutant's kill into a survivor: the process's CPU time is read from
// /proc/PID/stat while it runs (bench/proc-stat.ts; elsewhere the limit falls back to wall time).
import { spawn } from 'node:child_process';
import { processCpuSeconds } from '../proc-stat.js';

/** The line cpu-hook.ts writes on stderr as the process exits. */
export const CPU_TAG = 'gallocy-mutants-cpu-seconds ';
const CPU_HOOK = new URL('./cpu-hook.js', import.meta.url).href;

export interface ChildResult {
  /** Exit code; null when killed (timedOut) or ended by a signal. */
  code: number | null;
  stdout: string;
  stderr: string;
  wallSeconds: number;
  /** CPU seconds of the process, all threads; when killed, the last reading (null if none). */
  cpuSeconds: number | null;
  /** Killed at the time limit. */
  timedOut: boolean;
}

/** A limit in wall seconds, or in CPU seconds of the process with a wall-clock backstop. */
export type TimeLimit = number | { cpuSeconds: number; wallSeconds: number };

/** A process that gets less than 1/WALL_BACKSTOP of a core is stopped all the same. */
const WALL_BACKSTOP = 20;

/** A limit of `seconds` of CPU time. */
export function cpuLimit(seconds: number): TimeLimit {
  return { cpuSeconds: seconds, wallSeconds: WALL_BACKSTOP * seconds + 60 };
}

/** How often a CPU limit is checked. */
const CPU_POLL_MS = 200;
/** Runs `node args...` in cwd; past the limit the process is killed. */
export function runNode(args: readonly string[], cwd: string, limit: TimeLimit): Promise<ChildResult> {
  const { cpuSeconds: cpuLimit, wallSeconds: wallLimit } = typeof limit === 'number' ? { cpuSeconds: null, wallSeconds: limit } : limit;
  return new Promise((resolve) => {
    const started = performance.now();
    const child = spawn(process.execPath, ['--import', CPU_HOOK, ...args], { cwd, env: { ...process.env, FORCE_COLOR: '0' } });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    let lastCpu: number | null = null;
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    const stop = (): void => {
      timedOut = true;
      child.kill('SIGKILL');
    };
    const timer = setTimeout(stop, Math.max(0, wallLimit) * 1000);
    const poll = cpuLimit === null ? undefined : setInterval(() => {
      lastCpu = child.pid === undefined ? null : processCpuSeconds(child.pid) ?? lastCpu;
      const elapsed = (performance.now() - started) / 1000;
      // Without /proc the CPU limit is a wall limit.
      if ((lastCpu ?? elapsed) >= cpuLimit) stop();
    }, CPU_POLL_MS);
    child.on('close', (code) => {
      clearTimeout(timer);
      clearInterval(poll);
      const tagged = stderr.split('\n').filter((l) => l.startsWith(CPU_TAG));
      const cpu = tagged.length > 0 ? Number(tagged[tagged.length - 1]!.slice(CPU_TAG.length)) : NaN;
      resolve({
        code: timedOut ? null : code,
        stdout,
        stderr: stderr.split('\n').filter((l) => !l.startsWith(CPU_TAG)).join('\n').trim(),
        wallSeconds: (performance.now() - started) / 1000,
        cpuSeconds: Number.isFinite(cpu) ? cpu : lastCpu,
        timedOut,
      });
    });
  });
}
