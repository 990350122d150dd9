// Test fixtures for the domain's specs (not exported from the library).
import type { OptimizationCommand } from '../commands';
import type { OptimizationEvent } from '../events';
import type { Action, ObservedResource, Recommendation } from '../types';

export const NOW = new Date('2026-03-01T10:00:00.000Z');
export const AT = NOW.toISOString();
export const OPT_ID = '6d1c9d0e-2a47-5f3b-8c61-1f5b0e7a9c33';

/** A command of `type` with `data`, at `now`. */
export function cmd<T extends OptimizationCommand['type']>(
  type: T,
  data: Extract<OptimizationCommand, { type: T }>['data'],
  now: Date = NOW,
): Extract<OptimizationCommand, { type: T }> {
  return { type, data, metadata: { now } } as Extract<OptimizationCommand, { type: T }>;
}

/** An event of `type` whose data gets `optimizationId` and `at` filled in. */
export function ev<T extends OptimizationEvent['type']>(
  type: T,
  data: Omit<Extract<OptimizationEvent, { type: T }>['data'], 'optimizationId' | 'at'> & { at?: string },
): Extract<OptimizationEvent, { type: T }> {
  return { type, data: { optimizationId: OPT_ID, at: AT, ...data } } as unknown as Extract<OptimizationEvent, { type: T }>;
}

const base = {
  source: 'compute-optimizer',
  accountId: '123456789012',
  region: 'us-east-1',
  currency: 'USD' as const,
};

export function recommendation(action: Action, overrides: Partial<Omit<Recommendation, 'action'>> = {}): Recommendation {
  const resourceType =
    action.type === 'rightsize' || action.type === 'stop-idle'
      ? 'ec2:instance'
      : action.type === 'modify-volume' || action.type === 'delete-volume'
        ? 'ec2:volume'
        : action.type === 'delete-snapshot'
          ? 'ec2:snapshot'
          : action.type === 'release-address'
            ? 'ec2:elastic-ip'
            : 'ec2:reserved-instances';
  const resourceId =
    resourceType === 'ec2:instance'
      ? 'i-0abc'
      : resourceType === 'ec2:volume'
        ? 'vol-0abc'
        : resourceType === 'ec2:snapshot'
          ? 'snap-0abc'
          : resourceType === 'ec2:elastic-ip'
            ? 'eipalloc-0abc'
            : 'ri-offering-0abc';
  return {
    recommendationId: `rec-${action.type}`,
    ...base,
    resource: { type: resourceType, id: resourceId },
    action,
    estimatedMonthlySavings: 70.08,
    ...overrides,
  } as Recommendation;
}

export const recs = {
  rightsize: recommendation({ type: 'rightsize', currentInstanceType: 'm5.xlarge', targetInstanceType: 'm5.large' }),
  stopIdle: recommendation({ type: 'stop-idle' }, { estimatedMonthlySavings: 140.16 }),
  modifyVolume: recommendation({ type: 'modify-volume', targetVolumeType: 'gp3' }, { estimatedMonthlySavings: 2 }),
  deleteVolume: recommendation({ type: 'delete-volume', snapshotFirst: true }, { estimatedMonthlySavings: 5 }),
  deleteVolumeNoSnapshot: recommendation({ type: 'delete-volume', snapshotFirst: false }, { estimatedMonthlySavings: 10 }),
  deleteSnapshot: recommendation({ type: 'delete-snapshot' }, { estimatedMonthlySavings: 5 }),
  releaseAddress: recommendation({ type: 'release-address' }, { estimatedMonthlySavings: 3.65 }),
  purchaseRI: recommendation({ type: 'purchase-reserved-instances', offeringId: 'ri-offering-0abc', instanceCount: 2, limitPrice: 2000 }, { estimatedMonthlySavings: 100 }),
};

export const observed = {
  runningInstance: { kind: 'instance', id: 'i-0abc', instanceType: 'm5.xlarge', state: 'running', tags: {} },
  stoppedInstance: { kind: 'instance', id: 'i-0abc', instanceType: 'm5.xlarge', state: 'stopped', tags: {} },
  gp2Volume: {
    kind: 'volume',
    id: 'vol-0abc',
    volumeType: 'gp2',
    sizeGiB: 100,
    state: 'available',
    availabilityZone: 'us-east-1a',
    tags: { Name: 'data', 'aws:cloudformation:stack-name': 'app' },
  },
  snapshot: { kind: 'snapshot', id: 'snap-0abc', sizeGiB: 100, state: 'completed', usedByImages: [] },
  address: { kind: 'address', allocationId: 'eipalloc-0abc', publicIp: '203.0.113.10' },
  offering: {
    kind: 'reserved-instances-offering',
    offeringId: 'ri-offering-0abc',
    instanceType: 'm5.large',
    fixedPrice: 500,
    recurringHourly: 0,
    durationSeconds: 31536000,
  },
} satisfies Record<string, ObservedResource>;
