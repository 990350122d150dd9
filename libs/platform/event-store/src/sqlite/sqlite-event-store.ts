import { resolve } from 'node:path';
import Database from 'better-sqlite3';
import { DomainError } from '@optex/domain';
import {
  ConcurrencyError,
  InfrastructureError,
  OptexError,
  TurnBatcher,
  UnusableStoreError,
  systemClock,
  type AppendResult,
  type Clock,
  type EventFilter,
  type EventStore,
  type ExpectedRevision,
  type AppendOptions,
  type GlobalPosition,
  type NewEvent,
  type ReadAllOptions,
  type ReadStreamOptions,
  type RecordedEvent,
  type RecordedEventWithoutData,
  type SubscribeOptions,
  type Subscription,
} from '@optex/ports';
import { PartialDuplicateAppendError } from '../errors';
import { assertExpectedRevision, assertFilter, assertPosition, assertReadAllOptions, assertReadStreamOptions, assertStreamName, serializeEvents, type SerializedEvent } from '../validation';
import { MIGRATE_FROM_1, SCHEMA_SQL, SCHEMA_VERSION } from './schema';
import { SqliteSubscription, type SubscriptionPage, type SubscriptionSource } from './sqlite-subscription';
import { RecentEvents } from './recent-events';
import { WalCheckpointer } from './wal-checkpointer';
import { LimitedStatements } from './limited-statements';

/**
 * Time between WAL checkpoints on the store's worker thread: about what a power loss may undo (a commit is in the WAL,
 * not yet synced, until the checkpoint after it). 100 ms measured no faster than SQLite's own rule (3,000 dry runs,
 * wall 0.98 of it, 6 pairs); 1 s, 0.92 (10 pairs).
 */
export const DEFAULT_CHECKPOINT_EVERY_MS = 250;

/** Options of {@link SqliteEventStore.open}. */
export interface SqliteEventStoreOptions {
  /**
   * How often a caught-up subscription looks for events appended by *another* connection to the
   * same file. Appends through this instance wake its subscriptions at once.
   * @defaultValue 100
   */
  readonly pollIntervalMs?: number;
  /** Rows fetched per query by `readAll` and by subscriptions. @defaultValue 500 */
  readonly pageSize?: number;
  /** How long an append waits for another connection's write lock before failing. @defaultValue 5000 */
  readonly busyTimeoutMs?: number;
  /** Source of `recordedAt`. @defaultValue systemClock */
  readonly clock?: Clock;
  /**
   * Time between WAL checkpoints, run on a worker thread with its own connection (a file store only); 0 leaves them to
   * SQLite, inside the commit that passes 1,000 pages of WAL. With the worker, the writer's own checkpoint waits for
   * 10,000 pages, for a worker that falls behind. @defaultValue {@link DEFAULT_CHECKPOINT_EVERY_MS} (250 ms)
   */
  readonly checkpointEveryMs?: number;
}

interface EventRow {
  readonly position: bigint;
  readonly stream: string;
  readonly revision: bigint;
  readonly event_id: string;
  readonly type: string;
  readonly data: string;
  readonly metadata: string;
  readonly recorded_at: bigint;
}

/** An event filed (`stream_id`) under a stream whose name (`streams.name`) is not the `stream` it names: see {@link SqliteEventStore.firstStreamMismatch}. */
export interface StreamMismatch {
  readonly position: bigint;
  /** The stream the event names (its `stream` column: what `$all` reads show and the hash chain covers). */
  readonly stream: string;
  readonly revision: bigint;
  readonly id: string;
  readonly type: string;
  readonly recordedAt: Date;
  /** Its `stream_id`, and that stream's name (what reads of one stream go by); `null` when `streams` has no such number. */
  readonly streamId: bigint;
  readonly filedUnder: string | null;
}

/** What one append did: nothing (every id already there), or wrote its events at these positions. */
type AppendOutcome =
  | { readonly written: false; readonly result: AppendResult }
  | { readonly written: true; readonly result: AppendResult; readonly positions: readonly bigint[]; readonly firstRevision: bigint; readonly recordedAt: number };

/** An append waiting for the next group commit. */
interface PendingAppend {
  readonly stream: string;
  readonly events: readonly SerializedEvent[];
  readonly expected: ExpectedRevision;
  /** {@link AppendOptions.durable}: its group commits with `synchronous=FULL`. */
  readonly durable: boolean;
  readonly resolve: (result: AppendResult) => void;
  readonly reject: (error: unknown) => void;
}

/** Most appends one group commit takes; the rest wait for the next one. */
const MAX_GROUP = 1000;

