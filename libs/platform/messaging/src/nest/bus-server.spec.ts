import { DomainError } from '@optex/domain';
import { HEADERS, InfrastructureError, TOPICS, ec2Error, type Delivery, type HandlerOutcome, type IncomingRecommendation, type IntegrationEvent } from '@optex/ports';
import { InMemoryBus } from '../memory';
import { BusServer } from './bus-server';
import { encodeLifecycleEvent } from '../relay/lifecycle-codec';

const GROUP = 'optex-test';

async function serve(handler: (payload: unknown) => Promise<unknown>, topic: string = TOPICS.events) {
  const bus = new InMemoryBus({ retryBackoffMs: 1, maxRetryBackoffMs: 2 });
  const outcomes: HandlerOutcome['kind'][] = [];
  const server = new BusServer(bus, { group: GROUP, maxAttempts: 3, deadLetterTopic: 'dlq', onOutcome: (o) => outcomes.push(o) });
  server.addHandler(`${GROUP}/${topic}`, (payload: unknown) => handler(payload), true);
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
    await bus.publish([{ topic: TOPICS.events, ...lifecycle() }]);
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

  it('never retries a domain rejection', async () => {
    let calls = 0;
    const { bus, server, outcomes } = await serve(async () => {
      calls++;
      throw new DomainError('INVALID_STATE', 'Approve: optimization is denied');
    });
    await bus.publish([{ topic: TOPICS.events, ...lifecycle() }]);
    await bus.idle();
    expect(calls).toBe(1);
    expect(outcomes).toEqual(['ack']);
    await server.close();
    await bus.close();
  });

  it('retries a transient failure until it succeeds', async () => {
    let calls = 0;
    const { bus, server, outcomes } = await serve(async () => {
      if (++calls < 3) throw new InfrastructureError('store unavailable');
    });
    await bus.publish([{ topic: TOPICS.events, ...lifecycle() }]);
    await bus.idle();
    expect(calls).toBe(3);
    expect(outcomes).toEqual(['retry', 'retry', 'ack']);
    await server.close();
    await bus.close();
  });

  it('dead-letters a poison message after maxAttempts, with the reason in headers (no endless loop)', async () => {
    const { bus, server, dlq } = await serve(async () => {
      throw new Error('boom');
    });
    await bus.publish([{ topic: TOPICS.events, ...lifecycle() }]);
    await bus.idle();
    expect(dlq).toHaveLength(1);
    expect(dlq[0]!.headers['x-optex-dlq-attempts']).toBe('3');
    expect(dlq[0]!.headers['x-optex-dlq-reason']).toMatch(/boom|attempts/);
    await server.close();
    await bus.close();
  });

  it('dead-letters at once a non-transient error and an undecodable message', async () => {
    const { bus, server, dlq, outcomes } = await serve(async () => {
      throw ec2Error('UnauthorizedOperation', 'not allowed');
    });
    await bus.publish([{ topic: TOPICS.events, ...lifecycle() }]);
    await bus.publish([{ topic: TOPICS.events, key: 'k', value: Buffer.from('junk'), headers: {} }]);
    await bus.idle();
    expect(outcomes).toEqual(['dead-letter', 'dead-letter']);
    const reasons = dlq.map((d) => d.headers['x-optex-dlq-reason']).sort();
    expect(reasons).toEqual([expect.stringMatching(/^UnauthorizedOperation/), expect.stringMatching(/^undecodable/)]);
    await server.close();
    await bus.close();
  });
});
