import { randomUUID } from 'node:crypto';
import { TOPICS, type Bus, type BusMessage, type Delivery } from '@optex/ports';
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
