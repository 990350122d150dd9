import {
  EC2_MAX_TAGS,
  addressReleaseViolation,
  instanceTypeOfferingViolation,
  isAwsReservedTagKey,
  reservedInstancesPurchaseViolation,
  snapshotDeletionViolation,
  volumeDeletionViolation,
  volumeModificationViolation,
} from './ec2-rules';
import type { Ec2Violation } from './ec2-rules';
import { DomainError } from './errors';
import { architectureOf } from './aws-catalog';
import { defaultPriceBook } from './pricing';
import { NON_MUTATING_STEPS } from './types';
import type { Action, ObservedResource, Recommendation, Reversibility, Step, StepOutputs } from './types';

// ── Reversibility ──

/**
 * How far an action can be undone: `yes` (rightsize, stop-idle, modify-volume, delete-volume with a snapshot),
 * `partial` (release-address, purchase-reserved-instances: best effort), `no` (delete-snapshot,
 * delete-volume with `snapshotFirst: false`).
 */
export function reversibility(action: Action): Reversibility {
  switch (action.type) {
    case 'rightsize':
    case 'stop-idle':
    case 'modify-volume':
      return 'yes';
    case 'delete-volume':
      return action.snapshotFirst ? 'yes' : 'no';
    case 'delete-snapshot':
      return 'no';
    case 'release-address':
    case 'purchase-reserved-instances':
      return 'partial';
    default: {
      const _exhaustive: never = action;
      return _exhaustive;
    }
  }
}

/** Whether a step changes something (everything but the waits). */
export const isMutatingStep = (step: Step): boolean => !NON_MUTATING_STEPS.has(step.kind);

/** Tag keys optex puts on what it creates. */
export const OPTEX_TAGS = { optimizationId: 'optex:optimization-id', sourceVolume: 'optex:source-volume' } as const;

/** The tag the adapters put on what a call with a client token creates (`@optex/ports`' `CLIENT_TOKEN_TAG`). */
const CLIENT_TOKEN_TAG_KEY = 'optex:client-token';
/** Tags optex itself puts on a backup snapshot: its two below, and `optex:client-token`, which the adapters add. */
const OPTEX_BACKUP_TAG_COUNT = 3;
/** Tags optex itself puts on a volume or address a rollback restores: `optex:client-token`, which the adapters add. */
const OPTEX_RESTORE_TAG_COUNT = 1;

const byKey = ([a]: readonly [string, string], [b]: readonly [string, string]): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * The tags of the backup snapshot a delete-volume takes: the volume's own tags (its cost allocation tags, owner…),
 * except those EC2 reserves (`aws:`) and the volume's own `optex:` tags (a volume optex restored carries a client
 * token that must not name the snapshot too), plus `optex:optimization-id` and `optex:source-volume`. Within EC2's
 * 50 tags: the volume's tags in key order up to what the optex tags leave.
 */
export function backupSnapshotTags(volumeTags: Readonly<Record<string, string>>, optimizationId: string, volumeId: string): Record<string, string> {
  const copied = Object.entries(volumeTags)
    .filter(([key]) => !/^(aws|optex):/i.test(key))
    .sort(byKey)
    .slice(0, EC2_MAX_TAGS - OPTEX_BACKUP_TAG_COUNT);
  return { ...Object.fromEntries(copied), [OPTEX_TAGS.optimizationId]: optimizationId, [OPTEX_TAGS.sourceVolume]: volumeId };
}

// ── Volume performance ──

/** Volume types whose IOPS can be provisioned (ModifyVolume `Iops`). */
const IOPS_TYPES: ReadonlySet<string> = new Set(['gp3', 'io1', 'io2']);
/** Volume types whose throughput can be provisioned (ModifyVolume `Throughput`). */
const THROUGHPUT_TYPES: ReadonlySet<string> = new Set(['gp3']);

type ObservedVolume = Extract<ObservedResource, { kind: 'volume' }>;

/**
 * The IOPS and throughput (MiB/s) a volume delivers now: the reported figures, else what follows from its type
 * and size — gp2: IOPS = max(100, min(16000, 3 × size)), throughput 128 up to 170 GiB, 250 above (the
 * conservative reading of AWS's gp2 table, so a replacement never delivers less); gp3 without figures: the baseline.
 */
