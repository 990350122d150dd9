import { accessSync, closeSync, constants, existsSync, mkdirSync, openSync, rmdirSync, rmSync, statSync, type Stats } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { MOVING_STATUSES, OPTIMIZATION_STREAM_PREFIX, backupExpiryText, parseStoredEvent, goesOnForReal, differenceText, optimizationDecider, optimizationDetail, optimizationStream, summarize, viewOf, DomainError, BATCH_MODES, type BatchMode, type BackupExpiry, type OptimizationState, type PerformanceImpact, type RecommendationDifference, type RiskBasis, type SettingSource } from '@optex/domain';
import { TOPICS, readAllWithoutData, sqliteFileOf, withoutCredentials, type EventStore, type Logger, type RecordedEvent } from '@optex/ports';
import { OptimizationProjection, loadStream } from '@optex/engine';
import { recordApproval, recordDenial, recordOperatorAction, type OperatorAction } from '@optex/approval';
import { DUPLICATES_STREAM, REJECTED_STREAM, defaultPolicy, isPreviewRejection, type Policy, type RecommendationDuplicated, type RecommendationRejected } from '@optex/domain';
import { DEFAULT_FLAGS, asPreview, type RunReport, delayedGateway, envWholeNumber, intakeLimitsFromEnv, loadPolicy, lockStoreForWriting, openAdapters, openBus, openStore, parseBusUrl, parseCloudUrl, processUntilQuiescent, readInput, recommendationMessages, rememberedSettings, report, settingsIn, StoreInUseError, UsageError, waitingOf, type AdapterFlags, type SettingsInForce } from '@optex/runtime';
import { makeDirectories } from '@optex/event-store';
import { FleetFileError, SimulatedFleet, parseFleetFile, stateFileFor } from '@optex/cloud';

import { PROGRESS_AFTER_MS, PROGRESS_EVERY_MS, progressMode, progressReporter } from './progress';
import { DEFAULT_REPORT_ROWS, detailText, fleetText, performanceSummary, optimizationsTable, reportText, safe, summaryText, table, toJson } from './format';
import { nextStepText, type NextStep } from './next-step';
import { timeFlag } from './time-flag';

export interface Io {
  out(text: string): void;
  err(text: string): void;
  logger: Logger;
  /** The stream `out` writes to, for a command that streams its output (`replay --format`). @defaultValue process.stdout */
  readonly stdout?: Writable;
  /** What `-` reads as a file, for a command that takes one whole document (`import`). @defaultValue process.stdin */
  readonly stdin?: Readable;
}

export interface RunFlags extends AdapterFlags {
  readonly json?: boolean;
  /** Write the full report (the `--json` document) to this file. */
  readonly output?: string;
  /** Rows of each table in the text report. */
  readonly rows?: string;
  /** Every table column whole (tables fit 120 columns otherwise). */
  readonly wide?: boolean;
  readonly dryRun?: boolean;
  readonly batchMode?: string;
  readonly maxParallel?: string;
  readonly notBefore?: string;
}

/**
 * The engine options of `run` and `resume`: the batch mode, parallelism and not-before of the flags, the batch
 * window of `OPTEX_BATCH_WINDOW_MS` / `OPTEX_BATCH_QUIET_MS` and the executor's bound on a failing look-up of a step's
 * effect, `OPTEX_RECONCILE_LOOKUP_TIMEOUT_MS` (as the service processes read them).
 */
export function engineOptions(flags: RunFlags, env: NodeJS.ProcessEnv = process.env) {
  const batchMode = (flags.batchMode ?? 'parallel') as BatchMode;
  if (!BATCH_MODES.includes(batchMode)) throw new UsageError(`--batch-mode: expected one of ${BATCH_MODES.join(', ')}, got ${JSON.stringify(flags.batchMode)}`);
  const maxParallel = flags.maxParallel === undefined ? 4 : Number(flags.maxParallel);
  if (!Number.isInteger(maxParallel) || maxParallel < 1) throw new UsageError(`--max-parallel: expected a positive integer, got ${JSON.stringify(flags.maxParallel)}`);
  // The same strict parser as replay --from/--to and state --at: a date that does not exist is refused, not rolled over.
  const notBefore = timeFlag('--not-before', flags.notBefore);
  const batchWindowMs = envWholeNumber(env, 'OPTEX_BATCH_WINDOW_MS', 1);
  const batchQuietMs = envWholeNumber(env, 'OPTEX_BATCH_QUIET_MS', 0);
  const reconcileLookupTimeoutMs = envWholeNumber(env, 'OPTEX_RECONCILE_LOOKUP_TIMEOUT_MS', 1);
  return {
    batchMode,
    maxParallel,
    ...(notBefore ? { notBefore } : {}),
    ...(batchWindowMs !== undefined ? { batchWindowMs } : {}),
    ...(batchQuietMs !== undefined ? { batchQuietMs } : {}),
    ...(reconcileLookupTimeoutMs !== undefined ? { reconcileLookupTimeoutMs } : {}),
  };
}

function reportRows(flags: RunFlags): number {
  if (flags.rows === undefined) return DEFAULT_REPORT_ROWS;
  const rows = Number(flags.rows);
  if (!Number.isInteger(rows) || rows < 0) throw new UsageError(`--rows: expected a whole number ≥ 0, got ${JSON.stringify(flags.rows)}`);
  return rows;
}

/**
 * Exit code of `run`/`resume` (and `import --run`) when all the work was done and the report printed on stdout, but
 * the `--output` file could not be written at the end (it could be when the command started).
 */
