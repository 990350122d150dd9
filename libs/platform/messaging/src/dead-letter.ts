import { describeError, type BusMessage, type Delivery } from '@optex/ports';

/** Headers a dead-lettered message carries besides its own (both buses use them). */
export const DLQ_HEADERS = {
  reason: 'x-optex-dlq-reason',
  attempts: 'x-optex-dlq-attempts',
  originalTopic: 'x-optex-original-topic',
  originalPartition: 'x-optex-original-partition',
  originalOffset: 'x-optex-original-offset',
} as const;

/** The `x-optex-dlq-reason` of a message dead-lettered because its handler failed on every one of its `attempts` (both buses). */
export function gaveUpReason(attempts: number, error: unknown): string {
  return `gave up after ${attempts} attempts: ${describeError(error)}`;
}

/** The message that goes to `topic` when `delivery` is dead-lettered for `reason`. */
export function deadLetterMessage(delivery: Delivery, topic: string, reason: string): BusMessage {
  return {
    topic,
    key: delivery.key,
    value: delivery.value,
    headers: {
      ...delivery.headers,
      [DLQ_HEADERS.reason]: reason,
      [DLQ_HEADERS.attempts]: String(delivery.attempt),
      [DLQ_HEADERS.originalTopic]: delivery.topic,
      [DLQ_HEADERS.originalPartition]: String(delivery.partition),
      [DLQ_HEADERS.originalOffset]: delivery.offset,
    },
  };
}
