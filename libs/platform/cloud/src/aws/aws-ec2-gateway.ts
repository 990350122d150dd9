import { randomUUID } from 'node:crypto';
import {
  AllocateAddressCommand,
  CreateReservedInstancesListingCommand,
  CreateSnapshotCommand,
  CreateVolumeCommand,
  DeleteSnapshotCommand,
  DeleteVolumeCommand,
  DescribeAddressesCommand,
  DescribeImagesCommand,
  DescribeInstancesCommand,
  DescribeInstanceTypeOfferingsCommand,
  DescribeReservedInstancesCommand,
  DescribeReservedInstancesOfferingsCommand,
  DescribeSnapshotsCommand,
  DescribeVolumesCommand,
  DescribeVolumesModificationsCommand,
  EC2Client,
  ModifyInstanceAttributeCommand,
  ModifyVolumeCommand,
  PurchaseReservedInstancesOfferingCommand,
  ReleaseAddressCommand,
  StartInstancesCommand,
  StopInstancesCommand,
  waitUntilInstanceRunning,
  waitUntilInstanceStopped,
  waitUntilSnapshotCompleted,
} from '@aws-sdk/client-ec2';
import type { EC2ClientConfig, Filter, Image, Tag, VolumeModification, VolumeType } from '@aws-sdk/client-ec2';
import { CLIENT_TOKEN_TAG, Ec2Error, ec2Error, isCapacityShortage } from '@optex/ports';
import type {
  AccountRegion,
  AddressInfo,
  AllocateAddressRequest,
  CallOptions,
  Clock,
  CreateVolumeRequest,
  Ec2Gateway,
  InstanceInfo,
  InstanceState,
  InstanceTypeOfferingInfo,
  ReservedInstancesInfo,
  ReservedInstancesOfferingInfo,
  ResourceRef,
  SnapshotInfo,
  VolumeInfo,
} from '@optex/ports';
import { isNotFound, isThrottlingEc2Error, isTransientEc2Error, toEc2Error } from './aws-errors';
import { Resilience, resolveResilienceOptions } from './resilience';
import type { ResilienceOptions, ResilientCall } from './resilience';

const INSTANCE_STATES: ReadonlySet<string> = new Set(['pending', 'running', 'stopping', 'stopped', 'shutting-down', 'terminated']);

/** Options of {@link AwsEc2Gateway.create}. */
export interface AwsEc2GatewayOptions extends ResilienceOptions {
  /** Endpoint override for every region (e.g. `http://127.0.0.1:5000` for moto); AWS's own endpoints when absent. */
  readonly endpoint?: string;
  /** Credentials for every client; the SDK's default provider chain when absent. */
  readonly credentials?: EC2ClientConfig['credentials'];
  /**
   * The account the credentials belong to. EC2 acts in the credentials' account whatever `ref.accountId` says, so
   * when set, a call whose `accountId` differs fails with `AccountMismatch` before reaching AWS; when absent, every
   * `accountId` is taken to be the credentials' account (it then only keys the circuit breakers). The runtime sets it
   * from STS `GetCallerIdentity` (`StsCloudIdentity`); this adapter does not ask STS itself.
   */
  readonly accountId?: string;
  /**
   * Creates the client of one region (called once per region, the result is kept). Tests inject fakes here.
   * @defaultValue a new `EC2Client({ region, endpoint, credentials, maxAttempts: 1 })` — one attempt, since the
   * retries are this adapter's own
   */
  readonly clientFor?: (region: string) => EC2Client;
  /**
   * @deprecated Not read: EC2 enforces the 6-hour volume modification rule itself, and this adapter checks no rule
   * (a test that needs the rule against moto wraps the adapter in `@optex/testing`'s `MotoRulesGateway`, which takes
   * the clock). Still accepted so that existing callers compile.
   */
  readonly clock?: Clock;
  /** Polling of the SDK waiters (`waitUntilInstanceStopped`/`Running`, `waitUntilSnapshotCompleted`). */
  readonly waiter?: {
    /** @defaultValue 2 */
    readonly minDelaySeconds?: number;
    /** @defaultValue 15 */
    readonly maxDelaySeconds?: number;
  };
  /**
   * How images (AMIs) using a snapshot are found. `filter`: `DescribeImages` with `Owners=[self]` and the filter
   * `block-device-mapping.snapshot-id` (one cheap call; what AWS supports). `scan-own-images`: every image of
   * the account (`Owners=[self]`, paginated), matched here — for endpoints without that filter (moto 5.2.1
   * answers HTTP 500 `FilterNotImplementedError` to it).
   * @defaultValue `"filter"`
   */
  readonly imageLookup?: 'filter' | 'scan-own-images';
}

interface Ec2Call<T> {
  readonly ref: { readonly accountId: string; readonly region: string };
  readonly operation: string;
  readonly idempotent: boolean;
  /** Set on calls sent with `DryRun=true`: a success means the endpoint ignored the flag. */
  readonly dryRun?: boolean;
  /** For deletes: a `*.NotFound` on a retry means an earlier attempt did the job. */
  readonly notFoundOnRetryMeansDone?: boolean;
  send(client: EC2Client, abortSignal: AbortSignal): Promise<T>;
}

