import { SimulatedFleet, VOLUME_MODIFICATION_COOLDOWN_MS } from './simulated-fleet';
import { ACCOUNT, ManualClock, OTHER_ACCOUNT, OTHER_REGION, REGION, fixtureFleet, ref } from './fleet.fixture';

const ec2 = (awsCode: string) => expect.objectContaining({ name: 'Ec2Error', awsCode });

describe('SimulatedFleet volumes', () => {
  let clock: ManualClock;
  let sim: SimulatedFleet;
  beforeEach(() => {
    clock = new ManualClock();
    sim = SimulatedFleet.fromFleet(fixtureFleet(), { clock });
  });

  it('describes a volume; gp2 reports the IOPS its size gives; availability zone defaults to <region>a', async () => {
    await expect(sim.describeVolume(ref('vol-gp2-500'))).resolves.toEqual({
      id: 'vol-gp2-500',
      volumeType: 'gp2',
      sizeGiB: 500,
      iops: 1500,
      state: 'available',
      availabilityZone: 'us-east-1a',
      tags: { team: 'data' },
    });
    await expect(sim.describeVolume(ref('vol-io1'))).resolves.toMatchObject({ iops: 6000, availabilityZone: 'us-east-1c' });
    await expect(sim.describeVolume(ref('vol-gp2-2000'))).resolves.toMatchObject({ state: 'in-use', attachedTo: 'i-running' });
  });

  it('scopes volumes to their account and region', async () => {
    await expect(sim.describeVolume(ref('vol-gp2-500', OTHER_ACCOUNT))).resolves.toBeUndefined();
    await expect(sim.describeVolume(ref('vol-eu'))).resolves.toBeUndefined();
    await expect(sim.describeVolume(ref('vol-eu', ACCOUNT, OTHER_REGION))).resolves.toMatchObject({ sizeGiB: 50 });
    await expect(sim.modifyVolume(ref('vol-eu'), { volumeType: 'gp3' })).rejects.toEqual(ec2('InvalidVolume.NotFound'));
  });

  it('modifies gp2 to gp3 with gp3 defaults, recording when the modification started', async () => {
    await sim.modifyVolume(ref('vol-gp2-500'), { volumeType: 'gp3' });
    await expect(sim.describeVolume(ref('vol-gp2-500'))).resolves.toMatchObject({
      volumeType: 'gp3',
      iops: 3000,
      throughput: 125,
      modificationState: 'completed',
      lastModificationStartedAt: clock.now(),
    });
  });

  it('applies what the request names and EC2\'s defaults for what it leaves out (3000 IOPS on a type change, kept on the same type)', async () => {
    await sim.modifyVolume(ref('vol-gp2-2000'), { volumeType: 'gp3', iops: 6000, throughput: 250 });
    await expect(sim.describeVolume(ref('vol-gp2-2000'))).resolves.toMatchObject({ volumeType: 'gp3', iops: 6000, throughput: 250 });
    await sim.modifyVolume(ref('vol-io1'), { volumeType: 'gp3' });
    await expect(sim.describeVolume(ref('vol-io1'))).resolves.toMatchObject({ volumeType: 'gp3', iops: 3000, throughput: 125 });
    const later = new ManualClock(new Date(clock.now().getTime() + VOLUME_MODIFICATION_COOLDOWN_MS));
    const again = SimulatedFleet.fromFleet(sim.snapshot(), { clock: later });
    await again.modifyVolume(ref('vol-gp2-2000'), { volumeType: 'gp3', iops: 8000 });
    await expect(again.describeVolume(ref('vol-gp2-2000'))).resolves.toMatchObject({ iops: 8000, throughput: 250 });
  });

  it('refuses a second modification within 6 hours of the previous one (VolumeModificationRateExceeded), allows it after', async () => {
    await sim.modifyVolume(ref('vol-gp2-500'), { volumeType: 'gp3' });
    clock.advance(VOLUME_MODIFICATION_COOLDOWN_MS - 1000);
    await expect(sim.modifyVolume(ref('vol-gp2-500'), { volumeType: 'gp2' })).rejects.toEqual(ec2('VolumeModificationRateExceeded'));
    await expect(sim.describeVolume(ref('vol-gp2-500'))).resolves.toMatchObject({ volumeType: 'gp3' });
    clock.advance(1000);
    await sim.modifyVolume(ref('vol-gp2-500'), { volumeType: 'gp2' });
    await expect(sim.describeVolume(ref('vol-gp2-500'))).resolves.toMatchObject({ volumeType: 'gp2', iops: 1500 });
    await expect(sim.describeVolume(ref('vol-gp2-500'))).resolves.not.toHaveProperty('throughput');
  });

  it('honours a recent modification recorded in the fleet file', async () => {
    const recent = SimulatedFleet.fromFleet(
      {
        volumes: [
          {
            id: 'vol-1',
            accountId: ACCOUNT,
            region: REGION,
            volumeType: 'gp3',
            sizeGiB: 10,
            state: 'available',
            modificationState: 'completed',
            lastModificationStartedAt: new Date(clock.now().getTime() - 60_000).toISOString(),
          },
        ],
      },
      { clock },
    );
    await expect(recent.modifyVolume(ref('vol-1'), { volumeType: 'gp2' })).rejects.toEqual(ec2('VolumeModificationRateExceeded'));
  });

  it('refuses to modify a volume while a modification is in progress (IncorrectModificationState)', async () => {
    await expect(sim.modifyVolume(ref('vol-modifying'), { volumeType: 'gp3' })).rejects.toEqual(ec2('IncorrectModificationState'));
  });

  it('validates the requested type, IOPS and throughput like EC2', async () => {
    await expect(sim.modifyVolume(ref('vol-gp2-500'), { volumeType: 'gp9' })).rejects.toEqual(ec2('InvalidParameterValue'));
    await expect(sim.modifyVolume(ref('vol-gp2-500'), { volumeType: 'gp2', iops: 3000 })).rejects.toEqual(ec2('InvalidParameterCombination'));
    await expect(sim.modifyVolume(ref('vol-gp2-500'), { volumeType: 'io1', throughput: 500 })).rejects.toEqual(ec2('InvalidParameterCombination'));
    await expect(sim.modifyVolume(ref('vol-gp2-500'), { volumeType: 'gp3', iops: 20000 })).rejects.toEqual(ec2('InvalidParameterValue'));
    await expect(sim.modifyVolume(ref('vol-gp2-500'), { volumeType: 'gp3', throughput: 1000 })).rejects.toEqual(ec2('InvalidParameterValue')); // > IOPS/4
    await expect(sim.modifyVolume(ref('vol-eu', ACCOUNT, OTHER_REGION), { volumeType: 'io1' })).rejects.toEqual(ec2('InvalidParameterValue')); // 3000 > 50 IOPS/GiB × 50
    const small = { accountId: ACCOUNT, region: REGION, availabilityZone: 'us-east-1a', sizeGiB: 10 };
    await expect(sim.createVolume({ ...small, volumeType: 'gp3', iops: 6000 })).rejects.toEqual(ec2('InvalidParameterValue')); // > 500 IOPS per GiB
    await expect(sim.createVolume({ ...small, volumeType: 'io1' })).rejects.toEqual(ec2('InvalidParameterDependency')); // as EC2 (and moto) answer
    await expect(sim.createVolume({ ...small, volumeType: 'st1' })).rejects.toEqual(ec2('InvalidParameterValue')); // st1 starts at 125 GiB
    await expect(sim.createVolume({ ...small, volumeType: 'gp3', iops: 5000, throughput: 1250 })).rejects.toEqual(ec2('InvalidParameterValue'));
    expect(sim.snapshot().volumes.map((v) => [v.id, v.volumeType])).toEqual((fixtureFleet().volumes as Array<{ id: string; volumeType: string }>).map((v) => [v.id, v.volumeType]));
  });

  it('deletes an unattached volume, refuses an attached one (VolumeInUse)', async () => {
    await expect(sim.deleteVolume(ref('vol-gp2-2000'))).rejects.toEqual(ec2('VolumeInUse'));
    await expect(sim.describeVolume(ref('vol-gp2-2000'))).resolves.toBeDefined();
    await sim.deleteVolume(ref('vol-gp2-500'));
    await expect(sim.describeVolume(ref('vol-gp2-500'))).resolves.toBeUndefined();
    await expect(sim.deleteVolume(ref('vol-gp2-500'))).rejects.toEqual(ec2('InvalidVolume.NotFound'));
  });

  it('creates a volume from a snapshot with the requested type, size, zone and tags', async () => {
    const { volumeId } = await sim.createVolume({
      accountId: ACCOUNT,
      region: REGION,
      availabilityZone: 'us-east-1b',
      volumeType: 'gp2',
      sizeGiB: 100,
      snapshotId: 'snap-free',
      tags: { team: 'data', 'optex:restored-from': 'snap-free' },
    });
    expect(volumeId).toBe('vol-sim-1');
    await expect(sim.describeVolume(ref(volumeId))).resolves.toEqual({
      id: 'vol-sim-1',
      volumeType: 'gp2',
      sizeGiB: 100,
      iops: 300,
      state: 'available',
      availabilityZone: 'us-east-1b',
      tags: { team: 'data', 'optex:restored-from': 'snap-free' },
    });
    const second = await sim.createVolume({ accountId: ACCOUNT, region: REGION, availabilityZone: 'us-east-1a', volumeType: 'gp3', sizeGiB: 10 });
    expect(second.volumeId).toBe('vol-sim-2');
  });

  it('refuses a volume smaller than its snapshot, an unknown snapshot, or a zone outside the region', async () => {
    const base = { accountId: ACCOUNT, region: REGION, availabilityZone: 'us-east-1a', volumeType: 'gp2', sizeGiB: 100 };
    await expect(sim.createVolume({ ...base, sizeGiB: 50, snapshotId: 'snap-free' })).rejects.toEqual(ec2('InvalidParameterValue'));
    await expect(sim.createVolume({ ...base, snapshotId: 'snap-nope' })).rejects.toEqual(ec2('InvalidSnapshot.NotFound'));
    await expect(sim.createVolume({ ...base, accountId: OTHER_ACCOUNT, snapshotId: 'snap-free' })).rejects.toEqual(ec2('InvalidSnapshot.NotFound'));
    await expect(sim.createVolume({ ...base, availabilityZone: 'eu-west-1a' })).rejects.toEqual(ec2('InvalidZone.NotFound'));
    expect(sim.snapshot().volumes).toHaveLength(5);
  });
});

