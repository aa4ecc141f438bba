// JSON-lines logs of one host (pino). Every line carries the host id and the
// cluster, so logs of several hosts can be merged and still be told apart.
// Writes are synchronous: a host that exits or is killed right after logging
// (a crash test, a fatal error) must not lose its last lines in a buffer.
import { pino, type Logger as PinoLogger } from 'pino';

export type Logger = PinoLogger;

export interface LoggerOptions {
  host: number;
  cluster: string;
  /** Default: info. */
  level?: string;
  /** A file path or a file descriptor; default: stdout. */
  destination?: string | number;
}

/** Levels a logger accepts, most verbose first. */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

export function createLogger(opts: LoggerOptions): Logger {
  const level = opts.level ?? 'info';
  if (!(LOG_LEVELS as readonly string[]).includes(level)) {
    throw new Error(`log level: expected one of ${LOG_LEVELS.join(', ')}, got "${level}"`);
  }
  // mkdir: a log path under a fresh directory (/var/log/gallocy/host-1.log) should not need a setup step.
  const dest = pino.destination({ dest: opts.destination ?? 1, sync: true, mkdir: true });
  return pino(
    {
      level,
      base: { host: opts.host, cluster: opts.cluster },
      timestamp: pino.stdTimeFunctions.isoTime,
      // "level":"info" reads better in a JSON line than pino's number, and jq can filter on it.
      formatters: { level: (label) => ({ level: label }) },
    },
    dest,
  );
}

/** The (event, fields) callback the transport and admin server log through, as one info line per event. */
export function logEvent(logger: Logger): (event: string, fields: object) => void {
  return (event, fields) => logger.info({ event, ...fields });
}
