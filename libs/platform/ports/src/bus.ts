/** A message on a topic. `key` orders messages: same key, same partition, delivered in order. */
export interface BusMessage {
  readonly topic: string;
  readonly key: string;
  readonly value: Buffer;
  readonly headers: Readonly<Record<string, string>>;
}

export interface Delivery extends BusMessage {
  readonly partition: number;
  readonly offset: string;
  /** 1 on first delivery; higher on redelivery of the same message. */
  readonly attempt: number;
}

/**
 * What a handler decided about a delivery. `ack`: done (offset may be committed);
 * `retry`: a failure that may be the message's fault — redeliver later (with backoff), counted
 * against `maxAttempts`; `pause`: an infrastructure outage (store, broker, cloud unavailable) —
 * redeliver later with backoff for as long as it takes, not counted as an attempt (the next
 * delivery has the same `attempt`) and never dead-lettered; `dead-letter`: a poison message —
 * publish to the dead-letter topic with `reason` and ack.
 */
export type HandlerOutcome =
  | { readonly kind: 'ack' }
  | { readonly kind: 'retry'; readonly error: unknown }
  | { readonly kind: 'pause'; readonly error: unknown }
  | { readonly kind: 'dead-letter'; readonly reason: string };

/** The outcome kinds, for adapters checking what a handler returned. */
export const HANDLER_OUTCOME_KINDS: ReadonlySet<string> = new Set(['ack', 'retry', 'pause', 'dead-letter']);

export interface ConsumerOptions {
  readonly groupId: string;
  readonly topics: readonly string[];
  /** After this many deliveries of one message it goes to the dead-letter topic (`pause` outcomes do not count). @defaultValue 5 */
  readonly maxAttempts?: number;
  /** Topic for messages that failed `maxAttempts` times or were dead-lettered by the handler. */
  readonly deadLetterTopic?: string;
}

export interface Consumer {
  /**
   * Whether this member of its group is assigned, now, the partition of `topic` that messages keyed `key` go to (the
   * bus's partitioner): no other member of the group is delivered them while it is. False for a topic it does not
   * consume, before the group assigned it partitions and after `stop()`. A rebalance moves partitions at any time, so
   * the answer holds until the next one.
   */
  owns(topic: string, key: string): boolean;
  stop(): Promise<void>;
}

/**
 * A message bus with consumer groups: each group receives every message once (at least once),
 * messages with one key are delivered in order, a message is redelivered until acknowledged.
 */
export interface Bus {
  publish(messages: readonly Omit<BusMessage, never>[]): Promise<void>;
  subscribe(options: ConsumerOptions, handler: (delivery: Delivery) => Promise<HandlerOutcome>): Promise<Consumer>;
  /** Resolves when every message published so far has been handled (acked or dead-lettered) by every group. In-memory only; Kafka resolves on a best-effort basis. */
  idle?(): Promise<void>;
  /**
   * True when the bus never carries a message out of this process (the in-memory bus): nothing outside can read it, so
   * messages meant only for other systems (the public integration events) are not worth publishing to it.
   */
  readonly local?: boolean;
  close(): Promise<void>;
}

export const TOPICS = {
  recommendations: 'optex.recommendations.v1',
  /** The public contract: versioned integration events (`com.optex.*.v1`, schemas in docs/events/) for dashboards and other systems. */
  events: 'optex.events.v1',
  recommendationsDlq: 'optex.recommendations.dlq.v1',
  /** The stored events as the log holds them (`io.optex.<EventName>`), for optex's own services only: they change with optex. */
  internalEvents: 'optex.internal.events.v1',
  /**
   * The same stored events for the executor alone, keyed `<accountId>/<region>`: Kafka gives each key's partition to one
   * member of the executor group at a time, so one executor instance owns an account-region's EC2 request budget.
   */
  executions: 'optex.internal.executions.v1',
} as const;
