import { EC2_BUCKETS, withoutByteOrderMark, type Ec2Bucket } from '@optex/domain';
import { z } from 'zod';
import { FLEET_OPERATIONS, normalizeOperation } from './operations';
import { INSTANCE_TYPE_PATTERN } from './instance-types';
import { VOLUME_TYPES } from '@optex/domain';
import { compactJsonParser } from './compact-json';

// ── Field types ──
const accountId = z.string().regex(/^[0-9]{12}$/, 'expected a 12-digit AWS account id');
const region = z.string().regex(/^[a-z]{2}(-[a-z]+)+-[0-9]+$/, 'expected an AWS region such as us-east-1');
const id = z.string().min(1, 'expected a non-empty id');
const tags = z.record(z.string(), z.string());
const instanceType = z.string().regex(INSTANCE_TYPE_PATTERN, 'expected an instance type such as m5.large');
/** A region, or one of its zones (the region and a letter, e.g. `us-east-1a`). */
const location = z.string().regex(/^[a-z]{2}(-[a-z]+)+-[0-9]+[a-z]?$/, 'expected a region such as us-east-1 or a zone such as us-east-1a');
const isoDate = z.iso.datetime({ offset: true });
const money = z.number().nonnegative().finite();

const instanceSchema = z.strictObject({
  id,
  accountId,
  region,
  instanceType,
  state: z.enum(['pending', 'running', 'stopping', 'stopped', 'shutting-down', 'terminated']),
  tags: tags.optional(),
  /** CPU utilisation p95 in percent; absent = the metrics source has no data. */
  cpuP95: z.number().min(0).max(100).optional(),
  /** Status checks verdict reported by the metrics source; absent = passed while running, unknown otherwise. */
  statusChecksPassed: z.boolean().optional(),
  /** The CloudWatch agent's `mem_used_percent`; absent = the instance does not publish it (no agent). */
  memoryUsedPct: z.number().min(0).max(100).optional(),
  /** Network traffic in bytes per second; absent = no data. */
  networkInBytesPerSec: z.number().min(0).finite().optional(),
  networkOutBytesPerSec: z.number().min(0).finite().optional(),
  /**
   * The figures the instance had until it was last stopped (the simulator records them; a fleet file may give them):
   * a metrics window that ends by `until` reads these, so "before" figures stay those from before the change.
   */
  metricsBefore: z
    .strictObject({
      until: isoDate,
      cpuP95: z.number().min(0).max(100).optional(),
      memoryUsedPct: z.number().min(0).max(100).optional(),
      networkInBytesPerSec: z.number().min(0).finite().optional(),
      networkOutBytesPerSec: z.number().min(0).finite().optional(),
      statusChecksPassed: z.boolean().optional(),
    })
    .optional(),
  /** Defaults to `<region>a`. */
  availabilityZone: z.string().min(1).optional(),
});

const volumeSchema = z
  .strictObject({
    id,
    accountId,
    region,
    volumeType: z.enum(VOLUME_TYPES),
    sizeGiB: z.number().int().positive(),
    iops: z.number().int().positive().optional(),
    throughput: z.number().int().positive().optional(),
    state: z.enum(['creating', 'available', 'in-use', 'deleting', 'error']),
    attachedTo: id.optional(),
    /** Defaults to `<region>a`. */
    availabilityZone: z.string().min(1).optional(),
    tags: tags.optional(),
    modificationState: z.enum(['modifying', 'optimizing', 'completed', 'failed']).optional(),
    lastModificationStartedAt: isoDate.optional(),
  })
  .check((ctx) => {
    const volume = ctx.value;
    if (volume.attachedTo !== undefined && volume.state !== 'in-use') {
      ctx.issues.push({ code: 'custom', input: volume.state, path: ['state'], message: `expected "in-use" for a volume attached to ${volume.attachedTo}` });
    }
    if (volume.state === 'in-use' && volume.attachedTo === undefined) {
      ctx.issues.push({ code: 'custom', input: volume.attachedTo, path: ['attachedTo'], message: 'expected the instance id of an "in-use" volume' });
    }
  });

const addressSchema = z.strictObject({
  allocationId: id,
  accountId,
  region,
  publicIp: z.ipv4(),
  associationId: id.optional(),
  tags: tags.optional(),
});

