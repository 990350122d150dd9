import { InfrastructureError, type Consumer, type Delivery, type HandlerOutcome } from '@optex/ports';
import { busContract } from '@optex/testing';
import { InMemoryBus } from './in-memory-bus';
import { DLQ_HEADERS } from '../dead-letter';
import { partitionForKey } from './partitioner';
import { isSealedBody, sealBody } from '../sealed-bodies';

busContract('in-memory', async () => new InMemoryBus(), { testTimeoutMs: 10_000, deliveryTimeoutMs: 5_000 });

const ack: HandlerOutcome = { kind: 'ack' };
const recordValues = (into: string[]) => async (d: Delivery): Promise<HandlerOutcome> => {
  into.push(d.value.toString());
  return ack;
};
const recordDeliveries = (into: Delivery[]) => async (d: Delivery): Promise<HandlerOutcome> => {
  into.push(d);
  return ack;
};
const msg = (topic: string, key: string, value: string, headers: Record<string, string> = {}) => ({ topic, key, value: Buffer.from(value), headers });

describe('InMemoryBus (specifics)', () => {
  let bus: InMemoryBus;
  beforeEach(() => {
    bus = new InMemoryBus();
  });
  afterEach(async () => {
    await bus.close();
  });

  it("chooses partitions with Kafka's default partitioner (murmur2, as kafkajs computes it)", () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- kafkajs' own murmur2 as the oracle
    const kafkaMurmur2 = require('kafkajs/src/producer/partitioners/default/murmur2') as (key: string) => number;
    const keys = ['', 'a', 'ab', 'abc', 'abcd', 'abcde', '123456789012/us-east-1/i-0abc123', 'ümlaut/日本/✓', ...Array.from({ length: 200 }, (_, i) => `acct-${i}/eu-west-1/vol-${i * 7919}`)];
    for (const key of keys) {
      for (const partitions of [1, 3, 4, 12]) expect([key, partitionForKey(key, partitions)]).toEqual([key, (kafkaMurmur2(key) & 0x7fffffff) % partitions]);
    }
  });

  it('a partition whose handler settles at once handles several messages a turn, and still lets timers run within a backlog', async () => {
    const handledAt: number[] = [];
    let turn = 0; // turns of the event loop, counted by a chain of setImmediate
    const countTurns = (): void => {
      turn++;
      if (!done) setImmediate(countTurns);
    };
    let done = false;
    setImmediate(countTurns);
    let handledWhenTimerFired: number | undefined;
    await bus.subscribe({ groupId: 'g', topics: ['t'] }, async () => {
      handledAt.push(turn);
      const until = performance.now() + 0.05; // each handling takes 50 µs of CPU
      while (performance.now() < until);
      return ack;
    });
    await new Promise((resolve) => setImmediate(resolve));
    const total = 2000; // ~100 ms of handling on one partition (one key)
    await bus.publish(Array.from({ length: total }, (_, i) => msg('t', 'one-key', String(i))));
    setTimeout(() => (handledWhenTimerFired = handledAt.length), 0);
    await bus.idle();
    done = true;
    // the timer ran while the backlog was being handled, not after it
    expect(handledWhenTimerFired).toBeDefined();
    expect(handledWhenTimerFired as number).toBeLessThan(total);
    // and messages were not handled one turn of the event loop each
    expect(new Set(handledAt).size).toBeLessThan(total / 4);
  });

  it('a topic has 4 partitions by default; one key always lands on one partition, with consecutive offsets', async () => {
    const seen: Delivery[] = [];
    await bus.subscribe({ groupId: 'g', topics: ['t'] }, async (d) => {
      seen.push(d);
      return ack;
    });
    const keys = Array.from({ length: 40 }, (_, i) => `key-${i}`);
    await bus.publish([...keys, ...keys].map((k, i) => msg('t', k, String(i))));
    await bus.idle();
    expect(new Set(seen.map((d) => d.partition))).toEqual(new Set([0, 1, 2, 3]));
    for (const key of keys) {
      const ofKey = seen.filter((d) => d.key === key);
      expect(ofKey).toHaveLength(2);
      expect(ofKey[0].partition).toBe(ofKey[1].partition);
      expect(ofKey[0].partition).toBe(partitionForKey(key, 4));
    }
    for (let p = 0; p < 4; p++) {
      const offsets = seen.filter((d) => d.partition === p).map((d) => Number(d.offset));
      expect(offsets).toEqual(offsets.map((_, i) => i));
    }
  });

  it('honours per-topic partition counts', async () => {
    const custom = new InMemoryBus({ partitions: 2, topicPartitions: { wide: 8 } });
    const partitions = new Map<string, Set<number>>([
      ['wide', new Set()],
      ['narrow', new Set()],
    ]);
    await custom.subscribe({ groupId: 'g', topics: ['wide', 'narrow'] }, async (d) => {
      partitions.get(d.topic)!.add(d.partition);
      return ack;
    });
    await custom.publish(Array.from({ length: 100 }, (_, i) => msg(i % 2 ? 'wide' : 'narrow', `k${i}`, '')));
    await custom.idle();
    expect([...partitions.get('wide')!].sort()).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect([...partitions.get('narrow')!].sort()).toEqual([0, 1]);
    await custom.close();
  });

  it('consumers of one group split the partitions: each message is handled exactly once, each partition by one consumer', async () => {
    const byConsumer: Delivery[][] = [[], [], []];
    for (const seen of byConsumer) {
      await bus.subscribe({ groupId: 'shared', topics: ['t'] }, async (d) => {
        seen.push(d);
        return ack;
      });
    }
    await new Promise((resolve) => setImmediate(resolve)); // consumers take their partitions on the next turn of the event loop
    await bus.publish(Array.from({ length: 60 }, (_, i) => msg('t', `k${i}`, String(i))));
    await bus.idle();
    const all = byConsumer.flat().map((d) => d.value.toString());
    expect(all.sort()).toEqual(Array.from({ length: 60 }, (_, i) => String(i)).sort());
    const owners = new Map<number, number>();
    byConsumer.forEach((seen, c) =>
      seen.forEach((d) => {
        expect(owners.get(d.partition) ?? c).toBe(c);
        owners.set(d.partition, c);
      }),
    );
    expect(byConsumer.every((seen) => seen.length > 0)).toBe(true);
  });

  it('when a consumer stops, the rest of the group takes over its partitions from the committed offset', async () => {
    const a: string[] = [];
    const b: string[] = [];
    const consumerA = await bus.subscribe({ groupId: 'g', topics: ['t'] }, recordValues(a));
    await bus.subscribe({ groupId: 'g', topics: ['t'] }, recordValues(b));
    await bus.publish(Array.from({ length: 20 }, (_, i) => msg('t', `k${i}`, `first-${i}`)));
    await bus.idle();
    expect(a.length).toBeGreaterThan(0);
    await consumerA.stop();
    await bus.publish(Array.from({ length: 20 }, (_, i) => msg('t', `k${i}`, `second-${i}`)));
    await bus.idle();
    expect(b.filter((v) => v.startsWith('second-'))).toHaveLength(20);
    expect(a.filter((v) => v.startsWith('second-'))).toHaveLength(0);
    expect([...a, ...b]).toHaveLength(40);
  });

  it('a group subscribing for the first time starts at the beginning of the retained messages', async () => {
    await bus.publish([msg('t', 'k', 'published-before-anyone-subscribed')]);
    const seen: string[] = [];
    await bus.subscribe({ groupId: 'newcomer', topics: ['t'] }, recordValues(seen));
    await bus.idle();
    expect(seen).toEqual(['published-before-anyone-subscribed']);
  });

  it('with releaseConsumed, drops what every subscribed group acknowledged; a later group starts after it', async () => {
    const releasing = new InMemoryBus({ partitions: 1, releaseConsumed: true });
    try {
      const fast: string[] = [];
      let releaseSlow: () => void = () => undefined;
      const slowGate = new Promise<void>((resolve) => (releaseSlow = resolve));
      const slow: string[] = [];
      await releasing.subscribe({ groupId: 'fast', topics: ['t'] }, recordValues(fast));
      await releasing.subscribe({ groupId: 'slow', topics: ['t'] }, async (d) => {
        await slowGate;
        slow.push(d.value.toString());
        return ack;
      });
      await releasing.publish([msg('t', 'k', 'one'), msg('t', 'k', 'two')]);
      await new Promise((r) => setTimeout(r, 20));
      expect(fast).toEqual(['one', 'two']);
      await releasing.subscribe({ groupId: 'early-late', topics: ['t'] }, recordValues([]));
      releaseSlow();
      await releasing.idle();
      expect(slow).toEqual(['one', 'two']);
      const late: string[] = [];
      await releasing.subscribe({ groupId: 'late', topics: ['t'] }, recordValues(late));
      await releasing.publish([msg('t', 'k', 'three')]);
      await releasing.idle();
      expect(late).toEqual(['three']);
      expect(slow).toEqual(['one', 'two', 'three']);
    } finally {
      await releasing.close();
    }
  });

  it('a handler may use its consumer on the very first delivery (deliveries start after subscribe() returned)', async () => {
    await bus.publish([msg('t', 'k', 'one'), msg('t', 'k', 'two')]);
    const seen: string[] = [];
    const consumer: Consumer = await bus.subscribe({ groupId: 'g', topics: ['t'] }, async (d) => {
      seen.push(d.value.toString());
      void consumer.stop(); // not awaited: it settles once this handler has returned
      return ack;
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(seen).toEqual(['one']);
  });

  describe('idle()', () => {
    it('resolves at once when nothing is pending', async () => {
      await expect(bus.idle()).resolves.toBeUndefined();
      await bus.publish([msg('nobody-listens', 'k', 'v')]);
      await expect(bus.idle()).resolves.toBeUndefined();
    });

    it('waits for retries and for messages that handlers publish, across groups', async () => {
      const handledDownstream: string[] = [];
      await bus.subscribe({ groupId: 'upstream', topics: ['in'] }, async (d) => {
        if (d.attempt < 3) return { kind: 'retry', error: new Error('later') };
        await bus.publish([msg('out', d.key, `${d.value.toString()}!`)]);
        return ack;
      });
      await bus.subscribe({ groupId: 'downstream', topics: ['out'] }, async (d) => {
        await new Promise((resolve) => setTimeout(resolve, 10));
        handledDownstream.push(d.value.toString());
        return ack;
      });
      await bus.publish([msg('in', 'a', 'x'), msg('in', 'b', 'y')]);
      await bus.idle();
      expect(handledDownstream.sort()).toEqual(['x!', 'y!']);
    });

    it('waits for every subscribed group, and not for a group whose consumers all stopped', async () => {
      let release: () => void = () => undefined;
      const gate = new Promise<void>((resolve) => (release = resolve));
      const slow = await bus.subscribe({ groupId: 'slow', topics: ['t'] }, async () => {
        await gate;
        return ack;
      });
      await bus.subscribe({ groupId: 'fast', topics: ['t'] }, async () => ack);
      await bus.publish([msg('t', 'k', 'v')]);
      let idle = false;
      const waiting = bus.idle().then(() => (idle = true));
      await new Promise((resolve) => setTimeout(resolve, 30));
      expect(idle).toBe(false);
      release();
      await waiting;
      await bus.publish([msg('t', 'k', 'w')]);
      const stopping = slow.stop();
      await bus.idle();
      await stopping;
    });

    it('rejects when the bus closes first', async () => {
      let release: () => void = () => undefined;
      const gate = new Promise<void>((resolve) => (release = resolve));
      await bus.subscribe({ groupId: 'g', topics: ['t'] }, async () => {
        await gate;
        return ack;
      });
      await bus.publish([msg('t', 'k', 'stuck')]);
      const waiting = bus.idle();
      await new Promise((resolve) => setTimeout(resolve, 10));
      const closing = bus.close();
      await expect(waiting).rejects.toBeInstanceOf(InfrastructureError);
      release();
      await closing;
    });
  });

  describe('retries and dead letters', () => {
    it('gives up after 5 attempts by default and waits longer between later attempts', async () => {
      const slowBus = new InMemoryBus({ retryBackoffMs: 20, maxRetryBackoffMs: 1000 });
      const times: number[] = [];
      const dead: Delivery[] = [];
      await slowBus.subscribe({ groupId: 'dlq', topics: ['t.dlq'] }, recordDeliveries(dead));
      await slowBus.subscribe({ groupId: 'g', topics: ['t'], deadLetterTopic: 't.dlq' }, async () => {
        times.push(Date.now());
        return { kind: 'retry', error: 'plain string error' };
      });
      await slowBus.publish([msg('t', 'k', 'v')]);
      await slowBus.idle();
      expect(times).toHaveLength(5);
      const gaps = times.slice(1).map((t, i) => t - times[i]);
      [20, 40, 80, 160].forEach((min, i) => expect(gaps[i]).toBeGreaterThanOrEqual(min - 2));
      expect(dead[0].headers).toMatchObject({
        [DLQ_HEADERS.attempts]: '5',
        [DLQ_HEADERS.reason]: 'gave up after 5 attempts: plain string error',
        [DLQ_HEADERS.originalTopic]: 't',
        [DLQ_HEADERS.originalPartition]: String(partitionForKey('k', 4)),
        [DLQ_HEADERS.originalOffset]: '0',
      });
      await slowBus.close();
    });

    it('without a dead-letter topic, reports the message to onDiscard, acks it and goes on', async () => {
      const discarded: [string, string][] = [];
      const quiet = new InMemoryBus({ onDiscard: (d, reason) => discarded.push([d.value.toString(), reason]) });
      const handled: string[] = [];
      await quiet.subscribe({ groupId: 'g', topics: ['t'], maxAttempts: 2 }, async (d) => {
        handled.push(`${d.value.toString()}#${d.attempt}`);
        if (d.value.toString() === 'bad') return { kind: 'retry', error: new Error('nope') };
        if (d.value.toString() === 'worse') return { kind: 'dead-letter', reason: 'poison' };
        return ack;
      });
      await quiet.publish([msg('t', 'k', 'bad'), msg('t', 'k', 'worse'), msg('t', 'k', 'good')]);
      await quiet.idle();
      expect(handled).toEqual(['bad#1', 'bad#2', 'worse#1', 'good#1']);
      expect(discarded).toEqual([
        ['bad', 'gave up after 2 attempts: Error: nope'],
        ['worse', 'poison'],
      ]);
      await quiet.close();
    });

    it('a handler resolving to something that is not an outcome is retried, with an error saying so', async () => {
      const dead: Delivery[] = [];
      await bus.subscribe({ groupId: 'dlq', topics: ['t.dlq'] }, recordDeliveries(dead));
      await bus.subscribe({ groupId: 'g', topics: ['t'], maxAttempts: 2, deadLetterTopic: 't.dlq' }, (async () => undefined) as never);
      await bus.publish([msg('t', 'k', 'v')]);
      await bus.idle();
      expect(dead[0].headers[DLQ_HEADERS.reason]).toMatch(/handler of group g resolved to undefined instead of \{kind: 'ack' \| 'retry' \| 'pause' \| 'dead-letter'\}/);
    });
  });

  describe('stop and close', () => {
    it('stop() waits for the running handler; from inside a handler, stop() and close() stop delivery at once and settle after it returns', async () => {
      let running = false;
      const consumer = await bus.subscribe({ groupId: 'g', topics: ['t'] }, async () => {
        running = true;
        await new Promise((resolve) => setTimeout(resolve, 30));
        running = false;
        return ack;
      });
      await bus.publish([msg('t', 'k', 'v')]);
      await new Promise((resolve) => setTimeout(resolve, 5));
      expect(running).toBe(true);
      await consumer.stop();
      expect(running).toBe(false);

      // From inside a handler, stop() and close() deliver nothing more of the partition and settle once the handler has returned.
      const stopFromInside = async (topic: string, stop: (consumer: Consumer) => Promise<void>) => {
        const handled: string[] = [];
        let settled = false;
        let settledBeforeReturn: boolean | undefined;
        const consumer: Consumer = await bus.subscribe({ groupId: topic, topics: [topic] }, async (delivery) => {
          handled.push(delivery.value.toString());
          void stop(consumer).then(() => (settled = true));
          await new Promise((resolve) => setTimeout(resolve, 10));
          settledBeforeReturn = settled;
          return ack;
        });
        await bus.publish([msg(topic, 'k', 'one'), msg(topic, 'k', 'two')]);
        await waitUntil(() => settled);
        return { handled, settledBeforeReturn };
      };
      await expect(stopFromInside('stopper', (consumer) => consumer.stop())).resolves.toEqual({ handled: ['one'], settledBeforeReturn: false });
      await expect(stopFromInside('closer', () => bus.close())).resolves.toEqual({ handled: ['one'], settledBeforeReturn: false });
      await bus.close();
    });

    it('after close(), publish and subscribe fail with InfrastructureError and pending retries stop', async () => {
      let calls = 0;
      await bus.subscribe({ groupId: 'g', topics: ['t'] }, async () => {
        calls++;
        return { kind: 'retry', error: new Error('again') };
      });
      await bus.publish([msg('t', 'k', 'v')]);
      await new Promise((resolve) => setTimeout(resolve, 8));
      await bus.close();
      const after = calls;
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(calls).toBe(after);
      await expect(bus.publish([msg('t', 'k', 'v')])).rejects.toBeInstanceOf(InfrastructureError);
      await expect(bus.subscribe({ groupId: 'g', topics: ['t'] }, async () => ack)).rejects.toBeInstanceOf(InfrastructureError);
      await expect(bus.idle()).rejects.toBeInstanceOf(InfrastructureError);
    });
  });

  it('keeps its own copy of a published value', async () => {
    const value = Buffer.from('original');
    const seen: string[] = [];
    await bus.publish([{ topic: 't', key: 'k', value, headers: {} }]);
    value.write('mutated!');
    await bus.subscribe({ groupId: 'g', topics: ['t'] }, recordValues(seen));
    await bus.idle();
    expect(seen).toEqual(['original']);
  });

  it('keeps one copy of a body published to several topics at once, so every delivery of it is the same buffer', async () => {
    const value = Buffer.from('one body');
    const bodies: Buffer[] = [];
    await bus.publish([{ topic: 't', key: 'k', value, headers: {} }, { topic: 'u', key: 'other', value, headers: {} }, { topic: 'u', key: 'k', value: Buffer.from('one body'), headers: {} }]);
    await bus.subscribe({ groupId: 'g', topics: ['t', 'u'] }, async (d) => {
      bodies.push(d.value);
      return ack;
    });
    await bus.idle();
    expect(bodies).toHaveLength(3);
    expect(new Set(bodies).size).toBe(2); // one copy of the shared body (two deliveries), one of the other body
    expect(bodies.every((b) => b !== value && b.toString() === 'one body')).toBe(true);
  });

  it('delivers a sealed body (its maker never changes it) as it is, to every topic and group, and still copies an unsealed one', async () => {
    const sealed = sealBody(Buffer.from('sealed'));
    const plain = Buffer.from('plain');
    const bodies: Buffer[] = [];
    await bus.publish([{ topic: 't', key: 'k', value: sealed, headers: {} }, { topic: 'u', key: 'k', value: sealed, headers: {} }, { topic: 't', key: 'k', value: plain, headers: {} }]);
    for (const groupId of ['g1', 'g2']) {
      await bus.subscribe({ groupId, topics: ['t', 'u'] }, async (d) => {
        bodies.push(d.value);
        return ack;
      });
    }
    await bus.idle();
    expect(bodies.filter((b) => b === sealed)).toHaveLength(4);
    expect(bodies.filter((b) => b.toString() === 'plain').every((b) => b !== plain)).toBe(true);
    expect(isSealedBody(plain)).toBe(false);
  });

  it('keeps one frozen copy of headers the messages of a publish share, which later changes to the given object do not reach', async () => {
    const headers: Record<string, string> = { h: 'original' };
    const seen: { topic: string; headers: Readonly<Record<string, string>> }[] = [];
    await bus.publish([{ topic: 't', key: 'k', value: Buffer.from('1'), headers }, { topic: 'u', key: 'other', value: Buffer.from('2'), headers }]);
    headers['h'] = 'mutated';
    await bus.subscribe({ groupId: 'g', topics: ['t', 'u'] }, async (d) => {
      seen.push({ topic: d.topic, headers: d.headers });
      return ack;
    });
    await bus.idle();
    expect(seen.map((s) => s.headers['h'])).toEqual(['original', 'original']);
    expect(seen[0].headers).toBe(seen[1].headers);
    expect(seen[0].headers).not.toBe(headers);
    expect(Object.isFrozen(seen[0].headers)).toBe(true);
  });

  it('delivers frozen headers (which cannot change after the publish) as they are, and still checks their values', async () => {
    const headers = Object.freeze({ h: 'fixed' });
    const seen: object[] = [];
    await bus.publish([{ topic: 't', key: 'k', value: Buffer.from('1'), headers }]);
    await bus.subscribe({ groupId: 'g', topics: ['t'] }, async (d) => {
      seen.push(d.headers);
      return ack;
    });
    await bus.idle();
    expect(seen).toEqual([headers]);
    expect(seen[0]).toBe(headers);
    await expect(bus.publish([{ topic: 't', key: 'k', value: Buffer.from('2'), headers: Object.freeze({ n: 1 as never }) }])).rejects.toThrow(/messages\[0\]\.headers\["n"\]/);
  });

  it("reports each group's lag per topic: what it has not acknowledged yet", async () => {
    await bus.publish([msg('t', 'a', '1'), msg('t', 'b', '2'), msg('t', 'c', '3'), msg('u', 'a', '4')]);
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    await bus.subscribe({ groupId: 'fast', topics: ['t', 'u'] }, async () => ack);
    await bus.subscribe({ groupId: 'slow', topics: ['t'] }, async () => {
      await gate;
      return ack;
    });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(bus.lag()).toEqual([
      { group: 'fast', topic: 't', messages: 0 },
      { group: 'fast', topic: 'u', messages: 0 },
      { group: 'slow', topic: 't', messages: 3 },
    ]);
    release();
    await bus.idle();
    expect(bus.lag().every((l) => l.messages === 0)).toBe(true);
  });

  it('rejects bad arguments with errors naming the field', async () => {
    await expect(bus.publish([msg('', 'k', 'v')])).rejects.toThrow(/messages\[0\]\.topic/);
    await expect(bus.publish([msg('t', 'k', 'v'), { topic: 't', key: 'k', value: 'text' as never, headers: {} }])).rejects.toThrow(/messages\[1\]\.value must be a Buffer/);
    await expect(bus.publish([{ ...msg('t', 'k', 'v'), headers: { n: 1 as never } }])).rejects.toThrow(/messages\[0\]\.headers\["n"\]/);
    await expect(bus.subscribe({ groupId: '', topics: ['t'] }, async () => ack)).rejects.toThrow(/groupId/);
    await expect(bus.subscribe({ groupId: 'g', topics: [] }, async () => ack)).rejects.toThrow(/topics/);
    await expect(bus.subscribe({ groupId: 'g', topics: ['t'], maxAttempts: 0 }, async () => ack)).rejects.toThrow(/maxAttempts/);
    expect(() => new InMemoryBus({ partitions: 0 })).toThrow(/partitions/);
    expect(() => new InMemoryBus({ retryBackoffMs: -1 })).toThrow(/retryBackoffMs/);
  });
});

async function waitUntil(condition: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}
