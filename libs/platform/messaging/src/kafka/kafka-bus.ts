import type { ConnectionOptions } from 'node:tls';
import { Kafka, KafkaJSError, logLevel as KafkaLogLevel, Partitioners, type Admin, type LogEntry, type Producer, type SASLOptions } from 'kafkajs';
import { silentLogger, type Bus, type BusMessage, type Consumer, type ConsumerOptions, type Delivery, type HandlerOutcome, type Logger } from '@optex/ports';
import { KafkaSubscription, type RetryBackoff } from './kafka-consumer';
import { translating } from './kafka-errors';

/** How many times {@link KafkaBus.ensureTopics} tries while Kafka answers with retriable errors. */
const ENSURE_TOPICS_ATTEMPTS = 8;

/** The SASL mechanisms the bus authenticates with (kafkajs's built-in ones that take a username and a password). */
export const KAFKA_SASL_MECHANISMS = ['plain', 'scram-sha-256', 'scram-sha-512'] as const;
export type KafkaSaslMechanism = (typeof KAFKA_SASL_MECHANISMS)[number];

/** SASL credentials for the brokers (kafkajs `sasl`). */
export interface KafkaSasl {
  readonly mechanism: KafkaSaslMechanism;
  readonly username: string;
  readonly password: string;
}

/** kafkajs's own log levels, by name. */
export type KafkaLogLevelName = 'nothing' | 'error' | 'warn' | 'info' | 'debug';

export interface KafkaBusOptions {
  /** Bootstrap brokers: `host:port`, a comma-separated list, or an array. */
  readonly brokers: string | readonly string[];
  readonly clientId: string;
  /** Partitions of the topics the bus creates (see {@link KafkaBusOptions.createTopics}). @defaultValue 3 */
  readonly partitions?: number;
  /** kafkajs log level. @defaultValue 'error' */
  readonly logLevel?: KafkaLogLevelName;
  /**
   * Where kafkajs and the bus log. The bus labels each line with its `component` (`kafkajs`, `kafka-bus`,
   * `kafka-consumer`), so give a logger that binds no `component` of its own (pino would repeat the key).
   * @defaultValue kafkajs's console logger for kafkajs, nothing for the bus
   */
  readonly logger?: Logger;
  /**
   * Create a topic (with `partitions` partitions) before the bus first publishes to it or
   * subscribes to it, when it does not exist. Off: topics must exist (see {@link KafkaBus.ensureTopics}).
   * @defaultValue true
   */
  readonly createTopics?: boolean;
  /** Backoff between redeliveries of a message whose handler asked for a retry. */
  readonly retryBackoff?: RetryBackoff;
  /**
   * Consumer group session timeout: how long the broker waits for a silent member before its partitions go to the others
   * (the broker allows 6000–300000 by default). Kept short so a killed service stalls its partitions for about 10 s, not
   * kafkajs's 30 s; a long handling keeps its partitions because the consumer heartbeats while it runs. @defaultValue 10000
   */
  readonly sessionTimeoutMs?: number;
  /**
   * How often a member heartbeats (a tenth of the session timeout leaves room for missed beats).
   * @defaultValue a tenth of `sessionTimeoutMs`, within 500–3000 ms (1000 with the default session timeout)
   */
  readonly heartbeatIntervalMs?: number;
  /** @defaultValue 60000 */
  readonly rebalanceTimeoutMs?: number;
  /** How long a fetch waits for data on an idle partition; also bounds how long `stop()` waits for a fetch. @defaultValue 1000 */
  readonly maxWaitTimeMs?: number;
  /** Partitions one consumer handles at the same time (each still one message at a time, in order). @defaultValue the `partitions` count */
  readonly partitionsConsumedConcurrently?: number;
  /**
   * The least time between two offset commit requests of one consumer (acknowledged offsets wait for the next one; a
   * crash redelivers them, handlers being idempotent). 0 commits round after round. @defaultValue 100
   */
  readonly commitIntervalMs?: number;
  /** kafkajs connection timeout. @defaultValue 3000 */
  readonly connectionTimeoutMs?: number;
  /** How often kafkajs retries a failed request (connect, produce, admin) before giving up. @defaultValue 5 */
  readonly retries?: number;
  /**
   * TLS to the brokers (kafkajs `ssl`): `true` with Node's default CAs, or Node's `tls.connect` options (e.g. `ca`, the
   * PEM of the CA to trust). @defaultValue false (PLAINTEXT)
   */
  readonly ssl?: boolean | ConnectionOptions;
  /**
   * Authenticate to the brokers with SASL (kafkajs `sasl`). With `plain` and no `ssl` the bus logs a warning when it
   * connects: the password then crosses the network in clear text. @defaultValue none (no authentication)
   */
  readonly sasl?: KafkaSasl;
}

