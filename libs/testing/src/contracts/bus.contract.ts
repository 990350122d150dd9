import type { Bus, BusMessage, Consumer, ConsumerOptions, Delivery, HandlerOutcome } from '@optex/ports';
import { sleep, uniqueTag, waitFor } from './wait';

/** Tuning of {@link busContract} for slower adapters (Kafka joins groups in seconds). */
export interface BusContractOptions {
  /** Timeout of each test. @defaultValue 90000 */
  readonly testTimeoutMs?: number;
  /** Longest a message may take to be delivered (including group joins and redelivery backoff). @defaultValue 45000 */
  readonly deliveryTimeoutMs?: number;
  /** How long to watch for deliveries that must not happen. @defaultValue 300 */
  readonly quietPeriodMs?: number;
}

const ack: HandlerOutcome = { kind: 'ack' };

/**
 * The behaviour every {@link Bus} adapter must have, as a jest `describe` block:
 * `busContract('in-memory', async () => new InMemoryBus())`.
 *
 * One bus is created for the whole block and closed after it; consumers a test starts are
 * stopped after it. Every test uses its own topics and groups (random names of `[a-z0-9._-]`).
 * Assumes that a consumer receives every message published after `subscribe()` resolved, and
 * that an `ack` is committed before `stop()` resolves (so a later member of the group resumes
 * after it). Delivery is at least once, so where a rebalance could repeat a message the tests
 * check that every message arrived rather than that it arrived exactly once.
 */
