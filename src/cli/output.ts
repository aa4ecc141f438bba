// Where commands write, and small formatting helpers. Commands take an `Io`
// instead of touching process.stdout directly so tests can run them in-process
// and read what they printed.

export interface Io {
  out(text: string): void;
  err(text: string): void;
  /** Whether stderr is a terminal (progress bars only then). */
  errIsTTY: boolean;
  /** The stream a progress bar draws on (only used when errIsTTY). */
  errStream: NodeJS.WriteStream;
}

export function processIo(): Io {
  return {
    out: (t) => void process.stdout.write(t),
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
