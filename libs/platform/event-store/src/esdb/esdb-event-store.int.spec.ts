import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventStoreDBClient, jsonEvent } from '@eventstore/db-client';
import { Metadata, status as GrpcStatus } from '@grpc/grpc-js';
import { AccessRefusedError, ConcurrencyError, InfrastructureError, isOutage } from '@optex/ports';
import type { EventStore, NewEvent, ReadAllOptions, RecordedEvent, Subscription } from '@optex/ports';
import { eventStoreContract, startEsdbEmulator, type EsdbEmulator } from '@optex/testing';
import { createEventStore } from '../create-event-store';
import { HashChainedEventStore, unchainedMetadata } from '../chain/hash-chain';
import { recordAnchor, verifyLog } from '../chain/verify';
import { EsdbEventStore } from './esdb-event-store';
import { toInfrastructureError } from './errors';

// The EventStoreDB adapter against the Streams emulator (libs/testing/src/esdb-emulator, a test
// double) and, when OPTEX_TEST_ESDB_URL names a real node (e.g. esdb://127.0.0.1:2113?tls=false),
// the same contract against that node.

const dir = mkdtempSync(join(tmpdir(), 'optex-esdb-store-'));
const emulators: EsdbEmulator[] = [];
afterAll(async () => {
  await Promise.all(emulators.map((e) => e.stop()));
  rmSync(dir, { recursive: true, force: true });
});

async function emulator(options: Parameters<typeof startEsdbEmulator>[0] = {}): Promise<EsdbEmulator> {
  const started = await startEsdbEmulator(options);
  emulators.push(started);
  return started;
}

eventStoreContract('EventStoreDB adapter on the emulator', async () => EsdbEventStore.connect((await emulator()).url, { readAllPageSize: 64 }));

const realNode = process.env.OPTEX_TEST_ESDB_URL;
if (realNode) eventStoreContract(`EventStoreDB adapter on ${realNode}`, async () => EsdbEventStore.connect(realNode));

const event = (type: string, data: unknown = {}): NewEvent => ({ id: randomUUID(), type, data });

