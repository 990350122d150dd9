import Database from 'better-sqlite3';
import { InfrastructureError } from '@optex/ports';
import { assertChanges, CheckpointUnreadable, parseRow, toJson, type CheckpointChanges, type CheckpointHeader, type LoadedCheckpoint, type ReadModelCheckpoints } from './checkpoints';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS read_models (
  name TEXT PRIMARY KEY,
  version INTEGER NOT NULL,
  commit_position TEXT NOT NULL,
  prepare_position TEXT NOT NULL,
  saved_at INTEGER NOT NULL,
  event_id TEXT
);
CREATE TABLE IF NOT EXISTS read_model_rows (
  name TEXT NOT NULL,
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (name, key)
) WITHOUT ROWID;
`;

interface HeaderRow {
  readonly name: string;
  readonly version: number;
  readonly commit_position: string;
  readonly prepare_position: string;
  readonly saved_at: number;
  readonly event_id: string | null;
  readonly rows: number;
}

/**
 * Read-model checkpoints in one SQLite file (better-sqlite3, WAL): a `read_models` header per read model (version,
 * position and the id of the event there, time) and its `read_model_rows`. A save is one transaction (rows and header together). The file is held
 * in SQLite's exclusive locking mode while open, so a second process (another API, `optex projections rebuild`)
 * cannot write the same checkpoints behind this one's back: it fails to open with a message saying so.
 */
export class SqliteReadModelCheckpoints implements ReadModelCheckpoints {
  private readonly statements;
  private readonly saveTransaction: Database.Transaction<(name: string, changes: CheckpointChanges) => void>;

  private constructor(
    private readonly db: Database.Database,
    readonly location: string,
  ) {
    this.statements = {
      header: db.prepare('SELECT name, version, commit_position, prepare_position, saved_at, event_id, (SELECT COUNT(*) FROM read_model_rows r WHERE r.name = m.name) AS rows FROM read_models m WHERE name = ?'),
      rows: db.prepare('SELECT key, value FROM read_model_rows WHERE name = ?'),
      upsertHeader: db.prepare(
        'INSERT INTO read_models (name, version, commit_position, prepare_position, saved_at, event_id) VALUES (@name, @version, @commit, @prepare, @savedAt, @eventId) ' +
          'ON CONFLICT(name) DO UPDATE SET version = excluded.version, commit_position = excluded.commit_position, prepare_position = excluded.prepare_position, saved_at = excluded.saved_at, event_id = excluded.event_id',
      ),
      upsertRow: db.prepare('INSERT INTO read_model_rows (name, key, value) VALUES (?, ?, ?) ON CONFLICT(name, key) DO UPDATE SET value = excluded.value'),
      deleteRow: db.prepare('DELETE FROM read_model_rows WHERE name = ? AND key = ?'),
      deleteRows: db.prepare('DELETE FROM read_model_rows WHERE name = ?'),
      deleteHeader: db.prepare('DELETE FROM read_models WHERE name = ?'),
      version: db.prepare('SELECT version FROM read_models WHERE name = ?').pluck(),
    };
    this.saveTransaction = db.transaction((name: string, changes: CheckpointChanges) => {
      const stored = this.statements.version.get(name) as number | undefined;
      if (stored !== undefined && stored !== changes.version) this.statements.deleteRows.run(name);
      for (const [key, value] of changes.rows) {
        if (value === undefined) this.statements.deleteRow.run(name, key);
        else this.statements.upsertRow.run(name, key, toJson(name, key, value));
      }
      this.statements.upsertHeader.run({
        name,
        version: changes.version,
        commit: changes.position.commit.toString(),
        prepare: changes.position.prepare.toString(),
        savedAt: Date.now(),
        eventId: changes.eventId,
      });
    });
  }

  /**
   * Opens (creating it) the checkpoint file at `path`; its directory must exist.
   * @throws InfrastructureError naming the file when it cannot be opened or another process holds it.
   */
  static open(path: string): SqliteReadModelCheckpoints {
    if (typeof path !== 'string' || path.length === 0) throw new TypeError('path must be a non-empty string');
    let db: Database.Database | undefined;
    try {
      db = new Database(path, { timeout: 100 });
      db.pragma('locking_mode = EXCLUSIVE');
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      db.exec(SCHEMA);
      // A file an optex before the checkpoint's event id wrote: the column is added, its checkpoints keep none.
      if (!(db.pragma('table_info(read_models)') as { name: string }[]).some((c) => c.name === 'event_id')) db.exec('ALTER TABLE read_models ADD COLUMN event_id TEXT');
      return new SqliteReadModelCheckpoints(db, path);
    } catch (error) {
      db?.close();
      const busy = (error as { code?: string }).code === 'SQLITE_BUSY';
      throw new InfrastructureError(
        busy
          ? `the read-model checkpoints at ${path} are in use by another process (an API serving this store?); stop it or give another --read-model`
          : `cannot open the read-model checkpoints at ${path}: ${messageOf(error)}`,
        { cause: error },
      );
    }
  }

  async load(name: string, version: number): Promise<LoadedCheckpoint | undefined> {
    const header = this.header(name);
    if (!header || header.version !== version) return undefined;
    return this.guard(`load read model ${name}`, () => {
      const rows = new Map<string, unknown>();
      for (const row of this.statements.rows.iterate(name) as Iterable<{ key: string; value: string }>) rows.set(row.key, parseRow(name, row.key, row.value));
      return { header, rows };
    });
  }

  async save(name: string, changes: CheckpointChanges): Promise<void> {
    assertChanges(name, changes);
    this.guard(`save read model ${name}`, () => this.saveTransaction.immediate(name, changes));
  }

  async describe(name: string): Promise<CheckpointHeader | undefined> {
    return this.header(name);
  }

  async drop(name: string): Promise<boolean> {
    return this.guard(`drop read model ${name}`, () =>
      this.db.transaction(() => {
        this.statements.deleteRows.run(name);
        return this.statements.deleteHeader.run(name).changes > 0;
      }).immediate(),
    );
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }

  private header(name: string): CheckpointHeader | undefined {
    const row = this.guard(`read read model ${name}`, () => this.statements.header.get(name) as HeaderRow | undefined);
    if (!row) return undefined;
    return {
      name: row.name,
      version: row.version,
      position: { commit: BigInt(row.commit_position), prepare: BigInt(row.prepare_position) },
      ...(row.event_id !== null ? { eventId: row.event_id } : {}),
      savedAt: new Date(row.saved_at),
      rows: row.rows,
    };
  }

  private guard<T>(operation: string, run: () => T): T {
    try {
      return run();
    } catch (error) {
      if (error instanceof TypeError || error instanceof RangeError || error instanceof CheckpointUnreadable) throw error;
      throw new InfrastructureError(`cannot ${operation} at ${this.location}: ${messageOf(error)}`, { cause: error });
    }
  }
}

const messageOf = (error: unknown): string => (error instanceof Error ? error.message : String(error));