/**
 * {@link Ec2Gateway} on the AWS SDK v3 (`@aws-sdk/client-ec2`), one `EC2Client` per region.
 *
 * - EC2 enforces EC2's rules: this adapter sends each call as asked (after checking only that its inputs are
 *   well-formed: non-empty ids, positive integers, …) and reports EC2's refusal with EC2's code
 *   (`IncorrectInstanceState`, `IncorrectModificationState`, `VolumeModificationRateExceeded`, `VolumeInUse`,
 *   `InvalidIPAddress.InUse`, `InvalidSnapshot.InUse`, `*.NotFound`, …). It holds no copy of those rules (they live
 *   in `@optex/domain`'s `ec2-rules.ts`, which the domain's pre-validation and the simulated fleet apply). Against an
 *   endpoint that lacks some of them (moto), tests wrap it in `@optex/testing`'s `MotoRulesGateway`.
 *   `describe*` resolve to `undefined` for a missing resource.
 * - With `dryRun`, the call is sent with `DryRun=true` and *always* rejects: `DryRunOperation` (it would have
 *   succeeded), or whatever EC2 finds first (`UnauthorizedOperation`, a `*.NotFound`, a rule's code). What EC2 checks
 *   in a dry run is EC2's business: permissions always, and the request as far as EC2 validates it before acting.
 *   `CreateReservedInstancesListing` has no `DryRun` parameter in the EC2 API (the SDK drops it): its dry run
 *   validates the inputs locally and sends nothing. Should an endpoint ever perform a dry-run call, the adapter
 *   fails with `DryRunIgnored` rather than report success.
 * - Client tokens: with {@link CallOptions.clientToken}, CreateSnapshot, CreateVolume and AllocateAddress tag what
 *   they create {@link CLIENT_TOKEN_TAG} = token (`TagSpecifications`), and the `find*ByClientToken` look-ups find it
 *   with a `tag:optex:client-token` filter; `findReservedInstances` asks `DescribeReservedInstances` by instance type
 *   and start time (moto 5.2.1 implements neither the purchase nor that call).
 * - Every SDK error becomes an {@link Ec2Error} with the AWS code. Transient ones (throttling, 5xx, network,
 *   time-outs) are retried with exponential jittered backoff; calls that could take effect twice (CreateSnapshot,
 *   AllocateAddress, PurchaseReservedInstancesOffering: no idempotency token) are retried on throttling only, and
 *   a time-out or 5xx of theirs is reported as non-transient ("outcome unknown"). `CreateVolume` and
 *   `CreateReservedInstancesListing` carry a `ClientToken` shared by their retries (the caller's
 *   {@link CallOptions.clientToken} when given, else a random one per call); a delete retried after a
 *   transient failure takes a `*.NotFound` as done (the lost attempt did it). A circuit breaker per
 *   account and region fails calls fast (`CircuitOpen`, transient) after consecutive transient failures.
 *   A capacity shortage (`InsufficientInstanceCapacity`…, `@optex/ports`' `CAPACITY_EC2_CODES`) stays transient
 *   but is neither retried here nor counted by the breaker, and never "outcome unknown" (EC2 refused the request):
 *   the step runner retries it with the step's backoff and then fails the step.
 *   The SDK waiters poll with the SDK's client directly (no retry/breaker; a failed poll just polls again).
 */
export class AwsEc2Gateway implements Ec2Gateway {
  private readonly clients = new Map<string, EC2Client>();
  private readonly resilience: Resilience;
  private readonly waiterMinDelay: number;
  private readonly waiterMaxDelay: number;

  private constructor(private readonly options: AwsEc2GatewayOptions) {
    this.resilience = new Resilience(resolveResilienceOptions(options, 'AwsEc2Gateway'), {
      isTransient: isTransientEc2Error,
      isThrottling: isThrottlingEc2Error,
      timeoutError: (call, ms, cause) => new Ec2Error('RequestTimeout', `${call.operation}: no answer within ${ms} ms`, true, { cause }),
      circuitOpenError: (call, ms, cause) =>
        new Ec2Error(
          'CircuitOpen',
          `${call.operation}: EC2 calls for ${call.key} are suspended after repeated transient failures; the next trial call is allowed ${ms} ms after the circuit opened`,
          true,
          { cause },
        ),
    }, options.onCircuitOpened);
    this.waiterMinDelay = options.waiter?.minDelaySeconds ?? 2;
    this.waiterMaxDelay = options.waiter?.maxDelaySeconds ?? 15;
    if (!(this.waiterMinDelay > 0)) throw new RangeError(`AwsEc2Gateway: waiter.minDelaySeconds must be positive, got ${this.waiterMinDelay}`);
    if (!(this.waiterMaxDelay >= this.waiterMinDelay)) {
      throw new RangeError(`AwsEc2Gateway: waiter.maxDelaySeconds (${this.waiterMaxDelay}) must be at least waiter.minDelaySeconds (${this.waiterMinDelay})`);
    }
    if (options.accountId !== undefined && !/^\d{12}$/.test(options.accountId)) {
      throw new RangeError(`AwsEc2Gateway: accountId must be 12 digits, got ${JSON.stringify(options.accountId)}`);
    }
    if (options.imageLookup !== undefined && options.imageLookup !== 'filter' && options.imageLookup !== 'scan-own-images') {
      throw new RangeError(`AwsEc2Gateway: imageLookup must be "filter" or "scan-own-images", got ${JSON.stringify(options.imageLookup)}`);
    }
  }

  /** Builds a gateway; throws a `RangeError` naming the bad option. No AWS call is made until the first operation. */
  static create(options: AwsEc2GatewayOptions = {}): AwsEc2Gateway {
    return new AwsEc2Gateway(options);
  }

  /** Releases the HTTP resources of every client created so far. */
  destroy(): void {
    for (const client of this.clients.values()) client.destroy();
    this.clients.clear();
  }

  // ---- instances ----

