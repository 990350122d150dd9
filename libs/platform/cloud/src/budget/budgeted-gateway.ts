import type {
  AccountRegion,
  AddressInfo,
  AllocateAddressRequest,
  CallOptions,
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
import { API_ACTION_OF } from '../simulated/operations';
import type { Ec2ApiBudget } from './ec2-api-budget';

/**
 * An {@link Ec2Gateway} that spends a token of optex's {@link Ec2ApiBudget} before each call, from the bucket of the
 * EC2 API action the call sends (`API_ACTION_OF`, the map the simulated fleet throttles by too), so optex never sends a call it has no token for. A waiter (`waitFor…`) spends one
 * token before it starts; the AWS adapter's waiter then polls `Describe…` every few seconds on its own, which this
 * decorator does not see (the non-mutating bucket, 100 tokens refilled 20 a second by default, is not what limits).
 */
export class BudgetedEc2Gateway implements Ec2Gateway {
  constructor(
    readonly inner: Ec2Gateway,
    private readonly budget: Ec2ApiBudget,
  ) {}

  // A call that may change something asks `options.beforeSend` once its token is spent: it may have waited for it
  // (behind other calls, for the bucket to refill), and what held it meanwhile (the kill switch) holds it still.
  private async spend(scope: AccountRegion, action: string): Promise<void> {
    await this.budget.spend({ accountId: scope.accountId, region: scope.region }, action);
  }

  async describeInstance(ref: ResourceRef): Promise<InstanceInfo | undefined> {
    await this.spend(ref, API_ACTION_OF.describeInstance);
    return this.inner.describeInstance(ref);
  }
  async stopInstance(ref: ResourceRef, options?: CallOptions): Promise<void> {
    await this.spend(ref, API_ACTION_OF.stopInstance);
    await options?.beforeSend?.();
    return this.inner.stopInstance(ref, options);
  }
  async startInstance(ref: ResourceRef, options?: CallOptions): Promise<void> {
    await this.spend(ref, API_ACTION_OF.startInstance);
    await options?.beforeSend?.();
    return this.inner.startInstance(ref, options);
  }
  async modifyInstanceType(ref: ResourceRef, instanceType: string, options?: CallOptions): Promise<void> {
    await this.spend(ref, API_ACTION_OF.modifyInstanceType);
    await options?.beforeSend?.();
    return this.inner.modifyInstanceType(ref, instanceType, options);
  }
  async waitForInstanceState(ref: ResourceRef, state: 'running' | 'stopped', timeoutMs: number): Promise<void> {
    await this.spend(ref, API_ACTION_OF.waitForInstanceState);
    return this.inner.waitForInstanceState(ref, state, timeoutMs);
  }
  async describeVolume(ref: ResourceRef): Promise<VolumeInfo | undefined> {
    await this.spend(ref, API_ACTION_OF.describeVolume);
    return this.inner.describeVolume(ref);
  }
  async modifyVolume(ref: ResourceRef, target: { volumeType: string; iops?: number; throughput?: number }, options?: CallOptions): Promise<void> {
    await this.spend(ref, API_ACTION_OF.modifyVolume);
    await options?.beforeSend?.();
    return this.inner.modifyVolume(ref, target, options);
  }
  async deleteVolume(ref: ResourceRef, options?: CallOptions): Promise<void> {
    await this.spend(ref, API_ACTION_OF.deleteVolume);
    await options?.beforeSend?.();
    return this.inner.deleteVolume(ref, options);
  }
  async createVolume(request: CreateVolumeRequest, options?: CallOptions): Promise<{ volumeId: string }> {
    await this.spend(request, API_ACTION_OF.createVolume);
    await options?.beforeSend?.();
    return this.inner.createVolume(request, options);
  }
  async findSnapshotByClientToken(scope: AccountRegion, clientToken: string): Promise<SnapshotInfo | undefined> {
    await this.spend(scope, API_ACTION_OF.findSnapshotByClientToken);
    return this.inner.findSnapshotByClientToken(scope, clientToken);
  }
  async findVolumeByClientToken(scope: AccountRegion, clientToken: string): Promise<VolumeInfo | undefined> {
    await this.spend(scope, API_ACTION_OF.findVolumeByClientToken);
    return this.inner.findVolumeByClientToken(scope, clientToken);
  }
  async findAddressByClientToken(scope: AccountRegion, clientToken: string): Promise<AddressInfo | undefined> {
    await this.spend(scope, API_ACTION_OF.findAddressByClientToken);
    return this.inner.findAddressByClientToken(scope, clientToken);
  }
  async createSnapshot(volume: ResourceRef, request: { description: string; tags: Readonly<Record<string, string>> }, options?: CallOptions): Promise<{ snapshotId: string }> {
    await this.spend(volume, API_ACTION_OF.createSnapshot);
    await options?.beforeSend?.();
    return this.inner.createSnapshot(volume, request, options);
  }
  async waitForSnapshotCompleted(ref: ResourceRef, timeoutMs: number): Promise<void> {
    await this.spend(ref, API_ACTION_OF.waitForSnapshotCompleted);
    return this.inner.waitForSnapshotCompleted(ref, timeoutMs);
  }
  async describeSnapshot(ref: ResourceRef): Promise<SnapshotInfo | undefined> {
    await this.spend(ref, API_ACTION_OF.describeSnapshot);
    return this.inner.describeSnapshot(ref);
  }
  async deleteSnapshot(ref: ResourceRef, options?: CallOptions): Promise<void> {
    await this.spend(ref, API_ACTION_OF.deleteSnapshot);
    await options?.beforeSend?.();
    return this.inner.deleteSnapshot(ref, options);
  }
  async describeAddress(ref: ResourceRef): Promise<AddressInfo | undefined> {
    await this.spend(ref, API_ACTION_OF.describeAddress);
    return this.inner.describeAddress(ref);
  }
  async releaseAddress(ref: ResourceRef, options?: CallOptions): Promise<void> {
    await this.spend(ref, API_ACTION_OF.releaseAddress);
    await options?.beforeSend?.();
    return this.inner.releaseAddress(ref, options);
  }
  async allocateAddress(request: AllocateAddressRequest, options?: CallOptions): Promise<AddressInfo> {
    await this.spend(request, API_ACTION_OF.allocateAddress);
    await options?.beforeSend?.();
    return this.inner.allocateAddress(request, options);
  }
  async describeInstanceTypeOffering(scope: AccountRegion, instanceType: string, availabilityZone?: string): Promise<InstanceTypeOfferingInfo | undefined> {
    await this.spend(scope, API_ACTION_OF.describeInstanceTypeOffering);
    return this.inner.describeInstanceTypeOffering(scope, instanceType, availabilityZone);
  }
  async describeReservedInstancesOffering(ref: ResourceRef): Promise<ReservedInstancesOfferingInfo | undefined> {
    await this.spend(ref, API_ACTION_OF.describeReservedInstancesOffering);
    return this.inner.describeReservedInstancesOffering(ref);
  }
  async purchaseReservedInstancesOffering(
    request: { accountId: string; region: string; offeringId: string; instanceCount: number; limitPrice?: number },
    options?: CallOptions,
  ): Promise<{ reservedInstancesId: string }> {
    await this.spend(request, API_ACTION_OF.purchaseReservedInstancesOffering);
    await options?.beforeSend?.();
    return this.inner.purchaseReservedInstancesOffering(request, options);
  }
  async findReservedInstances(scope: AccountRegion, query: { instanceType: string; startedAtOrAfter: Date }): Promise<ReservedInstancesInfo[]> {
    await this.spend(scope, API_ACTION_OF.findReservedInstances);
    return this.inner.findReservedInstances(scope, query);
  }
  async createReservedInstancesListing(
    request: { accountId: string; region: string; reservedInstancesId: string; instanceCount: number; price: number },
    options?: CallOptions,
  ): Promise<{ listingId: string }> {
    await this.spend(request, API_ACTION_OF.createReservedInstancesListing);
    await options?.beforeSend?.();
    return this.inner.createReservedInstancesListing(request, options);
  }
}
