import { OPT_ID, observed, recommendation, recs } from './__fixtures__';
import { DomainError } from './errors';
import { backupSnapshotTags, effectiveVolumePerformance, executionPlan, isMutatingStep, preValidationProblems, restoredTags, reversibility, rollbackPlan, rollbackStepsFor } from './plans';
import { tagLimitViolation } from './ec2-rules';
import type { ObservedResource, Recommendation, Step } from './types';

const gp2 = observed.gp2Volume;
const inUseGp2 = { ...gp2, state: 'in-use', attachedTo: 'i-0abc' };

describe('reversibility', () => {
  it.each<[string, string, Recommendation]>([
    ['rightsize', 'yes', recs.rightsize],
    ['stop-idle', 'yes', recs.stopIdle],
    ['modify-volume', 'yes', recs.modifyVolume],
    ['delete-volume with a snapshot', 'yes', recs.deleteVolume],
    ['delete-volume without a snapshot', 'no', recs.deleteVolumeNoSnapshot],
    ['delete-snapshot', 'no', recs.deleteSnapshot],
    ['release-address', 'partial', recs.releaseAddress],
    ['purchase-reserved-instances', 'partial', recs.purchaseRI],
  ])('%s → %s', (_name, expected, rec) => {
    expect(reversibility(rec.action)).toBe(expected);
  });
});

