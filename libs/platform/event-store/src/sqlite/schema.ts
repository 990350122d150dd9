/**
 * Schema version 2 of the SQLite event log, recorded in `PRAGMA user_version`.
 *
 * `position` is the global position (`commit` = `prepare`). AUTOINCREMENT guarantees it is never
 * reused, and because SQLite has one writer at a time and assigns it inside the write
 * transaction, every committed position is larger than every position committed before it:
 * a reader that has seen position P has seen every committed event below P. Catch-up
 * subscriptions rely on that (no "gap filled later" as with concurrent writers).
 *
 * Streams are numbered in the order they are created (`streams.id`, never reused: streams are never deleted), and the
 * two unique indexes of `events` are on that number, not on the stream's name. Optimization streams are named by UUID:
 * keyed on the name, each append went to a page picked at random in each index, so a commit dirtied (and wrote to the
 * WAL) about one page per stream and index, and once the indexes outgrew SQLite's cache an append read pages back from
 * the file. Keyed on the number, the streams being written now sit together near the end of both indexes
 * (docs/benchmarks.md, twenty-first part). The name stays in each row too: reads of `$all` and their stream-prefix
 * filters need no join; a stream's reads look its number up in `streams` (one entry per stream).
 *
 * Version 1 (the same without `streams` and `stream_id`, its indexes on the name) is migrated in place when a store
 * opens it ({@link MIGRATE_FROM_1}).
 */
export const SCHEMA_VERSION = 2;

/**
 * The `events` table of a version under `name` (the migration builds version 2's beside version 1's before renaming
 * it): version 2 adds `stream_id` and keys the unique indexes on it instead of on `stream`.
 */
const eventsTable = (name: string, version: 1 | 2): string => {
  const key = version === 1 ? 'stream' : 'stream_id';
  return `
CREATE TABLE IF NOT EXISTS ${name} (
  position    INTEGER PRIMARY KEY AUTOINCREMENT,${version === 2 ? '\n  stream_id   INTEGER NOT NULL REFERENCES streams (id),' : ''}
  stream      TEXT    NOT NULL,
  revision    INTEGER NOT NULL,
  event_id    TEXT    NOT NULL,
  type        TEXT    NOT NULL,
  data        TEXT    NOT NULL,
  metadata    TEXT    NOT NULL,
  recorded_at INTEGER NOT NULL,
  CONSTRAINT events_stream_revision UNIQUE (${key}, revision),
  CONSTRAINT events_stream_event_id UNIQUE (${key}, event_id)
);
`;
};

const STREAMS_TABLE = `
CREATE TABLE IF NOT EXISTS streams (
  id   INTEGER PRIMARY KEY,
  name TEXT    NOT NULL UNIQUE
);
`;

export const SCHEMA_SQL = STREAMS_TABLE + eventsTable('events', 2);

/**
 * Version 1 to version 2, in one transaction: streams numbered in the order of their first event, every row copied
 * with its position, AUTOINCREMENT's high-water mark kept (a position a deleted row had is still never given again).
 */
export const MIGRATE_FROM_1 = `
${STREAMS_TABLE}
INSERT INTO streams (name) SELECT stream FROM events GROUP BY stream ORDER BY MIN(position);
${eventsTable('events_v2', 2)}
INSERT INTO events_v2 (position, stream_id, stream, revision, event_id, type, data, metadata, recorded_at)
  SELECT e.position, s.id, e.stream, e.revision, e.event_id, e.type, e.data, e.metadata, e.recorded_at
  FROM events AS e JOIN streams AS s ON s.name = e.stream ORDER BY e.position;
DELETE FROM sqlite_sequence WHERE name = 'events_v2';
UPDATE sqlite_sequence SET name = 'events_v2' WHERE name = 'events';
DROP TABLE events;
ALTER TABLE events_v2 RENAME TO events;
`;

/** Version 1's schema, for tests that build a version-1 log to migrate (a store never creates it). */
export const SCHEMA_V1_SQL = eventsTable('events', 1);
