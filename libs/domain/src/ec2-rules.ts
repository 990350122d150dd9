import { isKnownInstanceType } from './aws-catalog';

// The rules EC2 enforces on the calls optex makes, each a pure function of the resource as described, the request
// and the time, answering `undefined` (EC2 would accept) or the refusal EC2 answers with: its own error code and a
// message. One home for them: the simulated fleet applies them, the domain's pre-validation reads them, and the
// test-only moto decorator applies the ones moto lacks. Nothing here calls EC2 or knows about adapters.

/** A refusal by one of EC2's rules: the AWS error code EC2 answers with, and a readable message. */
export interface Ec2Violation {
  readonly code: Ec2RuleCode;
  readonly message: string;
}

/** The AWS error codes of the rules in this module. */
export type Ec2RuleCode =
  | 'IncorrectInstanceState'
  | 'InvalidInstanceAttributeValue'
  | 'IncorrectState'
  | 'IncorrectModificationState'
  | 'VolumeModificationRateExceeded'
  | 'VolumeInUse'
  | 'InvalidSnapshot.InUse'
  | 'InvalidIPAddress.InUse'
  | 'InvalidParameterValue'
  | 'InvalidParameterCombination'
  | 'InvalidParameterDependency'
  | 'InvalidZone.NotFound'
  | 'LimitPriceExceeded'
  | 'InvalidAddress.NotFound'
  | 'Unsupported'
  | 'TagLimitExceeded'
  | (typeof EC2_NOT_FOUND_CODES)[Ec2ResourceKind];

// ── Resources as the rules see them (structural: the port's *Info types and the domain's observations both fit) ──

export interface RuleInstance {
  readonly id: string;
  /** `pending` | `running` | `stopping` | `stopped` | `shutting-down` | `terminated` */
  readonly state: string;
}

export interface RuleVolume {
  readonly id: string;
  readonly volumeType: string;
  readonly sizeGiB: number;
  readonly iops?: number;
  readonly throughput?: number;
  /** `creating` | `available` | `in-use` | `deleting` | … */
  readonly state: string;
  readonly attachedTo?: string;
  /** State of the latest modification: `modifying` | `optimizing` | `completed` | `failed`. */
  readonly modificationState?: string;
  /** When the latest modification started (a `Date`, or an ISO-8601 string as events carry it). */
  readonly lastModificationStartedAt?: Date | string;
}

export interface RuleSnapshot {
  readonly id: string;
  readonly sizeGiB: number;
  /** `pending` | `completed` | `error`; absent means `completed`. */
  readonly state?: string;
  /** Images (AMIs) whose block device mappings use the snapshot. */
  readonly usedByImages: readonly string[];
}

export interface RuleAddress {
  readonly allocationId: string;
  readonly publicIp: string;
  readonly associationId?: string;
}

export interface RuleOffering {
  readonly offeringId: string;
  /** Upfront price of one instance (USD). */
  readonly fixedPrice: number;
}

// ── Not found ──

export type Ec2ResourceKind = 'instance' | 'volume' | 'snapshot' | 'address' | 'reserved-instances-offering' | 'reserved-instances';

/** The code EC2 answers when a call names a resource that does not exist (in that account and region). */
export const EC2_NOT_FOUND_CODES = {
  instance: 'InvalidInstanceID.NotFound',
  volume: 'InvalidVolume.NotFound',
  snapshot: 'InvalidSnapshot.NotFound',
  address: 'InvalidAllocationID.NotFound',
  'reserved-instances-offering': 'InvalidReservedInstancesOfferingId.NotFound',
  'reserved-instances': 'InvalidReservedInstancesId.NotFound',
} as const;

