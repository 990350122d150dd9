import { context, propagation, trace } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, NodeTracerProvider, SimpleSpanProcessor, type SpanExporter } from '@opentelemetry/sdk-trace-node';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';

export interface TracingOptions {
  /** `service.name` of every span this process exports (e.g. `optex-executor`, `optex` for the all-in-one process). */
  readonly serviceName: string;
  /** @defaultValue `process.env` */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /**
   * Export to this exporter instead of OTLP (tests: an `InMemorySpanExporter`), each span as it ends. Tracing is then on
   * whatever the environment says.
   */
  readonly exporter?: SpanExporter;
}

/** Stops tracing: exports what is still buffered, then unregisters the provider (the API's no-op tracer again). */
export type StopTracing = () => Promise<void>;

/**
 * True when the environment asks for traces: `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` or `OTEL_EXPORTER_OTLP_ENDPOINT` is
 * set, and neither `OTEL_SDK_DISABLED=true` nor `OTEL_TRACES_EXPORTER=none` says otherwise.
 */
export function tracingRequested(env: Readonly<Record<string, string | undefined>> = process.env): boolean {
  if (env['OTEL_SDK_DISABLED']?.trim().toLowerCase() === 'true') return false;
  if (env['OTEL_TRACES_EXPORTER']?.trim().toLowerCase() === 'none') return false;
  return Boolean(env['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT']?.trim() || env['OTEL_EXPORTER_OTLP_ENDPOINT']?.trim());
}

/**
 * Turns tracing on for this process when an OTLP endpoint is configured: registers a tracer provider (async-context
 * propagation, W3C trace context) that batches spans to the OTLP/HTTP exporter, which reads the standard
 * `OTEL_EXPORTER_OTLP_*` variables itself (`…_TRACES_ENDPOINT` as the full URL, else `…_ENDPOINT` + `/v1/traces`,
 * `…_HEADERS`, `…_TIMEOUT`). Without one, registers nothing: spans come from the API's no-op tracer and optex records
 * no trace context. Call once, first thing in a process; call the returned function on the way out.
 */
export function startTracing(options: TracingOptions): StopTracing {
  if (!options.exporter && !tracingRequested(options.env)) return async () => undefined;
  const processor = options.exporter ? new SimpleSpanProcessor(options.exporter) : new BatchSpanProcessor(new OTLPTraceExporter());
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: options.serviceName }),
    spanProcessors: [processor],
  });
  provider.register();
  let stopped: Promise<void> | undefined;
  return () =>
    (stopped ??= (async () => {
      try {
        await provider.shutdown();
      } finally {
        trace.disable();
        context.disable();
        propagation.disable();
      }
    })());
}
