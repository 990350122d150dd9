import { activeTraceparent, inSpan, tracingEnabled } from '@optex/ports';
import { startTracing, tracingRequested } from './tracing';

const OTEL_VARS = ['OTEL_EXPORTER_OTLP_ENDPOINT', 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', 'OTEL_SDK_DISABLED', 'OTEL_TRACES_EXPORTER'] as const;

// The OTLP/HTTP export itself is proven against a local receiver in test/tracing.e2e.spec.ts: the exporter loads
// node:http by dynamic import, which Jest's module sandbox does not allow.
describe('startTracing', () => {
  const saved = Object.fromEntries(OTEL_VARS.map((v) => [v, process.env[v]]));
  beforeEach(() => OTEL_VARS.forEach((v) => delete process.env[v]));
  afterAll(() => OTEL_VARS.forEach((v) => (saved[v] === undefined ? delete process.env[v] : (process.env[v] = saved[v]))));

  it('without an endpoint registers nothing: the no-op tracer, no trace context to record', async () => {
    const stop = startTracing({ serviceName: 'optex-spec' });
    expect(tracingEnabled()).toBe(false);
    await inSpan('nothing', {}, async (span) => {
      expect(span).toBeUndefined();
      expect(activeTraceparent()).toBeUndefined();
    });
    await stop();
  });

  it('the endpoint is a request for traces unless the SDK or the traces exporter is switched off', () => {
    expect(tracingRequested({})).toBe(false);
    expect(tracingRequested({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' })).toBe(true);
    expect(tracingRequested({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://collector:4318/v1/traces' })).toBe(true);
    expect(tracingRequested({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_SDK_DISABLED: 'true' })).toBe(false);
    expect(tracingRequested({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_TRACES_EXPORTER: 'none' })).toBe(false);
  });

});
