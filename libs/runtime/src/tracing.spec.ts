import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { SpanKind } from '@opentelemetry/api';
import { defaultPriceBook, parsePolicy, type Policy } from '@optex/domain';
import { parseTraceparent, silentLogger, tracingEnabled, type RecordedEvent } from '@optex/ports';
import { SqliteEventStore } from '@optex/event-store';
import { InMemoryBus } from '@optex/messaging';
import { SimulatedFleet } from '@optex/cloud';
import { OptexMetrics, SERVICE_GROUPS } from '@optex/engine';
import { startTracing, type StopTracing } from '@optex/observability';
import { processUntilQuiescent } from './processing';
import { inputRecord } from './input';
import { traced } from './adapters';

jest.setTimeout(60_000);

const ACCOUNT = '123456789012';
const AT = new Date('2026-03-02T10:00:00.000Z');
const policy: Policy = (() => {
  const p = parsePolicy({ version: 'test-auto', approval: { autoApprove: { maxLevel: 'CRITICAL', maxMonthlySavings: 1_000_000 } } });
  if (!p.ok) throw new Error(JSON.stringify(p.errors));
  return p.value;
})();
const volume = (id: string) => ({ id, accountId: ACCOUNT, region: 'us-east-1', volumeType: 'gp2', sizeGiB: 100, state: 'available' });
const gp3 = (volumeId: string) => ({
  recommendationId: `rec-${volumeId}`,
  source: 'spec',
  accountId: ACCOUNT,
  region: 'us-east-1',
  resource: { type: 'ec2:volume', id: volumeId },
  action: { type: 'modify-volume', targetVolumeType: 'gp3' },
  estimatedMonthlySavings: 2,
  currency: 'USD',
});

describe('traces through the embedded engine', () => {
  const exporter = new InMemorySpanExporter();
  let stop: StopTracing;
  beforeAll(() => {
    stop = startTracing({ serviceName: 'optex-spec', exporter });
  });
  afterAll(async () => {
    await stop();
    expect(tracingEnabled()).toBe(false);
  });

  it('one optimization is one trace: every event it records, all five services and its EC2 calls; another optimization is another trace', async () => {
    expect(tracingEnabled()).toBe(true);
    const store = SqliteEventStore.open(':memory:');
    const clock = { now: () => AT };
    const fleet = SimulatedFleet.fromFleet({ volumes: [volume('vol-a1'), volume('vol-a2')] }, { clock, latencyMs: 0 });
    const bus = new InMemoryBus();
    const report = await processUntilQuiescent(
      { store, bus, ec2: traced(fleet), metricsSource: fleet, identity: fleet, priceBook: defaultPriceBook, policy, clock, logger: silentLogger, metrics: new OptexMetrics(), options: { stepBackoffMs: 1 } },
      { dryRun: false, input: { records: ['vol-a1', 'vol-a2'].map((v) => inputRecord(JSON.stringify(gp3(v)))), deliveryPrefix: 'trace-spec', name: 'spec' } },
    );
    await bus.close();
    expect(report.optimizations.map((o) => o.status)).toEqual(['completed', 'completed']);

    // Every event of an optimization's stream names one trace; the two optimizations' traces differ.
    const byStream = new Map<string, RecordedEvent[]>();
    for await (const e of store.readAll({ filter: { kind: 'streamName', prefixes: ['optimization-'] } })) byStream.set(e.stream, [...(byStream.get(e.stream) ?? []), e]);
    expect(byStream.size).toBe(2);
    const traceOf = new Map<string, string>();
    for (const [stream, events] of byStream) {
      const traceIds = new Set(events.map((e) => parseTraceparent(e.metadata['traceparent'])?.traceId ?? 'none'));
      expect([stream, [...traceIds]]).toEqual([stream, [expect.stringMatching(/^[0-9a-f]{32}$/)]]);
      const resourceId = String(events[0]!.metadata['resourceKey']).split('/')[2]!;
      traceOf.set(resourceId, [...traceIds][0]!);
    }
    const [traceA, traceB] = [traceOf.get('vol-a1')!, traceOf.get('vol-a2')!];
    expect(traceA).not.toBe(traceB);

    const spans = exporter.getFinishedSpans();
    const inTrace = (traceId: string): ReadableSpan[] => spans.filter((s) => s.spanContext().traceId === traceId);
    for (const [resourceId, traceId] of [['vol-a1', traceA], ['vol-a2', traceB]] as const) {
      const mine = inTrace(traceId);
      // The five services' consumer spans (each a child of the span that recorded the event it handles) …
      const groups = new Set(mine.filter((s) => s.kind === SpanKind.CONSUMER).map((s) => s.attributes['messaging.consumer.group.name']));
      expect([...groups].sort()).toEqual(Object.values(SERVICE_GROUPS).sort());
      // … the scheduler's dispatch of this optimization …
      expect(mine.filter((s) => s.name === 'scheduler dispatch').map((s) => s.attributes['optex.stream'])).toEqual([`optimization-${report.optimizations.find((o) => o.resourceId === resourceId)!.optimizationId}`]);
      // … and its EC2 calls, about its own resource only.
      const ec2 = mine.filter((s) => s.kind === SpanKind.CLIENT && s.attributes['rpc.service'] === 'EC2');
      expect(ec2.map((s) => s.name)).toContain('EC2 ModifyVolume');
      expect(new Set(ec2.map((s) => s.attributes['aws.ec2.resource_id']).filter((id) => id !== undefined))).toEqual(new Set([resourceId]));
      // One root: the risk-assessor's intake of the recommendation; every other span's parent is in the trace.
      const ids = new Set(mine.map((s) => s.spanContext().spanId));
      const roots = mine.filter((s) => s.parentSpanContext === undefined);
      expect(roots.map((s) => s.name)).toEqual([`${SERVICE_GROUPS.riskAssessor} recommendation`]);
      for (const s of mine) if (s.parentSpanContext) expect(ids.has(s.parentSpanContext.spanId)).toBe(true);
    }
    await store.close();
  });
});
