import type { PerformanceFigures } from '@optex/domain';

/** Identifies one EC2 resource: the account and region it lives in, and its id (allocation id for addresses, offering id for RI offerings). */
export interface ResourceRef {
  readonly accountId: string;
  readonly region: string;
  readonly id: string;
}

export type InstanceState = 'pending' | 'running' | 'stopping' | 'stopped' | 'shutting-down' | 'terminated';

export interface InstanceInfo {
  readonly id: string;
  readonly instanceType: string;
  readonly state: InstanceState;
  readonly tags: Readonly<Record<string, string>>;
  readonly availabilityZone?: string;
}

export interface VolumeInfo {
  readonly id: string;
  readonly volumeType: string;
  readonly sizeGiB: number;
  readonly iops?: number;
  readonly throughput?: number;
  /** `available` (unattached), `in-use` (attached), `creating`, `deleting`, … */
  readonly state: string;
  readonly attachedTo?: string;
  readonly availabilityZone: string;
  readonly tags: Readonly<Record<string, string>>;
  /** State of the latest modification, if any: `modifying` | `optimizing` | `completed` | `failed`. */
  readonly modificationState?: string;
  /** When the latest modification started; another one is refused for 6 hours after it. */
  readonly lastModificationStartedAt?: Date;
}

export interface SnapshotInfo {
  readonly id: string;
  readonly volumeId?: string;
  readonly sizeGiB: number;
  /** `pending` | `completed` | `error` */
  readonly state: string;
  /** Ids of images (AMIs) whose block device mappings use the snapshot. */
  readonly usedByImages: readonly string[];
  readonly tags: Readonly<Record<string, string>>;
}

export interface AddressInfo {
  readonly allocationId: string;
  readonly publicIp: string;
  readonly associationId?: string;
  /** The address's tags, when it has any (`describeAddress`; the scope guard reads the opt-out tag). */
  readonly tags?: Readonly<Record<string, string>>;
}

/** An instance type EC2 offers at a location, as `DescribeInstanceTypeOfferings` lists it. */
export interface InstanceTypeOfferingInfo {
  readonly instanceType: string;
  /** The zone (`us-east-1a`) or region (`us-east-1`) asked about. */
  readonly location: string;
}

export interface ReservedInstancesOfferingInfo {
  readonly offeringId: string;
  readonly instanceType: string;
  readonly fixedPrice: number;
  readonly recurringHourly: number;
  readonly durationSeconds: number;
}

export interface CallOptions {
  /**
   * Send the call with EC2's `DryRun=true`. A dry run changes nothing and always fails: with the code the real call
   * would have failed with (`UnauthorizedOperation`, a `*.NotFound`, a rule's code, an injected fault in the
   * simulated fleet), or with `DryRunOperation` when it would have succeeded.
   */
  readonly dryRun?: boolean;
  /**
   * Asked by a gateway that holds calls (the EC2 request budget's wait for a token) once the hold is over, before the
   * call is sent; what it throws is thrown instead, and the call is not sent. The executor passes the kill switch: an
   * execution step whose intent was recorded before a pause, and which was still waiting for its token, is not sent.
   */
  readonly beforeSend?: () => Promise<void>;
  /**
   * The idempotency token of this effect, derived by the executor from the optimization and the step and recorded
   * (in the step's intent event) before the call. A call that creates something tags it
   * {@link CLIENT_TOKEN_TAG} = token (and sends it as EC2's `ClientToken` where the operation takes one), so the
   * `find*ByClientToken` look-ups can tell after a crash whether the effect happened.
   */
  readonly clientToken?: string;
}

/** The tag a creating call puts on what it creates, holding the call's {@link CallOptions.clientToken}. */
export const CLIENT_TOKEN_TAG = 'optex:client-token';

/** An account and region: where a look-up searches. */
export interface AccountRegion {
  readonly accountId: string;
  readonly region: string;
}

