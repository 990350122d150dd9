import Database from 'better-sqlite3';
import { randomUUID } from 'node:crypto';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventStoreContract } from '@optex/testing';
import { ConcurrencyError, InfrastructureError, UnusableStoreError, isOutage, type NewEvent, type RecordedEvent } from '@optex/ports';
import { PartialDuplicateAppendError } from '../errors';
import { SCHEMA_V1_SQL } from './schema';
import { SqliteEventStore } from './sqlite-event-store';

const dir = mkdtempSync(join(tmpdir(), 'optex-sqlite-store-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

eventStoreContract('SQLite :memory:', async () => SqliteEventStore.open(':memory:'));
eventStoreContract('SQLite file', async () => SqliteEventStore.open(join(dir, 'contract.db'), { pageSize: 64 }));

describe('SqliteEventStore (SQLite specifics)', () => {
  let n = 0;
  const file = () => join(dir, `specific-${++n}.db`);
  const stores: SqliteEventStore[] = [];
  const open = (path: string, options?: Parameters<typeof SqliteEventStore.open>[1]) => {
    const store = SqliteEventStore.open(path, options);
    stores.push(store);
    return store;
  };
  afterEach(async () => {
    await Promise.all(stores.splice(0).map((s) => s.close()));
  });
  const event = (type: string, data: unknown = {}): NewEvent => ({ id: randomUUID(), type, data });
  const thrownBy = (run: () => unknown): unknown => {
    try {
      run();
    } catch (error) {
      return error;
    }
    throw new Error('expected it to throw');
  };

  it('creates the schema (WAL, synchronous=NORMAL, user_version 2) and keeps events across a reopen', async () => {
    const path = file();
    const first = open(path);
    await first.appendToStream('s-1', [event('A'), event('B')], 'no_stream');
    await first.close();

    const raw = new Database(path, { readonly: true });
    expect(raw.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(raw.pragma('user_version', { simple: true })).toBe(2);
    expect(raw.prepare('SELECT COUNT(*) AS n FROM events').get()).toEqual({ n: 2 });
    expect(raw.prepare('SELECT id, name FROM streams').all()).toEqual([{ id: 1, name: 's-1' }]);
    raw.close();

    const second = open(path);
    const read = await second.readStream('s-1');
    expect(read.map((e) => [e.type, e.revision])).toEqual([
      ['A', 0n],
      ['B', 1n],
    ]);
    const appended = await second.appendToStream('s-1', [event('C')], 1n);
    expect(appended.nextExpectedRevision).toBe(2n);
    expect(appended.position.commit).toBeGreaterThan(read[1].position.commit);
    expect(appended.position.prepare).toBe(appended.position.commit);
  });

  it('commits a durable append with synchronous=FULL (its group with it), the others with NORMAL, and goes back to NORMAL', async () => {
    const store = open(file());
    const internals = store as unknown as { db: Database.Database; appendInTransaction: (...args: unknown[]) => unknown };
    const setting = () => internals.db.pragma('synchronous', { simple: true }) as number;
    const seen: [string, number][] = [];
    const original = internals.appendInTransaction;
    internals.appendInTransaction = function (this: unknown, ...args: unknown[]) {
      seen.push([args[0] as string, setting()]); // inside the group's transaction: what its commit syncs by
      return original.apply(this, args);
    };
    const FULL = 2;
    const NORMAL = 1;

    await store.appendToStream('plain', [event('A')], 'no_stream');
    await store.appendToStream('intent', [event('StepStarted')], 'no_stream', { durable: true });
    // Two appends of one turn share a transaction: a durable one makes the whole group's commit sync.
    await Promise.all([store.appendToStream('plain', [event('B')], 0n), store.appendToStream('intent', [event('StepStarted')], 0n, { durable: true })]);
    await store.appendToStream('plain', [event('C')], 1n, { durable: false });

    expect(seen).toEqual([
      ['plain', NORMAL],
      ['intent', FULL],
      ['plain', FULL],
      ['intent', FULL],
      ['plain', NORMAL],
    ]);
    expect(setting()).toBe(NORMAL);
  });

  it('a durable append whose transaction fails leaves the connection at synchronous=NORMAL', async () => {
    const store = open(file());
    const internals = store as unknown as { db: Database.Database; appendInTransaction: (...args: unknown[]) => unknown };
    internals.appendInTransaction = () => {
      throw new Error('disk I/O error');
    };
    await expect(store.appendToStream('intent', [event('StepStarted')], 'no_stream', { durable: true })).rejects.toThrow(InfrastructureError);
    expect(internals.db.pragma('synchronous', { simple: true })).toBe(1);
  });

  it('a second instance on the same file sees appends through the subscription poll', async () => {
    const path = file();
    const reader = open(path, { pollIntervalMs: 20 });
    const writer = open(path);
    const seen: RecordedEvent[] = [];
    reader.subscribeToAll(async (e) => void seen.push(e));
    await writer.appendToStream('shared-1', [event('FromWriter1')], 'no_stream');
    await waitUntil(() => seen.length === 1);
    await writer.appendToStream('shared-1', [event('FromWriter2'), event('FromWriter3')], 0n);
    await waitUntil(() => seen.length === 3);
    expect(seen.map((e) => e.type)).toEqual(['FromWriter1', 'FromWriter2', 'FromWriter3']);
  });

  it('two instances on one file: exactly one of two appends with the same expected revision wins', async () => {
    const path = file();
    const a = open(path);
    const b = open(path);
    await a.appendToStream('race', [event('Start')], 'no_stream');
    const results = await Promise.allSettled([a.appendToStream('race', [event('A')], 0n), b.appendToStream('race', [event('B')], 0n)]);
    expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
    expect(results.find((r) => r.status === 'rejected')).toMatchObject({ reason: expect.any(ConcurrencyError) });
    expect(await b.readStream('race')).toHaveLength(2);
  });

  it('an append through this instance wakes its subscriptions at once, without waiting for the poll', async () => {
    const store = open(':memory:', { pollIntervalMs: 60_000 });
    const seen: string[] = [];
    store.subscribeToAll(async (e) => void seen.push(e.type));
    await new Promise((resolve) => setTimeout(resolve, 20));
    const started = Date.now();
    await store.appendToStream('wake', [event('Now')], 'no_stream');
    await waitUntil(() => seen.length === 1);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('a filtered subscription skips many non-matching events and still delivers the matching ones in order', async () => {
    const store = open(':memory:', { pageSize: 7 });
    const seen: string[] = [];
    store.subscribeToAll(async (e) => void seen.push(e.type), { filter: { kind: 'eventType', prefixes: ['Rare'] } });
    for (let i = 0; i < 10; i++) await store.appendToStream(`noise-${i}`, Array.from({ length: 10 }, () => event('Noise')), 'no_stream');
    await store.appendToStream('rare', [event('Rare1')], 'no_stream');
    for (let i = 0; i < 3; i++) await store.appendToStream(`more-${i}`, Array.from({ length: 9 }, () => event(i === 1 ? 'Rare2' : 'Noise')), 'no_stream');
    await waitUntil(() => seen.length === 10);
    expect(seen).toEqual(['Rare1', ...Array.from({ length: 9 }, () => 'Rare2')]);
  });

  it('readAll pages (page size 3) forwards and backwards with a filter', async () => {
    const store = open(':memory:', { pageSize: 3 });
    const wanted: string[] = [];
    for (let i = 0; i < 8; i++) {
      const keep = event('Keep', { i });
      wanted.push(keep.id);
      await store.appendToStream(`p-${i}`, [event('Skip'), keep, event('Skip')], 'no_stream');
    }
    const read = async (options: Parameters<SqliteEventStore['readAll']>[0]) => {
      const ids: string[] = [];
      for await (const e of store.readAll(options)) ids.push(e.id);
      return ids;
    };
    const filter = { kind: 'eventType', prefixes: ['Keep'] } as const;
    expect(await read({ filter })).toEqual(wanted);
    expect(await read({ filter, direction: 'backwards' })).toEqual([...wanted].reverse());
    expect(await read({ filter, maxCount: 4 })).toEqual(wanted.slice(0, 4));
    expect(await read({})).toHaveLength(24);
  });

  it('reads with more distinct limits than it prepares with the number written in still return what they ask for', async () => {
    const store = open(':memory:', { pageSize: 7 });
    const events = Array.from({ length: 60 }, (_, i) => event('E', { i }));
    await store.appendToStream('long', events, 'no_stream');
    // 59 distinct maxCounts per query: the first ones prepared with their number written in, the rest bound
    for (let count = 1; count < 60; count++) {
      expect((await store.readStream('long', { maxCount: count, fromRevision: 1n })).map((e) => e.revision)).toEqual(Array.from({ length: count }, (_, i) => BigInt(i + 1)));
      expect((await store.readStream('long', { direction: 'backwards', maxCount: count, fromRevision: 58n })).map((e) => e.revision)).toEqual(Array.from({ length: count }, (_, i) => BigInt(58 - i)));
      const all: bigint[] = [];
      for await (const e of store.readAll({ maxCount: count })) all.push(e.revision);
      expect(all).toEqual(Array.from({ length: count }, (_, i) => BigInt(i)));
    }
  });

  it('readAllWithoutData reads what readAll reads, every field but the data, and leaves the data column unread', async () => {
    const store = open(':memory:', { pageSize: 3 });
    for (let i = 0; i < 5; i++) await store.appendToStream(`w-${i}`, [event('Keep', { i, big: 'x'.repeat(100) }), event('Skip', { i })], 'no_stream');
    const all = async (iterable: AsyncIterable<object>) => {
      const out: object[] = [];
      for await (const e of iterable) out.push(e);
      return out;
    };
    const [first] = await all(store.readAll({ maxCount: 1 }));
    const optionsList = [{}, { direction: 'backwards' as const }, { maxCount: 4 }, { filter: { kind: 'eventType' as const, prefixes: ['Keep'] } }, { fromPosition: (first as { position: never }).position, direction: 'forwards' as const }];
    for (const options of optionsList) {
      const withData = (await all(store.readAll(options))) as { data: unknown }[];
      const without = await all(store.readAllWithoutData(options));
      expect(without).toEqual(withData.map(({ data: _data, ...rest }) => rest));
      expect(without.every((e) => !('data' in e))).toBe(true);
    }
    // The query it prepares does not name the data column.
    const queries = (store as unknown as { readAllQueries: Map<string, string> }).readAllQueries;
    const sources = [...queries].filter(([key]) => key.includes('without data')).map(([, sql]) => sql);
    expect(sources.length).toBeGreaterThan(0);
    expect(sources.every((source) => !/\bdata\b/.test(source))).toBe(true);
  });

  it('an append whose ids are all already in the stream, even not at its end, writes nothing and returns the current revision', async () => {
    const store = open(':memory:');
    const early = [event('A'), event('B')];
    await store.appendToStream('mid', early, 'no_stream');
    const later = await store.appendToStream('mid', [event('C')], 1n);
    const repeated = await store.appendToStream('mid', early, 'no_stream');
    expect(repeated).toEqual({ ...later, written: false });
    expect(later.written).toBe(true);
    expect(await store.readStream('mid')).toHaveLength(3);
  });

  it('a partial repeat fails with PartialDuplicateAppendError naming the ids', async () => {
    const store = open(':memory:');
    const a = event('A');
    const b = event('B');
    await store.appendToStream('partial', [a], 'no_stream');
    const error = await store.appendToStream('partial', [a, b], 0n).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PartialDuplicateAppendError);
    expect(error).toBeInstanceOf(ConcurrencyError);
    expect(error).toMatchObject({ code: 'CONCURRENCY', duplicateIds: [a.id], newIds: [b.id], actual: 0n });
    expect((error as Error).message).toContain(a.id);
    expect((error as Error).message).toContain(b.id);
  });

  it('ids are compared case-insensitively and stored in lower case', async () => {
    const store = open(':memory:');
    const id = randomUUID().toUpperCase();
    await store.appendToStream('upper', [{ id, type: 'A', data: {} }], 'no_stream');
    expect((await store.appendToStream('upper', [{ id: id.toLowerCase(), type: 'A', data: {} }], 'no_stream')).nextExpectedRevision).toBe(0n);
    expect((await store.readStream('upper'))[0].id).toBe(id.toLowerCase());
  });

  it('records recordedAt from the given clock, in milliseconds', async () => {
    const at = new Date('2026-03-01T12:34:56.789Z');
    const store = open(':memory:', { clock: { now: () => at } });
    await store.appendToStream('clock', [event('A')], 'no_stream');
    expect((await store.readStream('clock'))[0].recordedAt.toISOString()).toBe(at.toISOString());
  });

  it('rejects bad arguments with errors naming the field', async () => {
    const store = open(':memory:');
    await expect(store.appendToStream('', [event('A')], 'any')).rejects.toThrow(/stream must be a non-empty string/);
    await expect(store.appendToStream('s', [], 'any')).rejects.toThrow(/events must be a non-empty array/);
    await expect(store.appendToStream('s', [event('A')], -1n)).rejects.toThrow(/expected revision/);
    await expect(store.appendToStream('s', [event('A')], 'latest' as never)).rejects.toThrow(/expected revision/);
    await expect(store.appendToStream('s', [event('')], 'any')).rejects.toThrow(/events\[0\]\.type/);
    await expect(store.appendToStream('s', [event('A'), event('B', { big: 1n })], 'any')).rejects.toThrow(/events\[1\]\.data must be JSON-serialisable/);
    const twice = event('A');
    await expect(store.appendToStream('s', [twice, event('B'), twice], 'any')).rejects.toThrow(/events\[2\]\.id .* repeats events\[0\]\.id/);
    await expect(store.appendToStream('s', [{ ...event('A'), metadata: [] as never }], 'any')).rejects.toThrow(/events\[0\]\.metadata/);
    await expect(store.readStream('s', { maxCount: -1 })).rejects.toThrow(/maxCount/);
    await expect(store.readStream('s', { fromRevision: 1 as never })).rejects.toThrow(/fromRevision/);
    await expect(store.readAll({ filter: { kind: 'eventType', prefixes: [] } })[Symbol.asyncIterator]().next()).rejects.toThrow(/filter\.prefixes/);
    await expect(store.readAll({ direction: 'sideways' as never })[Symbol.asyncIterator]().next()).rejects.toThrow(/direction/);
    expect(() => store.subscribeToAll(async () => undefined, { fromPosition: { commit: 1 } as never })).toThrow(/fromPosition/);
    expect(() => SqliteEventStore.open(':memory:', { pollIntervalMs: 0 })).toThrow(/pollIntervalMs/);
    for (const bad of [-1, 1.5, Number.NaN]) expect(() => SqliteEventStore.open(file(), { checkpointEveryMs: bad })).toThrow(/checkpointEveryMs must be a non-negative integer/);
    expect(await store.readStream('s')).toEqual([]);
  });

  it('driver failures surface as InfrastructureError', async () => {
    expect(() => SqliteEventStore.open(join(dir, 'missing-dir', 'x.db'))).toThrow(InfrastructureError);

    const path = file();
    const store = open(path, { busyTimeoutMs: 50 });
    const locker = new Database(path);
    locker.exec('BEGIN IMMEDIATE');
    try {
      const error = await store.appendToStream('locked', [event('A')], 'any').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InfrastructureError);
      expect((error as Error).message).toMatch(/append to locked.*database is locked/);
    } finally {
      locker.exec('ROLLBACK');
      locker.close();
    }
    expect((await store.appendToStream('locked', [event('A')], 'any')).nextExpectedRevision).toBe(0n);

    await store.close();
    await expect(store.appendToStream('s', [event('A')], 'any')).rejects.toThrow(InfrastructureError);
    await expect(store.readStream('s')).rejects.toThrow(/closed/);
    expect(() => store.subscribeToAll(async () => undefined)).toThrow(InfrastructureError);
  });

  it('kept events: another instance of this process that commits to the file is seen by the next read, in the same turn', async () => {
    const path = file();
    const a = open(path);
    const b = open(path);
    await a.appendToStream('kept-1', [event('A')], 'no_stream');
    const appended = b.appendToStream('kept-1', [event('B')], 0n); // its commit waits for the next turn
    expect((await a.readStream('kept-1')).map((e) => e.type)).toEqual(['A']); // a looks at data_version in this turn
    await appended; // b commits, and this continues before the turn that a looked in has ended
    expect((await a.readStream('kept-1')).map((e) => e.type)).toEqual(['A', 'B']);
    expect((await a.readStream('kept-1', { direction: 'backwards', maxCount: 1 })).map((e) => e.type)).toEqual(['B']);
  });

  it('kept events: another connection’s commit is seen by a read in a later turn', async () => {
    const path = file();
    const store = open(path);
    await store.appendToStream('kept-2', [event('A')], 'no_stream');
    expect((await store.readStream('kept-2')).map((e) => e.type)).toEqual(['A']);
    const other = new Database(path);
    other
      .prepare('INSERT INTO events (stream_id, stream, revision, event_id, type, data, metadata, recorded_at) SELECT id, name, ?, ?, ?, ?, ?, ? FROM streams WHERE name = ?')
      .run(1, randomUUID(), 'FromOther', '{}', '{}', Date.now(), 'kept-2');
    other.close();
    await new Promise((resolve) => setImmediate(resolve)); // whatever tells this process of it arrives in a later turn
    expect((await store.readStream('kept-2')).map((e) => e.type)).toEqual(['A', 'FromOther']);
    const seen: string[] = [];
    const subscription = store.subscribeToAll(async (e) => void seen.push(e.type));
    await waitUntil(() => seen.length === 2);
    await subscription.unsubscribe();
    expect(seen).toEqual(['A', 'FromOther']);
  });

  it('group commit: appends called together commit in one transaction, in call order, and a conflicting one fails alone', async () => {
    const path = file();
    const store = open(path);
    const watcher = new Database(path, { readonly: true });
    const version = () => Number(watcher.pragma('data_version', { simple: true }));
    const before = version();
    const results = await Promise.allSettled([
      store.appendToStream('g-1', [event('A')], 'no_stream'),
      store.appendToStream('g-2', [event('B'), event('C')], 'no_stream'),
      store.appendToStream('g-1', [event('D')], 'no_stream'), // loses to the first call of the group
      store.appendToStream('g-1', [event('E')], 0n), // sees the first call's write inside the same transaction
    ]);
    expect(version() - before).toBe(1); // one commit seen by another connection
    watcher.close();
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
    expect((results[2] as PromiseRejectedResult).reason).toBeInstanceOf(ConcurrencyError);
    expect((await store.readStream('g-1')).map((e) => e.type)).toEqual(['A', 'E']);
    const all: RecordedEvent[] = [];
    for await (const e of store.readAll()) all.push(e);
    expect(all.map((e) => e.type)).toEqual(['A', 'B', 'C', 'E']);
  });

  it('group commit: a partial repeat fails alone, writing none of its new events, and the calls around it commit', async () => {
    const store = open(file());
    const first = event('A');
    await store.appendToStream('p-1', [first], 'no_stream');
    const fresh = event('B');
    const results = await Promise.allSettled([
      store.appendToStream('p-2', [event('X')], 'no_stream'),
      store.appendToStream('p-1', [first, fresh], 'any'), // A is there, B is not
      store.appendToStream('p-1', [event('C')], 0n), // the partial repeat wrote nothing: revision 0 is still the last
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((results[1] as PromiseRejectedResult).reason).toBeInstanceOf(PartialDuplicateAppendError);
    expect((await store.readStream('p-1')).map((e) => e.type)).toEqual(['A', 'C']);
    expect((await store.readStream('p-2')).map((e) => e.type)).toEqual(['X']);
  });

  it('group commit: a driver failure rejects every append of the group and writes none of them', async () => {
    const path = file();
    const store = open(path, { busyTimeoutMs: 50 });
    const locker = new Database(path);
    locker.exec('BEGIN IMMEDIATE');
    const results = await Promise.allSettled([store.appendToStream('x-1', [event('A')], 'any'), store.appendToStream('x-2', [event('B')], 'any')]);
    locker.exec('ROLLBACK');
    locker.close();
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    for (const r of results) expect((r as PromiseRejectedResult).reason).toBeInstanceOf(InfrastructureError);
    expect((results[0] as PromiseRejectedResult).reason.message).toMatch(/append to 2 streams.*database is locked/);
    expect(await store.readStream('x-1')).toEqual([]);
    expect(await store.readStream('x-2')).toEqual([]);
  });

  it('close() writes the appends already called before closing the file', async () => {
    const path = file();
    const store = SqliteEventStore.open(path);
    const appended = store.appendToStream('late', [event('A')], 'no_stream');
    await store.close();
    await expect(appended).resolves.toMatchObject({ nextExpectedRevision: 0n });
    const reopened = open(path);
    expect((await reopened.readStream('late')).map((e) => e.type)).toEqual(['A']);
  });

  it('checkpoints on a worker every checkpointEveryMs, not in the commits; close() ends the worker and its connection', async () => {
    const sizeOf = (path: string) => statSync(path).size;
    const appendSome = async (store: SqliteEventStore) => {
      for (let i = 0; i < 20; i++) await store.appendToStream(`s-${i}`, [event('A', { text: 'x'.repeat(2000) })], 'no_stream');
    };
    // checkpointEveryMs 0: SQLite's own rule (1,000 pages of WAL) — 20 small appends stay in the WAL.
    const own = file();
    const left = open(own, { checkpointEveryMs: 0 });
    const ownStart = sizeOf(own);
    await appendSome(left);
    await new Promise((r) => setTimeout(r, 200));
    expect(sizeOf(own)).toBe(ownStart);

    // The worker copies them into the database file meanwhile; the writer's own rule would not have yet (10,000 pages).
    const path = file();
    const store = SqliteEventStore.open(path, { checkpointEveryMs: 20 });
    const start = sizeOf(path);
    await appendSome(store);
    for (let i = 0; i < 150 && sizeOf(path) === start; i++) await new Promise((r) => setTimeout(r, 20));
    expect(sizeOf(path)).toBeGreaterThan(start);
    // The last connection to close removes the WAL: none is left open by the worker.
    await store.close();
    expect(existsSync(`${path}-wal`)).toBe(false);
    expect((await open(path).readStream('s-19')).map((e) => e.type)).toEqual(['A']);
  });

  it('starts its checkpoint worker at its first append: a store that is only read checkpoints nothing', async () => {
    const sizeOf = (path: string) => statSync(path).size;
    const path = file();
    const writer = open(path, { checkpointEveryMs: 0 }); // keeps the WAL: its connection stays open, and 20 appends are under 1,000 pages
    for (let i = 0; i < 20; i++) await writer.appendToStream(`s-${i}`, [event('A', { text: 'x'.repeat(2000) })], 'no_stream');
    const start = sizeOf(path);
    const reader = open(path, { checkpointEveryMs: 20 });
    expect((await reader.readStream('s-3')).map((e) => e.type)).toEqual(['A']);
    await new Promise((r) => setTimeout(r, 300));
    expect(sizeOf(path)).toBe(start);
    await reader.appendToStream('s-last', [event('B')], 'no_stream');
    for (let i = 0; i < 150 && sizeOf(path) === start; i++) await new Promise((r) => setTimeout(r, 20));
    expect(sizeOf(path)).toBeGreaterThan(start);
  });

  it('a stream this connection keeps is read from SQLite again once another connection appended to it', async () => {
    const path = file();
    const mine = open(path);
    const other = open(path);
    await mine.appendToStream('shared', [event('A')], 'no_stream');
    expect((await mine.readStream('shared')).map((e) => e.type)).toEqual(['A']);
    await other.appendToStream('shared', [event('B')], 0n);
    expect((await mine.readStream('shared')).map((e) => e.type)).toEqual(['A', 'B']);
    await expect(mine.appendToStream('shared', [event('C')], 0n)).rejects.toBeInstanceOf(ConcurrencyError);
    await mine.appendToStream('shared', [event('C')], 1n);
    expect((await other.readStream('shared')).map((e) => e.type)).toEqual(['A', 'B', 'C']);
    const all: RecordedEvent[] = [];
    for await (const e of mine.readAll()) all.push(e);
    expect(all.map((e) => [e.type, e.revision, e.position.commit])).toEqual([['A', 0n, 1n], ['B', 1n, 2n], ['C', 2n, 3n]]);
  });

  it('the newest event of a stream, and a stream found empty, are read from SQLite again once another connection appended to it', async () => {
    const path = file();
    const mine = open(path);
    const other = open(path);
    const newest = async (store: SqliteEventStore, stream: string) => (await store.readStream(stream, { direction: 'backwards', maxCount: 1 })).map((e) => e.type);
    expect(await newest(mine, 'control')).toEqual([]); // found empty: remembered as such
    await mine.appendToStream('control', [event('Paused')], 'no_stream');
    expect(await newest(mine, 'control')).toEqual(['Paused']);
    await other.appendToStream('control', [event('Resumed')], 0n);
    expect(await newest(mine, 'control')).toEqual(['Resumed']);
    expect(await newest(mine, 'never')).toEqual([]);
    await other.appendToStream('never', [event('Written')], 'no_stream');
    expect(await newest(mine, 'never')).toEqual(['Written']);
    expect((await mine.readStream('control', { direction: 'backwards', maxCount: 5 })).map((e) => e.type)).toEqual(['Resumed', 'Paused']);
    expect((await mine.readStream('control', { direction: 'backwards', fromRevision: 0n })).map((e) => e.type)).toEqual(['Paused']);
  });

  it('a subscription fed from the events this connection wrote still gets, in order, those another connection wrote', async () => {
    const path = file();
    const mine = open(path, { pollIntervalMs: 10 });
    const other = open(path);
    const seen: string[] = [];
    mine.subscribeToAll(async (e) => {
      seen.push(e.type);
    });
    await mine.appendToStream('s1', [event('A')], 'any');
    await other.appendToStream('s2', [event('B')], 'any');
    await mine.appendToStream('s1', [event('C')], 'any');
    await waitUntil(() => seen.length === 3, 1000);
    expect(seen).toEqual(['A', 'B', 'C']);
  });

  it('an event another process commits between this connection looking at the file and committing, in one turn, still reaches a subscription', async () => {
    const path = file();
    const mine = open(path, { pollIntervalMs: 60_000 }); // no poll in the spec's time: only this connection's commits wake it
    const link = `${path}.link`;
    symlinkSync(path, link);
    const other = open(link); // the same file by another name: to `mine`, a connection of another process
    await mine.appendToStream('s1', [event('A')], 'any');
    const seen: string[] = [];
    mine.subscribeToAll(async (e) => void seen.push(e.type));
    await waitUntil(() => seen.length === 1);
    // A turn of its own (what an earlier read of this turn queued has run), then in it: the other connection's commit is
    // queued first, `mine` looks at the file (a read), then commits; the subscription reads its page in that same turn.
    await new Promise((resolve) => setImmediate(resolve));
    const theirs = other.appendToStream('s2', [event('B')], 'any');
    const ours = mine.appendToStream('s1', [event('C')], 'any');
    const read = mine.readStream('s1');
    await Promise.all([theirs, ours, read]);
    await waitUntil(() => seen.length === 3, 1000);
    expect(seen).toEqual(['A', 'B', 'C']);
    expect((await mine.readStream('s2')).map((e) => e.type)).toEqual(['B']);
  });

  it('numbers streams in the order they are created and keys both unique indexes on that number', async () => {
    const path = file();
    const store = open(path);
    await store.appendToStream('zz-first', [event('A')], 'no_stream');
    await store.appendToStream('aa-second', [event('B'), event('C')], 'no_stream');
    await store.appendToStream('zz-first', [event('D')], 0n);
    await store.close();
    const raw = new Database(path, { readonly: true });
    expect(raw.prepare('SELECT id, name FROM streams ORDER BY id').all()).toEqual([
      { id: 1, name: 'zz-first' },
      { id: 2, name: 'aa-second' },
    ]);
    expect(raw.prepare('SELECT stream_id, stream, revision FROM events ORDER BY position').all()).toEqual([
      { stream_id: 1, stream: 'zz-first', revision: 0 },
      { stream_id: 2, stream: 'aa-second', revision: 0 },
      { stream_id: 2, stream: 'aa-second', revision: 1 },
      { stream_id: 1, stream: 'zz-first', revision: 1 },
    ]);
    const indexed = (raw.prepare("SELECT name FROM pragma_index_list('events') WHERE \"unique\" = 1").all() as { name: string }[]).map(
      ({ name }) => (raw.prepare('SELECT name FROM pragma_index_info(?) ORDER BY seqno').all(name) as { name: string }[]).map((c) => c.name),
    );
    expect(indexed.sort()).toEqual([
      ['stream_id', 'event_id'],
      ['stream_id', 'revision'],
    ]);
    raw.close();
  });

  it('migrates a version-1 log in place: the same events at the same positions, appends go on after its last position', async () => {
    const path = file();
    const raw = new Database(path);
    raw.pragma('journal_mode = WAL');
    raw.exec(SCHEMA_V1_SQL);
    raw.pragma('user_version = 1');
    const insert = raw.prepare('INSERT INTO events (stream, revision, event_id, type, data, metadata, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?)');
    const ids = [randomUUID(), randomUUID(), randomUUID(), randomUUID(), randomUUID()];
    insert.run('old-b', 0, ids[0], 'B0', '{"n":0}', '{"m":"b0"}', 1_000);
    insert.run('old-a', 0, ids[1], 'A0', '{"n":1}', '{}', 2_000);
    insert.run('old-b', 1, ids[2], 'B1', '{"n":2}', '{}', 3_000);
    insert.run('old-a', 1, ids[3], 'A1', '{"n":3}', '{}', 4_000);
    insert.run('old-c', 0, ids[4], 'C0', '{"n":4}', '{}', 5_000);
    // The last row deleted: AUTOINCREMENT's high-water mark (5) is above every position left, and must stay so.
    raw.prepare("DELETE FROM events WHERE stream = 'old-c'").run();
    raw.close();

    const warn = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    let store: SqliteEventStore;
    try {
      store = open(path);
      expect(warn.mock.calls).toEqual([[`the SQLite event store at ${path} has schema version 1: migrating it to version 2, a one-time copy of its events (positions up to 4)`, 'OptexStoreWarning']]);
    } finally {
      warn.mockRestore();
    }
    const all = [];
    for await (const e of store.readAll()) all.push([e.stream, e.revision, e.type, e.position.commit, e.data, e.metadata, e.recordedAt.getTime()]);
    expect(all).toEqual([
      ['old-b', 0n, 'B0', 1n, { n: 0 }, { m: 'b0' }, 1_000],
      ['old-a', 0n, 'A0', 2n, { n: 1 }, {}, 2_000],
      ['old-b', 1n, 'B1', 3n, { n: 2 }, {}, 3_000],
      ['old-a', 1n, 'A1', 4n, { n: 3 }, {}, 4_000],
    ]);
    expect((await store.readStream('old-a')).map((e) => e.type)).toEqual(['A0', 'A1']);
    expect((await store.readStream('old-b', { direction: 'backwards', maxCount: 1 })).map((e) => e.type)).toEqual(['B1']);
    // Idempotency and the expected revision go by the migrated rows.
    expect(await store.appendToStream('old-b', [{ id: ids[2], type: 'B1', data: { n: 2 } }], 'any')).toEqual({ nextExpectedRevision: 1n, position: { commit: 3n, prepare: 3n }, written: false });
    await expect(store.appendToStream('old-a', [event('A2')], 0n)).rejects.toBeInstanceOf(ConcurrencyError);
    const next = await store.appendToStream('old-a', [event('A2')], 1n);
    expect(next.position.commit).toBe(6n);
    expect((await store.appendToStream('new-d', [event('D0')], 'no_stream')).position.commit).toBe(7n);
    await store.close();

    const after = new Database(path, { readonly: true });
    expect(after.pragma('user_version', { simple: true })).toBe(2);
    expect(after.prepare('SELECT id, name FROM streams ORDER BY id').all()).toEqual([
      { id: 1, name: 'old-b' },
      { id: 2, name: 'old-a' },
      { id: 3, name: 'new-d' },
    ]);
    expect(after.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").pluck().all()).toEqual(['events', 'sqlite_sequence', 'streams']);
    expect(after.pragma('freelist_count', { simple: true })).toBe(0); // vacuumed: the version-1 table's pages given back
    after.close();
    // Opened again, a migrated file is left as it is.
    expect((await open(path).readStream('old-a')).map((e) => e.type)).toEqual(['A0', 'A1', 'A2']);
  });

  it('refuses a file whose schema is newer than this code knows: unusable, not an outage (nothing retries it)', async () => {
    const path = file();
    const raw = new Database(path);
    raw.pragma('user_version = 7');
    raw.close();
    expect(() => SqliteEventStore.open(path)).toThrow(/schema version 7 is newer/);
    expect(thrownBy(() => SqliteEventStore.open(path))).toBeInstanceOf(UnusableStoreError);
    expect(isOutage(thrownBy(() => SqliteEventStore.open(path)))).toBe(false);
  });

  it('a file that is not a database, one damaged after it was written, or another program\'s database is unusable (not an outage); a path it cannot open is an outage', async () => {
    const garbage = file();
    writeFileSync(garbage, Buffer.alloc(8192, 0x5a));
    const notADatabase = thrownBy(() => SqliteEventStore.open(garbage));
    expect(notADatabase).toBeInstanceOf(UnusableStoreError);
    expect((notADatabase as Error).message).toMatch(/cannot open the SQLite event store at .*: file is not a database/);

    const damaged = file();
    const store = open(damaged);
    for (let i = 0; i < 200; i++) await store.appendToStream(`s-${i}`, [event('T', { text: 'y'.repeat(500) })], 'any');
    await store.close();
    // Everything in the file itself (a close under load can leave pages in the WAL, which would cover the damage).
    const raw = new Database(damaged);
    raw.pragma('wal_checkpoint(TRUNCATE)');
    raw.close();
    const size = statSync(damaged).size;
    const fd = openSync(damaged, 'r+');
    for (let at = 2 * 4096; at < size; at += 4096) writeSync(fd, Buffer.alloc(64, 0xff), 0, 64, at);
    closeSync(fd);
    const reopened = open(damaged);
    const read = await (async () => {
      try {
        for await (const _ of reopened.readAll()) void _;
        return undefined;
      } catch (error) {
        return error;
      }
    })();
    expect(read).toBeInstanceOf(UnusableStoreError);
    expect((read as Error).message).toMatch(/database disk image is malformed/);
    expect(isOutage(read)).toBe(false);

    // Another program's database (tables, no optex schema version): refused, and nothing written to it.
    const foreign = file();
    const other = new Database(foreign);
    other.exec('CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT); CREATE TABLE orders (id INTEGER PRIMARY KEY); INSERT INTO users (name) VALUES (\'ann\');');
    other.close();
    const bytes = readFileSync(foreign);
    const notOurs = thrownBy(() => SqliteEventStore.open(foreign));
    expect(notOurs).toBeInstanceOf(UnusableStoreError);
    expect((notOurs as Error).message).toMatch(/cannot open the SQLite event store at .*: it is not an optex event log: it holds another program's tables \(orders, users\)/);
    expect(readFileSync(foreign).equals(bytes)).toBe(true);
    expect(existsSync(`${foreign}-wal`)).toBe(false);

    // Not the file's fault: a directory where the file should be is still an InfrastructureError (an outage).
    const cannot = thrownBy(() => SqliteEventStore.open(dir));
    expect(cannot).toBeInstanceOf(InfrastructureError);
    expect(cannot).not.toBeInstanceOf(UnusableStoreError);
  });

  it('a failing read is reported to onDropped and the subscription resumes from the last delivered event', async () => {
    const path = file();
    const store = open(path, { pollIntervalMs: 10 });
    await store.appendToStream('drop', [event('Before')], 'no_stream');
    const seen: string[] = [];
    const dropped: unknown[] = [];
    store.subscribeToAll(async (e) => void seen.push(e.type), { onDropped: (error) => dropped.push(error) });
    await waitUntil(() => seen.length === 1);
    const other = new Database(path);
    other.exec('ALTER TABLE events RENAME TO events_away');
    await waitUntil(() => dropped.length > 0);
    other.exec('ALTER TABLE events_away RENAME TO events');
    other.close();
    expect(dropped[0]).toBeInstanceOf(InfrastructureError);
    await store.appendToStream('drop', [event('After')], 0n);
    await waitUntil(() => seen.length === 2);
    expect(seen).toEqual(['Before', 'After']);
  });

  it('close() stops subscriptions, waiting for a running handler, and is idempotent', async () => {
    const store = open(':memory:');
    let running = false;
    let calls = 0;
    store.subscribeToAll(async () => {
      calls++;
      running = true;
      await new Promise((resolve) => setTimeout(resolve, 50));
      running = false;
    });
    await store.appendToStream('c', [event('A'), event('B')], 'no_stream');
    await waitUntil(() => running);
    await Promise.all([store.close(), store.close()]);
    expect(running).toBe(false);
    expect(calls).toBe(1);
  });
});

async function waitUntil(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
