import { DomainError } from '@optex/domain';
import { ConcurrencyError, HEADERS, InfrastructureError, TOPICS, ec2Error, type Delivery, type HandlerOutcome, type IncomingRecommendation, type IntegrationEvent } from '@optex/ports';
import 'reflect-metadata';
import { Controller, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { EventPattern } from '@nestjs/microservices';
import { EMPTY, of } from 'rxjs';
import { InMemoryBus } from '../memory';
import { BusServer, PassThroughRpcFilter } from './bus-server';
import { encodeLifecycleEvent } from '../relay/lifecycle-codec';

const GROUP = 'optex-test';

async function serve(handler: (payload: unknown, delivery: Delivery) => Promise<unknown>, topic: string = TOPICS.internalEvents) {
  const bus = new InMemoryBus({ retryBackoffMs: 1, maxRetryBackoffMs: 2 });
  const outcomes: HandlerOutcome['kind'][] = [];
  const server = new BusServer(bus, { group: GROUP, maxAttempts: 3, deadLetterTopic: 'dlq', onOutcome: (o) => outcomes.push(o) });
  server.addHandler(`${GROUP}/${topic}`, (payload: unknown, delivery: Delivery) => handler(payload, delivery), true);
  await new Promise<void>((resolve, reject) => void server.listen((err?: unknown) => (err ? reject(err) : resolve())));
  const dlq: Delivery[] = [];
  await bus.subscribe({ groupId: 'dlq-reader', topics: ['dlq'] }, async (d) => {
    dlq.push(d);
    return { kind: 'ack' };
  });
  return { bus, server, outcomes, dlq };
}

const lifecycle = () =>
  encodeLifecycleEvent({
    id: '6f1c1f7e-2f7a-4a0e-9d2b-3f1e2d3c4b5a',
    stream: 'optimization-x',
    type: 'RiskAssessed',
    revision: 1n,
    position: { commit: 7n, prepare: 7n },
    data: { level: 'LOW' },
    metadata: { resourceKey: 'a/b/c' },
    recordedAt: new Date('2026-11-26T10:00:00Z'),
  });

describe('BusServer (NestJS transport over the Bus port)', () => {
  it('hands handlers a decoded lifecycle event and acknowledges on success', async () => {
    const received: IntegrationEvent[] = [];
    const { bus, server, outcomes } = await serve(async (p) => void received.push(p as IntegrationEvent));
    await bus.publish([{ topic: TOPICS.internalEvents, ...lifecycle() }]);
    await bus.idle();
    expect(received[0]).toMatchObject({ kind: 'event', type: 'RiskAssessed', stream: 'optimization-x', revision: 1n, data: { level: 'LOW' }, metadata: { resourceKey: 'a/b/c' } });
    expect(outcomes).toEqual(['ack']);
    await server.close();
    await bus.close();
  });

  it('hands the risk-assessor raw recommendations (bytes unchanged) with their delivery id and dry-run flag', async () => {
    const received: IncomingRecommendation[] = [];
    const { bus, server } = await serve(async (p) => void received.push(p as IncomingRecommendation), TOPICS.recommendations);
    const value = Buffer.from([...Buffer.from('{"x":"'), 0xff, ...Buffer.from('"}')]);
    await bus.publish([{ topic: TOPICS.recommendations, key: 'k', value, headers: { [HEADERS.deliveryId]: 'file:abc:3', [HEADERS.index]: '3', [HEADERS.dryRun]: 'true' } }]);
    await bus.idle();
    expect(received).toEqual([{ kind: 'recommendation', bytes: value, deliveryId: 'file:abc:3', index: 3, dryRun: true, attempt: 1 }]);
    await server.close();
    await bus.close();
  });

  it('passes on the full size of a record the sender cut to a prefix', async () => {
    const received: IncomingRecommendation[] = [];
    const { bus, server } = await serve(async (p) => void received.push(p as IncomingRecommendation), TOPICS.recommendations);
    await bus.publish([{ topic: TOPICS.recommendations, key: 'k', value: Buffer.from('{"x":'), headers: { [HEADERS.recordBytes]: '52428800' } }]);
    await bus.idle();
    expect(received[0]).toMatchObject({ receivedBytes: 52_428_800 });
    await server.close();
    await bus.close();
  });

  it.each([
    ['a value', async () => ({ kind: 'dead-letter', reason: 'told to' }), 'dead-letter'],
    ['an Observable (an interceptor\'s): its last value', async () => of({ kind: 'retry', error: new Error('first') }, { kind: 'dead-letter', reason: 'last' }), 'dead-letter'],
    ['an empty Observable', async () => EMPTY, 'ack'],
    ['nothing', async () => undefined, 'ack'],
  ])('takes the outcome a handler resolves to as %s', async (_what, handler, expected) => {
    const { bus, server, outcomes } = await serve(handler);
    await bus.publish([{ topic: TOPICS.internalEvents, ...lifecycle() }]);
    await bus.idle();
    expect(outcomes).toEqual([expected]);
    await server.close();
    await bus.close();
  });

  it('never retries a domain rejection', async () => {
    let calls = 0;
    const { bus, server, outcomes } = await serve(async () => {
      calls++;
      throw new DomainError('INVALID_STATE', 'Approve: optimization is denied');
    });
    await bus.publish([{ topic: TOPICS.internalEvents, ...lifecycle() }]);
    await bus.idle();
    expect(calls).toBe(1);
    expect(outcomes).toEqual(['ack']);
    await server.close();
    await bus.close();
  });

  it('waits out an outage (store unavailable, EC2 throttling) however many deliveries it takes: never an attempt, never dead-lettered', async () => {
    let calls = 0;
    const attempts: number[] = [];
    const { bus, server, outcomes, dlq } = await serve(async (_payload, delivery) => {
      attempts.push(delivery.attempt);
      calls++;
      if (calls <= 4) throw new InfrastructureError('EventStoreDB append failed (unavailable): 14 UNAVAILABLE');
      if (calls <= 7) throw ec2Error('RequestLimitExceeded', 'Request limit exceeded.');
    });
    await bus.publish([{ topic: TOPICS.internalEvents, ...lifecycle() }]);
    await bus.idle();
    expect(calls).toBe(8); // more deliveries than maxAttempts (3)
    expect(attempts).toEqual([1, 1, 1, 1, 1, 1, 1, 1]);
    expect(outcomes).toEqual(['pause', 'pause', 'pause', 'pause', 'pause', 'pause', 'pause', 'ack']);
    expect(dlq).toHaveLength(0);
    await server.close();
    await bus.close();
  });

  it('counts a retry asked for on the last attempt as the dead letter the bus makes of it (the metric of dead letters)', async () => {
    const { bus, server, outcomes, dlq } = await serve(async () => {
      throw new Error('a bug: fails on every try');
    });
    await bus.publish([{ topic: TOPICS.internalEvents, ...lifecycle() }]);
    await bus.idle();
    expect(outcomes).toEqual(['retry', 'retry', 'dead-letter']); // maxAttempts 3
    expect(dlq).toHaveLength(1);
    await server.close();
    await bus.close();
  });

  it('retries a concurrency conflict the command handler could not resolve, as an attempt', async () => {
    let calls = 0;
    const { bus, server, outcomes } = await serve(async () => {
      if (++calls < 3) throw new ConcurrencyError('optimization-x', 3n, 4n);
    });
    await bus.publish([{ topic: TOPICS.internalEvents, ...lifecycle() }]);
    await bus.idle();
    expect(outcomes).toEqual(['retry', 'retry', 'ack']);
    await server.close();
    await bus.close();
  });

  it('dead-letters a poison message after maxAttempts, with the error itself in headers (no endless loop)', async () => {
    const { bus, server, dlq } = await serve(async () => {
      throw new TypeError("Cannot read properties of undefined (reading 'instanceType')");
    });
    await bus.publish([{ topic: TOPICS.internalEvents, ...lifecycle() }]);
    await bus.idle();
    expect(dlq).toHaveLength(1);
    expect(dlq[0]!.headers['x-optex-dlq-attempts']).toBe('3');
    expect(dlq[0]!.headers['x-optex-dlq-reason']).toBe("gave up after 3 attempts: TypeError: Cannot read properties of undefined (reading 'instanceType')");
    await server.close();
    await bus.close();
  });

  it('dead-letters at once a non-transient error and an undecodable message', async () => {
    const { bus, server, dlq, outcomes } = await serve(async () => {
      throw ec2Error('UnauthorizedOperation', 'not allowed');
    });
    await bus.publish([{ topic: TOPICS.internalEvents, ...lifecycle() }]);
    await bus.publish([{ topic: TOPICS.internalEvents, key: 'k', value: Buffer.from('junk'), headers: {} }]);
    await bus.idle();
    expect(outcomes).toEqual(['dead-letter', 'dead-letter']);
    const reasons = dlq.map((d) => d.headers['x-optex-dlq-reason']).sort();
    expect(reasons).toEqual([expect.stringMatching(/^UnauthorizedOperation/), expect.stringMatching(/^undecodable/)]);
    await server.close();
    await bus.close();
  });
});

describe('BusServer inside a Nest application (as the engine runs it)', () => {
  it('sees the error a controller threw, not Nest\'s "Internal server error": outages wait, rejections ack, bugs dead-letter with their text', async () => {
    const bus = new InMemoryBus({ retryBackoffMs: 1, maxRetryBackoffMs: 2 });
    const toThrow: unknown[] = [
      ...Array.from({ length: 5 }, () => new InfrastructureError('EventStoreDB append failed (unavailable): 14 UNAVAILABLE')),
      new DomainError('INVALID_STATE', 'Approve: optimization is denied'),
      ...Array.from({ length: 3 }, () => new TypeError('plan is not iterable')),
    ];
    @Controller()
    class ThrowingController {
      @EventPattern(`${GROUP}/${TOPICS.internalEvents}`)
      on(_event: unknown): void {
        const error = toThrow.shift();
        if (error) throw error;
      }
    }
    @Module({ controllers: [ThrowingController] })
    class AppModule {}
    const app = await NestFactory.create(AppModule, { logger: false });
    app.useGlobalFilters(new PassThroughRpcFilter(app.getHttpAdapter()));
    const outcomes: HandlerOutcome['kind'][] = [];
    app.connectMicroservice({ strategy: new BusServer(bus, { group: GROUP, maxAttempts: 3, deadLetterTopic: 'dlq', onOutcome: (o) => outcomes.push(o) }) }, { inheritAppConfig: true });
    await app.init();
    await app.startAllMicroservices();
    const dlq: Delivery[] = [];
    await bus.subscribe({ groupId: 'dlq-reader', topics: ['dlq'] }, async (d) => {
      dlq.push(d);
      return { kind: 'ack' };
    });
    await bus.publish([{ topic: TOPICS.internalEvents, ...lifecycle() }, { topic: TOPICS.internalEvents, ...lifecycle() }]);
    await bus.idle();
    expect(outcomes).toEqual(['pause', 'pause', 'pause', 'pause', 'pause', 'ack', 'retry', 'retry', 'dead-letter']);
    expect(dlq.map((d) => d.headers['x-optex-dlq-reason'])).toEqual(['gave up after 3 attempts: TypeError: plan is not iterable']);
    await app.close();
    await bus.close();
  });
});
