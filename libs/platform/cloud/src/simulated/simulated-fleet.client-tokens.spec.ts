import { CLIENT_TOKEN_TAG } from '@optex/ports';
import { SimulatedFleet } from './simulated-fleet';
import { ACCOUNT, ManualClock, OTHER_ACCOUNT, REGION, fixtureFleet, ref } from './fleet.fixture';

const ec2 = (awsCode: string) => expect.objectContaining({ name: 'Ec2Error', awsCode });
const scope = { accountId: ACCOUNT, region: REGION };

describe('SimulatedFleet client tokens', () => {
  let clock: ManualClock;
  let sim: SimulatedFleet;
  beforeEach(() => {
    clock = new ManualClock();
    sim = SimulatedFleet.fromFleet(fixtureFleet(), { clock });
  });

  it('finds a snapshot by the token it was created with; nothing without one; a dry run creates nothing to find', async () => {
    await expect(sim.createSnapshot(ref('vol-gp2-500'), { description: 'd', tags: {} }, { dryRun: true, clientToken: 't-dry' })).rejects.toEqual(ec2('DryRunOperation'));
    await expect(sim.findSnapshotByClientToken(scope, 't-dry')).resolves.toBeUndefined();
    await sim.createSnapshot(ref('vol-gp2-500'), { description: 'no token', tags: {} });
    const { snapshotId } = await sim.createSnapshot(ref('vol-gp2-500'), { description: 'd', tags: { 'optex:optimization': 'o-1' } }, { clientToken: 't-1' });
    await expect(sim.findSnapshotByClientToken(scope, 't-1')).resolves.toMatchObject({ id: snapshotId, volumeId: 'vol-gp2-500', tags: { 'optex:optimization': 'o-1', [CLIENT_TOKEN_TAG]: 't-1' } });
    await expect(sim.findSnapshotByClientToken(scope, 't-2')).resolves.toBeUndefined();
    await expect(sim.findSnapshotByClientToken({ accountId: OTHER_ACCOUNT, region: REGION }, 't-1')).resolves.toBeUndefined();
  });

  it('finds a volume by its token; nothing without one; a dry run creates nothing to find', async () => {
    const request = { ...scope, availabilityZone: 'us-east-1a', volumeType: 'gp3', sizeGiB: 100, snapshotId: 'snap-free', tags: { Name: 'restored' } };
    await expect(sim.createVolume(request, { dryRun: true, clientToken: 't-dry' })).rejects.toEqual(ec2('DryRunOperation'));
    await expect(sim.findVolumeByClientToken(scope, 't-dry')).resolves.toBeUndefined();
    await sim.createVolume(request);
    const { volumeId } = await sim.createVolume(request, { clientToken: 't-1' });
    await expect(sim.findVolumeByClientToken(scope, 't-1')).resolves.toMatchObject({ id: volumeId, tags: { Name: 'restored', [CLIENT_TOKEN_TAG]: 't-1' } });
    await expect(sim.findVolumeByClientToken(scope, 't-2')).resolves.toBeUndefined();
  });

  it('finds an address by its token; nothing without one; a dry run allocates nothing to find', async () => {
    await expect(sim.allocateAddress(scope, { dryRun: true, clientToken: 't-dry' })).rejects.toEqual(ec2('DryRunOperation'));
    await expect(sim.findAddressByClientToken(scope, 't-dry')).resolves.toBeUndefined();
    await sim.allocateAddress(scope);
    const address = await sim.allocateAddress(scope, { clientToken: 't-1' });
    await expect(sim.findAddressByClientToken(scope, 't-1')).resolves.toEqual(address);
    await expect(sim.findAddressByClientToken(scope, 't-2')).resolves.toBeUndefined();
  });

  it('finds reservations of an instance type bought at or after a time, newest first, with their offering and count', async () => {
    const intent = clock.now();
    await expect(sim.purchaseReservedInstancesOffering({ ...scope, offeringId: 'offer-m5', instanceCount: 1 }, { dryRun: true })).rejects.toEqual(ec2('DryRunOperation'));
    await expect(sim.findReservedInstances(scope, { instanceType: 'm5.large', startedAtOrAfter: intent })).resolves.toEqual([]);
    const first = await sim.purchaseReservedInstancesOffering({ ...scope, offeringId: 'offer-m5', instanceCount: 2 });
    clock.advance(60_000);
    const second = await sim.purchaseReservedInstancesOffering({ ...scope, offeringId: 'offer-m5', instanceCount: 1 });
    const found = await sim.findReservedInstances(scope, { instanceType: 'm5.large', startedAtOrAfter: intent });
    expect(found.map((r) => r.reservedInstancesId)).toEqual([second.reservedInstancesId, first.reservedInstancesId]);
    expect(found[1]).toEqual({ reservedInstancesId: first.reservedInstancesId, instanceType: 'm5.large', instanceCount: 2, start: intent, state: 'active', offeringId: 'offer-m5' });
    await expect(sim.findReservedInstances(scope, { instanceType: 'm5.large', startedAtOrAfter: clock.now() })).resolves.toHaveLength(1);
    await expect(sim.findReservedInstances(scope, { instanceType: 'c5.large', startedAtOrAfter: intent })).resolves.toEqual([]);
  });
});