export const EXIT_OUTPUT_NOT_WRITTEN = 4;

/**
 * `run FILE` and `resume`: process until quiescent and print the report. Everything that can be checked is checked
 * before the store is locked, created or changed (exit 2): the flags, the input, that `--output` can be written, and —
 * for a store `run` is about to create — its path, bus, cloud (the fleet file) and policy. `resume` refuses a `sqlite:`
 * store that does not exist (exit 1), as `list` and `approve` do.
 */
export async function runCommand(io: Io, file: string | undefined, flags: RunFlags): Promise<number> {
  if (file === undefined && flags.dryRun) {
    throw new UsageError('resume has no --dry-run: it carries on what the store holds as each was submitted (previews stay previews); to preview, use run FILE --dry-run');
  }
  const options = engineOptions(flags);
  const maxRows = reportRows(flags);
  // How long every append to the store may fail before the run stops with exit 3 (a full disk, a read-only file).
  const storeWriteTimeoutMs = envWholeNumber(process.env, 'OPTEX_STORE_WRITE_TIMEOUT_MS', 1) ?? 30_000;
  if (flags.output !== undefined) checkOutputWritable(flags.output);
  const intakeLimits = intakeLimitsFromEnv();
  const read = file === undefined ? undefined : { ...(await readInput(file, intakeLimits)), submittedBy: CLI_SUBMITTER };
  const input = read && flags.dryRun ? asPreview(read) : read;
  if (file === undefined) refuseMissingStore(flags.store);
  else await checkStoreToCreate(flags);
  // One writer per store: a second run/resume on it exits 1 naming the holder (readers do not lock).
  const lock = lockForWriting(flags.store, file === undefined ? 'resume' : `run ${file}`);
  let adapters: Awaited<ReturnType<typeof openAdapters>>;
  try {
    const opened = await openAdapters(flags, io.logger, { ...options, intakeLimits, rememberAs: file === undefined ? 'resume' : `run ${file}` });
    adapters = { ...opened, ec2: delayedGateway(opened.ec2, ec2CallDelayMs()) };
  } catch (error) {
    lock?.release();
    throw error;
  }
  try {
    if (flags.dryRun) await refuseRealWork(adapters.store, flags.store);
    const started = Date.now();
    // Progress only for a person at a terminal (stderr a TTY), from the first second on; never into a pipe or a file.
    const mode = progressMode(process.stderr, process.env);
    const progress = mode === 'off' ? undefined : progressReporter(mode, (raw) => process.stderr.write(raw));
    let result: Awaited<ReturnType<typeof processUntilQuiescent>>;
    const interrupt = stopOnSignals(io, file !== undefined);
    try {
      result = await processUntilQuiescent(adapters, {
        ...(input ? { input } : {}),
        dryRun: flags.dryRun ?? false,
        ...(progress ? { progress: (line: string) => progress.line(safe(line)), progressAfterMs: PROGRESS_AFTER_MS, progressEveryMs: PROGRESS_EVERY_MS } : {}),
        stop: interrupt.signal,
        storeWriteTimeoutMs,
      });
    } finally {
      interrupt.dispose();
      progress?.done();
    }
    const document = { ...result, settings: adapters.settings };
    // Checked at the start, so this fails only when something changed since (a full disk, a directory removed): the
    // work is done all the same, so the report still goes to stdout, and the exit code says the file was not written.
    const notWritten = flags.output ? await writeReport(flags.output, toJson(document)) : undefined;
    if (flags.json) io.out(toJson(document));
    else {
      const notBefore = flags.notBefore !== undefined ? timeFlag('--not-before', flags.notBefore) : undefined;
      const text = reportText(result, { maxRows, wide: flags.wide ?? false, ...(flags.output && !notWritten ? { outputFile: flags.output } : {}), store: flags.store, ...(notBefore && notBefore.getTime() > Date.now() ? { notBefore: notBefore.toISOString() } : {}) });
      io.out(`${text}\nDone in ${((Date.now() - started) / 1000).toFixed(1)} s. Store: ${safe(withoutCredentials(flags.store))}\n${settingsText(adapters.settings, flags.store)}`);
    }
    if (notWritten) {
      io.err(`optex: --output: ${safe(notWritten)}; the work is done and the report was printed on stdout only (exit ${EXIT_OUTPUT_NOT_WRITTEN})`);
      return EXIT_OUTPUT_NOT_WRITTEN;
    }
    if (interrupt.stoppedBy) {
      io.err(`optex: stopped by ${interrupt.stoppedBy}: what was taken in was carried as far as it goes now${result.notTakenIn ? `; ${result.notTakenIn.count} record(s) of the input were not taken in (the report says which)` : ''}`);
      return EXIT_OF_SIGNAL[interrupt.stoppedBy];
    }
    const failure = runFailure(result);
    if (failure === undefined) return 0;
    io.err(failure);
    return 1;
  } finally {
    await adapters.close();
    lock?.release();
  }
}

/**
 * What makes a finished `run`/`resume` exit 1 though its report was printed, as the line stderr says: messages the
 * services gave up on (dead-lettered), else optimizations it left mid-way with nothing to wait for (`stalled`).
 * Undefined: the run did what it could (exit 0).
 */