/** The refusal of a call naming a `kind` with id `id` that does not exist (`where` names the account/region searched). */
export function notFoundViolation(kind: Ec2ResourceKind, id: string, where?: string): Ec2Violation {
  const noun = { instance: 'instance ID', volume: 'volume', snapshot: 'snapshot', address: 'allocation ID', 'reserved-instances-offering': 'Reserved Instances offering', 'reserved-instances': 'Reserved Instances' }[kind];
  return { code: EC2_NOT_FOUND_CODES[kind], message: `The ${noun} '${id}' does not exist${where !== undefined ? ` in ${where}` : ''}.` };
}

// ── Instances ──

/** StopInstances: only a `running`, `stopping` or already `stopped` instance (IncorrectInstanceState). */
export function stopInstanceViolation(instance: RuleInstance): Ec2Violation | undefined {
  if (['running', 'stopping', 'stopped'].includes(instance.state)) return undefined;
  return { code: 'IncorrectInstanceState', message: `The instance '${instance.id}' is not in a state from which it can be stopped (${instance.state}).` };
}

/** StartInstances: only a `stopped`, `pending` or already `running` instance (IncorrectInstanceState). */
export function startInstanceViolation(instance: RuleInstance): Ec2Violation | undefined {
  if (['pending', 'running', 'stopped'].includes(instance.state)) return undefined;
  return { code: 'IncorrectInstanceState', message: `The instance '${instance.id}' is not in a state from which it can be started (${instance.state}).` };
}

/** Whether EC2 knows `instanceType`: {@link isKnownInstanceType}, or one of `knownTypes` (the types a fleet uses). */
export function knownToEc2(instanceType: string, knownTypes?: ReadonlySet<string>): boolean {
  return knownTypes?.has(instanceType) === true || isKnownInstanceType(instanceType);
}

/**
 * ModifyInstanceAttribute InstanceType: the instance must be `stopped` (IncorrectInstanceState) and the type one EC2
 * knows (InvalidInstanceAttributeValue; see {@link isKnownInstanceType}, `knownTypes` adds more).
 * `afterStop`: judge the instance as a stop just before would have left it (`running`/`stopping` count as
 * stopped) — how a dry run of a rightsize, whose stop was itself a dry run, is checked.
 */
export function instanceTypeChangeViolation(
  instance: RuleInstance,
  instanceType: string,
  options: { readonly knownTypes?: ReadonlySet<string>; readonly afterStop?: boolean } = {},
): Ec2Violation | undefined {
  const stopped = instance.state === 'stopped' || (options.afterStop === true && (instance.state === 'running' || instance.state === 'stopping'));
  if (!stopped) return { code: 'IncorrectInstanceState', message: `The instance '${instance.id}' is not in the 'stopped' state (it is ${instance.state}).` };
  if (!knownToEc2(instanceType, options.knownTypes)) {
    return { code: 'InvalidInstanceAttributeValue', message: `Value (${instanceType}) for parameter instanceType is invalid. Unknown instance type.` };
  }
  return undefined;
}

/**
 * An instance type EC2 does not offer where the instance lives (`DescribeInstanceTypeOfferings` does not list it at
 * the instance's zone, or region): EC2 refuses to run the instance as that type (`Unsupported`).
 */
export function instanceTypeOfferingViolation(offering: { readonly instanceType: string; readonly location: string; readonly offered: boolean }): Ec2Violation | undefined {
  if (offering.offered) return undefined;
  return { code: 'Unsupported', message: `${offering.instanceType} is not offered in ${offering.location}` };
}

// ── Volumes ──

/** How long EC2 makes you wait after a volume modification started before the next one (6 hours). */
export const VOLUME_MODIFICATION_COOLDOWN_MS = 6 * 60 * 60 * 1000;

/** EBS volume types EC2 accepts. */
export const VOLUME_TYPES = ['gp2', 'gp3', 'io1', 'io2', 'st1', 'sc1', 'standard'] as const;
export type VolumeType = (typeof VOLUME_TYPES)[number];

export function isVolumeType(value: string): value is VolumeType {
  return (VOLUME_TYPES as readonly string[]).includes(value);
}

const timeOf = (at: Date | string): number => (at instanceof Date ? at.getTime() : Date.parse(at));