const snapshotSchema = z.strictObject({
  id,
  accountId,
  region,
  sizeGiB: z.number().int().positive(),
  /** Id of the image (AMI) whose block device mapping uses the snapshot. */
  usedByImage: id.optional(),
  volumeId: id.optional(),
  /** Defaults to `completed`. */
  state: z.enum(['pending', 'completed', 'error']).optional(),
  description: z.string().optional(),
  tags: tags.optional(),
});

const offeringSchema = z.strictObject({
  offeringId: id,
  region,
  instanceType,
  fixedPrice: money,
  recurringHourly: money,
  durationSeconds: z.number().int().positive(),
});

const faultSchema = z.strictObject({
  /** The resource the operation targets (`*` = any); see the simulator's README for what each operation targets. */
  resourceId: id,
  operation: z.string().refine((name) => normalizeOperation(name) !== undefined, {
    message: `expected an Ec2Gateway method (${FLEET_OPERATIONS.join(', ')}) or its EC2 API action name`,
  }),
  error: z.string().regex(/^[A-Za-z][A-Za-z0-9]*(\.[A-Za-z0-9]+)*$/, 'expected an AWS error code such as RequestLimitExceeded'),
  times: z.number().int().nonnegative(),
  message: z.string().optional(),
});

const uniqueBy =
  <T>(key: (item: T) => string, field: string) =>
  (ctx: { value: T[]; issues: unknown[] }): void => {
    const seen = new Map<string, number>();
    ctx.value.forEach((item, index) => {
      const value = key(item);
      const first = seen.get(value);
      if (first !== undefined) {
        ctx.issues.push({ code: 'custom', input: value, path: [index, field], message: `duplicate ${field} ${value} (also at index ${first})` });
      } else seen.set(value, index);
    });
  };

const fleetShape = {
  instances: z
    .array(instanceSchema)
    .default([])
    .check(uniqueBy((i) => i.id, 'id')),
  volumes: z
    .array(volumeSchema)
    .default([])
    .check(uniqueBy((v) => v.id, 'id')),
  addresses: z
    .array(addressSchema)
    .default([])
    .check(uniqueBy((a) => a.allocationId, 'allocationId')),
  snapshots: z
    .array(snapshotSchema)
    .default([])
    .check(uniqueBy((s) => s.id, 'id')),
  reservedInstanceOfferings: z
    .array(offeringSchema)
    .default([])
    .check(uniqueBy((o) => `${o.region}/${o.offeringId}`, 'offeringId')),
  faults: z.array(faultSchema).default([]),
  /** Every DryRun call fails with `UnauthorizedOperation` (the caller lacks the IAM permissions). */
  dryRunUnauthorized: z.boolean().optional(),
  /**
   * The account of the simulated credentials (what STS `GetCallerIdentity` would answer): recommendations and calls for
   * another account are refused. Absent: the file does not say, and neither check is made (files written before it).
   */
  accountId: accountId.optional(),
  /**
   * What `DescribeInstanceTypeOfferings` leaves out: every instance type EC2 knows is offered in every region and zone
   * except these, listed under a region (offered nowhere in it) or a zone (not offered in that zone).
   */
  instanceTypesNotOffered: z.record(location, z.array(instanceType)).optional(),
};

const bucketFiguresSchema = z.strictObject({ capacity: z.number().positive(), refillPerSecond: z.number().positive() });

/**
 * Schema of the simulated fleet file (see examples/README.md). Every list may be left out. `apiLimits`: the fleet
 * throttles as EC2 does (per account and region, AWS's default figures for the buckets not listed) and answers
 * `RequestLimitExceeded` when a bucket is empty; absent, the fleet does not throttle.
 */
export const fleetFileSchema = z.strictObject({
  ...fleetShape,
  apiLimits: z.strictObject(Object.fromEntries(EC2_BUCKETS.map((b) => [b, bucketFiguresSchema.optional()])) as Record<Ec2Bucket, z.ZodOptional<typeof bucketFiguresSchema>>).optional(),
});

const purchasedSchema = z.strictObject({
  reservedInstancesId: id,
  accountId,
  region,
  offeringId: id,
  instanceType,
  instanceCount: z.number().int().positive(),
  fixedPrice: money,
  recurringHourly: money,
  durationSeconds: z.number().int().positive(),
  purchasedAt: isoDate,
});
const listingSchema = z.strictObject({
  listingId: id,
  accountId,
  region,
  reservedInstancesId: id,
  instanceCount: z.number().int().positive(),
  price: money,
  createdAt: isoDate,
});
const releasedSchema = z.strictObject({ allocationId: id, accountId, region, publicIp: z.ipv4(), releasedAt: isoDate });

