// The `gallocy` command line: parses flags with yargs and maps outcomes to exit
// codes (design section 9): 0 all good, 1 a check failed, 2 bad usage or bad
// input. Command modules load on demand so `--help` stays quick and a missing
// optional module breaks only its own command.
import { availableParallelism } from 'node:os';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import yargs from 'yargs';
import { EXIT_BAD_INPUT, EXIT_CHECK_FAILED, InputError } from '../input/errors.js';
import { shardFlag } from './campaign.js';
import { intFlag, positiveNumberFlag, probabilityFlag, stringFlag } from './flags.js';
import { processIo, type Io } from './output.js';
import { findRepoRoot } from './repo-root.js';
import { DEFAULT_SCENARIO } from './scenario-file.js';
import { STRATEGIES } from '../sim/explore/strategy.js';
import type { Strategy } from '../sim/explore/strategy.js';

/** A usage error from yargs: unknown flag, bad flag value, missing command. */
class UsageError extends Error {}

/** Upper bound on --seeds: the pool lists seeds up front, so keep that list reasonable. */
const MAX_SEEDS = 10_000_000;
const MAX_JOBS = 64;
/** gallocy shrink's --max-runs (src/cli/shrink.ts's DEFAULT_MAX_RUNS, not imported: commands load on demand). */
const DEFAULT_SHRINK_RUNS = 50_000;

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
            shard: {
              type: 'string',
              describe: 'run only shard I of N (numbered from 1): the seeds whose offset from --start is I-1 modulo N; merge shards with gallocy merge',
              coerce: shardFlag,
            },
            'seed-file': {
              type: 'string',
              describe: 'first re-run the past failures recorded in FILE (JSON lines) for this scenario, then record new ones there',
              coerce: stringFlag('seed-file'),
            },
            shrink: { type: 'boolean', default: false, describe: 'shrink the first failure (as gallocy shrink does) and write its scenario file' },
          })
          .example('$0 fuzz --scenario raft-basic --seeds 20', 'run seeds 1..20 of scenarios/raft-basic.yaml')
          .example('$0 fuzz --scenario ./my.yaml --start 1000 --seeds 500 --json', 'seeds 1000..1499 of a file, JSON report')
          .example('$0 fuzz --seeds 3000 --shard 2/3 --json > shard-2.json', 'seeds 2, 5, .., 2999 of 1..3000, for gallocy merge')
          .example('$0 fuzz --seed-file .gallocy/failures.jsonl', 'past failures first, new ones recorded'),
      async (a) => {
        inHandler = true;
        failedCommand = 'fuzz';
        const { fuzzCommand } = await import('./fuzz.js');
        exitCode = await fuzzCommand(
          {
            scenario: a.scenario, seeds: a.seeds, start: a.start, jobs: a.jobs, json: a.json, stopOnFirst: a.stopOnFirst, shrink: a.shrink,
            ...(a.shard !== undefined ? { shard: a.shard } : {}),
            ...(a.seedFile !== undefined ? { seedFile: a.seedFile } : {}),
          },
          { io },
        );
      },
    )
    .command(
      'merge <files..>',
      "merge the --json reports of a campaign's shards (fuzz --shard I/N) into the campaign's summary",
      (y) =>
        y
          .positional('files', { type: 'string', array: true, demandOption: true, describe: 'shard reports: one JSON report per file, or one per line' })
          .options({
            json: jsonOption,
            'seed-file': { type: 'string', describe: 'record the campaign\'s new failures in FILE (as fuzz --seed-file does)', coerce: stringFlag('seed-file') },
          })
          .example('$0 merge shard-*.json', 'exit 1 if any seed of the campaign failed; 2 if a shard is missing or from another campaign'),
      async (a) => {
        inHandler = true;
        failedCommand = 'merge';
        const { mergeCommand } = await import('./merge.js');
        exitCode = mergeCommand({ files: a.files.map(String), json: a.json, ...(a.seedFile !== undefined ? { seedFile: a.seedFile } : {}) }, { io });
      },
    )
    .command(
      'replay',
      'rerun one seed; print its trace hash and any violation',
      (y) =>
        y
          .options({
            scenario: scenarioOption,
            seed: { type: 'string', describe: 'the seed to run (required unless --choices)', coerce: intFlag('seed', 0) },
            choices: { type: 'string', describe: 'take the path of a choice file from gallocy check (its seed) instead of the seed\'s own run', coerce: stringFlag('choices') },
            trace: { type: 'string', describe: 'write the trace to FILE as JSON lines', coerce: stringFlag('trace') },
            json: jsonOption,
            'check-determinism': { type: 'boolean', default: false, describe: 'run twice; exit 1 if the trace hashes differ' },
            'stop-at': { type: 'string', describe: 'stop at this simulated time (seconds)', coerce: positiveNumberFlag('stop-at') },
            inspect: { type: 'boolean', default: false, describe: "print each host's replicas, page tables and held pages at the end (or at --stop-at)" },
            drawn: { type: 'string', describe: 'write the scenario this seed drew (fields that vary per seed) to FILE as YAML', coerce: stringFlag('drawn') },
            probes: { type: 'boolean', default: false, describe: 'print how often the run took each rare path (coverage probes)' },
            view: { type: 'string', describe: 'write the run as one HTML page (gallocy view) to FILE; the trace goes to --trace or beside FILE', coerce: stringFlag('view') },
          })
          .example('$0 replay --scenario raft-basic --seed 7 --trace seed7.jsonl', 'rerun seed 7 and write its trace')
          .example('$0 replay --scenario dsm-chaos --seed 3 --stop-at 20 --inspect', 'who holds which page at 20 s, and why')
          .example('$0 replay --scenario dsm-chaos --seed 3 --drawn seed3.yaml', 'the scenario seed 3 drew, as a file')
          .example('$0 replay --scenario raft-tiny --choices check-raft-tiny.choices.json', 'take the path gallocy check found again')
          .example('$0 replay --scenario dsm-small --seed 12 --view seed12.html', 'the run as a page: lanes, messages, faults, leaders, pages'),
      async (a) => {
        inHandler = true;
        failedCommand = 'replay';
        if (a.choices !== undefined) {
          if (a.seed !== undefined || a.trace !== undefined || a.stopAt !== undefined || a.inspect || a.checkDeterminism || a.view !== undefined) {
            throw new UsageError('--choices: expected no --seed, --trace, --stop-at, --inspect, --check-determinism or --view with it (the file gives the seed)');
          }
          const { replayChoicesCommand } = await import('./replay.js');
          exitCode = replayChoicesCommand({ scenario: a.scenario, choices: a.choices, json: a.json }, { io });
          return;
        }
        if (a.seed === undefined) throw new UsageError('Missing required argument: seed (or give --choices)');
        const { replayCommand } = await import('./replay.js');
        exitCode = await replayCommand(
          {
            scenario: a.scenario,
            seed: a.seed,
            json: a.json,
            checkDeterminism: a.checkDeterminism,
            inspect: a.inspect,
            probes: a.probes,
            ...(a.trace !== undefined ? { trace: a.trace } : {}),
            ...(a.stopAt !== undefined ? { stopAt: a.stopAt } : {}),
            ...(a.drawn !== undefined ? { drawn: a.drawn } : {}),
            ...(a.view !== undefined ? { view: a.view } : {}),
          },
          { io },
        );
      },
    )
    .command(
      'shrink',
      'shrink a failing seed to a small explicit scenario that fails the same way; write it as YAML',
      (y) =>
        y
          .options({
            scenario: scenarioOption,
            seed: { type: 'string', describe: 'the failing seed (required unless --choices)', coerce: intFlag('seed', 0) },
            choices: { type: 'string', describe: 'shrink the path of a choice file from gallocy check instead', coerce: stringFlag('choices') },
            out: { type: 'string', describe: 'write the shrunk scenario to FILE (default shrunk-SCENARIO-SEED.yaml; with --choices shrunk-SCENARIO-choices.yaml, and the shrunk path beside it as FILE.choices.json)', coerce: stringFlag('out') },
            'max-runs': { type: 'string', default: String(DEFAULT_SHRINK_RUNS), describe: 'runs at most (each candidate seed is one run; small runs take well under a millisecond)', coerce: intFlag('max-runs', 2, 1_000_000) },
            'any-message': { type: 'boolean', default: false, describe: 'take a cut that fails the same invariant with a message of another shape (by default the message, numbers aside, must stay the same, so the shrink cannot drift to another bug)' },
            json: jsonOption,
          })
          .example('$0 shrink --scenario dsm-small --seed 12', 'its faults, hosts, threads and run cut down; replay the file it writes')
          .example('$0 shrink --scenario raft-tiny --choices check-raft-tiny.choices.json', 'the path gallocy check found, cut down, and written as a scenario that replays to the same invariant'),
      async (a) => {
        inHandler = true;
        failedCommand = 'shrink';
        const { shrinkCommand, shrinkChoicesCommand } = await import('./shrink.js');
        const out = a.out !== undefined ? { out: a.out } : {};
        if (a.choices !== undefined) {
          if (a.seed !== undefined) throw new UsageError('--choices: expected no --seed with it (the file gives the seed)');
          exitCode = shrinkChoicesCommand({ scenario: a.scenario, choices: a.choices, maxRuns: a.maxRuns, anyMessage: a.anyMessage, json: a.json, ...out }, { io });
          return;
        }
        if (a.seed === undefined) throw new UsageError('Missing required argument: seed (or give --choices)');
        exitCode = shrinkCommand({ scenario: a.scenario, seed: a.seed, maxRuns: a.maxRuns, anyMessage: a.anyMessage, json: a.json, ...out }, { io });
      },
    )
    .command(
      'view <trace>',
      'write a trace (replay --trace) as one self-contained HTML page: lanes per host, messages, faults, leaders, pages, the violation',
      (y) =>
        y
          .positional('trace', { type: 'string', demandOption: true, describe: 'a trace file (JSON lines) from gallocy replay --trace' })
          .options({
            out: { type: 'string', describe: 'write the page to FILE (default: the trace file with .html)', coerce: stringFlag('out') },
          })
          .example('$0 view seed7.jsonl', 'writes seed7.html; open it in a browser'),
      async (a) => {
        inHandler = true;
        failedCommand = 'view';
        const { viewCommand } = await import('./view.js');
        exitCode = viewCommand({ trace: String(a.trace), ...(a.out !== undefined ? { out: a.out } : {}) }, { io });
      },
    )
    .command(
      'check',
      'explore a scenario\'s choices systematically on small worlds; write any violation\'s path to a choice file',
      (y) =>
        y
          .options({
            scenario: scenarioOption,
            seed: { type: 'string', default: '1', describe: 'the world\'s seed (clocks, timeouts, clients\' requests)', coerce: intFlag('seed', 0) },
            strategy: { type: 'string', default: 'dfs', describe: 'dfs (exhaustive to the depth), random, pct (priorities) or guided (coverage)', coerce: strategyFlag },
            depth: { type: 'string', describe: 'steps per path at most (default 12 for dfs, else 100)', coerce: intFlag('depth', 1, 100_000) },
            budget: { type: 'string', default: '60', describe: 'wall-clock seconds at most', coerce: positiveNumberFlag('budget') },
            walks: { type: 'string', describe: 'random, pct, guided: walks at most', coerce: intFlag('walks', 1) },
            crashes: { type: 'string', describe: 'crashes per path (default: 1 if the scenario crashes hosts)', coerce: intFlag('crashes', 0, 100) },
            losses: { type: 'string', describe: 'lost messages per path (default: 1 if the scenario loses or partitions)', coerce: intFlag('losses', 0, 100) },
            duplicates: { type: 'string', describe: 'duplicated messages per path (default: 1 if the scenario duplicates)', coerce: intFlag('duplicates', 0, 100) },
            'instant-disk': { type: 'boolean', default: false, describe: 'disk writes complete within the step that made them (coarser, deeper)' },
            'skip-idle-ticks': { type: 'boolean', default: false, describe: 'a tick that changes nothing is followed by the next: a step is a timeout' },
            deviation: { type: 'string', describe: 'random: probability that a step is random, not the earliest (default 1)', coerce: probabilityFlag('deviation') },
            changes: { type: 'string', describe: 'pct: priority changes per walk (default 2)', coerce: intFlag('changes', 0, 1000) },
            from: { type: 'string', describe: 'start from where a choice file\'s path leads', coerce: stringFlag('from') },
            out: { type: 'string', describe: 'write a violation\'s path to FILE (default check-SCENARIO.choices.json)', coerce: stringFlag('out') },
            json: jsonOption,
          })
          .example('$0 check --scenario raft-tiny --depth 12', 'every interleaving of 12 steps, states seen before pruned')
          .example('$0 check --scenario dsm-tiny --strategy random --deviation 0.05 --depth 400', 'walks near the seed\'s own run'),
      async (a) => {
        inHandler = true;
        failedCommand = 'check';
        const { checkCommand } = await import('./check.js');
        exitCode = await checkCommand(
          {
            scenario: a.scenario, seed: a.seed, strategy: a.strategy, budget: a.budget, json: a.json,
            instantDisk: a.instantDisk, skipIdleTicks: a.skipIdleTicks,
            ...(a.depth !== undefined ? { depth: a.depth } : {}),
            ...(a.walks !== undefined ? { walks: a.walks } : {}),
            ...(a.crashes !== undefined ? { crashes: a.crashes } : {}),
            ...(a.losses !== undefined ? { losses: a.losses } : {}),
            ...(a.duplicates !== undefined ? { duplicates: a.duplicates } : {}),
            ...(a.deviation !== undefined ? { deviation: a.deviation } : {}),
            ...(a.changes !== undefined ? { changes: a.changes } : {}),
            ...(a.from !== undefined ? { from: a.from } : {}),
            ...(a.out !== undefined ? { out: a.out } : {}),
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
    .command(
      'serve',
      'run one real host of a cluster (until SIGINT or SIGTERM), optionally with application threads',
      (y) =>
        y
          .options({
            cluster: { type: 'string', demandOption: true, describe: 'cluster file (YAML)', coerce: stringFlag('cluster') },
            host: { type: 'string', demandOption: true, describe: 'this host\'s id in the cluster file', coerce: intFlag('host', 1) },
            workload: { type: 'string', describe: 'run a built-in workload: registers, counter or matrix', coerce: stringFlag('workload') },
            app: { type: 'string', describe: 'run an ES module of yours in each thread (see examples/hello-app.mjs)', coerce: stringFlag('app') },
            threads: { type: 'string', default: '1', describe: 'application threads on this host', coerce: intFlag('threads', 1, 256) },
            'total-threads': { type: 'string', describe: 'threads in the whole cluster (default: --threads x hosts)', coerce: intFlag('total-threads', 1, 65536) },
            history: { type: 'string', describe: 'append each memory operation of the workload to FILE (JSON lines)', coerce: stringFlag('history') },
            seed: { type: 'string', default: '1', describe: 'seed of the workload threads\' random choices', coerce: intFlag('seed', 0) },
            ops: { type: 'string', describe: 'operations per thread of the workload (counter: increments, registers: reads and writes)', coerce: intFlag('ops', 0) },
            duration: { type: 'string', describe: 'seconds each workload thread runs, about (its pauses between operations stretched to fit)', coerce: positiveNumberFlag('duration') },
            option: { type: 'string', array: true, describe: 'a workload option, NAME=VALUE (repeatable), e.g. --option counters=4' },
            deadline: { type: 'string', describe: 'end the run after SECONDS with its verdict (exit 0 verified, 1 failed, 4 none yet); default: the cluster file\'s run.deadlineS', coerce: positiveNumberFlag('deadline') },
            'log-level': { type: 'string', default: 'info', describe: 'trace, debug, info, warn, error, fatal or silent', coerce: stringFlag('log-level') },
            'log-file': { type: 'string', describe: 'write JSON log lines to FILE instead of stdout', coerce: stringFlag('log-file') },
          })
          .example('$0 serve --cluster clusters/local-3.yaml --host 1', 'run host 1 of the local three-host cluster')
          .example('$0 serve --cluster clusters/local-3.yaml --host 2 --workload counter --threads 2', 'host 2, with two counter threads'),
      async (a) => {
        inHandler = true;
        failedCommand = 'serve';
        const { serveCommand } = await import('./serve-command.js');
        exitCode = await serveCommand(
          {
            cluster: a.cluster, host: a.host, threads: a.threads, seed: a.seed, logLevel: a.logLevel,
            ...(a.workload !== undefined ? { workload: a.workload } : {}),
            ...(a.app !== undefined ? { app: a.app } : {}),
            ...(a.totalThreads !== undefined ? { totalThreads: a.totalThreads } : {}),
            ...(a.history !== undefined ? { history: a.history } : {}),
            ...(a.ops !== undefined ? { ops: a.ops } : {}),
            ...(a.duration !== undefined ? { durationS: a.duration } : {}),
            ...(a.option !== undefined ? { options: a.option.map(String) } : {}),
            ...(a.deadline !== undefined ? { deadlineS: a.deadline } : {}),
            ...(a.logFile !== undefined ? { logFile: a.logFile } : {}),
          },
          (s) => io.err(s),
        );
      },
    )
    .command(
      'status',
      'ask every host of a cluster for its state (GET /admin) and print who leads what and which hosts are down',
      (y) =>
        y
          .options({
            cluster: { type: 'string', demandOption: true, describe: 'cluster file (YAML)', coerce: stringFlag('cluster') },
            json: jsonOption,
            'timeout-ms': { type: 'string', default: '2000', describe: 'how long to wait for each host', coerce: intFlag('timeout-ms', 1, 600_000) },
          })
          .example('$0 status --cluster clusters/local-3.yaml', 'a row per host per Raft group; exit 1 unless every group has a leader followed by a quorum'),
      async (a) => {
        inHandler = true;
        failedCommand = 'status';
        const { statusCommand } = await import('./status-command.js');
        exitCode = await statusCommand({ cluster: a.cluster, json: a.json, timeoutMs: a.timeoutMs }, { log: (s) => io.out(`${s}\n`) });
      },
    )
    .command(
      'certs',
      'create a cluster\'s certificate authority, a key and certificate per host, and an admin token (mutual TLS between hosts)',
      (y) =>
        y
          .options({
            cluster: { type: 'string', demandOption: true, describe: 'cluster file (YAML)', coerce: stringFlag('cluster') },
            out: { type: 'string', demandOption: true, describe: 'folder to write into (created 0700; what is there and still fits is kept)', coerce: stringFlag('out') },
          })
          .example('$0 certs --cluster clusters/local-3.yaml --out clusters/state/local-3/certs', 'the files clusters/local-3.yaml names'),
      async (a) => {
        inHandler = true;
        failedCommand = 'certs';
        const { certsCommand } = await import('./certs-command.js');
        exitCode = await certsCommand({ cluster: a.cluster, out: a.out }, { log: (s) => io.out(`${s}\n`) });
      },
    )
    .demandCommand(1, 'expected a command: fuzz, merge, replay, shrink, view, check, lincheck, serve, status or certs')
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

const COMMANDS = ['fuzz', 'merge', 'replay', 'shrink', 'view', 'check', 'lincheck', 'serve', 'status', 'certs'];

/** --strategy: one of the explorer's strategies. */
function strategyFlag(raw: unknown): Strategy {
  const text = stringFlag('strategy')(raw);
  if (!(STRATEGIES as readonly string[]).includes(text)) throw new Error(`--strategy: expected one of ${STRATEGIES.join(', ')}, got "${text}"`);
  return text as Strategy;
}

/** "fuzz " if the first word is a known command, so the hint points at the right --help. */
function commandOf(argv: readonly string[]): string {
  const first = argv[0];
  return first !== undefined && COMMANDS.includes(first) ? `${first} ` : '';
}

function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(path.join(findRepoRoot(), 'package.json'), 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : 'unknown';
  } catch {
    return 'unknown';
  }
}