describe('preValidationProblems', () => {
  it('reports a missing resource', () => {
    expect(preValidationProblems(recs.rightsize, undefined)).toEqual(['ec2:instance i-0abc not found']);
  });

  it('reports a resource of the wrong kind or id', () => {
    expect(preValidationProblems(recs.rightsize, gp2)).toEqual(['ec2:instance i-0abc is a volume, rightsize needs an instance']);
    expect(preValidationProblems(recs.rightsize, { ...observed.runningInstance, id: 'i-other' })).toEqual(['observed resource i-other is not ec2:instance i-0abc']);
  });

  it('accepts a rightsize of a running or stopped instance of the stated type', () => {
    expect(preValidationProblems(recs.rightsize, observed.runningInstance)).toEqual([]);
    expect(preValidationProblems(recs.rightsize, observed.stoppedInstance)).toEqual([]);
  });

  it('rejects a rightsize when the type is not the stated current type', () => {
    expect(preValidationProblems(recs.rightsize, { ...observed.runningInstance, instanceType: 'm5.2xlarge' })).toEqual([
      'instance i-0abc is m5.2xlarge, the recommendation expects m5.xlarge',
    ]);
  });

  it('rejects a rightsize of an instance in transition', () => {
    expect(preValidationProblems(recs.rightsize, { ...observed.runningInstance, state: 'stopping' })).toEqual([
      'instance i-0abc is stopping, rightsize needs it running or stopped',
    ]);
  });

  it('rejects a rightsize whose target type is observed not offered where the instance lives, with EC2\'s code; an absent observation is none', () => {
    const offering = (offered: boolean) => ({ instanceType: 'm5.large', location: 'us-east-1a', offered });
    expect(preValidationProblems(recs.rightsize, { ...observed.runningInstance, targetOffering: offering(false) })).toEqual(['Unsupported: m5.large is not offered in us-east-1a']);
    expect(preValidationProblems(recs.rightsize, { ...observed.runningInstance, targetOffering: offering(true) })).toEqual([]);
    expect(preValidationProblems(recs.rightsize, observed.runningInstance)).toEqual([]);
  });

  it('requires stop-idle instances to be running', () => {
    expect(preValidationProblems(recs.stopIdle, observed.runningInstance)).toEqual([]);
    expect(preValidationProblems(recs.stopIdle, observed.stoppedInstance)).toEqual(['instance i-0abc is stopped, stop-idle needs it running']);
  });

  it('rejects modify-volume to a target EC2 refuses (type/IOPS limits), with the AWS code', () => {
    const rec = recommendation({ type: 'modify-volume', targetVolumeType: 'gp3', iops: 20000 });
    expect(preValidationProblems(rec, gp2)).toEqual([expect.stringMatching(/^InvalidParameterValue: /)]);
  });

  it('accepts modify-volume of an idle volume of another type', () => {
    expect(preValidationProblems(recs.modifyVolume, gp2)).toEqual([]);
    expect(preValidationProblems(recs.modifyVolume, inUseGp2)).toEqual([]);
  });

  it.each(['modifying', 'optimizing'])('rejects modify-volume while a modification is %s', (modificationState) => {
    expect(preValidationProblems(recs.modifyVolume, { ...gp2, modificationState })).toEqual([`IncorrectModificationState: Volume 'vol-0abc' is already being modified (${modificationState}).`]);
  });

  it('accepts modify-volume after a completed modification', () => {
    expect(preValidationProblems(recs.modifyVolume, { ...gp2, modificationState: 'completed' })).toEqual([]);
  });

  it('rejects modify-volume of a volume already of the target type', () => {
    expect(preValidationProblems(recs.modifyVolume, { ...gp2, volumeType: 'gp3' })).toEqual(['volume vol-0abc is already gp3']);
  });

  it('accepts modify-volume within the same type when the IOPS change', () => {
    const rec = recommendation({ type: 'modify-volume', targetVolumeType: 'gp3', iops: 3000 });
    expect(preValidationProblems(rec, { ...gp2, volumeType: 'gp3', iops: 6000, throughput: 125 })).toEqual([]);
  });

  it('rejects modify-volume within the 6-hour cool-down when now is given', () => {
    const v = { ...gp2, modificationState: 'completed', lastModificationStartedAt: '2026-03-01T05:00:00.000Z' };
    expect(preValidationProblems(recs.modifyVolume, v, new Date('2026-03-01T10:59:59.999Z'))).toEqual([expect.stringMatching(/^VolumeModificationRateExceeded: /)]);
    expect(preValidationProblems(recs.modifyVolume, v)).toEqual([]);
    expect(preValidationProblems(recs.modifyVolume, v, new Date('2026-03-01T11:00:00.000Z'))).toEqual([]);
  });

  it('accepts delete-volume of an available volume and rejects an attached one', () => {
    expect(preValidationProblems(recs.deleteVolume, gp2)).toEqual([]);
    expect(preValidationProblems(recs.deleteVolume, inUseGp2)).toEqual(['VolumeInUse: Volume vol-0abc is currently attached to i-0abc.']);
    expect(preValidationProblems(recs.deleteVolume, { ...gp2, state: 'deleting' })).toEqual(['volume vol-0abc is deleting, delete-volume needs it available (unattached)']);
  });

  it('rejects delete-snapshot of a snapshot used by an image', () => {
    expect(preValidationProblems(recs.deleteSnapshot, observed.snapshot)).toEqual([]);
    expect(preValidationProblems(recs.deleteSnapshot, { ...observed.snapshot, usedByImages: ['ami-1'] })).toEqual(['InvalidSnapshot.InUse: The snapshot snap-0abc is currently in use by ami-1.']);
  });

  it('rejects release-address of an associated address', () => {
    expect(preValidationProblems(recs.releaseAddress, observed.address)).toEqual([]);
    expect(preValidationProblems(recs.releaseAddress, { ...observed.address, associationId: 'eipassoc-1' })).toEqual([
      'InvalidIPAddress.InUse: Address 203.0.113.10 (eipalloc-0abc) is in use by association eipassoc-1.',
    ]);
  });

  it('checks the reserved instances offering exists and fits the limit price', () => {
    expect(preValidationProblems(recs.purchaseRI, undefined)).toEqual(['reserved instances offering ri-offering-0abc not found']);
    expect(preValidationProblems(recs.purchaseRI, observed.offering)).toEqual([]);
    expect(preValidationProblems(recs.purchaseRI, { ...observed.offering, fixedPrice: 1000 })).toEqual([]);
    expect(preValidationProblems(recs.purchaseRI, { ...observed.offering, fixedPrice: 1000.01 })).toEqual([
      'LimitPriceExceeded: The cost of the total order 2000.02 USD (2 × 1000.01 for ri-offering-0abc) is greater than the limit price 2000.00 USD.',
    ]);
  });

  it('accepts any price without a limit price', () => {
    const rec = recommendation({ type: 'purchase-reserved-instances', offeringId: 'ri-offering-0abc', instanceCount: 2 });
    expect(preValidationProblems(rec, { ...observed.offering, fixedPrice: 99999 })).toEqual([]);
  });
});