/**
 * ModifyVolume, in EC2's order: the volume is `available` or `in-use` (IncorrectState); no modification is
 * `modifying`/`optimizing` (IncorrectModificationState); the previous one started at least 6 hours before `now`
 * (VolumeModificationRateExceeded); the target type, IOPS and throughput are valid for the size
 * ({@link volumePerformanceViolation}).
 */
export function volumeModificationViolation(
  volume: RuleVolume,
  target: { readonly volumeType: string; readonly iops?: number; readonly throughput?: number },
  now: Date,
): Ec2Violation | undefined {
  if (volume.state !== 'available' && volume.state !== 'in-use') {
    return { code: 'IncorrectState', message: `Volume '${volume.id}' is in the '${volume.state}' state and cannot be modified.` };
  }
  if (volume.modificationState === 'modifying' || volume.modificationState === 'optimizing') {
    return { code: 'IncorrectModificationState', message: `Volume '${volume.id}' is already being modified (${volume.modificationState}).` };
  }
  if (volume.lastModificationStartedAt !== undefined) {
    const startedAt = timeOf(volume.lastModificationStartedAt);
    if (now.getTime() < startedAt + VOLUME_MODIFICATION_COOLDOWN_MS) {
      return {
        code: 'VolumeModificationRateExceeded',
        message: `You've reached the maximum modification rate per volume limit. Wait at least 6 hours between modifications per EBS volume (${volume.id} was last modified at ${new Date(startedAt).toISOString()}; the next modification is allowed from ${new Date(startedAt + VOLUME_MODIFICATION_COOLDOWN_MS).toISOString()}).`,
      };
    }
  }
  return volumePerformanceViolation(volume.sizeGiB, target, volume);
}

/** DeleteVolume: not while attached (VolumeInUse), not while still `creating` (IncorrectState). */
export function volumeDeletionViolation(volume: RuleVolume): Ec2Violation | undefined {
  if (volume.attachedTo !== undefined || volume.state === 'in-use') {
    return { code: 'VolumeInUse', message: `Volume ${volume.id} is currently attached to ${volume.attachedTo ?? 'an instance'}.` };
  }
  if (volume.state === 'creating') return { code: 'IncorrectState', message: `Volume '${volume.id}' is still being created.` };
  return undefined;
}

/**
 * CreateVolume: the zone belongs to the region (InvalidZone.NotFound), the size is a positive integer
 * (InvalidParameterValue), a source snapshot is `completed` (IncorrectState) and no larger than the volume
 * (InvalidParameterValue), and the type, IOPS and throughput are valid ({@link volumePerformanceViolation}).
 */
export function volumeCreationViolation(
  request: { readonly region: string; readonly availabilityZone: string; readonly volumeType: string; readonly sizeGiB: number; readonly iops?: number; readonly throughput?: number },
  snapshot?: RuleSnapshot,
): Ec2Violation | undefined {
  const zone = request.availabilityZone;
  if (!zone.startsWith(request.region) || !/^[a-z]$/.test(zone.slice(request.region.length))) {
    return { code: 'InvalidZone.NotFound', message: `The zone '${zone}' does not exist in ${request.region}.` };
  }
  if (!Number.isInteger(request.sizeGiB) || request.sizeGiB <= 0) {
    return { code: 'InvalidParameterValue', message: `Value (${request.sizeGiB}) for parameter size is invalid.` };
  }
  if (snapshot !== undefined) {
    if ((snapshot.state ?? 'completed') !== 'completed') {
      return { code: 'IncorrectState', message: `Snapshot '${snapshot.id}' is ${snapshot.state} and cannot be used to create a volume yet.` };
    }
    if (request.sizeGiB < snapshot.sizeGiB) {
      return { code: 'InvalidParameterValue', message: `Volume of ${request.sizeGiB} GiB is smaller than snapshot '${snapshot.id}' (${snapshot.sizeGiB} GiB).` };
    }
  }
  return volumePerformanceViolation(request.sizeGiB, request);
}