  async describeInstance(ref: ResourceRef): Promise<InstanceInfo | undefined> {
    this.checkRef(ref);
    const out = await this.describe(ref, 'DescribeInstances', (c, s) =>
      c.send(new DescribeInstancesCommand({ InstanceIds: [ref.id] }), { abortSignal: s }),
    );
    const instance = out?.Reservations?.flatMap((r) => r.Instances ?? []).find((i) => i.InstanceId === ref.id);
    if (instance === undefined) return undefined;
    const state = instance.State?.Name;
    if (state === undefined || !INSTANCE_STATES.has(state)) {
      throw ec2Error('UnexpectedResponse', `DescribeInstances: instance ${ref.id} has state ${String(state)}`);
    }
    return {
      id: ref.id,
      instanceType: instance.InstanceType ?? '',
      state: state as InstanceState,
      tags: tagRecord(instance.Tags),
      ...(instance.Placement?.AvailabilityZone ? { availabilityZone: instance.Placement.AvailabilityZone } : {}),
    };
  }

  async stopInstance(ref: ResourceRef, options?: CallOptions): Promise<void> {
    this.checkRef(ref);
    await this.mutate({
      ref,
      operation: 'StopInstances',
      idempotent: true,
      dryRun: options?.dryRun,
      send: (c, s) => c.send(new StopInstancesCommand({ InstanceIds: [ref.id], DryRun: options?.dryRun }), { abortSignal: s }),
    });
  }

  async startInstance(ref: ResourceRef, options?: CallOptions): Promise<void> {
    this.checkRef(ref);
    await this.mutate({
      ref,
      operation: 'StartInstances',
      idempotent: true,
      dryRun: options?.dryRun,
      send: (c, s) => c.send(new StartInstancesCommand({ InstanceIds: [ref.id], DryRun: options?.dryRun }), { abortSignal: s }),
    });
  }

  async modifyInstanceType(ref: ResourceRef, instanceType: string, options?: CallOptions): Promise<void> {
    this.checkRef(ref);
    requireText(instanceType, 'instanceType');
    await this.mutate({
      ref,
      operation: 'ModifyInstanceAttribute',
      idempotent: true,
      dryRun: options?.dryRun,
      send: (c, s) =>
        c.send(new ModifyInstanceAttributeCommand({ InstanceId: ref.id, InstanceType: { Value: instanceType }, DryRun: options?.dryRun }), {
          abortSignal: s,
        }),
    });
  }

  async waitForInstanceState(ref: ResourceRef, state: 'running' | 'stopped', timeoutMs: number): Promise<void> {
    this.checkRef(ref);
    if (state !== 'running' && state !== 'stopped') throw ec2Error('InvalidParameterValue', `state must be "running" or "stopped", got ${JSON.stringify(state)}`);
    const waiter = state === 'running' ? waitUntilInstanceRunning : waitUntilInstanceStopped;
    await this.runWaiter(ref, `instance ${ref.id} to be ${state}`, timeoutMs, (config) => waiter(config, { InstanceIds: [ref.id] }), async () => {
      const now = await this.describeInstance(ref);
      return ec2Error(
        'IncorrectInstanceState',
        `instance ${ref.id} is ${now?.state ?? 'gone'}, from which it cannot become ${state} without another request`,
      );
    });
  }

  // ---- volumes ----

  async describeVolume(ref: ResourceRef): Promise<VolumeInfo | undefined> {
    this.checkRef(ref);
    // Both asked at once (one round trip of waiting, not two); what the second says counts only when the volume exists.
    const [described, modified] = await Promise.allSettled([
      this.describe(ref, 'DescribeVolumes', (c, s) => c.send(new DescribeVolumesCommand({ VolumeIds: [ref.id] }), { abortSignal: s })),
      this.describe(ref, 'DescribeVolumesModifications', (c, s) => c.send(new DescribeVolumesModificationsCommand({ VolumeIds: [ref.id] }), { abortSignal: s })),
    ]);
    if (described.status === 'rejected') throw described.reason;
    const volume = described.value?.Volumes?.find((v) => v.VolumeId === ref.id);
    if (volume === undefined) return undefined;
    if (modified.status === 'rejected') throw modified.reason;
    const modifications = modified.value;
    const latest = latestModification(modifications?.VolumesModifications ?? []);
    const attachment = (volume.Attachments ?? []).find((a) => a.State !== 'detached' && a.InstanceId);
    return {
      id: ref.id,
      volumeType: volume.VolumeType ?? '',
      sizeGiB: volume.Size ?? 0,
      ...(volume.Iops !== undefined ? { iops: volume.Iops } : {}),
      ...(volume.Throughput !== undefined ? { throughput: volume.Throughput } : {}),
      state: volume.State ?? 'unknown',
      ...(attachment?.InstanceId ? { attachedTo: attachment.InstanceId } : {}),
      availabilityZone: volume.AvailabilityZone ?? '',
      tags: tagRecord(volume.Tags),
      ...(latest?.ModificationState ? { modificationState: latest.ModificationState } : {}),
      ...(latest?.StartTime ? { lastModificationStartedAt: latest.StartTime } : {}),
    };
  }

  async modifyVolume(ref: ResourceRef, target: { volumeType: string; iops?: number; throughput?: number }, options?: CallOptions): Promise<void> {
    this.checkRef(ref);
    requireText(target?.volumeType, 'target.volumeType');
    optionalPositiveInteger(target.iops, 'target.iops');
    optionalPositiveInteger(target.throughput, 'target.throughput');
    await this.mutate({
      ref,
      operation: 'ModifyVolume',
      idempotent: true,
      dryRun: options?.dryRun,
      send: (c, s) =>
        c.send(
          new ModifyVolumeCommand({
            VolumeId: ref.id,
            VolumeType: target.volumeType as VolumeType,
            Iops: target.iops,
            Throughput: target.throughput,
            DryRun: options?.dryRun,
          }),
          { abortSignal: s },
        ),
    });
  }