export function runFailure(result: Pick<RunReport, 'deadLettered' | 'stalled'>): string | undefined {
  const gaveUp = result.deadLettered ?? [];
  if (gaveUp.length > 0) {
    const first = gaveUp[0]!;
    return `optex: internal error: the services gave up on ${gaveUp.length} message(s), so their optimizations stopped mid-way (the first: ${safe(first.group)}${
      first.optimizationId ? ` on ${safe(first.optimizationId)}` : ''
    }: ${safe(first.reason)}); the report lists them (deadLettered)`;
  }
  const stalled = result.stalled ?? [];
  if (stalled.length > 0) {
    const first = stalled[0]!;
    return `optex: internal error: ${stalled.length} optimization(s) stopped mid-way with nothing recorded to wait for (the first: ${safe(first.optimizationId)}, ${safe(first.status)}); the report lists them (stalled); optex resume looks at them again`;
  }
  return undefined;
}

/** The exit code of a run stopped by a signal: 128 + the signal's number, as a shell reports a process it ended. */
export const EXIT_OF_SIGNAL = { SIGINT: 130, SIGTERM: 143 } as const;

/**
 * SIGINT (Ctrl-C) and SIGTERM while `run`/`resume` works: the first asks the run to stop (no more records of the input
 * are taken in; what was taken in goes on until it settles or waits, then the report is printed and the store's lock
 * released); a second ends the process at once with the signal's exit code (safe: the log holds every step's intent,
 * and `resume` carries on from it).
 */
function stopOnSignals(io: Io, hasInput: boolean): { readonly signal: AbortSignal; readonly stoppedBy: keyof typeof EXIT_OF_SIGNAL | undefined; dispose(): void } {
  const controller = new AbortController();
  let stoppedBy: keyof typeof EXIT_OF_SIGNAL | undefined;
  const on = (name: keyof typeof EXIT_OF_SIGNAL) => () => {
    if (stoppedBy !== undefined) {
      io.err(`optex: ${name} again: stopping now (resume carries on from the log)`);
      process.exit(EXIT_OF_SIGNAL[name]);
    }
    stoppedBy = name;
    io.err(`optex: ${name}: stopping${hasInput ? ' (no more records of the input are taken in)' : ''}; finishing what is under way, then the report (${name} again stops at once)`);
    controller.abort();
  };
  const handlers = { SIGINT: on('SIGINT'), SIGTERM: on('SIGTERM') };
  process.on('SIGINT', handlers.SIGINT);
  process.on('SIGTERM', handlers.SIGTERM);
  return {
    signal: controller.signal,
    get stoppedBy() {
      return stoppedBy;
    },
    dispose() {
      process.off('SIGINT', handlers.SIGINT);
      process.off('SIGTERM', handlers.SIGTERM);
    },
  };
}

/**
 * A preview runs the engine, and the engine carries on everything the store holds: refuses (exit 2) when the store
 * holds real work the engine would go on with ({@link goesOnForReal}), naming a few of them, so that `--dry-run`
 * changes nothing.
 */
async function refuseRealWork(store: EventStore, storeFlag: string): Promise<void> {
  const projection = await OptimizationProjection.load(store);
  const real: string[] = [];
  let count = 0;
  for (const status of MOVING_STATUSES) {
    for (const id of projection.idsByStatus(status)) {
      const state = projection.get(id);
      if (!state || !goesOnForReal(state)) continue;
      count++;
      if (real.length < 3) real.push(`${state.recommendation.recommendationId} (${state.status})`);
    }
  }
  if (count === 0) return;
  throw new UsageError(
    `--dry-run: ${safe(storeFlag)} holds ${count} real optimization${count === 1 ? '' : 's'} in progress (${real.map(safe).join(', ')}${count > real.length ? ', …' : ''}) that this run would carry on for real; ` +
      'run optex resume first, or preview with another --store',
  );
}

/**
 * Which cloud and policy the run used, and — for a store that outlives the command — that the store remembers them for
 * the commands after it (a `memory:` store ends with the command, and remembers nothing).
 */
export function settingsText(settings: SettingsInForce, store: string): string {
  const from = (s: SettingSource) => (s === 'flag' ? 'given now' : s === 'store' ? 'remembered with the store' : 'the default');
  const policy = settings.policy.value === undefined ? 'the default policy' : safe(settings.policy.value);
  // One line each, so a long path does not take the line past the 120 columns the report fits.
  const used = `Cloud ${safe(settings.cloud.value)} (${from(settings.cloud.from)}),\npolicy ${policy} (${from(settings.policy.from)})`;
  if (store.startsWith('memory:')) return `${used}.`;
  return `${used};\nlater commands on this store use them unless given --cloud/--policy.`;
}

/** `OPTEX_EC2_CALL_DELAY_MS`: latency injected before every EC2 call (game days, tests that need a run to take a while). */
function ec2CallDelayMs(): number {
  const raw = process.env['OPTEX_EC2_CALL_DELAY_MS'];
  if (raw === undefined || raw === '') return 0;
  const ms = Number(raw);
  if (!Number.isInteger(ms) || ms < 0) throw new UsageError(`OPTEX_EC2_CALL_DELAY_MS must be an integer ≥ 0, got ${JSON.stringify(raw)}`);
  return ms;
}

/** Writes the report to `file` (creating its directory); what went wrong when it could not, else `undefined`. */
async function writeReport(file: string, json: string): Promise<string | undefined> {
  try {
    makeDirectories(dirname(resolve(file)));
    await writeFile(file, `${json}\n`);
    return undefined;
  } catch (error) {
    return `cannot write ${file}: ${errnoText(error)}`;
  }
}