/**
 * Commits that wrote, by every {@link SqliteEventStore} of this process, by file: for one instance, another's commit
 * is another connection's, which its kept events may miss.
 */
const commitsByFile = new Map<string, number>();

const MAX_INT64 = 9223372036854775807n;
const COLUMNS = 'position, stream, revision, event_id, type, data, metadata, recorded_at';
const COLUMNS_WITHOUT_DATA = 'position, stream, revision, event_id, type, metadata, recorded_at';
/** The log's last position (NULL when it is empty). */
const HEAD = 'SELECT MAX(position) AS head FROM events';
/** The number of the stream named `@stream` (NULL, so no rows, for a stream not created yet). */
const STREAM_ID = '(SELECT id FROM streams WHERE name = @stream)';
/** A stream's events from a revision on, and back from one (the LIMIT is {@link LimitedStatements}'). */
const READ_STREAM_FORWARDS = `SELECT ${COLUMNS} FROM events WHERE stream_id = ${STREAM_ID} AND revision >= @from ORDER BY revision ASC`;
const READ_STREAM_BACKWARDS = `SELECT ${COLUMNS} FROM events WHERE stream_id = ${STREAM_ID} AND revision <= @from ORDER BY revision DESC`;

/**
 * The event log in one SQLite file (better-sqlite3), for the embedded default and for tests
 * (`:memory:`). The driver is synchronous; the port's promises wrap it.
 *
 * - An `events` table, the global position its AUTOINCREMENT rowid, used as both `commit` and `prepare`, and a
 *   `streams` table numbering streams in the order they were created; unique (stream number, revision) and (stream
 *   number, event id) — see `schema.ts` for why by number. A version-1 file is migrated when opened.
 * - WAL journal, `synchronous=NORMAL`: a commit is durable against a process crash, and against
 *   power loss up to the last checkpoint. Checkpoints run every `checkpointEveryMs` (250 ms) on a worker thread with
 *   its own connection ({@link WalCheckpointer}, started by the first append), not inside a commit: a power loss may
 *   undo about the last quarter second of commits, busy or idle, except a durable append's
 *   ({@link AppendOptions.durable}: the executor's intents), whose commit runs with `synchronous=FULL` and syncs the
 *   WAL, all earlier commits with it, before it is acknowledged. SQLite's own rule — a checkpoint inside the commit
 *   that passes 1,000 pages of WAL — left a few tenths of a second at full load but an idle store's last commits
 *   unsynced until the next 1,000 pages; it stays as a backstop at 10,000 pages. Under a steady load that backstop
 *   still runs, once every ~10,000 pages: a worker's checkpoint beside a writer that does not pause rarely leaves the
 *   WAL all copied, which the WAL needs to start over, and a checkpoint inside a commit does. Each of those copies only
 *   what the worker has not, so a worker every 250 ms rather than every second halved them (12–22 ms against 30–45 ms
 *   on this machine's ext4; docs/benchmarks.md, twentieth part).
 * - Group commit: appends called in the same turn of the event loop are written in one
 *   `BEGIN IMMEDIATE` transaction (at most 1,000 per transaction), in call order: a call that fails
 *   (a version conflict, a partial duplicate) fails in its checks, before it writes anything, so it
 *   alone rejects and the others commit, with no savepoint per call. Every promise settles only after
 *   the commit, so an acknowledged append is as durable as before; a commit that fails rejects every
 *   call of the group.
 *   Committing costs far more than inserting (about 85 µs a commit against a few µs an insert, WAL
 *   with `synchronous=NORMAL`, measured on the project's 2-core machine), so concurrent writers share it.
 * - Reads without SQLite where they can: the whole content of recently used streams (2,048, twice `run`'s window of
 *   records in flight; a stream
 *   found empty too) and the last events of `$all` (8,192 and more) are kept as this connection writes them, and
 *   serve `readStream` (a whole stream forwards, or its newest events backwards) and subscription pages, as long as no other connection
 *   has written (SQLite's `data_version` unchanged, looked at before the first such read of each turn of the event loop
 *   and after another instance of this process commits to the file); when one has, the kept events are dropped and
 *   SQLite answers. An own commit whose first position does not follow the last kept one (another process committed
 *   after that look, in the same turn) drops them too.
 * - Several processes may share the file: writers queue on the lock (up to `busyTimeoutMs`), readers
 *   never block.
 * - Idempotent appends: when every event id of a call is already in the stream, the call writes
 *   nothing and returns the stream's current revision and last position, whatever the expected
 *   revision; when only some are, it fails with {@link PartialDuplicateAppendError}.
 * - Driver failures surface as `InfrastructureError`, conflicts as `ConcurrencyError`, bad
 *   arguments as `TypeError`/`RangeError` naming the field. A stored row whose data or metadata is not JSON (the file
 *   changed behind optex's back) is corrupt data, not an outage: `DomainError('INVALID_EVENT')` naming the event and
 *   the column ({@link parseColumn}), never retried as one.
 */
