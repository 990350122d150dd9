import { randomUUID } from 'node:crypto';
import { InfrastructureError, type Delivery, type HandlerOutcome } from '@optex/ports';
import { busContract, kafkaToolingProblem, startKafka, type RunningKafka } from '@optex/testing';
import { KafkaBus, type KafkaBusOptions } from './kafka-bus';
import { DLQ_HEADERS } from '../dead-letter';

// Against a broker this file starts (Kafka 4.x from Maven Central jars), or the one named by
// OPTEX_TEST_KAFKA_BROKERS. Without Java/Maven: fails under CI=true, skipped (with a warning) elsewhere.
const external = process.env['OPTEX_TEST_KAFKA_BROKERS'];
const problem = external ? undefined : kafkaToolingProblem();
const ci = process.env['CI'] === 'true';
if (problem && !ci) console.warn(`skipping KafkaBus integration tests outside CI: ${problem}`);
const describeKafka = problem && !ci ? describe.skip : describe;

jest.setTimeout(180_000);

const tag = (): string => randomUUID().slice(0, 8);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
async function waitUntil(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(25);
  }
}
const ack: HandlerOutcome = { kind: 'ack' };
const text = (d: Delivery): string => d.value.toString('utf8');
const msg = (topic: string, key: string, value: string, headers: Record<string, string> = {}) => ({ topic, key, value: Buffer.from(value), headers });

