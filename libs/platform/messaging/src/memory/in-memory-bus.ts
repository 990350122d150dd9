import { deadLetterMessage, gaveUpReason } from '../dead-letter';
import { InfrastructureError, type Bus, type BusMessage, type Consumer, type ConsumerOptions, type Delivery, type HandlerOutcome } from '@optex/ports';
import { partitionForKey } from './partitioner';
import { isSealedBody } from '../sealed-bodies';

/** Options of {@link InMemoryBus}. */
export interface InMemoryBusOptions {
  /** Partitions of a topic created on first use. @defaultValue 4 */
  readonly partitions?: number;
  /** Partition counts for particular topics, overriding `partitions`. */
  readonly topicPartitions?: Readonly<Record<string, number>>;
  /** Delay before the second delivery of a message; it doubles for each further attempt. @defaultValue 5 */
  readonly retryBackoffMs?: number;
  /** Upper bound of the redelivery delay. @defaultValue 200 */
  readonly maxRetryBackoffMs?: number;
  /**
   * Called for a message that must be dead-lettered by a consumer that names no `deadLetterTopic`;
   * the message is then acknowledged and dropped. @defaultValue emits a process warning
   */
  readonly onDiscard?: (delivery: Delivery, reason: string) => void;
  /**
   * Drop a message once every group subscribed to its topic has acknowledged it, so a long run holds
   * only what is still pending; a group subscribing later starts at the earliest message still held
   * (as in Kafka after retention). @defaultValue false (every message is kept until `close()`)
   */
  readonly releaseConsumed?: boolean;
}

interface StoredMessage {
  readonly key: string;
  readonly value: Buffer;
  readonly headers: Readonly<Record<string, string>>;
}

interface Topic {
  readonly name: string;
  /** Messages by offset; released ones (see `releaseConsumed`) are holes. */
  readonly partitions: (StoredMessage | undefined)[][];
  /** Per partition, the first offset still held. */
  readonly firstHeld: number[];
}

/**
 * A message bus in one process with Kafka's semantics, for the embedded default and for tests.
 *
 * - Topics are created on first use with `partitions` partitions; a message goes to the partition
 *   Kafka's default partitioner would choose for its key (murmur2), so one key is one partition.
 * - Consumer groups: every group receives every message. Within a group, each partition of a topic
 *   is handled by one consumer at a time (partition p goes to the (p mod n)-th of the group's n
 *   consumers of that topic, in joining order; they are reassigned when one joins or stops, at a
 *   message boundary). A partition handles one message at a time, so messages of a key are
 *   handled in order. A new consumer takes its partitions on the next turn of the event loop
 *   (after `subscribe()` has returned it). A partition loop whose handlers settle at once lets the event loop turn
 *   (timers, I/O, a rebalance) after {@link YIELD_AFTER_MS} of them rather than after each message, so that the
 *   appends of the messages handled in one turn share a group commit (docs/benchmarks.md, twentieth part).
 * - A delivery is retried (attempt + 1, after `retryBackoffMs` doubling up to `maxRetryBackoffMs`)
 *   until the handler returns `ack` or `dead-letter`; a handler that throws (or resolves to
 *   something that is not an outcome) counts as `retry`. `pause` (an outage) redelivers the same
 *   attempt after the same doubling backoff, for as long as it takes, and never dead-letters. After the consumer's `maxAttempts`
 *   (default 5), or on `dead-letter`, the message is published to the consumer's
 *   `deadLetterTopic` with the headers of DLQ_HEADERS (../dead-letter), then acknowledged. Later messages of
 *   that partition wait meanwhile, as in Kafka.
 * - Committed offsets are kept per group and partition for the bus's lifetime: a consumer that
 *   joins a group later starts after the group's last acknowledged message.
 * - A group subscribing to a topic for the first time starts at the beginning of the retained
 *   messages (Kafka's `fromBeginning`), so nothing published before the engine's consumers start
 *   is lost. Every message is retained until `close()` (the bus serves one process run, not days of
 *   traffic), or, with `releaseConsumed`, until every subscribed group has acknowledged it.
 * - `stop()` and `close()` wait for running handlers. Called from inside a handler they stop delivery at once, but their
 *   promise settles only after that handler has returned: the handler must not await it (it would wait for itself).
 *   No `AsyncLocalStorage` tells the handler's own call apart: in Node 20 one hooks every promise of the process, which
 *   cost the embedded engine about 10 % of its throughput (docs/benchmarks.md).
 */