  async deleteVolume(ref: ResourceRef, options?: CallOptions): Promise<void> {
    this.checkRef(ref);
    await this.mutate({
      ref,
      operation: 'DeleteVolume',
      idempotent: true,
      notFoundOnRetryMeansDone: true,
      dryRun: options?.dryRun,
      send: (c, s) => c.send(new DeleteVolumeCommand({ VolumeId: ref.id, DryRun: options?.dryRun }), { abortSignal: s }),
    });
  }

  async createVolume(request: CreateVolumeRequest, options?: CallOptions): Promise<{ volumeId: string }> {
    this.checkRef({ ...request, id: 'new-volume' });
    requireText(request.availabilityZone, 'availabilityZone');
    requireText(request.volumeType, 'volumeType');
    if (!Number.isInteger(request.sizeGiB) || request.sizeGiB <= 0) {
      throw ec2Error('InvalidParameterValue', `sizeGiB must be a positive integer, got ${String(request.sizeGiB)}`);
    }
    optionalPositiveInteger(request.iops, 'iops');
    optionalPositiveInteger(request.throughput, 'throughput');
    if (request.snapshotId !== undefined) requireText(request.snapshotId, 'snapshotId');
    const tags = tagList(withClientToken(request.tags, options));
    const clientToken = options?.clientToken ?? randomUUID();
    const out = await this.mutate({
      ref: request,
      operation: 'CreateVolume',
      idempotent: true,
      dryRun: options?.dryRun,
      send: (c, s) =>
        c.send(
          new CreateVolumeCommand({
            AvailabilityZone: request.availabilityZone,
            VolumeType: request.volumeType as VolumeType,
            Size: request.sizeGiB,
            Iops: request.iops,
            Throughput: request.throughput,
            SnapshotId: request.snapshotId,
            TagSpecifications: tags.length > 0 ? [{ ResourceType: 'volume', Tags: tags }] : undefined,
            ClientToken: clientToken,
            DryRun: options?.dryRun,
          }),
          { abortSignal: s },
        ),
    });
    return { volumeId: required(out.VolumeId, 'CreateVolume', 'VolumeId') };
  }

  // ---- snapshots ----

  async createSnapshot(
    volume: ResourceRef,
    request: { description: string; tags: Readonly<Record<string, string>> },
    options?: CallOptions,
  ): Promise<{ snapshotId: string }> {
    this.checkRef(volume);
    if (typeof request?.description !== 'string') throw ec2Error('InvalidParameterValue', 'description must be a string');
    const tags = tagList(withClientToken(request.tags, options));
    const out = await this.mutate({
      ref: volume,
      operation: 'CreateSnapshot',
      idempotent: false,
      dryRun: options?.dryRun,
      send: (c, s) =>
        c.send(
          new CreateSnapshotCommand({
            VolumeId: volume.id,
            Description: request.description,
            TagSpecifications: tags.length > 0 ? [{ ResourceType: 'snapshot', Tags: tags }] : undefined,
            DryRun: options?.dryRun,
          }),
          { abortSignal: s },
        ),
    });
    return { snapshotId: required(out.SnapshotId, 'CreateSnapshot', 'SnapshotId') };
  }

  async waitForSnapshotCompleted(ref: ResourceRef, timeoutMs: number): Promise<void> {
    this.checkRef(ref);
    await this.runWaiter(ref, `snapshot ${ref.id} to complete`, timeoutMs, (config) => waitUntilSnapshotCompleted(config, { SnapshotIds: [ref.id] }), async () => {
      const now = await this.describeSnapshot(ref);
      return ec2Error('IncorrectState', `snapshot ${ref.id} is ${now?.state ?? 'gone'} and will not complete`);
    });
  }

  async describeSnapshot(ref: ResourceRef): Promise<SnapshotInfo | undefined> {
    this.checkRef(ref);
    const out = await this.describe(ref, 'DescribeSnapshots', (c, s) => c.send(new DescribeSnapshotsCommand({ SnapshotIds: [ref.id] }), { abortSignal: s }));
    const snapshot = out?.Snapshots?.find((x) => x.SnapshotId === ref.id);
    if (snapshot === undefined) return undefined;
    const images = await this.imagesUsingSnapshot(ref);
    return {
      id: ref.id,
      ...(snapshot.VolumeId ? { volumeId: snapshot.VolumeId } : {}),
      sizeGiB: snapshot.VolumeSize ?? 0,
      state: snapshot.State ?? 'unknown',
      usedByImages: images,
      tags: tagRecord(snapshot.Tags),
    };
  }

  async deleteSnapshot(ref: ResourceRef, options?: CallOptions): Promise<void> {
    this.checkRef(ref);
    await this.mutate({
      ref,
      operation: 'DeleteSnapshot',
      idempotent: true,
      notFoundOnRetryMeansDone: true,
      dryRun: options?.dryRun,
      send: (c, s) => c.send(new DeleteSnapshotCommand({ SnapshotId: ref.id, DryRun: options?.dryRun }), { abortSignal: s }),
    });
  }

  // ---- addresses ----

