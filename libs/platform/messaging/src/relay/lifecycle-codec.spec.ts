import { TOPICS, type Delivery, type RecordedEvent } from '@optex/ports';
import { decodeLifecycleEvent, encodeLifecycleEvent, executionKeyOf, internalMessagesOf } from './lifecycle-codec';
import { InMemoryBus } from '../memory';
import { isSealedBody } from '../sealed-bodies';

const recorded: RecordedEvent = {
  id: '6d1c9d0e-2a47-5f3b-8c61-1f5b0e7a9c33',
  stream: 'optimization-x',
  type: 'RollbackCompleted',
  revision: 4n,
  position: { commit: 10n, prepare: 10n },
  data: { optimizationId: 'x', at: '2026-03-01T10:00:00.000Z' },
  metadata: { resourceKey: '123456789012/us-east-1/vol-1', schemaVersion: 1 },
  recordedAt: new Date('2026-03-01T10:00:00.000Z'),
};

const delivery = (message: ReturnType<typeof encodeLifecycleEvent>, group: number, attempt = 1): Delivery => ({
  topic: 'optex.events.v1',
  key: message.key,
  value: message.value,
  headers: message.headers,
  partition: group,
  offset: String(7 + group),
  attempt,
});

describe('lifecycle codec', () => {
  it('round-trips a recorded event through a body of its own (as Kafka delivers it)', () => {
    const message = encodeLifecycleEvent(recorded);
    expect(decodeLifecycleEvent({ ...delivery(message, 0), value: Buffer.from(message.value) })).toEqual({
      kind: 'event',
      id: recorded.id,
      type: 'RollbackCompleted',
      stream: 'optimization-x',
      revision: 4n,
      data: recorded.data,
      metadata: recorded.metadata,
      recordedAt: recorded.recordedAt,
      deliveryId: 'optex.events.v1/0/7',
      attempt: 1,
    });
  });

  it("writes each event's own recorded time, one after another with the same time or another, and its stream and revision as headers", () => {
    const at = (iso: string, revision: bigint) => ({ ...recorded, revision, recordedAt: new Date(iso) });
    const events = [at('2026-03-01T10:00:00.000Z', 4n), at('2026-03-01T10:00:00.000Z', 5n), at('2026-03-01T10:00:00.007Z', 6n), at('2026-03-01T10:00:00.000Z', 7n)];
    expect(events.every((e) => Object.isFrozen(encodeLifecycleEvent(e).headers))).toBe(true);
    expect(events.map((e) => encodeLifecycleEvent(e).headers)).toEqual(
      events.map((e) => expect.objectContaining({ ce_time: e.recordedAt.toISOString(), ce_optexrevision: String(e.revision), 'x-optex-stream': 'optimization-x', 'x-optex-revision': String(e.revision) })),
    );
  });

  it('never decodes the body it encoded (the in-memory bus hands it to every group), each delivery keeping its own identity', () => {
    const message = encodeLifecycleEvent(recorded);
    const a = decodeLifecycleEvent(delivery(message, 1));
    const b = decodeLifecycleEvent(delivery(message, 2, 3));
    expect(a.data).toBe(recorded.data); // the recorded event itself: not decoded
    expect(isSealedBody(message.value)).toBe(true);
    expect(b.data).toBe(a.data);
    expect([a.deliveryId, a.attempt, b.deliveryId, b.attempt]).toEqual(['optex.events.v1/1/8', 1, 'optex.events.v1/2/9', 3]);
    const copy = { ...delivery(message, 1), value: Buffer.from(message.value) }; // a Kafka delivery: a body of its own
    expect(decodeLifecycleEvent(copy).data).not.toBe(a.data);
    expect(decodeLifecycleEvent(copy).data).toEqual(a.data);
  });

  it('through the in-memory bus, every group of the embedded engine is handed the recorded event itself (no copy, no decoding)', async () => {
    const bus = new InMemoryBus();
    const seen: unknown[] = [];
    await bus.publish(internalMessagesOf(recorded, { executionsByResource: true }));
    for (const groupId of ['optex-scheduler', 'optex-executor']) {
      await bus.subscribe({ groupId, topics: [TOPICS.internalEvents, TOPICS.executions] }, async (d) => {
        seen.push(decodeLifecycleEvent(d).data);
        return { kind: 'ack' };
      });
    }
    await bus.idle();
    await bus.close();
    expect(seen).toHaveLength(4);
    expect(seen.every((data) => data === recorded.data)).toBe(true);
  });

  it('decodes a body received from elsewhere once for all the groups it is handed to', () => {
    const received = { ...delivery(encodeLifecycleEvent(recorded), 1), value: Buffer.from(encodeLifecycleEvent(recorded).value) };
    const a = decodeLifecycleEvent(received);
    const b = decodeLifecycleEvent({ ...received, partition: 2 });
    expect(a.data).not.toBe(recorded.data);
    expect(b.data).toBe(a.data);
  });
});

describe('internal messages: one budget owner per account-region', () => {
  it('keys the executor topic by <accountId>/<region> and the services topic by resource, with the same body', () => {
    const [services, executor] = internalMessagesOf(recorded);
    expect(services).toMatchObject({ topic: TOPICS.internalEvents, key: '123456789012/us-east-1/vol-1' });
    expect(executor).toMatchObject({ topic: TOPICS.executions, key: '123456789012/us-east-1' });
    expect(executor!.value).toBe(services!.value);
    expect(executor!.headers).toEqual(services!.headers);
  });

  it('keys the executor topic per resource on a bus inside one process (its one executor owns every budget)', () => {
    const [services, executor] = internalMessagesOf(recorded, { executionsByResource: true });
    expect(executor).toMatchObject({ topic: TOPICS.executions, key: '123456789012/us-east-1/vol-1' });
    expect(executor!.value).toBe(services!.value);
  });

  it('puts every resource of one account-region on one key, and other regions or accounts on others', () => {
    const at = (resourceKey: string) => executionKeyOf({ stream: 'optimization-y', metadata: { resourceKey } });
    expect(new Set([at('123456789012/us-east-1/vol-1'), at('123456789012/us-east-1/i-2'), at('123456789012/us-east-1/eipalloc-3')])).toEqual(new Set(['123456789012/us-east-1']));
    expect(at('123456789012/eu-west-1/vol-1')).toBe('123456789012/eu-west-1');
    expect(at('210987654321/us-east-1/vol-1')).toBe('210987654321/us-east-1');
  });

  it('keeps the stream as key for events about no resource (batches, the kill switch)', () => {
    expect(executionKeyOf({ stream: 'optex-control', metadata: {} })).toBe('optex-control');
    expect(executionKeyOf({ stream: 'batch-1', metadata: {} })).toBe('batch-1');
  });
});