export class InMemoryBus implements Bus {
  /** Nothing outside this process can read this bus. */
  readonly local = true;
  private readonly topics = new Map<string, Topic>();
  private readonly groups = new Map<string, Group>();
  private readonly idleWaiters: { resolve: () => void; reject: (error: Error) => void }[] = [];
  private readonly timers = new Set<{ timer: NodeJS.Timeout; resolve: () => void }>();
  private readonly defaultPartitions: number;
  private readonly retryBackoffMs: number;
  private readonly maxRetryBackoffMs: number;
  private closing: Promise<void> | undefined;
  private closed = false;

  constructor(private readonly options: InMemoryBusOptions = {}) {
    this.defaultPartitions = positiveInteger(options.partitions ?? 4, 'partitions');
    for (const [topic, count] of Object.entries(options.topicPartitions ?? {})) positiveInteger(count, `topicPartitions[${JSON.stringify(topic)}]`);
    this.retryBackoffMs = nonNegativeInteger(options.retryBackoffMs ?? 5, 'retryBackoffMs');
    this.maxRetryBackoffMs = nonNegativeInteger(options.maxRetryBackoffMs ?? 200, 'maxRetryBackoffMs');
  }

  /** Appends the messages to their topics' partitions (topics are created on first use). */
  async publish(messages: readonly BusMessage[]): Promise<void> {
    this.assertOpen();
    if (!Array.isArray(messages)) throw new TypeError('messages must be an array');
    // One copy per distinct body: a message sent to several topics (the relay's internal topics) stays one body, so
    // its consumers in this process decode it once.
    const copies = new Map<Buffer, Buffer>();
    const headerCopies = new Map<object, Readonly<Record<string, string>>>();
    const checked = messages.map((m, i) => checkMessage(m, `messages[${i}]`, copies, headerCopies));
    this.append(checked);
  }

  async subscribe(options: ConsumerOptions, handler: (delivery: Delivery) => Promise<HandlerOutcome>): Promise<Consumer> {
    this.assertOpen();
    checkConsumerOptions(options);
    if (typeof handler !== 'function') throw new TypeError('handler must be a function');
    let group = this.groups.get(options.groupId);
    if (!group) {
      group = new Group(options.groupId);
      this.groups.set(group.id, group);
    }
    const consumer = new MemoryConsumer(this, group, options, handler);
    group.join(consumer);
    for (const name of options.topics) {
      if (!group.workers.has(name)) {
        const topic = this.topic(name);
        group.workers.set(
          name,
          topic.partitions.map((_, p) => new PartitionWorker(this, group, topic, p)),
        );
      }
    }
    // Deliveries start after the caller has received the consumer (a handler may refer to it).
    setImmediate(() => {
      group.ready(consumer);
      group.signalAll();
    });
    return consumer;
  }

