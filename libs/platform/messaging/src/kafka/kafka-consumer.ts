import { deadLetterMessage, gaveUpReason } from '../dead-letter';
import type { Consumer as KafkaJsConsumer, EachMessagePayload, IHeaders, Kafka } from 'kafkajs';
import { HANDLER_OUTCOME_KINDS, describeError, type BusMessage, type Consumer, type ConsumerOptions, type Delivery, type HandlerOutcome, type Logger } from '@optex/ports';
import { translating } from './kafka-errors';
import { partitionForKey } from '../memory/partitioner';

/** Exponential backoff with full jitter between redeliveries of one message. */
export interface RetryBackoff {
  /** Upper bound of the first delay. @defaultValue 100 */
  readonly initialMs?: number;
  /** Upper bound of any delay. @defaultValue 5000 */
  readonly maxMs?: number;
}

/** Consumer tuning passed down from the bus. */
export interface KafkaConsumerSettings {
  readonly backoff: Required<RetryBackoff>;
  readonly sessionTimeoutMs: number;
  readonly heartbeatIntervalMs: number;
  readonly rebalanceTimeoutMs: number;
  readonly maxWaitTimeMs: number;
  readonly partitionsConsumedConcurrently: number;
  /** At most one offset commit request per this many ms (0: one round right after another). */
  readonly commitIntervalMs: number;
  readonly logger: Logger;
  /** Publishes through the bus's idempotent producer (used for the dead-letter topic). */
  readonly publish: (messages: readonly BusMessage[]) => Promise<void>;
  /** The number of partitions of each topic, as the cluster's metadata says now (for {@link KafkaSubscription.owns}). */
  readonly partitionCounts: (topics: readonly string[]) => Promise<ReadonlyMap<string, number>>;
}

type Handler = (delivery: Delivery) => Promise<HandlerOutcome>;

