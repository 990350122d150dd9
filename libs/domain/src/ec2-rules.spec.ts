import {
  addressRecoveryViolation,
  addressReleaseViolation,
  gp2Iops,
  instanceTypeChangeViolation,
  notFoundViolation,
  reservedInstancesListingViolation,
  reservedInstancesPurchaseViolation,
  snapshotCreationViolation,
  snapshotDeletionViolation,
  startInstanceViolation,
  stopInstanceViolation,
  tagLimitViolation,
  EC2_MAX_TAGS,
  volumeCreationViolation,
  volumeDeletionViolation,
  volumeModificationViolation,
  volumePerformance,
  volumePerformanceViolation,
  VOLUME_MODIFICATION_COOLDOWN_MS,
  type Ec2Violation,
  type RuleVolume,
} from './ec2-rules';

const code = (violation: Ec2Violation | undefined): string | undefined => violation?.code;
const NOW = new Date('2030-01-01T12:00:00.000Z');
const volume = (over: Partial<RuleVolume> = {}): RuleVolume => ({ id: 'vol-1', volumeType: 'gp2', sizeGiB: 500, state: 'available', ...over });

describe('EC2 rules: not found', () => {
  it.each([
    ['instance', 'InvalidInstanceID.NotFound'],
    ['volume', 'InvalidVolume.NotFound'],
    ['snapshot', 'InvalidSnapshot.NotFound'],
    ['address', 'InvalidAllocationID.NotFound'],
    ['reserved-instances-offering', 'InvalidReservedInstancesOfferingId.NotFound'],
    ['reserved-instances', 'InvalidReservedInstancesId.NotFound'],
  ] as const)('a missing %s is %s, and the message names the id', (kind, expected) => {
    const violation = notFoundViolation(kind, 'x-123', '111122223333/us-east-1');
    expect(violation.code).toBe(expected);
    expect(violation.message).toContain("'x-123'");
  });
});

describe('EC2 rules: instances', () => {
  it.each(['running', 'stopping', 'stopped'])('given a %s instance, a stop is accepted', (state) => {
    expect(stopInstanceViolation({ id: 'i-1', state })).toBeUndefined();
  });
  it.each(['pending', 'shutting-down', 'terminated'])('given a %s instance, a stop is IncorrectInstanceState', (state) => {
    expect(code(stopInstanceViolation({ id: 'i-1', state }))).toBe('IncorrectInstanceState');
  });
  it.each(['pending', 'running', 'stopped'])('given a %s instance, a start is accepted', (state) => {
    expect(startInstanceViolation({ id: 'i-1', state })).toBeUndefined();
  });
  it.each(['stopping', 'shutting-down', 'terminated'])('given a %s instance, a start is IncorrectInstanceState', (state) => {
    expect(code(startInstanceViolation({ id: 'i-1', state }))).toBe('IncorrectInstanceState');
  });

  it('given a stopped instance, a change to a known type is accepted', () => {
    expect(instanceTypeChangeViolation({ id: 'i-1', state: 'stopped' }, 'm5.large')).toBeUndefined();
    expect(instanceTypeChangeViolation({ id: 'i-1', state: 'stopped' }, 'c7g.16xlarge')).toBeUndefined();
  });
  it.each(['running', 'stopping', 'pending', 'terminated'])('given a %s instance, a type change is IncorrectInstanceState', (state) => {
    expect(code(instanceTypeChangeViolation({ id: 'i-1', state }, 'm5.large'))).toBe('IncorrectInstanceState');
  });
  it('judged after a (dry-run) stop, a running or stopping instance counts as stopped; a terminated one does not', () => {
    expect(instanceTypeChangeViolation({ id: 'i-1', state: 'running' }, 'm5.large', { afterStop: true })).toBeUndefined();
    expect(instanceTypeChangeViolation({ id: 'i-1', state: 'stopping' }, 'm5.large', { afterStop: true })).toBeUndefined();
    expect(code(instanceTypeChangeViolation({ id: 'i-1', state: 'terminated' }, 'm5.large', { afterStop: true }))).toBe('IncorrectInstanceState');
  });
  it('given a stopped instance, an unknown type is InvalidInstanceAttributeValue unless listed as known', () => {
    expect(code(instanceTypeChangeViolation({ id: 'i-1', state: 'stopped' }, 'm5.huge'))).toBe('InvalidInstanceAttributeValue');
    expect(code(instanceTypeChangeViolation({ id: 'i-1', state: 'stopped' }, 'x9.large'))).toBe('InvalidInstanceAttributeValue');
    expect(instanceTypeChangeViolation({ id: 'i-1', state: 'stopped' }, 'x9.large', { knownTypes: new Set(['x9.large']) })).toBeUndefined();
  });
});