/** An error's code and what it means (`ENOSPC (no space left on device)`), else its message. */
function errnoText(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  const message = (error as Error).message ?? String(error);
  // Node's messages read "ENOSPC: no space left on device, write": keep the middle part.
  const meaning = /^[A-Z0-9_]+: (.*?)(?:, \w+(?: '.*')?)?$/.exec(message)?.[1];
  return code === undefined ? message : meaning ? `${code} (${meaning})` : code;
}

/**
 * Refuses (exit 2), before anything runs, an `--output` file that could not be written: an empty name, a directory, a
 * path under a file, a directory that cannot be created or written in, an existing file that cannot be written. The
 * file itself is not created: a new file's directory is tried with a temporary file beside it, or its first missing
 * directory is made — either removed at once; the missing directories are created when the report is written.
 */
export function checkOutputWritable(output: string): void {
  if (!output.trim()) throw new UsageError('--output: the file name is empty');
  const file = resolve(output);
  const refuse = (why: string): never => {
    throw new UsageError(`--output: cannot write ${output}: ${why}`);
  };
  let existing: Stats | undefined;
  try {
    existing = statSync(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'ENOTDIR') refuse(errnoText(error));
  }
  if (existing?.isDirectory()) refuse('it is a directory');
  if (existing) {
    try {
      accessSync(file, constants.W_OK);
    } catch (error) {
      refuse(errnoText(error));
    }
    return;
  }
  // A new file: the nearest directory on its path that exists must be a directory in which the rest can be created —
  // tried: its first missing directory is made and removed, or a temporary file is created beside the file and removed.
  let dir = dirname(file);
  let firstMissing: string | undefined;
  while (!existsSync(dir) && dirname(dir) !== dir) {
    firstMissing = dir;
    dir = dirname(dir);
  }
  if (!statSync(dir).isDirectory()) refuse(`${dir} is not a directory`);
  try {
    if (firstMissing !== undefined) {
      mkdirSync(firstMissing);
      rmdirSync(firstMissing);
    } else {
      const probe = join(dir, `.${basename(file)}.${process.pid}.${Date.now().toString(36)}.probe`);
      closeSync(openSync(probe, 'wx'));
      rmSync(probe, { force: true });
    }
  } catch (error) {
    refuse(firstMissing !== undefined ? `cannot create the directory ${firstMissing}: ${errnoText(error)}` : errnoText(error));
  }
}


/** An optimization an id given on the command line may name, for {@link resolveId}. */
interface IdMatch {
  readonly optimizationId: string;
  /** Position of the stream's first event seen: matches are listed in the order the optimizations were received. */
  readonly position: bigint;
  /** Set when its OptimizationReceived names the id as its recommendation id: whether it is a dry-run preview. */
  byRecommendation?: { readonly dryRun: boolean };
}

/**
 * Resolves a full optimization id, or a unique prefix of one (as shown in tables), or a recommendation id (the real
 * optimization rather than its dry-run preview). Nothing is folded: a prefix is matched against the names of the
 * optimization streams (read without their data, only those that begin with it), a recommendation id against the
 * OptimizationReceived events (their data read as it is, not through the event schemas), so a stream that cannot be
 * read or folded (a row changed in the file) fails only the commands that read it, not the look-up of every other.
 * When the OptimizationReceived events cannot be read at all (one of them no longer parses), an id prefix that names
 * one optimization still resolves; anything else fails with the store's error, which names the event.
 */
export async function resolveId(store: EventStore, id: string): Promise<string> {
  if (/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id)) return id.toLowerCase();
  const found = new Map<string, IdMatch>();
  const prefix = `${OPTIMIZATION_STREAM_PREFIX}${id.toLowerCase()}`;
  for await (const e of readAllWithoutData(store, { filter: { kind: 'streamName', prefixes: [prefix] } })) {
    if (!e.stream.startsWith(prefix) || found.has(e.stream)) continue;
    found.set(e.stream, { optimizationId: e.stream.slice(OPTIMIZATION_STREAM_PREFIX.length), position: e.position.commit });
  }
  const onlyByPrefix = found.size === 1 ? [...found.values()][0] : undefined;
  try {
    for await (const e of store.readAll({ filter: { kind: 'eventType', prefixes: ['OptimizationReceived'] } })) {
      if (e.type !== 'OptimizationReceived' || !e.stream.startsWith(OPTIMIZATION_STREAM_PREFIX)) continue;
      const data = e.data as { recommendation?: { recommendationId?: unknown }; dryRun?: unknown } | null;
      if (data?.recommendation?.recommendationId !== id) continue;
      const match = found.get(e.stream) ?? { optimizationId: e.stream.slice(OPTIMIZATION_STREAM_PREFIX.length), position: e.position.commit };
      match.byRecommendation = { dryRun: data.dryRun === true };
      found.set(e.stream, match);
    }
  } catch (error) {
    // An id prefix that names one optimization is what is meant; a recommendation id is not known without them all.
    if (!(error instanceof DomainError) || onlyByPrefix === undefined) throw error;
    return onlyByPrefix.optimizationId;
  }
  const matches = [...found.values()].sort((a, b) => (a.position < b.position ? -1 : a.position > b.position ? 1 : 0));
  if (matches.length === 1) return matches[0].optimizationId;
  // A recommendation id names the real optimization and its dry-run preview: the real one is meant.
  const real = matches.filter((m) => m.byRecommendation?.dryRun === false);
  if (real.length === 1 && matches.every((m) => m.byRecommendation !== undefined)) return real[0].optimizationId;
  if (matches.length === 0) throw new NotFound(`no optimization ${id} in this store`);
  throw new UsageError(`${id} is ambiguous: it matches ${matches.length} optimizations (${matches.map((m) => m.optimizationId.slice(0, 13)).join(', ')})`);
}

