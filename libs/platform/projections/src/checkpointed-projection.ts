import { readAllWithoutData, silentLogger, type EventFilter, type EventStore, type GlobalPosition, type Logger, type RecordedEvent, type Subscription } from '@optex/ports';
import { CheckpointUnreadable, type CheckpointHeader, type LoadedCheckpoint, type ReadModelCheckpoints } from './checkpoints';

/** What a read model tells the runner: how to fold an event, and how its state maps to checkpoint rows. */
export interface ProjectionDefinition {
  /** The checkpoint's name. */
  readonly name: string;
  /** Bump when the fold changes: a checkpoint of another version is ignored and the read model rebuilt from the log. */
  readonly version: number;
  /** The events it reads (the subscription's filter). */
  readonly filter: EventFilter;
  /** Folds one event; returns the keys of the rows it changed (saved at the next checkpoint). */
  apply(event: RecordedEvent): Iterable<string>;
  /** The current value of a row (undefined: the row is gone). */
  row(key: string): unknown;
  /**
   * Restores the state from a checkpoint's rows (called once, before any `apply`). Throws {@link CheckpointUnreadable}
   * for a row it cannot read, before it changes any state: the runner then folds the whole log into the empty state.
   */
  restore(rows: ReadonlyMap<string, unknown>): void;
}

export interface CheckpointedProjectionOptions {
  /** Where checkpoints are kept; without it the read model folds the whole log at every start. */
  readonly checkpoints?: ReadModelCheckpoints;
  /** Saves at most this often while events arrive. @defaultValue 1000 */
  readonly checkpointEveryMs?: number;
  /** … and at once after this many events since the last save. @defaultValue 10000 */
  readonly checkpointEveryEvents?: number;
  readonly logger?: Logger;
}

/** How a start went: from a checkpoint (its header) or from the beginning of the log. */
export interface ProjectionStart {
  readonly restoredFrom?: CheckpointHeader;
  /** Why the checkpoint there was could not be read (it was dropped, and the whole log folded). */
  readonly unreadable?: string;
  /**
   * Why the checkpoint there is not one of this log: the log holds no event with its event id at its position (a log
   * restored from an older backup, or another log), or it names no event (an earlier optex saved it). It was dropped,
   * and the whole log folded.
   */
  readonly notOfThisLog?: string;
  /** Rows restored. */
  readonly rows: number;
}

/**
 * Why a checkpoint is not one of the log `store` holds (`undefined` when the log holds the event it names at its
 * position): its rows fold events this log may not hold, or miss some it holds, so restoring them would serve a state
 * the log never had. Reads one event.
 */
export async function checkpointNotOfLog(store: EventStore, header: CheckpointHeader): Promise<string | undefined> {
  const at = header.position.commit.toString();
  if (header.eventId === undefined) return `it names no event at its position ${at} (an earlier optex saved it), so it cannot be checked against the log`;
  for await (const event of readAllWithoutData(store, { fromPosition: header.position, maxCount: 1 })) {
    if (event.position.commit === header.position.commit && event.id === header.eventId) return undefined;
    return `the log holds event ${event.id} at position ${event.position.commit.toString()}, not ${header.eventId} at ${at} (a log restored from an older backup, or another log)`;
  }
  return `the log ends before position ${at}, where its event ${header.eventId} was (a log restored from an older backup, or another log)`;
}

/**
 * Keeps a read model up to date with the log and checkpointed: at start it restores the last checkpoint of its
 * version and subscribes after the checkpoint's position (else from the beginning); while events arrive it saves the
 * rows they changed with the position reached, every `checkpointEveryMs` or `checkpointEveryEvents`, and once more on
 * stop. A restart therefore folds only what the log gained since the last save. A save that fails is logged and
 * retried with the next one (the changed rows stay pending); the read model keeps serving meanwhile. A checkpoint
 * that cannot be read back (a row that is not JSON, or one `restore` refuses: an edited or damaged file) is a cache
 * gone bad, not a reason to stop: it is logged, dropped, and the whole log folded, as with no checkpoint. So is one
 * whose last event the log does not hold at its position ({@link ProjectionStart.notOfThisLog}): the log was restored
 * from an older backup, or is another one.
 */
