import { Ec2Error } from '@optex/ports';
import { SimulatedFleet } from './simulated-fleet';
import { ACCOUNT, OTHER_ACCOUNT, OTHER_REGION, fixtureFleet, ref, window } from './fleet.fixture';

const ec2 = (awsCode: string) => expect.objectContaining({ name: 'Ec2Error', awsCode });
const fleet = () => SimulatedFleet.fromFleet(fixtureFleet());

describe('SimulatedFleet instances', () => {
  it('describes an instance with its type, state, tags and the default availability zone', async () => {
    await expect(fleet().describeInstance(ref('i-running'))).resolves.toEqual({
      id: 'i-running',
      instanceType: 'm5.xlarge',
      state: 'running',
      tags: { env: 'dev' },
      availabilityZone: 'us-east-1a',
    });
  });

  it('does not find an instance under another account or region', async () => {
    const sim = fleet();
    await expect(sim.describeInstance(ref('i-running', OTHER_ACCOUNT))).resolves.toBeUndefined();
    await expect(sim.describeInstance(ref('i-running', ACCOUNT, OTHER_REGION))).resolves.toBeUndefined();
    await expect(sim.stopInstance(ref('i-running', OTHER_ACCOUNT))).rejects.toEqual(ec2('InvalidInstanceID.NotFound'));
    await expect(sim.describeInstance(ref('i-running'))).resolves.toMatchObject({ state: 'running' });
  });

  it('fails with InvalidInstanceID.NotFound for every operation on an unknown instance', async () => {
    const sim = fleet();
    const missing = ref('i-missing');
    await expect(sim.stopInstance(missing)).rejects.toEqual(ec2('InvalidInstanceID.NotFound'));
    await expect(sim.startInstance(missing)).rejects.toEqual(ec2('InvalidInstanceID.NotFound'));
    await expect(sim.modifyInstanceType(missing, 'm5.large')).rejects.toEqual(ec2('InvalidInstanceID.NotFound'));
    await expect(sim.waitForInstanceState(missing, 'stopped', 1000)).rejects.toEqual(ec2('InvalidInstanceID.NotFound'));
  });

  it('stops a running instance immediately, and a second stop is a no-op', async () => {
    const sim = fleet();
    await sim.stopInstance(ref('i-running'));
    await expect(sim.describeInstance(ref('i-running'))).resolves.toMatchObject({ state: 'stopped' });
    await expect(sim.stopInstance(ref('i-running'))).resolves.toBeUndefined();
    await expect(sim.waitForInstanceState(ref('i-running'), 'stopped', 1000)).resolves.toBeUndefined();
  });

  it('starts a stopped instance, and starting a running one is a no-op', async () => {
    const sim = fleet();
    await sim.startInstance(ref('i-stopped'));
    await expect(sim.describeInstance(ref('i-stopped'))).resolves.toMatchObject({ state: 'running' });
    await expect(sim.startInstance(ref('i-running'))).resolves.toBeUndefined();
    await expect(sim.describeInstance(ref('i-running'))).resolves.toMatchObject({ state: 'running' });
  });

  it('refuses to stop or start a terminated instance (IncorrectInstanceState)', async () => {
    const sim = fleet();
    await expect(sim.stopInstance(ref('i-terminated'))).rejects.toEqual(ec2('IncorrectInstanceState'));
    await expect(sim.startInstance(ref('i-terminated'))).rejects.toEqual(ec2('IncorrectInstanceState'));
  });

  it('refuses to change the type of an instance that is not stopped (IncorrectInstanceState), a rejection not worth retrying', async () => {
    const sim = fleet();
    const error = await sim.modifyInstanceType(ref('i-running'), 'm5.large').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Ec2Error);
    expect(error).toMatchObject({ awsCode: 'IncorrectInstanceState', transient: false });
    await expect(sim.describeInstance(ref('i-running'))).resolves.toMatchObject({ instanceType: 'm5.xlarge' });
  });

  it('changes the type of a stopped instance', async () => {
    const sim = fleet();
    await sim.modifyInstanceType(ref('i-stopped'), 'c5.xlarge');
    await expect(sim.describeInstance(ref('i-stopped'))).resolves.toMatchObject({ instanceType: 'c5.xlarge', state: 'stopped' });
  });

  it('rejects an unknown instance type (InvalidInstanceAttributeValue) and accepts known families and types the fleet uses', async () => {
    const sim = SimulatedFleet.fromFleet(
      fixtureFleet({
        instances: [
          { id: 'i-1', accountId: ACCOUNT, region: 'us-east-1', instanceType: 'm5.large', state: 'stopped' },
          { id: 'i-2', accountId: ACCOUNT, region: 'us-east-1', instanceType: 'zz9.plural', state: 'running' },
        ],
      }),
    );
    await expect(sim.modifyInstanceType(ref('i-1'), 'm5.huge')).rejects.toEqual(ec2('InvalidInstanceAttributeValue'));
    await expect(sim.modifyInstanceType(ref('i-1'), 'foo.large')).rejects.toEqual(ec2('InvalidInstanceAttributeValue'));
    await expect(sim.modifyInstanceType(ref('i-1'), 'M5.LARGE')).rejects.toEqual(ec2('InvalidInstanceAttributeValue'));
    await sim.modifyInstanceType(ref('i-1'), 'm6i.2xlarge');
    await sim.modifyInstanceType(ref('i-1'), 'zz9.plural');
    await expect(sim.describeInstance(ref('i-1'))).resolves.toMatchObject({ instanceType: 'zz9.plural' });
  });

  it('fails waitForInstanceState with WaiterTimeout when the instance is in another state', async () => {
    const sim = fleet();
    await expect(sim.waitForInstanceState(ref('i-running'), 'stopped', 5000)).rejects.toEqual(ec2('WaiterTimeout'));
    await expect(sim.waitForInstanceState(ref('i-stopped'), 'running', 5000)).rejects.toEqual(ec2('WaiterTimeout'));
    await expect(sim.waitForInstanceState(ref('i-running'), 'running', 5000)).resolves.toBeUndefined();
  });
});

