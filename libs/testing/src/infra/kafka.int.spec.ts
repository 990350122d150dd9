import { existsSync } from 'node:fs';
import { Kafka, logLevel, Partitioners } from 'kafkajs';
import { isProcessAlive, kafkaToolingProblem, startKafka, type RunningKafka } from './kafka';

// The launcher itself is under test here, so this file always starts its own broker (it ignores
// OPTEX_TEST_KAFKA_BROKERS). Without Java/Maven it fails under CI and says why elsewhere.
const problem = kafkaToolingProblem();
if (problem && process.env['CI'] !== 'true') {
  console.warn(`skipping the Kafka launcher test outside CI: ${problem}`);
}
const describeKafka = problem && process.env['CI'] !== 'true' ? describe.skip : describe;

describeKafka('startKafka (KRaft single node from Maven Central jars)', () => {
  jest.setTimeout(300_000);
  let kafka: RunningKafka | undefined;

  afterAll(async () => {
    await kafka?.stop();
  });

  it('starts a broker, carries a message end to end, and stops exactly its own process', async () => {
    if (problem) throw new Error(problem);
    kafka = await startKafka({ partitions: 2 });
    console.info(`Kafka up on ${kafka.brokers} (pid ${kafka.pid}) in ${kafka.startedInMs} ms`);
    expect(kafka.brokers).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(isProcessAlive(kafka.pid)).toBe(true);
    expect(existsSync(kafka.dataDir)).toBe(true);

    const client = new Kafka({ clientId: 'launcher-test', brokers: [kafka.brokers], logLevel: logLevel.NOTHING });
    const admin = client.admin();
    await admin.connect();
    expect(await admin.createTopics({ topics: [{ topic: 'launcher-test' }], waitForLeaders: true })).toBe(true);
    const [metadata] = (await admin.fetchTopicMetadata({ topics: ['launcher-test'] })).topics;
    expect(metadata!.partitions).toHaveLength(2); // num.partitions from the options
    await admin.disconnect();

    const producer = client.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    await producer.send({ topic: 'launcher-test', messages: [{ key: 'k', value: 'hello kafka', headers: { h: 'v' } }] });
    await producer.disconnect();

    const consumer = client.consumer({ groupId: 'launcher-test' });
    await consumer.connect();
    await consumer.subscribe({ topic: 'launcher-test', fromBeginning: true });
    const received = await new Promise<{ value: string; header: string }>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no message within 60 s')), 60_000);
      void consumer.run({
        eachMessage: async ({ message }) => {
          clearTimeout(timer);
          resolve({ value: message.value?.toString() ?? '', header: message.headers?.['h']?.toString() ?? '' });
        },
      });
    });
    await consumer.disconnect();
    expect(received).toEqual({ value: 'hello kafka', header: 'v' });

    const { pid, dataDir } = kafka;
    const stopStarted = Date.now();
    await kafka.stop();
    console.info(`Kafka stopped in ${Date.now() - stopStarted} ms`);
    expect(isProcessAlive(pid)).toBe(false);
    expect(existsSync(dataDir)).toBe(false);
    await kafka.stop(); // idempotent
  });

  it('rejects a bad partition count before starting anything', async () => {
    await expect(startKafka({ partitions: 0 })).rejects.toThrow(/partitions must be a positive integer/);
  });
});