describe('EC2 rules: volume modification', () => {
  const gp3 = { volumeType: 'gp3' };

  it('given an idle volume, a valid target is accepted', () => {
    expect(volumeModificationViolation(volume(), gp3, NOW)).toBeUndefined();
    expect(volumeModificationViolation(volume({ state: 'in-use', attachedTo: 'i-1' }), gp3, NOW)).toBeUndefined();
  });
  it.each(['modifying', 'optimizing'])('given a modification %s, another is IncorrectModificationState', (modificationState) => {
    expect(code(volumeModificationViolation(volume({ modificationState }), gp3, NOW))).toBe('IncorrectModificationState');
  });
  it('given a modification started less than 6 hours ago, another is VolumeModificationRateExceeded; from 6 hours on it is accepted', () => {
    const startedAt = new Date(NOW.getTime() - VOLUME_MODIFICATION_COOLDOWN_MS + 1);
    expect(code(volumeModificationViolation(volume({ modificationState: 'completed', lastModificationStartedAt: startedAt }), gp3, NOW))).toBe('VolumeModificationRateExceeded');
    const iso = new Date(NOW.getTime() - VOLUME_MODIFICATION_COOLDOWN_MS).toISOString();
    expect(volumeModificationViolation(volume({ modificationState: 'completed', lastModificationStartedAt: iso }), gp3, NOW)).toBeUndefined();
  });
  it('given a clock behind the modification start, the cool-down still applies', () => {
    const startedAt = new Date(NOW.getTime() + 60_000);
    expect(code(volumeModificationViolation(volume({ lastModificationStartedAt: startedAt }), gp3, NOW))).toBe('VolumeModificationRateExceeded');
  });
  it.each(['creating', 'deleting', 'error'])('given a %s volume, a modification is IncorrectState', (state) => {
    expect(code(volumeModificationViolation(volume({ state }), gp3, NOW))).toBe('IncorrectState');
  });
  it('checks the target against the type limits', () => {
    expect(code(volumeModificationViolation(volume(), { volumeType: 'gp9' }, NOW))).toBe('InvalidParameterValue');
    expect(code(volumeModificationViolation(volume(), { volumeType: 'gp3', iops: 20000 }, NOW))).toBe('InvalidParameterValue');
  });
});