export class SqliteEventStore implements EventStore {
  /** Set when a transaction of appends failed, cleared by the next that commits ({@link appendsFailing}). */
  private failing: { readonly since: Date; readonly error: string } | undefined;
  private readonly statements: ReturnType<typeof prepareStatements>;
  /** The queries that end in a LIMIT, prepared per limit ({@link LimitedStatements}). */
  private readonly limited: LimitedStatements;
  /** The SQL (without its LIMIT) of each `$all` read: per direction, filter shape and column set. */
  private readonly readAllQueries = new Map<string, string>();
  private readonly subscriptions = new Set<SqliteSubscription>();
  private readonly groupTransaction: Database.Transaction<(group: readonly PendingAppend[]) => (AppendOutcome | { failed: unknown })[]>;
  /** Appends waiting for the next group commit. */
  private readonly pending = new TurnBatcher<PendingAppend>(MAX_GROUP, (group) => this.commitGroup(group));
  private readonly recent = new RecentEvents({ streams: 2048, tail: 8192 });
  /** `data_version` when {@link recent} was last known complete; it changes when another connection commits. */
  private seenVersion: number | undefined;
  /** Whether `data_version` was read in this turn of the event loop, and what {@link commitsByOthers} was then. */
  private checkedInTurn = false;
  private othersAtCheck = 0;
  /** Commits that wrote through this instance (counted in {@link commitsByFile} too). */
  private ownCommits = 0;
  /** The key of {@link commitsByFile}: the file's absolute path. */
  private readonly fileKey: string;
  private readonly endTurn = (): void => {
    this.checkedInTurn = false;
  };
  private readonly pollIntervalMs: number;
  private readonly pageSize: number;
  private readonly clock: Clock;
  private closing: Promise<void> | undefined;
  private closed = false;
  /** Started by the first append (a store only read never writes WAL to checkpoint); 0 ms: none, SQLite's own rule. */
  private checkpointer: WalCheckpointer | undefined;
  private readonly checkpointEveryMs: number;
  private readonly busyTimeoutMs: number;

  private constructor(
    private readonly db: Database.Database,
    /** The file this store writes to (`:memory:` for an in-memory store). */
    readonly path: string,
    settings: Settings,
  ) {
    this.pollIntervalMs = settings.pollIntervalMs;
    this.pageSize = settings.pageSize;
    this.clock = settings.clock;
    this.statements = prepareStatements(db);
    this.limited = new LimitedStatements(db);
    this.checkpointEveryMs = path === ':memory:' ? 0 : settings.checkpointEveryMs;
    this.fileKey = path === ':memory:' ? path : resolve(path);
    this.busyTimeoutMs = settings.busyTimeoutMs;
    // A call's OptexError (conflict, partial duplicate) comes from its checks, before it writes anything (see
    // appendInTransaction), so that call fails alone with no savepoint to roll back; anything else (a driver failure)
    // aborts the whole group.
    this.groupTransaction = db.transaction((group) =>
      group.map((p) => {
        try {
          return this.appendInTransaction(p.stream, p.events, p.expected);
        } catch (error) {
          if (error instanceof OptexError) return { failed: error };
          throw error;
        }
      }),
    );
  }

  /**
   * Opens (creating it and its schema if missing) the SQLite event log at `path`, or a private
   * in-memory one for `':memory:'`. The parent directory must exist (see `createEventStore`).
   * @throws UnusableStoreError when the file is not a database, is damaged, holds a newer schema or another program's
   *   tables (nothing to retry);
   *   InfrastructureError when it cannot be opened for another reason (permissions, a lock held too long, a full disk).
   */
  static open(path: string, options: SqliteEventStoreOptions = {}): SqliteEventStore {
    assertStreamName(path, 'path');
    const settings = settingsOf(options);
    let db: Database.Database | undefined;
    try {
      db = new Database(path, { timeout: settings.busyTimeoutMs });
      // Read before anything writes: a newer optex's file, or another program's database, is refused as it is (WAL
      // mode is set in the file's header).
      const version = knownSchemaVersion(db);
      if (version === 0) refuseForeignTables(db);
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      if (version < SCHEMA_VERSION && upgrade(db, path)) db.exec('VACUUM'); // the old table's pages, free after a migration, given back
      return new SqliteEventStore(db, path, settings);
    } catch (error) {
      db?.close();
      const Failure = unusable(error) ? UnusableStoreError : InfrastructureError;
      throw new Failure(`cannot open the SQLite event store at ${path}: ${messageOf(error)}`, { cause: error });
    }
  }