  async describeAddress(ref: ResourceRef): Promise<AddressInfo | undefined> {
    this.checkRef(ref);
    const out = await this.describe(ref, 'DescribeAddresses', (c, s) => c.send(new DescribeAddressesCommand({ AllocationIds: [ref.id] }), { abortSignal: s }));
    const address = out?.Addresses?.find((a) => a.AllocationId === ref.id);
    if (address === undefined) return undefined;
    return {
      allocationId: ref.id,
      publicIp: address.PublicIp ?? '',
      ...(address.AssociationId ? { associationId: address.AssociationId } : {}),
      ...(address.Tags?.length ? { tags: tagRecord(address.Tags) } : {}),
    };
  }

  async releaseAddress(ref: ResourceRef, options?: CallOptions): Promise<void> {
    this.checkRef(ref);
    await this.mutate({
      ref,
      operation: 'ReleaseAddress',
      idempotent: true,
      notFoundOnRetryMeansDone: true,
      dryRun: options?.dryRun,
      send: (c, s) => c.send(new ReleaseAddressCommand({ AllocationId: ref.id, DryRun: options?.dryRun }), { abortSignal: s }),
    });
  }

  /**
   * Sends `AllocateAddress` (VPC domain) with `Address = publicIp` when given, tagged with `tags` and
   * {@link CLIENT_TOKEN_TAG} when a client token is given (`TagSpecifications`, `elastic-ip`); a refusal (the address
   * is gone) is surfaced, never replaced by another address.
   */
  async allocateAddress(request: AllocateAddressRequest, options?: CallOptions): Promise<AddressInfo> {
    this.checkRef({ ...request, id: 'new-address' });
    if (request.publicIp !== undefined && !/^(\d{1,3})(\.\d{1,3}){3}$/.test(request.publicIp)) {
      throw ec2Error('InvalidParameterValue', `publicIp must be an IPv4 address, got ${JSON.stringify(request.publicIp)}`);
    }
    const tags = tagList(withClientToken(request.tags, options));
    const out = await this.mutate({
      ref: request,
      operation: 'AllocateAddress',
      idempotent: false,
      dryRun: options?.dryRun,
      send: (c, s) =>
        c.send(
          new AllocateAddressCommand({
            Domain: 'vpc',
            Address: request.publicIp,
            TagSpecifications: tags.length > 0 ? [{ ResourceType: 'elastic-ip', Tags: tags }] : undefined,
            DryRun: options?.dryRun,
          }),
          { abortSignal: s },
        ),
    });
    return {
      allocationId: required(out.AllocationId, 'AllocateAddress', 'AllocationId'),
      publicIp: required(out.PublicIp, 'AllocateAddress', 'PublicIp'),
    };
  }

  // ---- instance type offerings ----

  /**
   * `DescribeInstanceTypeOfferings` with `LocationType` `availability-zone` (the zone given) or `region`, filtered by
   * `instance-type` and `location`: the row EC2 lists for the type there (at most one, so no paging), if any.
   */
  async describeInstanceTypeOffering(scope: AccountRegion, instanceType: string, availabilityZone?: string): Promise<InstanceTypeOfferingInfo | undefined> {
    requireText(instanceType, 'instanceType');
    if (availabilityZone !== undefined) requireText(availabilityZone, 'availabilityZone');
    const anchor = this.scopeRef(scope, instanceType);
    const location = availabilityZone ?? scope.region;
    const out = await this.call({
      ref: anchor,
      operation: 'DescribeInstanceTypeOfferings',
      idempotent: true,
      send: (c, s) =>
        c.send(
          new DescribeInstanceTypeOfferingsCommand({
            LocationType: availabilityZone !== undefined ? 'availability-zone' : 'region',
            Filters: [
              { Name: 'instance-type', Values: [instanceType] },
              { Name: 'location', Values: [location] },
            ],
          }),
          { abortSignal: s },
        ),
    });
    return (out.InstanceTypeOfferings ?? []).some((o) => o.InstanceType === instanceType && o.Location === location) ? { instanceType, location } : undefined;
  }

  // ---- reserved instances ----

  async describeReservedInstancesOffering(ref: ResourceRef): Promise<ReservedInstancesOfferingInfo | undefined> {
    this.checkRef(ref);
    let nextToken: string | undefined;
    do {
      const token = nextToken;
      const out = await this.describe(ref, 'DescribeReservedInstancesOfferings', (c, s) =>
        c.send(new DescribeReservedInstancesOfferingsCommand({ ReservedInstancesOfferingIds: [ref.id], NextToken: token }), { abortSignal: s }),
      );
      // Matched here too: moto 5.2.1 ignores ReservedInstancesOfferingIds and returns every offering of the region.
      const offering = out?.ReservedInstancesOfferings?.find((o) => o.ReservedInstancesOfferingId === ref.id);
      if (offering !== undefined) {
        const hourly = (offering.RecurringCharges ?? []).filter((r) => r.Frequency === 'Hourly').reduce((sum, r) => sum + (r.Amount ?? 0), 0);
        return {
          offeringId: ref.id,
          instanceType: offering.InstanceType ?? '',
          fixedPrice: offering.FixedPrice ?? 0,
          recurringHourly: hourly + (offering.UsagePrice ?? 0),
          durationSeconds: offering.Duration ?? 0,
        };
      }
      nextToken = out?.NextToken;
    } while (nextToken);
    return undefined;
  }

