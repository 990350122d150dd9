import Database from 'better-sqlite3';
import { InfrastructureError, type EventStore } from '@optex/ports';
import { SqliteEventStore } from '../sqlite/sqlite-event-store';
import { HashChainedEventStore } from './hash-chain';

/** The SQLite store under `store` (through the hash chain), which files events by stream number as well as by name. */
export function sqliteUnder(store: EventStore): SqliteEventStore | undefined {
  if (store instanceof SqliteEventStore) return store;
  return store instanceof HashChainedEventStore ? sqliteUnder(store.inner) : undefined;
}

/**
 * The highest position SQLite ever gave an event of the log under `store`: AUTOINCREMENT's high-water mark for the
 * `events` table (its row in `sqlite_sequence`; 0 before the first event), which deleting rows does not lower. A log
 * whose last event is below it lost the events after it (`verifyLog` reports `truncated`) — unless whoever removed
 * them lowered `sqlite_sequence` as well, which nothing in the file can tell.
 *
 * `undefined` where there is no such figure: a store that is not SQLite, or an in-memory SQLite log. Read on a
 * read-only connection of its own (the store's is private to it): read it before reading the log, so that an event
 * committed meanwhile lies past it, not below it.
 *
 * @throws InfrastructureError when the file cannot be read.
 */
export function positionsWritten(store: EventStore): bigint | undefined {
  const sqlite = sqliteUnder(store);
  if (!sqlite || sqlite.path === ':memory:') return undefined;
  let db: Database.Database | undefined;
  try {
    db = new Database(sqlite.path, { readonly: true, fileMustExist: true });
    const row = db.prepare(`SELECT seq FROM sqlite_sequence WHERE name = 'events'`).safeIntegers(true).get() as { seq: bigint | null } | undefined;
    return row?.seq ?? 0n;
  } catch (error) {
    throw new InfrastructureError(`cannot read the positions written to the SQLite event store at ${sqlite.path} (sqlite_sequence): ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  } finally {
    db?.close();
  }
}