  /**
   * Resolves when every message published so far, and every message published while waiting
   * (e.g. by handlers), has been acknowledged or dead-lettered by every group that has an active
   * consumer for its topic. Groups whose consumers have all stopped are not waited for.
   * @throws InfrastructureError if the bus closes first.
   */
  idle(): Promise<void> {
    if (this.closing) return Promise.reject(new InfrastructureError('the in-memory bus is closed'));
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve, reject) => this.idleWaiters.push({ resolve, reject }));
  }

  /**
   * Each group's lag per topic: the messages published to the topic that the group has not acknowledged yet (Kafka's
   * consumer lag, summed over the partitions), in the order the groups subscribed. For a look at a running engine
   * (`bench:engine` samples it): which group falls behind, and how many messages it keeps in memory.
   */
  lag(): { readonly group: string; readonly topic: string; readonly messages: number }[] {
    const out: { group: string; topic: string; messages: number }[] = [];
    for (const group of this.groups.values()) {
      for (const [topic, workers] of group.workers) {
        const partitions = this.topics.get(topic)?.partitions ?? [];
        out.push({ group: group.id, topic, messages: workers.reduce((n, w) => n + (partitions[w.partition]?.length ?? 0) - w.committedOffset, 0) });
      }
    }
    return out;
  }

  /** Stops every consumer (waiting for running handlers; from inside a handler, do not await it) and rejects pending `idle()` calls. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      for (const waiter of this.idleWaiters.splice(0)) waiter.reject(new InfrastructureError('the in-memory bus closed before it was idle'));
      const consumers = [...this.groups.values()].flatMap((g) => g.consumers);
      await Promise.all(consumers.map((c) => c.stop()));
      this.closed = true;
      for (const entry of this.timers) {
        clearTimeout(entry.timer);
        entry.resolve();
      }
      this.timers.clear();
      const workers = [...this.groups.values()].flatMap((g) => [...g.workers.values()].flat());
      for (const worker of workers) worker.signal();
      await Promise.all(workers.map((w) => w.done));
    })();
    return this.closing;
  }

  // --- internals used by workers and consumers ------------------------------------------------

  get isClosed(): boolean {
    return this.closed;
  }

  /** Stored message at an offset, or undefined past the end (or released). */
  /** The partition of `topic` a message keyed `key` goes to (the topic is created when it does not exist yet). */
  partitionOf(topic: string, key: string): number {
    return partitionForKey(key, this.topic(topic).partitions.length);
  }

  messageAt(topic: Topic, partition: number, offset: number): StoredMessage | undefined {
    return topic.partitions[partition][offset];
  }

  /** With `releaseConsumed`: drops the messages of a partition that every group with a worker on it has acknowledged. */
  consumed(topic: Topic, partition: number): void {
    if (!this.options.releaseConsumed) return;
    let upTo = Infinity;
    for (const group of this.groups.values()) {
      const worker = group.workers.get(topic.name)?.[partition];
      if (worker) upTo = Math.min(upTo, worker.committedOffset);
    }
    const messages = topic.partitions[partition];
    if (!Number.isFinite(upTo)) return;
    for (let offset = topic.firstHeld[partition]; offset < upTo; offset++) messages[offset] = undefined;
    topic.firstHeld[partition] = Math.max(topic.firstHeld[partition], upTo);
  }

  backoffMs(attempt: number): number {
    return Math.min(this.retryBackoffMs * 2 ** Math.max(0, attempt - 2), this.maxRetryBackoffMs);
  }

  /** Sleeps `ms`, or less if the bus closes meanwhile. */
  delay(ms: number): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const entry = {
        timer: setTimeout(() => {
          this.timers.delete(entry);
          resolve();
        }, ms),
        resolve,
      };
      this.timers.add(entry);
    });
  }

  deadLetter(consumer: MemoryConsumer, delivery: Delivery, reason: string): void {
    const topic = consumer.options.deadLetterTopic;
    if (topic === undefined) {
      const discard = this.options.onDiscard ?? defaultDiscard;
      try {
        discard(delivery, reason);
      } catch {
        // A failing observer must not stop the partition.
      }
      return;
    }
    this.append([deadLetterMessage(delivery, topic, reason)]);
  }

  /** Re-evaluates `idle()` waiters; called after every commit and every consumer change. */
  checkIdle(): void {
    if (this.closing || this.idleWaiters.length === 0 || !this.isIdle()) return;
    for (const waiter of this.idleWaiters.splice(0)) waiter.resolve();
  }

  private append(messages: readonly BusMessage[]): void {
    // The partitions written, per topic: a flag per partition, so waking the groups' workers costs an index each.
    const touched = new Map<string, boolean[]>();
    for (const message of messages) {
      const topic = this.topic(message.topic);
      const partition = partitionForKey(message.key, topic.partitions.length);
      topic.partitions[partition].push({ key: message.key, value: message.value, headers: message.headers });
      let flags = touched.get(topic.name);
      if (!flags) touched.set(topic.name, (flags = []));
      flags[partition] = true;
    }
    for (const group of this.groups.values()) {
      for (const [name, workers] of group.workers) {
        const flags = touched.get(name);
        if (flags) for (const worker of workers) if (flags[worker.partition]) worker.signal();
      }
    }
  }

  private topic(name: string): Topic {
    let topic = this.topics.get(name);
    if (!topic) {
      const count = this.options.topicPartitions?.[name] ?? this.defaultPartitions;
      topic = { name, partitions: Array.from({ length: count }, () => []), firstHeld: Array.from({ length: count }, () => 0) };
      this.topics.set(name, topic);
    }
    return topic;
  }

  private isIdle(): boolean {
    for (const group of this.groups.values()) {
      for (const [name, workers] of group.workers) {
        if (!group.hasConsumerFor(name)) continue;
        if (workers.some((w) => w.busy)) return false;
      }
    }
    return true;
  }

  private assertOpen(): void {
    if (this.closing) throw new InfrastructureError('the in-memory bus is closed');
  }
}

