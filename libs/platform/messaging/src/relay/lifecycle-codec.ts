import { HEADERS, type BusMessage, type IntegrationEvent, type RecordedEvent, type Delivery } from '@optex/ports';
import { decodeCloudEvent, encodeCloudEvent } from '../cloudevents';

export const CLOUDEVENT_SOURCE = 'urn:optex:event-store';
const TYPE_PREFIX = 'io.optex.';

/** Kafka message key of an event: `<accountId>/<region>/<resourceId>` from its metadata, else its stream. */
export function messageKeyOf(event: Pick<RecordedEvent, 'stream' | 'metadata'>): string {
  const key = event.metadata['resourceKey'];
  return typeof key === 'string' && key.length > 0 ? key : event.stream;
}

/** A recorded event as a CloudEvents 1.0 binary-mode message (ce_* headers, JSON body). */
export function encodeLifecycleEvent(event: RecordedEvent): Omit<BusMessage, 'topic'> {
  const { value, headers } = encodeCloudEvent({
    id: event.id,
    type: `${TYPE_PREFIX}${event.type}`,
    source: CLOUDEVENT_SOURCE,
    subject: event.stream,
    time: event.recordedAt.toISOString(),
    data: event.data,
    extensions: {
      optexrevision: String(event.revision),
      optexmetadata: JSON.stringify(event.metadata),
    },
  });
  return { key: messageKeyOf(event), value, headers: { ...headers, [HEADERS.stream]: event.stream, [HEADERS.revision]: String(event.revision) } };
}

/**
 * Decoded events by message body. The in-memory bus hands every consumer group the very same body, so the
 * embedded engine decodes each event once instead of once per group (5 of them); Kafka deliveries have bodies of
 * their own and simply miss. Held weakly: an entry goes with its message.
 */
const decoded = new WeakMap<Buffer, Omit<IntegrationEvent, 'deliveryId' | 'attempt'>>();

/**
 * The reverse of {@link encodeLifecycleEvent}; throws an error naming the missing or bad attribute. The event's
 * `data` and `metadata` may be shared with other deliveries of the same message: treat them as read-only.
 */
export function decodeLifecycleEvent(delivery: Delivery): IntegrationEvent {
  let event = decoded.get(delivery.value);
  if (!event) {
    event = decodeBody(delivery);
    decoded.set(delivery.value, event);
  }
  return { ...event, deliveryId: `${delivery.topic}/${delivery.partition}/${delivery.offset}`, attempt: delivery.attempt };
}

function decodeBody(delivery: Delivery): Omit<IntegrationEvent, 'deliveryId' | 'attempt'> {
  const ce = decodeCloudEvent(delivery.headers, delivery.value);
  if (!ce.type.startsWith(TYPE_PREFIX)) throw new Error(`ce_type ${ce.type} is not an optex lifecycle event`);
  if (!ce.subject) throw new Error('ce_subject (the stream) is missing');
  const ext = ce.extensions ?? {};
  const revision = ext['optexrevision'];
  if (typeof revision !== 'string' || !/^\d+$/.test(revision)) throw new Error('ce_optexrevision is missing or not a number');
  let metadata: Record<string, unknown> = {};
  const rawMeta = ext['optexmetadata'];
  if (typeof rawMeta === 'string') metadata = JSON.parse(rawMeta) as Record<string, unknown>;
  return {
    kind: 'event',
    id: ce.id,
    type: ce.type.slice(TYPE_PREFIX.length),
    stream: ce.subject,
    revision: BigInt(revision),
    data: ce.data,
    metadata,
    recordedAt: new Date(ce.time ?? Date.now()),
  };
}