/** Delay before redelivery number `attempt + 1`: uniform in [0, min(max, initial × 2^(attempt−1))]. */
export function backoffDelay(attempt: number, backoff: Required<RetryBackoff>, random: () => number = Math.random): number {
  const ceiling = Math.min(backoff.maxMs, backoff.initialMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(ceiling * random());
}

/**
 * One kafkajs consumer in one group, handling messages one at a time per partition:
 * - the offset is committed only after the handler returned `ack`, or after the message was
 *   published to the dead-letter topic; commits are coalesced, not awaited per message: an acknowledgement
 *   starts a commit when none is running, and those that arrive while one runs go together in the next one, a
 *   request for every partition that moved. The next message of the partition is handled meanwhile, so an offset
 *   commit (a broker round trip) is no longer on every message's path. Rounds start at least `commitIntervalMs` apart
 *   (the first acknowledgement after a quiet spell commits at once): the broker writes every commit to its offsets log,
 *   and at a few messages a round that cost Kafka more CPU than the messages; a crash redelivers at most that
 *   interval's worth more. `stop()` commits what was acknowledged before it leaves the group, without waiting for the
 *   interval. A commit that fails (the broker unreachable after kafkajs's retries) is tried again a second
 *   later with whatever was acknowledged since; offsets of partitions a rebalance took away are dropped, and their
 *   new owner handles those messages again (at least once);
 * - `retry` (or a throw) seeks the partition back to the same offset and pauses it for a
 *   jittered exponential backoff, so nothing behind it in the partition (same key or not) is
 *   handled first; `pause` (an outage) does the same for as long as it takes, without counting
 *   an attempt, so an outage never dead-letters a message;
 * - while a handler runs, the consumer heartbeats every `heartbeatIntervalMs`, so a long handling
 *   (an execution waiting for an instance to stop) keeps its partitions with a short session timeout;
 * - after `maxAttempts` deliveries, or on `dead-letter`, the message goes to the dead-letter
 *   topic with `x-optex-dlq-*` headers.
 * A rebalance hands uncommitted messages to the new owner: at least once, never lost.
 */
export class KafkaSubscription implements Consumer {
  private readonly consumer: KafkaJsConsumer;
  private readonly attempts = new Map<string, number>();
  /** Outage pauses in a row per message (for the backoff; they are not attempts). */
  private readonly pauses = new Map<string, number>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly maxAttempts: number;
  private stopping: Promise<void> | undefined;
  private readonly log: Logger;
  /** Per `topic:partition`, the next offset to commit: acknowledged, not committed yet. */
  private readonly uncommitted = new Map<string, { readonly topic: string; readonly partition: number; readonly offset: string }>();
  /** The commit running now, if any (one at a time). */
  private committing: Promise<void> | undefined;
  private retryCommitTimer: NodeJS.Timeout | undefined;
  /** Ends the wait between two commit rounds at once (set while the commit loop waits out `commitIntervalMs`). */
  private endCommitPause: (() => void) | undefined;
  /** `topic:partition` of every partition the group's last assignment gave this member (unknown before the first). */
  private owned: ReadonlySet<string> | undefined;
  /** The partition count of each topic consumed, read when the consumer starts and again after each join. */
  private partitionCounts: ReadonlyMap<string, number> | undefined;

  constructor(
    kafka: Kafka,
    readonly options: ConsumerOptions,
    private readonly handler: Handler,
    private readonly settings: KafkaConsumerSettings,
    private readonly onStopped: (subscription: KafkaSubscription) => void,
  ) {
    this.maxAttempts = options.maxAttempts ?? 5;
    this.log = settings.logger.child({ component: 'kafka-consumer', groupId: options.groupId });
    this.consumer = kafka.consumer({
      groupId: options.groupId,
      sessionTimeout: settings.sessionTimeoutMs,
      heartbeatInterval: settings.heartbeatIntervalMs,
      rebalanceTimeout: settings.rebalanceTimeoutMs,
      maxWaitTimeInMs: settings.maxWaitTimeMs,
      allowAutoTopicCreation: false,
    });
    this.consumer.on(this.consumer.events.CRASH, ({ payload }) => {
      this.log.error({ error: String(payload.error), restart: payload.restart }, payload.restart ? 'kafka consumer crashed; kafkajs restarts it' : 'kafka consumer crashed and stopped');
    });
    this.consumer.on(this.consumer.events.GROUP_JOIN, ({ payload }) => {
      // Forget attempt counts of partitions this member no longer owns.
      const owned = new Set(Object.entries(payload.memberAssignment).flatMap(([topic, partitions]) => partitions.map((p) => `${topic}:${p}`)));
      for (const counts of [this.attempts, this.pauses]) {
        for (const key of counts.keys()) {
          if (!owned.has(key.slice(0, key.lastIndexOf(':')))) counts.delete(key);
        }
      }
      // Offsets of partitions another member owns now are not ours to commit: it may be past them already.
      this.owned = owned;
      for (const key of this.uncommitted.keys()) if (!owned.has(key)) this.uncommitted.delete(key);
      this.log.debug({ memberAssignment: payload.memberAssignment }, 'joined consumer group');
      // A topic given more partitions makes the group rebalance: the count is read again, for owns().
      void this.readPartitionCounts().catch((err: unknown) => this.log.warn({ err: describeError(err) }, 'could not read the partition counts after joining the group; the ones read before stay'));
    });
  }

  /**
   * Whether the group's last assignment gave this member the partition Kafka's default partitioner (murmur2, the
   * producer's) puts `key` on, by the topic's partition count. False before the first assignment, for a topic this
   * consumer does not read and once it stops.
   */
  owns(topic: string, key: string): boolean {
    const partitions = this.partitionCounts?.get(topic);
    if (this.stopping || this.owned === undefined || partitions === undefined) return false;
    return this.owned.has(`${topic}:${partitionForKey(key, partitions)}`);
  }

  private async readPartitionCounts(): Promise<void> {
    this.partitionCounts = await this.settings.partitionCounts(this.options.topics);
  }

  /** Connects, subscribes (from the beginning when the group has no committed offset) and starts consuming. */
  async start(): Promise<void> {
    await translating(`subscribe group ${this.options.groupId}`, async () => {
      await this.consumer.connect();
      await this.readPartitionCounts();
      await this.consumer.subscribe({ topics: [...this.options.topics], fromBeginning: true });
      await this.consumer.run({
        autoCommit: false,
        partitionsConsumedConcurrently: this.settings.partitionsConsumedConcurrently,
        eachMessage: (payload) => this.track(this.onMessage(payload)),
      });
    });
  }

  /** Lets the in-flight message finish (and commit if it was acked), then leaves the group. Idempotent. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      for (const timer of this.timers) clearTimeout(timer);
      this.timers.clear();
      // kafkajs's disconnect does not wait for a running eachMessage (it leaves the group under
      // it, so its commit would fail): let the in-flight handler finish, then commit what was acknowledged.
      await Promise.allSettled([...this.inFlight]);
      this.endCommitPause?.();
      clearTimeout(this.retryCommitTimer);
      this.retryCommitTimer = undefined;
      await this.committing;
      if (this.uncommitted.size > 0) await this.commitAcknowledged();
      try {
        await translating(`stop group ${this.options.groupId}`, () => this.consumer.disconnect());
      } finally {
        this.onStopped(this);
      }
    })();
    return this.stopping;
  }

  private track(work: Promise<void>): Promise<void> {
    this.inFlight.add(work);
    return work.finally(() => this.inFlight.delete(work));
  }

  private async onMessage({ topic, partition, message, pause, heartbeat }: EachMessagePayload): Promise<void> {
    // Between stop() and kafkajs noticing it: leave the message uncommitted for the next owner.
    if (this.stopping) return;
    const key = `${topic}:${partition}:${message.offset}`;
    const attempt = (this.attempts.get(key) ?? 0) + 1;
    this.attempts.set(key, attempt);
    const delivery: Delivery = {
      topic,
      partition,
      offset: message.offset,
      attempt,
      key: message.key?.toString('utf8') ?? '',
      value: message.value ?? Buffer.alloc(0),
      headers: headersToStrings(message.headers),
    };

    let outcome: HandlerOutcome;
    // kafkajs heartbeats only between messages: a handling longer than the session timeout would lose the partition
    // to another member while it still runs. Heartbeat while it runs (a failed heartbeat, e.g. during a rebalance,
    // is kafkajs's to handle at the next fetch).
    const beating = setInterval(() => heartbeat().catch((err: unknown) => this.log.debug({ err: describeError(err) }, 'heartbeat during a handling failed')), this.settings.heartbeatIntervalMs);
    try {
      outcome = await this.handler(delivery);
      if (!isOutcome(outcome)) outcome = { kind: 'retry', error: new Error(`handler returned ${JSON.stringify(outcome)}, not a HandlerOutcome`) };
    } catch (error) {
      outcome = { kind: 'retry', error };
    } finally {
      clearInterval(beating);
    }

    if (outcome.kind === 'pause') {
      // An outage is not an attempt: the next delivery has the same attempt number, and it is never dead-lettered.
      this.attempts.set(key, attempt - 1);
      if (this.stopping) return;
      const pauses = (this.pauses.get(key) ?? 0) + 1;
      this.pauses.set(key, pauses);
      const wait = backoffDelay(pauses, this.settings.backoff);
      this.log.warn({ topic, partition, offset: message.offset, pauses, retryInMs: wait, error: describeError(outcome.error) }, 'infrastructure unavailable; waiting it out');
      this.redeliverAfter(topic, partition, message.offset, pause, wait);
      return;
    }
    this.pauses.delete(key);

    if (outcome.kind === 'retry' && attempt < this.maxAttempts) {
      // Stopping: leave it uncommitted for the group's next owner of the partition.
      if (this.stopping) return;
      const wait = backoffDelay(attempt, this.settings.backoff);
      this.log.warn({ topic, partition, offset: message.offset, attempt, retryInMs: wait, error: describeError(outcome.error) }, 'handler asked for a retry');
      this.redeliverAfter(topic, partition, message.offset, pause, wait);
      return;
    }

    if (outcome.kind !== 'ack') {
      const reason = outcome.kind === 'dead-letter' ? outcome.reason : gaveUpReason(attempt, outcome.error);
      await this.deadLetter(delivery, reason);
    }
    this.attempts.delete(key);
    this.uncommitted.set(`${topic}:${partition}`, { topic, partition, offset: (BigInt(message.offset) + 1n).toString() });
    this.commitSoon();
  }

  /** Starts a commit unless one is running (it takes this acknowledgement in its next round) or a retry waits. */
  private commitSoon(): void {
    if (this.retryCommitTimer === undefined) this.committing ??= this.commitAcknowledged();
  }

  /**
   * Commits what was acknowledged, in rounds until nothing is left (each round one request for every partition that
   * moved, rounds at least `commitIntervalMs` apart unless the consumer stops). Never throws: a failed round puts its
   * offsets back (unless newer ones came meanwhile, or a rebalance gave the partition away) and tries again a second
   * later; while the consumer stops, `stop()` makes the last attempt itself.
   */
  private async commitAcknowledged(): Promise<void> {
    try {
      while (this.uncommitted.size > 0) {
        const offsets = [...this.uncommitted.values()];
        this.uncommitted.clear();
        const started = performance.now(); // monotonic: a wall-clock step back must not stretch the pause
        try {
          await this.consumer.commitOffsets(offsets);
        } catch (error) {
          for (const o of offsets) {
            const key = `${o.topic}:${o.partition}`;
            if (!this.uncommitted.has(key) && (this.owned === undefined || this.owned.has(key))) this.uncommitted.set(key, o);
          }
          this.log.warn({ err: describeError(error), partitions: offsets.length }, 'offset commit failed; trying again in a second (the messages stay acknowledged)');
          if (!this.stopping) {
            clearTimeout(this.retryCommitTimer);
            this.retryCommitTimer = setTimeout(() => {
              this.retryCommitTimer = undefined;
              if (!this.stopping) this.commitSoon();
            }, 1000);
          }
          return;
        }
        // Acknowledgements that come during the pause wait for it: this loop is still the running commit.
        await this.pauseBetweenCommits(started + this.settings.commitIntervalMs - performance.now());
      }
    } finally {
      this.committing = undefined;
    }
  }

  /** Waits `ms` (when positive and the consumer is not stopping); `stop()` ends the wait at once. */
  private pauseBetweenCommits(ms: number): Promise<void> {
    if (ms <= 0 || this.stopping) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => this.endCommitPause?.(), ms);
      this.endCommitPause = () => {
        clearTimeout(timer);
        this.endCommitPause = undefined;
        resolve();
      };
    });
  }

  /** Seeks the partition back to `offset` and pauses it for `wait` ms, so nothing behind the message overtakes it. */
  private redeliverAfter(topic: string, partition: number, offset: string, pause: () => () => void, wait: number): void {
    this.consumer.seek({ topic, partition, offset });
    const resume = pause();
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (!this.stopping) resume();
    }, wait);
    this.timers.add(timer);
  }

  private async deadLetter(delivery: Delivery, reason: string): Promise<void> {
    const target = this.options.deadLetterTopic;
    if (!target) {
      this.log.error({ topic: delivery.topic, partition: delivery.partition, offset: delivery.offset, reason }, 'no dead-letter topic configured: message dropped');
      return;
    }
    this.log.warn({ topic: delivery.topic, partition: delivery.partition, offset: delivery.offset, reason, deadLetterTopic: target }, 'message dead-lettered');
    await this.settings.publish([deadLetterMessage(delivery, target, reason)]);
  }
}

function isOutcome(value: unknown): value is HandlerOutcome {
  if (typeof value !== 'object' || value === null) return false;
  const kind = (value as { kind?: unknown }).kind;
  if (kind === 'dead-letter') return typeof (value as { reason?: unknown }).reason === 'string';
  return typeof kind === 'string' && HANDLER_OUTCOME_KINDS.has(kind);
}

/** kafkajs header values (Buffer, string, or arrays of them for repeated keys) as strings; a repeated key keeps its last value. */
export function headersToStrings(headers: IHeaders | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    const last = Array.isArray(value) ? value[value.length - 1] : value;
    if (last === undefined) continue;
    out[name] = Buffer.isBuffer(last) ? last.toString('utf8') : String(last);
  }
  return out;
}
