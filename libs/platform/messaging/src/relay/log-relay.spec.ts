import { randomUUID } from 'node:crypto';
import { InfrastructureError, TOPICS, type Bus, type BusMessage, type Delivery, type RecordedEvent, type SubscribeOptions } from '@optex/ports';
import { SqliteEventStore } from '@optex/event-store';
import { InMemoryBus } from '../memory';
import { LogRelay } from './log-relay';
import { decodeLifecycleEvent } from './lifecycle-codec';

const AT = '2026-03-01T10:00:00.000Z';
/** Valid data of the few event types these specs record (the relay parses every event before publishing it). */
const dataOf = (type: string, stream: string): unknown => {
  const base = { optimizationId: stream.replace('optimization-', ''), at: AT };
  if (type === 'RiskAssessed') return { ...base, baseLevel: 'LOW', level: 'LOW', factors: [], policyVersion: 'v1' };
  if (type === 'OptimizationCancelled') return { ...base, by: 'alice', reason: 'not needed' };
  return { n: type };
};
const append = (store: SqliteEventStore, stream: string, type: string, resourceKey = '111122223333/us-east-1/vol-1', schemaVersion = 1) =>
  store.appendToStream(stream, [{ id: randomUUID(), type, data: dataOf(type, stream), metadata: { resourceKey, schemaVersion } }], 'any');

async function collect(bus: InMemoryBus, group: string): Promise<Delivery[]> {
  const seen: Delivery[] = [];
  const consumer = await bus.subscribe({ groupId: group, topics: [TOPICS.internalEvents] }, async (d) => {
    seen.push(d);
    return { kind: 'ack' };
  });
  await bus.idle();
  await consumer.stop();
  return seen;
}

async function settle(relay: LogRelay): Promise<void> {
  for (let i = 0; i < 200 && !(await relay.caughtUp()); i++) await new Promise((r) => setTimeout(r, 10));
}

describe('LogRelay (the log is the outbox)', () => {
  it('publishes every recorded lifecycle event once, as a keyed CloudEvent, and nothing else', async () => {
    const store = SqliteEventStore.open(':memory:');
    const bus = new InMemoryBus();
    await append(store, 'optimization-a', 'OptimizationCancelled');
    await append(store, 'optimization-a', 'RiskAssessed');
    await append(store, 'unrelated-stream', 'SomethingElse');
    const relay = new LogRelay(store, bus);
    await relay.start();
    await settle(relay);
    await relay.stop();
    const seen = await collect(bus, 'g1');
    expect(seen.map((d) => decodeLifecycleEvent(d).type)).toEqual(['OptimizationCancelled', 'RiskAssessed']);
    expect(seen.every((d) => d.key === '111122223333/us-east-1/vol-1' && d.headers['ce_specversion'] === '1.0')).toBe(true);
    expect(decodeLifecycleEvent(seen[1]!)).toMatchObject({ stream: 'optimization-a', revision: 1n, data: { level: 'LOW', policyVersion: 'v1' } });
    await bus.close();
    await store.close();
  });

  it('after a clean stop, a new relay publishes only what was recorded since the checkpoint', async () => {
    const store = SqliteEventStore.open(':memory:');
    const bus = new InMemoryBus();
    await append(store, 'optimization-b', 'OptimizationCancelled');
    const first = new LogRelay(store, bus);
    await first.start();
    await settle(first);
    await first.stop();
    await append(store, 'optimization-b', 'RiskAssessed');
    const second = new LogRelay(store, bus);
    await second.start();
    await settle(second);
    await second.stop();
    expect((await collect(bus, 'g2')).map((d) => decodeLifecycleEvent(d).type)).toEqual(['OptimizationCancelled', 'RiskAssessed']);
    await bus.close();
    await store.close();
  });

  it('a relay that dies before its checkpoint loses nothing: the next one republishes from the last checkpoint (at least once)', async () => {
    const store = SqliteEventStore.open(':memory:');
    const bus = new InMemoryBus();
    await append(store, 'optimization-c', 'OptimizationCancelled');
    const dying = new LogRelay(store, bus, { checkpointEvery: 1000 });
    await dying.start();
    await settle(dying);
    // no stop(): the process died; nothing was checkpointed
    await append(store, 'optimization-c', 'RiskAssessed');
    const bus2 = new InMemoryBus();
    const successor = new LogRelay(store, bus2);
    await successor.start();
    await settle(successor);
    await successor.stop();
    expect((await collect(bus2, 'g3')).map((d) => decodeLifecycleEvent(d).type)).toEqual(['OptimizationCancelled', 'RiskAssessed']);
    await bus.close();
    await bus2.close();
    await store.close();
  });

  it('does not publish an event it cannot read (unknown type or newer schema): it waits there, reports it, and publishes nothing after it', async () => {
    const store = SqliteEventStore.open(':memory:');
    const bus = new InMemoryBus();
    await append(store, 'optimization-d', 'RiskAssessed');
    await append(store, 'optimization-d', 'OptimizationTeleported');
    await append(store, 'optimization-d', 'OptimizationCancelled');
    const relay = new LogRelay(store, bus);
    await relay.start();
    for (let i = 0; i < 200 && !relay.lastError; i++) await new Promise((r) => setTimeout(r, 10));
    expect(String(relay.lastError)).toMatch(/unknown event type "OptimizationTeleported" \(optimization-d@1\)/);
    expect(await relay.caughtUp()).toBe(false);
    await relay.stop();
    expect((await collect(bus, 'g4')).map((d) => decodeLifecycleEvent(d).type)).toEqual(['RiskAssessed']);
    await bus.close();
    await store.close();
  });

  it('publishes an older event upcast to its current schema version', async () => {
    const store = SqliteEventStore.open(':memory:');
    const bus = new InMemoryBus();
    const step = { kind: 'modify-volume', volumeId: 'vol-1', volumeType: 'gp3' };
    await store.appendToStream('optimization-e', [{ id: randomUUID(), type: 'ExecutionStepCompleted', data: { optimizationId: 'e', at: AT, index: 0, step, outputs: {}, dryRun: false }, metadata: { resourceKey: 'k', schemaVersion: 1 } }], 'any');
    const relay = new LogRelay(store, bus);
    await relay.start();
    await settle(relay);
    await relay.stop();
    const [published] = await collect(bus, 'g5');
    expect(decodeLifecycleEvent(published!)).toMatchObject({ type: 'ExecutionStepCompleted', data: { reconciled: false, clientToken: expect.any(String) }, metadata: { schemaVersion: 2 } });
    await bus.close();
    await store.close();
  });
});

