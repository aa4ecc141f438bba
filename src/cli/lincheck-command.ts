// `gallocy lincheck FILE...`: wires the command line to the history checker in
// lincheck.ts (written separately). Exit 0 if every history is linearizable,
// 1 if any is not, 2 if a file cannot be read or parsed (naming the file).
import { statSync } from 'node:fs';
import path from 'node:path';
import { EXIT_CHECK_FAILED, EXIT_OK, InputError } from '../input/errors.js';
import type { Io } from './output.js';

export interface LincheckArgs {
  files: string[];
  json: boolean;
  /** Search step budget per file; beyond it the verdict is 'unknown' (and the exit code 1). */
  maxSteps?: number;
}

export async function lincheckCommand(args: LincheckArgs, io: Io): Promise<number> {
  if (args.files.length === 0) throw new InputError('lincheck: expected at least one history FILE');
  for (const f of args.files) checkReadable(f);
  // Loaded on demand: the checker is not needed by fuzz or replay.
  const { lincheckFiles, formatLincheckText } = await import('./lincheck.js');
  let results: Awaited<ReturnType<typeof lincheckFiles>>;
  try {
    results = await lincheckFiles(args.files, args.maxSteps === undefined ? {} : { maxSteps: args.maxSteps });
  } catch (err) {
    throw await blameFile(args.files, err, lincheckFiles);
  }
  const all = results.every((r) => r.linearizable);
  if (args.json) io.out(`${JSON.stringify({ linearizable: all, results })}\n`);
  else {
    const text = formatLincheckText(results);
    io.out(text.endsWith('\n') ? text : `${text}\n`);
  }
  return all ? EXIT_OK : EXIT_CHECK_FAILED;
}

function checkReadable(file: string): void {
  let isFile: boolean;
  try {
    isFile = statSync(file).isFile();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new InputError(`${path.resolve(file)}: cannot read history file: ${code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
  }
  if (!isFile) throw new InputError(`${path.resolve(file)}: cannot read history file: not a regular file`);
}

/**
 * The checker threw for the batch (a parse error, most likely). Find the file
 * responsible by checking each alone, so the message can name it; this only
 * runs on the error path.
 */
async function blameFile(files: string[], err: unknown, check: (files: string[]) => Promise<unknown>): Promise<InputError> {
  const msg = err instanceof Error ? err.message : String(err);
  if (files.some((f) => msg.includes(f) || msg.includes(path.basename(f)))) return new InputError(msg);
  for (const f of files) {
    try {
      await check([f]);
    } catch (e) {
      return new InputError(`${path.resolve(f)}: cannot parse history: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  return new InputError(`${files.join(', ')}: cannot check histories: ${msg}`);
}