/** Consumer lag of one group: per topic-partition and summed. */
export interface GroupLag {
  readonly groupId: string;
  /** Σ over partitions of (high watermark − committed offset); an uncommitted partition counts from its low watermark. */
  readonly total: number;
  readonly partitions: readonly { readonly topic: string; readonly partition: number; readonly high: string; readonly committed: string; readonly lag: number }[];
}

/** Partitions of a topic the bus creates, and consumers' concurrency, unless the options say otherwise. */
const DEFAULT_PARTITIONS = 3;
/** See {@link KafkaBusOptions.commitIntervalMs}. */
const DEFAULT_COMMIT_INTERVAL_MS = 100;

const LOG_LEVELS: Readonly<Record<KafkaLogLevelName, KafkaLogLevel>> = {
  nothing: KafkaLogLevel.NOTHING,
  error: KafkaLogLevel.ERROR,
  warn: KafkaLogLevel.WARN,
  info: KafkaLogLevel.INFO,
  debug: KafkaLogLevel.DEBUG,
};

/**
 * The {@link Bus} port on Apache Kafka (kafkajs).
 *
 * - `publish`: one idempotent producer (acks = all, in-order retries), messages keyed by
 *   `BusMessage.key` (same key → same partition → delivered in order), string headers.
 * - `subscribe`: one kafkajs consumer per call; offsets committed only after the handler's `ack`
 *   (or after dead-lettering); `retry` redelivers the same message after a jittered exponential
 *   backoff without letting later messages of the partition overtake it; after `maxAttempts`
 *   (default 5) or on `dead-letter` the message goes to `deadLetterTopic` with `x-optex-dlq-*`
 *   headers. New groups start from the earliest offset.
 * - `lag(groupId)` for metrics; `idle()` best effort (see there).
 *
 * Driver errors surface as `InfrastructureError`.
 */
export class KafkaBus implements Bus {
  private readonly subscriptions = new Set<KafkaSubscription>();
  private readonly topicsReady = new Map<string, Promise<void>>();
  /** Every topic this bus subscribed each group to (kept after the consumer stops, for `lag`). */
  private readonly groupTopics = new Map<string, Set<string>>();
  private readonly log: Logger;
  private closing: Promise<void> | undefined;
  /** Set once every consumer has stopped during `close()`; until then in-flight handlers may still publish. */
  private producerClosed = false;

  private constructor(
    private readonly kafka: Kafka,
    private readonly producer: Producer,
    private readonly admin: Admin,
    private readonly options: KafkaBusOptions,
  ) {
    this.log = (options.logger ?? silentLogger).child({ component: 'kafka-bus' });
  }