/** A consumer group: its consumers (joining order) and one worker per subscribed topic partition. */
class Group {
  /** Its consumers in joining order: changed only by {@link join}, {@link leave} and {@link ready}, which keep {@link owners} true. */
  private readonly members: MemoryConsumer[] = [];
  readonly workers = new Map<string, PartitionWorker[]>();
  /** Per topic, the ready consumers of it in joining order; worked out again when asked after a membership change. */
  private readonly owners = new Map<string, readonly MemoryConsumer[]>();

  constructor(readonly id: string) {}

  get consumers(): readonly MemoryConsumer[] {
    return this.members;
  }

  join(consumer: MemoryConsumer): void {
    this.members.push(consumer);
    this.owners.clear();
  }

  /** The consumer may own partitions from now on. */
  ready(consumer: MemoryConsumer): void {
    consumer.ready = true;
    this.owners.clear();
  }

  leave(consumer: MemoryConsumer): void {
    const index = this.members.indexOf(consumer);
    if (index >= 0) this.members.splice(index, 1);
    this.owners.clear();
  }

  hasConsumerFor(topic: string): boolean {
    return this.consumers.some((c) => c.options.topics.includes(topic));
  }

  /** The consumer that owns a partition now: the (p mod n)-th of the group's ready consumers of that topic. */
  ownerOf(topic: string, partition: number): MemoryConsumer | undefined {
    let candidates = this.owners.get(topic);
    if (!candidates) this.owners.set(topic, (candidates = this.consumers.filter((c) => c.ready && c.options.topics.includes(topic))));
    return candidates.length === 0 ? undefined : candidates[partition % candidates.length];
  }

  signalAll(): void {
    for (const workers of this.workers.values()) for (const worker of workers) worker.signal();
  }
}

/** Handles one partition for one group: one message at a time, from the committed offset on. */
class PartitionWorker {
  /** Offset of the next message to handle (everything before it is acknowledged). */
  private committed: number;
  private signalled = false;
  private wakeUp: (() => void) | undefined;
  readonly done: Promise<void>;

  constructor(
    private readonly bus: InMemoryBus,
    private readonly group: Group,
    private readonly topic: Topic,
    readonly partition: number,
  ) {
    this.committed = topic.firstHeld[partition];
    this.done = this.run();
  }

  get committedOffset(): number {
    return this.committed;
  }

  /** True while a message of this partition is waiting for this group's acknowledgement. */
  get busy(): boolean {
    return this.bus.messageAt(this.topic, this.partition, this.committed) !== undefined;
  }

  signal(): void {
    this.signalled = true;
    const wake = this.wakeUp;
    this.wakeUp = undefined;
    wake?.();
  }