/** Bookkeeping the simulator adds to its state file next to the fleet. */
const simulatorSchema = z.strictObject({
  version: z.literal(1),
  /** SHA-256 of the fleet file the state was first copied from. */
  fleetSha256: z.string().optional(),
  counters: z.strictObject({
    snapshot: z.number().int().nonnegative(),
    volume: z.number().int().nonnegative(),
    address: z.number().int().nonnegative(),
    reservedInstances: z.number().int().nonnegative(),
    listing: z.number().int().nonnegative(),
  }),
  reservedInstances: z.array(purchasedSchema),
  listings: z.array(listingSchema),
  releasedAddresses: z.array(releasedSchema),
});

/** Schema of the state file: the fleet plus the simulator's bookkeeping. */
export const fleetStateSchema = z.strictObject({ ...fleetShape, simulator: simulatorSchema });

export type FleetFile = z.output<typeof fleetFileSchema>;
/** The simulated fleet as the simulator holds it (and writes it to its state file). */
export type FleetState = z.output<typeof fleetStateSchema>;
export type InstanceRecord = FleetState['instances'][number];
export type VolumeRecord = FleetState['volumes'][number];
export type AddressRecord = FleetState['addresses'][number];
export type SnapshotRecord = FleetState['snapshots'][number];
export type OfferingRecord = FleetState['reservedInstanceOfferings'][number];
export type FaultRecord = FleetState['faults'][number];
export type PurchasedReservedInstances = FleetState['simulator']['reservedInstances'][number];

/** One problem in a fleet or state file, `path` in the `volumes[2].sizeGiB` form. */
export interface FleetFileIssue {
  readonly path: string;
  readonly message: string;
}

/** A fleet or state file that cannot be used; the message names the file and every bad field. */
export class FleetFileError extends Error {
  readonly code = 'FLEET_FILE';
  constructor(
    readonly file: string,
    readonly issues: readonly FleetFileIssue[],
  ) {
    super(`${file}: ${issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; ')}`);
    Object.setPrototypeOf(this, new.target.prototype);
    this.name = new.target.name;
  }
}

function formatPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((out, key) => (typeof key === 'number' ? `${out}[${key}]` : out ? `${out}.${String(key)}` : String(key)), '');
}

function toIssues(error: z.ZodError): FleetFileIssue[] {
  return error.issues.flatMap((issue) => {
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => ({ path: formatPath([...issue.path, key]), message: 'unknown field' }));
    }
    if (issue.code === 'invalid_key') return [{ path: formatPath(issue.path), message: issue.issues.map((i) => i.message).join('; ') }];
    return [{ path: formatPath(issue.path), message: issue.message.replace(/^Invalid input: /, '') }];
  });
}

/** JSON text as a value; a leading byte order mark (editors on Windows write one) is dropped, as the CLI's inputs drop it. */
function parseJson(text: string, file: string): unknown {
  try {
    return compactJsonParser()(withoutByteOrderMark(text));
  } catch (error) {
    throw new FleetFileError(file, [{ path: '', message: `not valid JSON (${(error as Error).message})` }]);
  }
}

/** Parses and validates a fleet file's text; `file` names it in errors. */
export function parseFleetFile(text: string, file: string): FleetFile {
  return validateFleet(parseJson(text, file), file);
}

/** Validates an already parsed fleet (e.g. a test fixture); `name` labels it in errors. */
export function validateFleet(value: unknown, name: string): FleetFile {
  const result = fleetFileSchema.safeParse(value);
  if (!result.success) throw new FleetFileError(name, toIssues(result.error));
  return result.data;
}

/** Parses and validates a state file's text; `file` names it in errors. */
export function parseFleetState(text: string, file: string): FleetState {
  return validateFleetState(parseJson(text, file), file);
}

/** Validates an already parsed state (e.g. a `snapshot()` of another fleet); `name` labels it in errors. */
export function validateFleetState(value: unknown, name: string): FleetState {
  const result = fleetStateSchema.safeParse(value);
  if (!result.success) throw new FleetFileError(name, toIssues(result.error));
  return result.data;
}