async function waitFor(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

async function collect(events: AsyncIterable<RecordedEvent>): Promise<RecordedEvent[]> {
  const out: RecordedEvent[] = [];
  for await (const e of events) out.push(e);
  return out;
}

describe('EsdbEventStore (EventStoreDB specifics)', () => {
  const stores: EventStore[] = [];
  const subscriptions: Subscription[] = [];
  afterEach(async () => {
    await Promise.all(subscriptions.splice(0).map((s) => s.unsubscribe()));
    await Promise.all(stores.splice(0).map((s) => s.close()));
  });
  const open = (url: string, options?: Parameters<typeof EsdbEventStore.connect>[1]): EsdbEventStore => {
    const store = EsdbEventStore.connect(url, options);
    stores.push(store);
    return store;
  };

  describe('dropped subscriptions', () => {
    it('resubscribes after the server restarts (same port, persisted log) and loses or repeats nothing', async () => {
      const dataFile = join(dir, 'restart.jsonl');
      const first = await emulator({ dataFile });
      const store = open(first.url, { resubscribe: { initialDelayMs: 50, maxDelayMs: 200 } });
      const seen: string[] = [];
      const dropped: unknown[] = [];
      subscriptions.push(store.subscribeToAll(async (e) => void seen.push(e.type), { onDropped: (error) => dropped.push(error) }));
      await store.appendToStream('restart-a', [event('R1'), event('R2')], 'no_stream');
      await store.appendToStream('restart-b', [event('R3')], 'no_stream');
      await waitFor(() => seen.length === 3, 'the first events');

      await first.stop();
      await waitFor(() => dropped.length > 0, 'onDropped');
      expect(dropped[0]).toBeInstanceOf(InfrastructureError);

      const second = await emulator({ dataFile, port: first.port });
      const writer = open(second.url);
      await writer.appendToStream('restart-a', [event('R4')], 1n);
      await writer.appendToStream('restart-c', [event('R5'), event('R6')], 'no_stream');
      await waitFor(() => seen.length >= 6, 'the events after the restart');
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(seen).toEqual(['R1', 'R2', 'R3', 'R4', 'R5', 'R6']);
    }, 30_000);

    it('delivers events appended while the subscription was down exactly once', async () => {
      const server = await emulator();
      const store = open(server.url, { resubscribe: { initialDelayMs: 300, maxDelayMs: 300 } });
      const seen: string[] = [];
      let drops = 0;
      subscriptions.push(
        store.subscribeToAll(async (e) => void seen.push(e.type), {
          filter: { kind: 'streamName', prefixes: ['gap-'] },
          onDropped: () => void drops++,
        }),
      );
      await store.appendToStream('gap-1', [event('G1'), event('G2')], 'no_stream');
      await waitFor(() => seen.length === 2, 'the first events');
      server.dropSubscriptions();
      await waitFor(() => drops === 1, 'the drop');
      await store.appendToStream('gap-1', [event('G3')], 1n); // during the 300 ms backoff
      await store.appendToStream('gap-2', [event('G4')], 'no_stream');
      await waitFor(() => seen.length >= 4, 'the events appended meanwhile');
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(seen).toEqual(['G1', 'G2', 'G3', 'G4']);
    });

    it('unsubscribe during the backoff resolves at once and stops resubscribing', async () => {
      const server = await emulator();
      const store = open(server.url, { resubscribe: { initialDelayMs: 60_000, maxDelayMs: 60_000 } });
      let drops = 0;
      const subscription = store.subscribeToAll(async () => undefined, { onDropped: () => void drops++ });
      await store.appendToStream('backoff', [event('B1')], 'no_stream');
      await waitFor(() => server.eventCount() === 1, 'the append');
      await new Promise((resolve) => setTimeout(resolve, 100));
      server.dropSubscriptions();
      await waitFor(() => drops === 1, 'the drop');
      const started = Date.now();
      await subscription.unsubscribe();
      expect(Date.now() - started).toBeLessThan(1000);
    });
  });

  describe('readAll paging', () => {
    /** `promise`, or a rejection once `ms` have passed. */
    const within = async <T>(ms: number, promise: Promise<T>): Promise<T> => {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`not done within ${ms} ms`)), ms)));
      try {
        return await Promise.race([promise, timeout]);
      } finally {
        clearTimeout(timer);
      }
    };

    it.each([1, 2, 3])('reads with readAllPageSize %i what one page reads: forwards, backwards, from a position, with maxCount and a filter', async (pageSize) => {
      const server = await emulator();
      const whole = open(server.url);
      await whole.appendToStream('paged-a', [event('P0'), event('P1'), event('P2')], 'no_stream');
      await whole.appendToStream('other-b', [event('P3')], 'no_stream');
      await whole.appendToStream('paged-a', [event('P4'), event('P5'), event('P6')], 2n);
      const all = await collect(whole.readAll());
      expect(all.map((e) => e.type)).toEqual(['P0', 'P1', 'P2', 'P3', 'P4', 'P5', 'P6']);
      const paged = open(server.url, { readAllPageSize: pageSize });
      const reads: ReadAllOptions[] = [
        {},
        { direction: 'backwards' },
        { fromPosition: all[3]!.position },
        { fromPosition: all[3]!.position, direction: 'backwards' },
        { maxCount: 4 },
        { direction: 'backwards', maxCount: 5 },
        { filter: { kind: 'streamName', prefixes: ['paged-'] } },
      ];
      for (const options of reads) {
        const expected = (await collect(whole.readAll(options))).map((e) => e.type);
        const read = (await within(3000, collect(paged.readAll(options)))).map((e) => e.type);
        expect({ options, read }).toEqual({ options, read: expected });
      }
    });
  });

  describe('errors', () => {
    it('an unreachable server surfaces as InfrastructureError from every operation', async () => {
      const gone = await startEsdbEmulator();
      await gone.stop();
      const store = open(gone.url);
      for (const attempt of [
        () => store.appendToStream('s', [event('A')], 'any'),
        () => store.readStream('s'),
        () => collect(store.readAll()),
      ]) {
        const error = await attempt().then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(error).toBeInstanceOf(InfrastructureError);
        expect((error as Error).message).toMatch(/^EventStoreDB .* failed \(unavailable\)/);
      }
    });

    it('access denied is an AccessRefusedError from every operation: an outage no retry ends; access restored, the store works', async () => {
      const server = await emulator();
      const store = open(server.url);
      await store.appendToStream('acl', [event('A')], 'no_stream');
      server.denyAccess(true);
      for (const attempt of [
        () => store.appendToStream('acl', [event('B')], 'any'),
        () => store.readStream('acl'),
        () => collect(store.readAll()),
      ]) {
        const error = await attempt().then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(error).toBeInstanceOf(AccessRefusedError);
        expect(error).toMatchObject({ code: 'ACCESS_REFUSED', transient: false });
        expect(isOutage(error)).toBe(true);
        expect((error as Error).message).toMatch(/^EventStoreDB .* refused \(access denied\): .*Access Denied \(check the user and password of the connection string and the streams' ACLs\)$/);
      }
      server.denyAccess(false);
      await store.appendToStream('acl', [event('B')], 0n);
      expect((await store.readStream('acl')).map((e) => e.type)).toEqual(['A', 'B']);
    });

    it('a login the node refuses (gRPC UNAUTHENTICATED) is an AccessRefusedError too', () => {
      const refused = Object.assign(new Error('16 UNAUTHENTICATED: Bad credentials'), { code: GrpcStatus.UNAUTHENTICATED, details: 'Bad credentials', metadata: new Metadata() });
      const error = toInfrastructureError('append to s', refused);
      expect(error).toBeInstanceOf(AccessRefusedError);
      expect(error.message).toContain('EventStoreDB append to s refused (access denied): 16 UNAUTHENTICATED: Bad credentials');
    });

    it('a version conflict is a ConcurrencyError with the stream, the expected and the actual revision', async () => {
      const store = open((await emulator()).url);
      await store.appendToStream('conflict', [event('A'), event('B')], 'no_stream');
      const error = await store.appendToStream('conflict', [event('C')], 0n).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ConcurrencyError);
      expect(error).toMatchObject({ stream: 'conflict', expected: 0n, actual: 1n });
      expect(Object.getPrototypeOf(error)).toBe(ConcurrencyError.prototype);
    });

    it('rejects an unparsable connection string naming it, and calls after close', async () => {
      expect(() => EsdbEventStore.connect('http://nope')).toThrow(/invalid EventStoreDB connection string "http:\/\/nope"/);
      const store = EsdbEventStore.connect((await emulator()).url);
      await store.close();
      await expect(store.readStream('s')).rejects.toBeInstanceOf(InfrastructureError);
      await store.close(); // idempotent
    });
  });

  describe('mapping', () => {
    it('recordedAt is the server-side created timestamp', async () => {
      const at = Date.UTC(2026, 4, 1, 12, 0, 0, 250);
      const store = open((await emulator({ now: () => at })).url);
      await store.appendToStream('clock', [event('A')], 'no_stream');
      const [read] = await store.readStream('clock');
      expect(read.recordedAt.toISOString()).toBe(new Date(at).toISOString());
    });

    it('skips system events ($-types) in readAll and in subscriptions, and decodes binary JSON written by other tools', async () => {
      const server = await emulator();
      const raw = EventStoreDBClient.connectionString(server.url);
      try {
        await raw.appendToStream('$$sys-1', [jsonEvent({ type: '$metadata', data: { $maxCount: 10 } })]);
        await raw.appendToStream('sys-1', [
          { id: randomUUID(), contentType: 'application/octet-stream', type: 'Binary', data: Buffer.from('{"b":1}'), metadata: undefined },
        ]);
        await raw.appendToStream('sys-1', [jsonEvent({ type: '$>', data: '0@other' })]);
      } finally {
        await raw.dispose();
      }
      const store = open(server.url);
      const all = await collect(store.readAll());
      expect(all.map((e) => [e.stream, e.type, e.data])).toEqual([['sys-1', 'Binary', { b: 1 }]]);
      const seen: string[] = [];
      subscriptions.push(store.subscribeToAll(async (e) => void seen.push(e.type)));
      await store.appendToStream('sys-2', [event('After')], 'no_stream');
      await waitFor(() => seen.length === 2, 'the user events');
      expect(seen).toEqual(['Binary', 'After']);
      expect(await store.readStream('sys-1', { maxCount: 1 })).toMatchObject([{ type: 'Binary', metadata: {} }]);
    });
  });

  describe('createEventStore', () => {
    it('opens an EsdbEventStore for esdb:// urls', async () => {
      const store = await createEventStore((await emulator()).url);
      stores.push(store);
      expect(store).toBeInstanceOf(HashChainedEventStore);
      expect((store as HashChainedEventStore).inner).toBeInstanceOf(EsdbEventStore);
      expect((await store.appendToStream('factory', [event('A')], 'no_stream')).nextExpectedRevision).toBe(0n);
    });
  });

  describe('hash chain on EventStoreDB', () => {
    eventStoreContract('hash-chained EventStoreDB adapter on the emulator', async () => new HashChainedEventStore(EsdbEventStore.connect((await emulator()).url)), { appendedMetadata: unchainedMetadata });

    it('a log written through createEventStore verifies; an event appended around optex (a forged approval) is named', async () => {
      const server = await emulator();
      const store = await createEventStore(server.url);
      stores.push(store);
      await store.appendToStream('optimization-1', [event('OptimizationReceived', { id: 1 }), event('RiskAssessed', { level: 'CRITICAL' })], 'no_stream');
      await store.appendToStream('optimization-1', [event('ApprovalRequested', { authority: 'change-board' })], 1n);
      await store.appendToStream('relay-checkpoint-a', [event('CheckpointRecorded')], 'any');
      expect(await recordAnchor(store)).toMatchObject({ events: 4 });
      expect(await verifyLog(store)).toMatchObject({ ok: true, events: 5, anchors: { checked: 1, total: 1 } });

      const raw = EventStoreDBClient.connectionString(server.url);
      try {
        await raw.appendToStream('optimization-1', [jsonEvent({ type: 'ApprovalGranted', data: { by: 'mallory', final: true }, metadata: { recordedBy: 'approval', chainHash: 'f'.repeat(64) } })]);
      } finally {
        await raw.dispose();
      }
      const report = await verifyLog(store);
      expect(report.failure).toMatchObject({ problem: 'broken-link', event: { stream: 'optimization-1', revision: '3', type: 'ApprovalGranted' } });
      expect(report.failure?.message).toMatch(/optimization-1@3 \(ApprovalGranted, .*\) records previous hash null, but its predecessor's hash is [0-9a-f]{64}/);
    });
  });
});
