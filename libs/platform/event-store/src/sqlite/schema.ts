/**
 * Schema version 1 of the SQLite event log, recorded in `PRAGMA user_version`.
 *
 * `position` is the global position (`commit` = `prepare`). AUTOINCREMENT guarantees it is never
 * reused, and because SQLite has one writer at a time and assigns it inside the write
 * transaction, every committed position is larger than every position committed before it:
 * a reader that has seen position P has seen every committed event below P. Catch-up
 * subscriptions rely on that (no "gap filled later" as with concurrent writers).
 */
export const SCHEMA_VERSION = 1;

export const SCHEMA_SQL = `
CREATE TABLE IF NOT EXISTS events (
  position    INTEGER PRIMARY KEY AUTOINCREMENT,
  stream      TEXT    NOT NULL,
  revision    INTEGER NOT NULL,
  event_id    TEXT    NOT NULL,
  type        TEXT    NOT NULL,
  data        TEXT    NOT NULL,
  metadata    TEXT    NOT NULL,
  recorded_at INTEGER NOT NULL,
  CONSTRAINT events_stream_revision UNIQUE (stream, revision),
  CONSTRAINT events_stream_event_id UNIQUE (stream, event_id)
);
`;
