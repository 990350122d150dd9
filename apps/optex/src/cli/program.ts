import { Command, CommanderError, Option } from 'commander';
import { DomainError, IntakeInvariantError } from '@optex/domain';
import { AccessRefusedError, InfrastructureError, UnusableStoreError } from '@optex/ports';
import type { Writable } from 'node:stream';
import { createLogger } from '@optex/observability';
import { DEFAULT_FLAGS, StoreInUseError, UsageError } from '@optex/runtime';
import { safe, safeLines } from './format';
import { anchorCommand, checkReplayFlags, exportCommand, stateCommand, verifyCommand } from './audit-commands';
import { apiCommand, apiDecisionCommand, apiTokenCommand } from './api-commands';
import { continueBatchCommand, controlCommand } from './control-commands';
import { backupsCommand, backupsExpireCommand } from './backup-commands';
import { registerImportCommand } from './import-command';
import { registerProjectionCommands } from './projection-commands';
import { flushed, lineWriter, ReaderGone, type LineWriter } from './output-stream';
import { decisionCommand, fleetCommand, historyCommand, listCommand, showCommand, metricsCommand, NotFound, operatorCommand, replayCommand, runCommand, submitCommand, type Io } from './commands';

const storeOption = () => new Option('--store <url>', 'event store: sqlite:PATH, memory:, esdb://HOST:PORT?tls=false').default(DEFAULT_FLAGS.store);
const jsonOption = () => new Option('--json', 'print JSON only on stdout (logs go to stderr)');
const wideOption = () => new Option('--wide', 'print every table column whole (tables fit 120 columns otherwise)');

function engineFlags(cmd: Command, dryRun: 'offered' | 'refused'): Command {
  return cmd
    .addOption(storeOption())
    .addOption(new Option('--bus <url>', 'message bus: memory, kafka://HOST:PORT[,HOST:PORT]').default(DEFAULT_FLAGS.bus))
    .addOption(new Option('--cloud <target>', `EC2: simulated:FLEET.json, aws, aws:ENDPOINT (remembered with the store; default ${DEFAULT_FLAGS.cloud})`))
    .addOption(
      dryRun === 'offered'
        ? new Option('--dry-run', "ingest the file as previews: pre-validate and send every mutating call with EC2 DryRun (refused when the store holds real work in progress)")
        : new Option('--dry-run').hideHelp(), // accepted only to say why not (runCommand)
    )
    .option('--policy <file>', 'risk and approval policy override (JSON; remembered with the store)')
    .addOption(new Option('--batch-mode <mode>', 'sequential, parallel, resource-grouped, region-grouped').default('parallel'))
    .addOption(new Option('--max-parallel <n>', 'most executions at once').default('4'))
    .option('--not-before <time>', 'start nothing before this ISO-8601 time with its zone (e.g. 2027-03-01T22:00:00Z)')
    .option('--output <file>', 'also write the full report (the --json document) to this file (checked before anything runs; exit 4 if writing it fails at the end)')
    .addOption(new Option('--rows <n>', 'rows of each table in the text report (the rest is counted)').default('50'))
    .addOption(wideOption())
    .addOption(jsonOption());
}

