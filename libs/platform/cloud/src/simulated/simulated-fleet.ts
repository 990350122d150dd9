import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import {
  addressRecoveryViolation,
  addressReleaseViolation,
  gp2Iops,
  instanceTypeChangeViolation,
  knownToEc2,
  notFoundViolation,
  reservedInstancesListingViolation,
  reservedInstancesPurchaseViolation,
  snapshotCreationViolation,
  snapshotDeletionViolation,
  startInstanceViolation,
  stopInstanceViolation,
  tagLimitViolation,
  volumeCreationViolation,
  volumeDeletionViolation,
  volumeModificationViolation,
  volumePerformance,
  VOLUME_MODIFICATION_COOLDOWN_MS,
  type Ec2ResourceKind,
  type Ec2Violation,
  type VolumePerformance,
  type PerformanceFigures,
  AWS_EC2_BUCKETS,
  EC2_BUCKETS,
  bucketOf,
  takeToken,
  type BucketFigures,
  type BucketState,
  type Ec2Bucket,
} from '@optex/domain';
import {
  CLIENT_TOKEN_TAG,
  ec2Error,
  systemClock,
  TRANSIENT_EC2_CODES,
  type AccountRegion,
  type AddressInfo,
  type AllocateAddressRequest,
  type CallOptions,
  type Clock,
  type CloudIdentity,
  type CreateVolumeRequest,
  type Ec2Error,
  type Ec2Gateway,
  type InstanceInfo,
  type InstanceTypeOfferingInfo,
  type MetricsSource,
  type ReservedInstancesInfo,
  type ReservedInstancesOfferingInfo,
  type ResourceRef,
  type SnapshotInfo,
  type VolumeInfo,
} from '@optex/ports';
import {
  FleetFileError,
  parseFleetFile,
  parseFleetState,
  validateFleet,
  validateFleetState,
  type FleetFile,
  type FleetState,
  type InstanceRecord,
  type SnapshotRecord,
  type VolumeRecord,
} from './fleet-schema';
import { vcpusOf } from './instance-types';
import { API_ACTION_OF, normalizeOperation, type FleetOperation } from './operations';
import { MemoryStateStore, SqliteStateStore, type FleetCall, type StateStore } from './state-store';

/** How long EC2 makes you wait between two modifications of the same volume (the domain's EC2 rule, re-exported). */
export { VOLUME_MODIFICATION_COOLDOWN_MS };

/** Tag that makes every DryRun call on the tagged resource fail with `UnauthorizedOperation`. */
export const DRY_RUN_UNAUTHORIZED_TAG = 'optex:dry-run-unauthorized';

/** First addresses handed out by `allocateAddress` (TEST-NET-2, reserved for documentation). */
const ADDRESS_POOL_PREFIX = '198.51.100.';

export interface SimulatedFleetOptions {
  /** Where time comes from (the 6-hour volume modification rule, timestamps). @defaultValue `systemClock` */
  readonly clock?: Clock;
  /** Every call waits this long before acting, to make multi-step executions take time. @defaultValue 0 */
  readonly latencyMs?: number;
  /**
   * Throttle as EC2 does: these figures per bucket (AWS's defaults for the others), per account and region, on the
   * fleet's clock; a call finding its bucket empty fails `RequestLimitExceeded` (logged). Absent: no throttling.
   * `open` takes them from the fleet file's `apiLimits`.
   */
  readonly apiLimits?: Readonly<Partial<Record<Ec2Bucket, BucketFigures>>>;
}

export interface OpenSimulatedFleetOptions extends SimulatedFleetOptions {
  /** The fleet file (JSON, see examples/README.md). Read, never written. */
  readonly fleetFile: string;
  /**
   * Where the fleet's state persists: a SQLite file (see {@link SqliteStateStore}). The first open copies the
   * fleet file there; later opens load it, so successive processes see earlier effects. Every call writes the
   * rows it changed and its call-log entry in one transaction before it resolves. Without it the fleet (and its
   * call log) lives in memory. See {@link stateFileFor}.
   */
  readonly statePath?: string;
}

/** What a call is about: its account and region, and the resource id faults and the call log name it by. */
interface CallTarget {
  readonly accountId: string;
  readonly region: string;
  readonly id: string;
}

interface CallContext {
  readonly state: FleetState;
  readonly now: Date;
}

function inScope(record: { accountId: string; region: string }, ref: { accountId: string; region: string }): boolean {
  return record.accountId === ref.accountId && record.region === ref.region;
}