export class NotFound extends Error {
  constructor(message: string) {
    super(message);
    Object.setPrototypeOf(this, new.target.prototype);
  }
}

export async function historyCommand(io: Io, id: string, flags: { store: string; json?: boolean; wide?: boolean }): Promise<number> {
  const store = await openExistingStore(flags.store);
  try {
    const optimizationId = await resolveId(store, id);
    const events = await store.readStream(optimizationStream(optimizationId));
    if (events.length === 0) throw new NotFound(`no optimization ${id} in this store`);
    const rows = events.map((e) => ({ type: e.type, data: e.data, recordedAt: e.recordedAt.toISOString(), revision: Number(e.revision), id: e.id, metadata: e.metadata }));
    if (flags.json) io.out(toJson({ optimizationId, events: rows }));
    else {
      io.out(`History of optimization ${optimizationId}:\n`);
      io.out(
        table(
          ['#', 'RECORDED AT', 'EVENT', 'BY', 'DETAIL'],
          events.map((e, i) => [String(rows[i].revision), rows[i].recordedAt, e.type, String(e.metadata['recordedBy'] ?? ''), detailOf(e)]),
          { wide: flags.wide ?? false, rightAligned: new Set([0]), fit: { 1: { whole: true }, 2: { whole: true }, 4: { minWidth: 20 } } },
        ),
      );
    }
    return 0;
  } finally {
    await store.close();
  }
}

/** What risk saw of the live resource, for the history line. */
function liveNote(basis: unknown): string {
  const live = (basis as RiskBasis | undefined)?.live;
  if (!live) return '';
  if (live.error) return `; live resource could not be described (${live.error.code})`;
  if (!live.found) return '; live resource not found';
  return live.monthlyCost !== undefined ? `; live resource $${live.monthlyCost}/mo` : '; live resource seen';
}

/**
 * The DETAIL of one stored event in `history`. `history` reads the stream as it is stored (its `--json` shows the data
 * as written), so the event is read here through the event schemas first ({@link parseStoredEvent}, upcast to the
 * current version): one whose type optex does not know or whose data does not fit its type (a row changed in the file)
 * is listed with its detail as `(unreadable: why)`, never a crash.
 */
function detailOf(e: Pick<RecordedEvent, 'stream' | 'revision' | 'type' | 'data' | 'metadata'>): string {
  let data: Record<string, unknown>;
  try {
    data = parseStoredEvent(e).data as Record<string, unknown>;
  } catch (error) {
    if (!(error instanceof DomainError)) throw error;
    return unreadable(e, error.message);
  }
  try {
    return detailOfParsed(e.type, data);
  } catch (error) {
    return unreadable(e, error instanceof Error ? error.message : String(error));
  }
}

/** `(unreadable: why)`, without the type and the stream@revision the line shows already. */
function unreadable(e: Pick<RecordedEvent, 'stream' | 'revision' | 'type'>, why: string): string {
  const text = why.replace(` (${e.stream}@${e.revision})`, '');
  return `(unreadable: ${text.startsWith(`${e.type}: `) ? text.slice(e.type.length + 2) : text})`;
}

/** The DETAIL of an event that fits its type's schema. */
function detailOfParsed(type: string, d: Record<string, unknown>): string {
  switch (type) {
    case 'ResubmissionConflicted':
      return `resubmitted with other content, not applied: ${(d['differences'] as RecommendationDifference[]).map(differenceText).join('; ')} (delivery ${String(d['deliveryId'])})`;
    case 'RiskAssessed':
      return `${String(d['level'])} (${(d['factors'] as { factor: string }[]).map((f) => f.factor).join(', ') || 'no factors'})${liveNote(d['basis'])}`;
    case 'RiskReassessed':
      return `${String(d['previousLevel'])} → ${String(d['level'])} on the live resource (${(d['factors'] as { factor: string }[]).map((f) => f.factor).join(', ')})${
        d['returnedForApproval'] === true ? ': back for approval, nothing executed' : ''
      }`;
    case 'ApprovalGranted':
      return d['mode'] === 'auto' ? 'auto' : `by ${String(d['by'])}${d['final'] ? '' : ' (more approvals needed)'}`;
    case 'ApprovalRequested':
      return `from ${String(d['authority'])}, expires ${String(d['expiresAt'])}`;
    case 'ApprovalDenied':
      return `by ${String(d['by'])}: ${String(d['reason'])}`;
    case 'ExecutionStepCompleted':
    case 'RollbackStepCompleted':
      return `${String(d['index'])}: ${(d['step'] as { kind: string }).kind}${d['reconciled'] === true ? ' (found after a crash, not repeated)' : ''}`;
    case 'ExecutionStepStarted':
    case 'RollbackStepStarted':
      return `${String(d['index'])}: ${(d['step'] as { kind: string }).kind} (intent, token ${String(d['clientToken']).slice(0, 8)})`;
    case 'StepEffectNotFound':
      return `${String(d['index'])}: no effect found (${String(d['evidence'])}); performed again with the same token`;
    case 'ReconciliationRequired':
      return `${String(d['index'])}: ${(d['step'] as { kind: string }).kind}: ${String(d['reason'])}`;
    case 'ExecutionFailed':
    case 'RollbackFailed':
      return `${(d['error'] as { code: string }).code}: ${(d['error'] as { message: string }).message}`;
    case 'PreValidationFailed':
      return (d['reasons'] as string[]).join('; ');
    case 'ValidationFailed':
      return `${(d['reasons'] as string[]).join('; ')}; ${performanceSummary(d['performance'] as PerformanceImpact)}`;
    case 'ValidationPassed': {
      const savings = Array.isArray(d['unpriced'])
        ? `actual savings unpriced (${(d['unpriced'] as string[]).join('; ')})`
        : d['actualMonthlySavings'] === undefined
          ? 'actual savings unknown'
          : `actual $${String(d['actualMonthlySavings'])}/mo, accuracy ${String(d['accuracyPct'])} %`;
      return `${savings}; ${performanceSummary(d['performance'] as PerformanceImpact)}`;
    }
    case 'RollbackStarted':
      return String(d['reason']);
    case 'OptimizationOutOfScope':
      return `${String(d['stage'])}: ${(d['violations'] as { reason: string }[]).map((v) => v.reason).join('; ')}`;
    case 'OptimizationCancelled':
    case 'RollbackRetried':
      return `by ${String(d['by'])}: ${String(d['reason'])}`;
    case 'OptimizationResolved':
      return `by ${String(d['by'])} (was ${String(d['from'])}): ${String(d['note'])}`;
    case 'BackupSnapshotExpired': {
      const expiry = d as unknown as BackupExpiry;
      return `${String(d['snapshotId'])} of ${String(d['volumeId'])} after ${String(d['retentionDays'])} day(s): ${backupExpiryText(expiry)}; no longer reversible`;
    }
    default:
      return '';
  }
}

