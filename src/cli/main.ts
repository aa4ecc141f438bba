// The `gallocy` command line: parses flags with yargs and maps outcomes to exit
// codes (design section 9): 0 all good, 1 a check failed, 2 bad usage or bad
// input. Command modules load on demand so `--help` stays quick and a missing
// optional module breaks only its own command.
import { availableParallelism } from 'node:os';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import yargs from 'yargs';
import { EXIT_BAD_INPUT, EXIT_CHECK_FAILED, InputError } from '../input/errors.js';
import { intFlag, positiveNumberFlag, stringFlag } from './flags.js';
import { processIo, type Io } from './output.js';
import { findRepoRoot } from './repo-root.js';
import { DEFAULT_SCENARIO } from './scenario-file.js';

/** A usage error from yargs: unknown flag, bad flag value, missing command. */
class UsageError extends Error {}

/** Upper bound on --seeds: the pool lists seeds up front, so keep that list reasonable. */
const MAX_SEEDS = 10_000_000;
const MAX_JOBS = 64;

export async function main(argv: string[], io: Io = processIo()): Promise<number> {
  let exitCode = 0;
  // Set once a command handler starts, so the fail handler can tell a usage
  // error (before) from an error thrown by the command itself (after).
  let inHandler = false;
  let failedCommand = '';

  const scenarioOption = {
    type: 'string',
    default: DEFAULT_SCENARIO,
    describe: 'scenario name (from scenarios/) or path to a .yaml file',
    coerce: stringFlag('scenario'),
  } as const;
  const jsonOption = { type: 'boolean', default: false, describe: 'print one JSON object on stdout' } as const;

  const parser = yargs(argv)
    .scriptName('gallocy')
    .usage('$0 <command> [options]\n\nDistributed shared memory with a Raft-replicated page table, and the deterministic simulator that proves it.')
    .command(
      'fuzz',
      'run many seeds of a scenario in parallel; print each failure with its replay command',
      (y) =>
        y
          .options({
            scenario: scenarioOption,
            seeds: { type: 'string', default: '100', describe: 'how many seeds to run', coerce: intFlag('seeds', 1, MAX_SEEDS) },
            start: { type: 'string', default: '1', describe: 'first seed', coerce: intFlag('start', 0) },
            jobs: {
              type: 'string',
              default: String(Math.min(MAX_JOBS, availableParallelism())),
              describe: 'worker threads',
              coerce: intFlag('jobs', 1, MAX_JOBS),
            },
            json: jsonOption,
            'stop-on-first': { type: 'boolean', default: false, describe: 'hand out no more seeds after the first failure' },
          })
          .example('$0 fuzz --scenario raft-basic --seeds 20', 'run seeds 1..20 of scenarios/raft-basic.yaml')
          .example('$0 fuzz --scenario ./my.yaml --start 1000 --seeds 500 --json', 'seeds 1000..1499 of a file, JSON report'),
      async (a) => {
        inHandler = true;
        failedCommand = 'fuzz';
        const { fuzzCommand } = await import('./fuzz.js');
        exitCode = await fuzzCommand(
          { scenario: a.scenario, seeds: a.seeds, start: a.start, jobs: a.jobs, json: a.json, stopOnFirst: a.stopOnFirst },
          { io },
        );
      },
    )
    .command(
      'replay',
      'rerun one seed; print its trace hash and any violation',
      (y) =>
        y
          .options({
            scenario: scenarioOption,
            seed: { type: 'string', demandOption: true, describe: 'the seed to run', coerce: intFlag('seed', 0) },
            trace: { type: 'string', describe: 'write the trace to FILE as JSON lines', coerce: stringFlag('trace') },
            json: jsonOption,
            'check-determinism': { type: 'boolean', default: false, describe: 'run twice; exit 1 if the trace hashes differ' },
            'stop-at': { type: 'string', describe: 'stop at this simulated time (seconds)', coerce: positiveNumberFlag('stop-at') },
            inspect: { type: 'boolean', default: false, describe: "print each host's replicas, page tables and held pages at the end (or at --stop-at)" },
          })
          .example('$0 replay --scenario raft-basic --seed 7 --trace seed7.jsonl', 'rerun seed 7 and write its trace')
          .example('$0 replay --scenario dsm-chaos --seed 3 --stop-at 20 --inspect', 'who holds which page at 20 s, and why'),
      async (a) => {
        inHandler = true;
        failedCommand = 'replay';
        const { replayCommand } = await import('./replay.js');
        exitCode = await replayCommand(
          {
            scenario: a.scenario,
            seed: a.seed,
            json: a.json,
            checkDeterminism: a.checkDeterminism,
            inspect: a.inspect,
            ...(a.trace !== undefined ? { trace: a.trace } : {}),
            ...(a.stopAt !== undefined ? { stopAt: a.stopAt } : {}),
          },
          { io },
        );
      },
    )
    .command(
      'lincheck <files..>',
      'check history files for linearizability (Jepsen register logs, EDN key-value histories)',
      (y) =>
        y
          .positional('files', { type: 'string', array: true, demandOption: true, describe: 'history files' })
          .options({
            json: jsonOption,
            'max-steps': { type: 'string', describe: "search steps per file before giving up with 'unknown'", coerce: intFlag('max-steps', 1) },
          }),
      async (a) => {
        inHandler = true;
        failedCommand = 'lincheck';
        const { lincheckCommand } = await import('./lincheck-command.js');
        exitCode = await lincheckCommand(
          { files: a.files.map(String), json: a.json, ...(a.maxSteps !== undefined ? { maxSteps: a.maxSteps } : {}) },
          io,
        );
      },
    )
    .demandCommand(1, 'expected a command: fuzz, replay or lincheck')
    .recommendCommands()
    .strict()
    .help()
    .alias('h', 'help')
    .version(packageVersion())
    .exitProcess(false)
    .wrap(Math.min(100, process.stdout.columns ?? 100))
    .fail((msg, err) => {
      if (inHandler && err) throw err; // the command's own error: handled below, not a usage error
      throw new UsageError(msg ?? err?.message ?? 'bad usage');
    });

  try {
    await parser.parseAsync();
    return exitCode;
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`gallocy: ${err.message}\nRun 'gallocy ${commandOf(argv)}--help' for usage.\n`);
      return EXIT_BAD_INPUT;
    }
    if (err instanceof InputError) {
      io.err(`gallocy: ${err.message}\n`);
      return EXIT_BAD_INPUT;
    }
    if (err instanceof Error && err.name === 'SimulatorCrash') {
      io.err(`gallocy: ${err.message}\n`);
      return EXIT_CHECK_FAILED;
    }
    // A bug in the command line itself: report it with its stack.
    io.err(`gallocy ${failedCommand}: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    return EXIT_CHECK_FAILED;
  }
}

/** "fuzz " if the first word is a known command, so the hint points at the right --help. */
function commandOf(argv: readonly string[]): string {
  const first = argv[0];
  return first === 'fuzz' || first === 'replay' || first === 'lincheck' ? `${first} ` : '';
}

function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(path.join(findRepoRoot(), 'package.json'), 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : 'unknown';
  } catch {
    return 'unknown';
  }
}
