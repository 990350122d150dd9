import { SpanKind } from '@opentelemetry/api';
import {
  Ec2Error,
  inSpan,
  tracingEnabled,
  type AccountRegion,
  type AddressInfo,
  type AllocateAddressRequest,
  type CallOptions,
  type CreateVolumeRequest,
  type Ec2Gateway,
  type InstanceInfo,
  type InstanceTypeOfferingInfo,
  type ReservedInstancesInfo,
  type ReservedInstancesOfferingInfo,
  type ResourceRef,
  type SnapshotInfo,
  type VolumeInfo,
} from '@optex/ports';
import { API_ACTION_OF, type FleetOperation } from '../simulated/operations';

/**
 * An {@link Ec2Gateway} that runs every call in an OpenTelemetry client span, a child of the active span (the executor's
 * or validator's handling of the optimization's event), named `EC2 <Action>` (the API action the call sends, e.g.
 * `EC2 ModifyVolume`; waiters and client-token lookups name the `Describe…` they poll). Attributes: `rpc.system`
 * `aws-api`, `rpc.service` `EC2`, `rpc.method` (the API action, e.g. `ModifyVolume`), `aws.ec2.operation` (the gateway
 * method, e.g. `modifyVolume`), `cloud.account.id`,
 * `cloud.region`, `aws.ec2.resource_id` (the resource the call is about, or the one it created), `aws.ec2.dry_run`,
 * `aws.ec2.result` (`ok`, `not-found` for a describe that found nothing, `dry-run-ok`, `error`) and, on a failure,
 * `aws.ec2.error_code` (the AWS code, e.g. `IncorrectInstanceState`). A failure marks the span as an error, except
 * `DryRunOperation` (a dry run that would have succeeded). With tracing off, each call goes straight to the inner gateway.
 */
export class TracedEc2Gateway implements Ec2Gateway {
  constructor(readonly inner: Ec2Gateway) {}

  private call<T>(operation: FleetOperation, scope: AccountRegion, resourceId: string | undefined, options: CallOptions | undefined, send: () => Promise<T>, createdId?: (result: T) => string | undefined): Promise<T> {
    if (!tracingEnabled()) return send();
    const action = API_ACTION_OF[operation];
    const attributes: Record<string, string | boolean> = {
      'rpc.system': 'aws-api',
      'rpc.service': 'EC2',
      'rpc.method': action,
      'aws.ec2.operation': operation,
      'cloud.account.id': scope.accountId,
      'cloud.region': scope.region,
      'aws.ec2.dry_run': options?.dryRun === true,
    };
    if (resourceId !== undefined) attributes['aws.ec2.resource_id'] = resourceId;
    return inSpan(`EC2 ${action}`, { kind: SpanKind.CLIENT, attributes }, async (span): Promise<{ result: T } | { dryRunPassed: unknown }> => {
      try {
        const result = await send();
        const created = createdId?.(result);
        if (created !== undefined) span?.setAttribute('aws.ec2.resource_id', created);
        span?.setAttribute('aws.ec2.result', result === undefined && operation.startsWith('describe') ? 'not-found' : 'ok');
        return { result };
      } catch (error) {
        const code = error instanceof Ec2Error ? error.awsCode : undefined;
        if (code !== undefined) span?.setAttribute('aws.ec2.error_code', code);
        // A dry run that would have succeeded: not a failure of the span; the error still goes to the caller.
        if (code === 'DryRunOperation') {
          span?.setAttribute('aws.ec2.result', 'dry-run-ok');
          return { dryRunPassed: error };
        }
        span?.setAttribute('aws.ec2.result', 'error');
        throw error;
      }
    }).then((outcome) => {
      if ('dryRunPassed' in outcome) throw outcome.dryRunPassed;
      return outcome.result;
    });
  }