export function effectiveVolumePerformance(volume: ObservedVolume): { iops?: number; throughput?: number } {
  if (volume.volumeType === 'gp2') {
    return {
      iops: volume.iops ?? Math.max(100, Math.min(16000, 3 * volume.sizeGiB)),
      throughput: volume.throughput ?? (volume.sizeGiB > 170 ? 250 : 128),
    };
  }
  if (volume.volumeType === 'gp3') {
    return {
      iops: volume.iops ?? defaultPriceBook.gp3Baseline.iops,
      throughput: volume.throughput ?? defaultPriceBook.gp3Baseline.throughputMBps,
    };
  }
  return { iops: volume.iops, throughput: volume.throughput };
}

/** The ModifyVolume parameters that move `volume` to `volumeType` without lowering its performance, unless told otherwise. */
function volumeTarget(volume: ObservedVolume, volumeType: string, iops: number | undefined, throughput: number | undefined): { iops?: number; throughput?: number } {
  const now = effectiveVolumePerformance(volume);
  const target: { iops?: number; throughput?: number } = {};
  if (IOPS_TYPES.has(volumeType)) {
    const floor = volumeType === 'gp3' ? defaultPriceBook.gp3Baseline.iops : 100;
    target.iops = iops ?? Math.max(floor, now.iops ?? 0);
  }
  if (THROUGHPUT_TYPES.has(volumeType)) {
    target.throughput = throughput ?? Math.max(defaultPriceBook.gp3Baseline.throughputMBps, now.throughput ?? 0);
  }
  return target;
}

/** What to restore a volume to: its original type, with its original IOPS/throughput where the type takes them. */
function originalVolumeSettings(volume: ObservedVolume): { volumeType: string; iops?: number; throughput?: number } {
  const now = effectiveVolumePerformance(volume);
  return {
    volumeType: volume.volumeType,
    ...(IOPS_TYPES.has(volume.volumeType) && now.iops !== undefined ? { iops: now.iops } : {}),
    ...(THROUGHPUT_TYPES.has(volume.volumeType) && now.throughput !== undefined ? { throughput: now.throughput } : {}),
  };
}

// ── Pre-validation ──

const OBSERVED_KIND: Readonly<Record<Action['type'], ObservedResource['kind']>> = {
  rightsize: 'instance',
  'stop-idle': 'instance',
  'modify-volume': 'volume',
  'delete-volume': 'volume',
  'delete-snapshot': 'snapshot',
  'release-address': 'address',
  'purchase-reserved-instances': 'reserved-instances-offering',
};

const an = (noun: string): string => `${/^[aeiou]/.test(noun) ? 'an' : 'a'} ${noun}`;

const observedId = (o: ObservedResource): string =>
  o.kind === 'address' ? o.allocationId : o.kind === 'reserved-instances-offering' ? o.offeringId : o.id;

/**
 * What makes the live resource unfit for the recommendation (empty when it may go ahead): missing resource, wrong
 * kind or id, and per action — rightsize: type is `currentInstanceType`, state running or stopped; stop-idle: running;
 * modify-volume: not already as asked, then EC2's ModifyVolume rule on the planned target (state, no modification in
 * progress, the 6-hour cool-down when `now` is given, type/IOPS/throughput limits); delete-volume: EC2's rule
 * (unattached) and `available`; delete-snapshot, release-address, purchase-reserved-instances: EC2's rules (no image
 * uses it; not associated; `fixedPrice × instanceCount ≤ limitPrice`). A problem from one of EC2's rules
 * (see `ec2-rules.ts`) reads `<AWS code>: <message>`.
 */