describe('EC2 rules: volume types, IOPS and throughput', () => {
  it.each([
    ['an unknown type', 100, { volumeType: 'gp9' }, 'InvalidParameterValue'],
    ['gp3 above 16000 IOPS', 1000, { volumeType: 'gp3', iops: 16001 }, 'InvalidParameterValue'],
    ['gp3 below 3000 IOPS', 1000, { volumeType: 'gp3', iops: 2999 }, 'InvalidParameterValue'],
    ['gp3 above 500 IOPS per GiB', 10, { volumeType: 'gp3', iops: 6000 }, 'InvalidParameterValue'],
    ['gp3 above 1000 MiB/s', 1000, { volumeType: 'gp3', iops: 16000, throughput: 1001 }, 'InvalidParameterValue'],
    ['gp3 above 0.25 MiB/s per IOPS', 1000, { volumeType: 'gp3', iops: 3000, throughput: 1000 }, 'InvalidParameterValue'],
    ['io1 above 50 IOPS per GiB', 100, { volumeType: 'io1', iops: 5001 }, 'InvalidParameterValue'],
    ['io1 above 64000 IOPS', 2000, { volumeType: 'io1', iops: 64001 }, 'InvalidParameterValue'],
    ['io2 above 1000 IOPS per GiB', 100, { volumeType: 'io2', iops: 100001 }, 'InvalidParameterValue'],
    ['st1 below 125 GiB', 100, { volumeType: 'st1' }, 'InvalidParameterValue'],
    ['IOPS on gp2', 100, { volumeType: 'gp2', iops: 300 }, 'InvalidParameterCombination'],
    ['throughput on io1', 100, { volumeType: 'io1', iops: 1000, throughput: 200 }, 'InvalidParameterCombination'],
  ] as const)('%s is %s', (_what, sizeGiB, requested, expected) => {
    expect(code(volumePerformanceViolation(sizeGiB, requested, { volumeType: 'gp2' }))).toBe(expected);
  });

  it('creating io1/io2 without IOPS is InvalidParameterDependency; modifying to them defaults to 3000', () => {
    expect(code(volumePerformanceViolation(100, { volumeType: 'io1' }))).toBe('InvalidParameterDependency');
    expect(volumePerformance(100, { volumeType: 'io1' }, { volumeType: 'gp2' })).toEqual({ ok: true, performance: { volumeType: 'io1', iops: 3000 } });
  });

  it('keeps left-out figures on the same type and gives gp3 its baseline otherwise', () => {
    expect(volumePerformance(1000, { volumeType: 'gp3' }, { volumeType: 'gp3', iops: 6000, throughput: 500 })).toEqual({ ok: true, performance: { volumeType: 'gp3', iops: 6000, throughput: 500 } });
    expect(volumePerformance(1000, { volumeType: 'gp3' }, { volumeType: 'gp2' })).toEqual({ ok: true, performance: { volumeType: 'gp3', iops: 3000, throughput: 125 } });
  });

  it('gives gp2 3 IOPS per GiB between 100 and 16000', () => {
    expect([gp2Iops(10), gp2Iops(500), gp2Iops(10000)]).toEqual([100, 1500, 16000]);
  });
});

describe('EC2 rules: volumes, snapshots, addresses', () => {
  it('given an attached volume, a delete is VolumeInUse; given a creating one, IncorrectState; an available one is accepted', () => {
    expect(code(volumeDeletionViolation(volume({ state: 'in-use', attachedTo: 'i-1' })))).toBe('VolumeInUse');
    expect(code(volumeDeletionViolation(volume({ state: 'creating' })))).toBe('IncorrectState');
    expect(volumeDeletionViolation(volume())).toBeUndefined();
  });

  it('creates a volume only in a zone of the region, of a positive size, from a completed snapshot no larger than it', () => {
    const request = { region: 'us-east-1', availabilityZone: 'us-east-1a', volumeType: 'gp3', sizeGiB: 100 };
    const snapshot = { id: 'snap-1', sizeGiB: 100, usedByImages: [] };
    expect(volumeCreationViolation(request, snapshot)).toBeUndefined();
    expect(code(volumeCreationViolation({ ...request, availabilityZone: 'eu-west-1a' }))).toBe('InvalidZone.NotFound');
    expect(code(volumeCreationViolation({ ...request, sizeGiB: 0 }))).toBe('InvalidParameterValue');
    expect(code(volumeCreationViolation({ ...request, sizeGiB: 50 }, snapshot))).toBe('InvalidParameterValue');
    expect(code(volumeCreationViolation(request, { ...snapshot, state: 'pending' }))).toBe('IncorrectState');
    expect(code(volumeCreationViolation({ ...request, volumeType: 'io2' }))).toBe('InvalidParameterDependency');
  });

  it('snapshots only an available or in-use volume', () => {
    expect(snapshotCreationViolation(volume())).toBeUndefined();
    expect(code(snapshotCreationViolation(volume({ state: 'creating' })))).toBe('IncorrectState');
  });

  it('given a snapshot an image uses, a delete is InvalidSnapshot.InUse', () => {
    expect(code(snapshotDeletionViolation({ id: 'snap-1', sizeGiB: 8, usedByImages: ['ami-1'] }))).toBe('InvalidSnapshot.InUse');
    expect(snapshotDeletionViolation({ id: 'snap-1', sizeGiB: 8, usedByImages: [] })).toBeUndefined();
  });

  it('given an associated address, a release is InvalidIPAddress.InUse', () => {
    expect(code(addressReleaseViolation({ allocationId: 'eipalloc-1', publicIp: '203.0.113.1', associationId: 'eipassoc-1' }))).toBe('InvalidIPAddress.InUse');
    expect(addressReleaseViolation({ allocationId: 'eipalloc-1', publicIp: '203.0.113.1' })).toBeUndefined();
  });
});

