import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DomainError } from '@optex/domain';
import { InfrastructureError, type NewEvent } from '@optex/ports';
import { SqliteEventStore } from './sqlite-event-store';

// A row changed in the file behind optex's back (its JSON cut short): corrupt data, named, not an outage to retry.

const dir = mkdtempSync(join(tmpdir(), 'optex-sqlite-corrupt-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
const stores: SqliteEventStore[] = [];
const open = (path: string) => {
  const store = SqliteEventStore.open(path, { pollIntervalMs: 10 });
  stores.push(store);
  return store;
};
afterEach(async () => {
  await Promise.all(stores.splice(0).map((s) => s.close()));
});

const id = (i: number) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;
const event = (i: number, type: string): NewEvent => ({ id: id(i), type, data: { n: i, text: 'some text' }, metadata: { schemaVersion: 1 } });

/** A file with s-1 (positions 1–3) and s-2 (positions 4–5), then `sql` run on it by another connection. */
async function tampered(sql: string): Promise<string> {
  const path = join(dir, `log-${++n}.db`);
  const writer = SqliteEventStore.open(path, { checkpointEveryMs: 0 });
  await writer.appendToStream('s-1', [event(1, 'A'), event(2, 'B'), event(3, 'C')], 'no_stream');
  await writer.appendToStream('s-2', [event(4, 'D'), event(5, 'E')], 'no_stream');
  await writer.close();
  const raw = new Database(path);
  raw.exec(sql);
  raw.close();
  return path;
}

async function failure(read: () => Promise<unknown>): Promise<unknown> {
  try {
    await read();
  } catch (error) {
    return error;
  }
  throw new Error('expected the read to fail');
}

async function drain<T>(events: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = [];
  for await (const e of events) all.push(e);
  return all;
}

const CUT_DATA = 'UPDATE events SET data = substr(data, 1, length(data) - 1) WHERE position = 2;';
const CUT_METADATA = 'UPDATE events SET metadata = substr(metadata, 1, length(metadata) - 1) WHERE position = 5;';

describe('SqliteEventStore: a stored row whose JSON does not parse', () => {
  it('readAll fails with DomainError INVALID_EVENT naming position, stream@revision, type, id and the data column', async () => {
    const store = open(await tampered(CUT_DATA));
    const error = await failure(() => drain(store.readAll()));
    expect(error).not.toBeInstanceOf(InfrastructureError);
    expect(error).toBeInstanceOf(DomainError);
    expect((error as DomainError).code).toBe('INVALID_EVENT');
    const message = (error as Error).message;
    expect(message).toContain('position 2 ');
    expect(message).toContain('s-1@1');
    expect(message).toContain('B');
    expect(message).toContain(id(2));
    expect(message).toMatch(/its data column does not parse as JSON/);
    // The parser's own offset is a character, not a log position.
    expect(message).toMatch(/at character \d+/);
    expect(message).not.toMatch(/JSON at position/);
    expect(message).toMatch(
      /^the stored event at log position 2 \(s-1@1, type B, id 00000000-0000-4000-8000-000000000002\) is corrupt: its data column does not parse as JSON: .+ at character \d+/,
    );
  });

  it('readStream of that stream fails the same way; other streams and the data-less read are untouched', async () => {
    const store = open(await tampered(CUT_DATA));
    const error = await failure(() => store.readStream('s-1'));
    expect(error).toBeInstanceOf(DomainError);
    expect((error as Error).message).toMatch(/position 2 .*s-1@1.*its data column/);
    expect((await store.readStream('s-2')).map((e) => e.data)).toEqual([
      { n: 4, text: 'some text' },
      { n: 5, text: 'some text' },
    ]);
    expect((await drain(store.readAllWithoutData())).map((e) => e.id)).toEqual([1, 2, 3, 4, 5].map(id));
    const backwards = await failure(() => store.readStream('s-1', { direction: 'backwards' }));
    expect(backwards).toBeInstanceOf(DomainError);
  });

  it('a metadata column that does not parse is named as such, by readAllWithoutData too', async () => {
    const store = open(await tampered(CUT_METADATA));
    for (const read of [() => drain(store.readAllWithoutData()), () => drain(store.readAll()), () => store.readStream('s-2')]) {
      const error = await failure(read);
      expect(error).toBeInstanceOf(DomainError);
      expect((error as Error).message).toMatch(/position 5 .*s-2@1.*E.*its metadata column does not parse as JSON/);
    }
  });

  it('a subscription reports the DomainError (not an outage) to onDropped', async () => {
    const store = open(await tampered(CUT_DATA));
    const dropped = await new Promise<unknown>((resolve) => {
      store.subscribeToAll(async () => undefined, { onDropped: resolve });
    });
    expect(dropped).toBeInstanceOf(DomainError);
    expect((dropped as Error).message).toMatch(/position 2 .*its data column/);
  });

  it('a real SQLite failure is still an InfrastructureError', async () => {
    const path = await tampered('');
    const store = open(path);
    const raw = new Database(path);
    raw.exec('ALTER TABLE events RENAME TO gone;');
    raw.close();
    const error = await failure(() => drain(store.readAll()));
    expect(error).toBeInstanceOf(InfrastructureError);
    expect((error as Error).message).toMatch(/cannot read \$all in the SQLite event store at .*no such table: events/);
  });
});
