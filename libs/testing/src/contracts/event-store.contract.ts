import { randomUUID } from 'node:crypto';
import { ConcurrencyError, readAllWithoutData, type EventFilter, type EventStore, type GlobalPosition, type NewEvent, type RecordedEvent, type Subscription } from '@optex/ports';
import { sleep, uniqueTag, waitFor } from './wait';

/** Tuning of {@link eventStoreContract} for slower adapters. */
export interface EventStoreContractOptions {
  /** Timeout of each test. @defaultValue 30000 */
  readonly testTimeoutMs?: number;
  /** Longest a live event may take to reach a subscription. @defaultValue 10000 */
  readonly deliveryTimeoutMs?: number;
  /** How long to watch for deliveries that must not happen (after unsubscribe, after a handler failure). @defaultValue 400 */
  readonly quietPeriodMs?: number;
  /** The part of read metadata the test compares with what it appended (a decorator may add keys of its own, e.g. the hash chain). @defaultValue identity */
  readonly appendedMetadata?: (metadata: Record<string, unknown>) => Record<string, unknown>;
}

/**
 * The behaviour every {@link EventStore} adapter must have, as a jest `describe` block. Call it
 * from an adapter's spec: `eventStoreContract('sqlite :memory:', async () => SqliteEventStore.open(':memory:'))`.
 *
 * One store is created (by `factory`) for the whole block and closed after it. Tests use their own
 * stream names and event types (random prefixes) and assume nothing about absolute positions
 * or an empty log, so the block can run against a shared server that holds other events.
 */