describe('EC2 rules: Reserved Instances', () => {
  const offering = { offeringId: 'offer-1', fixedPrice: 500 };
  it('given a limit price below the total upfront price, a purchase is LimitPriceExceeded; at or above it, accepted', () => {
    expect(code(reservedInstancesPurchaseViolation(offering, { instanceCount: 3, limitPrice: 1499.99 }))).toBe('LimitPriceExceeded');
    expect(reservedInstancesPurchaseViolation(offering, { instanceCount: 3, limitPrice: 1500 })).toBeUndefined();
    expect(reservedInstancesPurchaseViolation(offering, { instanceCount: 3 })).toBeUndefined();
  });
  it('a count below 1 or fractional is InvalidParameterValue', () => {
    expect(code(reservedInstancesPurchaseViolation(offering, { instanceCount: 0 }))).toBe('InvalidParameterValue');
    expect(code(reservedInstancesPurchaseViolation(offering, { instanceCount: 1.5 }))).toBe('InvalidParameterValue');
  });
});

describe('EC2 rules: listing Reserved Instances, recovering an address', () => {
  const held = { reservedInstancesId: 'ri-1', instanceCount: 3, listedCount: 1 };
  it('lists at most what is held and not yet listed, at a price of at least 0 (else InvalidParameterValue)', () => {
    expect(reservedInstancesListingViolation(held, { instanceCount: 2, price: 100 })).toBeUndefined();
    expect(code(reservedInstancesListingViolation(held, { instanceCount: 3, price: 100 }))).toBe('InvalidParameterValue');
    expect(code(reservedInstancesListingViolation(held, { instanceCount: 1, price: -1 }))).toBe('InvalidParameterValue');
  });
  it('recovers only an address released here that nobody holds (else InvalidAddress.NotFound)', () => {
    expect(addressRecoveryViolation('203.0.113.1', { inUse: false, releasedHere: true }, 'a/r')).toBeUndefined();
    expect(code(addressRecoveryViolation('203.0.113.1', { inUse: true, releasedHere: true }, 'a/r'))).toBe('InvalidAddress.NotFound');
    expect(code(addressRecoveryViolation('203.0.113.1', { inUse: false, releasedHere: false }, 'a/r'))).toBe('InvalidAddress.NotFound');
  });
});

describe('EC2 rules: tags per resource', () => {
  const tags = (n: number, prefix = 'k') => Object.fromEntries(Array.from({ length: n }, (_, i) => [`${prefix}${i}`, 'v']));

  it('at most 50 tags on what a call creates: 50 pass, 51 are TagLimitExceeded', () => {
    expect(EC2_MAX_TAGS).toBe(50);
    expect(tagLimitViolation(undefined)).toBeUndefined();
    expect(tagLimitViolation(tags(50))).toBeUndefined();
    expect(tagLimitViolation(tags(51))).toEqual({ code: 'TagLimitExceeded', message: expect.stringContaining('The maximum number of Tags for a resource has been reached') });
  });

  it("AWS's own aws: tags do not count", () => {
    expect(tagLimitViolation({ ...tags(50), ...tags(3, 'aws:cloudformation:'), 'AWS:x': 'y' })).toBeUndefined();
  });
});