  private async run(): Promise<void> {
    let since = performance.now();
    while (!this.bus.isClosed) {
      const offset = this.committed;
      const message = this.bus.messageAt(this.topic, this.partition, offset);
      if (!message || !this.group.ownerOf(this.topic.name, this.partition)) {
        await this.waitForSignal();
        continue;
      }
      if (await this.handle(message, offset)) {
        this.committed = offset + 1;
        this.bus.consumed(this.topic, this.partition);
        this.bus.checkIdle();
      }
      // Handlers that settle at once would otherwise keep this loop in the microtask queue and starve timers and I/O
      // (and a rebalance) until the partition is empty; a turn after each message splits one turn's appends into
      // several group commits.
      if (performance.now() - since >= YIELD_AFTER_MS) {
        await yieldToEventLoop();
        since = performance.now();
      }
    }
  }

  /** Delivers until acknowledged (or dead-lettered); false if the bus closed first. */
  private async handle(message: StoredMessage, offset: number): Promise<boolean> {
    let attempt = 1;
    let pauses = 0;
    while (!this.bus.isClosed) {
      const consumer = this.group.ownerOf(this.topic.name, this.partition);
      if (!consumer) {
        await this.waitForSignal();
        continue;
      }
      const delivery: Delivery = { topic: this.topic.name, key: message.key, value: message.value, headers: message.headers, partition: this.partition, offset: String(offset), attempt };
      const outcome = await consumer.invoke(delivery);
      if (outcome.kind === 'ack') return true;
      if (outcome.kind === 'dead-letter') {
        this.bus.deadLetter(consumer, delivery, outcome.reason);
        return true;
      }
      if (outcome.kind === 'pause') {
        pauses++;
        await this.bus.delay(this.bus.backoffMs(pauses + 1));
        continue;
      }
      pauses = 0;
      if (attempt >= consumer.maxAttempts) {
        this.bus.deadLetter(consumer, delivery, gaveUpReason(attempt, outcome.error));
        return true;
      }
      attempt++;
      await this.bus.delay(this.bus.backoffMs(attempt));
    }
    return false;
  }

  private waitForSignal(): Promise<void> {
    if (this.signalled || this.bus.isClosed) {
      this.signalled = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      this.wakeUp = () => {
        this.signalled = false;
        resolve();
      };
    });
  }
}

class MemoryConsumer implements Consumer {
  readonly maxAttempts: number;
  /** Set once `subscribe()` has returned this consumer; only ready consumers own partitions. */
  ready = false;
  private stopped = false;
  private running = 0;
  private drained: (() => void) | undefined;

  constructor(
    private readonly bus: InMemoryBus,
    private readonly group: Group,
    readonly options: ConsumerOptions,
    private readonly handler: (delivery: Delivery) => Promise<HandlerOutcome>,
  ) {
    this.maxAttempts = options.maxAttempts ?? 5;
  }

  /** Calls the handler; a throw or a value that is not an outcome counts as `retry`. */
  async invoke(delivery: Delivery): Promise<HandlerOutcome> {
    this.running++;
    try {
      const outcome = await this.handler(delivery);
      return isOutcome(outcome)
        ? outcome
        : { kind: 'retry', error: new TypeError(`handler of group ${this.group.id} resolved to ${describe(outcome)} instead of {kind: 'ack' | 'retry' | 'pause' | 'dead-letter'}`) };
    } catch (error) {
      return { kind: 'retry', error };
    } finally {
      this.running--;
      if (this.running === 0) this.drained?.();
    }
  }

  owns(topic: string, key: string): boolean {
    if (this.stopped || !this.ready || !this.options.topics.includes(topic)) return false;
    return this.group.ownerOf(topic, this.bus.partitionOf(topic, key)) === this;
  }

  /** Leaves the group (its partitions go to the remaining consumers). Resolves once its handler is not running (from inside the handler: do not await it). */
  async stop(): Promise<void> {
    if (!this.stopped) {
      this.stopped = true;
      this.group.leave(this);
      this.group.signalAll();
      this.bus.checkIdle();
    }
    if (this.running === 0) return;
    await new Promise<void>((resolve) => {
      const previous = this.drained;
      this.drained = () => {
        previous?.();
        resolve();
      };
    });
  }
}

