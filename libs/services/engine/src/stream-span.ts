import { SpanKind } from '@opentelemetry/api';
import { inSpan, traceparentOf, tracingEnabled, type EventStore } from '@optex/ports';
import { lastEventOf } from './command-handler';

/**
 * Runs `fn` in a span that continues the trace of `stream` (a child of the span that recorded its last event), for
 * work one process does for many streams at once (the scheduler dispatching a batch): each stream's events stay in its
 * own trace. A stream with no trace yet gets a new one. With tracing off, just calls `fn` (no read, no span).
 */
export async function inStreamSpan<T>(store: EventStore, stream: string, name: string, attributes: Record<string, string>, fn: () => Promise<T>): Promise<T> {
  if (!tracingEnabled()) return fn();
  const last = await lastEventOf(store, stream);
  return inSpan(name, { kind: SpanKind.INTERNAL, parent: traceparentOf(last?.metadata) ?? 'root', attributes: { ...attributes, 'optex.stream': stream } }, fn);
}
