// The fuzz progress bar: drawn on stderr only when it is a terminal, so piped
// or --json output stays clean and CI logs are not filled with redraws.
import cliProgress from 'cli-progress';
import type { Io } from './output.js';

export interface Progress {
  update(done: number, failures: number, events: number): void;
  stop(): void;
}

export function createProgress(io: Io, total: number, now: () => number): Progress {
  if (!io.errIsTTY) return { update() {}, stop() {} };
  const started = now();
  const bar = new cliProgress.SingleBar(
    {
      stream: io.errStream,
      format: 'fuzz [{bar}] {value}/{total} seeds | {failures} failed | {eps} events/s | ETA {eta_formatted}',
      barsize: 30,
      hideCursor: true,
      clearOnComplete: true,
      etaBuffer: 50,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, 0, { failures: 0, eps: '0' });
  // The bar hides the cursor; give it back if the user interrupts the campaign.
  const onSigint = (): void => {
    bar.stop();
    process.exit(130);
  };
  process.once('SIGINT', onSigint);
  return {
    update(done, failures, events) {
      const secs = (now() - started) / 1000;
      const eps = secs > 0 ? Math.round(events / secs).toLocaleString('en-US') : '0';
      bar.update(done, { failures, eps });
    },
    stop() {
      process.removeListener('SIGINT', onSigint);
      bar.stop();
    },
  };
}