  /**
   * Sends `PurchaseReservedInstancesOffering`, with `LimitPrice = {Amount: limitPrice, CurrencyCode: USD}` when given
   * (EC2 applies it to Marketplace offerings). Retried on throttling only: a purchase must not happen twice.
   */
  async purchaseReservedInstancesOffering(
    request: { accountId: string; region: string; offeringId: string; instanceCount: number; limitPrice?: number },
    options?: CallOptions,
  ): Promise<{ reservedInstancesId: string }> {
    this.checkRef({ ...request, id: request.offeringId });
    requireText(request.offeringId, 'offeringId');
    requirePositiveInteger(request.instanceCount, 'instanceCount');
    if (request.limitPrice !== undefined && !(Number.isFinite(request.limitPrice) && request.limitPrice >= 0)) {
      throw ec2Error('InvalidParameterValue', `limitPrice must be a non-negative number, got ${String(request.limitPrice)}`);
    }
    const out = await this.mutate({
      ref: request,
      operation: 'PurchaseReservedInstancesOffering',
      idempotent: false,
      dryRun: options?.dryRun,
      send: (c, s) =>
        c.send(
          new PurchaseReservedInstancesOfferingCommand({
            ReservedInstancesOfferingId: request.offeringId,
            InstanceCount: request.instanceCount,
            LimitPrice: request.limitPrice !== undefined ? { Amount: request.limitPrice, CurrencyCode: 'USD' } : undefined,
            DryRun: options?.dryRun,
          }),
          { abortSignal: s },
        ),
    });
    return { reservedInstancesId: required(out.ReservedInstancesId, 'PurchaseReservedInstancesOffering', 'ReservedInstancesId') };
  }

  /**
   * Sends `CreateReservedInstancesListing` with one price schedule `{Price: price, CurrencyCode: USD}` (the upfront
   * price asked for the remaining term) and a `ClientToken`. The EC2 API has no `DryRun` here: a dry run validates the
   * inputs, sends nothing and rejects with `DryRunOperation`.
   */
  async createReservedInstancesListing(
    request: { accountId: string; region: string; reservedInstancesId: string; instanceCount: number; price: number },
    options?: CallOptions,
  ): Promise<{ listingId: string }> {
    this.checkRef({ ...request, id: request.reservedInstancesId });
    requireText(request.reservedInstancesId, 'reservedInstancesId');
    requirePositiveInteger(request.instanceCount, 'instanceCount');
    if (!(Number.isFinite(request.price) && request.price >= 0)) {
      throw ec2Error('InvalidParameterValue', `price must be a non-negative number, got ${String(request.price)}`);
    }
    if (options?.dryRun) {
      throw ec2Error(
        'DryRunOperation',
        'CreateReservedInstancesListing has no DryRun parameter in the EC2 API; the inputs are valid and nothing was sent',
      );
    }
    const clientToken = options?.clientToken ?? randomUUID();
    const out = await this.mutate({
      ref: request,
      operation: 'CreateReservedInstancesListing',
      idempotent: true,
      send: (c, s) =>
        c.send(
          new CreateReservedInstancesListingCommand({
            ReservedInstancesId: request.reservedInstancesId,
            InstanceCount: request.instanceCount,
            PriceSchedules: [{ Price: request.price, CurrencyCode: 'USD' }],
            ClientToken: clientToken,
          }),
          { abortSignal: s },
        ),
    });
    const listingId = out.ReservedInstancesListings?.[0]?.ReservedInstancesListingId;
    return { listingId: required(listingId, 'CreateReservedInstancesListing', 'ReservedInstancesListings[0].ReservedInstancesListingId') };
  }

  // ---- look-ups by client token (reconciliation after a crash) ----

  /** `DescribeSnapshots` (`OwnerIds=[self]`) filtered by the tag {@link CLIENT_TOKEN_TAG}; the oldest match when several. */
  async findSnapshotByClientToken(scope: AccountRegion, clientToken: string): Promise<SnapshotInfo | undefined> {
    const anchor = this.scopeRef(scope, clientToken);
    const out = await this.call({
      ref: anchor,
      operation: 'DescribeSnapshots',
      idempotent: true,
      send: (c, s) => c.send(new DescribeSnapshotsCommand({ OwnerIds: ['self'], Filters: tokenFilter(clientToken) }), { abortSignal: s }),
    });
    const found = [...(out.Snapshots ?? [])]
      .filter((x) => x.SnapshotId && tagRecord(x.Tags)[CLIENT_TOKEN_TAG] === clientToken)
      .sort((a, b) => (a.StartTime?.getTime() ?? 0) - (b.StartTime?.getTime() ?? 0))[0];
    return found ? this.describeSnapshot({ ...scope, id: found.SnapshotId! }) : undefined;
  }

  /** `DescribeVolumes` filtered by the tag {@link CLIENT_TOKEN_TAG}; the oldest match when several. */
  async findVolumeByClientToken(scope: AccountRegion, clientToken: string): Promise<VolumeInfo | undefined> {
    const anchor = this.scopeRef(scope, clientToken);
    const out = await this.call({
      ref: anchor,
      operation: 'DescribeVolumes',
      idempotent: true,
      send: (c, s) => c.send(new DescribeVolumesCommand({ Filters: tokenFilter(clientToken) }), { abortSignal: s }),
    });
    const found = [...(out.Volumes ?? [])]
      .filter((x) => x.VolumeId && tagRecord(x.Tags)[CLIENT_TOKEN_TAG] === clientToken)
      .sort((a, b) => (a.CreateTime?.getTime() ?? 0) - (b.CreateTime?.getTime() ?? 0))[0];
    return found ? this.describeVolume({ ...scope, id: found.VolumeId! }) : undefined;
  }