/** A reservation bought from an offering, as `DescribeReservedInstances` reports it. */
export interface ReservedInstancesInfo {
  readonly reservedInstancesId: string;
  readonly instanceType: string;
  readonly instanceCount: number;
  /** When the reservation started (the purchase time). */
  readonly start: Date;
  /** `payment-pending` | `active` | `payment-failed` | `retired` | … */
  readonly state: string;
  /** The offering it was bought from, where the source knows it (the simulated fleet does; EC2 does not report it). */
  readonly offeringId?: string;
}

export interface CreateVolumeRequest {
  readonly accountId: string;
  readonly region: string;
  readonly availabilityZone: string;
  readonly volumeType: string;
  readonly sizeGiB: number;
  readonly iops?: number;
  readonly throughput?: number;
  readonly snapshotId?: string;
  readonly tags?: Readonly<Record<string, string>>;
}

/** What `allocateAddress` asks for: an Elastic IP in that account and region, the address `publicIp` when given, tagged `tags`. */
export interface AllocateAddressRequest {
  readonly accountId: string;
  readonly region: string;
  readonly publicIp?: string;
  /** Set on the new address (`TagSpecifications`, with {@link CLIENT_TOKEN_TAG} when the call has a client token). */
  readonly tags?: Readonly<Record<string, string>>;
}

/**
 * The EC2 operations optex performs, with EC2's rules and EC2's error codes: a refused call fails with
 * {@link Ec2Error} carrying the AWS code (`IncorrectInstanceState`, `VolumeInUse`, `InvalidIPAddress.InUse`,
 * `IncorrectModificationState`, `VolumeModificationRateExceeded`, `InvalidVolume.NotFound`, `DryRunOperation`,
 * `UnauthorizedOperation`, `RequestLimitExceeded`, …). The rules themselves are `@optex/domain`'s `ec2-rules.ts`:
 * the simulated fleet applies them; the AWS SDK adapter leaves them to EC2. A mutating call on a missing resource
 * fails with its `*.NotFound` code; `describe*` resolve to `undefined` instead. `@optex/testing`'s
 * `ec2GatewayContract` pins this behaviour for every adapter.
 */
export interface Ec2Gateway {
  describeInstance(ref: ResourceRef): Promise<InstanceInfo | undefined>;
  /** Refused unless the instance is `running`, `stopping` or `stopped` (`IncorrectInstanceState`). */
  stopInstance(ref: ResourceRef, options?: CallOptions): Promise<void>;
  /** Refused unless the instance is `stopped`, `pending` or `running` (`IncorrectInstanceState`). */
  startInstance(ref: ResourceRef, options?: CallOptions): Promise<void>;
  /** Refused unless the instance is `stopped` (`IncorrectInstanceState`), or for a type EC2 does not know (`InvalidInstanceAttributeValue`). */
  modifyInstanceType(ref: ResourceRef, instanceType: string, options?: CallOptions): Promise<void>;
  /** Resolves once the instance reaches `state`; fails with `WaiterTimeout` after `timeoutMs`. */
  waitForInstanceState(ref: ResourceRef, state: 'running' | 'stopped', timeoutMs: number): Promise<void>;

  describeVolume(ref: ResourceRef): Promise<VolumeInfo | undefined>;
  /**
   * Refused while a modification is in progress (`IncorrectModificationState`), within 6 hours of the previous one's
   * start (`VolumeModificationRateExceeded`), or for a type/IOPS/throughput outside the type's limits (`InvalidParameterValue`).
   */
  modifyVolume(ref: ResourceRef, target: { volumeType: string; iops?: number; throughput?: number }, options?: CallOptions): Promise<void>;
  /** Refused while attached (`VolumeInUse`). */
  deleteVolume(ref: ResourceRef, options?: CallOptions): Promise<void>;
  createVolume(request: CreateVolumeRequest, options?: CallOptions): Promise<{ volumeId: string }>;

  /** The snapshot, volume or address tagged {@link CLIENT_TOKEN_TAG} = `clientToken` in that account and region, if any. */
  findSnapshotByClientToken(scope: AccountRegion, clientToken: string): Promise<SnapshotInfo | undefined>;
  findVolumeByClientToken(scope: AccountRegion, clientToken: string): Promise<VolumeInfo | undefined>;
  findAddressByClientToken(scope: AccountRegion, clientToken: string): Promise<AddressInfo | undefined>;