export function preValidationProblems(rec: Recommendation, observed: ObservedResource | undefined, now?: Date): string[] {
  const action = rec.action;
  const expectedKind = OBSERVED_KIND[action.type];
  const wanted = action.type === 'purchase-reserved-instances' ? `reserved instances offering ${action.offeringId}` : `${rec.resource.type} ${rec.resource.id}`;
  if (observed === undefined) return [`${wanted} not found`];
  if (observed.kind !== expectedKind) return [`${wanted} is ${an(observed.kind)}, ${action.type} needs ${an(expectedKind)}`];
  const expectedId = action.type === 'purchase-reserved-instances' ? action.offeringId : rec.resource.id;
  if (observedId(observed) !== expectedId) return [`observed resource ${observedId(observed)} is not ${wanted}`];

  const problems: string[] = [];
  switch (action.type) {
    case 'rightsize': {
      const o = observed as Extract<ObservedResource, { kind: 'instance' }>;
      if (o.instanceType !== action.currentInstanceType) problems.push(`instance ${o.id} is ${o.instanceType}, the recommendation expects ${action.currentInstanceType}`);
      if (o.state !== 'running' && o.state !== 'stopped') problems.push(`instance ${o.id} is ${o.state}, rightsize needs it running or stopped`);
      const [from, to] = [architectureOf(o.instanceType), architectureOf(action.targetInstanceType)];
      if (from !== to) {
        problems.push(
          `architecture: ${o.instanceType} is ${from} and ${action.targetInstanceType} is ${to}; a type change cannot move an instance to another architecture (its AMI and software are built for ${from})`,
        );
      }
      // Only an observation of this target counts; none (older events, a describe not made) is no problem.
      if (o.targetOffering?.instanceType === action.targetInstanceType) pushViolation(problems, instanceTypeOfferingViolation(o.targetOffering));
      break;
    }
    case 'stop-idle': {
      const o = observed as Extract<ObservedResource, { kind: 'instance' }>;
      if (o.state !== 'running') problems.push(`instance ${o.id} is ${o.state}, stop-idle needs it running`);
      break;
    }
    case 'modify-volume': {
      const o = observed as ObservedVolume;
      const now_ = effectiveVolumePerformance(o);
      if (
        o.volumeType === action.targetVolumeType &&
        (action.iops === undefined || action.iops === now_.iops) &&
        (action.throughput === undefined || action.throughput === now_.throughput)
      ) {
        problems.push(`volume ${o.id} is already ${action.targetVolumeType}${action.iops !== undefined || action.throughput !== undefined ? ' with the requested IOPS/throughput' : ''}`);
        break;
      }
      // Without `now` the 6-hour rule cannot be judged: leave it to EC2.
      const judged = now !== undefined ? o : { ...o, lastModificationStartedAt: undefined };
      const target = { volumeType: action.targetVolumeType, ...volumeTarget(o, action.targetVolumeType, action.iops, action.throughput) };
      pushViolation(problems, volumeModificationViolation(judged, target, now ?? new Date(0)));
      break;
    }
    case 'delete-volume': {
      const o = observed as ObservedVolume;
      const violation = volumeDeletionViolation(o);
      pushViolation(problems, violation);
      if (violation === undefined && o.state !== 'available') problems.push(`volume ${o.id} is ${o.state}, delete-volume needs it available (unattached)`);
      break;
    }
    case 'delete-snapshot':
      pushViolation(problems, snapshotDeletionViolation(observed as Extract<ObservedResource, { kind: 'snapshot' }>));
      break;
    case 'release-address':
      pushViolation(problems, addressReleaseViolation(observed as Extract<ObservedResource, { kind: 'address' }>));
      break;
    case 'purchase-reserved-instances':
      pushViolation(problems, reservedInstancesPurchaseViolation(observed as Extract<ObservedResource, { kind: 'reserved-instances-offering' }>, action));
      break;
    default: {
      const _exhaustive: never = action;
      return _exhaustive;
    }
  }
  return problems;
}

/** A refusal by one of EC2's rules, as a pre-validation problem naming the AWS code. */
function pushViolation(problems: string[], violation: Ec2Violation | undefined): void {
  if (violation !== undefined) problems.push(`${violation.code}: ${violation.message}`);
}

// ── Execution plan ──

function observedAs<K extends ObservedResource['kind']>(rec: Recommendation, observed: ObservedResource | undefined, kind: K): Extract<ObservedResource, { kind: K }> {
  if (observed === undefined || observed.kind !== kind) {
    throw new DomainError('INVALID_INPUT', `${rec.action.type} of ${rec.resource.id} needs the observed ${kind}, got ${observed === undefined ? 'nothing' : an(observed.kind)}`);
  }
  return observed as Extract<ObservedResource, { kind: K }>;
}

/**
 * The steps that carry out a recommendation on the resource as observed by pre-validation
 * (see the design's action table). Throws `DomainError('INVALID_INPUT')` when `observed` is not the
 * kind of resource the action needs.
 */
