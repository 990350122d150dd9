import type { GlobalPosition } from '@optex/ports';

/** What a read model's checkpoint says about itself. */
export interface CheckpointHeader {
  /** The read model's name (`api`, …). */
  readonly name: string;
  /** The version of the fold that wrote it: a checkpoint of another version is never loaded. */
  readonly version: number;
  /** The position of the last event the saved rows include. */
  readonly position: GlobalPosition;
  /**
   * The id of that event: the checkpoint belongs to a log that holds it there (a log restored from an older backup, or
   * another log, does not). Absent in checkpoints an optex before this field wrote.
   */
  readonly eventId?: string;
  readonly savedAt: Date;
  /** How many rows it holds. */
  readonly rows: number;
}

/** A checkpoint: its header and every row (key → JSON value). */
export interface LoadedCheckpoint {
  readonly header: CheckpointHeader;
  readonly rows: ReadonlyMap<string, unknown>;
}

/** One save: rows written (a JSON-serialisable value) or removed (`undefined`), and the position they bring the read model to. */
export interface CheckpointChanges {
  readonly version: number;
  readonly position: GlobalPosition;
  /** The id of the event at `position`. */
  readonly eventId: string;
  readonly rows: ReadonlyMap<string, unknown>;
}

/**
 * Where read models keep their checkpoints: rows of JSON per read model and the log position they stand at, written
 * together (a crash leaves the previous checkpoint or the new one, never a mix). A save under another version than
 * the stored one replaces the whole checkpoint; a load under another version finds nothing.
 */
export interface ReadModelCheckpoints {
  /** Where the checkpoints live (a file path, or `memory:`), for messages. */
  readonly location: string;
  /** The checkpoint of `name` at `version`, or undefined (none, or another version's); {@link CheckpointUnreadable} for a row that is not JSON. */
  load(name: string, version: number): Promise<LoadedCheckpoint | undefined>;
  save(name: string, changes: CheckpointChanges): Promise<void>;
  /** The header of `name`'s checkpoint whatever its version, or undefined. */
  describe(name: string): Promise<CheckpointHeader | undefined>;
  /** Removes `name`'s checkpoint; true if there was one. */
  drop(name: string): Promise<boolean>;
  close(): Promise<void>;
}

/** Checkpoints kept in this process (for the `memory:` store and tests): lost on exit, as the log they follow. */
export class MemoryReadModelCheckpoints implements ReadModelCheckpoints {
  readonly location = 'memory:';
  private readonly models = new Map<string, { header: CheckpointHeader; rows: Map<string, string> }>();

  async load(name: string, version: number): Promise<LoadedCheckpoint | undefined> {
    const model = this.models.get(name);
    if (!model || model.header.version !== version) return undefined;
    return { header: model.header, rows: new Map([...model.rows].map(([k, v]) => [k, parseRow(name, k, v)])) };
  }

  async save(name: string, changes: CheckpointChanges): Promise<void> {
    assertChanges(name, changes);
    const existing = this.models.get(name);
    const rows = existing && existing.header.version === changes.version ? new Map(existing.rows) : new Map<string, string>();
    for (const [key, value] of changes.rows) {
      if (value === undefined) rows.delete(key);
      else rows.set(key, toJson(name, key, value));
    }
    this.models.set(name, { header: { name, version: changes.version, position: changes.position, eventId: changes.eventId, savedAt: new Date(), rows: rows.size }, rows });
  }

  async describe(name: string): Promise<CheckpointHeader | undefined> {
    return this.models.get(name)?.header;
  }

  async drop(name: string): Promise<boolean> {
    return this.models.delete(name);
  }

  async close(): Promise<void> {
    // Nothing to release.
  }
}

/** Checks a save's arguments, naming the bad one. */
export function assertChanges(name: string, changes: CheckpointChanges): void {
  if (typeof name !== 'string' || name.length === 0) throw new TypeError('name must be a non-empty string');
  if (!Number.isSafeInteger(changes.version) || changes.version < 1) throw new RangeError(`version must be a positive integer, got ${String(changes.version)}`);
  if (typeof changes.position?.commit !== 'bigint' || typeof changes.position?.prepare !== 'bigint') throw new TypeError('position must be a GlobalPosition (bigint commit and prepare)');
  if (typeof changes.eventId !== 'string' || changes.eventId.length === 0) throw new TypeError('eventId must be a non-empty string (the id of the event at position)');
}

/**
 * A checkpoint that cannot be read back: a row that is not JSON, or (thrown by a read model's `restore`) a row of the
 * wrong shape. A checkpoint is a cache of what the log says, so the runner drops it and folds the whole log
 * ({@link CheckpointedProjection.start}).
 */
export class CheckpointUnreadable extends Error {
  constructor(
    readonly readModel: string,
    readonly key: string,
    detail: string,
  ) {
    super(`row ${JSON.stringify(key)} of read model ${readModel}'s checkpoint: ${detail}`);
    this.name = 'CheckpointUnreadable';
  }
}

/** A row's value from its JSON text; text that is not JSON is {@link CheckpointUnreadable} naming the row. */
export function parseRow(name: string, key: string, text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new CheckpointUnreadable(name, key, `not JSON (${error instanceof Error ? error.message : String(error)})`);
  }
}

/** A row's JSON text; a value JSON cannot hold is a TypeError naming the row. */
export function toJson(name: string, key: string, value: unknown): string {
  const json = JSON.stringify(value);
  if (json === undefined) throw new TypeError(`row ${JSON.stringify(key)} of read model ${name} is not JSON-serialisable`);
  return json;
}