/** `show ID`: the optimization with its risk, the exact plan asked for and approved, and the approval (authority, approvals so far, expiry). */
export async function showCommand(io: Io, id: string, flags: { store: string; json?: boolean }): Promise<number> {
  const store = await openExistingStore(flags.store);
  try {
    const optimizationId = await resolveId(store, id);
    const { state } = await loadStream(store, optimizationStream(optimizationId), optimizationDecider);
    if (state.status === 'initial') throw new NotFound(`no optimization ${id} in this store`);
    const detail = optimizationDetail(state);
    const now = new Date();
    const waiting = (await waitingOf(store, state, { now, policy: await rememberedPolicy(store) })) ?? null;
    io.out(flags.json ? toJson({ ...detail, waiting }) : detailText(detail, waiting, now));
    return 0;
  } finally {
    await store.close();
  }
}

/**
 * The policy remembered with the store (`run --policy` given earlier), for `show`'s wait reason (the soak, the change
 * windows, freezes and cool-down a scheduled one's start is judged by) and for the roster `approve`/`deny` judge a
 * decider against besides the request's; the default policy (no roster) when none is remembered, and also when the
 * remembered file cannot be read now (show still prints the rest, a decision is judged by the request's roster alone;
 * run and resume say why).
 */
async function rememberedPolicy(store: EventStore): Promise<Policy> {
  const file = (await settingsIn(store)).policyFile;
  try {
    return await loadPolicy(file, true);
  } catch {
    return defaultPolicy;
  }
}

/**
 * Opens a store a command only reads or appends a decision to: a `sqlite:` path that does not exist is refused
 * (exit 1) instead of being created, so a mistyped path never looks like an empty store.
 */
export async function openExistingStore(url: string): Promise<EventStore> {
  refuseMissingStore(url);
  return openStore(url);
}

/**
 * Refuses (exit 1) a `sqlite:` store whose file does not exist, or is empty (0 bytes: a `touch`, a copy cut short),
 * instead of letting the command create an empty store in it: a command that only reads must not write a schema into
 * a file it was pointed at by mistake, and an empty store would answer as if nothing had ever run.
 */
export function refuseMissingStore(url: string): void {
  const file = sqliteFileOf(url);
  if (file === undefined) return;
  if (!existsSync(file)) throw new NotFound(`--store: ${file} does not exist (nothing was run against it)`);
  const stats = statSync(file);
  if (stats.isFile() && stats.size === 0) throw new NotFound(`--store: ${file} is empty (0 bytes): not an optex store (nothing was run against it)`);
}

/**
 * The writer lock of `run`/`resume`: {@link lockStoreForWriting}, with a store path where the lock (and so the store)
 * cannot be created — under a file, in /proc, on a read-only disk — refused as `--store: …` (exit 2) instead of a stack
 * trace. A store in use by another writer stays `StoreInUseError` (exit 1).
 */
function lockForWriting(storeUrl: string, command: string): ReturnType<typeof lockStoreForWriting> {
  try {
    return lockStoreForWriting(storeUrl, command);
  } catch (error) {
    if (error instanceof StoreInUseError) throw error;
    throw new UsageError(`--store: ${storeUrl} cannot be used: ${(error as Error | undefined)?.message ?? String(error)}`);
  }
}

/**
 * For a `sqlite:` store that does not exist yet (so `run` would create it, and it remembers nothing): checks first
 * what opening it would check after creating it — that its path is not a directory, the bus url, the cloud (its fleet
 * file) and the policy given — so a refused flag leaves no empty store behind. A policy that is not a regular file (a
 * pipe: `--policy /dev/stdin`) is left to the engine's own check, as it can be read only once.
 */