  async appendToStream(stream: string, events: readonly NewEvent[], expected: ExpectedRevision, options: AppendOptions = {}): Promise<AppendResult> {
    assertStreamName(stream);
    assertExpectedRevision(expected);
    const serialized = serializeEvents(events);
    if (this.closing !== undefined || this.closed) throw new InfrastructureError(`cannot append to ${stream}: the SQLite event store at ${this.path} is closed`);
    if (this.checkpointer === undefined && this.checkpointEveryMs > 0) this.startCheckpointer();
    return new Promise<AppendResult>((resolve, reject) => {
      this.pending.add({ stream, events: serialized, expected, durable: options.durable === true, resolve, reject });
    });
  }

  /** Writes the waiting appends in one transaction (see the class comment), then settles their promises. */
  private commitGroup(group: readonly PendingAppend[]): void {
    let outcomes: (AppendOutcome | { failed: unknown })[];
    try {
      const durable = group.some((p) => p.durable);
      outcomes = this.guard(group.length === 1 ? `append to ${group[0].stream}` : `append to ${group.length} streams`, () =>
        durable ? this.synced(() => this.groupTransaction.immediate(group)) : this.groupTransaction.immediate(group),
      );
    } catch (error) {
      this.failing = { since: this.failing?.since ?? new Date(), error: messageOf(error) };
      for (const p of group) p.reject(error);
      return;
    }
    this.failing = undefined;
    let written = false;
    outcomes.forEach((outcome, i) => {
      if ('failed' in outcome) group[i].reject(outcome.failed);
      else {
        if (outcome.written) {
          written = true;
          // Another connection committed since `data_version` was last read: the next read looks at the file again.
          if (!this.recent.appended(recordedOf(group[i], outcome))) this.seenVersion = undefined;
        }
        group[i].resolve(outcome.result);
      }
    });
    if (!written) return;
    this.ownCommits += 1;
    commitsByFile.set(this.fileKey, (commitsByFile.get(this.fileKey) ?? 0) + 1);
    for (const subscription of this.subscriptions) subscription.wake();
  }

  /**
   * Runs a transaction with `synchronous=FULL`: its commit syncs the WAL, and with it every commit before it, before
   * the promises of its appends settle ({@link AppendOptions.durable}). About one fsync; the others stay NORMAL.
   */
  private synced<T>(transaction: () => T): T {
    this.db.pragma('synchronous = FULL');
    try {
      return transaction();
    } finally {
      this.db.pragma('synchronous = NORMAL');
    }
  }

  /** Since when every transaction of appends has failed (a full disk, a read-only or damaged file), and the last failure. */
  appendsFailing(): { readonly since: Date; readonly error: string } | undefined {
    return this.failing;
  }

  async readStream(stream: string, options: ReadStreamOptions = {}): Promise<RecordedEvent[]> {
    assertStreamName(stream);
    assertReadStreamOptions(options);
    if (options.maxCount === 0) return [];
    const backwards = options.direction === 'backwards';
    const from = options.fromRevision ?? (backwards ? MAX_INT64 : 0n);
    const query = backwards ? READ_STREAM_BACKWARDS : READ_STREAM_FORWARDS;
    const whole = !backwards && from === 0n && options.maxCount === undefined;
    // The newest events (e.g. the last one: the kill switch's state, a hash chain's tip) are served from a known stream too.
    const latest = backwards && options.fromRevision === undefined;
    return this.guard(`read stream ${stream}`, () => {
      if (whole || latest) {
        this.refreshRecent();
        const known = whole ? this.recent.stream(stream) : this.recent.last(stream, options.maxCount ?? Number.POSITIVE_INFINITY);
        if (known) return known;
      }
      const limit = options.maxCount ?? -1;
      const events = (this.limited.get(query, limit).all({ stream, from, limit }) as EventRow[]).map(toRecordedEvent);
      // A stream read whole is remembered, and so is one found empty (until this connection appends to it, or another does).
      if (whole || (latest && events.length === 0)) this.recent.rememberStream(stream, events);
      return events;
    });
  }

  readAll(options: ReadAllOptions = {}): AsyncIterable<RecordedEvent> {
    return this.readAllPages(options, true, toRecordedEvent);
  }