  createSnapshot(volume: ResourceRef, request: { description: string; tags: Readonly<Record<string, string>> }, options?: CallOptions): Promise<{ snapshotId: string }>;
  waitForSnapshotCompleted(ref: ResourceRef, timeoutMs: number): Promise<void>;
  describeSnapshot(ref: ResourceRef): Promise<SnapshotInfo | undefined>;
  /** Refused while an image uses it (`InvalidSnapshot.InUse`). */
  deleteSnapshot(ref: ResourceRef, options?: CallOptions): Promise<void>;

  /** `ref.id` is the allocation id. */
  describeAddress(ref: ResourceRef): Promise<AddressInfo | undefined>;
  /** Refused while associated (`InvalidIPAddress.InUse`). */
  releaseAddress(ref: ResourceRef, options?: CallOptions): Promise<void>;
  /**
   * Allocates an address, asking for `publicIp` when given (best effort: it may be gone), tagged `tags` when given;
   * more than EC2's 50 tags, the client token's counted, is `TagLimitExceeded`.
   */
  allocateAddress(request: AllocateAddressRequest, options?: CallOptions): Promise<AddressInfo>;

  /**
   * The offering of `instanceType` in the zone `availabilityZone` (of `scope.region`) when given, else in
   * `scope.region`: what `DescribeInstanceTypeOfferings` (`LocationType` `availability-zone` or `region`, filters
   * `instance-type` and `location`) lists; `undefined` when EC2 does not offer it there (or does not know the type).
   * A type not offered where an instance lives is one EC2 refuses to change it to (`Unsupported`).
   */
  describeInstanceTypeOffering(scope: AccountRegion, instanceType: string, availabilityZone?: string): Promise<InstanceTypeOfferingInfo | undefined>;

  /** `ref.id` is the offering id. */
  describeReservedInstancesOffering(ref: ResourceRef): Promise<ReservedInstancesOfferingInfo | undefined>;
  /** Refused when `fixedPrice × instanceCount` exceeds `limitPrice` (`LimitPriceExceeded`). */
  purchaseReservedInstancesOffering(
    request: { accountId: string; region: string; offeringId: string; instanceCount: number; limitPrice?: number },
    options?: CallOptions,
  ): Promise<{ reservedInstancesId: string }>;
  /**
   * Reservations of `instanceType` that started at or after `startedAtOrAfter` (the purchase's intent time), newest
   * first: how a purchase is reconciled after a crash, since EC2's purchase call takes no client token.
   */
  findReservedInstances(scope: AccountRegion, query: { instanceType: string; startedAtOrAfter: Date }): Promise<ReservedInstancesInfo[]>;
  /** Lists purchased reserved instances on the RI Marketplace (rollback of a purchase, best effort). */
  createReservedInstancesListing(
    request: { accountId: string; region: string; reservedInstancesId: string; instanceCount: number; price: number },
    options?: CallOptions,
  ): Promise<{ listingId: string }>;
}

/** Performance figures for one instance over a window. `undefined` means "no data", never a pass or a fail. */
export interface MetricsSource {
  cpuP95(ref: ResourceRef, window: { from: Date; to: Date }): Promise<number | undefined>;
  /** `true` when every status check passed, `false` when one failed, `undefined` when unknown. */
  statusChecksPassed(ref: ResourceRef, window: { from: Date; to: Date }): Promise<boolean | undefined>;
  /**
   * The whole picture over the window: CPU p95, memory used (the CloudWatch agent's `mem_used_percent`, where the
   * instance publishes it), network in and out per second, status checks. Each figure absent when there is no data.
   */
  performance(ref: ResourceRef, window: { from: Date; to: Date }): Promise<PerformanceFigures>;
}

/** Whose credentials the cloud adapters act with: what the scope guard checks every recommendation's account against. */
export interface CloudIdentity {
  /**
   * The account of the credentials: STS `GetCallerIdentity` for AWS, the `accountId` a simulated fleet file declares;
   * `undefined` when the cloud does not say (a simulated fleet file that declares no account). Rejects with an
   * `InfrastructureError` when it cannot be asked.
   */
  credentialsAccountId(): Promise<string | undefined>;
}
