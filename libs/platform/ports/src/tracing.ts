import { ProxyTracerProvider, ROOT_CONTEXT, SpanStatusCode, TraceFlags, context, trace, type Attributes, type Span, type SpanContext, type SpanKind } from '@opentelemetry/api';

/**
 * W3C trace context for optex's events, over the OpenTelemetry API only (no SDK): which trace a recorded event
 * belongs to travels as `metadata.traceparent` in the log and as the CloudEvents `traceparent` extension
 * (`ce_traceparent`) on the bus. With no tracer provider registered (tracing off, the default) every function here
 * returns at once: no span objects, no strings.
 */

/** The metadata field, CloudEvents extension attribute and (with `ce_`) Kafka header carrying the W3C traceparent. */
export const TRACEPARENT = 'traceparent';

/** Name of the tracer optex's own spans come from. */
export const OPTEX_TRACER = 'optex';

const NOOP_PROVIDER = new ProxyTracerProvider().getDelegate();

/** True when a tracer provider is registered (`startTracing`); false: the API's no-op tracer, and nothing here does anything. */
export function tracingEnabled(): boolean {
  const provider = trace.getTracerProvider();
  return !(provider instanceof ProxyTracerProvider) || provider.getDelegate() !== NOOP_PROVIDER;
}

const TRACEPARENT_FORMAT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(?:-.*)?$/;

/** A W3C `traceparent` (version 00) of a span context. */
export function formatTraceparent(span: SpanContext): string {
  return `00-${span.traceId}-${span.spanId}-${(span.traceFlags & 0xff).toString(16).padStart(2, '0')}`;
}

/** The remote span context a W3C `traceparent` names, or `undefined` when the value is not a valid one. */
export function parseTraceparent(value: unknown): SpanContext | undefined {
  if (typeof value !== 'string') return undefined;
  const m = TRACEPARENT_FORMAT.exec(value.trim());
  if (!m || m[1] === 'ff' || (m[1] === '00' && m[5] !== undefined)) return undefined;
  if (/^0+$/.test(m[2]!) || /^0+$/.test(m[3]!)) return undefined;
  return { traceId: m[2]!, spanId: m[3]!, traceFlags: parseInt(m[4]!, 16), isRemote: true };
}

/**
 * The `traceparent` of the active span, when tracing is on and the span is valid and sampled; else `undefined` (so
 * nothing is written to an event's metadata).
 */
export function activeTraceparent(): string | undefined {
  const span = activeSampledSpan();
  return span && formatTraceparent(span);
}

/** The active span's context when tracing is on and it is valid and sampled. */
function activeSampledSpan(): SpanContext | undefined {
  if (!tracingEnabled()) return undefined;
  const span = trace.getActiveSpan()?.spanContext();
  return span && trace.isSpanContextValid(span) && (span.traceFlags & TraceFlags.SAMPLED) !== 0 ? span : undefined;
}

/** A log line's link to the trace it was written in: OpenTelemetry's log fields, hex as in a `traceparent`. */
export interface TraceIds {
  readonly trace_id: string;
  readonly span_id: string;
  readonly trace_flags: string;
}

/** The ids of the active span, when tracing is on and the span is valid and sampled (as {@link activeTraceparent}); else `undefined`. */
export function activeTraceIds(): TraceIds | undefined {
  const span = activeSampledSpan();
  return span && { trace_id: span.traceId, span_id: span.spanId, trace_flags: (span.traceFlags & 0xff).toString(16).padStart(2, '0') };
}

/** The `traceparent` recorded in an event's metadata, if it is a valid one. */
export function traceparentOf(metadata: Readonly<Record<string, unknown>> | undefined): string | undefined {
  const value = metadata?.[TRACEPARENT];
  return typeof value === 'string' && parseTraceparent(value) ? value : undefined;
}

export interface OptexSpanOptions {
  readonly kind?: SpanKind;
  readonly attributes?: Attributes;
  /**
   * Where the span hangs: a `traceparent` (the span is its child, in its trace); `'root'` (a new trace); absent: the
   * active span, if any.
   */
  readonly parent?: string | 'root';
}

/**
 * Runs `fn` inside a new span (ended when `fn` settles; a thrown error is recorded on it and rethrown). With tracing
 * off, calls `fn(undefined)` and nothing else. A `parent` traceparent that does not parse starts a new trace.
 */
export async function inSpan<T>(name: string, options: OptexSpanOptions, fn: (span: Span | undefined) => Promise<T>): Promise<T> {
  if (!tracingEnabled()) return fn(undefined);
  let parent = context.active();
  if (options.parent !== undefined) {
    const remote = options.parent === 'root' ? undefined : parseTraceparent(options.parent);
    parent = remote ? trace.setSpanContext(ROOT_CONTEXT, remote) : ROOT_CONTEXT;
  }
  const span = trace.getTracer(OPTEX_TRACER).startSpan(name, { ...(options.kind !== undefined ? { kind: options.kind } : {}), ...(options.attributes ? { attributes: options.attributes } : {}) }, parent);
  return context.with(trace.setSpan(parent, span), async () => {
    try {
      return await fn(span);
    } catch (error) {
      span.recordException(error instanceof Error ? error : String(error));
      span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
      throw error;
    } finally {
      span.end();
    }
  });
}

/**
 * Runs `fn` outside any trace (in the root context), for work that belongs to no one delivery: the scheduler's
 * serialized tick, which a delivery of any optimization may trigger and which then acts on others.
 */
export function outsideTrace<T>(fn: () => T): T {
  return tracingEnabled() ? context.with(ROOT_CONTEXT, fn) : fn();
}