  /** `readAll` with the data column neither fetched nor parsed. */
  readAllWithoutData(options: ReadAllOptions = {}): AsyncIterable<RecordedEventWithoutData> {
    return this.readAllPages(options, false, toRecordedEventWithoutData);
  }

  subscribeToAll(handler: (event: RecordedEvent) => Promise<void>, options: SubscribeOptions = {}): Subscription {
    if (typeof handler !== 'function') throw new TypeError('handler must be a function');
    if (options.fromPosition !== undefined) assertPosition(options.fromPosition, 'fromPosition');
    if (options.filter !== undefined) assertFilter(options.filter);
    this.assertOpen();
    const source: SubscriptionSource = {
      readPage: (after, filter, limit) => this.readSubscriptionPage(after, filter, limit),
      isClosed: () => this.closed,
    };
    const subscription = new SqliteSubscription(source, handler, options, this.pageSize, this.pollIntervalMs, (s) => this.subscriptions.delete(s));
    this.subscriptions.add(subscription);
    return subscription;
  }

  /**
   * The first event (by position) whose stream number (`stream_id`, which reads of one stream go by) does not name the
   * stream in its `stream` column (which `$all` reads show and the hash chain covers): a row moved to another stream,
   * or a stream renamed, in the file. optex never writes one; `verifyLog` reports it. Only `stream`'s events (by name
   * or by number) when given. A scan of the events table.
   */
  firstStreamMismatch(stream?: string): StreamMismatch | undefined {
    const where = stream === undefined ? '' : 'AND (e.stream = @stream OR e.stream_id = (SELECT id FROM streams WHERE name = @stream))';
    const row = this.guard('check the streams of the events', () =>
      this.db
        .prepare(
          `SELECT e.position, e.stream, e.revision, e.event_id, e.type, e.recorded_at, e.stream_id, s.name AS filed_under
           FROM events AS e LEFT JOIN streams AS s ON s.id = e.stream_id
           WHERE (s.name IS NULL OR s.name <> e.stream) ${where} ORDER BY e.position LIMIT 1`,
        )
        .safeIntegers(true)
        .get(stream === undefined ? {} : { stream }),
    ) as { position: bigint; stream: string; revision: bigint; event_id: string; type: string; recorded_at: bigint; stream_id: bigint; filed_under: string | null } | undefined;
    if (!row) return undefined;
    return {
      position: row.position,
      stream: row.stream,
      revision: row.revision,
      id: row.event_id,
      type: row.type,
      recordedAt: new Date(Number(row.recorded_at)),
      streamId: row.stream_id,
      filedUnder: row.filed_under,
    };
  }

  /** Stops every subscription (waiting for running handlers) and closes the file. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.pending.drain(); // appends already called are written before the file closes
      await Promise.all([...this.subscriptions].map((s) => s.unsubscribe()));
      await this.checkpointer?.stop();
      this.guard('close', () => this.db.close());
      this.closed = true;
    })();
    return this.closing;
  }

  /**
   * One call of a group, inside its transaction: every check (duplicates, expected revision) reads before the first
   * insert, so an OptexError leaves nothing written and the group goes on without it.
   */
  private appendInTransaction(stream: string, events: readonly SerializedEvent[], expected: ExpectedRevision): AppendOutcome {
    const known = this.statements.streamId.get(stream) as bigint | undefined;
    const last = known === undefined ? undefined : (this.statements.lastOfStream.get(known) as { revision: bigint; position: bigint } | undefined);
    const duplicateIds = known === undefined ? [] : events.filter((e) => this.statements.findEventId.get(known, e.id) !== undefined).map((e) => e.id);
    if (last && duplicateIds.length === events.length) {
      return { written: false, result: { nextExpectedRevision: last.revision, position: positionOf(last.position), written: false } };
    }
    const actual = last ? last.revision : 'no_stream';
    if (duplicateIds.length > 0) {
      const newIds = events.filter((e) => !duplicateIds.includes(e.id)).map((e) => e.id);
      throw new PartialDuplicateAppendError(stream, expected, actual, duplicateIds, newIds);
    }
    const ok = expected === 'any' || (expected === 'no_stream' ? !last : expected === 'stream_exists' ? !!last : last?.revision === expected);
    if (!ok) throw new ConcurrencyError(stream, expected, actual);
    const recordedAt = this.clock.now().getTime();
    let revision = last ? last.revision : -1n;
    const firstRevision = revision + 1n;
    const positions: bigint[] = [];
    // A new stream is numbered by its first append, in the same transaction.
    const streamId = known ?? BigInt(this.statements.newStream.run(stream).lastInsertRowid);
    for (const event of events) {
      revision += 1n;
      positions.push(BigInt(this.statements.insert.run(streamId, stream, revision, event.id, event.type, event.data, event.metadata, recordedAt).lastInsertRowid));
    }
    return { written: true, result: { nextExpectedRevision: revision, position: positionOf(positions[positions.length - 1]), written: true }, positions, firstRevision, recordedAt };
  }