export class CheckpointedProjection {
  private subscription?: Subscription;
  private applied?: GlobalPosition;
  /** The id of the event at `applied`: a checkpoint records it, so that the next start can tell it belongs to the log. */
  private appliedId?: string;
  private savedAt?: GlobalPosition;
  private readonly dirty = new Set<string>();
  private sinceSave = 0;
  private timer?: NodeJS.Timeout;
  private saving: Promise<void> = Promise.resolve();
  /** Why the read model stopped following the log: its handler failed on an event (the subscription ended there). */
  private failure?: unknown;
  /** The subscription's last drop, until it delivers again (it resubscribes by itself). */
  private dropped?: unknown;
  private readonly waiters = new Set<() => void>();
  private readonly log: Logger;
  private readonly everyMs: number;
  private readonly everyEvents: number;

  constructor(
    private readonly store: EventStore,
    private readonly definition: ProjectionDefinition,
    private readonly options: CheckpointedProjectionOptions = {},
  ) {
    this.log = (options.logger ?? silentLogger).child({ component: 'read-model', readModel: definition.name });
    this.everyMs = positive(options.checkpointEveryMs ?? 1000, 'checkpointEveryMs');
    this.everyEvents = positive(options.checkpointEveryEvents ?? 10_000, 'checkpointEveryEvents');
  }

  /** Restores the checkpoint (if any) and starts following the log after it. */
  async start(): Promise<ProjectionStart> {
    let loaded: LoadedCheckpoint | undefined;
    let unreadable: string | undefined;
    let notOfThisLog: string | undefined;
    try {
      loaded = await this.options.checkpoints?.load(this.definition.name, this.definition.version);
      if (loaded) notOfThisLog = await checkpointNotOfLog(this.store, loaded.header);
      if (loaded && notOfThisLog === undefined) this.definition.restore(loaded.rows);
    } catch (error) {
      if (!(error instanceof CheckpointUnreadable)) throw error;
      loaded = undefined;
      unreadable = error.message;
      this.log.warn({ err: unreadable, location: this.options.checkpoints?.location }, 'checkpoint unreadable: dropped, folding the whole log');
      await this.options.checkpoints?.drop(this.definition.name);
    }
    if (notOfThisLog !== undefined) {
      loaded = undefined;
      this.log.warn({ err: notOfThisLog, location: this.options.checkpoints?.location }, 'checkpoint not of this log: dropped, folding the whole log');
      await this.options.checkpoints?.drop(this.definition.name);
    }
    if (loaded) {
      this.applied = this.savedAt = loaded.header.position;
      this.appliedId = loaded.header.eventId;
    } else if (unreadable === undefined && notOfThisLog === undefined) {
      const stale = await this.options.checkpoints?.describe(this.definition.name);
      if (stale) this.log.info({ stored: stale.version, current: this.definition.version }, 'checkpoint of another version ignored: folding the whole log');
    }
    this.subscription = this.store.subscribeToAll((event) => this.onEvent(event), {
      ...(this.applied ? { fromPosition: this.applied } : {}),
      filter: this.definition.filter,
      onDropped: (error) => (this.dropped = error),
    });
    return {
      ...(loaded ? { restoredFrom: loaded.header } : {}),
      ...(unreadable !== undefined ? { unreadable } : {}),
      ...(notOfThisLog !== undefined ? { notOfThisLog } : {}),
      rows: loaded?.rows.size ?? 0,
    };
  }

  /** The position of the last event applied (undefined before any). */
  get position(): GlobalPosition | undefined {
    return this.applied;
  }

  /** The position the last successful save stands at (undefined before any). */
  get checkpointPosition(): GlobalPosition | undefined {
    return this.savedAt;
  }

  /** Events of the log this read model reads and has not applied yet. */
  async lag(): Promise<number> {
    const head = await this.head();
    if (head === undefined || (this.applied && head.commit <= this.applied.commit)) return 0;
    return eventsAfter(this.store, this.definition.filter, this.applied);
  }