/** Builds the CLI. Each action resolves to an exit code. */
export function buildProgram(io: Io, setExit: (code: number) => void): Command {
  const program = new Command('optex')
    .description('Execute cloud cost optimizations safely: risk, approval, scheduling, execution, validation, rollback.')
    .exitOverride()
    .showSuggestionAfterError(true)
    .configureOutput({
      writeOut: (s) => io.out(safeLines(s.trimEnd())),
      writeErr: (s) => io.err(safeLines(s.trimEnd())),
      // One line per error: commander puts its "(Did you mean …?)" on a line of its own.
      outputError: (s, write) => write(s.replace(/\n(?=\(Did you mean )/, ' ')),
    });

  const wrap = <A extends unknown[]>(fn: (...args: A) => Promise<number>) => async (...args: A) => setExit(await fn(...args));

  engineFlags(program.command('run').description('ingest recommendations (JSON array or NDJSON; - = stdin) and process until quiescent').argument('<file>'), 'offered')
    .action(wrap((file: string, flags) => runCommand(io, file, flags)));
  engineFlags(program.command('resume').description('continue processing what the store holds (e.g. after approvals); for a store no services run on, never an esdb:// store they drive'), 'refused')
    .action(wrap((flags) => runCommand(io, undefined, flags)));
  program.command('history').description("an optimization's events in order").argument('<id>', 'optimization id (or a unique prefix, or the recommendation id)')
    .addOption(storeOption()).addOption(wideOption()).addOption(jsonOption())
    .action(wrap((id: string, flags) => historyCommand(io, id, flags)));
  program.command('show').description('an optimization: its risk, the exact plan asked for and approved, the authority asked for, approvals so far, expiry')
    .argument('<id>', 'optimization id (or a unique prefix, or the recommendation id)')
    .addOption(storeOption()).addOption(jsonOption())
    .action(wrap((id: string, flags) => showCommand(io, id, flags)));
  program.command('replay').description('fold the whole log from scratch and print what it yields; with --format, export its events (filtered) as NDJSON or CSV')
    .addOption(storeOption()).addOption(wideOption()).addOption(jsonOption())
    .option('--format <format>', 'export the events instead: ndjson or csv (streamed; counts on stderr)')
    .option('--from <time>', 'export events recorded at or after this ISO-8601 time').option('--to <time>', 'export events recorded at or before this time')
    .option('--type <types>', 'export these event types (comma-separated)')
    .option('--account <id>', 'export events of optimizations in this account').option('--region <region>', '… in this region')
    .option('--resource <id>', '… of this resource').option('--optimization <id>', '… of this optimization (id, unique prefix or recommendation id)')
    .option('--output <file>', 'write the export to this file instead of stdout')
    .action(
      wrap(async (flags) => {
        checkReplayFlags(flags); // export flags without --format, or --format with --json: exit 2 naming them
        return flags.format === undefined ? replayCommand(io, flags) : exportCommand(io, flags, io.stdout);
      }),
    );
  program.command('verify').description("recompute the log's hash chains and anchors (on SQLite, also that no event was removed from its end); exit 1 naming the first problem; prints the log's digest to keep outside it")
    .option('--stream <name>', 'verify this stream only')
    .option('--expect <position:digest>', 'check that the log through POSITION still has DIGEST, as anchor or verify printed it and you kept it outside the log (repeatable)', (value: string, previous: string[] | undefined) => [...(previous ?? []), value])
    .addOption(storeOption()).addOption(jsonOption())
    .action(wrap((flags) => verifyCommand(io, flags)));
  program.command('anchor').description("fix the digest of the whole log so far in the log, and print the latest anchor's position and digest: keep them outside the log for verify --expect").addOption(storeOption()).addOption(jsonOption())
    .action(wrap((flags) => anchorCommand(io, flags)));
  program.command('state').description('an optimization as it was at an instant (its events up to then, folded)').argument('<id>', 'optimization id (or a unique prefix, or the recommendation id)')
    .option('--at <time>', 'ISO-8601 instant (default: now)').addOption(storeOption()).addOption(wideOption()).addOption(jsonOption())
    .action(wrap((id: string, flags) => stateCommand(io, id, flags)));
  program.command('metrics').description('engine metrics rebuilt from the log').addOption(storeOption()).addOption(jsonOption())
    .action(wrap((flags) => metricsCommand(io, flags)));
  program.command('list').description('every optimization in the store').addOption(storeOption()).addOption(wideOption()).addOption(jsonOption())
    .action(wrap((flags) => listCommand(io, flags)));
  const decide = (kind: 'approve' | 'deny') => (id: string, flags: { api?: string; by?: string; store: string; reason?: string; requestedAt?: string; json?: boolean }) => {
    if (flags.api !== undefined) return apiDecisionCommand(io, kind, id, { ...flags, api: flags.api });
    if (flags.by === undefined) throw new UsageError("--by: required when writing to the store directly (or give --api URL and OPTEX_TOKEN)");
    return decisionCommand(io, kind, id, { ...flags, by: flags.by });
  };
  program.command('approve').description('record an approval (through the API with --api URL and OPTEX_TOKEN, else straight into the store)').argument('<id>')
    .option('--by <name>', 'who approves (store access only)').option('--reason <text>', 'why').option('--api <url>', 'the optex API (the token in OPTEX_TOKEN says who you are)')
    .option('--requested-at <time>', 'approve only the approval request asked at this time (show prints it as "asked"): refused if approval was asked again since')
    .addOption(storeOption()).addOption(jsonOption())
    .action(wrap(decide('approve')));
  program.command('deny').description('record a denial (through the API with --api URL and OPTEX_TOKEN, else straight into the store)').argument('<id>')
    .option('--by <name>', 'who denies (store access only)').requiredOption('--reason <text>', 'why').option('--api <url>', 'the optex API (the token in OPTEX_TOKEN says who you are)')
    .addOption(storeOption()).addOption(jsonOption())
    .action(wrap(decide('deny')));
  program.command('api').description('serve the HTTP API (OpenAPI at /openapi.json) on loopback unless --host says otherwise')
    .addOption(storeOption())
    .option('--policy <file>', 'the policy file (its approval roster maps principals; default: the one remembered with the store)')
    .requiredOption('--auth <file>', 'authentication: JWT issuer/audience/key set and/or API token hashes (JSON)')
    .addOption(new Option('--port <n>', 'port (0 = any free one)').default('8080'))
    .addOption(new Option('--host <address>', 'address to bind').default('127.0.0.1'))
    .option('--bus <url>', 'kafka://HOST:PORT: where submitted recommendations are published')
    .addOption(new Option('--notifications <on|off>', 'POST the policy\'s webhooks from this process (off in every replica but one)').choices(['on', 'off']).default('on'))
    .option('--read-model <location>', "the read model's checkpoint file (default: next to a sqlite: store, .optex/read-model.db for EventStoreDB) or memory:")
    .action(wrap((flags) => apiCommand(io, flags)));
  program.command('api-token').description('make a static API token for automation: prints it once, and the hash entry for the auth file')
    .requiredOption('--subject <name>', 'who the token acts as').requiredOption('--roles <list>', 'comma-separated: reader, approver, operator, submitter')
    .option('--name <name>', 'a label for the entry').addOption(jsonOption())
    .action(wrap(async (flags) => apiTokenCommand(io, flags)));
  program.command('cancel').description('cancel an optimization before it executes').argument('<id>').requiredOption('--by <name>', 'who cancels').requiredOption('--reason <text>', 'why')
    .addOption(storeOption()).addOption(jsonOption())
    .action(wrap((id: string, flags) => operatorCommand(io, 'cancel', id, flags)));
  program.command('retry-rollback').description('send a rollback-failed optimization back to rolling back (then run resume, unless services run on the store)').argument('<id>')
    .requiredOption('--by <name>', 'who retries').requiredOption('--reason <text>', 'why it should work now')
    .addOption(storeOption()).addOption(jsonOption())
    .action(wrap((id: string, flags) => operatorCommand(io, 'retry-rollback', id, flags)));
  program.command('resolve').description('close a rollback-failed or reconciliation-needed optimization after checking it by hand').argument('<id>')
    .requiredOption('--by <name>', 'who resolves').requiredOption('--note <text>', 'what you found or did')
    .addOption(storeOption()).addOption(jsonOption())
    .action(wrap((id: string, flags) => operatorCommand(io, 'resolve', id, flags)));
  program.command('pause').description('kill switch: no execution or execution step starts until resume-execution (without --by and --reason: show the state)')
    .option('--by <name>', 'who pauses').option('--reason <text>', 'why')
    .addOption(storeOption()).addOption(jsonOption())
    .action(wrap((flags) => controlCommand(io, 'pause', flags)));
  program.command('resume-execution').description('lift the kill switch (then optex resume, or the services running on the store, continue what waited)')
    .option('--by <name>', 'who resumes').option('--reason <text>', 'why it is safe again')
    .addOption(storeOption()).addOption(jsonOption())
    .action(wrap((flags) => controlCommand(io, 'resume', flags)));
  program.command('continue-batch').description('let a batch halted by a blast-radius limit or a failed stage gate go on (then optex resume, unless services run on the store)').argument('<batch-id>')
    .requiredOption('--by <name>', 'who lets it go on').requiredOption('--reason <text>', 'why it is safe to go on')
    .addOption(storeOption()).addOption(jsonOption())
    .action(wrap((batchId: string, flags) => continueBatchCommand(io, batchId, flags)));
  // The flags belong to `backups`; `backups expire` reads them from there (commander gives a parent's options after the subcommand to the parent).
  const backups = program.command('backups').description("the backup snapshots delete-volume took: optimization, volume, snapshot, created, expires (the policy's backups.retentionDays), status")
    .addOption(storeOption())
    .addOption(new Option('--cloud <target>', 'EC2: simulated:FLEET.json, aws, aws:ENDPOINT (default: the one remembered with the store)'))
    .option('--policy <file>', 'the policy whose backups.retentionDays applies (default: the one remembered with the store)')
    .addOption(wideOption())
    .addOption(jsonOption())
    .action(wrap((flags) => backupsCommand(io, flags)));
  backups.command('expire').description('delete the backup snapshots past their retention and record it (the optimizations are then no longer reversible); takes the flags of backups')
    .option('--dry-run', 'send each DeleteSnapshot with EC2 DryRun and record nothing')
    .action(wrap((flags: { dryRun?: boolean }) => backupsExpireCommand(io, { ...backups.opts<{ store: string; cloud?: string; policy?: string; json?: boolean; wide?: boolean }>(), ...flags })));
  program.command('fleet').description('the simulated fleet as it is now (fleet file format) and every EC2 call it answered')
    .addOption(storeOption())
    .addOption(new Option('--cloud <target>', `the simulated fleet: simulated:FLEET.json (default: the one remembered with the store, else ${DEFAULT_FLAGS.cloud})`))
    .addOption(wideOption())
    .addOption(jsonOption())
    .action(wrap((flags) => fleetCommand(io, flags)));
  program.command('submit').description('publish recommendations to Kafka (optex.recommendations.v1)').argument('<file>')
    .requiredOption('--bus <url>', 'kafka://HOST:PORT').option('--dry-run', 'mark them dry runs').addOption(jsonOption())
    .action(wrap((file: string, flags) => submitCommand(io, file, flags)));
  registerImportCommand(program, io, (cmd) => engineFlags(cmd, 'offered'), wrap);
  registerProjectionCommands(program, io, storeOption, jsonOption, wrap);
  return program;
}

/**
 * Runs the CLI on `argv` (without node and script); resolves to the exit code. Lines go to `io.out`/`io.err`, else to
 * `io.stdout`/`io.stderr` (default: the process's), written so that a reader going away (EPIPE: `optex list | head -1`)
 * only ends the output, quietly: the command finishes and exits with its own code (a streamed export stops: exit 0).
 */
/**
 * The log level without `OPTEX_LOG_LEVEL`: `warn` for `optex api`, a server that runs for days (a webhook being retried,
 * the store unreachable: said as it happens), `error` for the other commands, whose report says what happened.
 */
export function defaultLogLevel(argv: readonly string[]): 'warn' | 'error' {
  return argv[0] === 'api' ? 'warn' : 'error';
}

export async function main(argv: readonly string[], io?: Partial<Io> & { readonly stderr?: Writable }): Promise<number> {
  const stdout = io?.stdout ?? process.stdout;
  const err = io?.err ?? lineWriter(io?.stderr ?? process.stderr);
  const outLines = io?.out === undefined ? lineWriter(stdout, (error) => err(`optex: cannot write the output: ${safe(error.message)}`)) : undefined;
  const out = io?.out ?? (outLines as LineWriter);
  const logger = io?.logger ?? createLogger({ service: 'optex-cli', level: process.env.OPTEX_LOG_LEVEL ?? defaultLogLevel(argv) });
  let code = 0;
  const program = buildProgram({ out, err, logger, stdout }, (c) => (code = c));
  try {
    await program.parseAsync([...argv], { from: 'user' });
    // Output lost to a write error (a full disk, EIO) is a failure (said on stderr); a reader that went away is not.
    if (outLines) await flushed(stdout);
    return code === 0 && outLines?.failure() ? 1 : code;
  } catch (error) {
    if (error instanceof ReaderGone) return 0;
    if (error instanceof CommanderError) {
      if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.code === 'commander.help') return 0;
      return 2; // commander already printed its one-line message
    }
    if (error instanceof UsageError) {
      err(`optex: ${safe(error.message)}`);
      return 2;
    }
    if (error instanceof NotFound || error instanceof StoreInUseError || error instanceof UnusableStoreError || error instanceof AccessRefusedError) {
      err(`optex: ${safe(error.message)}`);
      return 1;
    }
    if (error instanceof InfrastructureError) {
      err(`optex: ${safe(error.message)}`);
      return 3;
    }
    if (error instanceof IntakeInvariantError) {
      err(`optex: internal error: ${safe(error.message)}`);
      return 1;
    }
    if (error instanceof DomainError) {
      // A stream the domain cannot fold (or a refusal no command caught): what failed, in one line, never a stack.
      err(`optex: ${safe(error.message)}`);
      return 1;
    }
    err(`optex: ${safeLines((error as Error)?.stack ?? String(error))}`);
    return 1;
  }
}