/** Whether `zone` is one of `region`'s (`us-east-1a`, or a Local Zone such as `us-east-1-bos-1a`). */
function isZoneOf(zone: string, region: string): boolean {
  return zone.startsWith(region) && /^(-[a-z0-9-]+)?[a-z]$/.test(zone.slice(region.length));
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

function initialState(fleet: FleetFile, fleetSha256?: string): FleetState {
  const { apiLimits: _limits, ...resources } = fleet; // configuration of the simulator, not state
  return {
    ...structuredClone(resources),
    simulator: {
      version: 1,
      ...(fleetSha256 !== undefined ? { fleetSha256 } : {}),
      counters: { snapshot: 0, volume: 0, address: 0, reservedInstances: 0, listing: 0 },
      reservedInstances: [],
      listings: [],
      releasedAddresses: [],
    },
  };
}

/** `tags` plus {@link CLIENT_TOKEN_TAG} = the call's client token, when it has one (a copy either way). */
function withClientToken(tags: Readonly<Record<string, string>> | undefined, options: CallOptions | undefined): Record<string, string> {
  return { ...(tags ?? {}), ...(options?.clientToken !== undefined ? { [CLIENT_TOKEN_TAG]: options.clientToken } : {}) };
}

/**
 * The state an earlier optex kept as a JSON file beside the store (`events.db.fleet.json`, rewritten whole per
 * call), when `statePath` is its SQLite successor (`events.db.fleet.db`) and that file exists: a new state file
 * starts from it, so an upgrade keeps the effects of earlier commands. The JSON file is left as it is.
 */
function legacyState(statePath: string): FleetState | undefined {
  if (!statePath.endsWith('.fleet.db')) return undefined;
  const legacy = `${statePath.slice(0, -'.db'.length)}.json`;
  return existsSync(legacy) ? parseFleetState(readFileSync(legacy, 'utf8'), legacy) : undefined;
}

const round2 = (value: number): number => Math.round(value * 100) / 100;

/** A running instance's current performance figures, each only when the fleet has it (status checks pass unless it says otherwise). */
function figuresOf(instance: InstanceRecord): PerformanceFigures {
  return {
    ...(instance.cpuP95 !== undefined ? { cpuP95: instance.cpuP95 } : {}),
    ...(instance.memoryUsedPct !== undefined ? { memoryUsedPct: instance.memoryUsedPct } : {}),
    ...(instance.networkInBytesPerSec !== undefined ? { networkInBytesPerSec: instance.networkInBytesPerSec } : {}),
    ...(instance.networkOutBytesPerSec !== undefined ? { networkOutBytesPerSec: instance.networkOutBytesPerSec } : {}),
    statusChecksPassed: instance.statusChecksPassed ?? true,
  };
}

/**
 * A simulated EC2 fleet over a JSON fleet file: an {@link Ec2Gateway} that enforces EC2's rules with
 * AWS's error codes, and the {@link MetricsSource} that goes with it.
 *
 * - Every rule is the domain's (`@optex/domain` `ec2-rules.ts`: `*Violation` functions); this class only finds the
 *   resources, applies those rules and performs the effect. Among them, at most 50 tags on what CreateVolume or
 *   CreateSnapshot creates, the client token's tag counted (TagLimitExceeded). A missing resource fails with its
 *   `*.NotFound` code; `describe*` resolve to `undefined` instead.
 * - Resources belong to an account and region; a ref naming another one does not find them.
 *   Reserved Instances offerings belong to a region only.
 * - State changes are immediate (a stop leaves the instance `stopped`, a volume modification is `completed`
 *   at once and starts the 6-hour cool-down); waiters check the state and fail with `WaiterTimeout` when it is
 *   not the one awaited.
 * - `faults` in the file make an operation on a resource fail with an error code a number of times,
 *   each failure consuming one (persistently).
 * - A dry run (`{dryRun: true}`) performs every check a real call would, in the same order — throttling, faults,
 *   existence, state and EC2's rules — plus the permission check (the fleet's `dryRunUnauthorized` before existence,
 *   the resource's {@link DRY_RUN_UNAUTHORIZED_TAG} tag after it), and only then fails with `DryRunOperation`; it
 *   changes no resource. A fault fails a dry run as it fails a real call. A
 *   dry run consumes one of the fault's `times` only when the fault's code is transient (throttling, 5xx: it
 *   happens to the request, and retries must get past it as they would for a real call); a rejection
 *   (`UnauthorizedOperation`, `Unsupported`, …) is not consumed, so the real call after a dry run meets it too, as
 *   it would meet a missing permission in EC2.
 * - One exception, for a dry-run rightsize (whose stop was itself a dry run and left the instance running): a dry
 *   run of `modifyInstanceType` judges a `running`/`stopping` instance as the stop would have left it.
 */
export class SimulatedFleet implements Ec2Gateway, MetricsSource, CloudIdentity {
  private readonly clock: Clock;
  private readonly latencyMs: number;
  /** The fleet file's `accountId`: the simulated credentials' account, when it declares one. */
  private readonly accountId: string | undefined;

  private constructor(
    private readonly store: StateStore,
    options: SimulatedFleetOptions,
  ) {
    this.clock = options.clock ?? systemClock;
    this.latencyMs = options.latencyMs ?? 0;
    if (!Number.isFinite(this.latencyMs) || this.latencyMs < 0) throw new RangeError(`latencyMs: expected a number ≥ 0, got ${options.latencyMs}`);
    this.accountId = store.current().accountId;
    this.apiLimits = options.apiLimits ? (Object.fromEntries(EC2_BUCKETS.map((b) => [b, options.apiLimits?.[b] ?? AWS_EC2_BUCKETS[b]])) as Record<Ec2Bucket, BucketFigures>) : undefined;
  }

  /** The figures the fleet throttles with (every bucket), or `undefined` when it does not throttle. */
  readonly apiLimits: Readonly<Record<Ec2Bucket, BucketFigures>> | undefined;
  private readonly buckets = new Map<string, BucketState>();

  /** EC2's throttling: spends a token of the call's bucket, or fails `RequestLimitExceeded` when there is none. */
  private throttle(operation: FleetOperation, target: CallTarget, now: Date): void {
    if (!this.apiLimits) return;
    const bucket = bucketOf(API_ACTION_OF[operation]);
    const key = `${target.accountId}/${target.region}/${bucket}`;
    const result = takeToken(this.buckets.get(key), this.apiLimits[bucket], now.getTime());
    this.buckets.set(key, result.state);
    if (!result.granted) throw ec2Error('RequestLimitExceeded', `Request limit exceeded (${bucket} bucket of ${target.accountId}/${target.region}).`);
  }

  /** The `accountId` the fleet file declares (the simulated STS answer), or `undefined` when it declares none. */
  async credentialsAccountId(): Promise<string | undefined> {
    return this.accountId;
  }

  /**
   * Opens the fleet described by `fleetFile`, persisted at `statePath` when given.
   * Fails with {@link FleetFileError} naming the file and field when the fleet file (or the state
   * file) is invalid, or when the state file was copied from a different fleet file.
   */
  static async open(options: OpenSimulatedFleetOptions): Promise<SimulatedFleet> {
    let text: string;
    try {
      text = readFileSync(options.fleetFile, 'utf8');
    } catch (error) {
      throw new FleetFileError(options.fleetFile, [{ path: '', message: `cannot read the fleet file (${(error as Error).message})` }]);
    }
    const fleet = parseFleetFile(text, options.fleetFile);
    if (options.statePath !== undefined && resolve(options.statePath) === resolve(options.fleetFile)) {
      throw new FleetFileError(options.fleetFile, [{ path: '', message: 'the state file must not be the fleet file itself (the fleet file is never rewritten)' }]);
    }
    const digest = sha256(text);
    if (fleet.apiLimits && !options.apiLimits) options = { ...options, apiLimits: fleet.apiLimits };
    if (options.statePath === undefined) return new SimulatedFleet(new MemoryStateStore(initialState(fleet, digest)), options);
    let store: SqliteStateStore;
    try {
      store = SqliteStateStore.open(options.statePath, () => legacyState(options.statePath!) ?? initialState(fleet, digest));
    } catch (error) {
      if (error instanceof FleetFileError) throw error;
      throw new FleetFileError(options.statePath, [{ path: '', message: `cannot open the fleet state (${(error as Error).message})` }]);
    }
    const copiedFrom = store.current().simulator.fleetSha256;
    if (copiedFrom !== undefined && copiedFrom !== digest) {
      store.close();
      throw new FleetFileError(options.statePath, [
        {
          path: 'simulator.fleetSha256',
          message: `this state was copied from a different fleet file than ${options.fleetFile} (changed since?); delete the state file, or use a fresh store, to start again from ${options.fleetFile}`,
        },
      ]);
    }
    return new SimulatedFleet(store, options);
  }

  /**
   * An in-memory fleet from an already parsed fleet, or from another fleet's {@link snapshot}
   * (validated like a file; `name` labels errors).
   */
  static fromFleet(fleet: unknown, options: SimulatedFleetOptions & { readonly name?: string } = {}): SimulatedFleet {
    const name = options.name ?? 'fleet';
    const isState = typeof fleet === 'object' && fleet !== null && 'simulator' in fleet;
    const file = isState ? undefined : validateFleet(fleet, name);
    const state = file ? initialState(file) : validateFleetState(fleet, name);
    return new SimulatedFleet(new MemoryStateStore(state), file?.apiLimits && !options.apiLimits ? { ...options, apiLimits: file.apiLimits } : options);
  }

  /** A copy of the fleet as it is now (fleet-file format plus the simulator's bookkeeping). */
  snapshot(): FleetState {
    return structuredClone(this.store.current());
  }

  /** Every EC2 call this fleet answered (from its store: across processes when persisted), oldest first. */
  calls(): FleetCall[] {
    return this.store.calls();
  }

  /** Closes the state file, if any; the fleet is unusable afterwards. */
  close(): void {
    this.store.close();
  }

  // ── Instances ──

  async describeInstance(ref: ResourceRef): Promise<InstanceInfo | undefined> {
    return this.read('describeInstance', ref, ({ state }) => {
      const instance = this.findInstance(state, ref);
      return instance && this.instanceInfo(instance);
    });
  }

  async stopInstance(ref: ResourceRef, options?: CallOptions): Promise<void> {
    return this.mutate('stopInstance', ref, options, ({ state }) => {
      const instance = this.requireInstance(state, ref, options);
      enforce(stopInstanceViolation(instance));
      this.dryRunGate(options);
      if (instance.state === 'running') instance.metricsBefore = { until: this.clock.now().toISOString(), ...figuresOf(instance) };
      instance.state = 'stopped';
    });
  }

  async startInstance(ref: ResourceRef, options?: CallOptions): Promise<void> {
    return this.mutate('startInstance', ref, options, ({ state }) => {
      const instance = this.requireInstance(state, ref, options);
      enforce(startInstanceViolation(instance));
      this.dryRunGate(options);
      if (instance.state === 'stopped') instance.state = 'running';
    });
  }

  async modifyInstanceType(ref: ResourceRef, instanceType: string, options?: CallOptions): Promise<void> {
    return this.mutate('modifyInstanceType', ref, options, ({ state }) => {
      const instance = this.requireInstance(state, ref, options);
      // A dry run of a rightsize sends the stop with DryRun too, so the instance is still running here:
      // judge it as the preceding stop would have left it.
      enforce(instanceTypeChangeViolation(instance, instanceType, { knownTypes: this.knownInstanceTypes(state), afterStop: options?.dryRun === true }));
      this.dryRunGate(options);
      const before = instance.instanceType;
      instance.instanceType = instanceType;
      if (instance.cpuP95 !== undefined && before !== instanceType) {
        const vcpusBefore = vcpusOf(before);
        const vcpusAfter = vcpusOf(instanceType);
        if (vcpusBefore !== undefined && vcpusAfter !== undefined) instance.cpuP95 = Math.min(100, round2((instance.cpuP95 * vcpusBefore) / vcpusAfter));
        else delete instance.cpuP95;
      }
    });
  }

  async waitForInstanceState(ref: ResourceRef, state: 'running' | 'stopped', timeoutMs: number): Promise<void> {
    return this.read('waitForInstanceState', ref, ({ state: fleet }) => {
      const instance = this.findInstance(fleet, ref);
      if (!instance) throw this.notFound('instance', ref);
      if (instance.state !== state) {
        throw ec2Error('WaiterTimeout', `Instance ${instance.id} did not reach '${state}' within ${timeoutMs} ms: it is ${instance.state}.`);
      }
    });
  }

  // ── Volumes ──

  async describeVolume(ref: ResourceRef): Promise<VolumeInfo | undefined> {
    return this.read('describeVolume', ref, ({ state }) => {
      const volume = this.findVolume(state, ref);
      return volume && this.volumeInfo(volume);
    });
  }

  async modifyVolume(ref: ResourceRef, target: { volumeType: string; iops?: number; throughput?: number }, options?: CallOptions): Promise<void> {
    return this.mutate('modifyVolume', ref, options, ({ state, now }) => {
      const volume = this.requireVolume(state, ref, options);
      const current = this.volumeInfo(volume);
      enforce(volumeModificationViolation(current, target, now));
      const result = performanceOf(volume.sizeGiB, target, current);
      this.dryRunGate(options);
      volume.volumeType = result.volumeType;
      this.setPerformance(volume, result);
      volume.modificationState = 'completed';
      volume.lastModificationStartedAt = now.toISOString();
    });
  }

  async deleteVolume(ref: ResourceRef, options?: CallOptions): Promise<void> {
    return this.mutate('deleteVolume', ref, options, ({ state }) => {
      const volume = this.requireVolume(state, ref, options);
      enforce(volumeDeletionViolation(volume));
      this.dryRunGate(options);
      state.volumes.splice(state.volumes.indexOf(volume), 1);
    });
  }

  async createVolume(request: CreateVolumeRequest, options?: CallOptions): Promise<{ volumeId: string }> {
    return this.mutate('createVolume', { accountId: request.accountId, region: request.region, id: request.snapshotId ?? '*' }, options, ({ state }) => {
      let source: SnapshotRecord | undefined;
      if (request.snapshotId !== undefined) {
        source = this.findSnapshot(state, { accountId: request.accountId, region: request.region, id: request.snapshotId });
        if (!source) throw this.notFound('snapshot', { ...request, id: request.snapshotId });
        this.authorize(options, source.tags ?? {});
      } else {
        this.authorize(options, request.tags ?? {});
      }
      enforce(volumeCreationViolation(request, source && this.snapshotInfo(source)));
      const tags = withClientToken(request.tags, options);
      enforce(tagLimitViolation(tags));
      const result = performanceOf(request.sizeGiB, request);
      this.dryRunGate(options);
      const volumeId = `vol-sim-${++state.simulator.counters.volume}`;
      const volume: VolumeRecord = {
        id: volumeId,
        accountId: request.accountId,
        region: request.region,
        volumeType: result.volumeType,
        sizeGiB: request.sizeGiB,
        state: 'available',
        availabilityZone: request.availabilityZone,
        tags,
      };
      this.setPerformance(volume, result);
      state.volumes.push(volume);
      return { volumeId };
    });
  }

  // ── Snapshots ──

  async createSnapshot(
    volumeRef: ResourceRef,
    request: { description: string; tags: Readonly<Record<string, string>> },
    options?: CallOptions,
  ): Promise<{ snapshotId: string }> {
    return this.mutate('createSnapshot', volumeRef, options, ({ state }) => {
      const volume = this.requireVolume(state, volumeRef, options);
      enforce(snapshotCreationViolation(volume));
      const tags = withClientToken(request.tags, options);
      enforce(tagLimitViolation(tags));
      this.dryRunGate(options);
      const snapshotId = `snap-sim-${++state.simulator.counters.snapshot}`;
      state.snapshots.push({
        id: snapshotId,
        accountId: volume.accountId,
        region: volume.region,
        sizeGiB: volume.sizeGiB,
        volumeId: volume.id,
        state: 'completed',
        description: request.description,
        tags,
      });
      return { snapshotId };
    });
  }

  async waitForSnapshotCompleted(ref: ResourceRef, timeoutMs: number): Promise<void> {
    return this.read('waitForSnapshotCompleted', ref, ({ state }) => {
      const snapshot = this.findSnapshot(state, ref);
      if (!snapshot) throw this.notFound('snapshot', ref);
      const status = snapshot.state ?? 'completed';
      if (status !== 'completed') {
        throw ec2Error('WaiterTimeout', `Snapshot ${snapshot.id} did not complete within ${timeoutMs} ms: it is ${status}.`);
      }
    });
  }

  async describeSnapshot(ref: ResourceRef): Promise<SnapshotInfo | undefined> {
    return this.read('describeSnapshot', ref, ({ state }) => {
      const snapshot = this.findSnapshot(state, ref);
      return snapshot && this.snapshotInfo(snapshot);
    });
  }

  async deleteSnapshot(ref: ResourceRef, options?: CallOptions): Promise<void> {
    return this.mutate('deleteSnapshot', ref, options, ({ state }) => {
      const snapshot = this.findSnapshot(state, ref);
      if (!snapshot) throw this.notFound('snapshot', ref);
      this.authorize(options, snapshot.tags ?? {});
      enforce(snapshotDeletionViolation(this.snapshotInfo(snapshot)));
      this.dryRunGate(options);
      state.snapshots.splice(state.snapshots.indexOf(snapshot), 1);
    });
  }

  // ── Addresses ──

  async describeAddress(ref: ResourceRef): Promise<AddressInfo | undefined> {
    return this.read('describeAddress', ref, ({ state }) => {
      const address = state.addresses.find((a) => a.allocationId === ref.id && inScope(a, ref));
      return (
        address && {
          allocationId: address.allocationId,
          publicIp: address.publicIp,
          ...(address.associationId !== undefined ? { associationId: address.associationId } : {}),
          ...(address.tags !== undefined && Object.keys(address.tags).length > 0 ? { tags: { ...address.tags } } : {}),
        }
      );
    });
  }

  async releaseAddress(ref: ResourceRef, options?: CallOptions): Promise<void> {
    return this.mutate('releaseAddress', ref, options, ({ state, now }) => {
      const address = state.addresses.find((a) => a.allocationId === ref.id && inScope(a, ref));
      if (!address) throw this.notFound('address', ref);
      this.authorize(options, address.tags ?? {});
      enforce(addressReleaseViolation(address));
      this.dryRunGate(options);
      state.addresses.splice(state.addresses.indexOf(address), 1);
      state.simulator.releasedAddresses.push({
        allocationId: address.allocationId,
        accountId: address.accountId,
        region: address.region,
        publicIp: address.publicIp,
        releasedAt: now.toISOString(),
      });
    });
  }

  async allocateAddress(request: AllocateAddressRequest, options?: CallOptions): Promise<AddressInfo> {
    return this.mutate('allocateAddress', { accountId: request.accountId, region: request.region, id: request.publicIp ?? '*' }, options, ({ state }) => {
      this.authorize(options, request.tags ?? {});
      const inUse = new Set(state.addresses.map((a) => a.publicIp));
      let publicIp = request.publicIp;
      let recovered = -1;
      if (publicIp !== undefined) {
        recovered = state.simulator.releasedAddresses.findIndex((r) => r.publicIp === publicIp && inScope(r, request));
        enforce(addressRecoveryViolation(publicIp, { inUse: inUse.has(publicIp), releasedHere: recovered >= 0 }, `${request.accountId}/${request.region}`));
      } else {
        const released = new Set(state.simulator.releasedAddresses.map((r) => r.publicIp));
        for (let host = 1; host < 255 && publicIp === undefined; host++) {
          const candidate = `${ADDRESS_POOL_PREFIX}${host}`;
          if (!inUse.has(candidate) && !released.has(candidate)) publicIp = candidate;
        }
        if (publicIp === undefined) throw ec2Error('AddressLimitExceeded', 'The simulated address pool is exhausted.');
      }
      const tags = withClientToken(request.tags, options);
      enforce(tagLimitViolation(tags));
      this.dryRunGate(options);
      if (recovered >= 0) state.simulator.releasedAddresses.splice(recovered, 1);
      const allocationId = `eipalloc-sim-${++state.simulator.counters.address}`;
      state.addresses.push({
        allocationId,
        accountId: request.accountId,
        region: request.region,
        publicIp,
        ...(Object.keys(tags).length > 0 ? { tags } : {}),
      });
      return { allocationId, publicIp };
    });
  }

  // ── Instance type offerings ──

  /**
   * Every instance type EC2 knows (the domain's `knownToEc2`: its catalogue, and the types the fleet uses) is offered in
   * every region and zone, except those the fleet file's `instanceTypesNotOffered` lists under `scope.region` or under
   * the zone asked about. A zone outside `scope.region` offers nothing.
   */
  async describeInstanceTypeOffering(scope: AccountRegion, instanceType: string, availabilityZone?: string): Promise<InstanceTypeOfferingInfo | undefined> {
    return this.read('describeInstanceTypeOffering', { ...scope, id: instanceType }, ({ state }) => {
      if (!knownToEc2(instanceType, this.knownInstanceTypes(state))) return undefined;
      if (availabilityZone !== undefined && !isZoneOf(availabilityZone, scope.region)) return undefined;
      const locations = availabilityZone !== undefined ? [scope.region, availabilityZone] : [scope.region];
      if (locations.some((location) => state.instanceTypesNotOffered?.[location]?.includes(instanceType))) return undefined;
      return { instanceType, location: availabilityZone ?? scope.region };
    });
  }

  // ── Reserved Instances ──

  async describeReservedInstancesOffering(ref: ResourceRef): Promise<ReservedInstancesOfferingInfo | undefined> {
    return this.read('describeReservedInstancesOffering', ref, ({ state }) => {
      const offering = state.reservedInstanceOfferings.find((o) => o.offeringId === ref.id && o.region === ref.region);
      return (
        offering && {
          offeringId: offering.offeringId,
          instanceType: offering.instanceType,
          fixedPrice: offering.fixedPrice,
          recurringHourly: offering.recurringHourly,
          durationSeconds: offering.durationSeconds,
        }
      );
    });
  }

  async purchaseReservedInstancesOffering(
    request: { accountId: string; region: string; offeringId: string; instanceCount: number; limitPrice?: number },
    options?: CallOptions,
  ): Promise<{ reservedInstancesId: string }> {
    return this.mutate('purchaseReservedInstancesOffering', { accountId: request.accountId, region: request.region, id: request.offeringId }, options, ({ state, now }) => {
      this.authorize(options, {});
      const offering = state.reservedInstanceOfferings.find((o) => o.offeringId === request.offeringId && o.region === request.region);
      if (!offering) throw refusal(notFoundViolation('reserved-instances-offering', request.offeringId, request.region));
      enforce(reservedInstancesPurchaseViolation(offering, request));
      this.dryRunGate(options);
      const reservedInstancesId = `ri-sim-${++state.simulator.counters.reservedInstances}`;
      state.simulator.reservedInstances.push({
        reservedInstancesId,
        accountId: request.accountId,
        region: request.region,
        offeringId: offering.offeringId,
        instanceType: offering.instanceType,
        instanceCount: request.instanceCount,
        fixedPrice: offering.fixedPrice,
        recurringHourly: offering.recurringHourly,
        durationSeconds: offering.durationSeconds,
        purchasedAt: now.toISOString(),
      });
      return { reservedInstancesId };
    });
  }

  async createReservedInstancesListing(
    request: { accountId: string; region: string; reservedInstancesId: string; instanceCount: number; price: number },
    options?: CallOptions,
  ): Promise<{ listingId: string }> {
    return this.mutate('createReservedInstancesListing', { accountId: request.accountId, region: request.region, id: request.reservedInstancesId }, options, ({ state, now }) => {
      this.authorize(options, {});
      const purchased = state.simulator.reservedInstances.find((r) => r.reservedInstancesId === request.reservedInstancesId && inScope(r, request));
      if (!purchased) throw refusal(notFoundViolation('reserved-instances', request.reservedInstancesId, `${request.accountId}/${request.region}`));
      const listedCount = state.simulator.listings.filter((l) => l.reservedInstancesId === purchased.reservedInstancesId).reduce((sum, l) => sum + l.instanceCount, 0);
      enforce(reservedInstancesListingViolation({ reservedInstancesId: purchased.reservedInstancesId, instanceCount: purchased.instanceCount, listedCount }, request));
      this.dryRunGate(options);
      const listingId = `listing-sim-${++state.simulator.counters.listing}`;
      state.simulator.listings.push({
        listingId,
        accountId: request.accountId,
        region: request.region,
        reservedInstancesId: purchased.reservedInstancesId,
        instanceCount: request.instanceCount,
        price: request.price,
        createdAt: now.toISOString(),
      });
      return { listingId };
    });
  }

  // ── Look-ups by client token (reconciliation after a crash) ──

  async findSnapshotByClientToken(scope: AccountRegion, clientToken: string): Promise<SnapshotInfo | undefined> {
    return this.read('findSnapshotByClientToken', { ...scope, id: clientToken }, ({ state }) => {
      const snapshot = state.snapshots.find((s) => inScope(s, scope) && s.tags?.[CLIENT_TOKEN_TAG] === clientToken);
      return snapshot && this.snapshotInfo(snapshot);
    });
  }

  async findVolumeByClientToken(scope: AccountRegion, clientToken: string): Promise<VolumeInfo | undefined> {
    return this.read('findVolumeByClientToken', { ...scope, id: clientToken }, ({ state }) => {
      const volume = state.volumes.find((v) => inScope(v, scope) && v.tags?.[CLIENT_TOKEN_TAG] === clientToken);
      return volume && this.volumeInfo(volume);
    });
  }

  async findAddressByClientToken(scope: AccountRegion, clientToken: string): Promise<AddressInfo | undefined> {
    return this.read('findAddressByClientToken', { ...scope, id: clientToken }, ({ state }) => {
      const address = state.addresses.find((a) => inScope(a, scope) && a.tags?.[CLIENT_TOKEN_TAG] === clientToken);
      return (
        address && {
          allocationId: address.allocationId,
          publicIp: address.publicIp,
          ...(address.associationId !== undefined ? { associationId: address.associationId } : {}),
        }
      );
    });
  }

  /** Reservations bought here of `instanceType` since `startedAtOrAfter` (their `purchasedAt`), newest first, with the offering they came from. */
  async findReservedInstances(scope: AccountRegion, query: { instanceType: string; startedAtOrAfter: Date }): Promise<ReservedInstancesInfo[]> {
    return this.read('findReservedInstances', { ...scope, id: query.instanceType }, ({ state }) => {
      const from = query.startedAtOrAfter.getTime();
      return state.simulator.reservedInstances
        .filter((r) => inScope(r, scope) && r.instanceType === query.instanceType && Date.parse(r.purchasedAt) >= from)
        .map((r) => ({
          reservedInstancesId: r.reservedInstancesId,
          instanceType: r.instanceType,
          instanceCount: r.instanceCount,
          start: new Date(r.purchasedAt),
          state: 'active',
          offeringId: r.offeringId,
        }))
        .sort((a, b) => b.start.getTime() - a.start.getTime());
    });
  }

  // ── MetricsSource ──

  /** The instance's current `cpuP95` (the window is not used): `0` when stopped, `undefined` when the fleet has no figure or no such instance. */
  async cpuP95(ref: ResourceRef, _window: { from: Date; to: Date }): Promise<number | undefined> {
    await this.delay();
    const instance = this.findInstance(this.store.current(), ref);
    if (!instance) return undefined;
    if (instance.state === 'stopped' || instance.state === 'stopping') return 0;
    return instance.state === 'running' ? instance.cpuP95 : undefined;
  }

  /**
   * The instance's figures over the window: those recorded when it was last stopped (`metricsBefore`) for a window
   * that ends by then, else its current ones while it runs — no data (`{}`) when it does not run, as CloudWatch
   * has none. Memory and network only where the fleet file gives them; status checks as {@link statusChecksPassed}.
   */
  async performance(ref: ResourceRef, window: { from: Date; to: Date }): Promise<PerformanceFigures> {
    await this.delay();
    const instance = this.findInstance(this.store.current(), ref);
    if (!instance) return {};
    const before = instance.metricsBefore;
    if (before && window.to.getTime() <= Date.parse(before.until)) {
      const { until: _until, ...figures } = before;
      return figures;
    }
    return instance.state === 'running' ? figuresOf(instance) : {};
  }

  /** The instance's `statusChecksPassed` when the fleet gives one; else `true` when running, `undefined` otherwise. */
  async statusChecksPassed(ref: ResourceRef, _window: { from: Date; to: Date }): Promise<boolean | undefined> {
    await this.delay();
    const instance = this.findInstance(this.store.current(), ref);
    if (!instance) return undefined;
    if (instance.statusChecksPassed !== undefined) return instance.statusChecksPassed;
    return instance.state === 'running' ? true : undefined;
  }

  // ── Machinery ──

  /** A call that changes nothing: faults apply (a consumed fault is persisted); the call is logged. */
  private async read<T>(operation: FleetOperation, target: CallTarget, body: (context: CallContext) => T): Promise<T> {
    await this.delay();
    return this.perform(operation, target, undefined, false, body);
  }

  /**
   * A call that may change the fleet. `body` checks everything first and mutates last (after
   * {@link dryRunGate}) through the state it is given, which tracks the change: only the rows it changed are
   * written, with the call's log entry, before the call resolves; a failing call's changes are undone.
   */
  private async mutate<T>(operation: FleetOperation, target: CallTarget, options: CallOptions | undefined, body: (context: CallContext) => T): Promise<T> {
    await this.delay();
    return this.perform(operation, target, options, true, (context) => {
      if (options?.dryRun === true && context.state.dryRunUnauthorized === true) throw this.unauthorized();
      return body(context);
    });
  }

  /**
   * Runs one call through the store: the account-region's request budget (throttling), a matching fault (see above),
   * then `body`. The store answers the calls
   * made in one turn of the event loop together (one commit for a file: its class comment).
   */
  private perform<T>(operation: FleetOperation, target: CallTarget, options: CallOptions | undefined, mutating: boolean, body: (context: CallContext) => T): Promise<T> {
    // As the AWS adapter does once it knows its credentials' account: refused before reaching "EC2" (not in the call log).
    if (this.accountId !== undefined && target.accountId !== this.accountId) {
      throw ec2Error('AccountMismatch', `accountId ${target.accountId} is not the account of the fleet's credentials (${this.accountId})`);
    }
    const now = this.clock.now();
    const dryRun = options?.dryRun === true;
    const call = { operation, target, dryRun, mutating, at: now, ...(options?.clientToken !== undefined ? { clientToken: options.clientToken } : {}) };
    return this.store.call(call, ({ state, transaction }) => {
      this.throttle(operation, target, now);
      // A matching fault fails the call, dry runs included (a dry run meets what the real call would). It is
      // consumed (and kept, though the call fails) by a real call, and by a dry run only when its code is transient.
      const fault = state.faults.find(
        (f) => f.times > 0 && normalizeOperation(f.operation) === operation && (f.resourceId === target.id || f.resourceId === '*'),
      );
      if (fault) {
        if (!dryRun || TRANSIENT_EC2_CODES.has(fault.error)) {
          transaction.keep('faults', fault, (f) => {
            f.times -= 1;
          });
        }
        throw ec2Error(fault.error, fault.message ?? `Simulated fault on ${operation} ${target.id}${dryRun ? ' (dry run)' : ''} (${fault.times} more to come).`);
      }
      return body({ state, now });
    });
  }

  private async delay(): Promise<void> {
    if (this.latencyMs > 0) await new Promise((resolve) => setTimeout(resolve, this.latencyMs));
  }

  private authorize(options: CallOptions | undefined, tags: Readonly<Record<string, string>>): void {
    if (options?.dryRun === true && tags[DRY_RUN_UNAUTHORIZED_TAG] === 'true') throw this.unauthorized();
  }

  private unauthorized() {
    return ec2Error('UnauthorizedOperation', 'You are not authorized to perform this operation.');
  }

  /** Every check passed: a dry run stops here. */
  private dryRunGate(options: CallOptions | undefined): void {
    if (options?.dryRun === true) throw dryRunSucceeded();
  }

  private notFound(kind: Ec2ResourceKind, ref: ResourceRef) {
    return refusal(notFoundViolation(kind, ref.id, `${ref.accountId}/${ref.region}`));
  }

  private findInstance(_state: FleetState, ref: ResourceRef): InstanceRecord | undefined {
    return this.store.lookup<InstanceRecord>('instances', ref);
  }

  private requireInstance(state: FleetState, ref: ResourceRef, options: CallOptions | undefined): InstanceRecord {
    const instance = this.findInstance(state, ref);
    if (!instance) throw this.notFound('instance', ref);
    this.authorize(options, instance.tags ?? {});
    return instance;
  }

  private findVolume(_state: FleetState, ref: ResourceRef): VolumeRecord | undefined {
    return this.store.lookup<VolumeRecord>('volumes', ref);
  }

  private requireVolume(state: FleetState, ref: ResourceRef, options: CallOptions | undefined): VolumeRecord {
    const volume = this.findVolume(state, ref);
    if (!volume) throw this.notFound('volume', ref);
    this.authorize(options, volume.tags ?? {});
    return volume;
  }

  private findSnapshot(_state: FleetState, ref: ResourceRef): SnapshotRecord | undefined {
    return this.store.lookup<SnapshotRecord>('snapshots', ref);
  }

  /** Instance types the fleet itself uses (instances and offerings): EC2 knows them by construction. */
  private knownInstanceTypes(state: FleetState): Set<string> {
    return new Set([...state.instances.map((i) => i.instanceType), ...state.reservedInstanceOfferings.map((o) => o.instanceType)]);
  }

  private setPerformance(volume: VolumeRecord, performance: { iops?: number; throughput?: number }): void {
    if (performance.iops !== undefined) volume.iops = performance.iops;
    else delete volume.iops;
    if (performance.throughput !== undefined) volume.throughput = performance.throughput;
    else delete volume.throughput;
  }

  private instanceInfo(instance: InstanceRecord): InstanceInfo {
    return {
      id: instance.id,
      instanceType: instance.instanceType,
      state: instance.state,
      tags: { ...(instance.tags ?? {}) },
      availabilityZone: instance.availabilityZone ?? `${instance.region}a`,
    };
  }

  private volumeInfo(volume: VolumeRecord): VolumeInfo {
    const iops = volume.iops ?? (volume.volumeType === 'gp2' ? gp2Iops(volume.sizeGiB) : undefined);
    return {
      id: volume.id,
      volumeType: volume.volumeType,
      sizeGiB: volume.sizeGiB,
      ...(iops !== undefined ? { iops } : {}),
      ...(volume.throughput !== undefined ? { throughput: volume.throughput } : {}),
      state: volume.state,
      ...(volume.attachedTo !== undefined ? { attachedTo: volume.attachedTo } : {}),
      availabilityZone: volume.availabilityZone ?? `${volume.region}a`,
      tags: { ...(volume.tags ?? {}) },
      ...(volume.modificationState !== undefined ? { modificationState: volume.modificationState } : {}),
      ...(volume.lastModificationStartedAt !== undefined ? { lastModificationStartedAt: new Date(volume.lastModificationStartedAt) } : {}),
    };
  }

  private snapshotInfo(snapshot: SnapshotRecord): SnapshotInfo {
    return {
      id: snapshot.id,
      ...(snapshot.volumeId !== undefined ? { volumeId: snapshot.volumeId } : {}),
      sizeGiB: snapshot.sizeGiB,
      state: snapshot.state ?? 'completed',
      usedByImages: snapshot.usedByImage !== undefined ? [snapshot.usedByImage] : [],
      tags: { ...(snapshot.tags ?? {}) },
    };
  }
}

/** The error EC2 answers a refused call with. */
function refusal(violation: Ec2Violation) {
  return ec2Error(violation.code, violation.message);
}

/** Fails the call with the rule's AWS code when an EC2 rule refuses it. */
function enforce(violation: Ec2Violation | undefined): void {
  if (violation !== undefined) throw refusal(violation);
}

/** The figures a create/modify leaves a volume with (the request already passed the rule that refuses invalid ones). */
function performanceOf(
  sizeGiB: number,
  requested: { volumeType: string; iops?: number; throughput?: number },
  previous?: { volumeType: string; iops?: number; throughput?: number },
): VolumePerformance {
  const result = volumePerformance(sizeGiB, requested, previous);
  if (!result.ok) throw refusal(result.violation);
  return result.performance;
}

/**
 * EC2's answer to a dry run that would have succeeded. It reports success, not a fault, so it is made without a stack
 * trace: capturing one took 20–48 µs of each simulated dry run (`bench:engine --cpu-prof`).
 */
function dryRunSucceeded(): Ec2Error {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return ec2Error('DryRunOperation', 'Request would have succeeded, but DryRun flag is set.');
  } finally {
    Error.stackTraceLimit = limit;
  }
}