export function eventStoreContract(name: string, factory: () => Promise<EventStore>, options: EventStoreContractOptions = {}): void {
  const testTimeout = options.testTimeoutMs ?? 30_000;
  const deliveryTimeout = options.deliveryTimeoutMs ?? 10_000;
  const quietPeriod = options.quietPeriodMs ?? 400;

  describe(`EventStore contract: ${name}`, () => {
    let store: EventStore;
    const subscriptions: Subscription[] = [];

    beforeAll(async () => {
      store = await factory();
    }, testTimeout);
    afterEach(async () => {
      await Promise.all(subscriptions.splice(0).map((s) => s.unsubscribe()));
    }, testTimeout);
    afterAll(async () => {
      await store?.close();
    }, testTimeout);

    const subscribe = (handler: (event: RecordedEvent) => Promise<void>, opts?: Parameters<EventStore['subscribeToAll']>[1]): Subscription => {
      const subscription = store.subscribeToAll(handler, opts);
      subscriptions.push(subscription);
      return subscription;
    };
    const test = (title: string, body: () => Promise<void>) => it(title, body, testTimeout);

    describe('append and read a stream', () => {
      test('appends to a new stream and reads back ids, types, data, metadata, revisions, positions and recordedAt', async () => {
        const stream = streamName('order');
        const events = [
          event('Created', { n: 1, nested: { list: [1, 'two', null, true], text: 'élan ✓ 日本' } }, { schemaVersion: 1, correlationId: 'c-1' }),
          event('Changed', [1, 2, 3]),
          event('Closed', null, { schemaVersion: 2 }),
        ];
        const before = Date.now();
        const result = await store.appendToStream(stream, events, 'no_stream');
        const after = Date.now();
        expect(result.nextExpectedRevision).toBe(2n);

        const read = await store.readStream(stream);
        expect(read.map((e) => [e.id, e.stream, e.type, e.revision])).toEqual(events.map((e, i) => [e.id, stream, e.type, BigInt(i)]));
        expect(read.map((e) => e.data)).toEqual([events[0].data, [1, 2, 3], null]);
        expect(read.map((e) => (options.appendedMetadata ?? ((m) => m))(e.metadata))).toEqual([{ schemaVersion: 1, correlationId: 'c-1' }, {}, { schemaVersion: 2 }]);
        expectIncreasing(read.map((e) => e.position));
        for (const e of read) {
          expect(e.recordedAt).toBeInstanceOf(Date);
          expect(e.recordedAt.getTime()).toBeGreaterThanOrEqual(before - 1000);
          expect(e.recordedAt.getTime()).toBeLessThanOrEqual(after + 1000);
        }
      });

      test('appends continue the revisions of the stream, and positions grow from one append to the next', async () => {
        const stream = streamName('counter');
        const first = await store.appendToStream(stream, [event('A')], 'no_stream');
        const second = await store.appendToStream(stream, [event('B'), event('C')], 0n);
        const third = await store.appendToStream(stream, [event('D')], 'any');
        expect([first.nextExpectedRevision, second.nextExpectedRevision, third.nextExpectedRevision]).toEqual([0n, 2n, 3n]);
        expectIncreasing([first.position, second.position, third.position]);
        expect((await store.readStream(stream)).map((e) => [e.type, e.revision])).toEqual([
          ['A', 0n],
          ['B', 1n],
          ['C', 2n],
          ['D', 3n],
        ]);
      });

      test("expected revision 'any' appends to a missing and to an existing stream", async () => {
        const stream = streamName('any');
        expect((await store.appendToStream(stream, [event('A')], 'any')).nextExpectedRevision).toBe(0n);
        expect((await store.appendToStream(stream, [event('B')], 'any')).nextExpectedRevision).toBe(1n);
      });

      test("expected revision 'no_stream' conflicts once the stream exists, and writes nothing", async () => {
        const stream = streamName('nostream');
        await store.appendToStream(stream, [event('A')], 'no_stream');
        await expectConflict(store.appendToStream(stream, [event('B'), event('C')], 'no_stream'), stream, 'no_stream', 0n);
        expect(await types(stream)).toEqual(['A']);
      });

      test("expected revision 'stream_exists' conflicts on a missing stream and appends to an existing one", async () => {
        const stream = streamName('exists');
        await expectConflict(store.appendToStream(stream, [event('A')], 'stream_exists'), stream, 'stream_exists', 'no_stream');
        expect(await store.readStream(stream)).toEqual([]);
        await store.appendToStream(stream, [event('A')], 'no_stream');
        expect((await store.appendToStream(stream, [event('B')], 'stream_exists')).nextExpectedRevision).toBe(1n);
      });

      test('an exact expected revision appends when it is the last revision and conflicts when lower, higher or the stream is missing', async () => {
        const stream = streamName('exact');
        await expectConflict(store.appendToStream(stream, [event('A')], 0n), stream, 0n, 'no_stream');
        await store.appendToStream(stream, [event('A'), event('B')], 'no_stream');
        await expectConflict(store.appendToStream(stream, [event('X')], 0n), stream, 0n, 1n);
        await expectConflict(store.appendToStream(stream, [event('X'), event('Y')], 2n), stream, 2n, 1n);
        expect((await store.appendToStream(stream, [event('C')], 1n)).nextExpectedRevision).toBe(2n);
        expect(await types(stream)).toEqual(['A', 'B', 'C']);
      });

      test('rejects an event whose id is not a UUID, and writes nothing of the call', async () => {
        const stream = streamName('badid');
        await expect(store.appendToStream(stream, [event('A'), { id: 'not-a-uuid', type: 'B', data: {} }], 'any')).rejects.toThrow(/id/);
        expect(await store.readStream(stream)).toEqual([]);
      });
    });

    describe('idempotent appends', () => {
      test('repeating an append with the same event ids writes nothing and returns the current revision', async () => {
        const stream = streamName('idem');
        const batch = [event('A'), event('B')];
        const first = await store.appendToStream(stream, batch, 'no_stream');
        const again = await store.appendToStream(stream, batch, 'no_stream');
        const withAny = await store.appendToStream(stream, batch, 'any');
        expect([first.nextExpectedRevision, again.nextExpectedRevision, withAny.nextExpectedRevision]).toEqual([1n, 1n, 1n]);
        expect((await store.readStream(stream)).map((e) => e.id)).toEqual(batch.map((e) => e.id));
        // `written` is never wrong where an adapter gives it: a write may say true, a repeat never does.
        expect(first.written).not.toBe(false);
        expect([again.written, withAny.written]).not.toContain(true);
      });

      test('repeating the last append succeeds even though its expected revision is now stale', async () => {
        const stream = streamName('idemstale');
        await store.appendToStream(stream, [event('A')], 'no_stream');
        const last = [event('B'), event('C')];
        await store.appendToStream(stream, last, 0n);
        const repeated = await store.appendToStream(stream, last, 0n);
        expect(repeated.nextExpectedRevision).toBe(2n);
        expect(await types(stream)).toEqual(['A', 'B', 'C']);
      });

      test('an append mixing ids already in the stream with new ones is rejected as a conflict and writes nothing', async () => {
        const stream = streamName('partial');
        const [a, b] = [event('A'), event('B')];
        await store.appendToStream(stream, [a, b], 'no_stream');
        await expect(store.appendToStream(stream, [b, event('C')], 'any')).rejects.toBeInstanceOf(ConcurrencyError);
        expect(await types(stream)).toEqual(['A', 'B']);
      });
    });

    describe('readStream', () => {
      test('a missing stream reads as [] in both directions', async () => {
        const stream = streamName('missing');
        expect(await store.readStream(stream)).toEqual([]);
        expect(await store.readStream(stream, { direction: 'backwards' })).toEqual([]);
        expect(await store.readStream(stream, { fromRevision: 3n, maxCount: 2 })).toEqual([]);
      });

      test('forwards from a revision (inclusive), with maxCount, and past the end', async () => {
        const stream = await streamOf(6);
        expect(await revisions(stream, { fromRevision: 2n })).toEqual([2n, 3n, 4n, 5n]);
        expect(await revisions(stream, { maxCount: 2 })).toEqual([0n, 1n]);
        expect(await revisions(stream, { fromRevision: 4n, maxCount: 10 })).toEqual([4n, 5n]);
        expect(await revisions(stream, { fromRevision: 6n })).toEqual([]);
      });

      test('backwards from the end, from a revision (inclusive) and with maxCount', async () => {
        const stream = await streamOf(6);
        expect(await revisions(stream, { direction: 'backwards' })).toEqual([5n, 4n, 3n, 2n, 1n, 0n]);
        expect(await revisions(stream, { direction: 'backwards', fromRevision: 3n })).toEqual([3n, 2n, 1n, 0n]);
        expect(await revisions(stream, { direction: 'backwards', maxCount: 2 })).toEqual([5n, 4n]);
        expect(await revisions(stream, { direction: 'backwards', fromRevision: 1n, maxCount: 5 })).toEqual([1n, 0n]);
      });
    });

    describe('readAll', () => {
      /** Appends a0, b0, a1, a2, c0 to three streams under one prefix; returns them in append order. */
      async function interleaved(): Promise<{ prefix: string; appended: NewEvent[]; streams: string[] }> {
        const prefix = streamName('all');
        const [a, b, c] = [`${prefix}-a`, `${prefix}-b`, `${prefix}-c`];
        const appended = [event('a0'), event('b0'), event('a1'), event('a2'), event('c0')];
        await store.appendToStream(a, [appended[0]], 'no_stream');
        await store.appendToStream(b, [appended[1]], 'no_stream');
        await store.appendToStream(a, [appended[2], appended[3]], 0n);
        await store.appendToStream(c, [appended[4]], 'no_stream');
        return { prefix, appended, streams: [a, b, c] };
      }

      test('yields the events of every stream in global order, forwards and backwards', async () => {
        const { prefix, appended } = await interleaved();
        const filter: EventFilter = { kind: 'streamName', prefixes: [prefix] };
        const forwards = await collect(store.readAll({ filter }));
        expect(forwards.map((e) => e.id)).toEqual(appended.map((e) => e.id));
        expectIncreasing(forwards.map((e) => e.position));
        const backwards = await collect(store.readAll({ filter, direction: 'backwards' }));
        expect(backwards.map((e) => e.id)).toEqual([...appended].reverse().map((e) => e.id));
        expect(backwards.map((e) => e.position)).toEqual([...forwards].reverse().map((e) => e.position));
      });

      test('positions and revisions in $all are those of the stream reads', async () => {
        const { prefix, streams } = await interleaved();
        const all = await collect(store.readAll({ filter: { kind: 'streamName', prefixes: [prefix] } }));
        const byStream = (await Promise.all(streams.map((s) => store.readStream(s)))).flat();
        const key = (e: RecordedEvent) => `${e.id}@${e.stream}#${e.revision}:${e.position.commit}/${e.position.prepare}`;
        expect(all.map(key).sort()).toEqual(byStream.map(key).sort());
      });

      test('fromPosition is inclusive in both directions, and maxCount limits', async () => {
        const { prefix, appended } = await interleaved();
        const filter: EventFilter = { kind: 'streamName', prefixes: [prefix] };
        const all = await collect(store.readAll({ filter }));
        const ids = appended.map((e) => e.id);
        expect((await collect(store.readAll({ filter, fromPosition: all[2].position }))).map((e) => e.id)).toEqual(ids.slice(2));
        expect((await collect(store.readAll({ filter, fromPosition: all[2].position, direction: 'backwards' }))).map((e) => e.id)).toEqual(ids.slice(0, 3).reverse());
        expect((await collect(store.readAll({ filter, maxCount: 2 }))).map((e) => e.id)).toEqual(ids.slice(0, 2));
        expect((await collect(store.readAll({ filter, maxCount: 2, direction: 'backwards' }))).map((e) => e.id)).toEqual(ids.slice(3).reverse());
        expect((await collect(store.readAll({ filter, fromPosition: all[1].position, maxCount: 2 }))).map((e) => e.id)).toEqual(ids.slice(1, 3));
      });

      test('readAllWithoutData (the store\'s, else readAll) reads what readAll reads, every field but the data', async () => {
        const { prefix } = await interleaved();
        const filter: EventFilter = { kind: 'streamName', prefixes: [prefix] };
        const all = await collect(store.readAll({ filter }));
        for (const options of [{ filter }, { filter, direction: 'backwards' as const }, { filter, fromPosition: all[1].position, maxCount: 3 }]) {
          const withData = await collect(store.readAll(options));
          const without = await collect(readAllWithoutData(store, options));
          expect(without.map((e) => ({ ...e, data: undefined }))).toEqual(withData.map((e) => ({ ...e, data: undefined })));
        }
      });

      test('filters by stream-name prefixes (any of several)', async () => {
        const { prefix, appended } = await interleaved();
        const read = await collect(store.readAll({ filter: { kind: 'streamName', prefixes: [`${prefix}-a`, `${prefix}-c`] } }));
        expect(read.map((e) => e.type)).toEqual(['a0', 'a1', 'a2', 'c0']);
        expect(read.map((e) => e.id)).toEqual([appended[0], appended[2], appended[3], appended[4]].map((e) => e.id));
      });

      test('filters by event-type prefixes (any of several)', async () => {
        const typePrefix = `T${uniqueTag()}.`;
        const stream = streamName('types');
        await store.appendToStream(
          stream,
          ['Alpha', 'Beta', 'AlphaTwo', 'Gamma', 'Beta'].map((t) => event(`${typePrefix}${t}`)),
          'no_stream',
        );
        const read = await collect(store.readAll({ filter: { kind: 'eventType', prefixes: [`${typePrefix}Al`, `${typePrefix}Gam`] } }));
        expect(read.map((e) => e.type.slice(typePrefix.length))).toEqual(['Alpha', 'AlphaTwo', 'Gamma']);
        expect(read.map((e) => e.revision)).toEqual([0n, 2n, 3n]);
      });

      test('without a filter it yields every stream, ours among them in order', async () => {
        const { appended, streams } = await interleaved();
        const ours = new Set(appended.map((e) => e.id));
        const [first] = await store.readStream(streams[0], { maxCount: 1 });
        const fromOurs = await collect(store.readAll({ fromPosition: first.position, maxCount: 1000 }));
        expect(fromOurs[0].id).toBe(first.id);
        expect(fromOurs.filter((e) => ours.has(e.id)).map((e) => e.id)).toEqual(appended.map((e) => e.id));
        expectIncreasing(fromOurs.map((e) => e.position));
      });

      test('reads more events than fit in one page, in order, and stops at maxCount', async () => {
        const stream = streamName('paged');
        const ids: string[] = [];
        for (let batch = 0; batch < 12; batch++) {
          const events = Array.from({ length: 100 }, (_, i) => event('Paged', { batch, i }));
          ids.push(...events.map((e) => e.id));
          await store.appendToStream(stream, events, batch === 0 ? 'no_stream' : BigInt(batch * 100 - 1));
        }
        const filter: EventFilter = { kind: 'streamName', prefixes: [stream] };
        expect((await collect(store.readAll({ filter }))).map((e) => e.id)).toEqual(ids);
        expect((await collect(store.readAll({ filter, direction: 'backwards' }))).map((e) => e.id)).toEqual([...ids].reverse());
        expect((await collect(store.readAll({ filter, maxCount: 777 }))).map((e) => e.id)).toEqual(ids.slice(0, 777));
      });
    });

    describe('subscribeToAll', () => {
      test('catches up on stored events, then delivers live ones, in global order', async () => {
        const prefix = streamName('sub');
        const before = [event('S1'), event('S2'), event('S3')];
        await store.appendToStream(`${prefix}-1`, before.slice(0, 2), 'no_stream');
        await store.appendToStream(`${prefix}-2`, before.slice(2), 'no_stream');
        const seen: RecordedEvent[] = [];
        subscribe(async (e) => void seen.push(e), { filter: { kind: 'streamName', prefixes: [prefix] } });
        await waitFor(() => seen.length >= 3, deliveryTimeout, 'the stored events');
        const live = [event('S4'), event('S5'), event('S6')];
        await store.appendToStream(`${prefix}-1`, live.slice(0, 2), 1n);
        await store.appendToStream(streamName('other'), [event('S-other')], 'no_stream');
        await store.appendToStream(`${prefix}-3`, live.slice(2), 'no_stream');
        await waitFor(() => seen.length >= 6, deliveryTimeout, 'the live events');
        await sleep(quietPeriod);
        expect(seen.map((e) => e.id)).toEqual([...before, ...live].map((e) => e.id));
        expectIncreasing(seen.map((e) => e.position));
        expect(seen.map((e) => [e.stream, e.revision])).toEqual([
          [`${prefix}-1`, 0n],
          [`${prefix}-1`, 1n],
          [`${prefix}-2`, 0n],
          [`${prefix}-1`, 2n],
          [`${prefix}-1`, 3n],
          [`${prefix}-3`, 0n],
        ]);
      });

      test('from a checkpoint delivers only events strictly after that position', async () => {
        const prefix = streamName('ckpt');
        const events = [event('C1'), event('C2'), event('C3'), event('C4')];
        for (const [i, e] of events.entries()) await store.appendToStream(`${prefix}-${i}`, [e], 'no_stream');
        const stored = await store.readStream(`${prefix}-1`);
        const seen: RecordedEvent[] = [];
        subscribe(async (e) => void seen.push(e), { fromPosition: stored[0].position, filter: { kind: 'streamName', prefixes: [prefix] } });
        await waitFor(() => seen.length >= 2, deliveryTimeout, 'the events after the checkpoint');
        const live = event('C5');
        await store.appendToStream(`${prefix}-0`, [live], 0n);
        await waitFor(() => seen.length >= 3, deliveryTimeout, 'the live event');
        await sleep(quietPeriod);
        expect(seen.map((e) => e.id)).toEqual([events[2].id, events[3].id, live.id]);
      });

      test('filters by event-type prefix', async () => {
        const typePrefix = `T${uniqueTag()}.`;
        const stream = streamName('subtype');
        const seen: RecordedEvent[] = [];
        subscribe(async (e) => void seen.push(e), { filter: { kind: 'eventType', prefixes: [`${typePrefix}Keep`] } });
        await store.appendToStream(stream, [event(`${typePrefix}Keep1`), event(`${typePrefix}Drop`), event(`${typePrefix}Keep2`)], 'no_stream');
        await waitFor(() => seen.length >= 2, deliveryTimeout, 'the matching events');
        await sleep(quietPeriod);
        expect(seen.map((e) => e.type)).toEqual([`${typePrefix}Keep1`, `${typePrefix}Keep2`]);
      });

      test('awaits the handler: one event at a time, in order', async () => {
        const prefix = streamName('serial');
        const events = Array.from({ length: 6 }, (_, i) => event(`E${i}`));
        let running = 0;
        let maxRunning = 0;
        const seen: string[] = [];
        subscribe(
          async (e) => {
            running++;
            maxRunning = Math.max(maxRunning, running);
            await sleep(15);
            seen.push(e.id);
            running--;
          },
          { filter: { kind: 'streamName', prefixes: [prefix] } },
        );
        await store.appendToStream(`${prefix}-x`, events.slice(0, 3), 'no_stream');
        await store.appendToStream(`${prefix}-y`, events.slice(3), 'no_stream');
        await waitFor(() => seen.length >= 6, deliveryTimeout, 'every event');
        expect(seen).toEqual(events.map((e) => e.id));
        expect(maxRunning).toBe(1);
      });

      test('unsubscribe resolves once the handler has finished and is not called again', async () => {
        const prefix = streamName('unsub');
        let running = false;
        const seen: string[] = [];
        const subscription = subscribe(
          async (e) => {
            running = true;
            await sleep(100);
            seen.push(e.id);
            running = false;
          },
          { filter: { kind: 'streamName', prefixes: [prefix] } },
        );
        const first = event('U1');
        await store.appendToStream(`${prefix}-1`, [first, event('U2')], 'no_stream');
        await waitFor(() => running, deliveryTimeout, 'the handler to start');
        await subscription.unsubscribe();
        expect(running).toBe(false);
        expect(seen).toEqual([first.id]);
        await store.appendToStream(`${prefix}-1`, [event('U3')], 'any');
        await sleep(quietPeriod);
        expect(seen).toEqual([first.id]);
      });

      test('unsubscribe called from inside the handler (during catch-up) stops delivery at once and settles after the handler returns', async () => {
        const prefix = streamName('selfunsub');
        await store.appendToStream(`${prefix}-1`, [event('A'), event('B'), event('C')], 'no_stream');
        const seen: string[] = [];
        let unsubscribed = false;
        let settledBeforeReturn: boolean | undefined;
        const subscription: Subscription = subscribe(
          async (e) => {
            seen.push(e.type);
            if (seen.length === 2) {
              void subscription.unsubscribe().then(() => (unsubscribed = true));
              await sleep(10);
              settledBeforeReturn = unsubscribed;
            }
          },
          { filter: { kind: 'streamName', prefixes: [prefix] } },
        );
        await waitFor(() => unsubscribed, deliveryTimeout, 'unsubscribe() called inside the handler to settle');
        expect(settledBeforeReturn).toBe(false);
        await store.appendToStream(`${prefix}-1`, [event('D')], 'any');
        await sleep(quietPeriod);
        expect(seen).toEqual(['A', 'B']);
      });

      test('a handler that throws ends the subscription and its error reaches onDropped', async () => {
        const prefix = streamName('throws');
        const seen: string[] = [];
        const dropped: unknown[] = [];
        subscribe(
          async (e) => {
            seen.push(e.type);
            if (e.type === 'Bad') throw new Error('handler failed on Bad');
          },
          { filter: { kind: 'streamName', prefixes: [prefix] }, onDropped: (error) => dropped.push(error) },
        );
        await store.appendToStream(`${prefix}-1`, [event('Good'), event('Bad'), event('After')], 'no_stream');
        await waitFor(() => dropped.length > 0, deliveryTimeout, 'onDropped');
        await sleep(quietPeriod);
        expect(seen).toEqual(['Good', 'Bad']);
        expect(dropped).toHaveLength(1);
        expect(String((dropped[0] as Error).message)).toContain('handler failed on Bad');
      });
    });

    describe('concurrency', () => {
      test('of concurrent appenders with the same expected revision exactly one wins', async () => {
        const stream = streamName('race');
        await store.appendToStream(stream, [event('Start')], 'no_stream');
        const results = await Promise.allSettled(Array.from({ length: 8 }, (_, i) => store.appendToStream(stream, [event(`Racer${i}`), event(`Racer${i}b`)], 0n)));
        const won = results.filter((r) => r.status === 'fulfilled');
        const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
        expect(won).toHaveLength(1);
        expect(lost).toHaveLength(7);
        for (const r of lost) expect(r.reason).toBeInstanceOf(ConcurrencyError);
        const read = await store.readStream(stream);
        expect(read).toHaveLength(3);
        expect(read[2].type).toBe(`${read[1].type}b`);
      });

      test("of concurrent 'no_stream' appenders to a new stream exactly one wins", async () => {
        const stream = streamName('race-new');
        const results = await Promise.allSettled(Array.from({ length: 5 }, (_, i) => store.appendToStream(stream, [event(`First${i}`)], 'no_stream')));
        expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
        for (const r of results) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(ConcurrencyError);
        expect(await store.readStream(stream)).toHaveLength(1);
      });
    });

    describe('payloads', () => {
      test('a large event (about 512 KiB) and a batch of 200 events round-trip', async () => {
        const stream = streamName('big');
        const big = event('Big', { blob: 'x'.repeat(512 * 1024), unicode: '✓'.repeat(1000), numbers: Array.from({ length: 1000 }, (_, i) => i * 1.5) });
        await store.appendToStream(stream, [big], 'no_stream');
        const batch = Array.from({ length: 200 }, (_, i) => event('Item', { i, text: `item-${i}-`.padEnd(2048, '.') }));
        expect((await store.appendToStream(stream, batch, 0n)).nextExpectedRevision).toBe(200n);
        const read = await store.readStream(stream);
        expect(read).toHaveLength(201);
        expect(read[0].data).toEqual(big.data);
        expect(read.slice(1).map((e) => e.data)).toEqual(batch.map((e) => e.data));
      });
    });

    // --- helpers -------------------------------------------------------------------------------

    const tag = uniqueTag();
    let counter = 0;
    function streamName(kind: string): string {
      return `contract_${tag}_${kind}_${++counter}`;
    }

    async function types(stream: string): Promise<string[]> {
      return (await store.readStream(stream)).map((e) => e.type);
    }

    async function revisions(stream: string, opts: Parameters<EventStore['readStream']>[1]): Promise<bigint[]> {
      return (await store.readStream(stream, opts)).map((e) => e.revision);
    }

    async function streamOf(count: number): Promise<string> {
      const stream = streamName('numbered');
      await store.appendToStream(
        stream,
        Array.from({ length: count }, (_, i) => event(`N${i}`)),
        'no_stream',
      );
      return stream;
    }
  });
}

function event(type: string, data: unknown = {}, metadata?: Record<string, unknown>): NewEvent {
  return metadata ? { id: randomUUID(), type, data, metadata } : { id: randomUUID(), type, data };
}

async function collect<E>(events: AsyncIterable<E>): Promise<E[]> {
  const out: E[] = [];
  for await (const e of events) out.push(e);
  return out;
}

function compare(a: GlobalPosition, b: GlobalPosition): number {
  if (a.commit !== b.commit) return a.commit < b.commit ? -1 : 1;
  return a.prepare === b.prepare ? 0 : a.prepare < b.prepare ? -1 : 1;
}

function expectIncreasing(positions: readonly GlobalPosition[]): void {
  for (let i = 1; i < positions.length; i++) {
    if (compare(positions[i - 1], positions[i]) >= 0) {
      throw new Error(`positions not strictly increasing at ${i}: ${positions.map((p) => `${p.commit}/${p.prepare}`).join(', ')}`);
    }
  }
}

async function expectConflict(append: Promise<unknown>, stream: string, expected: unknown, actual: bigint | 'no_stream'): Promise<void> {
  const error = await append.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ConcurrencyError);
  expect(error).toMatchObject({ stream, expected, actual });
}

