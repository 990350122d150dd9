import {
  addressReleaseViolation,
  instanceTypeChangeViolation,
  notFoundViolation,
  reservedInstancesPurchaseViolation,
  snapshotCreationViolation,
  snapshotDeletionViolation,
  startInstanceViolation,
  stopInstanceViolation,
  volumeCreationViolation,
  volumeDeletionViolation,
  volumeModificationViolation,
  type Ec2ResourceKind,
  type Ec2Violation,
} from '@optex/domain';
import { ec2Error, systemClock } from '@optex/ports';
import type {
  AccountRegion,
  AddressInfo,
  AllocateAddressRequest,
  CallOptions,
  Clock,
  CreateVolumeRequest,
  Ec2Gateway,
  InstanceInfo,
  InstanceTypeOfferingInfo,
  ReservedInstancesInfo,
  ReservedInstancesOfferingInfo,
  ResourceRef,
  SnapshotInfo,
  VolumeInfo,
} from '@optex/ports';

/** Options of {@link MotoRulesGateway}. */
export interface MotoRulesGatewayOptions {
  /**
   * Time source of the 6-hour volume modification rule. moto stamps a modification with the real time, so a test
   * clock must start at the real time and only move forward. @defaultValue `systemClock`
   */
  readonly clock?: Clock;
}

/**
 * TEST-ONLY. An {@link Ec2Gateway} decorator that makes moto 5.2.1 (behind the AWS SDK adapter) answer like EC2,
 * by applying — before forwarding the call — exactly the rules of `@optex/domain`'s `ec2-rules.ts` that moto lacks.
 * Measured against moto_server 5.2.1 (every one of these is accepted by moto, or answered `DryRunOperation`):
 *
 * - ModifyInstanceAttribute InstanceType of a running instance, or to an unknown type (`IncorrectInstanceState`,
 *   `InvalidInstanceAttributeValue`); StartInstances/StopInstances of a terminated instance (`IncorrectInstanceState`);
 * - ModifyVolume within 6 hours of the previous modification (`VolumeModificationRateExceeded`; a modification in
 *   progress, `IncorrectModificationState`, cannot happen in moto: its modifications complete at once), to an
 *   unknown type or outside the type's IOPS/throughput limits (`InvalidParameterValue`, `InvalidParameterCombination`);
 * - CreateVolume in a zone outside the region (`InvalidZone.NotFound`), smaller than its snapshot or outside the
 *   type's limits (`InvalidParameterValue`);
 * - ReleaseAddress of an associated address (moto disassociates it and releases it; EC2: `InvalidIPAddress.InUse`);
 * - PurchaseReservedInstancesOffering above `LimitPrice` (`LimitPriceExceeded`; moto does not implement the purchase
 *   at all and answers HTTP 500, so the call still fails after the check);
 * - DryRun: moto answers `DryRunOperation` before looking at anything, so for a dry run this decorator also checks
 *   that the named resources exist (`*.NotFound`) and applies the rules moto does enforce for real calls
 *   (`VolumeInUse` for an attached volume, `InvalidSnapshot.InUse` for a snapshot an image uses).
 *
 * Rules moto enforces itself for real calls are not repeated. Every check reads the resource through the wrapped
 * gateway's `describe*` first (one extra round trip). Never used by the production runtime: it lives in
 * `@optex/testing`, and the runtime wires the bare `AwsEc2Gateway` (against real EC2, EC2 enforces its rules).
 */
export class MotoRulesGateway implements Ec2Gateway {
  private readonly clock: Clock;

  constructor(
    private readonly inner: Ec2Gateway,
    options: MotoRulesGatewayOptions = {},
  ) {
    this.clock = options.clock ?? systemClock;
  }

  // ── Instances ──

  describeInstance(ref: ResourceRef): Promise<InstanceInfo | undefined> {
    return this.inner.describeInstance(ref);
  }

  async stopInstance(ref: ResourceRef, options?: CallOptions): Promise<void> {
    await this.check(options, 'instance', ref.id, () => this.inner.describeInstance(ref), stopInstanceViolation);
    return this.inner.stopInstance(ref, options);
  }

  async startInstance(ref: ResourceRef, options?: CallOptions): Promise<void> {
    await this.check(options, 'instance', ref.id, () => this.inner.describeInstance(ref), startInstanceViolation);
    return this.inner.startInstance(ref, options);
  }

  async modifyInstanceType(ref: ResourceRef, instanceType: string, options?: CallOptions): Promise<void> {
    // A dry-run rightsize sends its stop as a dry run too: judge the instance as that stop would have left it.
    await this.check(options, 'instance', ref.id, () => this.inner.describeInstance(ref), (i) => instanceTypeChangeViolation(i, instanceType, { afterStop: options?.dryRun === true }));
    return this.inner.modifyInstanceType(ref, instanceType, options);
  }

  waitForInstanceState(ref: ResourceRef, state: 'running' | 'stopped', timeoutMs: number): Promise<void> {
    return this.inner.waitForInstanceState(ref, state, timeoutMs);
  }

  // ── Volumes ──

  describeVolume(ref: ResourceRef): Promise<VolumeInfo | undefined> {
    return this.inner.describeVolume(ref);
  }

  async modifyVolume(ref: ResourceRef, target: { volumeType: string; iops?: number; throughput?: number }, options?: CallOptions): Promise<void> {
    await this.check(options, 'volume', ref.id, () => this.inner.describeVolume(ref), (v) => volumeModificationViolation(v, target, this.clock.now()));
    return this.inner.modifyVolume(ref, target, options);
  }

