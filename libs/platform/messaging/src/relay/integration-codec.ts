import {
  CONTROL_STREAM,
  OPTIMIZATION_STREAM_PREFIX,
  REJECTED_STREAM,
  assertIntegrationEvent,
  controlIntegrationEvent,
  evolveOptimization,
  initialOptimizationState,
  optimizationIntegrationEvent,
  parseStoredEvent,
  rejectionIntegrationEvent,
  type ControlEvent,
  type IntegrationEventOut,
  type OptimizationEvent,
  type OptimizationState,
  type RecommendationRejected,
} from '@optex/domain';
import type { BusMessage, EventStore, RecordedEvent } from '@optex/ports';
import { encodeCloudEvent } from '../cloudevents';

/** CloudEvents `source` of the public integration events. */
export const INTEGRATION_SOURCE = 'urn:optex';

/**
 * Turns stored events (parsed and upcast already) into the public integration events of `optex.events.v1`, through the
 * domain's translator (a failure is read together with the stream's next event: a rollback started with it publishes
 * no `failed`). An optimization event is translated against the stream's state just before and after it, kept
 * per stream for the streams seen lately (the relay reads the log in order, so the next event of a stream usually
 * finds the state it needs); on a miss the stream is read up to the event and folded.
 */
export class IntegrationTranslator {
  private readonly states = new Map<string, { revision: bigint; state: OptimizationState }>();

  constructor(
    private readonly store: EventStore,
    /** Streams whose folded state is kept. @defaultValue 10,000 */
    private readonly cacheSize = 10_000,
  ) {}

  /** The integration events of one stored event (none for internal progress, batches and duplicates). */
  async translate(event: RecordedEvent): Promise<IntegrationEventOut[]> {
    let out: IntegrationEventOut | undefined;
    if (event.stream.startsWith(OPTIMIZATION_STREAM_PREFIX)) {
      const before = await this.stateBefore(event);
      const after = evolveOptimization(before, { type: event.type, data: event.data } as OptimizationEvent);
      this.remember(event.stream, event.revision, after);
      out = optimizationIntegrationEvent(before, after, event.recordedAt, after.status === 'failed' ? await this.nextType(event) : undefined);
    } else if (event.stream === REJECTED_STREAM && event.type === 'RecommendationRejected') {
      out = rejectionIntegrationEvent(event as unknown as RecommendationRejected, event.recordedAt);
    } else if (event.stream === CONTROL_STREAM) {
      out = controlIntegrationEvent({ type: event.type, data: event.data } as ControlEvent, event.recordedAt);
    }
    if (!out) return [];
    assertIntegrationEvent(out);
    return [out];
  }

  /** The type of the stream's event after `event` (a failure's next event is in its append when a rollback follows it). */
  private async nextType(event: RecordedEvent): Promise<string | undefined> {
    const [next] = await this.store.readStream(event.stream, { fromRevision: event.revision + 1n, maxCount: 1 });
    return next?.type;
  }

  private async stateBefore(event: RecordedEvent): Promise<OptimizationState> {
    const known = this.states.get(event.stream);
    if (known && known.revision === event.revision - 1n) return known.state;
    if (event.revision === 0n) return initialOptimizationState();
    let state = initialOptimizationState();
    for (const stored of await this.store.readStream(event.stream)) {
      if (stored.revision >= event.revision) break;
      state = evolveOptimization(state, parseStoredEvent(stored) as OptimizationEvent);
    }
    return state;
  }

  private remember(stream: string, revision: bigint, state: OptimizationState): void {
    this.states.delete(stream);
    this.states.set(stream, { revision, state });
    if (this.states.size > this.cacheSize) this.states.delete(this.states.keys().next().value!);
  }
}

/**
 * An integration event as a CloudEvents 1.0 binary-mode message for `optex.events.v1`: `ce_id` is the stored event's id
 * (one stored event yields at most one integration event, and a re-publish after a restart keeps the id, so consumers
 * can de-duplicate), `ce_type` the versioned type, `ce_subject` the optimization id (the stream's name for an event about
 * no optimization: a rejection, a pause or resume), key as the stored event's.
 */
export function encodeIntegrationEvent(event: IntegrationEventOut, cause: Pick<RecordedEvent, 'id' | 'recordedAt'>, key: string, extensions: Readonly<Record<string, string>> = {}): Omit<BusMessage, 'topic'> {
  const { value, headers } = encodeCloudEvent({
    id: cause.id,
    type: event.type,
    source: INTEGRATION_SOURCE,
    subject: event.subject,
    time: cause.recordedAt.toISOString(),
    data: event.data,
    extensions,
  });
  return { key, value, headers };
}
