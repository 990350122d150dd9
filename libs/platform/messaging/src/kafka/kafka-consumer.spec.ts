import { KafkaJSConnectionError, KafkaJSError, KafkaJSProtocolError, KafkaJSSASLAuthenticationError, type EachMessagePayload, type Kafka } from 'kafkajs';
import { AccessRefusedError, InfrastructureError, isOutage, silentLogger, type HandlerOutcome } from '@optex/ports';
import { KafkaSubscription, backoffDelay, headersToStrings } from './kafka-consumer';
import { toInfrastructureError } from './kafka-errors';
import { KafkaBus } from './kafka-bus';
import { partitionForKey } from '../memory/partitioner';

describe('KafkaBus.connect options', () => {
  it.each([-1, 1.5, Number.NaN])('refuses commitIntervalMs %p before connecting, naming it', async (commitIntervalMs) => {
    await expect(KafkaBus.connect({ brokers: '127.0.0.1:1', clientId: 'spec', commitIntervalMs })).rejects.toThrow(`commitIntervalMs must be a non-negative integer, got ${commitIntervalMs}`);
  });
});

describe('backoffDelay', () => {
  const backoff = { initialMs: 100, maxMs: 1000 };

  it('doubles the ceiling per attempt up to maxMs, with full jitter below it', () => {
    expect([1, 2, 3, 4, 5, 6].map((a) => backoffDelay(a, backoff, () => 1))).toEqual([100, 200, 400, 800, 1000, 1000]);
    expect(backoffDelay(3, backoff, () => 0)).toBe(0);
    expect(backoffDelay(3, backoff, () => 0.5)).toBe(200);
  });

  it('stays within [0, ceiling] for random jitter', () => {
    for (let i = 0; i < 200; i++) {
      const d = backoffDelay(4, backoff);
      expect(d).toBeGreaterThanOrEqual(0);
      expect(d).toBeLessThanOrEqual(800);
    }
  });
});

describe('headersToStrings', () => {
  it('turns Buffer, string and repeated header values into strings (a repeated key keeps its last value)', () => {
    expect(headersToStrings({ a: Buffer.from('x'), b: 'y', c: [Buffer.from('1'), Buffer.from('2')], d: undefined })).toEqual({ a: 'x', b: 'y', c: '2' });
    expect(headersToStrings(undefined)).toEqual({});
  });
});

describe('toInfrastructureError', () => {
  it('maps kafkajs errors to InfrastructureError and keeps the cause', () => {
    const cause = new KafkaJSConnectionError('Connection error: connect ECONNREFUSED 127.0.0.1:1');
    const mapped = toInfrastructureError(cause, 'connect to 127.0.0.1:1');
    expect(mapped).toBeInstanceOf(InfrastructureError);
    expect((mapped as InfrastructureError).message).toContain('connect to 127.0.0.1:1 failed: Connection error');
    expect((mapped as InfrastructureError).cause).toBe(cause);
    expect(toInfrastructureError(new KafkaJSError('x', { retriable: false }), 'y')).toBeInstanceOf(InfrastructureError);
  });

  it('maps a refused SASL login to an AccessRefusedError: an outage, but not transient (start-up does not retry it)', () => {
    // kafkajs's typings declare no constructor argument; its code takes the message (as its SASL authenticators pass it).
    const cause = new (KafkaJSSASLAuthenticationError as unknown as new (message: string) => Error)('SASL PLAIN authentication failed: Authentication failed: Invalid username or password');
    const mapped = toInfrastructureError(cause, 'connect to 127.0.0.1:9092') as AccessRefusedError;
    expect(mapped).toBeInstanceOf(AccessRefusedError);
    expect(mapped.code).toBe('ACCESS_REFUSED');
    expect(mapped.transient).toBe(false);
    expect(isOutage(mapped)).toBe(true);
    expect(mapped.message).toBe(
      'kafka: connect to 127.0.0.1:9092 refused: SASL PLAIN authentication failed: Authentication failed: Invalid username or password (the brokers refused the SASL login: check the mechanism, username and password (OPTEX_KAFKA_SASL_*))',
    );
    expect(mapped.cause).toBe(cause);
  });

  it.each(['TOPIC_AUTHORIZATION_FAILED', 'GROUP_AUTHORIZATION_FAILED', 'CLUSTER_AUTHORIZATION_FAILED'])('maps an ACL refusal (%s), also under kafkajs’s retries, to an AccessRefusedError naming it', (type) => {
    const denied = new KafkaJSProtocolError({ type, code: 29, retriable: false, message: 'Not authorized' } as never);
    const exhausted = Object.assign(new KafkaJSError('Number of retries exceeded', { retriable: false }), { originalError: denied });
    for (const error of [denied, exhausted]) {
      const mapped = toInfrastructureError(error, 'publish to optex.lifecycle');
      expect(mapped).toBeInstanceOf(AccessRefusedError);
      expect((mapped as Error).message).toContain(`the brokers' ACLs deny this user (${type})`);
    }
  });

  it('keeps other protocol errors transient InfrastructureErrors', () => {
    const mapped = toInfrastructureError(new KafkaJSProtocolError({ type: 'LEADER_NOT_AVAILABLE', code: 5, retriable: true, message: 'no leader' } as never), 'publish');
    expect(mapped).toBeInstanceOf(InfrastructureError);
    expect(mapped).not.toBeInstanceOf(AccessRefusedError);
    expect((mapped as InfrastructureError).transient).toBe(true);
  });

  it('lets errors that are not the driver’s pass through', () => {
    const bug = new TypeError('undefined is not a function');
    expect(toInfrastructureError(bug, 'publish')).toBe(bug);
  });
});