describeKafka('KafkaBus (kafkajs on a real Kafka 4.x broker)', () => {
  let kafka: RunningKafka | undefined;
  let brokers: string;
  const buses: KafkaBus[] = [];

  const open = (extra: Partial<KafkaBusOptions> = {}): Promise<KafkaBus> =>
    KafkaBus.connect({
      brokers,
      clientId: `kafka-bus-spec-${tag()}`,
      partitions: 3,
      logLevel: 'nothing',
      sessionTimeoutMs: 10_000,
      heartbeatIntervalMs: 500,
      rebalanceTimeoutMs: 20_000,
      maxWaitTimeMs: 200,
      retryBackoff: { initialMs: 20, maxMs: 200 },
      ...extra,
    });
  /** A bus closed after the current test. */
  const connect = async (extra: Partial<KafkaBusOptions> = {}): Promise<KafkaBus> => {
    const bus = await open(extra);
    buses.push(bus);
    return bus;
  };

  beforeAll(async () => {
    if (problem) throw new Error(problem);
    if (external) {
      brokers = external;
    } else {
      kafka = await startKafka({ partitions: 1 });
      brokers = kafka.brokers;
    }
  });

  afterEach(async () => {
    await Promise.all(buses.splice(0).map((b) => b.close().catch(() => undefined)));
  });

  afterAll(async () => {
    await kafka?.stop();
  });

  // The behaviour every Bus adapter shares (libs/testing), on this broker.
  // The contract owns (and closes) its bus.
  busContract('KafkaBus', () => open(), { deliveryTimeoutMs: 60_000, quietPeriodMs: 500 });

  it('publishes keyed messages with string headers and delivers them with partition, offset and attempt 1', async () => {
    const bus = await connect();
    const topic = `t-roundtrip-${tag()}`;
    const got: Delivery[] = [];
    await bus.subscribe({ groupId: `g-${tag()}`, topics: [topic] }, async (d) => {
      got.push(d);
      return ack;
    });
    await bus.publish([msg(topic, 'acct/us-east-1/i-1', '{"n":1}', { 'ce_id': 'e-1', 'x-optex-stream': 'optimization-1' })]);
    await waitUntil(() => got.length === 1, 'the delivery');
    const [d] = got;
    expect(d).toMatchObject({ topic, key: 'acct/us-east-1/i-1', attempt: 1, offset: '0', headers: { ce_id: 'e-1', 'x-optex-stream': 'optimization-1' } });
    expect(text(d!)).toBe('{"n":1}');
    expect(d!.partition).toBeGreaterThanOrEqual(0);
    expect(d!.partition).toBeLessThan(3);
  });

  it('creates topics explicitly and idempotently with the requested partition count', async () => {
    const bus = await connect();
    const topic = `t-ensure-${tag()}`;
    await bus.ensureTopics([topic], 5);
    await bus.ensureTopics([topic], 5);
    await Promise.all([bus.ensureTopics([topic, `${topic}-b`], 2), bus.ensureTopics([`${topic}-b`], 2)]);
    const seen = new Set<number>();
    await bus.subscribe({ groupId: `g-${tag()}`, topics: [topic] }, async (d) => {
      seen.add(d.partition);
      return ack;
    });
    await bus.publish(Array.from({ length: 40 }, (_, i) => msg(topic, `key-${i}`, String(i))));
    await waitUntil(() => seen.size === 5, 'all five partitions to deliver');
    expect(Math.max(...seen)).toBe(4);
  });

  it('does not commit work a consumer did not acknowledge: after a disconnect the group gets the message again', async () => {
    const bus = await connect();
    const topic = `t-crash-${tag()}`;
    const groupId = `g-crash-${tag()}`;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let first: Delivery | undefined;
    const consumer = await bus.subscribe({ groupId, topics: [topic] }, async (d) => {
      first = d;
      await gate;
      throw new Error('process died mid-handler');
    });
    await bus.publish([msg(topic, 'k', 'unfinished work')]);
    await waitUntil(() => first !== undefined, 'the first delivery');

    let stopped = false;
    const stopping = consumer.stop().then(() => (stopped = true));
    await sleep(300);
    expect(stopped).toBe(false); // stop() waits for the in-flight handler
    release();
    await stopping;
    expect((await bus.lag(groupId)).total).toBe(1);

    const again: Delivery[] = [];
    await bus.subscribe({ groupId, topics: [topic] }, async (d) => {
      again.push(d);
      return ack;
    });
    await waitUntil(() => again.length === 1, 'the redelivery to the new consumer');
    expect(again[0]).toMatchObject({ topic, partition: first!.partition, offset: first!.offset, key: 'k' });
    expect(text(again[0]!)).toBe('unfinished work');
    await waitUntil(async () => (await bus.lag(groupId)).total === 0, 'the commit');
  });

  it('finishes the in-flight message on stop() and commits it when it was acknowledged', async () => {
    const bus = await connect();
    const topic = `t-graceful-${tag()}`;
    const groupId = `g-graceful-${tag()}`;
    await bus.ensureTopics([topic], 1);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const handled: string[] = [];
    let slowStarted = false;
    const consumer = await bus.subscribe({ groupId, topics: [topic] }, async (d) => {
      if (text(d) === 'slow') {
        slowStarted = true;
        await gate;
      }
      handled.push(text(d));
      return ack;
    });
    await bus.publish([msg(topic, 'k', 'slow'), msg(topic, 'k', 'next')]);
    await waitUntil(() => slowStarted, 'the slow handler to start');
    const stopping = consumer.stop();
    await sleep(200);
    release();
    await stopping;
    expect(handled).toEqual(['slow']); // nothing started after stop()
    const lag = await bus.lag(groupId);
    expect(lag.total).toBe(1); // 'slow' committed, 'next' left for the next consumer
    expect(lag.partitions[0]).toMatchObject({ committed: '1', high: '2' });
  });

  it('redelivers on retry with increasing attempts and dead-letters after maxAttempts with the x-optex-dlq-* headers', async () => {
    const bus = await connect();
    const topic = `t-retry-${tag()}`;
    const dlq = `${topic}.dlq`;
    const groupId = `g-${tag()}`;
    const attempts: number[] = [];
    const times: number[] = [];
    await bus.subscribe({ groupId, topics: [topic], maxAttempts: 4, deadLetterTopic: dlq }, async (d) => {
      attempts.push(d.attempt);
      times.push(Date.now());
      return { kind: 'retry', error: new Error('EC2 throttled') };
    });
    const dead: Delivery[] = [];
    await bus.subscribe({ groupId: `g-dlq-${tag()}`, topics: [dlq] }, async (d) => {
      dead.push(d);
      return ack;
    });
    await bus.publish([msg(topic, 'acct/r/i-9', 'payload', { original: 'yes' })]);
    await waitUntil(() => dead.length === 1, 'the dead letter');
    expect(attempts).toEqual([1, 2, 3, 4]);
    const [d] = dead;
    expect(d!.key).toBe('acct/r/i-9');
    expect(text(d!)).toBe('payload');
    expect(d!.headers).toMatchObject({
      original: 'yes',
      [DLQ_HEADERS.attempts]: '4',
      [DLQ_HEADERS.originalTopic]: topic,
      [DLQ_HEADERS.originalOffset]: '0',
    });
    expect(d!.headers[DLQ_HEADERS.reason]).toContain('EC2 throttled');
    expect(d!.headers[DLQ_HEADERS.originalPartition]).toMatch(/^[0-2]$/);
    await waitUntil(async () => (await bus.lag(groupId)).total === 0, 'the original to be committed');
    await sleep(300);
    expect(attempts).toHaveLength(4); // not delivered again after dead-lettering
  });

  it('dead-letters at once on a dead-letter outcome, with the handler reason and attempt count', async () => {
    const bus = await connect();
    const topic = `t-poison-${tag()}`;
    const dlq = `${topic}.dlq`;
    const dead: Delivery[] = [];
    await bus.subscribe({ groupId: `g-dlq-${tag()}`, topics: [dlq] }, async (d) => {
      dead.push(d);
      return ack;
    });
    let calls = 0;
    await bus.subscribe({ groupId: `g-${tag()}`, topics: [topic], deadLetterTopic: dlq }, async (d) => {
      calls++;
      return d.attempt === 1 ? { kind: 'retry', error: 'transient' } : { kind: 'dead-letter', reason: 'recommendation is not JSON' };
    });
    await bus.publish([msg(topic, 'k', 'not json')]);
    await waitUntil(() => dead.length === 1, 'the dead letter');
    expect(calls).toBe(2);
    expect(dead[0]!.headers).toMatchObject({ [DLQ_HEADERS.reason]: 'recommendation is not JSON', [DLQ_HEADERS.attempts]: '2', [DLQ_HEADERS.originalTopic]: topic });
  });

  it('keeps per-key order across 3 partitions even when handlers retry', async () => {
    const bus = await connect();
    const topic = `t-order-${tag()}`;
    await bus.ensureTopics([topic], 3);
    const keys = Array.from({ length: 6 }, (_, i) => `acct/us-east-1/i-${i}`);
    const perKey = 15;
    const handled = new Map<string, number[]>();
    const partitionOf = new Map<string, Set<number>>();
    let retries = 0;
    await bus.subscribe({ groupId: `g-${tag()}`, topics: [topic], maxAttempts: 10 }, async (d) => {
      const seq = Number(text(d));
      // Retry every fifth message once: a later message of its key must not overtake it.
      if (seq % 5 === 2 && d.attempt === 1) {
        retries++;
        return { kind: 'retry', error: new Error('flaky') };
      }
      handled.set(d.key, [...(handled.get(d.key) ?? []), seq]);
      partitionOf.set(d.key, (partitionOf.get(d.key) ?? new Set()).add(d.partition));
      return ack;
    });
    for (let seq = 0; seq < perKey; seq++) await bus.publish(keys.map((k) => msg(topic, k, String(seq))));
    await waitUntil(() => keys.every((k) => (handled.get(k)?.length ?? 0) >= perKey), 'every message', 90_000);
    const expected = Array.from({ length: perKey }, (_, i) => i);
    for (const k of keys) {
      expect(handled.get(k)).toEqual(expected);
      expect(partitionOf.get(k)!.size).toBe(1);
    }
    expect(new Set(keys.map((k) => [...partitionOf.get(k)!][0])).size).toBeGreaterThan(1);
    expect(retries).toBe(keys.length * 3);
  });

  it('loses nothing when a second consumer joins the group mid-stream (rebalance), and splits the partitions', async () => {
    const bus = await connect();
    const other = await connect();
    const topic = `t-rebalance-${tag()}`;
    const groupId = `g-rebalance-${tag()}`;
    await bus.ensureTopics([topic], 3);
    const seen = new Map<string, number>();
    const byConsumer = { first: new Set<number>(), second: new Set<number>() };
    const handler = (who: 'first' | 'second') => async (d: Delivery) => {
      await sleep(5);
      seen.set(text(d), (seen.get(text(d)) ?? 0) + 1);
      byConsumer[who].add(d.partition);
      return ack;
    };
    await bus.subscribe({ groupId, topics: [topic] }, handler('first'));
    const total = 120;
    const publish = async (from: number, to: number): Promise<void> => {
      for (let i = from; i < to; i++) {
        await bus.publish([msg(topic, `key-${i % 12}`, `m-${i}`)]);
        if (i % 10 === 9) await sleep(50);
      }
    };
    // Messages keep coming while the second consumer joins (the rebalance happens mid-stream) …
    const during = publish(0, 80);
    await waitUntil(() => seen.size >= 20, 'the first consumer to get going');
    await other.subscribe({ groupId, topics: [topic] }, handler('second'));
    await during;
    // … and after it, so each member's partitions have work.
    await publish(80, total);
    await waitUntil(() => seen.size === total, `all ${total} messages`, 90_000);
    for (let i = 0; i < total; i++) expect(seen.get(`m-${i}`)).toBeGreaterThanOrEqual(1);
    expect(byConsumer.second.size).toBeGreaterThan(0);
    await waitUntil(async () => (await bus.lag(groupId)).total === 0, 'every offset committed');
    const duplicates = [...seen.values()].filter((n) => n > 1).length;
    console.info(`rebalance: ${total} messages, ${duplicates} redelivered (at least once), partitions first=${[...byConsumer.first].join(',')} second=${[...byConsumer.second].join(',')}`);
  });

  it('a handling longer than the session timeout keeps its partition: handled once, committed (the consumer heartbeats while it runs)', async () => {
    const bus = await connect({ sessionTimeoutMs: 6000, heartbeatIntervalMs: 1000 });
    const topic = `t-long-${tag()}`;
    const groupId = `g-long-${tag()}`;
    await bus.ensureTopics([topic], 1);
    const handled: string[] = [];
    await bus.subscribe({ groupId, topics: [topic] }, async (d) => {
      handled.push(text(d));
      if (text(d) === 'long') await sleep(15_000); // 2.5 × the session timeout, as an execution waiting for an instance
      return ack;
    });
    await bus.publish([msg(topic, 'k', 'long'), msg(topic, 'k', 'next')]);
    await waitUntil(() => handled.includes('next'), 'the message after the long one', 90_000);
    await waitUntil(async () => (await bus.lag(groupId)).total === 0, 'every offset committed');
    expect(handled).toEqual(['long', 'next']);
  });

  it('reports consumer lag as high watermark minus committed offset', async () => {
    const bus = await connect();
    const topic = `t-lag-${tag()}`;
    const groupId = `g-lag-${tag()}`;
    await bus.ensureTopics([topic], 1);
    await bus.publish(['a', 'b', 'stuck', 'c', 'd'].map((v) => msg(topic, 'k', v)));
    await bus.subscribe({ groupId, topics: [topic], maxAttempts: 1000 }, async (d) => (text(d) === 'stuck' ? { kind: 'retry', error: 'stuck' } : ack));
    await waitUntil(async () => (await bus.lag(groupId)).total === 3, 'lag 3 (stuck, c, d uncommitted)');
    const lag = await bus.lag(groupId);
    expect(lag).toMatchObject({ groupId, total: 3, partitions: [{ topic, partition: 0, high: '5', committed: '2', lag: 3 }] });
    // A bus that never subscribed the group finds its topics from the committed offsets.
    const observer = await connect();
    expect(await observer.lag(groupId)).toMatchObject({ groupId, total: 3, partitions: [{ topic, partition: 0, committed: '2', lag: 3 }] });
    expect((await observer.lag(`never-${tag()}`)).total).toBe(0);
  });

  it('idle() resolves once every subscribed group has handled everything published', async () => {
    const bus = await connect();
    const topic = `t-idle-${tag()}`;
    const next = `${topic}-next`;
    const firstGroup: string[] = [];
    const secondGroup: string[] = [];
    await bus.subscribe({ groupId: `g-a-${tag()}`, topics: [topic] }, async (d) => {
      await sleep(10);
      firstGroup.push(text(d));
      await bus.publish([msg(next, d.key, `${text(d)}'`)]);
      return ack;
    });
    await bus.subscribe({ groupId: `g-b-${tag()}`, topics: [next] }, async (d) => {
      await sleep(10);
      secondGroup.push(text(d));
      return ack;
    });
    await bus.publish(Array.from({ length: 10 }, (_, i) => msg(topic, `k${i}`, `m${i}`)));
    await bus.idle();
    expect(firstGroup).toHaveLength(10);
    expect(secondGroup).toHaveLength(10);
  });

  it('treats a throwing handler as retry', async () => {
    const bus = await connect();
    const topic = `t-throw-${tag()}`;
    const attempts: number[] = [];
    await bus.subscribe({ groupId: `g-${tag()}`, topics: [topic] }, async (d) => {
      attempts.push(d.attempt);
      if (d.attempt < 3) throw new Error('boom');
      return ack;
    });
    await bus.publish([msg(topic, 'k', 'x')]);
    await waitUntil(() => attempts.length === 3, 'three attempts');
    await sleep(300);
    expect(attempts).toEqual([1, 2, 3]);
  });

  it('rejects invalid messages naming the field, and maps an unreachable broker to InfrastructureError', async () => {
    const bus = await connect();
    await expect(bus.publish([{ topic: '', key: 'k', value: Buffer.from('x'), headers: {} }])).rejects.toThrow('messages[0].topic');
    await expect(bus.publish([{ topic: 't', key: 'k', value: 'x' as unknown as Buffer, headers: {} }])).rejects.toThrow('messages[0].value');
    await expect(bus.publish([{ topic: 't', key: 'k', value: Buffer.from('x'), headers: { n: 1 as unknown as string } }])).rejects.toThrow('messages[0].headers.n');
    const [host, port] = brokers.split(',')[0]!.split(':');
    const closedPort = Number(port) === 1 ? 2 : 1;
    await expect(KafkaBus.connect({ brokers: `${host}:${closedPort}`, clientId: 'nobody', logLevel: 'nothing', connectionTimeoutMs: 500, retries: 1 })).rejects.toBeInstanceOf(InfrastructureError);
    await bus.close();
    await expect(bus.publish([msg('t', 'k', 'x')])).rejects.toThrow('closed');
  });
});