  private async *readAllPages<E extends RecordedEventWithoutData>(
    options: ReadAllOptions,
    withData: boolean,
    toEvent: (row: EventRow) => E,
  ): AsyncGenerator<E> {
    assertReadAllOptions(options);
    const backwards = options.direction === 'backwards';
    const query = this.readAllQuery(backwards ? 'backwards' : 'forwards', options.filter, withData);
    let from = options.fromPosition?.commit ?? (backwards ? MAX_INT64 : 0n);
    let remaining = options.maxCount ?? Number.POSITIVE_INFINITY;
    while (remaining > 0) {
      const limit = Math.min(this.pageSize, remaining);
      const events = this.guard('read $all', () => (this.limited.get(query, limit).all({ ...prefixParameters(options.filter), from, limit }) as EventRow[]).map(toEvent));
      for (const event of events) yield event;
      remaining -= events.length;
      if (events.length < limit) return;
      const lastPosition = events[events.length - 1].position.commit;
      from = backwards ? lastPosition - 1n : lastPosition + 1n;
    }
  }

  private readSubscriptionPage(after: bigint, filter: EventFilter | undefined, limit: number): SubscriptionPage {
    return this.guard('read $all for a subscription', () => {
      this.refreshRecent();
      const known = this.recent.page(after, filter, limit);
      if (known) return known;
      const head = (this.statements.head.get() as { head: bigint | null }).head;
      if (head === null || head <= after) return { events: [], scannedUpTo: after };
      const rows = this.limited.get(this.readAllQuery('subscription', filter), limit).all({ ...prefixParameters(filter), from: after, head, limit }) as EventRow[];
      return { events: rows.map(toRecordedEvent), scannedUpTo: head };
    });
  }

  /** The SQL of a `$all` read (without its LIMIT), per direction, filter shape and column set; prefixes are bound as `@p0`, `@p1`, … */
  private readAllQuery(mode: 'forwards' | 'backwards' | 'subscription', filter: EventFilter | undefined, withData = true): string {
    const key = `${mode}${withData ? '' : ' without data'}/${filter?.kind ?? 'all'}/${filter?.prefixes.length ?? 0}`;
    let query = this.readAllQueries.get(key);
    if (!query) {
      const conditions = [mode === 'forwards' ? 'position >= @from' : mode === 'backwards' ? 'position <= @from' : 'position > @from AND position <= @head'];
      if (filter) {
        const column = filter.kind === 'eventType' ? 'type' : 'stream';
        conditions.push(`(${filter.prefixes.map((_, i) => `substr(${column}, 1, length(@p${i})) = @p${i}`).join(' OR ')})`);
      }
      const order = mode === 'backwards' ? 'DESC' : 'ASC';
      query = `SELECT ${withData ? COLUMNS : COLUMNS_WITHOUT_DATA} FROM events WHERE ${conditions.join(' AND ')} ORDER BY position ${order}`;
      this.readAllQueries.set(key, query);
    }
    return query;
  }

  /**
   * Drops what {@link recent} holds when another connection has committed since it was last complete. `data_version`
   * is read once a turn of the event loop (reading it opens a read transaction on the WAL, ~18 µs; read before every kept read, it was 6.4 times a dry run),
   * and again in the same turn when another instance in this process has committed to the file since. Whatever tells
   * this process that another one committed (a message, a timer, a child's exit) arrives in a later turn, so a read
   * after it still sees that commit; an in-memory store's connection is its own, and it reads `data_version` once.
   */
  private refreshRecent(): void {
    if (this.seenVersion !== undefined && this.path === ':memory:') return;
    const others = this.commitsByOthers();
    if (this.checkedInTurn && others === this.othersAtCheck) return;
    if (!this.checkedInTurn) setImmediate(this.endTurn).unref();
    this.checkedInTurn = true;
    this.othersAtCheck = others;
    const version = this.statements.dataVersion.get() as number;
    if (version === this.seenVersion) return;
    this.seenVersion = version;
    const head = (this.statements.head.get() as { head: bigint | null }).head;
    this.recent.reset(head ?? 0n);
  }

  /** Commits to this file by the other instances of this process. */
  private commitsByOthers(): number {
    return (commitsByFile.get(this.fileKey) ?? 0) - this.ownCommits;
  }

