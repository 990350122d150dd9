import { defaultPriceBook } from '@optex/domain';
import { silentLogger, type MetricsSource } from '@optex/ports';
import { SqliteEventStore } from '@optex/event-store';
import { InMemoryBus } from '@optex/messaging';
import { SimulatedFleet } from '@optex/cloud';
import { OptexMetrics } from '@optex/engine';
import { processUntilQuiescent, type RunReport } from './processing';
import { inputRecord } from './input';
import { autoPolicy } from './__fixtures__/policies';

jest.setTimeout(60_000);

const ACCOUNT = '123456789012';
const fleetFile = { instances: [{ id: 'i-1', accountId: ACCOUNT, region: 'us-east-1', instanceType: 'm5.xlarge', state: 'running', cpuP95: 20 }] };
const rightsize = { recommendationId: 'rs', source: 'spec', accountId: ACCOUNT, region: 'us-east-1', resource: { type: 'ec2:instance', id: 'i-1' }, action: { type: 'rightsize', currentInstanceType: 'm5.xlarge', targetInstanceType: 'm5.large' }, estimatedMonthlySavings: 70.08, currency: 'USD' };

async function run(metricsSource: (fleet: SimulatedFleet) => MetricsSource): Promise<RunReport> {
  const store = SqliteEventStore.open(':memory:');
  const fleet = SimulatedFleet.fromFleet(fleetFile, { latencyMs: 0 });
  const bus = new InMemoryBus({ retryBackoffMs: 1 });
  try {
    return await processUntilQuiescent(
      { store, bus, ec2: fleet, metricsSource: metricsSource(fleet), identity: fleet, priceBook: defaultPriceBook, policy: autoPolicy, clock: { now: () => new Date() }, logger: silentLogger, metrics: new OptexMetrics(), options: { stepBackoffMs: 1 } },
      { dryRun: false, input: { records: [inputRecord(JSON.stringify(rightsize))], deliveryPrefix: 'spec', name: 'spec' } },
    );
  } finally {
    await bus.close();
    await store.close();
  }
}

describe('a message a service gives up on during a run', () => {
  it('is in the report with its group, optimization and reason (the optimization stops where it was)', async () => {
    const broken = (fleet: SimulatedFleet): MetricsSource => ({
      cpuP95: (ref, window) => fleet.cpuP95(ref, window),
      statusChecksPassed: (ref, window) => fleet.statusChecksPassed(ref, window),
      performance: async () => {
        throw new TypeError('a bug in the metrics source');
      },
    });
    const report = await run(broken);
    const [row] = report.optimizations;
    expect(row).toMatchObject({ recommendationId: 'rs', status: 'validating' });
    expect(report.deadLettered).toEqual([{ group: 'optex-validator', optimizationId: row!.optimizationId, reason: expect.stringContaining('TypeError: a bug in the metrics source') }]);
  });

  it('is absent from a run where nothing was given up on', async () => {
    const report = await run((fleet) => fleet);
    expect(report.optimizations[0]).toMatchObject({ status: 'completed' });
    expect(report.deadLettered).toBeUndefined();
  });
});