// ── Volume types, IOPS and throughput ──

interface Limits {
  readonly minSizeGiB: number;
  readonly maxSizeGiB: number;
  /** Provisioned IOPS range, when the type takes an IOPS figure. */
  readonly iops?: { readonly min: number; readonly max: number; readonly perGiB: number; readonly baseline?: number };
  /** Provisioned throughput range (MiB/s), when the type takes one. */
  readonly throughput?: { readonly min: number; readonly max: number; readonly perIops: number };
}

const LIMITS: Readonly<Record<VolumeType, Limits>> = {
  gp2: { minSizeGiB: 1, maxSizeGiB: 16384 },
  gp3: {
    minSizeGiB: 1,
    maxSizeGiB: 16384,
    iops: { min: 3000, max: 16000, perGiB: 500, baseline: 3000 },
    throughput: { min: 125, max: 1000, perIops: 0.25 },
  },
  io1: { minSizeGiB: 4, maxSizeGiB: 16384, iops: { min: 100, max: 64000, perGiB: 50 } },
  io2: { minSizeGiB: 4, maxSizeGiB: 65536, iops: { min: 100, max: 256000, perGiB: 1000 } },
  st1: { minSizeGiB: 125, maxSizeGiB: 16384 },
  sc1: { minSizeGiB: 125, maxSizeGiB: 16384 },
  standard: { minSizeGiB: 1, maxSizeGiB: 1024 },
};

/** IOPS EC2 gives an io1/io2/gp3 volume when ModifyVolume changes its type without naming any. */
const DEFAULT_IOPS = 3000;

/** The IOPS EC2 reports for a gp2 volume: 3 per GiB, between 100 and 16000. */
export function gp2Iops(sizeGiB: number): number {
  return Math.min(16000, Math.max(100, 3 * sizeGiB));
}

/** What a volume ends up with after a create or modify call. */
export interface VolumePerformance {
  readonly volumeType: VolumeType;
  readonly iops?: number;
  readonly throughput?: number;
}

type VolumeSettings = { readonly volumeType: string; readonly iops?: number; readonly throughput?: number };

/**
 * The figures a volume of `sizeGiB` ends up with when a call asks for `requested`, or EC2's refusal. Defaults follow
 * ModifyVolume: an omitted IOPS figure is kept when the type stays the same, else 3000 for io1/io2/gp3; an omitted
 * throughput is kept from gp3 to gp3, else 125. CreateVolume (`previous` undefined) requires IOPS for io1/io2.
 */