/**
 * The message checked, its headers frozen and its body copied (the caller may reuse its buffer; `copies` shares one copy
 * per body), unless its maker sealed it ({@link sealBody}: never changed again), which is delivered as it is. Headers
 * likewise: checked once per headers object of the publish (the relay's two internal messages of an event share
 * theirs), and delivered as they are when frozen, else as a frozen copy.
 */
function checkMessage(message: BusMessage, field: string, copies: Map<Buffer, Buffer>, headerCopies: Map<object, Readonly<Record<string, string>>>): BusMessage {
  if (message === null || typeof message !== 'object') throw new TypeError(`${field} must be an object`);
  if (typeof message.topic !== 'string' || message.topic.length === 0) throw new TypeError(`${field}.topic must be a non-empty string`);
  if (typeof message.key !== 'string') throw new TypeError(`${field}.key must be a string`);
  if (!Buffer.isBuffer(message.value)) throw new TypeError(`${field}.value must be a Buffer`);
  const given = message.headers ?? EMPTY_HEADERS;
  let headers = headerCopies.get(given);
  if (!headers) {
    if (given === null || typeof given !== 'object') throw new TypeError(`${field}.headers must be an object of strings`);
    for (const name in given) {
      if (!Object.hasOwn(given, name)) continue;
      if (typeof given[name] !== 'string') throw new TypeError(`${field}.headers[${JSON.stringify(name)}] must be a string`);
    }
    // A frozen object cannot change after the publish: kept as it is (the relay's are); any other is copied.
    headerCopies.set(given, (headers = Object.isFrozen(given) ? given : Object.freeze({ ...given })));
  }
  let value = copies.get(message.value);
  if (!value) copies.set(message.value, (value = isSealedBody(message.value) ? message.value : Buffer.from(message.value)));
  return { topic: message.topic, key: message.key, value, headers };
}

function checkConsumerOptions(options: ConsumerOptions): void {
  if (options === null || typeof options !== 'object') throw new TypeError('consumer options must be an object');
  if (typeof options.groupId !== 'string' || options.groupId.length === 0) throw new TypeError('groupId must be a non-empty string');
  if (!Array.isArray(options.topics) || options.topics.length === 0) throw new TypeError('topics must be a non-empty array of topic names');
  options.topics.forEach((topic, i) => {
    if (typeof topic !== 'string' || topic.length === 0) throw new TypeError(`topics[${i}] must be a non-empty string`);
  });
  if (options.maxAttempts !== undefined) positiveInteger(options.maxAttempts, 'maxAttempts');
  if (options.deadLetterTopic !== undefined && (typeof options.deadLetterTopic !== 'string' || options.deadLetterTopic.length === 0)) {
    throw new TypeError('deadLetterTopic must be a non-empty string');
  }
}

function isOutcome(value: unknown): value is HandlerOutcome {
  if (value === null || typeof value !== 'object') return false;
  const kind = (value as { kind?: unknown }).kind;
  if (kind === 'dead-letter') return typeof (value as { reason?: unknown }).reason === 'string';
  return kind === 'ack' || kind === 'retry' || kind === 'pause';
}

function defaultDiscard(delivery: Delivery, reason: string): void {
  process.emitWarning(`optex in-memory bus: dropped ${delivery.topic}[${delivery.partition}]@${delivery.offset} (key ${delivery.key}) with no dead-letter topic: ${reason}`, {
    code: 'OPTEX_BUS_DISCARDED',
  });
}

function positiveInteger(value: number, field: string): number {
  if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`${field} must be a positive integer, got ${String(value)}`);
  return value;
}

function nonNegativeInteger(value: number, field: string): number {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`${field} must be an integer ≥ 0, got ${String(value)}`);
  return value;
}

const EMPTY_HEADERS: Readonly<Record<string, string>> = Object.freeze({});
/** How long a partition loop may handle messages without letting the event loop turn (see {@link InMemoryBus}). */
const YIELD_AFTER_MS = 2;
const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function describe(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