  /** From now on WAL checkpoints run on the worker; the writer's own rule stays as a backstop at 10,000 pages. */
  private startCheckpointer(): void {
    const path = this.path;
    this.guard('start the WAL checkpointer', () => this.db.pragma('wal_autocheckpoint = 10000'));
    this.checkpointer = new WalCheckpointer({
      path,
      everyMs: this.checkpointEveryMs,
      busyTimeoutMs: this.busyTimeoutMs,
      onError: (message) => process.emitWarning(`WAL checkpoint of ${path} failed (the next one tries again): ${message}`, 'OptexStoreWarning'),
    });
  }

  private assertOpen(): void {
    if (this.closing !== undefined || this.closed) throw new InfrastructureError(`the SQLite event store at ${this.path} is closed`);
  }

  /**
   * Runs a driver call, translating whatever it throws into InfrastructureError — except our own errors, and a
   * DomainError (a stored row that does not parse: corrupt data, which retrying cannot mend).
   */
  private guard<T>(operation: string, run: () => T): T {
    if (this.closed) throw new InfrastructureError(`cannot ${operation}: the SQLite event store at ${this.path} is closed`);
    try {
      return run();
    } catch (error) {
      if (error instanceof OptexError || error instanceof DomainError) throw error;
      const Failure = unusable(error) ? UnusableStoreError : InfrastructureError;
      throw new Failure(`cannot ${operation} in the SQLite event store at ${this.path}: ${messageOf(error)}`, { cause: error });
    }
  }
}

/**
 * Brings the file to {@link SCHEMA_VERSION} in one write transaction: a new file gets the schema, a version-1 log is
 * migrated ({@link MIGRATE_FROM_1}; announced as a warning, since it copies the log: 182,319 events took 1.4 s, and the
 * VACUUM after it 1.2 s, on the project's 2-core machine). The version is read again inside the transaction, so of
 * several processes opening one old file at once the first migrates it and the others find it done.
 * @returns whether a log was migrated
 */
function upgrade(db: Database.Database, path: string): boolean {
  return db
    .transaction(() => {
      const version = knownSchemaVersion(db);
      if (version === SCHEMA_VERSION) return false;
      if (version === 1) {
        const head = (db.prepare(HEAD).get() as { head: number | null }).head ?? 0;
        process.emitWarning(`the SQLite event store at ${path} has schema version 1: migrating it to version ${SCHEMA_VERSION}, a one-time copy of its events (positions up to ${head})`, 'OptexStoreWarning');
      }
      db.exec(version === 1 ? MIGRATE_FROM_1 : SCHEMA_SQL);
      db.pragma(`user_version = ${SCHEMA_VERSION}`);
      return version === 1;
    })
    .immediate();
}

/** The file's schema version (`PRAGMA user_version`); throws when it is newer than this code knows. */
function knownSchemaVersion(db: Database.Database): number {
  const version = Number(db.pragma('user_version', { simple: true }));
  if (version > SCHEMA_VERSION) throw new UnusableFileError(`schema version ${version} is newer than the ${SCHEMA_VERSION} this optex knows`);
  return version;
}

/** A file written by a newer optex (see {@link knownSchemaVersion}), or another program's database ({@link refuseForeignTables}). */
class UnusableFileError extends Error {}

/**
 * A file without a schema version holds no optex log: a new file is empty, and every version of optex's schema sets
 * one. Tables in it are another program's (a `--store` pointed at the wrong database): refused, so that optex never
 * writes its tables into it.
 */
function refuseForeignTables(db: Database.Database): void {
  const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name").pluck().all() as string[];
  if (tables.length === 0) return;
  const shown = tables.slice(0, 5).join(', ') + (tables.length > 5 ? `, … (${tables.length} tables)` : '');
  throw new UnusableFileError(`it is not an optex event log: it holds another program's tables (${shown}) and no optex schema version; nothing was written to it`);
}

/**
 * Whether an error says the file itself is unusable — not a database (`SQLITE_NOTADB`), damaged (`SQLITE_CORRUPT` and
 * its extended codes), a newer optex's or another program's database: no retry or wait changes that.
 */
function unusable(error: unknown): boolean {
  if (error instanceof UnusableFileError) return true;
  // By its code, not `instanceof Database.SqliteError`: the native addon throws the class of the first copy of the
  // module that loaded it, which another copy (a jest test file's own module registry) does not recognize.
  const code = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
  return typeof code === 'string' && (code === 'SQLITE_NOTADB' || code.startsWith('SQLITE_CORRUPT'));
}