export function executionPlan(rec: Recommendation, observed: ObservedResource | undefined, optimizationId: string): Step[] {
  const action = rec.action;
  const id = rec.resource.id;
  switch (action.type) {
    case 'rightsize': {
      const instance = observedAs(rec, observed, 'instance');
      const running = instance.state === 'running';
      return [
        ...(running ? [{ kind: 'stop-instance', instanceId: id } as const, { kind: 'wait-instance-stopped', instanceId: id } as const] : []),
        { kind: 'modify-instance-type', instanceId: id, instanceType: action.targetInstanceType },
        ...(running ? [{ kind: 'start-instance', instanceId: id } as const, { kind: 'wait-instance-running', instanceId: id } as const] : []),
      ];
    }
    case 'stop-idle':
      observedAs(rec, observed, 'instance');
      return [
        { kind: 'stop-instance', instanceId: id },
        { kind: 'wait-instance-stopped', instanceId: id },
      ];
    case 'modify-volume': {
      const volume = observedAs(rec, observed, 'volume');
      return [{ kind: 'modify-volume', volumeId: id, volumeType: action.targetVolumeType, ...volumeTarget(volume, action.targetVolumeType, action.iops, action.throughput) }];
    }
    case 'delete-volume': {
      const volume = observedAs(rec, observed, 'volume');
      if (!action.snapshotFirst) return [{ kind: 'delete-volume', volumeId: id }];
      return [
        {
          kind: 'create-snapshot',
          volumeId: id,
          description: `optex ${optimizationId}: snapshot of ${id} before deletion`,
          tags: backupSnapshotTags(volume.tags, optimizationId, id),
        },
        { kind: 'wait-snapshot-completed', snapshotFrom: 'create-snapshot' },
        { kind: 'delete-volume', volumeId: id },
      ];
    }
    case 'delete-snapshot':
      observedAs(rec, observed, 'snapshot');
      return [{ kind: 'delete-snapshot', snapshotId: id }];
    case 'release-address': {
      const address = observedAs(rec, observed, 'address');
      return [{ kind: 'release-address', allocationId: address.allocationId }];
    }
    case 'purchase-reserved-instances':
      observedAs(rec, observed, 'reserved-instances-offering');
      return [
        {
          kind: 'purchase-reserved-instances',
          offeringId: action.offeringId,
          instanceCount: action.instanceCount,
          ...(action.limitPrice !== undefined ? { limitPrice: action.limitPrice } : {}),
        },
      ];
    default: {
      const _exhaustive: never = action;
      return _exhaustive;
    }
  }
}

// ── Rollback ──

/**
 * The tags a rollback gives what it creates again in place of what the change removed — the volume a delete-volume's
 * rollback restores (`create-volume-from-snapshot`), the address a release-address's rollback allocates again
 * (`allocate-address`) — from the tags the removed resource had, and the keys of those left out. Never AWS's reserved
 * `aws:` tags (no call may set them), nor the resource's own `optex:client-token` (what an earlier restore was tagged
 * with: the adapters tag the new resource with this restore's token, which the look-up after a crash finds it by).
 * Within EC2's 50 tags ({@link EC2_MAX_TAGS}), that token counted: the resource's other `optex:` tags first, then its
 * other tags in key order, as many as fit: a resource with EC2's maximum of 50 tags gets 49 back, and `leftOut` names
 * the last by key order (all 50 and the token would be refused with TagLimitExceeded, and nothing restored).
 * Deterministic, and the tags it returns given again come back unchanged.
 */
export function restoredTags(resourceTags: Readonly<Record<string, string>>): { readonly tags: Record<string, string>; readonly leftOut: readonly string[] } {
  const candidates = Object.entries(resourceTags).filter(([key]) => !isAwsReservedTagKey(key) && key !== CLIENT_TOKEN_TAG_KEY);
  const isOptex = ([key]: readonly [string, string]) => key.toLowerCase().startsWith('optex:');
  const ordered = [...candidates.filter(isOptex).sort(byKey), ...candidates.filter((e) => !isOptex(e)).sort(byKey)];
  const room = EC2_MAX_TAGS - OPTEX_RESTORE_TAG_COUNT;
  return { tags: Object.fromEntries(ordered.slice(0, room)), leftOut: ordered.slice(room).map(([key]) => key) };
}

/**
 * The steps that undo exactly the mutating steps in `completed` (the execution steps done so far), on the
 * resource as pre-validation observed it:
 * - rightsize: after the type change, (stop + wait if it was started again) → original type → start + wait if
 *   it was running; after only the stop: start + wait;
 * - stop-idle: start + wait; modify-volume: ModifyVolume back to the original type/IOPS/throughput;
 * - delete-volume after the delete: CreateVolume from the snapshot with the original AZ/type/size/IOPS/throughput and
 *   as many of its tags as EC2's 50 leave room for ({@link restoredTags}) (nothing possible without a snapshot);
 *   before the delete, with the backup snapshot taken (its id in `outputs`): delete that snapshot, which nothing needs
 *   any more, so a failed deletion leaves no orphan to pay for;
 * - release-address: allocate the same public IP, with as many of the address's tags as EC2's 50 leave room for
 *   ({@link restoredTags}; none when it had none); purchase-reserved-instances: list them at the upfront price paid;
 * - delete-snapshot: nothing.
 * `stillThere`: validation described the volume or address after its deletion or release was recorded done (EC2
 * answered NotFound, which the step takes as already gone): what it deleted is not gone, so it is not created again —
 * a delete-volume deletes only its backup snapshot, a release-address undoes nothing.
 * Empty when nothing needs (or can get) undoing.
 */