  async deleteVolume(ref: ResourceRef, options?: CallOptions): Promise<void> {
    // moto refuses an attached volume itself (VolumeInUse), but not in a dry run.
    if (options?.dryRun === true) await this.check(options, 'volume', ref.id, () => this.inner.describeVolume(ref), volumeDeletionViolation);
    return this.inner.deleteVolume(ref, options);
  }

  async createVolume(request: CreateVolumeRequest, options?: CallOptions): Promise<{ volumeId: string }> {
    let snapshot: SnapshotInfo | undefined;
    if (request.snapshotId !== undefined) {
      snapshot = await this.inner.describeSnapshot({ accountId: request.accountId, region: request.region, id: request.snapshotId });
      if (snapshot === undefined && options?.dryRun === true) throw refusal(notFoundViolation('snapshot', request.snapshotId));
    }
    if (request.snapshotId === undefined || snapshot !== undefined) enforce(volumeCreationViolation(request, snapshot));
    return this.inner.createVolume(request, options);
  }

  findSnapshotByClientToken(scope: AccountRegion, clientToken: string): Promise<SnapshotInfo | undefined> {
    return this.inner.findSnapshotByClientToken(scope, clientToken);
  }

  findVolumeByClientToken(scope: AccountRegion, clientToken: string): Promise<VolumeInfo | undefined> {
    return this.inner.findVolumeByClientToken(scope, clientToken);
  }

  findAddressByClientToken(scope: AccountRegion, clientToken: string): Promise<AddressInfo | undefined> {
    return this.inner.findAddressByClientToken(scope, clientToken);
  }

  // ── Snapshots ──

  async createSnapshot(volume: ResourceRef, request: { description: string; tags: Readonly<Record<string, string>> }, options?: CallOptions): Promise<{ snapshotId: string }> {
    await this.check(options, 'volume', volume.id, () => this.inner.describeVolume(volume), snapshotCreationViolation);
    return this.inner.createSnapshot(volume, request, options);
  }

  waitForSnapshotCompleted(ref: ResourceRef, timeoutMs: number): Promise<void> {
    return this.inner.waitForSnapshotCompleted(ref, timeoutMs);
  }

  describeSnapshot(ref: ResourceRef): Promise<SnapshotInfo | undefined> {
    return this.inner.describeSnapshot(ref);
  }

  async deleteSnapshot(ref: ResourceRef, options?: CallOptions): Promise<void> {
    // moto refuses to delete an image's snapshot itself (InvalidSnapshot.InUse), but not in a dry run.
    if (options?.dryRun === true) await this.check(options, 'snapshot', ref.id, () => this.inner.describeSnapshot(ref), snapshotDeletionViolation);
    return this.inner.deleteSnapshot(ref, options);
  }

  // ── Addresses ──

  describeAddress(ref: ResourceRef): Promise<AddressInfo | undefined> {
    return this.inner.describeAddress(ref);
  }

  async releaseAddress(ref: ResourceRef, options?: CallOptions): Promise<void> {
    await this.check(options, 'address', ref.id, () => this.inner.describeAddress(ref), addressReleaseViolation);
    return this.inner.releaseAddress(ref, options);
  }

  allocateAddress(request: AllocateAddressRequest, options?: CallOptions): Promise<AddressInfo> {
    return this.inner.allocateAddress(request, options);
  }

  describeInstanceTypeOffering(scope: AccountRegion, instanceType: string, availabilityZone?: string): Promise<InstanceTypeOfferingInfo | undefined> {
    return this.inner.describeInstanceTypeOffering(scope, instanceType, availabilityZone);
  }

  // ── Reserved Instances ──

  describeReservedInstancesOffering(ref: ResourceRef): Promise<ReservedInstancesOfferingInfo | undefined> {
    return this.inner.describeReservedInstancesOffering(ref);
  }

  async purchaseReservedInstancesOffering(
    request: { accountId: string; region: string; offeringId: string; instanceCount: number; limitPrice?: number },
    options?: CallOptions,
  ): Promise<{ reservedInstancesId: string }> {
    const ref = { accountId: request.accountId, region: request.region, id: request.offeringId };
    await this.check(options, 'reserved-instances-offering', request.offeringId, () => this.inner.describeReservedInstancesOffering(ref), (o) => reservedInstancesPurchaseViolation(o, request));
    return this.inner.purchaseReservedInstancesOffering(request, options);
  }

  findReservedInstances(scope: AccountRegion, query: { instanceType: string; startedAtOrAfter: Date }): Promise<ReservedInstancesInfo[]> {
    return this.inner.findReservedInstances(scope, query);
  }

  createReservedInstancesListing(
    request: { accountId: string; region: string; reservedInstancesId: string; instanceCount: number; price: number },
    options?: CallOptions,
  ): Promise<{ listingId: string }> {
    return this.inner.createReservedInstancesListing(request, options);
  }

  // ── Machinery ──

  /**
   * Reads the resource and applies `rule`. A missing resource fails a dry run with its `*.NotFound` code (moto's
   * dry run does not look); a real call goes through, for moto to answer its own `*.NotFound`.
   */
  private async check<T>(options: CallOptions | undefined, kind: Ec2ResourceKind, id: string, read: () => Promise<T | undefined>, rule: (resource: T) => Ec2Violation | undefined): Promise<void> {
    const resource = await read();
    if (resource === undefined) {
      if (options?.dryRun === true) throw refusal(notFoundViolation(kind, id));
      return;
    }
    enforce(rule(resource));
  }
}

function refusal(violation: Ec2Violation) {
  return ec2Error(violation.code, violation.message);
}

function enforce(violation: Ec2Violation | undefined): void {
  if (violation !== undefined) throw refusal(violation);
}
