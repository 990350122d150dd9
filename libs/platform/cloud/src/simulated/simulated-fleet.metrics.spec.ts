import type { MetricsSource, ResourceRef } from '@optex/ports';
import { metricsSourceContract } from '@optex/testing';
import { SimulatedFleet } from './simulated-fleet';
import type { InstanceRecord } from './fleet-schema';
import { ACCOUNT, ManualClock, REGION, ref } from './fleet.fixture';

// The MetricsSource contract against the simulated fleet: an instance is arranged in the fleet file's format, its
// figures before the change as `metricsBefore` (what the simulator records when it stops an instance).
metricsSourceContract('simulated fleet', async () => {
  const clock = new ManualClock(new Date('2030-06-01T12:00:00Z'));
  const instances: InstanceRecord[] = [];
  let fleet = SimulatedFleet.fromFleet({ instances }, { clock });
  const source = new Proxy({} as MetricsSource, {
    get: (_target, property) => {
      const value: unknown = Reflect.get(fleet, property);
      return typeof value === 'function' ? value.bind(fleet) : value;
    },
  });
  return {
    source,
    accountId: ACCOUNT,
    region: REGION,
    now: () => clock.now(),
    instance: async ({ before, after, changedAt }) => {
      const id = `i-metrics${String(instances.length + 1).padStart(4, '0')}`;
      instances.push({ id, accountId: ACCOUNT, region: REGION, instanceType: 'm5.large', state: 'running', ...after, metricsBefore: { until: changedAt.toISOString(), ...before } });
      fleet = SimulatedFleet.fromFleet({ instances }, { clock });
      return id;
    },
  };
});

describe('SimulatedFleet metrics around a rightsize it performs', () => {
  it('keeps the figures from before the stop for windows ending by then; after the new type, CPU scales by vCPUs', async () => {
    const clock = new ManualClock(new Date('2030-06-01T12:00:00Z'));
    const figures = { cpuP95: 30, memoryUsedPct: 50, networkInBytesPerSec: 800, networkOutBytesPerSec: 400 };
    const fleet = SimulatedFleet.fromFleet({ instances: [{ id: 'i-rs', accountId: ACCOUNT, region: REGION, instanceType: 'm5.xlarge', state: 'running', ...figures }] }, { clock });
    const i: ResourceRef = ref('i-rs');
    const startedAt = clock.now();
    clock.advance(1000);
    await fleet.stopInstance(i);
    await fleet.modifyInstanceType(i, 'm5.large');
    clock.advance(1000);
    await fleet.startInstance(i);
    const endedAt = clock.now();
    clock.advance(60_000);
    await expect(fleet.performance(i, { from: new Date(startedAt.getTime() - 3_600_000), to: startedAt })).resolves.toEqual({ ...figures, statusChecksPassed: true });
    await expect(fleet.performance(i, { from: endedAt, to: clock.now() })).resolves.toEqual({ ...figures, cpuP95: 60, statusChecksPassed: true });
  });

  it('has no data for a stopped instance after the stop', async () => {
    const clock = new ManualClock(new Date('2030-06-01T12:00:00Z'));
    const fleet = SimulatedFleet.fromFleet({ instances: [{ id: 'i-idle', accountId: ACCOUNT, region: REGION, instanceType: 'm5.large', state: 'running', cpuP95: 2 }] }, { clock });
    await fleet.stopInstance(ref('i-idle'));
    clock.advance(60_000);
    await expect(fleet.performance(ref('i-idle'), { from: new Date(clock.now().getTime() - 30_000), to: clock.now() })).resolves.toEqual({});
  });
});