export function busContract(name: string, factory: () => Promise<Bus>, options: BusContractOptions = {}): void {
  const testTimeout = options.testTimeoutMs ?? 90_000;
  const deliveryTimeout = options.deliveryTimeoutMs ?? 45_000;
  const quietPeriod = options.quietPeriodMs ?? 300;

  describe(`Bus contract: ${name}`, () => {
    let bus: Bus;
    const consumers: Consumer[] = [];
    const tag = uniqueTag();
    let counter = 0;
    const unique = (kind: string) => `contract.${tag}.${kind}.${++counter}`;

    beforeAll(async () => {
      bus = await factory();
    }, testTimeout);
    afterEach(async () => {
      await Promise.all(consumers.splice(0).map((c) => c.stop()));
    }, testTimeout);
    afterAll(async () => {
      await bus?.close();
    }, testTimeout);

    const test = (title: string, body: () => Promise<void>) => it(title, body, testTimeout);
    const consume = async (opts: ConsumerOptions, handler: (d: Delivery) => Promise<HandlerOutcome>): Promise<Consumer> => {
      const consumer = await bus.subscribe(opts, handler);
      consumers.push(consumer);
      return consumer;
    };
    const message = (topic: string, key: string, value: string, headers: Record<string, string> = {}): BusMessage => ({ topic, key, value: Buffer.from(value), headers });

    test('delivers a published message with its key, value, headers, partition, offset and attempt 1', async () => {
      const topic = unique('basic');
      const seen: Delivery[] = [];
      await consume({ groupId: unique('g'), topics: [topic] }, async (d) => {
        seen.push(d);
        return ack;
      });
      await bus.publish([message(topic, 'acct/us-east-1/i-1', '{"hello":"world"}', { 'content-type': 'application/json', ce_type: 'Test' })]);
      await waitFor(() => seen.length >= 1, deliveryTimeout, 'the message');
      const [d] = seen;
      expect({ topic: d.topic, key: d.key, value: d.value.toString(), attempt: d.attempt }).toEqual({ topic, key: 'acct/us-east-1/i-1', value: '{"hello":"world"}', attempt: 1 });
      expect(d.headers).toMatchObject({ 'content-type': 'application/json', ce_type: 'Test' });
      expect(Number.isInteger(d.partition) && d.partition >= 0).toBe(true);
      expect(d.offset).toMatch(/^\d+$/);
    });

    test('every group receives every message', async () => {
      const topic = unique('fanout');
      const values = Array.from({ length: 12 }, (_, i) => `m${i}`);
      const byGroup = new Map<string, Set<string>>();
      for (const group of [unique('g1'), unique('g2')]) {
        const got = new Set<string>();
        byGroup.set(group, got);
        await consume({ groupId: group, topics: [topic] }, async (d) => {
          got.add(d.value.toString());
          return ack;
        });
      }
      await bus.publish(values.map((v, i) => message(topic, `key-${i % 4}`, v)));
      await waitFor(() => [...byGroup.values()].every((got) => got.size === values.length), deliveryTimeout, 'both groups to receive all 12 messages');
      for (const got of byGroup.values()) expect([...got].sort()).toEqual([...values].sort());
    });

    test('consumers of one group share the messages and together handle all of them', async () => {
      const topic = unique('shared');
      const group = unique('g');
      const values = Array.from({ length: 30 }, (_, i) => `m${i}`);
      const handled = new Set<string>();
      const handler = async (d: Delivery) => {
        handled.add(d.value.toString());
        return ack;
      };
      await consume({ groupId: group, topics: [topic] }, handler);
      await consume({ groupId: group, topics: [topic] }, handler);
      await bus.publish(values.map((v, i) => message(topic, `key-${i % 10}`, v)));
      await waitFor(() => handled.size === values.length, deliveryTimeout, 'all 30 messages to be handled by the group');
      expect([...handled].sort()).toEqual([...values].sort());
    });

    test('each key is owned by the one member of a group its messages are delivered to; a member that stops owns none', async () => {
      const topic = unique('owned');
      const group = unique('g');
      const keys = Array.from({ length: 16 }, (_, i) => `111122223333/region-${i}`);
      const receivers = new Map<string, Consumer>();
      const members: Consumer[] = [];
      for (let m = 0; m < 2; m++) {
        members.push(
          await consume({ groupId: group, topics: [topic] }, async (d) => {
            receivers.set(d.key, members[m]);
            return ack;
          }),
        );
      }
      const [a, b] = members;
      // Kafka assigns partitions when the group settles: from then on, each key has exactly one owner.
      await waitFor(() => keys.every((key) => a.owns(topic, key) !== b.owns(topic, key)), deliveryTimeout, 'the group to assign every partition');
      await bus.publish(keys.map((key) => message(topic, key, key)));
      await waitFor(() => receivers.size === keys.length, deliveryTimeout, 'a message of every key');
      for (const key of keys) expect({ key, owner: receivers.get(key)?.owns(topic, key) }).toEqual({ key, owner: true });
      expect(keys.some((key) => a.owns(unique('not-consumed'), key))).toBe(false);
      await b.stop();
      expect(keys.some((key) => b.owns(topic, key))).toBe(false);
      await waitFor(() => keys.every((key) => a.owns(topic, key)), deliveryTimeout, 'the remaining member to own every key');
    });

    test('messages with one key are handled in order, one at a time', async () => {
      const topic = unique('order');
      const keys = ['acct/eu-west-1/i-a', 'acct/eu-west-1/i-b', 'acct/eu-west-1/i-c'];
      const handled = new Map<string, number[]>(keys.map((k) => [k, []]));
      const running = new Map<string, number>();
      let overlap = false;
      await consume({ groupId: unique('g'), topics: [topic] }, async (d) => {
        const now = (running.get(d.key) ?? 0) + 1;
        running.set(d.key, now);
        if (now > 1) overlap = true;
        await sleep(Number(d.value.toString()) % 3);
        running.set(d.key, (running.get(d.key) ?? 1) - 1);
        handled.get(d.key)!.push(Number(d.value.toString()));
        return ack;
      });
      const messages = Array.from({ length: 45 }, (_, i) => message(topic, keys[i % 3], String(i)));
      await bus.publish(messages.slice(0, 20));
      await bus.publish(messages.slice(20));
      await waitFor(() => [...handled.values()].every((seq) => seq.length >= 15), deliveryTimeout, 'all 45 messages');
      for (const [key, seq] of handled) {
        const expected = messages.filter((m) => m.key === key).map((m) => Number(m.value.toString()));
        expect(firstOccurrences(seq)).toEqual(expected);
      }
      expect(overlap).toBe(false);
    });

    test('a message is redelivered with a growing attempt until acked, and later messages of its key wait for it', async () => {
      const topic = unique('retry');
      const log: string[] = [];
      const deliveries: Delivery[] = [];
      await consume({ groupId: unique('g'), topics: [topic], maxAttempts: 5 }, async (d) => {
        log.push(`${d.value.toString()}#${d.attempt}`);
        deliveries.push(d);
        if (d.value.toString() === 'first' && d.attempt < 3) return { kind: 'retry', error: new Error('not yet') };
        return ack;
      });
      await bus.publish([message(topic, 'same-key', 'first'), message(topic, 'same-key', 'second')]);
      await waitFor(() => log.includes('second#1'), deliveryTimeout, 'the second message');
      await sleep(quietPeriod);
      expect(log).toEqual(['first#1', 'first#2', 'first#3', 'second#1']);
      const firsts = deliveries.filter((d) => d.value.toString() === 'first');
      expect(new Set(firsts.map((d) => `${d.partition}/${d.offset}`)).size).toBe(1);
    });

    test('a handler that throws counts as a retry', async () => {
      const topic = unique('throws');
      const attempts: number[] = [];
      await consume({ groupId: unique('g'), topics: [topic] }, async (d) => {
        attempts.push(d.attempt);
        if (d.attempt === 1) throw new Error('transient');
        return ack;
      });
      await bus.publish([message(topic, 'k', 'v')]);
      await waitFor(() => attempts.length >= 2, deliveryTimeout, 'the redelivery');
      await sleep(quietPeriod);
      expect(attempts).toEqual([1, 2]);
    });

    test('after maxAttempts the message goes to the dead-letter topic with reason, attempts and original topic, then the next one is delivered', async () => {
      const topic = unique('poison');
      const dlq = unique('poison.dlq');
      const log: string[] = [];
      const dead: Delivery[] = [];
      await consume({ groupId: unique('dlq-reader'), topics: [dlq] }, async (d) => {
        dead.push(d);
        return ack;
      });
      await consume({ groupId: unique('g'), topics: [topic], maxAttempts: 3, deadLetterTopic: dlq }, async (d) => {
        log.push(`${d.value.toString()}#${d.attempt}`);
        return d.value.toString() === 'poison' ? { kind: 'retry', error: new Error('boom: cannot parse') } : ack;
      });
      await bus.publish([message(topic, 'k1', 'poison', { trace: 't-1' }), message(topic, 'k1', 'fine')]);
      await waitFor(() => dead.length >= 1 && log.includes('fine#1'), deliveryTimeout, 'the dead letter and the next message');
      await sleep(quietPeriod);
      expect(log).toEqual(['poison#1', 'poison#2', 'poison#3', 'fine#1']);
      expect(dead).toHaveLength(1);
      expect(dead[0].key).toBe('k1');
      expect(dead[0].value.toString()).toBe('poison');
      expect(dead[0].headers).toMatchObject({ trace: 't-1', 'x-optex-dlq-attempts': '3', 'x-optex-original-topic': topic });
      expect(dead[0].headers['x-optex-dlq-reason']).toBe('gave up after 3 attempts: Error: boom: cannot parse');
    });

    test("'pause' (an outage) redelivers the same attempt however often it takes, never dead-letters, and later messages of its key wait", async () => {
      const topic = unique('outage');
      const dlq = unique('outage.dlq');
      const log: string[] = [];
      const dead: Delivery[] = [];
      await consume({ groupId: unique('dlq-reader'), topics: [dlq] }, async (d) => {
        dead.push(d);
        return ack;
      });
      let outage = 5;
      await consume({ groupId: unique('g'), topics: [topic], maxAttempts: 2, deadLetterTopic: dlq }, async (d) => {
        log.push(`${d.value.toString()}#${d.attempt}`);
        if (d.value.toString() === 'first' && outage-- > 0) return { kind: 'pause', error: new Error('store unavailable') };
        return ack;
      });
      await bus.publish([message(topic, 'k', 'first'), message(topic, 'k', 'second')]);
      await waitFor(() => log.includes('second#1'), deliveryTimeout, 'the message behind the outage');
      await sleep(quietPeriod);
      expect(log).toEqual(['first#1', 'first#1', 'first#1', 'first#1', 'first#1', 'first#1', 'second#1']);
      expect(dead).toEqual([]);
    });

    test("a 'dead-letter' outcome publishes the message to the dead-letter topic at once, with the handler's reason", async () => {
      const topic = unique('reject');
      const dlq = unique('reject.dlq');
      const attempts: number[] = [];
      const dead: Delivery[] = [];
      await consume({ groupId: unique('dlq-reader'), topics: [dlq] }, async (d) => {
        dead.push(d);
        return ack;
      });
      await consume({ groupId: unique('g'), topics: [topic], deadLetterTopic: dlq }, async (d) => {
        attempts.push(d.attempt);
        return { kind: 'dead-letter', reason: 'invalid recommendation: accountId must be 12 digits' };
      });
      await bus.publish([message(topic, 'k', 'bad', { 'content-type': 'application/json' })]);
      await waitFor(() => dead.length >= 1, deliveryTimeout, 'the dead letter');
      await sleep(quietPeriod);
      expect(attempts).toEqual([1]);
      expect(dead[0].value.toString()).toBe('bad');
      expect(dead[0].headers).toMatchObject({
        'content-type': 'application/json',
        'x-optex-dlq-reason': 'invalid recommendation: accountId must be 12 digits',
        'x-optex-dlq-attempts': '1',
        'x-optex-original-topic': topic,
      });
    });

    test('a consumer joining a group later resumes after the last committed offset', async () => {
      const topic = unique('resume');
      const group = unique('g');
      const first: string[] = [];
      const early = await consume({ groupId: group, topics: [topic] }, async (d) => {
        first.push(d.value.toString());
        return ack;
      });
      const before = Array.from({ length: 6 }, (_, i) => `before-${i}`);
      await bus.publish(before.map((v, i) => message(topic, `key-${i % 3}`, v)));
      await waitFor(() => new Set(first).size === before.length, deliveryTimeout, 'the first consumer to handle 6 messages');
      await early.stop();

      const after = Array.from({ length: 6 }, (_, i) => `after-${i}`);
      await bus.publish(after.map((v, i) => message(topic, `key-${i % 3}`, v)));
      const second: string[] = [];
      await consume({ groupId: group, topics: [topic] }, async (d) => {
        second.push(d.value.toString());
        return ack;
      });
      await waitFor(() => new Set(second).size >= after.length, deliveryTimeout, 'the late joiner to handle the 6 later messages');
      await sleep(quietPeriod);
      expect([...new Set(second)].sort()).toEqual([...after].sort());
    });
  });
}

/** The sequence without repeats (at-least-once delivery may repeat a message after a rebalance). */
function firstOccurrences(values: readonly number[]): number[] {
  const seen = new Set<number>();
  return values.filter((v) => (seen.has(v) ? false : (seen.add(v), true)));
}
