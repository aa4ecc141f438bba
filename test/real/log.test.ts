// Host logs: JSON lines with host, cluster, ISO time and the event, written
// synchronously to a file destination; levels filter; a bad level is refused.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createLogger, logEvent } from '../../src/real/log.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'gallocy-log-'));
test.after(() => rmSync(tmp, { recursive: true, force: true }));

function lines(file: string): Record<string, unknown>[] {
  return readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
}

test('logEvent writes one JSON line per event with host, cluster, level and ISO time (folder created)', () => {
  const file = path.join(tmp, 'new-dir', 'a.log'); // the folder is created
  const logger = createLogger({ host: 3, cluster: 'c-1', destination: file });
  const log = logEvent(logger);
  log('connected', { peer: 2 });
  log('drop', { reason: 'malformed', bytes: 12 });
  // Synchronous destination: the lines are in the file now, without a flush.
  const got = lines(file);
  assert.is(got.length, 2);
  assert.is(got[0]!.host, 3);
  assert.is(got[0]!.cluster, 'c-1');
  assert.is(got[0]!.event, 'connected');
  assert.is(got[0]!.peer, 2);
  assert.is(got[0]!.level, 'info');
  assert.match(String(got[0]!.time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  assert.equal([got[1]!.event, got[1]!.reason, got[1]!.bytes], ['drop', 'malformed', 12]);
});

test('the level filters', () => {
  const file = path.join(tmp, 'b.log');
  const logger = createLogger({ host: 1, cluster: 'c', level: 'warn', destination: file });
  logger.info({ event: 'quiet' });
  logger.warn({ event: 'loud' });
  assert.equal(lines(file).map((l) => [l.event, l.level]), [['loud', 'warn']]);
});

test('an unknown level is an error naming the allowed ones', () => {
  assert.throws(() => createLogger({ host: 1, cluster: 'c', level: 'verbose' }), (err: Error) =>
    /"verbose"/.test(err.message) && /trace, debug, info, warn, error, fatal, silent/.test(err.message));
});

test.run();