  describeInstance(ref: ResourceRef): Promise<InstanceInfo | undefined> {
    return this.call('describeInstance', ref, ref.id, undefined, () => this.inner.describeInstance(ref));
  }
  stopInstance(ref: ResourceRef, options?: CallOptions): Promise<void> {
    return this.call('stopInstance', ref, ref.id, options, () => this.inner.stopInstance(ref, options));
  }
  startInstance(ref: ResourceRef, options?: CallOptions): Promise<void> {
    return this.call('startInstance', ref, ref.id, options, () => this.inner.startInstance(ref, options));
  }
  modifyInstanceType(ref: ResourceRef, instanceType: string, options?: CallOptions): Promise<void> {
    return this.call('modifyInstanceType', ref, ref.id, options, () => this.inner.modifyInstanceType(ref, instanceType, options));
  }
  waitForInstanceState(ref: ResourceRef, state: 'running' | 'stopped', timeoutMs: number): Promise<void> {
    return this.call('waitForInstanceState', ref, ref.id, undefined, () => this.inner.waitForInstanceState(ref, state, timeoutMs));
  }
  describeVolume(ref: ResourceRef): Promise<VolumeInfo | undefined> {
    return this.call('describeVolume', ref, ref.id, undefined, () => this.inner.describeVolume(ref));
  }
  modifyVolume(ref: ResourceRef, target: { volumeType: string; iops?: number; throughput?: number }, options?: CallOptions): Promise<void> {
    return this.call('modifyVolume', ref, ref.id, options, () => this.inner.modifyVolume(ref, target, options));
  }
  deleteVolume(ref: ResourceRef, options?: CallOptions): Promise<void> {
    return this.call('deleteVolume', ref, ref.id, options, () => this.inner.deleteVolume(ref, options));
  }
  createVolume(request: CreateVolumeRequest, options?: CallOptions): Promise<{ volumeId: string }> {
    return this.call('createVolume', request, request.snapshotId, options, () => this.inner.createVolume(request, options), (r) => r.volumeId);
  }
  findSnapshotByClientToken(scope: AccountRegion, clientToken: string): Promise<SnapshotInfo | undefined> {
    return this.call('findSnapshotByClientToken', scope, undefined, undefined, () => this.inner.findSnapshotByClientToken(scope, clientToken), (r) => r?.id);
  }
  findVolumeByClientToken(scope: AccountRegion, clientToken: string): Promise<VolumeInfo | undefined> {
    return this.call('findVolumeByClientToken', scope, undefined, undefined, () => this.inner.findVolumeByClientToken(scope, clientToken), (r) => r?.id);
  }
  findAddressByClientToken(scope: AccountRegion, clientToken: string): Promise<AddressInfo | undefined> {
    return this.call('findAddressByClientToken', scope, undefined, undefined, () => this.inner.findAddressByClientToken(scope, clientToken), (r) => r?.allocationId);
  }
  createSnapshot(volume: ResourceRef, request: { description: string; tags: Readonly<Record<string, string>> }, options?: CallOptions): Promise<{ snapshotId: string }> {
    return this.call('createSnapshot', volume, volume.id, options, () => this.inner.createSnapshot(volume, request, options));
  }
  waitForSnapshotCompleted(ref: ResourceRef, timeoutMs: number): Promise<void> {
    return this.call('waitForSnapshotCompleted', ref, ref.id, undefined, () => this.inner.waitForSnapshotCompleted(ref, timeoutMs));
  }
  describeSnapshot(ref: ResourceRef): Promise<SnapshotInfo | undefined> {
    return this.call('describeSnapshot', ref, ref.id, undefined, () => this.inner.describeSnapshot(ref));
  }
  deleteSnapshot(ref: ResourceRef, options?: CallOptions): Promise<void> {
    return this.call('deleteSnapshot', ref, ref.id, options, () => this.inner.deleteSnapshot(ref, options));
  }
  describeAddress(ref: ResourceRef): Promise<AddressInfo | undefined> {
    return this.call('describeAddress', ref, ref.id, undefined, () => this.inner.describeAddress(ref));
  }
  releaseAddress(ref: ResourceRef, options?: CallOptions): Promise<void> {
    return this.call('releaseAddress', ref, ref.id, options, () => this.inner.releaseAddress(ref, options));
  }
  allocateAddress(request: AllocateAddressRequest, options?: CallOptions): Promise<AddressInfo> {
    return this.call('allocateAddress', request, undefined, options, () => this.inner.allocateAddress(request, options), (r) => r.allocationId);
  }
  describeInstanceTypeOffering(scope: AccountRegion, instanceType: string, availabilityZone?: string): Promise<InstanceTypeOfferingInfo | undefined> {
    return this.call('describeInstanceTypeOffering', scope, undefined, undefined, () => this.inner.describeInstanceTypeOffering(scope, instanceType, availabilityZone));
  }
  describeReservedInstancesOffering(ref: ResourceRef): Promise<ReservedInstancesOfferingInfo | undefined> {
    return this.call('describeReservedInstancesOffering', ref, ref.id, undefined, () => this.inner.describeReservedInstancesOffering(ref));
  }
  purchaseReservedInstancesOffering(
    request: { accountId: string; region: string; offeringId: string; instanceCount: number; limitPrice?: number },
    options?: CallOptions,
  ): Promise<{ reservedInstancesId: string }> {
    return this.call('purchaseReservedInstancesOffering', request, request.offeringId, options, () => this.inner.purchaseReservedInstancesOffering(request, options), (r) => r.reservedInstancesId);
  }
  findReservedInstances(scope: AccountRegion, query: { instanceType: string; startedAtOrAfter: Date }): Promise<ReservedInstancesInfo[]> {
    return this.call('findReservedInstances', scope, undefined, undefined, () => this.inner.findReservedInstances(scope, query));
  }
  createReservedInstancesListing(request: { accountId: string; region: string; reservedInstancesId: string; instanceCount: number; price: number }, options?: CallOptions): Promise<{ listingId: string }> {
    return this.call('createReservedInstancesListing', request, request.reservedInstancesId, options, () => this.inner.createReservedInstancesListing(request, options), (r) => r.listingId);
  }
}
