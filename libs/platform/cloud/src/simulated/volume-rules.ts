import { ec2Error } from '@optex/ports';

/** EBS volume types EC2 accepts. */
export const VOLUME_TYPES = ['gp2', 'gp3', 'io1', 'io2', 'st1', 'sc1', 'standard'] as const;
export type VolumeType = (typeof VOLUME_TYPES)[number];

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

export function isVolumeType(value: string): value is VolumeType {
  return (VOLUME_TYPES as readonly string[]).includes(value);
}

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

/**
 * Checks a requested type/IOPS/throughput for a volume of `sizeGiB` the way EC2 does and returns the
 * resulting figures. Defaults follow EC2's ModifyVolume: an omitted IOPS figure is kept when the type
 * stays the same, else 3000 for io1/io2/gp3; an omitted throughput is kept from gp3 to gp3, else 125.
 * CreateVolume (`previous` undefined) requires IOPS for io1/io2. Fails with `InvalidParameterValue`,
 * `InvalidParameterCombination` or `MissingParameter`.
 */
export function resolveVolumePerformance(
  sizeGiB: number,
  requested: { volumeType: string; iops?: number; throughput?: number },
  previous?: { volumeType: string; iops?: number; throughput?: number },
): VolumePerformance {
  const volumeType = requested.volumeType;
  if (!isVolumeType(volumeType)) {
    throw ec2Error('InvalidParameterValue', `Value (${volumeType}) for parameter volumeType is invalid. Valid types: ${VOLUME_TYPES.join(', ')}.`);
  }
  const limits = LIMITS[volumeType];
  if (sizeGiB < limits.minSizeGiB || sizeGiB > limits.maxSizeGiB) {
    throw ec2Error(
      'InvalidParameterValue',
      `Volume of ${sizeGiB} GiB is outside the range ${limits.minSizeGiB}-${limits.maxSizeGiB} GiB for volume type ${volumeType}.`,
    );
  }
  if (requested.iops !== undefined && !limits.iops) {
    throw ec2Error('InvalidParameterCombination', `The parameter iops is not supported for ${volumeType} volumes.`);
  }
  if (requested.throughput !== undefined && !limits.throughput) {
    throw ec2Error('InvalidParameterCombination', `The parameter throughput is not supported for ${volumeType} volumes.`);
  }
  const sameType = previous?.volumeType === volumeType;

  let iops: number | undefined;
  if (limits.iops) {
    const range = limits.iops;
    if (requested.iops !== undefined) iops = requested.iops;
    else if (sameType && previous?.iops !== undefined) iops = previous.iops;
    else if (previous !== undefined || range.baseline !== undefined) iops = DEFAULT_IOPS;
    else throw ec2Error('MissingParameter', `The request must contain the parameter iops for ${volumeType} volumes.`);
    if (!Number.isInteger(iops) || iops < range.min || iops > range.max) {
      throw ec2Error('InvalidParameterValue', `Value (${iops}) for parameter iops is invalid: ${volumeType} takes ${range.min}-${range.max} IOPS.`);
    }
    if (iops > (range.baseline ?? 0) && iops > range.perGiB * sizeGiB) {
      throw ec2Error('InvalidParameterValue', `Value (${iops}) for parameter iops is invalid: at most ${range.perGiB} IOPS per GiB for ${volumeType} (${sizeGiB} GiB).`);
    }
  }

  let throughput: number | undefined;
  if (limits.throughput) {
    const range = limits.throughput;
    if (requested.throughput !== undefined) throughput = requested.throughput;
    else if (sameType && previous?.throughput !== undefined) throughput = previous.throughput;
    else throughput = range.min;
    if (!Number.isInteger(throughput) || throughput < range.min || throughput > range.max) {
      throw ec2Error('InvalidParameterValue', `Value (${throughput}) for parameter throughput is invalid: ${volumeType} takes ${range.min}-${range.max} MiB/s.`);
    }
    const maxForIops = Math.max(range.min, Math.floor((iops ?? 0) * range.perIops));
    if (throughput > maxForIops) {
      throw ec2Error(
        'InvalidParameterValue',
        `Value (${throughput}) for parameter throughput is invalid: at most ${range.perIops} MiB/s per provisioned IOPS (${maxForIops} MiB/s at ${iops} IOPS).`,
      );
    }
  }
  return { volumeType, ...(iops !== undefined ? { iops } : {}), ...(throughput !== undefined ? { throughput } : {}) };
}
