import { randomUUID } from 'node:crypto';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  BACKWARDS,
  END,
  EventStoreDBClient,
  FORWARDS,
  START,
  StreamNotFoundError,
  WrongExpectedVersionError,
  eventTypeFilter,
  jsonEvent,
  streamNameFilter,
} from '@eventstore/db-client';
import type { AllStreamResolvedEvent, Position, ResolvedEvent } from '@eventstore/db-client';
import { startEsdbEmulator } from './server';
import type { EsdbEmulator } from './server';

// The emulator exercised through the real @eventstore/db-client, where the adapter contract does not reach.

const NOW = Date.UTC(2026, 0, 15, 10, 30, 0, 123);
const dir = mkdtempSync(join(tmpdir(), 'optex-esdb-emulator-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let emulator: EsdbEmulator;
let client: EventStoreDBClient;
beforeEach(async () => {
  emulator = await startEsdbEmulator({ now: () => NOW });
  client = EventStoreDBClient.connectionString(emulator.url);
});
afterEach(async () => {
  await client.dispose();
  await emulator.stop();
});

const event = (type: string, data: Record<string, unknown> = {}, metadata?: Record<string, unknown>) =>
  jsonEvent({ id: randomUUID(), type, data, metadata });

async function readStream(stream: string, options: Parameters<EventStoreDBClient['readStream']>[1] = {}): Promise<ResolvedEvent[]> {
  const out: ResolvedEvent[] = [];
  for await (const resolved of client.readStream(stream, options) as AsyncIterable<ResolvedEvent>) out.push(resolved);
  return out;
}

async function readAll(options: Parameters<EventStoreDBClient['readAll']>[0] = {}): Promise<AllStreamResolvedEvent[]> {
  const out: AllStreamResolvedEvent[] = [];
  for await (const resolved of client.readAll(options) as AsyncIterable<AllStreamResolvedEvent>) out.push(resolved);
  return out;
}

const types = (events: readonly (ResolvedEvent | AllStreamResolvedEvent)[]) => events.map((e) => e.event?.type);

async function waitUntil(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('esdb emulator: appends', () => {
  it('records ids, types, JSON data, custom metadata, revisions, positions and created', async () => {
    const first = event('Opened', { amount: 5 }, { schemaVersion: 1 });
    const result = await client.appendToStream('acct-1', [first, event('Closed')], { expectedRevision: 'no_stream' });
    expect(result.nextExpectedRevision).toBe(1n);
    const read = await readStream('acct-1');
    expect(read.map((e) => [e.event?.id, e.event?.streamId, e.event?.revision, e.event?.isJson])).toEqual([
      [first.id, 'acct-1', 0n, true],
      [expect.any(String), 'acct-1', 1n, true],
    ]);
    expect(read[0].event?.data).toEqual({ amount: 5 });
    expect(read[0].event?.metadata).toEqual({ schemaVersion: 1 });
    expect(read[1].event?.metadata).toBeUndefined();
    expect(read[0].event?.created.getTime()).toBe(NOW);
    expect(read[1].event?.position?.commit).toBe(result.position?.commit);
    expect(read[0].event!.position!.commit).toBeLessThan(read[1].event!.position!.commit);
  });

  it('reports WrongExpectedVersion with the current and the expected revision', async () => {
    await client.appendToStream('s', [event('A')], { expectedRevision: 'no_stream' });
    const cases: [Parameters<EventStoreDBClient['appendToStream']>[2], string, unknown, unknown][] = [
      [{ expectedRevision: 'no_stream' }, 's', 'no_stream', 0n],
      [{ expectedRevision: 5n }, 's', 5n, 0n],
      [{ expectedRevision: 'stream_exists' }, 'missing', 'stream_exists', 'no_stream'],
      [{ expectedRevision: 0n }, 'missing', 0n, 'no_stream'],
    ];
    for (const [options, stream, expected, actual] of cases) {
      const error = await client.appendToStream(stream, [event('B')], options).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(WrongExpectedVersionError);
      expect(error).toMatchObject({ streamName: stream, expectedVersion: expected, actualVersion: actual });
    }
    expect(emulator.eventCount()).toBe(1);
  });

  it('a repeated append (all ids known) succeeds with the current revision and writes nothing', async () => {
    const batch = [event('A'), event('B')];
    await client.appendToStream('idem', batch, { expectedRevision: 'no_stream' });
    await client.appendToStream('idem', [event('C')], { expectedRevision: 1n });
    const again = await client.appendToStream('idem', batch, { expectedRevision: 'no_stream' });
    expect(again.nextExpectedRevision).toBe(2n);
    expect(emulator.eventCount()).toBe(3);
  });

  it('an append mixing known and new ids is rejected as a wrong expected version', async () => {
    const [a, b] = [event('A'), event('B')];
    await client.appendToStream('mixed', [a, b], { expectedRevision: 'no_stream' });
    await expect(client.appendToStream('mixed', [b, event('C')], { expectedRevision: 'any' })).rejects.toBeInstanceOf(
      WrongExpectedVersionError,
    );
    expect(emulator.eventCount()).toBe(2);
  });

  it('rejects an event id that is not a UUID with INVALID_ARGUMENT', async () => {
    const bad = { ...event('A'), id: 'nope' };
    await expect(client.appendToStream('bad', [bad], { expectedRevision: 'any' })).rejects.toMatchObject({
      code: 3,
      message: expect.stringContaining('not a UUID'),
    });
    expect(emulator.eventCount()).toBe(0);
  });
});

describe('esdb emulator: reads', () => {
  it('answers a missing stream with stream_not_found', async () => {
    await expect(readStream('nowhere')).rejects.toBeInstanceOf(StreamNotFoundError);
    await expect(readStream('nowhere', { direction: BACKWARDS, fromRevision: END })).rejects.toBeInstanceOf(StreamNotFoundError);
  });

  it('reads a stream forwards and backwards from a revision, with a count', async () => {
    await client.appendToStream('n', ['N0', 'N1', 'N2', 'N3', 'N4'].map((t) => event(t)), { expectedRevision: 'no_stream' });
    expect(types(await readStream('n', { fromRevision: 3n }))).toEqual(['N3', 'N4']);
    expect(types(await readStream('n', { fromRevision: START, maxCount: 2 }))).toEqual(['N0', 'N1']);
    expect(types(await readStream('n', { fromRevision: END }))).toEqual([]);
    expect(types(await readStream('n', { direction: BACKWARDS, fromRevision: END, maxCount: 2 }))).toEqual(['N4', 'N3']);
    expect(types(await readStream('n', { direction: BACKWARDS, fromRevision: 1n }))).toEqual(['N1', 'N0']);
    expect(types(await readStream('n', { direction: BACKWARDS, fromRevision: 99n, maxCount: 1 }))).toEqual(['N4']);
  });

  it('reads $all forwards (from a position, inclusive) and backwards (from a position, exclusive, as EventStoreDB)', async () => {
    await client.appendToStream('x', [event('X0'), event('X1')], { expectedRevision: 'no_stream' });
    await client.appendToStream('y', [event('Y0')], { expectedRevision: 'no_stream' });
    await client.appendToStream('x', [event('X2')], { expectedRevision: 1n });
    const all = await readAll();
    expect(types(all)).toEqual(['X0', 'X1', 'Y0', 'X2']);
    const second = all[1].event!.position;
    expect(types(await readAll({ fromPosition: second }))).toEqual(['X1', 'Y0', 'X2']);
    expect(types(await readAll({ fromPosition: second, maxCount: 2 }))).toEqual(['X1', 'Y0']);
    expect(types(await readAll({ direction: BACKWARDS, fromPosition: END }))).toEqual(['X2', 'Y0', 'X1', 'X0']);
    expect(types(await readAll({ direction: BACKWARDS, fromPosition: all[2].event!.position }))).toEqual(['X1', 'X0']);
    expect(types(await readAll({ direction: BACKWARDS, fromPosition: END, maxCount: 1 }))).toEqual(['X2']);
    expect(types(await readAll({ direction: FORWARDS, fromPosition: END }))).toEqual([]);
    expect(all.map((e) => e.commitPosition)).toEqual(all.map((e) => e.event!.position.commit));
  });
});

describe('esdb emulator: subscriptions', () => {
  it('catches up on $all, then delivers live events, strictly after a given position', async () => {
    await client.appendToStream('a', [event('A0'), event('A1'), event('A2')], { expectedRevision: 'no_stream' });
    const [first] = await readAll({ maxCount: 1 });
    const seen: string[] = [];
    let caughtUp = false;
    const subscription = client.subscribeToAll({ fromPosition: first.event!.position });
    subscription.on('data', (e: AllStreamResolvedEvent) => seen.push(e.event!.type));
    subscription.on('caughtUp', () => (caughtUp = true));
    await waitUntil(() => caughtUp && seen.length === 2, 'catch-up');
    await client.appendToStream('b', [event('B0')], { expectedRevision: 'no_stream' });
    await waitUntil(() => seen.length === 3, 'the live event');
    expect(seen).toEqual(['A1', 'A2', 'B0']);
    await subscription.unsubscribe();
  });

  it('filters by event-type prefix, stream-name prefix and regex, and reports checkpoints', async () => {
    await client.appendToStream('order-1', [event('OrderPlaced'), event('OrderShipped')], { expectedRevision: 'no_stream' });
    await client.appendToStream('invoice-1', [event('InvoiceSent')], { expectedRevision: 'no_stream' });
    await client.appendToStream('order-2', [event('OrderPlaced')], { expectedRevision: 'no_stream' });
    const collect = async (filter: Parameters<EventStoreDBClient['subscribeToAll']>[0], count: number) => {
      const seen: string[] = [];
      const subscription = client.subscribeToAll(filter);
      subscription.on('data', (e: AllStreamResolvedEvent) => seen.push(`${e.event!.streamId}/${e.event!.type}`));
      await waitUntil(() => seen.length >= count, `${count} events`);
      await new Promise((resolve) => setTimeout(resolve, 50));
      await subscription.unsubscribe();
      return seen;
    };
    expect(await collect({ filter: eventTypeFilter({ prefixes: ['OrderPl'] }) }, 2)).toEqual(['order-1/OrderPlaced', 'order-2/OrderPlaced']);
    expect(await collect({ filter: streamNameFilter({ prefixes: ['invoice-', 'order-2'] }) }, 2)).toEqual([
      'invoice-1/InvoiceSent',
      'order-2/OrderPlaced',
    ]);
    expect(await collect({ filter: eventTypeFilter({ regex: '^Order(Shipped|Cancelled)$' }) }, 1)).toEqual(['order-1/OrderShipped']);

    const checkpoints: Position[] = [];
    const subscription = client.subscribeToAll({
      filter: eventTypeFilter({
        prefixes: ['Nothing'],
        maxSearchWindow: 2,
        checkpointInterval: 1,
        checkpointReached: (_s, position) => void checkpoints.push(position),
      }),
    });
    subscription.on('data', () => undefined);
    await waitUntil(() => checkpoints.length >= 2, 'two checkpoints');
    await subscription.unsubscribe();
    expect(checkpoints[0].commit).toBeLessThan(checkpoints[1].commit);
  });

  it('subscribes to one stream, strictly after a revision', async () => {
    await client.appendToStream('one', [event('O0'), event('O1')], { expectedRevision: 'no_stream' });
    await client.appendToStream('other', [event('X')], { expectedRevision: 'no_stream' });
    const seen: string[] = [];
    const subscription = client.subscribeToStream('one', { fromRevision: 0n });
    subscription.on('data', (e: ResolvedEvent) => seen.push(e.event!.type));
    await client.appendToStream('one', [event('O2')], { expectedRevision: 1n });
    await waitUntil(() => seen.length === 2, 'stream events');
    expect(seen).toEqual(['O1', 'O2']);
    await subscription.unsubscribe();
  });

  it('dropSubscriptions ends open subscriptions with UNAVAILABLE and keeps serving', async () => {
    const subscription = client.subscribeToAll();
    const errors: unknown[] = [];
    subscription.on('error', (error) => errors.push(error));
    subscription.on('data', () => undefined);
    await new Promise<void>((resolve) => subscription.once('confirmation', () => resolve()));
    emulator.dropSubscriptions();
    await waitUntil(() => errors.length === 1, 'the subscription error');
    expect(errors[0]).toMatchObject({ code: 14 });
    await expect(client.appendToStream('after', [event('A')], { expectedRevision: 'any' })).resolves.toMatchObject({
      nextExpectedRevision: 0n,
    });
  });
});

describe('esdb emulator: persistence', () => {
  it('keeps the log in a JSON-lines file across a restart on the same port', async () => {
    const dataFile = join(dir, 'restart.jsonl');
    const first = await startEsdbEmulator({ dataFile });
    const c1 = EventStoreDBClient.connectionString(first.url);
    await c1.appendToStream('p', [event('P0'), event('P1')], { expectedRevision: 'no_stream' });
    await c1.dispose();
    await first.stop();
    expect(readFileSync(dataFile, 'utf8').trim().split('\n')).toHaveLength(1); // one line per append

    const second = await startEsdbEmulator({ dataFile, port: first.port });
    const c2 = EventStoreDBClient.connectionString(second.url);
    try {
      const read: ResolvedEvent[] = [];
      for await (const e of c2.readStream('p') as AsyncIterable<ResolvedEvent>) read.push(e);
      expect(types(read)).toEqual(['P0', 'P1']);
      const next = await c2.appendToStream('p', [event('P2')], { expectedRevision: 1n });
      expect(next.nextExpectedRevision).toBe(2n);
      expect(next.position!.commit).toBeGreaterThan(read[1].event!.position!.commit);
    } finally {
      await c2.dispose();
      await second.stop();
    }
  });

  it('cuts off a torn last line (a crash mid-write) and loses only that append', async () => {
    const dataFile = join(dir, 'torn.jsonl');
    const first = await startEsdbEmulator({ dataFile });
    const c1 = EventStoreDBClient.connectionString(first.url);
    await c1.appendToStream('t', [event('T0')], { expectedRevision: 'no_stream' });
    await c1.dispose();
    await first.stop();
    appendFileSync(dataFile, '{"v":1,"events":[{"stream":"t","revis');

    const second = await startEsdbEmulator({ dataFile });
    expect(second.eventCount()).toBe(1);
    expect(readFileSync(dataFile, 'utf8').endsWith('\n')).toBe(true);
    await second.stop();
  });

  it('refuses a corrupt line in the middle, naming the file and the line', async () => {
    const dataFile = join(dir, 'corrupt.jsonl');
    writeFileSync(dataFile, 'garbage\n{"v":1,"events":[]}\n');
    await expect(startEsdbEmulator({ dataFile })).rejects.toThrow(`${dataFile} line 1 is not valid JSON`);
  });
});