async function checkStoreToCreate(flags: RunFlags): Promise<void> {
  const file = sqliteFileOf(flags.store);
  if (file === undefined) return;
  let existing: Stats | undefined;
  try {
    existing = statSync(file);
  } catch {
    // not there yet (or not reachable: the writer lock says why)
  }
  if (existing?.isDirectory()) throw new UsageError(`--store: ${flags.store} cannot be used: ${file} is a directory`);
  if (existing) return;
  parseBusUrl(flags.bus);
  const cloud = parseCloudUrl(flags.cloud ?? DEFAULT_FLAGS.cloud);
  if (cloud.kind === 'simulated') {
    try {
      parseFleetFile(await readFile(cloud.fleetFile, 'utf8'), cloud.fleetFile);
    } catch (error) {
      if (error instanceof FleetFileError) throw new UsageError(`--cloud: ${error.message}`);
      throw new UsageError(`--cloud: ${cloud.fleetFile}: cannot read the fleet file (${(error as Error).message})`);
    }
  }
  if (flags.policy !== undefined && isRegularFile(flags.policy)) await loadPolicy(flags.policy);
}

function isRegularFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** `replay`: folds the whole log from scratch and prints the projections it yields. */
export async function replayCommand(io: Io, flags: { store: string; json?: boolean; wide?: boolean }): Promise<number> {
  const store = await openExistingStore(flags.store);
  try {
    const projection = new OptimizationProjection();
    let events = 0;
    const streams = new Set<string>();
    let rejected = 0;
    let previewRejections = 0;
    const duplicated: string[] = [];
    const lines: string[] = [];
    for await (const e of store.readAll()) {
      if (e.stream.startsWith('relay-checkpoint-')) continue;
      events++;
      streams.add(e.stream);
      if (e.stream === REJECTED_STREAM) {
        rejected++;
        if (isPreviewRejection((parseStoredEvent(e) as RecommendationRejected).data)) previewRejections++;
      }
      if (e.stream === DUPLICATES_STREAM) duplicated.push((parseStoredEvent(e) as RecommendationDuplicated).data.optimizationId);
      if (e.stream.startsWith(OPTIMIZATION_STREAM_PREFIX)) projection.apply(e);
      if (!flags.json) lines.push(`${String(e.position.commit).padStart(6)}  ${e.recordedAt.toISOString()}  ${safe(e.stream)}  ${safe(e.type)}`);
    }
    const views = projection.all().map((s) => viewOf(s));
    const previews = { rejected: previewRejections, duplicates: duplicated.filter((id) => projection.get(id)?.dryRun === true).length };
    const summary = summarize(views, { rejected, duplicates: duplicated.length, previews });
    if (flags.json) io.out(toJson({ events, streams: streams.size, summary, optimizations: views }));
    else io.out(`${lines.join('\n')}\n\nReplayed ${events} events from ${streams.size} streams.\n\n${optimizationsTable(views, { wide: flags.wide ?? false })}\n\n${summaryText(summary)}`);
    return 0;
  } finally {
    await store.close();
  }
}

export async function metricsCommand(io: Io, flags: { store: string; json?: boolean }): Promise<number> {
  const store = await openExistingStore(flags.store);
  try {
    const { summary } = await report(store);
    io.out(flags.json ? toJson({ summary }) : summaryText(summary));
    return 0;
  } finally {
    await store.close();
  }
}

export async function listCommand(io: Io, flags: { store: string; json?: boolean; wide?: boolean }): Promise<number> {
  const store = await openExistingStore(flags.store);
  try {
    // Looked at now: a request past its expiry reads `expired` before a resume records it (as `show` says).
    const { optimizations } = await report(store, undefined, undefined, undefined, new Date());
    io.out(flags.json ? toJson({ optimizations }) : optimizationsTable(optimizations, { wide: flags.wide ?? false }));
    return 0;
  } finally {
    await store.close();
  }
}

/**
 * Runs one person's decision about one optimization against the store: resolves the id, records it (`record`), prints
 * the outcome; a domain refusal exits 1 with one line naming the command.
 */
async function recordDecision(
  io: Io,
  command: string,
  storeUrl: string,
  id: string,
  record: (store: EventStore, optimizationId: string) => Promise<OptimizationState>,
  print: (optimizationId: string, state: Exclude<OptimizationState, { status: 'initial' }>) => void,
): Promise<number> {
  const store = await openExistingStore(storeUrl);
  try {
    const optimizationId = await resolveId(store, id);
    const state = await record(store, optimizationId);
    if (state.status === 'initial') throw new NotFound(`no optimization ${id}`);
    print(optimizationId, state);
    return 0;
  } catch (error) {
    if (error instanceof DomainError) {
      io.err(`optex ${command}: ${safe(error.message)}`);
      return 1;
    }
    throw error;
  } finally {
    await store.close();
  }
}

/** What carries an approval or a denial on: `optex resume`, or the services running on an EventStoreDB store. */
const DECISION_NEXT: NextStep = { resume: 'continue processing', services: 'pick it up' };

export async function decisionCommand(io: Io, kind: 'approve' | 'deny', id: string, flags: { store: string; by: string; reason?: string; requestedAt?: string; json?: boolean }): Promise<number> {
  if (!flags.by.trim()) throw new UsageError('--by: the approver name is empty');
  if (kind === 'deny' && !flags.reason?.trim()) throw new UsageError('--reason: a denial needs a reason');
  const requestedAt = timeFlag('--requested-at', flags.requestedAt)?.toISOString();
  return recordDecision(
    io,
    kind,
    flags.store,
    id,
    async (store, optimizationId) => {
      const decision = { optimizationId, by: flags.by.trim(), ...(flags.reason ? { reason: flags.reason } : {}), ...(requestedAt ? { requestedAt } : {}), now: new Date(), rosterInForce: (await rememberedPolicy(store)).approval };
      return kind === 'approve' ? recordApproval(store, decision) : recordDenial(store, decision);
    },
    (optimizationId, state) => {
      const view = viewOf(state);
      const approvers = state.approval.approvers;
      if (flags.json) io.out(toJson({ optimizationId, status: view.status, approval: view.approval, approvers }));
      else {
        const more = state.status === 'awaiting-approval' ? ` — ${state.approval.requiredApprovals ?? 1} distinct approvals needed, ${approvers.length} so far` : '';
        io.out(`${optimizationId}: ${safe(view.status)}${more}. ${nextStepText(flags.store, DECISION_NEXT)}`);
      }
    },
  );
}

