import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { createEventStore } from './create-event-store';
import { SqliteEventStore } from './sqlite/sqlite-event-store';
import { HashChainedEventStore } from './chain/hash-chain';

describe('createEventStore', () => {
  const dir = mkdtempSync(join(tmpdir(), 'optex-create-store-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('sqlite:PATH opens a SQLite file, creating missing parent directories, and keeps what was written', async () => {
    const path = join(dir, 'nested', 'deeper', 'events.db');
    const store = await createEventStore(`sqlite:${path}`);
    expect(store).toBeInstanceOf(HashChainedEventStore);
    expect((store as HashChainedEventStore).inner).toBeInstanceOf(SqliteEventStore);
    expect(existsSync(path)).toBe(true);
    await store.appendToStream('s', [{ id: randomUUID(), type: 'A', data: { x: 1 } }], 'no_stream');
    await store.close();
    const again = await createEventStore(`sqlite:${path}`);
    expect((await again.readStream('s')).map((e) => e.data)).toEqual([{ x: 1 }]);
    await again.close();
  });

  it('sqlite:PATH accepts a path relative to the working directory', async () => {
    const path = relative(process.cwd(), join(dir, 'rel', 'events.db'));
    const store = await createEventStore(`sqlite:${path}`);
    expect(((store as HashChainedEventStore).inner as SqliteEventStore).path).toBe(join(dir, 'rel', 'events.db'));
    await store.close();
  });

  it('memory: opens a private in-memory store', async () => {
    const a = await createEventStore('memory:');
    const b = await createEventStore('memory:');
    await a.appendToStream('s', [{ id: randomUUID(), type: 'A', data: {} }], 'no_stream');
    expect(await a.readStream('s')).toHaveLength(1);
    expect(await b.readStream('s')).toEqual([]);
    expect(((a as HashChainedEventStore).inner as SqliteEventStore).path).toBe(':memory:');
    await Promise.all([a.close(), b.close()]);
  });

  it('rejects an unknown scheme or a missing path with an error naming the url', async () => {
    await expect(createEventStore('postgres://localhost/events')).rejects.toThrow(/unsupported event store url "postgres:\/\/localhost\/events": expected one of sqlite:, memory:/);
    await expect(createEventStore('events.db')).rejects.toThrow(/unsupported event store url "events.db"/);
    await expect(createEventStore('sqlite:')).rejects.toThrow(/"sqlite:" names no file/);
  });
});