describe('SimulatedFleet metrics', () => {
  it('rescales CPU p95 by the vCPU ratio when the type changes, and back again', async () => {
    const sim = fleet();
    await sim.stopInstance(ref('i-running'));
    await sim.modifyInstanceType(ref('i-running'), 'm5.large'); // 4 → 2 vCPUs
    await sim.startInstance(ref('i-running'));
    await expect(sim.cpuP95(ref('i-running'), window)).resolves.toBe(90);
    await sim.stopInstance(ref('i-running'));
    await sim.modifyInstanceType(ref('i-running'), 'm5.xlarge');
    await sim.startInstance(ref('i-running'));
    await expect(sim.cpuP95(ref('i-running'), window)).resolves.toBe(45);
  });

  it('rescales downwards for a larger type, rounds to hundredths and caps at 100 %', async () => {
    const sim = fleet();
    await sim.modifyInstanceType(ref('i-stopped'), 'c5.4xlarge'); // 8 → 16 vCPUs (derived)
    await sim.startInstance(ref('i-stopped'));
    await expect(sim.cpuP95(ref('i-stopped'), window)).resolves.toBe(15);
    await sim.stopInstance(ref('i-stopped'));
    await sim.modifyInstanceType(ref('i-stopped'), 't3.micro'); // 16 → 2 vCPUs: 120 % capped
    await sim.startInstance(ref('i-stopped'));
    await expect(sim.cpuP95(ref('i-stopped'), window)).resolves.toBe(100);
    const three = SimulatedFleet.fromFleet({
      instances: [{ id: 'i-3', accountId: ACCOUNT, region: 'us-east-1', instanceType: 'm5.2xlarge', state: 'stopped', cpuP95: 10 }],
    });
    await three.modifyInstanceType(ref('i-3'), 'm5.12xlarge'); // 8 → 48
    await three.startInstance(ref('i-3'));
    await expect(three.cpuP95(ref('i-3'), window)).resolves.toBe(1.67);
  });

  it('reports 0 % CPU for a stopped instance and no data when the fleet has no figure', async () => {
    const sim = fleet();
    await expect(sim.cpuP95(ref('i-stopped'), window)).resolves.toBe(0);
    await expect(sim.cpuP95(ref('i-nodata'), window)).resolves.toBeUndefined();
    await expect(sim.cpuP95(ref('i-missing'), window)).resolves.toBeUndefined();
    await expect(sim.cpuP95(ref('i-running', OTHER_ACCOUNT), window)).resolves.toBeUndefined();
    await expect(sim.cpuP95(ref('i-other-account', OTHER_ACCOUNT), window)).resolves.toBe(20);
  });

  it('reports status checks from the fleet, else passed while running and unknown while stopped', async () => {
    const sim = fleet();
    await expect(sim.statusChecksPassed(ref('i-running'), window)).resolves.toBe(true);
    await expect(sim.statusChecksPassed(ref('i-sick'), window)).resolves.toBe(false);
    await expect(sim.statusChecksPassed(ref('i-stopped'), window)).resolves.toBeUndefined();
    await expect(sim.statusChecksPassed(ref('i-missing'), window)).resolves.toBeUndefined();
  });

  describe('instance type offerings', () => {
    const scope = { accountId: ACCOUNT, region: 'us-east-1' };

    it('by default offers every type EC2 knows in every region and zone, and no type it does not know', async () => {
      const sim = fleet();
      for (const type of ['m5.large', 'm7g.large', 'c5.2xlarge']) {
        await expect(sim.describeInstanceTypeOffering(scope, type)).resolves.toEqual({ instanceType: type, location: 'us-east-1' });
        await expect(sim.describeInstanceTypeOffering(scope, type, 'us-east-1d')).resolves.toEqual({ instanceType: type, location: 'us-east-1d' });
        await expect(sim.describeInstanceTypeOffering({ ...scope, region: OTHER_REGION }, type)).resolves.toEqual({ instanceType: type, location: OTHER_REGION });
      }
      await expect(sim.describeInstanceTypeOffering(scope, 'm5.huge')).resolves.toBeUndefined();
      await expect(sim.describeInstanceTypeOffering(scope, 'm5.large', 'eu-west-1a')).resolves.toBeUndefined();
    });

    it('leaves out what the fleet file lists under a region (nowhere in it) or a zone (only there)', async () => {
      const sim = SimulatedFleet.fromFleet(fixtureFleet({ instanceTypesNotOffered: { 'us-east-1': ['m7g.large'], 'us-east-1b': ['c5.2xlarge'] } }));
      await expect(sim.describeInstanceTypeOffering(scope, 'm7g.large')).resolves.toBeUndefined();
      await expect(sim.describeInstanceTypeOffering(scope, 'm7g.large', 'us-east-1a')).resolves.toBeUndefined();
      await expect(sim.describeInstanceTypeOffering({ ...scope, region: OTHER_REGION }, 'm7g.large')).resolves.toEqual({ instanceType: 'm7g.large', location: OTHER_REGION });
      await expect(sim.describeInstanceTypeOffering(scope, 'c5.2xlarge', 'us-east-1b')).resolves.toBeUndefined();
      await expect(sim.describeInstanceTypeOffering(scope, 'c5.2xlarge', 'us-east-1a')).resolves.toEqual({ instanceType: 'c5.2xlarge', location: 'us-east-1a' });
      await expect(sim.describeInstanceTypeOffering(scope, 'c5.2xlarge')).resolves.toEqual({ instanceType: 'c5.2xlarge', location: 'us-east-1' });
    });

    it('is logged like any call, and a fault on DescribeInstanceTypeOfferings fails it', async () => {
      const sim = SimulatedFleet.fromFleet(fixtureFleet({ faults: [{ resourceId: 'm5.large', operation: 'DescribeInstanceTypeOfferings', error: 'UnauthorizedOperation', times: 1 }] }));
      await expect(sim.describeInstanceTypeOffering(scope, 'm5.large')).rejects.toEqual(ec2('UnauthorizedOperation'));
      await expect(sim.describeInstanceTypeOffering(scope, 'm5.large')).resolves.toEqual({ instanceType: 'm5.large', location: 'us-east-1' });
      expect(sim.calls().map((c) => [c.operation, c.resourceId, c.result])).toEqual([
        ['describeInstanceTypeOffering', 'm5.large', 'UnauthorizedOperation'],
        ['describeInstanceTypeOffering', 'm5.large', 'ok'],
      ]);
    });
  });
});
