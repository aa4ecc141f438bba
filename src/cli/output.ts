// Where commands write, and small formatting helpers. Commands take an `Io`
// instead of touching process.stdout directly so tests can run them in-process
// and read what they printed.
import { formatTraceEvent, type TraceEvent } from '../host/trace-events.js';

export interface Io {
  out(text: string): void;
  err(text: string): void;
  /** Whether stderr is a terminal (progress bars only then). */
  errIsTTY: boolean;
  /** The stream a progress bar draws on (only used when errIsTTY). */
  errStream: NodeJS.WriteStream;
}

/** Set once stdout's reader went away (`gallocy status | head`): later output is dropped, the command ends normally. */
let stdoutClosed = false;
let watchingStdout = false;

/** A closed pipe is the reader's choice, not a failure: without a listener, Node throws EPIPE as an uncaught error. */
function watchStdout(): void {
  if (watchingStdout) return;
  watchingStdout = true;
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
    stdoutClosed = true;
  });
}

export function processIo(): Io {
  watchStdout();
  return {
    out: (t) => void (stdoutClosed || process.stdout.write(t)),
    err: (t) => void process.stderr.write(t),
    errIsTTY: process.stderr.isTTY === true,
    errStream: process.stderr,
  };
}

/** Quotes a word for a POSIX shell only when it needs it, so replay commands can be pasted. */
export function shellQuote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

export function replayCommand(scenarioRef: string, seed: number): string {
  return `gallocy replay --scenario ${shellQuote(scenarioRef)} --seed ${seed}`;
}

export function shrinkCommandLine(scenarioRef: string, seed: number): string {
  return `gallocy shrink --scenario ${shellQuote(scenarioRef)} --seed ${seed}`;
}

/** A violation's window of last events, one readable line each, under a heading (nothing if empty). */
export function formatLastEvents(events: readonly TraceEvent[], indent = '  '): string[] {
  if (events.length === 0) return [];
  return [`${indent}last ${events.length === 1 ? 'event' : `${events.length} events`}:`, ...events.map((e) => `${indent}  ${formatTraceEvent(e)}`)];
}

/** 1234567 -> "1,234,567" (fixed locale so output does not depend on the machine). */
export function formatCount(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

export function formatSeconds(s: number, digits = 3): string {
  return `${s.toFixed(digits)} s`;
}

/** Events per wall second, guarding a zero-length interval. */
export function rate(events: number, wallSeconds: number): number {
  return wallSeconds > 0 ? events / wallSeconds : 0;
}
