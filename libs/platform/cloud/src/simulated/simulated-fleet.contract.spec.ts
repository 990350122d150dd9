import type { Ec2Gateway } from '@optex/ports';
import { ec2GatewayContract, type Ec2ContractSubject } from '@optex/testing';
import type { FleetState } from './fleet-schema';
import { DRY_RUN_UNAUTHORIZED_TAG, SimulatedFleet } from './simulated-fleet';
import { ACCOUNT, ManualClock, REGION } from './fleet.fixture';

// The Ec2Gateway contract against the simulated fleet. Resources are arranged by adding them to the fleet's
// state (in the fleet file's format) and reopening the fleet from it; the gateway under test always forwards to
// the current fleet.
async function simulatedSubject(): Promise<Ec2ContractSubject> {
  const clock = new ManualClock(new Date('2030-06-01T12:00:00Z'));
  const empty = { instances: [], volumes: [], addresses: [], snapshots: [], reservedInstanceOfferings: [], faults: [] };
  let fleet = SimulatedFleet.fromFleet(empty, { clock });
  let counter = 0;
  const next = () => String(++counter).padStart(4, '0');
  const change = (edit: (state: FleetState) => void): void => {
    const state = fleet.snapshot();
    edit(state);
    fleet = SimulatedFleet.fromFleet(state, { clock, name: 'contract fleet' });
  };
  const scoped = { accountId: ACCOUNT, region: REGION };
  const addInstance = (instanceType: string, state: 'running' | 'stopped' | 'terminated'): string => {
    const id = `i-contract${next()}`;
    change((s) => s.instances.push({ id, ...scoped, instanceType, state }));
    return id;
  };
  const gateway = new Proxy({} as Ec2Gateway, {
    get: (_target, property) => {
      const value: unknown = Reflect.get(fleet, property);
      return typeof value === 'function' ? value.bind(fleet) : value;
    },
  });

  return {
    gateway,
    ...scoped,
    availabilityZone: `${REGION}a`,
    advanceClock: (ms) => clock.advance(ms),
    arrange: {
      instance: async ({ instanceType, state }) => addInstance(instanceType, state),
      volume: async ({ volumeType, sizeGiB, attached, tags }) => {
        const attachedTo = attached ? addInstance('m5.large', 'running') : undefined;
        const id = `vol-contract${next()}`;
        change((s) =>
          s.volumes.push({
            id,
            ...scoped,
            volumeType,
            sizeGiB,
            state: attachedTo !== undefined ? 'in-use' : 'available',
            availabilityZone: `${REGION}a`,
            ...(attachedTo !== undefined ? { attachedTo } : {}),
            ...(tags !== undefined ? { tags: { ...tags } } : {}),
          }),
        );
        return id;
      },
      modifiedNow: async (volumeId) =>
        change((s) => {
          const volume = s.volumes.find((v) => v.id === volumeId)!;
          volume.modificationState = 'completed';
          volume.lastModificationStartedAt = clock.now().toISOString();
        }),
      volumeBeingModified: async ({ sizeGiB }) => {
        const id = `vol-contract${next()}`;
        const startedAt = new Date(clock.now().getTime() - 7 * 3600_000).toISOString();
        change((s) => s.volumes.push({ id, ...scoped, volumeType: 'gp2', sizeGiB, state: 'available', modificationState: 'modifying', lastModificationStartedAt: startedAt }));
        return id;
      },
      // The fleet's permission model: DryRun calls on a resource tagged optex:dry-run-unauthorized=true are refused.
      forbiddenVolume: async ({ sizeGiB }) => {
        const id = `vol-contract${next()}`;
        change((s) => s.volumes.push({ id, ...scoped, volumeType: 'gp2', sizeGiB, state: 'available', tags: { [DRY_RUN_UNAUTHORIZED_TAG]: 'true' } }));
        return id;
      },
      snapshot: async ({ sizeGiB, usedByImage }) => {
        const id = `snap-contract${next()}`;
        change((s) => s.snapshots.push({ id, ...scoped, sizeGiB, ...(usedByImage ? { usedByImage: `ami-contract${next()}` } : {}) }));
        return id;
      },
      address: async ({ associated }) => {
        const n = next();
        const address = { allocationId: `eipalloc-contract${n}`, publicIp: `203.0.113.${Number(n) % 250}` };
        change((s) => s.addresses.push({ ...address, ...scoped, ...(associated ? { associationId: `eipassoc-contract${n}` } : {}) }));
        return associated ? { ...address, associationId: `eipassoc-contract${n}` } : address;
      },
      zoneNotOffering: async (instanceType) => {
        const zone = `${REGION}e`;
        change((s) => {
          s.instanceTypesNotOffered = { ...s.instanceTypesNotOffered, [zone]: [...(s.instanceTypesNotOffered?.[zone] ?? []), instanceType] };
        });
        return zone;
      },
      offering: async () => {
        const offering = { offeringId: `offer-contract${next()}`, instanceType: 'm5.large', fixedPrice: 500 };
        change((s) => s.reservedInstanceOfferings.push({ ...offering, region: REGION, recurringHourly: 0.02, durationSeconds: 31_536_000 }));
        return offering;
      },
    },
  };
}

ec2GatewayContract('simulated fleet', { reservedInstancesPurchase: true, modificationInProgress: true, permissionDenial: true }, simulatedSubject, { testTimeoutMs: 10_000 });
