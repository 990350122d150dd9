import type { Clock } from '@optex/ports';

// Shared by the simulated fleet's specs (not exported from the library).

export const ACCOUNT = '111122223333';
export const OTHER_ACCOUNT = '444455556666';
export const REGION = 'us-east-1';
export const OTHER_REGION = 'eu-west-1';

/** A resource ref in the fixture's account and region. */
export const ref = (id: string, accountId = ACCOUNT, region = REGION) => ({ accountId, region, id });

export const window = { from: new Date('2026-11-01T00:00:00Z'), to: new Date('2026-11-02T00:00:00Z') };

/** A clock the test moves by hand. */
export class ManualClock implements Clock {
  constructor(private current: Date = new Date('2026-11-26T10:00:00Z')) {}
  now(): Date {
    return new Date(this.current);
  }
  advance(ms: number): void {
    this.current = new Date(this.current.getTime() + ms);
  }
}

/** A small fleet with one of everything, plus whatever `extra` adds or replaces at the top level. */
export function fixtureFleet(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    instances: [
      { id: 'i-running', accountId: ACCOUNT, region: REGION, instanceType: 'm5.xlarge', state: 'running', tags: { env: 'dev' }, cpuP95: 45 },
      { id: 'i-stopped', accountId: ACCOUNT, region: REGION, instanceType: 'c5.2xlarge', state: 'stopped', cpuP95: 30 },
      { id: 'i-nodata', accountId: ACCOUNT, region: REGION, instanceType: 't3.large', state: 'running' },
      { id: 'i-sick', accountId: ACCOUNT, region: REGION, instanceType: 'r5.large', state: 'running', cpuP95: 10, statusChecksPassed: false },
      { id: 'i-terminated', accountId: ACCOUNT, region: REGION, instanceType: 'm5.large', state: 'terminated' },
      { id: 'i-other-account', accountId: OTHER_ACCOUNT, region: REGION, instanceType: 'm5.large', state: 'running', cpuP95: 20 },
    ],
    volumes: [
      { id: 'vol-gp2-500', accountId: ACCOUNT, region: REGION, volumeType: 'gp2', sizeGiB: 500, state: 'available', tags: { team: 'data' } },
      { id: 'vol-gp2-2000', accountId: ACCOUNT, region: REGION, volumeType: 'gp2', sizeGiB: 2000, state: 'in-use', attachedTo: 'i-running' },
      { id: 'vol-io1', accountId: ACCOUNT, region: REGION, volumeType: 'io1', sizeGiB: 400, iops: 6000, state: 'available', availabilityZone: 'us-east-1c' },
      { id: 'vol-modifying', accountId: ACCOUNT, region: REGION, volumeType: 'gp2', sizeGiB: 100, state: 'available', modificationState: 'modifying' },
      { id: 'vol-eu', accountId: ACCOUNT, region: OTHER_REGION, volumeType: 'gp2', sizeGiB: 50, state: 'available' },
    ],
    addresses: [
      { allocationId: 'eipalloc-free', accountId: ACCOUNT, region: REGION, publicIp: '203.0.113.10' },
      { allocationId: 'eipalloc-used', accountId: ACCOUNT, region: REGION, publicIp: '203.0.113.11', associationId: 'eipassoc-1' },
    ],
    snapshots: [
      { id: 'snap-free', accountId: ACCOUNT, region: REGION, sizeGiB: 100 },
      { id: 'snap-ami', accountId: ACCOUNT, region: REGION, sizeGiB: 30, usedByImage: 'ami-0123456789abcdef0' },
      { id: 'snap-pending', accountId: ACCOUNT, region: REGION, sizeGiB: 10, state: 'pending' },
    ],
    reservedInstanceOfferings: [
      { offeringId: 'offer-m5', region: REGION, instanceType: 'm5.large', fixedPrice: 500, recurringHourly: 0.02, durationSeconds: 31536000 },
      { offeringId: 'offer-eu', region: OTHER_REGION, instanceType: 'm5.large', fixedPrice: 520, recurringHourly: 0.02, durationSeconds: 31536000 },
    ],
    faults: [],
    ...extra,
  };
}
