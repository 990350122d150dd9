import type { ObservedResource, Recommendation } from '@optex/domain';
import type { Ec2Gateway, MetricsSource, ResourceRef } from '@optex/ports';

/** `<accountId>/<region>/<resourceId>`: the Kafka key and the per-resource lock. */
export const resourceKeyOf = (rec: Pick<Recommendation, 'accountId' | 'region' | 'resource'>): string =>
  `${rec.accountId}/${rec.region}/${rec.resource.id}`;

export const refOf = (rec: Pick<Recommendation, 'accountId' | 'region'>, id: string): ResourceRef => ({
  accountId: rec.accountId,
  region: rec.region,
  id,
});

/**
 * Looks at the live resource a recommendation targets, as the domain's plans and checks expect it.
 * `undefined` when it does not exist. CPU p95 is read for instances over `window` (undefined = no data).
 */
export async function observeResource(
  gateway: Ec2Gateway,
  metrics: MetricsSource,
  rec: Recommendation,
  window: { from: Date; to: Date },
): Promise<ObservedResource | undefined> {
  const observed = await describeResource(gateway, rec);
  if (observed?.kind !== 'instance') return observed;
  const cpuP95 = await metrics.cpuP95(refOf(rec, rec.resource.id), window);
  return cpuP95 === undefined ? observed : { ...observed, cpuP95 };
}

/** The live resource a recommendation targets as EC2 describes it (no metrics); `undefined` when it does not exist. */
export async function describeResource(gateway: Ec2Gateway, rec: Recommendation): Promise<ObservedResource | undefined> {
  const ref = refOf(rec, rec.resource.id);
  switch (rec.resource.type) {
    case 'ec2:instance': {
      const i = await gateway.describeInstance(ref);
      return i && { kind: 'instance', id: i.id, instanceType: i.instanceType, state: i.state, tags: i.tags };
    }
    case 'ec2:volume': {
      const v = await gateway.describeVolume(ref);
      if (!v) return undefined;
      return {
        kind: 'volume',
        id: v.id,
        volumeType: v.volumeType,
        sizeGiB: v.sizeGiB,
        ...(v.iops === undefined ? {} : { iops: v.iops }),
        ...(v.throughput === undefined ? {} : { throughput: v.throughput }),
        state: v.state,
        ...(v.attachedTo ? { attachedTo: v.attachedTo } : {}),
        availabilityZone: v.availabilityZone,
        tags: v.tags,
        ...(v.modificationState ? { modificationState: v.modificationState } : {}),
        ...(v.lastModificationStartedAt ? { lastModificationStartedAt: v.lastModificationStartedAt.toISOString() } : {}),
      };
    }
    case 'ec2:snapshot': {
      const s = await gateway.describeSnapshot(ref);
      return s && { kind: 'snapshot', id: s.id, sizeGiB: s.sizeGiB, state: s.state, usedByImages: s.usedByImages, tags: s.tags };
    }
    case 'ec2:elastic-ip': {
      const a = await gateway.describeAddress(ref);
      return (
        a && {
          kind: 'address',
          allocationId: a.allocationId,
          publicIp: a.publicIp,
          ...(a.associationId ? { associationId: a.associationId } : {}),
          ...(a.tags ? { tags: a.tags } : {}),
        }
      );
    }
    case 'ec2:reserved-instances': {
      if (rec.action.type !== 'purchase-reserved-instances') return undefined;
      const o = await gateway.describeReservedInstancesOffering(refOf(rec, rec.action.offeringId));
      return o && { kind: 'reserved-instances-offering', ...o };
    }
  }
}