describe('LogRelay: the executor topic’s key', () => {
  it('is the account-region on a shared bus (one budget owner per account-region), the resource on a bus inside one process', async () => {
    for (const local of [false, true]) {
      const store = SqliteEventStore.open(':memory:');
      const sent: BusMessage[] = [];
      const bus = { local, publish: async (messages: readonly BusMessage[]) => void sent.push(...messages) } as unknown as Bus;
      await append(store, 'optimization-a', 'RiskAssessed');
      const relay = new LogRelay(store, bus, { integrationEvents: false });
      await relay.start();
      await settle(relay);
      await relay.stop();
      await store.close();
      expect(sent.find((m) => m.topic === TOPICS.internalEvents)?.key).toBe('111122223333/us-east-1/vol-1');
      expect(sent.find((m) => m.topic === TOPICS.executions)?.key).toBe(local ? '111122223333/us-east-1/vol-1' : '111122223333/us-east-1');
    }
  });
});

describe('LogRelay and trace context (CloudEvents distributed-tracing extension)', () => {
  const TRACEPARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

  async function published(metadata: Record<string, unknown>): Promise<Delivery[]> {
    const store = SqliteEventStore.open(':memory:');
    const bus = new InMemoryBus();
    const seen: Delivery[] = [];
    const consumer = await bus.subscribe({ groupId: 'tap', topics: [TOPICS.internalEvents, TOPICS.executions, TOPICS.events] }, async (d) => {
      seen.push(d);
      return { kind: 'ack' };
    });
    await store.appendToStream('optex-control', [{ id: randomUUID(), type: 'ExecutionPaused', data: { by: 'alice', reason: 'game day', at: AT }, metadata: { schemaVersion: 1, ...metadata } }], 'any');
    const relay = new LogRelay(store, bus, { integrationEvents: true });
    await relay.start();
    await settle(relay);
    await relay.stop();
    await bus.idle();
    await consumer.stop();
    await bus.close();
    await store.close();
    return seen;
  }

  it('puts the event’s metadata.traceparent on every message it publishes as ce_traceparent', async () => {
    const seen = await published({ traceparent: TRACEPARENT });
    expect(seen.map((d) => d.topic).sort()).toEqual([TOPICS.events, TOPICS.executions, TOPICS.internalEvents].sort());
    for (const d of seen) expect(d.headers['ce_traceparent']).toBe(TRACEPARENT);
  });

  it('publishes no ce_traceparent for an event recorded without one, or with one that is not a W3C traceparent', async () => {
    for (const metadata of [{}, { traceparent: 'not-a-traceparent' }]) {
      const seen = await published(metadata);
      expect(seen).toHaveLength(3);
      for (const d of seen) expect(d.headers['ce_traceparent']).toBeUndefined();
    }
  });
});