export function rollbackStepsFor(rec: Recommendation, observed: ObservedResource | undefined, completed: readonly Step[], outputs: StepOutputs = {}, stillThere = false): Step[] {
  const kinds = completed.filter(isMutatingStep).map((s) => s.kind);
  const done = new Set(stillThere ? kinds.filter((k) => k !== 'delete-volume' && k !== 'release-address') : kinds);
  if (done.size === 0) return [];
  const action = rec.action;
  const id = rec.resource.id;
  switch (action.type) {
    case 'rightsize': {
      const instance = observedAs(rec, observed, 'instance');
      const wasRunning = instance.state === 'running';
      if (done.has('modify-instance-type')) {
        return [
          ...(done.has('start-instance') ? [{ kind: 'stop-instance', instanceId: id } as const, { kind: 'wait-instance-stopped', instanceId: id } as const] : []),
          { kind: 'modify-instance-type', instanceId: id, instanceType: instance.instanceType },
          ...(wasRunning ? [{ kind: 'start-instance', instanceId: id } as const, { kind: 'wait-instance-running', instanceId: id } as const] : []),
        ];
      }
      if (done.has('stop-instance')) {
        return [
          { kind: 'start-instance', instanceId: id },
          { kind: 'wait-instance-running', instanceId: id },
        ];
      }
      return [];
    }
    case 'stop-idle':
      if (!done.has('stop-instance')) return [];
      return [
        { kind: 'start-instance', instanceId: id },
        { kind: 'wait-instance-running', instanceId: id },
      ];
    case 'modify-volume': {
      if (!done.has('modify-volume')) return [];
      const volume = observedAs(rec, observed, 'volume');
      return [{ kind: 'modify-volume', volumeId: id, ...originalVolumeSettings(volume) }];
    }
    case 'delete-volume': {
      if (!done.has('delete-volume') && done.has('create-snapshot') && outputs.snapshotId !== undefined) return [{ kind: 'delete-snapshot', snapshotId: outputs.snapshotId }];
      if (!done.has('delete-volume') || !done.has('create-snapshot')) return [];
      const volume = observedAs(rec, observed, 'volume');
      const perf = originalVolumeSettings(volume);
      return [
        {
          kind: 'create-volume-from-snapshot',
          snapshotFrom: 'create-snapshot',
          availabilityZone: volume.availabilityZone,
          volumeType: volume.volumeType,
          sizeGiB: volume.sizeGiB,
          ...(perf.iops !== undefined ? { iops: perf.iops } : {}),
          ...(perf.throughput !== undefined ? { throughput: perf.throughput } : {}),
          tags: restoredTags(volume.tags).tags,
        },
      ];
    }
    case 'delete-snapshot':
      return [];
    case 'release-address': {
      if (!done.has('release-address')) return [];
      const address = observedAs(rec, observed, 'address');
      const tags = restoredTags(address.tags ?? {}).tags;
      return [{ kind: 'allocate-address', publicIp: address.publicIp, ...(Object.keys(tags).length > 0 ? { tags } : {}) }];
    }
    case 'purchase-reserved-instances': {
      if (!done.has('purchase-reserved-instances')) return [];
      const offering = observedAs(rec, observed, 'reserved-instances-offering');
      return [{ kind: 'list-reserved-instances', reservedInstancesFrom: 'purchase-reserved-instances', instanceCount: action.instanceCount, price: offering.fixedPrice }];
    }
    default: {
      const _exhaustive: never = action;
      return _exhaustive;
    }
  }
}

/** The rollback of the whole plan: {@link rollbackStepsFor} with every mutating step of {@link executionPlan} completed. */
export function rollbackPlan(rec: Recommendation, observed: ObservedResource | undefined): Step[] {
  // The optimization id only names the snapshot, which the rollback refers to by its output, not by name.
  return rollbackStepsFor(rec, observed, executionPlan(rec, observed, ''));
}