describe('executionPlan', () => {
  it('rightsizes a running instance: stop, wait, modify, start, wait', () => {
    expect(executionPlan(recs.rightsize, observed.runningInstance, OPT_ID)).toEqual([
      { kind: 'stop-instance', instanceId: 'i-0abc' },
      { kind: 'wait-instance-stopped', instanceId: 'i-0abc' },
      { kind: 'modify-instance-type', instanceId: 'i-0abc', instanceType: 'm5.large' },
      { kind: 'start-instance', instanceId: 'i-0abc' },
      { kind: 'wait-instance-running', instanceId: 'i-0abc' },
    ]);
  });

  it('rightsizes a stopped instance with only the type change', () => {
    expect(executionPlan(recs.rightsize, observed.stoppedInstance, OPT_ID)).toEqual([{ kind: 'modify-instance-type', instanceId: 'i-0abc', instanceType: 'm5.large' }]);
  });

  it('stops an idle instance and waits', () => {
    expect(executionPlan(recs.stopIdle, observed.runningInstance, OPT_ID)).toEqual([
      { kind: 'stop-instance', instanceId: 'i-0abc' },
      { kind: 'wait-instance-stopped', instanceId: 'i-0abc' },
    ]);
  });

  it('moves a small gp2 volume to gp3 at the gp3 baseline (gp2 delivers less)', () => {
    expect(executionPlan(recs.modifyVolume, gp2, OPT_ID)).toEqual([{ kind: 'modify-volume', volumeId: 'vol-0abc', volumeType: 'gp3', iops: 3000, throughput: 128 }]);
  });

  it('keeps the IOPS and throughput of a large gp2 volume when moving it to gp3', () => {
    expect(executionPlan(recs.modifyVolume, { ...gp2, sizeGiB: 2000 }, OPT_ID)).toEqual([
      { kind: 'modify-volume', volumeId: 'vol-0abc', volumeType: 'gp3', iops: 6000, throughput: 250 },
    ]);
  });

  it('caps gp2 IOPS at 16000', () => {
    const [step] = executionPlan(recs.modifyVolume, { ...gp2, sizeGiB: 10000 }, OPT_ID);
    expect(step).toMatchObject({ iops: 16000 });
  });

  it('uses the IOPS and throughput the recommendation names', () => {
    const rec = recommendation({ type: 'modify-volume', targetVolumeType: 'gp3', iops: 4000, throughput: 200 });
    expect(executionPlan(rec, { ...gp2, sizeGiB: 2000 }, OPT_ID)).toEqual([{ kind: 'modify-volume', volumeId: 'vol-0abc', volumeType: 'gp3', iops: 4000, throughput: 200 }]);
  });

  it('sends neither IOPS nor throughput to a type that takes none', () => {
    const rec = recommendation({ type: 'modify-volume', targetVolumeType: 'st1' });
    expect(executionPlan(rec, { ...gp2, sizeGiB: 500 }, OPT_ID)).toEqual([{ kind: 'modify-volume', volumeId: 'vol-0abc', volumeType: 'st1' }]);
  });

  it('keeps io1 IOPS when moving to io2 and sends no throughput', () => {
    const rec = recommendation({ type: 'modify-volume', targetVolumeType: 'io2' });
    expect(executionPlan(rec, { ...gp2, volumeType: 'io1', iops: 5000 }, OPT_ID)).toEqual([{ kind: 'modify-volume', volumeId: 'vol-0abc', volumeType: 'io2', iops: 5000 }]);
  });

  it("snapshots (tagged with the volume's tags and the optimization id), waits, then deletes a volume", () => {
    expect(executionPlan(recs.deleteVolume, gp2, OPT_ID)).toEqual([
      {
        kind: 'create-snapshot',
        volumeId: 'vol-0abc',
        description: `optex ${OPT_ID}: snapshot of vol-0abc before deletion`,
        tags: { Name: 'data', 'optex:optimization-id': OPT_ID, 'optex:source-volume': 'vol-0abc' },
      },
      { kind: 'wait-snapshot-completed', snapshotFrom: 'create-snapshot' },
      { kind: 'delete-volume', volumeId: 'vol-0abc' },
    ]);
  });

  it("tags the backup snapshot with the volume's tags (cost allocation, owner) plus optex's, never aws: or the volume's own optex: tags", () => {
    const tagged = { ...gp2, tags: { CostCenter: 'cc-42', team: 'payments', 'aws:cloudformation:stack-name': 'stack', 'optex:client-token': 'restore-token' } };
    expect(executionPlan(recs.deleteVolume, tagged, OPT_ID)[0]).toEqual({
      kind: 'create-snapshot',
      volumeId: 'vol-0abc',
      description: `optex ${OPT_ID}: snapshot of vol-0abc before deletion`,
      tags: { CostCenter: 'cc-42', team: 'payments', 'optex:optimization-id': OPT_ID, 'optex:source-volume': 'vol-0abc' },
    });
  });

  it("keeps the backup snapshot within EC2's 50 tags: optex's, and the volume's in key order up to 47 (the adapters add the client token)", () => {
    const many = Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`k${String(i).padStart(2, '0')}`, 'v']));
    const tags = backupSnapshotTags(many, OPT_ID, 'vol-0abc');
    expect(Object.keys(tags)).toHaveLength(49);
    expect(tags).toMatchObject({ k00: 'v', k46: 'v', 'optex:optimization-id': OPT_ID, 'optex:source-volume': 'vol-0abc' });
    expect(tags).not.toHaveProperty('k47');
  });

  it('only deletes a volume when snapshotFirst is false', () => {
    expect(executionPlan(recs.deleteVolumeNoSnapshot, gp2, OPT_ID)).toEqual([{ kind: 'delete-volume', volumeId: 'vol-0abc' }]);
  });

  it('deletes a snapshot, releases an address, purchases reserved instances', () => {
    expect(executionPlan(recs.deleteSnapshot, observed.snapshot, OPT_ID)).toEqual([{ kind: 'delete-snapshot', snapshotId: 'snap-0abc' }]);
    expect(executionPlan(recs.releaseAddress, observed.address, OPT_ID)).toEqual([{ kind: 'release-address', allocationId: 'eipalloc-0abc' }]);
    expect(executionPlan(recs.purchaseRI, observed.offering, OPT_ID)).toEqual([
      { kind: 'purchase-reserved-instances', offeringId: 'ri-offering-0abc', instanceCount: 2, limitPrice: 2000 },
    ]);
  });

  it('refuses to plan against a resource of the wrong kind', () => {
    expect(() => executionPlan(recs.rightsize, gp2, OPT_ID)).toThrow(DomainError);
    expect(() => executionPlan(recs.rightsize, undefined, OPT_ID)).toThrow(/needs the observed instance, got nothing/);
  });
});

