import { Ec2Error } from '@optex/ports';
import { DRY_RUN_UNAUTHORIZED_TAG, SimulatedFleet } from './simulated-fleet';
import { EC2_API_OPERATIONS } from './operations';
import { ACCOUNT, REGION, fixtureFleet, ref } from './fleet.fixture';

const ec2 = (awsCode: string) => expect.objectContaining({ name: 'Ec2Error', awsCode });
const fault = (resourceId: string, operation: string, error: string, times: number) => ({ resourceId, operation, error, times });

describe('SimulatedFleet faults', () => {
  it('fails the operation with the fault\'s code `times` times, then succeeds; transient codes come out transient', async () => {
    const sim = SimulatedFleet.fromFleet(fixtureFleet({ faults: [fault('vol-gp2-500', 'modifyVolume', 'RequestLimitExceeded', 2)] }));
    for (let attempt = 0; attempt < 2; attempt++) {
      const error = await sim.modifyVolume(ref('vol-gp2-500'), { volumeType: 'gp3' }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(Ec2Error);
      expect(error).toMatchObject({ awsCode: 'RequestLimitExceeded', transient: true });
      await expect(sim.describeVolume(ref('vol-gp2-500'))).resolves.toMatchObject({ volumeType: 'gp2' });
    }
    await sim.modifyVolume(ref('vol-gp2-500'), { volumeType: 'gp3' });
    await expect(sim.describeVolume(ref('vol-gp2-500'))).resolves.toMatchObject({ volumeType: 'gp3' });
    expect(sim.snapshot().faults).toEqual([fault('vol-gp2-500', 'modifyVolume', 'RequestLimitExceeded', 0)]);
  });

  it('gives non-transient codes as rejections, with the fault\'s own message when it has one', async () => {
    const sim = SimulatedFleet.fromFleet(
      fixtureFleet({ faults: [{ ...fault('i-stopped', 'startInstance', 'Unsupported', 1), message: 'The requested configuration is currently not supported.' }] }),
    );
    const error = await sim.startInstance(ref('i-stopped')).catch((e: unknown) => e);
    expect(error).toMatchObject({ awsCode: 'Unsupported', transient: false, message: 'Unsupported: The requested configuration is currently not supported.' });
    await expect(sim.describeInstance(ref('i-stopped'))).resolves.toMatchObject({ state: 'stopped' });
    await sim.startInstance(ref('i-stopped'));
    await expect(sim.describeInstance(ref('i-stopped'))).resolves.toMatchObject({ state: 'running' });
  });

  it('accepts EC2 API action names for the port methods', async () => {
    expect(Object.keys(EC2_API_OPERATIONS)).toHaveLength(19);
    const sim = SimulatedFleet.fromFleet(
      fixtureFleet({
        faults: [
          fault('i-stopped', 'StartInstances', 'InsufficientInstanceCapacity', 1),
          fault('i-stopped', 'ModifyInstanceAttribute', 'InternalError', 1),
          fault('snap-free', 'DeleteSnapshot', 'UnauthorizedOperation', 1),
        ],
      }),
    );
    await expect(sim.startInstance(ref('i-stopped'))).rejects.toEqual(ec2('InsufficientInstanceCapacity'));
    await expect(sim.modifyInstanceType(ref('i-stopped'), 'c5.xlarge')).rejects.toEqual(ec2('InternalError'));
    await expect(sim.deleteSnapshot(ref('snap-free'))).rejects.toEqual(ec2('UnauthorizedOperation'));
    await sim.modifyInstanceType(ref('i-stopped'), 'c5.xlarge');
    await sim.startInstance(ref('i-stopped'));
    await sim.deleteSnapshot(ref('snap-free'));
  });

  it('applies a fault only to its resource and operation; `*` matches any resource', async () => {
    const sim = SimulatedFleet.fromFleet(fixtureFleet({ faults: [fault('i-running', 'stopInstance', 'InternalError', 1), fault('*', 'allocateAddress', 'AddressLimitExceeded', 1)] }));
    await sim.startInstance(ref('i-running'));
    await sim.stopInstance(ref('i-nodata'));
    await expect(sim.stopInstance(ref('i-running'))).rejects.toEqual(ec2('InternalError'));
    await expect(sim.allocateAddress({ accountId: ACCOUNT, region: REGION })).rejects.toEqual(ec2('AddressLimitExceeded'));
    await expect(sim.allocateAddress({ accountId: ACCOUNT, region: REGION })).resolves.toMatchObject({ publicIp: '198.51.100.1' });
  });

  it('consumes faults in the order the file lists them', async () => {
    const sim = SimulatedFleet.fromFleet(fixtureFleet({ faults: [fault('vol-io1', 'describeVolume', 'Throttling', 1), fault('vol-io1', 'DescribeVolumes', 'ServiceUnavailable', 1)] }));
    await expect(sim.describeVolume(ref('vol-io1'))).rejects.toEqual(ec2('Throttling'));
    await expect(sim.describeVolume(ref('vol-io1'))).rejects.toEqual(ec2('ServiceUnavailable'));
    await expect(sim.describeVolume(ref('vol-io1'))).resolves.toMatchObject({ id: 'vol-io1' });
  });
});

describe('SimulatedFleet dry runs', () => {
  const dryRun = { dryRun: true };
  /** Every mutating operation, called with DryRun on a resource where it would succeed. */
  const mutatingCalls: ReadonlyArray<[string, (sim: SimulatedFleet) => Promise<unknown>]> = [
    ['stopInstance', (sim) => sim.stopInstance(ref('i-running'), dryRun)],
    ['startInstance', (sim) => sim.startInstance(ref('i-stopped'), dryRun)],
    ['modifyInstanceType', (sim) => sim.modifyInstanceType(ref('i-stopped'), 'c5.xlarge', dryRun)],
    ['modifyVolume', (sim) => sim.modifyVolume(ref('vol-gp2-500'), { volumeType: 'gp3' }, dryRun)],
    ['deleteVolume', (sim) => sim.deleteVolume(ref('vol-gp2-500'), dryRun)],
    ['createVolume', (sim) => sim.createVolume({ accountId: ACCOUNT, region: REGION, availabilityZone: 'us-east-1a', volumeType: 'gp2', sizeGiB: 100, snapshotId: 'snap-free' }, dryRun)],
    ['createSnapshot', (sim) => sim.createSnapshot(ref('vol-gp2-500'), { description: 'd', tags: {} }, dryRun)],
    ['deleteSnapshot', (sim) => sim.deleteSnapshot(ref('snap-free'), dryRun)],
    ['releaseAddress', (sim) => sim.releaseAddress(ref('eipalloc-free'), dryRun)],
    ['allocateAddress', (sim) => sim.allocateAddress({ accountId: ACCOUNT, region: REGION }, dryRun)],
    ['purchaseReservedInstancesOffering', (sim) => sim.purchaseReservedInstancesOffering({ accountId: ACCOUNT, region: REGION, offeringId: 'offer-m5', instanceCount: 1 }, dryRun)],
  ];

  it.each(mutatingCalls)('%s with DryRun fails with DryRunOperation and changes nothing', async (_operation, call) => {
    const sim = SimulatedFleet.fromFleet(fixtureFleet());
    const before = sim.snapshot();
    const error = await call(sim).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Ec2Error);
    expect(error).toMatchObject({ awsCode: 'DryRunOperation', transient: false, message: 'DryRunOperation: Request would have succeeded, but DryRun flag is set.' });
    expect(sim.snapshot()).toEqual(before);
  });

  // A dry run is for finding a missing permission: an injected rejection fails it, and stays for the real call.
  it.each(mutatingCalls)('%s with DryRun fails with an injected UnauthorizedOperation, which it leaves in place', async (operation, call) => {
    const sim = SimulatedFleet.fromFleet(fixtureFleet({ faults: [fault('*', operation, 'UnauthorizedOperation', 1)] }));
    const before = sim.snapshot();
    await expect(call(sim)).rejects.toEqual(ec2('UnauthorizedOperation'));
    await expect(call(sim)).rejects.toEqual(ec2('UnauthorizedOperation'));
    expect(sim.snapshot()).toEqual(before);
  });

  it('a transient fault fails a dry run and is consumed by it, as by a real call (so retries get past it)', async () => {
    const sim = SimulatedFleet.fromFleet(fixtureFleet({ faults: [fault('vol-gp2-500', 'ModifyVolume', 'RequestLimitExceeded', 1)] }));
    await expect(sim.modifyVolume(ref('vol-gp2-500'), { volumeType: 'gp3' }, dryRun)).rejects.toMatchObject({ awsCode: 'RequestLimitExceeded', transient: true });
    await expect(sim.modifyVolume(ref('vol-gp2-500'), { volumeType: 'gp3' }, dryRun)).rejects.toEqual(ec2('DryRunOperation'));
    expect(sim.snapshot().faults).toEqual([fault('vol-gp2-500', 'ModifyVolume', 'RequestLimitExceeded', 0)]);
    await expect(sim.describeVolume(ref('vol-gp2-500'))).resolves.toMatchObject({ volumeType: 'gp2' });
  });

  it('createReservedInstancesListing with DryRun fails with DryRunOperation and lists nothing', async () => {
    const sim = SimulatedFleet.fromFleet(fixtureFleet());
    const { reservedInstancesId } = await sim.purchaseReservedInstancesOffering({ accountId: ACCOUNT, region: REGION, offeringId: 'offer-m5', instanceCount: 1 });
    const before = sim.snapshot();
    await expect(sim.createReservedInstancesListing({ accountId: ACCOUNT, region: REGION, reservedInstancesId, instanceCount: 1, price: 1 }, dryRun)).rejects.toEqual(ec2('DryRunOperation'));
    expect(sim.snapshot()).toEqual(before);
  });

  it('still checks the rules: a DryRun that would fail fails with the real error', async () => {
    const sim = SimulatedFleet.fromFleet(fixtureFleet());
    await expect(sim.modifyInstanceType(ref('i-terminated'), 'm5.xlarge', dryRun)).rejects.toEqual(ec2('IncorrectInstanceState'));
    await expect(sim.modifyInstanceType(ref('i-stopped'), 'm5.huge', dryRun)).rejects.toEqual(ec2('InvalidInstanceAttributeValue'));
    await expect(sim.deleteVolume(ref('vol-gp2-2000'), dryRun)).rejects.toEqual(ec2('VolumeInUse'));
    await expect(sim.releaseAddress(ref('eipalloc-used'), dryRun)).rejects.toEqual(ec2('InvalidIPAddress.InUse'));
    await expect(sim.deleteSnapshot(ref('snap-ami'), dryRun)).rejects.toEqual(ec2('InvalidSnapshot.InUse'));
    await expect(sim.stopInstance(ref('i-missing'), dryRun)).rejects.toEqual(ec2('InvalidInstanceID.NotFound'));
    await expect(
      sim.purchaseReservedInstancesOffering({ accountId: ACCOUNT, region: REGION, offeringId: 'offer-m5', instanceCount: 2, limitPrice: 10 }, dryRun),
    ).rejects.toEqual(ec2('LimitPriceExceeded'));
  });

  it('accepts a type change of a running instance, as a dry-run rightsize sends it after a dry-run stop', async () => {
    const sim = SimulatedFleet.fromFleet(fixtureFleet());
    await expect(sim.stopInstance(ref('i-running'), dryRun)).rejects.toEqual(ec2('DryRunOperation'));
    await expect(sim.modifyInstanceType(ref('i-running'), 'm5.large', dryRun)).rejects.toEqual(ec2('DryRunOperation'));
    await expect(sim.startInstance(ref('i-running'), dryRun)).rejects.toEqual(ec2('DryRunOperation'));
    await expect(sim.describeInstance(ref('i-running'))).resolves.toMatchObject({ instanceType: 'm5.xlarge', state: 'running' });
    await expect(sim.modifyInstanceType(ref('i-running'), 'm5.large')).rejects.toEqual(ec2('IncorrectInstanceState'));
  });

  it('fails with a non-transient fault and leaves it for the real call', async () => {
    const sim = SimulatedFleet.fromFleet(fixtureFleet({ faults: [fault('i-running', 'stopInstance', 'IncorrectInstanceState', 1)] }));
    await expect(sim.stopInstance(ref('i-running'), dryRun)).rejects.toEqual(ec2('IncorrectInstanceState'));
    await expect(sim.stopInstance(ref('i-running'))).rejects.toEqual(ec2('IncorrectInstanceState'));
    await sim.stopInstance(ref('i-running'));
  });

  it('fails with UnauthorizedOperation on a resource tagged optex:dry-run-unauthorized=true', async () => {
    const tagged = fixtureFleet();
    (tagged.instances as Array<{ tags?: Record<string, string> }>)[0]!.tags = { [DRY_RUN_UNAUTHORIZED_TAG]: 'true' };
    const sim = SimulatedFleet.fromFleet(tagged);
    await expect(sim.stopInstance(ref('i-running'), dryRun)).rejects.toEqual(ec2('UnauthorizedOperation'));
    await expect(sim.stopInstance(ref('i-stopped'), dryRun)).rejects.toEqual(ec2('DryRunOperation'));
    await sim.stopInstance(ref('i-running'));
    await expect(sim.describeInstance(ref('i-running'))).resolves.toMatchObject({ state: 'stopped' });
  });

  it('fails every DryRun with UnauthorizedOperation when the fleet says dryRunUnauthorized', async () => {
    const sim = SimulatedFleet.fromFleet(fixtureFleet({ dryRunUnauthorized: true }));
    await expect(sim.stopInstance(ref('i-running'), dryRun)).rejects.toEqual(ec2('UnauthorizedOperation'));
    await expect(sim.allocateAddress({ accountId: ACCOUNT, region: REGION }, dryRun)).rejects.toEqual(ec2('UnauthorizedOperation'));
    await sim.stopInstance(ref('i-running'));
  });
});