  /** `DescribeAddresses` filtered by the tag {@link CLIENT_TOKEN_TAG}. */
  async findAddressByClientToken(scope: AccountRegion, clientToken: string): Promise<AddressInfo | undefined> {
    const anchor = this.scopeRef(scope, clientToken);
    const out = await this.call({
      ref: anchor,
      operation: 'DescribeAddresses',
      idempotent: true,
      send: (c, s) => c.send(new DescribeAddressesCommand({ Filters: tokenFilter(clientToken) }), { abortSignal: s }),
    });
    const address = (out.Addresses ?? []).find((a) => a.AllocationId && tagRecord(a.Tags)[CLIENT_TOKEN_TAG] === clientToken);
    if (address === undefined) return undefined;
    return {
      allocationId: address.AllocationId!,
      publicIp: address.PublicIp ?? '',
      ...(address.AssociationId ? { associationId: address.AssociationId } : {}),
    };
  }

  /**
   * `DescribeReservedInstances` filtered by `instance-type`, then by `Start >= startedAtOrAfter` here (EC2's `start`
   * filter matches one exact time only); newest first. EC2 does not report the offering a reservation came from.
   */
  async findReservedInstances(scope: AccountRegion, query: { instanceType: string; startedAtOrAfter: Date }): Promise<ReservedInstancesInfo[]> {
    const anchor = this.scopeRef(scope, 'reserved-instances');
    requireText(query?.instanceType, 'instanceType');
    if (!(query.startedAtOrAfter instanceof Date) || Number.isNaN(query.startedAtOrAfter.getTime())) {
      throw ec2Error('InvalidParameterValue', `startedAtOrAfter must be a valid Date, got ${String(query.startedAtOrAfter)}`);
    }
    const out = await this.call({
      ref: anchor,
      operation: 'DescribeReservedInstances',
      idempotent: true,
      send: (c, s) => c.send(new DescribeReservedInstancesCommand({ Filters: [{ Name: 'instance-type', Values: [query.instanceType] }] }), { abortSignal: s }),
    });
    const from = query.startedAtOrAfter.getTime();
    return (out.ReservedInstances ?? [])
      .filter((r) => r.ReservedInstancesId && r.InstanceType === query.instanceType && r.Start !== undefined && r.Start.getTime() >= from)
      .map((r) => ({
        reservedInstancesId: r.ReservedInstancesId!,
        instanceType: r.InstanceType!,
        instanceCount: r.InstanceCount ?? 0,
        start: r.Start!,
        state: r.State ?? 'unknown',
      }))
      .sort((a, b) => b.start.getTime() - a.start.getTime());
  }

  // ---- plumbing ----

  /** Validates a look-up's scope and client token; the ref it returns keys the circuit breaker. */
  private scopeRef(scope: AccountRegion, idOrToken: string): ResourceRef {
    if (typeof scope !== 'object' || scope === null) throw ec2Error('InvalidParameterValue', 'scope must be an object {accountId, region}');
    const ref = { accountId: scope.accountId, region: scope.region, id: idOrToken };
    this.checkRef(ref);
    return ref;
  }

  private client(region: string): EC2Client {
    let client = this.clients.get(region);
    if (client === undefined) {
      client = this.options.clientFor
        ? this.options.clientFor(region)
        : new EC2Client({ region, endpoint: this.options.endpoint, credentials: this.options.credentials, maxAttempts: 1 });
      this.clients.set(region, client);
    }
    return client;
  }

  private checkRef(ref: ResourceRef): void {
    if (typeof ref !== 'object' || ref === null) throw ec2Error('InvalidParameterValue', 'ref must be an object {accountId, region, id}');
    requireText(ref.accountId, 'accountId');
    requireText(ref.region, 'region');
    requireText(ref.id, 'id');
    if (this.options.accountId !== undefined && ref.accountId !== this.options.accountId) {
      throw ec2Error(
        'AccountMismatch',
        `accountId ${ref.accountId} is not the account of this gateway's credentials (${this.options.accountId}); use a gateway configured for that account`,
      );
    }
  }

  private async call<T>(call: Ec2Call<T>): Promise<T> {
    const resilient: ResilientCall<T> = {
      key: `${call.ref.accountId}/${call.ref.region}`,
      operation: call.operation,
      idempotent: call.idempotent,
      run: async (signal, attempt) => {
        try {
          return await call.send(this.client(call.ref.region), signal);
        } catch (error) {
          const translated = toEc2Error(error, call.operation);
          if (call.notFoundOnRetryMeansDone && attempt > 1 && translated.awsCode.endsWith('.NotFound')) return undefined as T;
          throw translated;
        }
      },
    };
    try {
      return await this.resilience.execute(resilient);
    } catch (error) {
      throw unknownOutcome(resilient, toEc2Error(error, call.operation));
    }
  }