  /**
   * Resolves once every event the log held at the call is applied. Rejects with the error of an event the read model
   * could not apply (it follows the log no further), or after `timeoutMs`, naming the subscription's drop when it has
   * delivered nothing since (a drop it recovered from fails no sync).
   */
  async sync(timeoutMs = 5000): Promise<void> {
    if (this.failure) throw this.failure;
    const head = await this.head();
    if (head === undefined || (this.applied && head.commit <= this.applied.commit)) return;
    await new Promise<void>((resolve, reject) => {
      const done = (): void => {
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      const timer = setTimeout(() => {
        done();
        reject(this.behind(timeoutMs));
      }, timeoutMs);
      const check = (): void => {
        if (this.failure) {
          done();
          reject(this.failure);
        } else if (this.applied && this.applied.commit >= head.commit) {
          done();
          resolve();
        }
      };
      this.waiters.add(check);
      check();
    });
  }

  /** Saves the rows changed since the last save with the position reached (nothing to do when nothing changed). */
  checkpoint(): Promise<void> {
    this.saving = this.saving.then(() => this.save());
    return this.saving;
  }

  /** Stops following the log and saves a last checkpoint. */
  async stop(): Promise<void> {
    await this.subscription?.unsubscribe();
    this.subscription = undefined;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.checkpoint();
  }

  /** The subscription's handler: an error ends the subscription (the same event would fail again), and fails every sync. */
  private async onEvent(event: RecordedEvent): Promise<void> {
    this.dropped = undefined;
    try {
      await this.fold(event);
    } catch (error) {
      this.failure = error;
      for (const wake of this.waiters) wake();
      throw error;
    }
  }

  private async fold(event: RecordedEvent): Promise<void> {
    for (const key of this.definition.apply(event)) this.dirty.add(key);
    this.applied = event.position;
    this.appliedId = event.id;
    this.sinceSave++;
    for (const wake of this.waiters) wake();
    if (!this.options.checkpoints) return;
    if (this.sinceSave >= this.everyEvents) await this.checkpoint();
    else this.timer ??= setTimeout(() => {
      this.timer = undefined;
      void this.checkpoint();
    }, this.everyMs);
  }

  private async save(): Promise<void> {
    const checkpoints = this.options.checkpoints;
    const position = this.applied;
    const eventId = this.appliedId;
    if (!checkpoints || !position || eventId === undefined || (this.savedAt && this.savedAt.commit === position.commit)) return;
    const keys = [...this.dirty];
    const rows = new Map(keys.map((key) => [key, this.definition.row(key)] as const));
    const events = this.sinceSave;
    this.dirty.clear();
    this.sinceSave = 0;
    try {
      await checkpoints.save(this.definition.name, { version: this.definition.version, position, eventId, rows });
      this.savedAt = position;
    } catch (error) {
      for (const key of keys) this.dirty.add(key);
      this.sinceSave += events;
      this.log.warn({ err: error instanceof Error ? error.message : String(error) }, 'read-model checkpoint failed; retried with the next one');
    }
  }

  private behind(timeoutMs: number): Error {
    const lag = `the ${this.definition.name} read model is behind the log by more than ${timeoutMs} ms`;
    if (this.dropped === undefined) return new Error(lag);
    const cause = this.dropped instanceof Error ? this.dropped.message : String(this.dropped);
    return new Error(`${lag}: its subscription dropped (${cause}) and has delivered nothing since`, { cause: this.dropped });
  }

  private async head(): Promise<GlobalPosition | undefined> {
    for await (const e of this.store.readAll({ direction: 'backwards', maxCount: 1, filter: this.definition.filter })) return e.position;
    return undefined;
  }
}

/** How many events of `filter` the log holds after `position` (all of them without one). */
export async function eventsAfter(store: EventStore, filter: EventFilter, position: GlobalPosition | undefined): Promise<number> {
  let count = 0;
  for await (const e of store.readAll({ ...(position ? { fromPosition: position } : {}), filter })) {
    if (!position || e.position.commit > position.commit) count++;
  }
  return count;
}

function positive(value: number, field: string): number {
  if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`${field} must be a positive integer, got ${String(value)}`);
  return value;
}
