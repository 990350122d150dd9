import { HEADERS, TOPICS, type Bus, TRACEPARENT, traceparentOf, type BusMessage, type IntegrationEvent, type RecordedEvent, type Delivery } from '@optex/ports';
import { decodeCloudEvent, encodeCloudEvent, isoTime } from '../cloudevents';
import { sealBody } from '../sealed-bodies';

export const CLOUDEVENT_SOURCE = 'urn:optex:event-store';
const TYPE_PREFIX = 'io.optex.';

/** Kafka message key of an event: `<accountId>/<region>/<resourceId>` from its metadata, else its stream. */
export function messageKeyOf(event: Pick<RecordedEvent, 'stream' | 'metadata'>): string {
  const key = event.metadata['resourceKey'];
  return typeof key === 'string' && key.length > 0 ? key : event.stream;
}

/**
 * Kafka message key of an event on the executor's topic: `<accountId>/<region>` (the first two parts of the resource
 * key), so every execution in one account and region lands on one partition and one executor instance owns that
 * account-region's EC2 request budget; events about no resource keep their stream as key.
 */
export function executionKeyOf(event: Pick<RecordedEvent, 'stream' | 'metadata'>): string {
  const key = messageKeyOf(event);
  return key === event.stream ? key : accountRegionOf(key);
}

/** `<accountId>/<region>` of a resource key (`<accountId>/<region>/<resourceId>`); a key of fewer parts unchanged. */
export function accountRegionOf(resourceKey: string): string {
  const parts = resourceKey.split('/');
  return parts.length < 3 ? resourceKey : `${parts[0]}/${parts[1]}`;
}

/**
 * Whether the executor's topic on `bus` is keyed per resource rather than per account and region: on a bus inside one
 * process ({@link Bus.local}), whose one executor owns every budget anyway and would otherwise handle an
 * account-region's executions one at a time (the relay's `executionsByResource`).
 */
export const executionsKeyedByResource = (bus: Pick<Bus, 'local'>): boolean => bus.local === true;

/** The key of the messages about a resource on the executor's topic of `bus`, as the relay keys them. */
export const executionKeyOfResource = (resourceKey: string, bus: Pick<Bus, 'local'>): string => (executionsKeyedByResource(bus) ? resourceKey : accountRegionOf(resourceKey));

/**
 * The internal messages of a stored event: one on `optex.internal.events.v1` keyed per resource (every service but the
 * executor), and the same body on `optex.internal.executions.v1` keyed per account and region (the executor), or per
 * resource with `executionsByResource` — for a bus inside one process, whose one executor owns every budget anyway and
 * would otherwise handle an account-region's executions one at a time.
 */
export function internalMessagesOf(event: RecordedEvent, options: { readonly executionsByResource?: boolean } = {}): BusMessage[] {
  const message = encodeLifecycleEvent(event);
  return [
    { topic: TOPICS.internalEvents, ...message },
    { topic: TOPICS.executions, ...message, key: options.executionsByResource ? message.key : executionKeyOf(event) },
  ];
}

/**
 * Events by message body: encoded here, or decoded once. The in-memory bus delivers the sealed body itself to every
 * topic and consumer group it goes to, so the embedded engine decodes no event; Kafka deliveries have bodies of their
 * own and are decoded once each. Held weakly: an entry goes with its message.
 */
const decoded = new WeakMap<Buffer, Omit<IntegrationEvent, 'deliveryId' | 'attempt'>>();

/**
 * A recorded event as a CloudEvents 1.0 binary-mode message (ce_* headers, JSON body). The body is remembered with
 * the event it encodes, so a consumer handed this very body does not decode it, and sealed ({@link sealBody}): it is never
 * changed, so the in-memory bus delivers it uncopied and the embedded engine decodes nothing; a bus that sends it
 * elsewhere (Kafka) has its consumers decode their copy once.
 */
export function encodeLifecycleEvent(event: RecordedEvent): Omit<BusMessage, 'topic'> {
  const revision = String(event.revision);
  const { value, headers } = encodeCloudEvent({
    id: event.id,
    type: `${TYPE_PREFIX}${event.type}`,
    source: CLOUDEVENT_SOURCE,
    subject: event.stream,
    time: isoTime(event.recordedAt),
    data: event.data,
    extensions: {
      optexrevision: revision,
      optexmetadata: JSON.stringify(event.metadata),
      ...traceExtension(event),
    },
  });
  sealBody(value);
  decoded.set(value, { kind: 'event', id: event.id, type: event.type, stream: event.stream, revision: event.revision, data: event.data, metadata: event.metadata, recordedAt: event.recordedAt });
  // The codec's headers object is this message's own: completed in place, not copied, then frozen (like the body,
  // never changed again, so the in-memory bus delivers it as it is).
  headers[HEADERS.stream] = event.stream;
  headers[HEADERS.revision] = revision;
  return { key: messageKeyOf(event), value, headers: Object.freeze(headers) };
}

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
  // Written out member by member, not spread: one object shape for every delivery (the engine makes four an event).
  return {
    kind: 'event',
    id: event.id,
    type: event.type,
    stream: event.stream,
    revision: event.revision,
    data: event.data,
    metadata: event.metadata,
    recordedAt: event.recordedAt,
    deliveryId: `${delivery.topic}/${delivery.partition}/${delivery.offset}`,
    attempt: delivery.attempt,
  };
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

/**
 * The CloudEvents distributed-tracing extension of a recorded event: `traceparent` (header `ce_traceparent`) from its
 * `metadata.traceparent`, when it has a valid one; else nothing.
 */
export function traceExtension(event: Pick<RecordedEvent, 'metadata'>): Record<string, string> {
  const traceparent = traceparentOf(event.metadata);
  return traceparent !== undefined ? { [TRACEPARENT]: traceparent } : {};
}
