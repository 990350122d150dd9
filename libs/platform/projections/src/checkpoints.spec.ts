import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InfrastructureError } from '@optex/ports';
import Database from 'better-sqlite3';
import { CheckpointUnreadable, MemoryReadModelCheckpoints, SqliteReadModelCheckpoints, type ReadModelCheckpoints } from './index';

const at = (n: number) => ({ commit: BigInt(n), prepare: BigInt(n) });

// One contract, two adapters: what a read model may rely on whichever keeps its checkpoints.
describe.each([
  ['memory', () => ({ checkpoints: new MemoryReadModelCheckpoints() as ReadModelCheckpoints, cleanup: () => undefined })],
  [
    'sqlite',
    () => {
      const dir = mkdtempSync(join(tmpdir(), 'optex-checkpoints-'));
      return { checkpoints: SqliteReadModelCheckpoints.open(join(dir, 'read-model.db')) as ReadModelCheckpoints, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
    },
  ],
])('read-model checkpoints (%s)', (_kind, make) => {
  let checkpoints: ReadModelCheckpoints;
  let cleanup: () => void;
  beforeEach(() => ({ checkpoints, cleanup } = make()));
  afterEach(async () => {
    await checkpoints.close();
    cleanup();
  });

  it('has nothing for a read model never saved', async () => {
    expect(await checkpoints.load('api', 1)).toBeUndefined();
    expect(await checkpoints.describe('api')).toBeUndefined();
    expect(await checkpoints.drop('api')).toBe(false);
  });

  it('given saves, loads the rows as JSON values with the last position: upserts replace, undefined removes', async () => {
    await checkpoints.save('api', { version: 1, position: at(10), eventId: 'e-10', rows: new Map<string, unknown>([['a', { n: 1, big: '12345678901234567890' }], ['b', [1, 2]], ['c', 'x']]) });
    await checkpoints.save('api', { version: 1, position: at(17), eventId: 'e-17', rows: new Map<string, unknown>([['a', { n: 2 }], ['c', undefined]]) });
    const loaded = await checkpoints.load('api', 1);
    expect(loaded?.header).toMatchObject({ name: 'api', version: 1, position: at(17), eventId: 'e-17', rows: 2 });
    expect(loaded?.header.savedAt).toBeInstanceOf(Date);
    expect(Object.fromEntries(loaded!.rows)).toEqual({ a: { n: 2 }, b: [1, 2] });
  });

  it('keeps read models apart', async () => {
    await checkpoints.save('api', { version: 1, position: at(3), eventId: 'e-3', rows: new Map([['k', 1]]) });
    await checkpoints.save('other', { version: 4, position: at(9), eventId: 'e-9', rows: new Map([['k', 2]]) });
    expect(Object.fromEntries((await checkpoints.load('api', 1))!.rows)).toEqual({ k: 1 });
    expect(Object.fromEntries((await checkpoints.load('other', 4))!.rows)).toEqual({ k: 2 });
    expect(await checkpoints.drop('api')).toBe(true);
    expect(await checkpoints.load('api', 1)).toBeUndefined();
    expect(await checkpoints.load('other', 4)).toBeDefined();
  });

  it('never loads another version; a save under a new version replaces every row', async () => {
    await checkpoints.save('api', { version: 1, position: at(5), eventId: 'e-5', rows: new Map([['old', 1], ['kept?', 2]]) });
    expect(await checkpoints.load('api', 2)).toBeUndefined();
    expect(await checkpoints.describe('api')).toMatchObject({ version: 1, rows: 2 });
    await checkpoints.save('api', { version: 2, position: at(8), eventId: 'e-8', rows: new Map([['new', 3]]) });
    expect(await checkpoints.load('api', 1)).toBeUndefined();
    expect(Object.fromEntries((await checkpoints.load('api', 2))!.rows)).toEqual({ new: 3 });
  });

  it('refuses a bad save naming the field, and keeps the previous checkpoint whole', async () => {
    await checkpoints.save('api', { version: 1, position: at(5), eventId: 'e-5', rows: new Map([['a', 1]]) });
    await expect(checkpoints.save('api', { version: 0, position: at(6), eventId: 'e-6', rows: new Map() })).rejects.toThrow(/version must be a positive integer/);
    await expect(checkpoints.save('api', { version: 1, position: { commit: 6, prepare: 6 } as never, eventId: 'e-6', rows: new Map() })).rejects.toThrow(/position/);
    await expect(checkpoints.save('api', { version: 1, position: at(6), eventId: 'e-6', rows: new Map<string, unknown>([['b', 2], ['bad', () => 1]]) })).rejects.toThrow(/row "bad" of read model api is not JSON-serialisable/);
    await expect(checkpoints.save('api', { version: 1, position: at(6), eventId: '', rows: new Map() })).rejects.toThrow(/eventId must be a non-empty string/);
    const loaded = await checkpoints.load('api', 1);
    expect(loaded?.header.position).toEqual(at(5));
    expect(Object.fromEntries(loaded!.rows)).toEqual({ a: 1 });
  });
});

describe('SqliteReadModelCheckpoints', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'optex-checkpoints-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('opens a file an earlier optex wrote (no event id column): its checkpoint loads without an event id, the next save records one', async () => {
    const path = join(dir, 'earlier.db');
    const raw = new Database(path);
    raw.exec(`CREATE TABLE read_models (name TEXT PRIMARY KEY, version INTEGER NOT NULL, commit_position TEXT NOT NULL, prepare_position TEXT NOT NULL, saved_at INTEGER NOT NULL);
      CREATE TABLE read_model_rows (name TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (name, key)) WITHOUT ROWID;
      INSERT INTO read_models VALUES ('api', 1, '12', '12', 0);
      INSERT INTO read_model_rows VALUES ('api', 'k', '1');`);
    raw.close();
    const checkpoints = SqliteReadModelCheckpoints.open(path);
    try {
      const loaded = await checkpoints.load('api', 1);
      expect(loaded?.header.position).toEqual(at(12));
      expect(loaded?.header).not.toHaveProperty('eventId');
      expect(Object.fromEntries(loaded!.rows)).toEqual({ k: 1 });
      await checkpoints.save('api', { version: 1, position: at(13), eventId: 'e-13', rows: new Map([['k', 2]]) });
      expect(await checkpoints.describe('api')).toMatchObject({ position: at(13), eventId: 'e-13', rows: 1 });
    } finally {
      await checkpoints.close();
    }
  });

  it('keeps checkpoints across a close and an open', async () => {
    const path = join(dir, 'rm.db');
    const first = SqliteReadModelCheckpoints.open(path);
    await first.save('api', { version: 3, position: { commit: 42n, prepare: 41n }, eventId: 'e-42', rows: new Map([['x', { y: true }]]) });
    await first.close();
    const second = SqliteReadModelCheckpoints.open(path);
    const loaded = await second.load('api', 3);
    await second.close();
    expect(loaded?.header.position).toEqual({ commit: 42n, prepare: 41n });
    expect(loaded?.header.eventId).toBe('e-42');
    expect(Object.fromEntries(loaded!.rows)).toEqual({ x: { y: true } });
  });

  it('is held by one opener at a time: a second one is told the file is in use', async () => {
    const path = join(dir, 'rm.db');
    const holder = SqliteReadModelCheckpoints.open(path);
    try {
      let error: unknown;
      try {
        SqliteReadModelCheckpoints.open(path).close();
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(InfrastructureError);
      expect((error as Error).message).toContain(`the read-model checkpoints at ${path} are in use by another process`);
    } finally {
      await holder.close();
    }
    const next = SqliteReadModelCheckpoints.open(path);
    await next.close();
  });

  it('a row that is no longer JSON (the file edited or damaged) is CheckpointUnreadable naming the row, not a failure of the file', async () => {
    const path = join(dir, 'rm.db');
    const first = SqliteReadModelCheckpoints.open(path);
    await first.save('api', { version: 1, position: at(7), eventId: 'e-7', rows: new Map([['a', 1], ['b', 2]]) });
    await first.close();
    const db = new Database(path);
    db.prepare("UPDATE read_model_rows SET value = '{\"torn' WHERE key = 'b'").run();
    db.close();
    const second = SqliteReadModelCheckpoints.open(path);
    try {
      const error = await second.load('api', 1).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(CheckpointUnreadable);
      expect(error).toMatchObject({ readModel: 'api', key: 'b' });
      expect((error as Error).message).toMatch(/^row "b" of read model api's checkpoint: not JSON \(/);
      expect(await second.drop('api')).toBe(true);
    } finally {
      await second.close();
    }
  });

  it('names the file it cannot open', () => {
    expect(() => SqliteReadModelCheckpoints.open(join(dir, 'missing-dir', 'rm.db'))).toThrow(/cannot open the read-model checkpoints at .*missing-dir\/rm\.db/);
  });
});