/**
 * The consumer's offset commits against a kafkajs consumer double: the test hands messages to `eachMessage` itself and
 * decides when each commit request answers, so it can see what runs while a commit is in flight.
 */
describe('KafkaSubscription: offset commits and partition ownership', () => {
  type Offsets = { topic: string; partition: number; offset: string }[];

  async function subscription(handler: (offset: string) => HandlerOutcome = () => ({ kind: 'ack' }), commitIntervalMs = 0) {
    const commits: Offsets[] = [];
    const answers: { resolve: () => void; reject: (error: Error) => void }[] = [];
    const listeners = new Map<string, (event: { payload: unknown }) => void>();
    let eachMessage: ((payload: EachMessagePayload) => Promise<void>) | undefined;
    const order: string[] = [];
    const partitionCount = { value: 4 };
    const consumer = {
      events: { CRASH: 'consumer.crash', GROUP_JOIN: 'consumer.group_join' },
      on: (event: string, listener: (event: { payload: unknown }) => void) => listeners.set(event, listener),
      connect: async () => undefined,
      subscribe: async () => undefined,
      run: async (options: { eachMessage: (payload: EachMessagePayload) => Promise<void> }) => {
        eachMessage = options.eachMessage;
      },
      commitOffsets: (offsets: Offsets) => {
        commits.push(offsets.map((o) => ({ ...o })));
        order.push(`commit ${offsets.map((o) => `${o.partition}@${o.offset}`).join(',')}`);
        return new Promise<void>((resolve, reject) => answers.push({ resolve, reject }));
      },
      disconnect: async () => {
        order.push('disconnect');
      },
      seek: () => undefined,
    };
    const settings = {
      backoff: { initialMs: 1, maxMs: 1 },
      sessionTimeoutMs: 10_000,
      heartbeatIntervalMs: 1000,
      rebalanceTimeoutMs: 60_000,
      maxWaitTimeMs: 100,
      partitionsConsumedConcurrently: 2,
      commitIntervalMs,
      logger: silentLogger,
      publish: async () => undefined,
      partitionCounts: async (topics: readonly string[]) => new Map(topics.map((topic) => [topic, partitionCount.value])),
    };
    const sub = new KafkaSubscription(
      { consumer: () => consumer } as unknown as Kafka,
      { groupId: 'g', topics: ['t'] },
      async (delivery) => {
        order.push(`handle ${delivery.partition}@${delivery.offset}`);
        return handler(delivery.offset);
      },
      settings,
      () => undefined,
    );
    await sub.start();
    const deliver = (partition: number, offset: number) =>
      eachMessage!({
        topic: 't',
        partition,
        message: { offset: String(offset), key: Buffer.from('k'), value: Buffer.from('v'), headers: {}, timestamp: '0', attributes: 0 },
        pause: () => () => undefined,
        heartbeat: async () => undefined,
      } as unknown as EachMessagePayload);
    const groupJoin = (assignment: Record<string, number[]>) => listeners.get('consumer.group_join')!({ payload: { memberAssignment: assignment } });
    return { sub, deliver, commits, answers, order, groupJoin, partitionCount };
  }

  const settle = () => new Promise((r) => setImmediate(r));

  it('handles the next messages while a commit runs, and commits what they acknowledged in one request per round', async () => {
    const { deliver, commits, answers, order } = await subscription();
    await deliver(0, 0); // acknowledged: the first commit starts, and is not awaited
    await deliver(0, 1);
    await deliver(0, 2);
    await deliver(1, 0);
    expect(order).toEqual(['handle 0@0', 'commit 0@1', 'handle 0@1', 'handle 0@2', 'handle 1@0']);
    answers[0].resolve();
    await settle();
    expect(commits).toEqual([
      [{ topic: 't', partition: 0, offset: '1' }],
      [
        { topic: 't', partition: 0, offset: '3' },
        { topic: 't', partition: 1, offset: '1' },
      ],
    ]);
    answers[1].resolve();
    await settle();
    expect(commits).toHaveLength(2); // nothing left to commit
  });

  it('commits nothing for a message to be redelivered', async () => {
    const { deliver, commits } = await subscription((offset) => (offset === '0' ? { kind: 'retry', error: new Error('not yet') } : { kind: 'ack' }));
    await deliver(0, 0);
    await settle();
    expect(commits).toEqual([]);
  });

  it('stop() waits for the running commit, then commits what was acknowledged since, then leaves the group', async () => {
    const { sub, deliver, answers, order } = await subscription();
    await deliver(0, 0);
    await deliver(0, 1);
    const stopped = sub.stop();
    await settle();
    expect(order).toEqual(['handle 0@0', 'commit 0@1', 'handle 0@1']);
    answers[0].resolve();
    await settle();
    expect(order.slice(-1)).toEqual(['commit 0@2']);
    answers[1].resolve();
    await stopped;
    expect(order.slice(-2)).toEqual(['commit 0@2', 'disconnect']);
  });

  it('a failed commit is tried again a second later, with what was acknowledged meanwhile', async () => {
    jest.useFakeTimers({ doNotFake: ['setImmediate', 'nextTick', 'queueMicrotask'] });
    try {
      const { deliver, commits, answers } = await subscription();
      await deliver(0, 0);
      await deliver(0, 1);
      answers[0].reject(new Error('broker unreachable'));
      await settle();
      expect(commits).toHaveLength(1);
      await deliver(1, 4);
      await settle();
      expect(commits).toHaveLength(1); // waits for the retry, not for the next acknowledgement
      await jest.advanceTimersByTimeAsync(1000);
      expect(commits[1]).toEqual([
        { topic: 't', partition: 0, offset: '2' },
        { topic: 't', partition: 1, offset: '5' },
      ]);
    } finally {
      jest.useRealTimers();
    }
  });

  it('drops the offsets of partitions a rebalance gave to another member', async () => {
    const { deliver, commits, answers, groupJoin } = await subscription();
    await deliver(0, 0);
    await deliver(0, 1);
    await deliver(1, 0);
    groupJoin({ t: [1] }); // partition 0 went to another member
    answers[0].resolve();
    await settle();
    expect(commits[1]).toEqual([{ topic: 't', partition: 1, offset: '1' }]);
  });

  it('owns a key when the last assignment gave it the partition Kafka puts the key on, by the count read at start and after each join', async () => {
    const { sub, groupJoin, partitionCount } = await subscription();
    const keys = Array.from({ length: 40 }, (_, i) => `111122223333/us-east-${i}`);
    expect(keys.some((key) => sub.owns('t', key))).toBe(false); // no assignment yet
    groupJoin({ t: [0, 2] });
    await settle();
    const owned = keys.filter((key) => sub.owns('t', key));
    expect(owned).toEqual(keys.filter((key) => [0, 2].includes(partitionForKey(key, 4))));
    expect(owned.length).toBeGreaterThan(0);
    expect(owned.length).toBeLessThan(keys.length);
    expect(sub.owns('other-topic', owned[0])).toBe(false);
    // The topic was given 8 partitions: the group rebalances, and the count is read again.
    partitionCount.value = 8;
    groupJoin({ t: [0, 2] });
    await settle();
    expect(keys.filter((key) => sub.owns('t', key))).toEqual(keys.filter((key) => [0, 2].includes(partitionForKey(key, 8))));
    await sub.stop();
    expect(keys.some((key) => sub.owns('t', key))).toBe(false);
  });

  it('after a failed commit, puts back only the offsets of partitions it still owns', async () => {
    jest.useFakeTimers({ doNotFake: ['setImmediate', 'nextTick', 'queueMicrotask'] });
    try {
      const { deliver, commits, answers, groupJoin } = await subscription();
      groupJoin({ t: [0, 1] });
      await deliver(0, 0);
      await deliver(1, 7);
      groupJoin({ t: [1] }); // during the failing commit, partition 0 went to another member
      answers[0].reject(new Error('rebalance in progress'));
      await settle();
      await jest.advanceTimersByTimeAsync(1000);
      expect(commits).toEqual([[{ topic: 't', partition: 0, offset: '1' }], [{ topic: 't', partition: 1, offset: '8' }]]);
    } finally {
      jest.useRealTimers();
    }
  });

  it('with commitIntervalMs, starts commit rounds that far apart, the first after a quiet spell at once', async () => {
    jest.useFakeTimers({ doNotFake: ['setImmediate', 'nextTick', 'queueMicrotask'] });
    try {
      const { deliver, commits, answers } = await subscription(undefined, 100);
      await deliver(0, 0);
      expect(commits).toHaveLength(1); // at once
      await jest.advanceTimersByTimeAsync(10);
      answers[0].resolve();
      await deliver(0, 1);
      await deliver(1, 3);
      await jest.advanceTimersByTimeAsync(80);
      expect(commits).toHaveLength(1); // 90 ms after the first round started
      await jest.advanceTimersByTimeAsync(10);
      expect(commits[1]).toEqual([
        { topic: 't', partition: 0, offset: '2' },
        { topic: 't', partition: 1, offset: '4' },
      ]);
      answers[1].resolve();
      await jest.advanceTimersByTimeAsync(100); // the pause after the second round: nothing was acknowledged meanwhile
      expect(commits).toHaveLength(2);
      await deliver(0, 2);
      expect(commits).toHaveLength(3); // quiet since: at once again
      expect(commits[2]).toEqual([{ topic: 't', partition: 0, offset: '3' }]);
    } finally {
      jest.useRealTimers();
    }
  });

  it('with commitIntervalMs, stop() commits what waits for the next round at once, then leaves the group', async () => {
    jest.useFakeTimers({ doNotFake: ['setImmediate', 'nextTick', 'queueMicrotask'] });
    try {
      const { sub, deliver, answers, order } = await subscription(undefined, 60_000);
      await deliver(0, 0);
      answers[0].resolve();
      await deliver(0, 1);
      await jest.advanceTimersByTimeAsync(1);
      expect(order).toEqual(['handle 0@0', 'commit 0@1', 'handle 0@1']); // 0@2 waits a minute for its round
      const stopped = sub.stop();
      await jest.advanceTimersByTimeAsync(1);
      expect(order.slice(-1)).toEqual(['commit 0@2']);
      answers[1].resolve();
      await stopped;
      expect(order.slice(-2)).toEqual(['commit 0@2', 'disconnect']);
    } finally {
      jest.useRealTimers();
    }
  });
});
