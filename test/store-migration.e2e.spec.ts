import Database from 'better-sqlite3';
import { join } from 'node:path';
import { SCHEMA_V1_SQL } from '@optex/event-store';
import { ensureBuilt, json, optex, tempDir } from './support/cli';

// The SQLite log's schema version 2 (its unique indexes keyed on a stream number, not the stream's name) migrates a
// log written by an earlier optex when a command first opens it. Here a log written now is turned back into version 1
// (what optex wrote before 2026-12-06, the same rows), and the CLI must read it as before, warn once, and keep its
// hash chain intact.

jest.setTimeout(120_000);

/** Rewrites a version-2 log as version 1: the same rows at the same positions, indexes on the stream's name. */
function downgradeToVersion1(path: string): void {
  const db = new Database(path);
  db.transaction(() => {
    db.exec('ALTER TABLE events RENAME TO events_v2');
    db.exec(SCHEMA_V1_SQL);
    db.exec(`INSERT INTO events (position, stream, revision, event_id, type, data, metadata, recorded_at)
      SELECT position, stream, revision, event_id, type, data, metadata, recorded_at FROM events_v2 ORDER BY position`);
    db.exec('DROP TABLE events_v2; DROP TABLE streams;');
    db.pragma('user_version = 1');
  })();
  db.close();
}

describe('a version-1 SQLite log', () => {
  beforeAll(() => ensureBuilt());

  it('is migrated by the first command that opens it: one warning, the same optimizations, an intact hash chain', async () => {
    const path = join(tempDir('migration'), 'events.db');
    const store = `sqlite:${path}`;
    const run = await optex(['run', 'examples/recommendations.json', '--dry-run', '--store', store, '--json'], { env: { ...process.env, OPTEX_LOG_LEVEL: 'error' } });
    expect(run.code).toBe(0);
    const before = await optex(['list', '--store', store, '--json']);
    expect(before.code).toBe(0);

    downgradeToVersion1(path);
    const old = new Database(path, { readonly: true });
    expect(old.pragma('user_version', { simple: true })).toBe(1);
    const head = (old.prepare('SELECT MAX(position) AS head FROM events').get() as { head: number }).head;
    old.close();

    const migrated = await optex(['list', '--store', store, '--json']);
    expect(migrated.code).toBe(0);
    expect(migrated.stderr).toContain(`OptexStoreWarning: the SQLite event store at ${path} has schema version 1: migrating it to version 2, a one-time copy of its events (positions up to ${head})`);
    expect(json(migrated)).toEqual(json(before));

    const verified = await optex(['verify', '--store', store, '--json']);
    expect(verified.code).toBe(0);
    expect(verified.stderr).not.toContain('OptexStoreWarning'); // migrated once
    const after = new Database(path, { readonly: true });
    expect(after.pragma('user_version', { simple: true })).toBe(2);
    expect((after.prepare('SELECT COUNT(*) AS n FROM streams').get() as { n: number }).n).toBeGreaterThan(0);
    after.close();
  });
});