  /**
   * Connects the producer and an admin client (over TLS with `ssl`, authenticating with `sasl`).
   * @throws Error naming the option when an option is invalid (never showing the SASL password); InfrastructureError
   *   when the brokers cannot be reached or refuse the TLS handshake or the SASL credentials.
   */
  static async connect(options: KafkaBusOptions): Promise<KafkaBus> {
    const brokers = typeof options.brokers === 'string' ? options.brokers.split(',') : [...options.brokers];
    const list = brokers.map((b) => b.trim()).filter((b) => b.length > 0);
    if (list.length === 0) throw new Error('KafkaBus.connect: brokers is empty');
    if (!options.clientId) throw new Error('KafkaBus.connect: clientId is required');
    const partitions = options.partitions ?? DEFAULT_PARTITIONS;
    if (!Number.isInteger(partitions) || partitions < 1) throw new Error(`KafkaBus.connect: partitions must be a positive integer, got ${String(options.partitions)}`);
    const commitIntervalMs = options.commitIntervalMs ?? DEFAULT_COMMIT_INTERVAL_MS;
    if (!Number.isInteger(commitIntervalMs) || commitIntervalMs < 0) throw new Error(`KafkaBus.connect: commitIntervalMs must be a non-negative integer, got ${String(options.commitIntervalMs)}`);
    const level = options.logLevel ?? 'error';
    if (!(level in LOG_LEVELS)) throw new Error(`KafkaBus.connect: logLevel must be one of ${Object.keys(LOG_LEVELS).join(', ')}, got ${String(level)}`);

    const sasl = options.sasl;
    if (sasl !== undefined) {
      if (!(KAFKA_SASL_MECHANISMS as readonly string[]).includes(sasl.mechanism)) throw new Error(`KafkaBus.connect: sasl.mechanism must be one of ${KAFKA_SASL_MECHANISMS.join(', ')}, got ${JSON.stringify(sasl.mechanism)}`);
      if (typeof sasl.username !== 'string' || sasl.username.length === 0) throw new Error('KafkaBus.connect: sasl.username is empty');
      if (typeof sasl.password !== 'string' || sasl.password.length === 0) throw new Error('KafkaBus.connect: sasl.password is empty');
    }
    const ssl = options.ssl ?? false;

    const logger = options.logger;
    if (sasl?.mechanism === 'plain' && ssl === false) {
      (logger ?? silentLogger)
        .child({ component: 'kafka-bus' })
        .warn({ brokers: list, sasl: 'plain', tls: false }, 'SASL PLAIN without TLS: the password crosses the network in clear text (turn TLS on unless the brokers are local)');
    }
    const kafka = new Kafka({
      clientId: options.clientId,
      brokers: list,
      logLevel: LOG_LEVELS[level],
      connectionTimeout: options.connectionTimeoutMs ?? 3000,
      retry: { retries: options.retries ?? 5 },
      ...(ssl !== false ? { ssl } : {}),
      ...(sasl ? { sasl: kafkajsSasl(sasl) } : {}),
      ...(logger ? { logCreator: () => (entry: LogEntry) => logKafkaJs(logger, entry) } : {}),
    });
    const producer = kafka.producer({
      idempotent: true,
      maxInFlightRequests: 5,
      allowAutoTopicCreation: false,
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    const admin = kafka.admin();
    await translating(`connect to ${list.join(',')}`, async () => {
      try {
        await producer.connect();
        await admin.connect();
      } catch (error) {
        await producer.disconnect().catch(() => undefined);
        await admin.disconnect().catch(() => undefined);
        throw error;
      }
    });
    return new KafkaBus(kafka, producer, admin, { ...options, partitions });
  }

  /**
   * Creates the topics that do not exist yet, with `partitions` partitions (replication factor 1
   * on a single broker; the broker default otherwise). Idempotent and safe to call concurrently.
   * Existing topics keep their partition count.
   * @param partitions - defaults to the bus's `partitions` option
   * @throws InfrastructureError when Kafka fails.
   */
  async ensureTopics(topics: readonly string[], partitions: number = this.options.partitions ?? DEFAULT_PARTITIONS): Promise<void> {
    if (!Number.isInteger(partitions) || partitions < 1) throw new Error(`ensureTopics: partitions must be a positive integer, got ${String(partitions)}`);
    for (const topic of topics) if (typeof topic !== 'string' || topic.length === 0) throw new Error('ensureTopics: a topic name is empty');
    // A broker that has just started may answer metadata requests for new topics with retriable errors
    // ("This server does not host this topic-partition") for longer than kafkajs's own retries wait, when the
    // machine is busy: retry the whole creation a few more times while the error stays retriable.
    for (let attempt = 1; ; attempt++) {
      try {
        await translating(`create topics ${topics.join(', ')}`, async () => {
          const existing = new Set(await this.admin.listTopics());
          const missing = [...new Set(topics)].filter((t) => !existing.has(t));
          if (missing.length === 0) return;
          await this.admin.createTopics({ topics: missing.map((topic) => ({ topic, numPartitions: partitions })), waitForLeaders: true });
          this.log.info({ topics: missing, partitions }, 'created topics');
        });
        return;
      } catch (error) {
        const cause = (error as { cause?: unknown }).cause;
        if (attempt >= ENSURE_TOPICS_ATTEMPTS || !(cause instanceof KafkaJSError && cause.retriable)) throw error;
        this.log.warn({ attempt, err: String(error) }, 'creating topics failed with a retriable error; trying again');
        await new Promise((resolve) => setTimeout(resolve, 500 * attempt));
      }
    }
  }

  /**
   * Publishes the messages (grouped per topic, in order) and resolves once every broker
   * acknowledged them (acks = all).
   * @throws Error naming the field of an invalid message; InfrastructureError when Kafka fails.
   */
  async publish(messages: readonly BusMessage[]): Promise<void> {
    if (this.producerClosed) throw new Error('KafkaBus is closed');
    if (messages.length === 0) return;
    const byTopic = new Map<string, { key: string; value: Buffer; headers: Record<string, string> }[]>();
    messages.forEach((m, i) => {
      if (typeof m.topic !== 'string' || m.topic.length === 0) throw new Error(`publish: messages[${i}].topic must be a non-empty string`);
      if (typeof m.key !== 'string') throw new Error(`publish: messages[${i}].key must be a string`);
      if (!Buffer.isBuffer(m.value)) throw new Error(`publish: messages[${i}].value must be a Buffer`);
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(m.headers ?? {})) {
        if (typeof value !== 'string') throw new Error(`publish: messages[${i}].headers.${name} must be a string`);
        headers[name] = value;
      }
      const list = byTopic.get(m.topic) ?? [];
      list.push({ key: m.key, value: m.value, headers });
      byTopic.set(m.topic, list);
    });
    await this.prepareTopics([...byTopic.keys()]);
    await translating(`publish to ${[...byTopic.keys()].join(', ')}`, () =>
      this.producer.sendBatch({ acks: -1, topicMessages: [...byTopic].map(([topic, list]) => ({ topic, messages: list })) }),
    );
  }

  /**
   * Starts one consumer in `options.groupId` for `options.topics` and resolves once it has
   * joined the group. See {@link KafkaSubscription} for the delivery rules.
   */
  async subscribe(options: ConsumerOptions, handler: (delivery: Delivery) => Promise<HandlerOutcome>): Promise<Consumer> {
    this.assertOpen();
    if (!options.groupId) throw new Error('subscribe: groupId is required');
    if (options.topics.length === 0) throw new Error('subscribe: topics is empty');
    const maxAttempts = options.maxAttempts ?? 5;
    if (!Number.isInteger(maxAttempts) || maxAttempts < 1) throw new Error(`subscribe: maxAttempts must be a positive integer, got ${String(options.maxAttempts)}`);
    await this.prepareTopics([...options.topics, ...(options.deadLetterTopic ? [options.deadLetterTopic] : [])]);
    const subscription = new KafkaSubscription(
      this.kafka,
      options,
      handler,
      {
        backoff: { initialMs: this.options.retryBackoff?.initialMs ?? 100, maxMs: this.options.retryBackoff?.maxMs ?? 5000 },
        sessionTimeoutMs: this.options.sessionTimeoutMs ?? 10_000,
        heartbeatIntervalMs: this.options.heartbeatIntervalMs ?? Math.max(500, Math.min(3000, Math.floor((this.options.sessionTimeoutMs ?? 10_000) / 10))),
        rebalanceTimeoutMs: this.options.rebalanceTimeoutMs ?? 60_000,
        maxWaitTimeMs: this.options.maxWaitTimeMs ?? 1000,
        partitionsConsumedConcurrently: this.options.partitionsConsumedConcurrently ?? this.options.partitions ?? DEFAULT_PARTITIONS,
        commitIntervalMs: this.options.commitIntervalMs ?? DEFAULT_COMMIT_INTERVAL_MS,
        logger: this.options.logger ?? silentLogger,
        publish: (messages) => this.publish(messages),
        partitionCounts: (topics) => this.partitionCounts(topics),
      },
      (s) => this.subscriptions.delete(s),
    );
    this.subscriptions.add(subscription);
    const topics = this.groupTopics.get(options.groupId) ?? new Set<string>();
    for (const topic of options.topics) topics.add(topic);
    this.groupTopics.set(options.groupId, topics);
    try {
      await subscription.start();
    } catch (error) {
      await subscription.stop().catch(() => undefined);
      throw error;
    }
    return subscription;
  }

  /** The number of partitions of each of the topics, from the cluster's metadata. @throws InfrastructureError when Kafka fails. */
  async partitionCounts(topics: readonly string[]): Promise<ReadonlyMap<string, number>> {
    return translating(`read the partitions of ${topics.join(', ')}`, async () => {
      const { topics: metadata } = await this.admin.fetchTopicMetadata({ topics: [...topics] });
      return new Map(metadata.map((topic) => [topic.name, topic.partitions.length]));
    });
  }

  /**
   * Consumer lag of a group: Σ over its partitions of (high watermark − committed offset).
   * Covers the topics this bus ever subscribed the group to (a partition with no commit yet counts
   * from its low watermark, since new groups start from the earliest offset); for a group this bus
   * never subscribed, every topic the group has committed offsets on.
   * @throws InfrastructureError when Kafka fails.
   */
  async lag(groupId: string): Promise<GroupLag> {
    const known = this.groupTopics.get(groupId);
    return translating(`lag of group ${groupId}`, async () => {
      const topics = known ? [...known] : (await this.admin.listTopics()).filter((t) => !t.startsWith('__'));
      const offsets = topics.length > 0 ? await this.admin.fetchOffsets({ groupId, topics }) : [];
      const partitions: { topic: string; partition: number; high: string; committed: string; lag: number }[] = [];
      for (const { topic, partitions: committed } of offsets) {
        if (!known && committed.every((c) => BigInt(c.offset) < 0n)) continue;
        const watermarks = new Map((await this.admin.fetchTopicOffsets(topic)).map((w) => [w.partition, w]));
        for (const { partition, offset } of committed) {
          const w = watermarks.get(partition);
          if (!w) continue;
          const from = BigInt(offset) >= 0n ? BigInt(offset) : BigInt(w.low);
          const lag = BigInt(w.high) - from;
          partitions.push({ topic, partition, high: w.high, committed: offset, lag: Number(lag > 0n ? lag : 0n) });
        }
      }
      return { groupId, total: partitions.reduce((sum, p) => sum + p.lag, 0), partitions };
    });
  }

  /**
   * Best effort: resolves once every group subscribed through this bus has committed up to the
   * high watermark of every partition of its topics, twice in a row (so a message published by a
   * handler just before its own commit is not missed). Groups of other processes are not seen.
   */
  async idle(): Promise<void> {
    let zeros = 0;
    while (zeros < 2) {
      this.assertOpen();
      const groups = [...new Set([...this.subscriptions].map((s) => s.options.groupId))];
      const lags = await Promise.all(groups.map((g) => this.lag(g)));
      zeros = lags.every((l) => l.total === 0) ? zeros + 1 : 0;
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /**
   * Stops every consumer (each finishing its in-flight message, which may still publish or
   * dead-letter), then disconnects; `subscribe` fails from the start of `close()`, `publish` once
   * the consumers have stopped. Idempotent.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      const errors: unknown[] = [];
      await Promise.all([...this.subscriptions].map((s) => s.stop().catch((e: unknown) => errors.push(e))));
      this.producerClosed = true;
      await translating('disconnect', async () => {
        await this.producer.disconnect();
        await this.admin.disconnect();
      }).catch((e: unknown) => errors.push(e));
      if (errors.length > 0) throw errors[0];
    })();
    return this.closing;
  }

  private async prepareTopics(topics: readonly string[]): Promise<void> {
    if (this.options.createTopics === false) return;
    await Promise.all(
      [...new Set(topics)].map((topic) => {
        let ready = this.topicsReady.get(topic);
        if (!ready) {
          ready = this.ensureTopics([topic]);
          this.topicsReady.set(topic, ready);
          ready.catch(() => this.topicsReady.delete(topic));
        }
        return ready;
      }),
    );
  }

  private assertOpen(): void {
    if (this.closing) throw new Error('KafkaBus is closed');
  }
}

/** kafkajs's `sasl` for the bus's credentials. */
function kafkajsSasl({ mechanism, username, password }: KafkaSasl): SASLOptions {
  switch (mechanism) {
    case 'plain':
      return { mechanism, username, password };
    case 'scram-sha-256':
      return { mechanism, username, password };
    case 'scram-sha-512':
      return { mechanism, username, password };
  }
}

/** One kafkajs log entry as a line of `logger`, labelled `component: kafkajs` here (the only place that binds it). */
function logKafkaJs(logger: Logger, { namespace, level, log }: LogEntry): void {
  const { message, ...fields } = log;
  const target = logger.child({ component: 'kafkajs', namespace });
  const text = `kafkajs: ${String(message)}`;
  if (level === KafkaLogLevel.ERROR) target.error(fields, text);
  else if (level === KafkaLogLevel.WARN) target.warn(fields, text);
  else if (level === KafkaLogLevel.INFO) target.info(fields, text);
  else target.debug(fields, text);
}