describe('rollbackStepsFor', () => {
  const plan = (rec: Recommendation, o: ObservedResource): Step[] => executionPlan(rec, o, OPT_ID);

  it('undoes nothing when no mutating step completed', () => {
    expect(rollbackStepsFor(recs.rightsize, observed.runningInstance, [])).toEqual([]);
    expect(rollbackStepsFor(recs.deleteVolume, gp2, [{ kind: 'wait-snapshot-completed', snapshotFrom: 'create-snapshot' }])).toEqual([]);
  });

  it('restarts a running instance whose rightsize stopped after the stop', () => {
    const steps = plan(recs.rightsize, observed.runningInstance).slice(0, 2);
    expect(rollbackStepsFor(recs.rightsize, observed.runningInstance, steps)).toEqual([
      { kind: 'start-instance', instanceId: 'i-0abc' },
      { kind: 'wait-instance-running', instanceId: 'i-0abc' },
    ]);
  });

  it('restores the type and restarts after the type change, before the start', () => {
    const steps = plan(recs.rightsize, observed.runningInstance).slice(0, 3);
    expect(rollbackStepsFor(recs.rightsize, observed.runningInstance, steps)).toEqual([
      { kind: 'modify-instance-type', instanceId: 'i-0abc', instanceType: 'm5.xlarge' },
      { kind: 'start-instance', instanceId: 'i-0abc' },
      { kind: 'wait-instance-running', instanceId: 'i-0abc' },
    ]);
  });

  it('stops, restores the type and restarts after a complete rightsize of a running instance', () => {
    expect(rollbackPlan(recs.rightsize, observed.runningInstance)).toEqual([
      { kind: 'stop-instance', instanceId: 'i-0abc' },
      { kind: 'wait-instance-stopped', instanceId: 'i-0abc' },
      { kind: 'modify-instance-type', instanceId: 'i-0abc', instanceType: 'm5.xlarge' },
      { kind: 'start-instance', instanceId: 'i-0abc' },
      { kind: 'wait-instance-running', instanceId: 'i-0abc' },
    ]);
  });

  it('only restores the type of a rightsized stopped instance', () => {
    expect(rollbackPlan(recs.rightsize, observed.stoppedInstance)).toEqual([{ kind: 'modify-instance-type', instanceId: 'i-0abc', instanceType: 'm5.xlarge' }]);
  });

  it('starts a stopped idle instance again', () => {
    expect(rollbackPlan(recs.stopIdle, observed.runningInstance)).toEqual([
      { kind: 'start-instance', instanceId: 'i-0abc' },
      { kind: 'wait-instance-running', instanceId: 'i-0abc' },
    ]);
  });

  it('modifies a gp2 volume back to gp2 without IOPS/throughput', () => {
    expect(rollbackPlan(recs.modifyVolume, gp2)).toEqual([{ kind: 'modify-volume', volumeId: 'vol-0abc', volumeType: 'gp2' }]);
  });

  it('modifies a gp3 volume back to its original IOPS and throughput', () => {
    const rec = recommendation({ type: 'modify-volume', targetVolumeType: 'gp3', iops: 3000, throughput: 125 });
    expect(rollbackPlan(rec, { ...gp2, volumeType: 'gp3', iops: 8000, throughput: 500 })).toEqual([
      { kind: 'modify-volume', volumeId: 'vol-0abc', volumeType: 'gp3', iops: 8000, throughput: 500 },
    ]);
  });

  it('recreates a deleted volume from the snapshot with its original AZ, type, size, performance and tags (aws: tags dropped)', () => {
    expect(rollbackPlan(recs.deleteVolume, { ...gp2, volumeType: 'gp3', iops: 4000, throughput: 250 })).toEqual([
      {
        kind: 'create-volume-from-snapshot',
        snapshotFrom: 'create-snapshot',
        availabilityZone: 'us-east-1a',
        volumeType: 'gp3',
        sizeGiB: 100,
        iops: 4000,
        throughput: 250,
        tags: { Name: 'data' },
      },
    ]);
  });

  it("restores a volume that had EC2's maximum of 50 tags with 49 of them, in key order: with the client token the adapters add, 50 (all 50 and the token were refused with TagLimitExceeded, the volume never restored)", () => {
    const fifty = Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`k${String(i).padStart(2, '0')}`, `v${i}`]));
    const [step] = rollbackPlan(recs.deleteVolume, { ...gp2, tags: fifty });
    expect(step).toMatchObject({ kind: 'create-volume-from-snapshot' });
    const tags = (step as Extract<Step, { kind: 'create-volume-from-snapshot' }>).tags;
    expect(Object.keys(tags)).toEqual(Object.keys(fifty).slice(0, 49));
    expect(tagLimitViolation({ ...tags, 'optex:client-token': 'restore-token' })).toBeUndefined();
    expect(restoredTags(fifty).leftOut).toEqual(['k49']);
  });

  it("keeps optex's own tags of the volume first, never its aws: tags nor the client token of an earlier restore (the adapters tag this restore with its own)", () => {
    const volumeTags = {
      ...Object.fromEntries(Array.from({ length: 49 }, (_, i) => [`Tag${String(i).padStart(2, '0')}`, 'v'])),
      'optex:managed-by': 'optex',
      'optex:client-token': 'an-earlier-restore',
      'aws:cloudformation:stack-name': 'stack',
    };
    const { tags, leftOut } = restoredTags(volumeTags);
    expect(Object.keys(tags)).toHaveLength(49);
    expect(Object.keys(tags)[0]).toBe('optex:managed-by');
    expect(tags).not.toHaveProperty('optex:client-token');
    expect(tags).not.toHaveProperty('aws:cloudformation:stack-name');
    expect(leftOut).toEqual(['Tag48']);
    // Given again (a step recorded with them), they come back unchanged.
    expect(restoredTags(tags)).toEqual({ tags, leftOut: [] });
    // A volume with few tags gets them all.
    expect(restoredTags({ b: '2', a: '1' })).toEqual({ tags: { a: '1', b: '2' }, leftOut: [] });
  });

  it('creates nothing again when validation found the volume or address still there after its deletion or release was recorded (EC2 answered NotFound): the backup snapshot goes, nothing else', () => {
    const done = plan(recs.deleteVolume, gp2).filter(isMutatingStep);
    expect(rollbackStepsFor(recs.deleteVolume, gp2, done, { snapshotId: 'snap-backup' }, true)).toEqual([{ kind: 'delete-snapshot', snapshotId: 'snap-backup' }]);
    expect(rollbackStepsFor(recs.deleteVolume, gp2, done, { snapshotId: 'snap-backup' })).toEqual([expect.objectContaining({ kind: 'create-volume-from-snapshot' })]);
    const release = recommendation({ type: 'release-address' }, { resource: { type: 'ec2:elastic-ip', id: 'eipalloc-1' } });
    const address = { kind: 'address' as const, allocationId: 'eipalloc-1', publicIp: '54.0.0.1', tags: {} };
    expect(rollbackStepsFor(release, address, [{ kind: 'release-address', allocationId: 'eipalloc-1' }], {}, true)).toEqual([]);
  });

  it('undoes nothing when only the snapshot was taken', () => {
    expect(rollbackStepsFor(recs.deleteVolume, gp2, plan(recs.deleteVolume, gp2).slice(0, 2))).toEqual([]);
  });

  it('cannot undo a volume deleted without a snapshot, nor a deleted snapshot', () => {
    expect(rollbackPlan(recs.deleteVolumeNoSnapshot, gp2)).toEqual([]);
    expect(rollbackPlan(recs.deleteSnapshot, observed.snapshot)).toEqual([]);
  });

  it('allocates the same public IP again after a release', () => {
    expect(rollbackPlan(recs.releaseAddress, observed.address)).toEqual([{ kind: 'allocate-address', publicIp: '203.0.113.10' }]);
  });

  it("allocates the address again with the tags it had, as the volume's restore does: never its aws: tags nor an earlier restore's client token, within EC2's 50 with the token", () => {
    expect(rollbackPlan(recs.releaseAddress, { ...observed.address, tags: { team: 'a', 'aws:cloudformation:stack-name': 'stack', 'optex:client-token': 'an-earlier-restore' } })).toEqual([
      { kind: 'allocate-address', publicIp: '203.0.113.10', tags: { team: 'a' } },
    ]);
    const fifty = Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`k${String(i).padStart(2, '0')}`, `v${i}`]));
    const [step] = rollbackPlan(recs.releaseAddress, { ...observed.address, tags: { ...fifty, 'AWS:reserved': 'x' } });
    const tags = (step as Extract<Step, { kind: 'allocate-address' }>).tags ?? {};
    expect(tags).toEqual(restoredTags(fifty).tags);
    expect(Object.keys(tags)).toEqual(Object.keys(fifty).slice(0, 49));
    expect(tagLimitViolation({ ...tags, 'optex:client-token': 'restore-token' })).toBeUndefined();
    // An address with no tags (or only ones that cannot be set) gets none: the step as before.
    expect(rollbackPlan(recs.releaseAddress, { ...observed.address, tags: { 'aws:x': 'y' } })).toEqual([{ kind: 'allocate-address', publicIp: '203.0.113.10' }]);
  });

  it('lists purchased reserved instances at the upfront price paid', () => {
    expect(rollbackPlan(recs.purchaseRI, observed.offering)).toEqual([
      { kind: 'list-reserved-instances', reservedInstancesFrom: 'purchase-reserved-instances', instanceCount: 2, price: 500 },
    ]);
  });
});

describe('helpers', () => {
  it('treats waits as non-mutating', () => {
    expect(isMutatingStep({ kind: 'wait-instance-stopped', instanceId: 'i' })).toBe(false);
    expect(isMutatingStep({ kind: 'stop-instance', instanceId: 'i' })).toBe(true);
  });

  it('derives gp2 performance from size', () => {
    expect(effectiveVolumePerformance({ ...gp2, sizeGiB: 10 })).toEqual({ iops: 100, throughput: 128 });
    expect(effectiveVolumePerformance({ ...gp2, sizeGiB: 171 })).toEqual({ iops: 513, throughput: 250 });
    expect(effectiveVolumePerformance({ ...gp2, volumeType: 'gp3' })).toEqual({ iops: 3000, throughput: 125 });
  });
});