/** The flag that carries each operator action's text, and what carries the action on (none: it settles the optimization). */
const OPERATOR_ACTIONS: Record<OperatorAction, { readonly textFlag: 'reason' | 'note'; readonly next?: NextStep }> = {
  cancel: { textFlag: 'reason' },
  'retry-rollback': { textFlag: 'reason', next: { resume: 'carry the rollback on', services: 'carry the rollback on' } },
  resolve: { textFlag: 'note' },
};

/** `cancel ID`, `retry-rollback ID` (`--by`, `--reason`) and `resolve ID` (`--by`, `--note`): operator actions, recorded with who and why. */
export async function operatorCommand(io: Io, action: OperatorAction, id: string, flags: { store: string; by: string; reason?: string; note?: string; json?: boolean }): Promise<number> {
  const { textFlag, next } = OPERATOR_ACTIONS[action];
  const text = flags[textFlag]?.trim() ?? '';
  const by = flags.by.trim();
  if (!by) throw new UsageError('--by: the operator name is empty');
  if (!text) throw new UsageError(`--${textFlag}: ${action} needs a ${textFlag === 'note' ? 'note of what you found or did' : 'reason'}`);
  return recordDecision(
    io,
    action,
    flags.store,
    id,
    (store, optimizationId) => recordOperatorAction(store, action, { optimizationId, by, reason: text, now: new Date() }),
    (optimizationId, state) => io.out(flags.json ? toJson({ optimizationId, status: state.status, by, [textFlag]: text }) : `${optimizationId}: ${safe(state.status)}.${next ? ` ${nextStepText(flags.store, next)}` : ''}`),
  );
}

/** Who submits what `run` and `submit` read: recorded as `via` of each OptimizationReceived. */
const CLI_SUBMITTER = { channel: 'cli' } as const;

/** `submit FILE --bus kafka://…`: publishes recommendations to the input topic. */
export async function submitCommand(io: Io, file: string, flags: { bus: string; json?: boolean; dryRun?: boolean; partitions?: number }): Promise<number> {
  const intakeLimits = intakeLimitsFromEnv();
  const read = { ...(await readInput(file, intakeLimits)), submittedBy: CLI_SUBMITTER };
  const input = flags.dryRun ? asPreview(read) : read;
  const bus = await openBus(flags.bus, 'optex-submit', flags.partitions, io.logger);
  try {
    await bus.publish(recommendationMessages(input, flags.dryRun ?? false, intakeLimits));
    io.out(flags.json ? toJson({ submitted: input.records.length, topic: TOPICS.recommendations }) : `submitted ${input.records.length} recommendations to ${TOPICS.recommendations}`);
    return 0;
  } finally {
    await bus.close();
  }
}

/**
 * `fleet --store … --cloud simulated:FLEET.json`: the simulated fleet as it is now (its state beside a SQLite
 * store), in the fleet file's format plus the purchased reservations, listings and every EC2 call it answered.
 * Reads only: a store path that does not exist is a usage error, and without a persisted state yet the fleet
 * file itself is shown (no calls).
 */
export async function fleetCommand(io: Io, flags: { store: string; cloud?: string; json?: boolean; wide?: boolean }): Promise<number> {
  const file = sqliteFileOf(flags.store);
  if (file !== undefined && !existsSync(file)) throw new UsageError(`--store: ${file} does not exist`);
  const cloud = flags.cloud ?? (file !== undefined ? (await rememberedSettings(flags.store)).cloud : undefined) ?? DEFAULT_FLAGS.cloud;
  if (!cloud.startsWith('simulated:') || cloud === 'simulated:') {
    throw new UsageError(`--cloud: optex fleet shows a simulated fleet, expected simulated:FLEET.json, got ${JSON.stringify(cloud)}`);
  }
  const fleetFile = cloud.slice('simulated:'.length);
  const statePath = stateFileFor(flags.store);
  let fleet: SimulatedFleet;
  try {
    fleet = await SimulatedFleet.open({ fleetFile, ...(statePath !== undefined && existsSync(statePath) ? { statePath } : {}) });
  } catch (error) {
    if (error instanceof FleetFileError) throw new UsageError(`--cloud: ${error.message}`);
    throw error;
  }
  try {
    const { simulator, ...state } = fleet.snapshot();
    const calls = fleet.calls().map((c) => ({
      seq: c.seq,
      at: c.at,
      operation: c.operation,
      resource: c.resourceId,
      accountId: c.accountId,
      region: c.region,
      dryRun: c.dryRun,
      result: c.result,
      ...(c.clientToken !== undefined ? { clientToken: c.clientToken } : {}),
    }));
    const view = { ...state, reservedInstances: simulator.reservedInstances, listings: simulator.listings, calls };
    io.out(flags.json ? toJson(view) : fleetText(view, { fleetFile, statePath: statePath !== undefined && existsSync(statePath) ? statePath : undefined }, { wide: flags.wide ?? false }));
    return 0;
  } finally {
    fleet.close();
  }
}