export function volumePerformance(
  sizeGiB: number,
  requested: VolumeSettings,
  previous?: VolumeSettings,
): { readonly ok: true; readonly performance: VolumePerformance } | { readonly ok: false; readonly violation: Ec2Violation } {
  const refuse = (code: Ec2RuleCode, message: string) => ({ ok: false as const, violation: { code, message } });
  const volumeType = requested.volumeType;
  if (!isVolumeType(volumeType)) {
    return refuse('InvalidParameterValue', `Value (${volumeType}) for parameter volumeType is invalid. Valid types: ${VOLUME_TYPES.join(', ')}.`);
  }
  const limits = LIMITS[volumeType];
  if (sizeGiB < limits.minSizeGiB || sizeGiB > limits.maxSizeGiB) {
    return refuse('InvalidParameterValue', `Volume of ${sizeGiB} GiB is outside the range ${limits.minSizeGiB}-${limits.maxSizeGiB} GiB for volume type ${volumeType}.`);
  }
  if (requested.iops !== undefined && !limits.iops) return refuse('InvalidParameterCombination', `The parameter iops is not supported for ${volumeType} volumes.`);
  if (requested.throughput !== undefined && !limits.throughput) {
    return refuse('InvalidParameterCombination', `The parameter throughput is not supported for ${volumeType} volumes.`);
  }
  const sameType = previous?.volumeType === volumeType;

  let iops: number | undefined;
  if (limits.iops) {
    const range = limits.iops;
    if (requested.iops !== undefined) iops = requested.iops;
    else if (sameType && previous?.iops !== undefined) iops = previous.iops;
    else if (previous !== undefined || range.baseline !== undefined) iops = DEFAULT_IOPS;
    else return refuse('InvalidParameterDependency', `The parameter [VolumeType] requires the parameter Iops to be set (${volumeType}).`);
    if (!Number.isInteger(iops) || iops < range.min || iops > range.max) {
      return refuse('InvalidParameterValue', `Value (${iops}) for parameter iops is invalid: ${volumeType} takes ${range.min}-${range.max} IOPS.`);
    }
    if (iops > (range.baseline ?? 0) && iops > range.perGiB * sizeGiB) {
      return refuse('InvalidParameterValue', `Value (${iops}) for parameter iops is invalid: at most ${range.perGiB} IOPS per GiB for ${volumeType} (${sizeGiB} GiB).`);
    }
  }

  let throughput: number | undefined;
  if (limits.throughput) {
    const range = limits.throughput;
    if (requested.throughput !== undefined) throughput = requested.throughput;
    else if (sameType && previous?.throughput !== undefined) throughput = previous.throughput;
    else throughput = range.min;
    if (!Number.isInteger(throughput) || throughput < range.min || throughput > range.max) {
      return refuse('InvalidParameterValue', `Value (${throughput}) for parameter throughput is invalid: ${volumeType} takes ${range.min}-${range.max} MiB/s.`);
    }
    const maxForIops = Math.max(range.min, Math.floor((iops ?? 0) * range.perIops));
    if (throughput > maxForIops) {
      return refuse(
        'InvalidParameterValue',
        `Value (${throughput}) for parameter throughput is invalid: at most ${range.perIops} MiB/s per provisioned IOPS (${maxForIops} MiB/s at ${iops} IOPS).`,
      );
    }
  }
  return { ok: true, performance: { volumeType, ...(iops !== undefined ? { iops } : {}), ...(throughput !== undefined ? { throughput } : {}) } };
}

/**
 * Type names (InvalidParameterValue), size range per type (InvalidParameterValue), IOPS/throughput only where the
 * type takes them (InvalidParameterCombination), io1/io2 created without IOPS (InvalidParameterDependency), gp3
 * 3000–16000 IOPS at most 500 per GiB and 125–1000 MiB/s at most 0.25 per IOPS, io1 100–64000 IOPS at most 50 per
 * GiB, io2 100–256000 at most 1000 per GiB (InvalidParameterValue). See {@link volumePerformance}.
 */
export function volumePerformanceViolation(sizeGiB: number, requested: VolumeSettings, previous?: VolumeSettings): Ec2Violation | undefined {
  const result = volumePerformance(sizeGiB, requested, previous);
  return result.ok ? undefined : result.violation;
}

// ── Snapshots ──

/** CreateSnapshot: the volume is `available` or `in-use` (IncorrectState). */
export function snapshotCreationViolation(volume: RuleVolume): Ec2Violation | undefined {
  if (volume.state === 'available' || volume.state === 'in-use') return undefined;
  return { code: 'IncorrectState', message: `Volume '${volume.id}' is in the '${volume.state}' state.` };
}

/** DeleteSnapshot: not while an image uses it (InvalidSnapshot.InUse). */
export function snapshotDeletionViolation(snapshot: RuleSnapshot): Ec2Violation | undefined {
  if (snapshot.usedByImages.length === 0) return undefined;
  return { code: 'InvalidSnapshot.InUse', message: `The snapshot ${snapshot.id} is currently in use by ${snapshot.usedByImages.join(', ')}.` };
}

// ── Addresses ──

/** ReleaseAddress: not while associated (InvalidIPAddress.InUse). */
export function addressReleaseViolation(address: RuleAddress): Ec2Violation | undefined {
  if (address.associationId === undefined) return undefined;
  return { code: 'InvalidIPAddress.InUse', message: `Address ${address.publicIp} (${address.allocationId}) is in use by association ${address.associationId}.` };
}