describe('LogRelay: batched publishes', () => {
  /** A bus that records every publish and holds each one until the test releases it. */
  function heldBus() {
    const inner = new InMemoryBus();
    const publishes: BusMessage[][] = [];
    const releases: (() => void)[] = [];
    const bus: Bus = {
      local: true,
      publish: async (messages) => {
        publishes.push([...messages]);
        await new Promise<void>((resolve) => releases.push(resolve));
        await inner.publish(messages);
      },
      subscribe: (options, handler) => inner.subscribe(options, handler),
      close: () => inner.close(),
    };
    const releaseNext = async () => {
      for (let i = 0; i < 400 && releases.length === 0; i++) await new Promise((r) => setTimeout(r, 5));
      releases.shift()!();
    };
    return { inner, bus, publishes, releaseNext };
  }
  /** The store with some of its methods replaced; the others bound to it. */
  function storeWith(store: SqliteEventStore, replaced: Partial<Pick<SqliteEventStore, 'readStream' | 'subscribeToAll'>>): SqliteEventStore {
    return new Proxy(store, {
      get: (target, property) => {
        if (property in replaced) return replaced[property as keyof typeof replaced];
        const value: unknown = Reflect.get(target, property);
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
  }
  /** The store, counting the subscription's deliveries to the relay and those the relay has returned from. */
  function counted(store: SqliteEventStore) {
    const counts = { received: 0, returned: 0 };
    const subscribeToAll = (handler: (e: RecordedEvent) => Promise<void>, options?: SubscribeOptions) =>
      store.subscribeToAll(async (e) => {
        counts.received++;
        await handler(e);
        counts.returned++;
      }, options);
    return { counting: storeWith(store, { subscribeToAll }), counts };
  }
  const until = async (condition: () => boolean) => {
    for (let i = 0; i < 400 && !condition(); i++) await new Promise((r) => setTimeout(r, 5));
  };
  const eventsOf = (messages: readonly BusMessage[]) =>
    messages.filter((m) => m.topic === TOPICS.internalEvents).map((m) => decodeLifecycleEvent({ ...m, partition: 0, offset: '0', attempt: 1, headers: m.headers ?? {} } as Delivery).type);

  it('publishes the first event at once and those recorded while that publish runs together in the next one, in log order', async () => {
    const store = SqliteEventStore.open(':memory:');
    const { inner, bus, publishes, releaseNext } = heldBus();
    await append(store, 'optimization-f', 'OptimizationCancelled');
    const { counting, counts } = counted(store);
    const relay = new LogRelay(counting, bus);
    await relay.start();
    await until(() => publishes.length > 0);
    await append(store, 'optimization-f', 'RiskAssessed');
    await append(store, 'optimization-g', 'RiskAssessed');
    await append(store, 'optimization-f', 'OptimizationCancelled');
    await until(() => counts.returned === 4); // the subscription delivered them while the first publish is held
    expect(publishes).toHaveLength(1);
    expect(await relay.caughtUp()).toBe(false); // nothing counts as published before the bus took it
    await releaseNext();
    await releaseNext();
    await settle(relay);
    expect(publishes.map(eventsOf)).toEqual([['OptimizationCancelled'], ['RiskAssessed', 'RiskAssessed', 'OptimizationCancelled']]);
    await relay.stop();
    expect(publishes).toHaveLength(2); // stop() had nothing left to publish
    expect((await collect(inner, 'g6')).map((d) => decodeLifecycleEvent(d).stream)).toEqual(['optimization-f', 'optimization-f', 'optimization-g', 'optimization-f']);
    await inner.close();
    await store.close();
  });

  it('holds the subscription back once maxBatch events wait, and publishes at most maxBatch a time', async () => {
    const store = SqliteEventStore.open(':memory:');
    const { inner, bus, publishes, releaseNext } = heldBus();
    for (let i = 0; i < 7; i++) await append(store, `optimization-h${i}`, 'RiskAssessed');
    const delivered: string[] = [];
    const { counting, counts } = counted(store);
    const relay = new LogRelay(counting, bus, { maxBatch: 2, onPublished: (e) => delivered.push(e.stream) });
    await relay.start();
    await until(() => counts.received >= 3);
    await new Promise((r) => setTimeout(r, 30)); // room to run ahead, if it did
    // The first event went out alone; the next two wait for it, and the delivery that filled the queue holds the subscription.
    expect(publishes.map((p) => eventsOf(p).length)).toEqual([1]);
    expect(delivered).toEqual([]);
    expect(counts).toEqual({ received: 3, returned: 2 });
    for (let i = 0; i < 4; i++) await releaseNext();
    await settle(relay);
    expect(publishes.map((p) => eventsOf(p).length)).toEqual([1, 2, 2, 2]);
    expect(delivered).toEqual([0, 1, 2, 3, 4, 5, 6].map((i) => `optimization-h${i}`));
    await relay.stop();
    await inner.close();
    await store.close();
  });

  it('waits out a store outage while translating an event, then publishes it once, with nothing after it published first', async () => {
    const store = SqliteEventStore.open(':memory:');
    const inner = new InMemoryBus();
    const shared: Bus = { local: false, publish: (m) => inner.publish(m), subscribe: (o, h) => inner.subscribe(o, h), close: () => inner.close() };
    await append(store, 'optimization-o', 'RiskAssessed');
    const first = new LogRelay(store, shared);
    await first.start();
    await settle(first);
    await first.stop();
    await append(store, 'optimization-o', 'OptimizationCancelled'); // a new relay's translator must read the stream for it
    await append(store, 'optimization-p', 'RiskAssessed');
    let failures = 2;
    const flaky = storeWith(store, {
      readStream: (stream, options) => {
        if (stream.startsWith('optimization-') && failures > 0) {
          failures--;
          return Promise.reject(new InfrastructureError('store unavailable'));
        }
        return store.readStream(stream, options);
      },
    });
    const relay = new LogRelay(flaky, shared);
    await relay.start();
    await until(() => relay.lastError !== undefined);
    expect(String(relay.lastError)).toMatch(/store unavailable/);
    await settle(relay);
    await relay.stop();
    expect(failures).toBe(0);
    const seen = (await collect(inner, 'g7')).map((d) => decodeLifecycleEvent(d));
    expect(seen.map((e) => `${e.stream}@${e.revision}`)).toEqual(['optimization-o@0', 'optimization-o@1', 'optimization-p@0']);
    await inner.close();
    await store.close();
  });

  it.each([100, 1])('stops at once while the bus fails every publish (maxBatch %i); a new relay publishes what was not, from the checkpoint', async (maxBatch) => {
    const store = SqliteEventStore.open(':memory:');
    const inner = new InMemoryBus();
    let down = false;
    let failed = 0;
    const flaky: Bus = {
      local: true,
      publish: async (messages) => {
        if (down) {
          failed++;
          throw new Error('broker unavailable');
        }
        await inner.publish(messages);
      },
      subscribe: (options, handler) => inner.subscribe(options, handler),
      close: () => inner.close(),
    };
    const published: string[] = [];
    const relay = new LogRelay(store, flaky, { maxBatch, onPublished: (e) => published.push(e.stream) });
    await relay.start();
    const first = await append(store, 'optimization-s1', 'RiskAssessed');
    await until(() => published.length === 1);
    down = true;
    await append(store, 'optimization-s2', 'RiskAssessed');
    await append(store, 'optimization-s3', 'RiskAssessed');
    await until(() => failed >= 2); // retrying, with backoff

    let timer: NodeJS.Timeout | undefined;
    const stopped = await Promise.race([
      relay.stop().then(() => 'stopped'),
      new Promise((resolve) => (timer = setTimeout(() => resolve('still retrying after 2 s'), 2000))),
    ]);
    clearTimeout(timer);
    expect(stopped).toBe('stopped');
    expect(published).toEqual(['optimization-s1']);
    expect(relay.position).toEqual(first.position);

    down = false;
    const next = new LogRelay(store, flaky, { maxBatch });
    await next.start();
    await settle(next);
    await next.stop();
    expect((await collect(inner, 'g8')).map((d) => decodeLifecycleEvent(d).stream)).toEqual(['optimization-s1', 'optimization-s2', 'optimization-s3']);
    await inner.close();
    await store.close();
  });

  it('rejects a maxBatch that is not a positive integer, naming it', () => {
    const store = SqliteEventStore.open(':memory:');
    expect(() => new LogRelay(store, new InMemoryBus(), { maxBatch: 0 })).toThrow(/maxBatch must be a positive integer, got 0/);
    void store.close();
  });
});