describe('SimulatedFleet snapshots', () => {
  let sim: SimulatedFleet;
  beforeEach(() => {
    sim = SimulatedFleet.fromFleet(fixtureFleet());
  });

  it('creates a completed snapshot of a volume, with its tags, numbered snap-sim-<n>', async () => {
    const { snapshotId } = await sim.createSnapshot(ref('vol-gp2-500'), { description: 'before delete', tags: { 'optex:optimization-id': 'opt-1' } });
    expect(snapshotId).toBe('snap-sim-1');
    await expect(sim.waitForSnapshotCompleted(ref(snapshotId), 1000)).resolves.toBeUndefined();
    await expect(sim.describeSnapshot(ref(snapshotId))).resolves.toEqual({
      id: 'snap-sim-1',
      volumeId: 'vol-gp2-500',
      sizeGiB: 500,
      state: 'completed',
      usedByImages: [],
      tags: { 'optex:optimization-id': 'opt-1' },
    });
    await expect(sim.createSnapshot(ref('vol-io1'), { description: 'x', tags: {} })).resolves.toEqual({ snapshotId: 'snap-sim-2' });
  });

  it('refuses to snapshot an unknown volume', async () => {
    await expect(sim.createSnapshot(ref('vol-nope'), { description: 'x', tags: {} })).rejects.toEqual(ec2('InvalidVolume.NotFound'));
  });

  it('fails the completion waiter for a pending snapshot (WaiterTimeout) and an unknown one (InvalidSnapshot.NotFound)', async () => {
    await expect(sim.waitForSnapshotCompleted(ref('snap-pending'), 1000)).rejects.toEqual(ec2('WaiterTimeout'));
    await expect(sim.waitForSnapshotCompleted(ref('snap-nope'), 1000)).rejects.toEqual(ec2('InvalidSnapshot.NotFound'));
  });

  it('reports the images that use a snapshot and refuses to delete it (InvalidSnapshot.InUse)', async () => {
    await expect(sim.describeSnapshot(ref('snap-ami'))).resolves.toMatchObject({ usedByImages: ['ami-0123456789abcdef0'] });
    await expect(sim.deleteSnapshot(ref('snap-ami'))).rejects.toEqual(ec2('InvalidSnapshot.InUse'));
    await expect(sim.describeSnapshot(ref('snap-ami'))).resolves.toBeDefined();
  });

  it('deletes an unused snapshot; deleting it again fails with InvalidSnapshot.NotFound', async () => {
    await sim.deleteSnapshot(ref('snap-free'));
    await expect(sim.describeSnapshot(ref('snap-free'))).resolves.toBeUndefined();
    await expect(sim.deleteSnapshot(ref('snap-free'))).rejects.toEqual(ec2('InvalidSnapshot.NotFound'));
    await expect(sim.deleteSnapshot(ref('snap-ami', OTHER_ACCOUNT))).rejects.toEqual(ec2('InvalidSnapshot.NotFound'));
  });
});