  /** A read: `undefined` when the resource does not exist. */
  private async describe<T>(ref: ResourceRef, operation: string, send: Ec2Call<T>['send']): Promise<T | undefined> {
    try {
      return await this.call({ ref, operation, idempotent: true, send });
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  private async mutate<T>(call: Ec2Call<T>): Promise<T> {
    const result = await this.call(call);
    if (call.dryRun) {
      throw ec2Error('DryRunIgnored', `${call.operation} was sent with DryRun=true but the endpoint performed it instead of answering DryRunOperation`);
    }
    return result;
  }

  private async runWaiter(
    ref: ResourceRef,
    what: string,
    timeoutMs: number,
    wait: (config: { client: EC2Client; maxWaitTime: number; minDelay: number; maxDelay: number; abortSignal: AbortSignal }) => Promise<unknown>,
    onFailure: () => Promise<Ec2Error>,
  ): Promise<void> {
    if (!(Number.isFinite(timeoutMs) && timeoutMs > 0)) throw ec2Error('InvalidParameterValue', `timeoutMs must be a positive number, got ${String(timeoutMs)}`);
    // The SDK counts in seconds and wants minDelay < maxWaitTime; our own timer enforces timeoutMs exactly.
    const maxWaitTime = Math.ceil(timeoutMs / 1000) + 1;
    const minDelay = Math.min(this.waiterMinDelay, maxWaitTime / 2);
    const maxDelay = Math.max(minDelay, Math.min(this.waiterMaxDelay, maxWaitTime));
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), timeoutMs);
    try {
      await wait({ client: this.client(ref.region), maxWaitTime, minDelay, maxDelay, abortSignal: abort.signal });
    } catch (error) {
      const name = (error as { name?: unknown }).name;
      if (name === 'TimeoutError' || name === 'AbortError' || abort.signal.aborted) {
        throw ec2Error('WaiterTimeout', `gave up waiting for ${what} after ${timeoutMs} ms`, { cause: error });
      }
      const failure = await onFailure();
      throw new Ec2Error(failure.awsCode, failure.message.replace(`${failure.awsCode}: `, ''), failure.transient, { cause: error });
    } finally {
      clearTimeout(timer);
    }
  }

  private async imagesUsingSnapshot(ref: ResourceRef): Promise<string[]> {
    const found = new Set<string>();
    const uses = (image: Image): boolean => (image.BlockDeviceMappings ?? []).some((m) => m.Ebs?.SnapshotId === ref.id);
    const filter = (this.options.imageLookup ?? 'filter') === 'filter';
    let nextToken: string | undefined;
    do {
      const token = nextToken;
      const out = await this.call({
        ref,
        operation: 'DescribeImages',
        idempotent: true,
        send: (c, s) =>
          c.send(
            new DescribeImagesCommand({
              Owners: ['self'],
              Filters: filter ? [{ Name: 'block-device-mapping.snapshot-id', Values: [ref.id] }] : undefined,
              NextToken: token,
            }),
            { abortSignal: s },
          ),
      });
      for (const image of out.Images ?? []) if (image.ImageId && uses(image)) found.add(image.ImageId);
      nextToken = out.NextToken;
    } while (nextToken);
    return [...found].sort();
  }
}

/**
 * A call that may take effect twice reports a time-out/5xx/network failure as non-transient: its outcome is unknown.
 * Not a capacity shortage: EC2 answered it (with a 5xx) to refuse the request, so nothing took effect.
 */
function unknownOutcome(call: ResilientCall<unknown>, error: Ec2Error): Ec2Error {
  if (call.idempotent || !error.transient || isThrottlingEc2Error(error) || isCapacityShortage(error) || error.awsCode === 'CircuitOpen') return error;
  return new Ec2Error(
    error.awsCode,
    `${error.message.replace(`${error.awsCode}: `, '')} (outcome unknown: the request may have taken effect; check before repeating it)`,
    false,
    { cause: error.cause ?? error, outcomeUnknown: true },
  );
}

function latestModification(modifications: readonly VolumeModification[]): VolumeModification | undefined {
  let latest: VolumeModification | undefined;
  for (const m of modifications) {
    if (latest === undefined || (m.StartTime?.getTime() ?? 0) >= (latest.StartTime?.getTime() ?? 0)) latest = m;
  }
  return latest;
}

/** The caller's tags plus {@link CLIENT_TOKEN_TAG} = the call's client token, when it has one. */
function withClientToken(tags: Readonly<Record<string, string>> | undefined, options: CallOptions | undefined): Readonly<Record<string, string>> | undefined {
  if (options?.clientToken === undefined) return tags;
  requireText(options.clientToken, 'clientToken');
  return { ...(tags ?? {}), [CLIENT_TOKEN_TAG]: options.clientToken };
}

function tokenFilter(clientToken: string): Filter[] {
  return [{ Name: `tag:${CLIENT_TOKEN_TAG}`, Values: [clientToken] }];
}

function tagRecord(tags: readonly Tag[] | undefined): Record<string, string> {
  const record: Record<string, string> = {};
  for (const tag of tags ?? []) if (tag.Key !== undefined) record[tag.Key] = tag.Value ?? '';
  return record;
}

function tagList(tags: Readonly<Record<string, string>> | undefined): Tag[] {
  if (tags === undefined) return [];
  if (typeof tags !== 'object' || tags === null) throw ec2Error('InvalidParameterValue', 'tags must be an object of string values');
  return Object.entries(tags).map(([Key, Value]) => {
    if (typeof Value !== 'string') throw ec2Error('InvalidParameterValue', `tags.${Key} must be a string`);
    return { Key, Value };
  });
}

function requireText(value: unknown, field: string): void {
  if (typeof value !== 'string' || value.trim() === '') throw ec2Error('InvalidParameterValue', `${field} must be a non-empty string, got ${JSON.stringify(value)}`);
}

function requirePositiveInteger(value: unknown, field: string): void {
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
    throw ec2Error('InvalidParameterValue', `${field} must be a positive integer, got ${String(value)}`);
  }
}

function optionalPositiveInteger(value: unknown, field: string): void {
  if (value !== undefined) requirePositiveInteger(value, field);
}

function required<T>(value: T | undefined, operation: string, field: string): T {
  if (value === undefined || value === null || value === '') throw ec2Error('UnexpectedResponse', `${operation}: the answer has no ${field}`);
  return value;
}