function prepareStatements(db: Database.Database) {
  const prepare = (sql: string) => db.prepare(sql).safeIntegers(true);
  return {
    streamId: prepare('SELECT id FROM streams WHERE name = ?').pluck(),
    newStream: prepare('INSERT INTO streams (name) VALUES (?)'),
    lastOfStream: prepare('SELECT revision, position FROM events WHERE stream_id = ? ORDER BY revision DESC LIMIT 1'),
    findEventId: prepare('SELECT revision FROM events WHERE stream_id = ? AND event_id = ?'),
    insert: prepare('INSERT INTO events (stream_id, stream, revision, event_id, type, data, metadata, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)'),
    head: prepare(HEAD),
    dataVersion: db.prepare('PRAGMA data_version').pluck(),
  };
}

function toRecordedEvent(row: EventRow): RecordedEvent {
  // Member by member, the data in its place: one object shape for every event the store returns (reads and its cache).
  const { id, stream, type, revision, position, metadata, recordedAt } = toRecordedEventWithoutData(row);
  return { id, stream, type, revision, position, data: parseColumn(row, 'data'), metadata, recordedAt };
}

function toRecordedEventWithoutData(row: EventRow): RecordedEventWithoutData {
  return {
    id: row.event_id,
    stream: row.stream,
    type: row.type,
    revision: row.revision,
    position: positionOf(row.position),
    metadata: parseColumn(row, 'metadata') as Record<string, unknown>,
    recordedAt: new Date(Number(row.recorded_at)),
  };
}

/**
 * A stored row's JSON column, parsed. optex writes only JSON there, so one that does not parse was changed in the file:
 * `DomainError('INVALID_EVENT')` naming the event (log position, stream@revision, type, id) and the column, with the
 * parser's reason — its offset called a character, not to be taken for a log position.
 */
function parseColumn(row: EventRow, column: 'data' | 'metadata'): unknown {
  try {
    return JSON.parse(row[column]) as unknown;
  } catch (error) {
    const reason = messageOf(error).replace(/\bat position (\d+)/, 'at character $1');
    throw new DomainError(
      'INVALID_EVENT',
      `the stored event at log position ${row.position} (${row.stream}@${row.revision}, type ${row.type}, id ${row.event_id}) is corrupt: its ${column} column does not parse as JSON: ${reason}`,
    );
  }
}

/** The events one append wrote, as a read would return them. */
function recordedOf(append: PendingAppend, outcome: Extract<AppendOutcome, { written: true }>): RecordedEvent[] {
  const recordedAt = new Date(outcome.recordedAt);
  return append.events.map((e, i) => ({
    id: e.id,
    stream: append.stream,
    type: e.type,
    revision: outcome.firstRevision + BigInt(i),
    position: positionOf(outcome.positions[i]),
    data: JSON.parse(e.data) as unknown,
    metadata: JSON.parse(e.metadata) as Record<string, unknown>,
    recordedAt,
  }));
}

function prefixParameters(filter: EventFilter | undefined): Record<string, string> {
  return Object.fromEntries((filter?.prefixes ?? []).map((prefix, i) => [`p${i}`, prefix]));
}

const positionOf = (position: bigint): GlobalPosition => ({ commit: position, prepare: position });

function positiveInteger(value: number, field: string): number {
  if (!Number.isSafeInteger(value) || value <= 0) throw new RangeError(`${field} must be a positive integer, got ${String(value)}`);
  return value;
}

/** The options with their defaults, each checked once, before anything is opened. */
interface Settings {
  readonly pollIntervalMs: number;
  readonly pageSize: number;
  readonly busyTimeoutMs: number;
  readonly checkpointEveryMs: number;
  readonly clock: Clock;
}

function settingsOf(options: SqliteEventStoreOptions): Settings {
  return {
    busyTimeoutMs: positiveInteger(options.busyTimeoutMs ?? 5000, 'busyTimeoutMs'),
    pollIntervalMs: positiveInteger(options.pollIntervalMs ?? 100, 'pollIntervalMs'),
    pageSize: positiveInteger(options.pageSize ?? 500, 'pageSize'),
    checkpointEveryMs: nonNegativeInteger(options.checkpointEveryMs ?? DEFAULT_CHECKPOINT_EVERY_MS, 'checkpointEveryMs'),
    clock: options.clock ?? systemClock,
  };
}

function nonNegativeInteger(value: number, field: string): number {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`${field} must be a non-negative integer, got ${String(value)}`);
  return value;
}

const messageOf = (error: unknown): string => (error instanceof Error ? error.message : String(error));
