import { liveTags, startVerdict, type CoolDownPolicy, type ChangeWindowPolicy, type InstanceTypeOffering, type KnownOptimizationState, type ObservedResource, type Recommendation, type StartVerdict } from '@optex/domain';
import { Ec2Error, type Ec2Gateway, type MetricsSource, type ResourceRef } from '@optex/ports';

/** `<accountId>/<region>/<resourceId>`: the Kafka key and the per-resource lock. */
export const resourceKeyOf = (rec: Pick<Recommendation, 'accountId' | 'region' | 'resource'>): string =>
  `${rec.accountId}/${rec.region}/${rec.resource.id}`;

/**
 * Whether this instance of a service owns, now, the messages about a resource (told its {@link resourceKeyOf}): its
 * consumer group delivers them to it and to no other instance. The stall sweepers and a kill-switch resume drive only
 * what their instance owns. Bound by whoever starts the service's consumer ({@link OWNS_EVERY_RESOURCE} until then).
 */
export type ResourceOwnership = (resourceKey: string) => boolean;

/** Every resource: the one instance of a service (a service built on its own, as in unit specs). */
export const OWNS_EVERY_RESOURCE: ResourceOwnership = () => true;

/** Whether `ownership` covers an optimization, by its resource in the read model (one the read model does not know: yes). */
export function ownsOptimization(readModel: { get(id: string): KnownOptimizationState | undefined }, ownership: ResourceOwnership, optimizationId: string): boolean {
  const state = readModel.get(optimizationId);
  return state === undefined || ownership(resourceKeyOf(state.recommendation));
}

/**
 * The policy's verdict on starting `state` at `at` (the domain's `startVerdict`: its cool-down, its change windows, the
 * freezes), with the resource's last change from `lastChangeOn` (a read model's) and the live tags its risk assessment
 * saw: the one assembly of those inputs for the scheduler (at dispatch), the executor (at the start) and `show`.
 */
export function startVerdictOf(
  policy: { readonly coolDown: CoolDownPolicy; readonly changeWindows: ChangeWindowPolicy },
  state: KnownOptimizationState,
  at: Date,
  lastChangeOn: (resourceKey: string) => string | undefined,
  resourceKey: string = resourceKeyOf(state.recommendation),
): StartVerdict {
  return startVerdict(policy, state.recommendation, at, lastChangeOn(resourceKey), state.risk?.basis && liveTags(state.risk.basis));
}

export const refOf = (rec: Pick<Recommendation, 'accountId' | 'region'>, id: string): ResourceRef => ({
  accountId: rec.accountId,
  region: rec.region,
  id,
});

/**
 * Looks at the live resource a recommendation targets, as the domain's pre-validation expects it.
 * `undefined` when it does not exist. CPU p95 is read for instances over `window` (undefined = no data); for a
 * rightsize, whether its target type is offered in the instance's zone (see {@link describeResource}).
 */
export async function observeResource(
  gateway: Ec2Gateway,
  metrics: MetricsSource,
  rec: Recommendation,
  window: { from: Date; to: Date },
): Promise<ObservedResource | undefined> {
  const observed = await describeResource(gateway, rec, { targetOffering: true });
  if (observed?.kind !== 'instance') return observed;
  const cpuP95 = await metrics.cpuP95(refOf(rec, rec.resource.id), window);
  return cpuP95 === undefined ? observed : { ...observed, cpuP95 };
}

/**
 * The live resource a recommendation targets as EC2 describes it (no metrics); `undefined` when it does not exist.
 * With `targetOffering`, a rightsize's instance also carries whether EC2 offers the target type in the instance's zone
 * (its region when the zone is not known): one `DescribeInstanceTypeOfferings`.
 */
export async function describeResource(gateway: Ec2Gateway, rec: Recommendation, options: { readonly targetOffering?: boolean } = {}): Promise<ObservedResource | undefined> {
  const ref = refOf(rec, rec.resource.id);
  switch (rec.resource.type) {
    case 'ec2:instance': {
      const i = await gateway.describeInstance(ref);
      if (!i) return undefined;
      const observed = { kind: 'instance' as const, id: i.id, instanceType: i.instanceType, state: i.state, tags: i.tags };
      if (options.targetOffering !== true || rec.action.type !== 'rightsize') return observed;
      const targetOffering = await offeringOf(gateway, rec, rec.action.targetInstanceType, i.availabilityZone);
      return targetOffering ? { ...observed, targetOffering } : observed;
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

/**
 * Whether `instanceType` is offered at the zone (or in the region). `undefined` when the credentials may not ask
 * (`UnauthorizedOperation`: a policy from before optex asked): no observation, which pre-validation takes as no problem.
 */
async function offeringOf(gateway: Ec2Gateway, rec: Recommendation, instanceType: string, availabilityZone: string | undefined): Promise<InstanceTypeOffering | undefined> {
  try {
    const offering = await gateway.describeInstanceTypeOffering({ accountId: rec.accountId, region: rec.region }, instanceType, availabilityZone);
    return { instanceType, location: availabilityZone ?? rec.region, offered: offering !== undefined };
  } catch (error) {
    if (error instanceof Ec2Error && error.awsCode === 'UnauthorizedOperation') return undefined;
    throw error;
  }
}
