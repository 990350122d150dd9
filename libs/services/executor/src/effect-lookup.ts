import type { EffectLookup, Recommendation, StepEvidence } from '@optex/domain';
import type { Ec2Gateway } from '@optex/ports';
import { refOf } from '@optex/engine';

/**
 * Performs the look-up the domain asked for ({@link EffectLookup}) through the Ec2Gateway and returns what it found,
 * for `ReconcileStep`. No verdict here: the domain judges the evidence (reconciliation.ts).
 */
export async function lookUpEffect(gateway: Ec2Gateway, rec: Recommendation, lookup: EffectLookup, clientToken: string): Promise<StepEvidence> {
  const scope = { accountId: rec.accountId, region: rec.region };
  switch (lookup.kind) {
    case 'describe-instance': {
      const i = await gateway.describeInstance(refOf(rec, lookup.instanceId));
      return { kind: 'instance', ...(i ? { instance: { instanceType: i.instanceType, state: i.state } } : {}) };
    }
    case 'describe-volume': {
      const v = await gateway.describeVolume(refOf(rec, lookup.volumeId));
      return {
        kind: 'volume',
        ...(v
          ? {
              volume: {
                volumeType: v.volumeType,
                state: v.state,
                ...(v.iops === undefined ? {} : { iops: v.iops }),
                ...(v.throughput === undefined ? {} : { throughput: v.throughput }),
                ...(v.modificationState ? { modificationState: v.modificationState } : {}),
              },
            }
          : {}),
      };
    }
    case 'describe-snapshot':
      return { kind: 'exists', exists: (await gateway.describeSnapshot(refOf(rec, lookup.snapshotId))) !== undefined };
    case 'describe-address':
      return { kind: 'exists', exists: (await gateway.describeAddress(refOf(rec, lookup.allocationId))) !== undefined };
    case 'find-by-client-token': {
      if (lookup.resource === 'snapshot') {
        const s = await gateway.findSnapshotByClientToken(scope, clientToken);
        return { kind: 'created', ...(s ? { outputs: { snapshotId: s.id } } : {}) };
      }
      if (lookup.resource === 'volume') {
        const v = await gateway.findVolumeByClientToken(scope, clientToken);
        return { kind: 'created', ...(v ? { outputs: { restoredVolumeId: v.id } } : {}) };
      }
      const a = await gateway.findAddressByClientToken(scope, clientToken);
      return { kind: 'created', ...(a ? { outputs: { allocationId: a.allocationId, publicIp: a.publicIp } } : {}) };
    }
    case 'find-reservations': {
      const found = await gateway.findReservedInstances(scope, { instanceType: lookup.instanceType, startedAtOrAfter: new Date(lookup.since) });
      return {
        kind: 'reservations',
        found: found.map((r) => ({ reservedInstancesId: r.reservedInstancesId, instanceCount: r.instanceCount, ...(r.offeringId ? { offeringId: r.offeringId } : {}) })),
      };
    }
    case 'none':
      return { kind: 'none' };
    default: {
      const _exhaustive: never = lookup;
      return _exhaustive;
    }
  }
}