// ── Reserved Instances ──

/**
 * PurchaseReservedInstancesOffering: a positive whole instance count (InvalidParameterValue), and the total upfront
 * price (`fixedPrice × instanceCount`) within `limitPrice` when one is given (LimitPriceExceeded).
 */
export function reservedInstancesPurchaseViolation(
  offering: RuleOffering,
  request: { readonly instanceCount: number; readonly limitPrice?: number },
): Ec2Violation | undefined {
  if (!Number.isInteger(request.instanceCount) || request.instanceCount <= 0) {
    return { code: 'InvalidParameterValue', message: `Value (${request.instanceCount}) for parameter instanceCount is invalid: expected a positive integer.` };
  }
  const total = offering.fixedPrice * request.instanceCount;
  if (request.limitPrice !== undefined && total > request.limitPrice + 1e-9) {
    return {
      code: 'LimitPriceExceeded',
      message: `The cost of the total order ${total.toFixed(2)} USD (${request.instanceCount} × ${offering.fixedPrice} for ${offering.offeringId}) is greater than the limit price ${request.limitPrice.toFixed(2)} USD.`,
    };
  }
  return undefined;
}

/**
 * CreateReservedInstancesListing: a positive whole count no larger than what is held and not yet listed, and a
 * price ≥ 0 (InvalidParameterValue). EC2's further conditions (active, held 30 days, …) are not modelled here.
 */
export function reservedInstancesListingViolation(
  held: { readonly reservedInstancesId: string; readonly instanceCount: number; readonly listedCount: number },
  request: { readonly instanceCount: number; readonly price: number },
): Ec2Violation | undefined {
  const available = held.instanceCount - held.listedCount;
  if (!Number.isInteger(request.instanceCount) || request.instanceCount <= 0 || request.instanceCount > available) {
    return { code: 'InvalidParameterValue', message: `Value (${request.instanceCount}) for parameter instanceCount is invalid: ${available} of ${held.reservedInstancesId} can be listed.` };
  }
  if (!Number.isFinite(request.price) || request.price < 0) return { code: 'InvalidParameterValue', message: `Value (${request.price}) for parameter price is invalid.` };
  return undefined;
}

// ── Addresses (allocation) ──

/**
 * AllocateAddress asking for a specific `publicIp` (recovering a released address): only an address this account
 * released in this region and nobody holds now (InvalidAddress.NotFound).
 */
export function addressRecoveryViolation(publicIp: string, situation: { readonly inUse: boolean; readonly releasedHere: boolean }, where: string): Ec2Violation | undefined {
  if (!situation.inUse && situation.releasedHere) return undefined;
  return { code: 'InvalidAddress.NotFound', message: `Address ${publicIp} is not available to recover in ${where}.` };
}

// ── Tags ──

/** Most tags EC2 allows on one resource. Tags whose key starts with `aws:` (AWS's own, reserved) do not count. */
export const EC2_MAX_TAGS = 50;

/** Whether `key` is one of AWS's reserved tag keys (`aws:` in any case), which no call may set and the limit does not count. */
export const isAwsReservedTagKey = (key: string): boolean => key.toLowerCase().startsWith('aws:');

/**
 * The tags a creating call gives what it creates (CreateVolume, CreateSnapshot, AllocateAddress `TagSpecifications`,
 * the client token among them): at most {@link EC2_MAX_TAGS} that are not `aws:` ones (TagLimitExceeded).
 */
export function tagLimitViolation(tags: Readonly<Record<string, string>> | undefined): Ec2Violation | undefined {
  const count = Object.keys(tags ?? {}).filter((key) => !isAwsReservedTagKey(key)).length;
  if (count <= EC2_MAX_TAGS) return undefined;
  return { code: 'TagLimitExceeded', message: `The maximum number of Tags for a resource has been reached (${count} tags, at most ${EC2_MAX_TAGS}).` };
}
