import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { defaultPolicy, defaultPriceBook, integrationEventJsonSchemas, type IntegrationEventType, type Policy } from '@optex/domain';
import { TOPICS, silentLogger, type Delivery } from '@optex/ports';
import { SqliteEventStore } from '@optex/event-store';
import { InMemoryBus, LogRelay, decodeCloudEvent } from '@optex/messaging';
import { SimulatedFleet } from '@optex/cloud';
import { OptexMetrics } from '@optex/engine';
import { processUntilQuiescent } from './processing';
import { inputRecord } from './input';
import { autoPolicy } from './__fixtures__/policies';

jest.setTimeout(60_000);


const ACCOUNT = '123456789012';
const fleet = { instances: [], volumes: [{ id: 'vol-1', accountId: ACCOUNT, region: 'us-east-1', volumeType: 'gp2', sizeGiB: 100, state: 'available' }] };
const gp3 = { recommendationId: 'r1', source: 'spec', accountId: ACCOUNT, region: 'us-east-1', resource: { type: 'ec2:volume', id: 'vol-1' }, action: { type: 'modify-volume', targetVolumeType: 'gp3' }, estimatedMonthlySavings: 2, currency: 'USD' };

/** Runs `records` on the embedded engine over `fleetFile`, then a relay told to publish the public events: what it published. */
async function published(fleetFile: unknown, records: readonly string[], policy: Policy = defaultPolicy): Promise<{ key: string; ce: ReturnType<typeof decodeCloudEvent> }[]> {
  const store = SqliteEventStore.open(':memory:');
  const sim = SimulatedFleet.fromFleet(fleetFile, { latencyMs: 0 });
  const engineBus = new InMemoryBus();
  await processUntilQuiescent(
    { store, bus: engineBus, ec2: sim, metricsSource: sim, identity: sim, priceBook: defaultPriceBook, policy, clock: { now: () => new Date() }, logger: silentLogger, metrics: new OptexMetrics(), options: { stepBackoffMs: 1 } },
    { dryRun: false, input: { records: records.map((r) => inputRecord(r)), deliveryPrefix: 'spec', name: 'spec' } },
  );
  await engineBus.close();

  // The embedded engine's bus is local: its relay published no public events. A relay told to publish them does.
  const bus = new InMemoryBus();
  const relay = new LogRelay(store, bus, { name: 'public', integrationEvents: true });
  await relay.start();
  for (let i = 0; i < 500 && !(await relay.caughtUp()); i++) await new Promise((r) => setTimeout(r, 10));
  await relay.stop();
  const seen: Delivery[] = [];
  const consumer = await bus.subscribe({ groupId: 'dashboard', topics: [TOPICS.events] }, async (d) => {
    seen.push(d);
    return { kind: 'ack' };
  });
  await bus.idle!();
  await consumer.stop();
  await bus.close();

  const ajv = new Ajv2020({ allErrors: true, strict: false });
  addFormats(ajv);
  const schemas = integrationEventJsonSchemas();
  const events = seen.map((d) => ({ key: d.key, ce: decodeCloudEvent(d.headers, d.value) }));
  for (const { ce } of events) {
    const validate = ajv.getSchema(`urn:optex:events:${ce.type}`) ?? ajv.compile(schemas[ce.type as IntegrationEventType]);
    expect({ type: ce.type, valid: validate(ce.data), errors: validate.errors ?? null }).toEqual({ type: ce.type, valid: true, errors: null });
    expect(ce.source).toBe('urn:optex');
  }
  await store.close();
  return events;
}

describe('optex.events.v1 carries the public integration events, translated from the log', () => {
  it('a run publishes one versioned event per status change, each valid against docs/events, and no stored event', async () => {
    const events = await published(fleet, [JSON.stringify(gp3), '{"recommendationId": 7}']);
    const ofVolume = events.filter((e) => e.key === `${ACCOUNT}/us-east-1/vol-1`).map((e) => e.ce.type);
    expect(ofVolume).toEqual([
      'com.optex.optimization.received.v1',
      'com.optex.optimization.approved.v1',
      'com.optex.optimization.scheduled.v1',
      'com.optex.optimization.execution-started.v1',
      'com.optex.optimization.validation-started.v1',
      'com.optex.optimization.completed.v1',
    ]);
    expect(events.map((e) => e.ce.type)).toContain('com.optex.recommendation.rejected.v1');
    expect(events.filter((e) => e.ce.type.startsWith('io.optex.'))).toEqual([]);
    expect(new Set(events.map((e) => e.ce.id)).size).toBe(events.length);
  });

  it('a change that fails and is rolled back publishes rollback-started (previous status executing) and rolled-back, never failed', async () => {
    const withFault = {
      instances: [{ id: 'i-1', accountId: ACCOUNT, region: 'us-east-1', instanceType: 'm5.xlarge', state: 'running', cpuP95: 20 }],
      faults: [{ resourceId: 'i-1', operation: 'startInstance', error: 'UnsupportedOperation', times: 1 }],
    };
    const rightsize = { ...gp3, recommendationId: 'rs', resource: { type: 'ec2:instance', id: 'i-1' }, action: { type: 'rightsize', currentInstanceType: 'm5.xlarge', targetInstanceType: 'm5.large' }, estimatedMonthlySavings: 70.08 };
    const events = await published(withFault, [JSON.stringify(rightsize)], autoPolicy);
    expect(events.map((e) => e.ce.type.replace(/^com\.optex\.optimization\.|\.v1$/g, ''))).toEqual(['received', 'approved', 'scheduled', 'execution-started', 'rollback-started', 'rolled-back']);
    expect(events[4]!.ce.data).toMatchObject({ previousStatus: 'executing', status: 'rolling-back', reason: expect.stringContaining('UnsupportedOperation') });
  });
});
