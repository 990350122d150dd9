import { z } from 'zod';
import { ACTION_TYPES, type Action, type ActionType, type ObservedResource, type Recommendation } from '../types';
import { defaultPriceBook, isPriced, quoteAddress, quoteInstance, quoteSnapshot, quoteVolume, subtractQuotes, type PriceBook, type PriceQuote, type VolumeShape } from '../pricing';
import { effectiveVolumePerformance } from '../plans';
import { notAVolumeType, volumeModification } from './cost-optimization-hub';
import { isVolumeType } from '../ec2-rules';
import {
  AnalyzerFormatError,
  cents,
  collect,
  costsMoreReason,
  ec2Arn,
  isoTime,
  mapped,
  placeOf,
  regionOfZone,
  skipped,
  stableRecommendationId,
  tagRecord,
  type ItemResult,
  type TranslateOptions,
  type Translation,
} from './translation';

// ── The format: Cloud Custodian's `resources.json` (the AWS Describe records of the matched resources, with
//    `c7n:*` annotations, c7n/policy.py) and `metadata.json` (c7n/ctx.py: the policy, the run's config). ──

const awsTagList = z.array(z.looseObject({ Key: z.string().optional(), Value: z.string().optional() })).optional();
/** One resource record: EC2 `Instance`, `Volume`, `Address` or `Snapshot` as Describe returns it. */
export const custodianResourceSchema = z
  .looseObject({
    InstanceId: z.string().optional(),
    InstanceType: z.string().optional(),
    Placement: z.looseObject({ AvailabilityZone: z.string().optional() }).optional(),
    VolumeId: z.string().optional(),
    VolumeType: z.string().optional(),
    Size: z.number().optional(),
    Iops: z.number().optional(),
    Throughput: z.number().optional(),
    AvailabilityZone: z.string().optional(),
    AllocationId: z.string().optional(),
    PublicIp: z.string().optional(),
    NetworkBorderGroup: z.string().optional(),
    SnapshotId: z.string().optional(),
    VolumeSize: z.number().optional(),
    OwnerId: z.string().optional(),
    Tags: awsTagList,
  })
  .meta({ title: 'Cloud Custodian resources.json record (an EC2 Describe record)' });

export const custodianResourcesSchema = z.array(z.unknown()).meta({ title: 'Cloud Custodian resources.json' });

const policyAction = z.union([z.string(), z.looseObject({ type: z.string() })]);
export const custodianMetadataSchema = z
  .looseObject({
    policy: z.looseObject({ name: z.string().optional(), resource: z.string().optional(), actions: z.array(policyAction).optional() }).optional(),
    config: z.looseObject({ region: z.string().optional(), account_id: z.string().optional() }).optional(),
    execution: z.looseObject({ start: z.number().optional() }).optional(),
  })
  .meta({ title: 'Cloud Custodian metadata.json' });
type Metadata = z.infer<typeof custodianMetadataSchema>;
type PolicyAction = z.infer<typeof policyAction>;

export const CUSTODIAN_SOURCE = 'cloud-custodian';

type Kind = 'ec2' | 'ebs' | 'elastic-ip' | 'ebs-snapshot';
const KINDS: Readonly<Record<string, Kind>> = { ec2: 'ec2', ebs: 'ebs', 'elastic-ip': 'elastic-ip', 'network-addr': 'elastic-ip', 'ebs-snapshot': 'ebs-snapshot' };
const RESOURCE_TYPE: Readonly<Record<Kind, Recommendation['resource']['type']>> = { ec2: 'ec2:instance', ebs: 'ec2:volume', 'elastic-ip': 'ec2:elastic-ip', 'ebs-snapshot': 'ec2:snapshot' };
const ID_FIELD: Readonly<Record<Kind, 'InstanceId' | 'VolumeId' | 'AllocationId' | 'SnapshotId'>> = { ec2: 'InstanceId', ebs: 'VolumeId', 'elastic-ip': 'AllocationId', 'ebs-snapshot': 'SnapshotId' };

/** Custodian's actions optex performs, per resource: the Custodian name → optex's action type. */
export const CUSTODIAN_ACTIONS: Readonly<Record<Kind, Readonly<Record<string, ActionType>>>> = {
  ec2: { stop: 'stop-idle', resize: 'rightsize' },
  ebs: { delete: 'delete-volume', modify: 'modify-volume' },
  'elastic-ip': { release: 'release-address' },
  'ebs-snapshot': { delete: 'delete-snapshot' },
};

type Intent = { nativeName: string; type: ActionType; params: Record<string, unknown> };

/**
 * Translates a Custodian run: `resources` is `resources.json`, `metadata` its `metadata.json` (optional). The
 * action is `options.action` (optex's name, e.g. `delete-volume`, or Custodian's, e.g. `delete`), else the policy's
 * first action optex performs; the `recommendationId` names it by Custodian's name whichever was given
 * (`…#<policy>/delete`). Savings are estimated with the price book (Custodian gives none): what the resource costs
 * now minus what it costs after the action (see {@link costsOf}), `0` where the book lacks a figure; a resource the
 * action would cost more is a `no-saving` skip.
 */
export function translateCustodian(resources: unknown, metadata?: unknown, options: TranslateOptions = {}): Translation {
  const records = custodianResourcesSchema.safeParse(resources);
  if (!records.success) throw new AnalyzerFormatError('not a Cloud Custodian resources.json: expected an array of resource records');
  const meta = metadata === undefined ? undefined : custodianMetadataSchema.safeParse(metadata);
  if (meta && !meta.success) throw new AnalyzerFormatError(`not a Cloud Custodian metadata.json: ${meta.error.issues[0]?.path.join('.') ?? ''} ${meta.error.issues[0]?.message ?? ''}`);
  const md: Metadata | undefined = meta?.data;
  const policyKind = kindOfPolicy(md?.policy?.resource);
  if (md?.policy?.resource && !policyKind) {
    return collect(records.data.map((_, i) => skipped(`[${i}]`, 'unsupported-resource-type', `policy.resource: ${md.policy?.resource} is not a resource optex acts on (aws.ec2, aws.ebs, aws.elastic-ip, aws.network-addr, aws.ebs-snapshot)`)));
  }
  if (options.action === undefined && !md?.policy?.actions?.length) {
    throw new AnalyzerFormatError(
      md?.policy ? `policy.actions: the policy ${md.policy.name ?? ''} has none (a report-only policy); name the action with --action (e.g. delete-volume)` : 'no action: pass --action (e.g. delete-volume), or the metadata.json of a policy with actions',
    );
  }
  const pb = options.priceBook ?? defaultPriceBook;
  return collect(
    records.data.map((raw, i): ItemResult => {
      const position = `[${i}]`;
      const parsed = custodianResourceSchema.safeParse(raw);
      if (!parsed.success) return skipped(position, 'invalid-item', `${position}.${parsed.error.issues[0]?.path.join('.') ?? ''}: ${parsed.error.issues[0]?.message ?? 'not a resource record'}`);
      const record = parsed.data;
      const kind = policyKind ?? kindOfRecord(record);
      if (!kind) return skipped(position, 'unsupported-resource-type', `${position}: not an EC2 instance, EBS volume, Elastic IP or EBS snapshot record (no InstanceId, VolumeId, AllocationId or SnapshotId)`);
      const id = record[ID_FIELD[kind]];
      if (!id) return skipped(position, 'missing-field', `${ID_FIELD[kind]}: missing`);
      const intent = intentOf(kind, options.action, md?.policy?.actions);
      if (!intent.ok) return skipped(id, intent.code, intent.reason);
      const action = actionOf(intent.intent, record);
      if (!action.ok) return skipped(id, action.code, action.reason);
      const zone = record.AvailabilityZone ?? record.Placement?.AvailabilityZone;
      const place = placeOf({ accountId: md?.config?.account_id ?? record.OwnerId, region: regionOfZone(zone) ?? regionOfZone(record.NetworkBorderGroup) ?? md?.config?.region }, undefined, options);
      if (!place.ok) return skipped(id, 'missing-field', place.reason);
      const costs = costsOf(action.action, record, place.region, pb);
      const saved = subtractQuotes(costs.now, costs.after);
      const usd = isPriced(saved) ? cents(saved.usd) : 0;
      if (usd < 0 && isPriced(costs.now) && isPriced(costs.after)) {
        return skipped(id, 'no-saving', costsMoreReason('estimatedMonthlySavings', usd, ` by the price book (${cents(costs.now.usd)} a month now, ${cents(costs.after.usd)} after ${action.action.type})`));
      }
      const tags = tagRecord(record.Tags);
      const createdAt = isoTime(md?.execution?.start);
      return mapped({
        recommendationId: stableRecommendationId(ec2Arn(place.region, place.accountId, RESOURCE_TYPE[kind], id), `${md?.policy?.name ? `${md.policy.name}/` : ''}${intent.intent.nativeName}`, action.action),
        source: CUSTODIAN_SOURCE,
        accountId: place.accountId,
        region: place.region,
        resource: { type: RESOURCE_TYPE[kind], id, ...(tags ? { tags } : {}) },
        action: action.action,
        estimatedMonthlySavings: usd,
        currency: 'USD',
        ...(createdAt ? { createdAt } : {}),
      });
    }),
  );
}

function kindOfPolicy(resource: string | undefined): Kind | undefined {
  return resource === undefined ? undefined : KINDS[resource.replace(/^aws\./, '')];
}

function kindOfRecord(r: z.infer<typeof custodianResourceSchema>): Kind | undefined {
  if (r.InstanceId) return 'ec2';
  if (r.AllocationId || r.PublicIp) return 'elastic-ip';
  if (r.SnapshotId && r.VolumeSize !== undefined) return 'ebs-snapshot';
  if (r.VolumeId) return 'ebs';
  return undefined;
}

type Failure = { ok: false; code: 'unsupported-action' | 'missing-field'; reason: string };

/**
 * The action from the command line, else the policy's first action optex performs on this resource; its `nativeName`
 * (the `recommendationId`'s) is Custodian's name of the action (`delete`, `modify`, `stop`, `resize`, `release`) however
 * `--action` spelled it.
 */
function intentOf(kind: Kind, given: string | undefined, policyActions: readonly PolicyAction[] | undefined): { ok: true; intent: Intent } | Failure {
  const supported = CUSTODIAN_ACTIONS[kind];
  const choices = `${Object.entries(supported).map(([c, o]) => `${c} (${o})`).join(', ')}`;
  if (given !== undefined) {
    const asOptex = (ACTION_TYPES as readonly string[]).includes(given) ? (given as ActionType) : undefined;
    const type = asOptex ?? supported[given];
    if (!type || !Object.values(supported).includes(type)) return { ok: false, code: 'unsupported-action', reason: `--action: ${given} does not apply to ${kind} resources (${choices})` };
    const fromPolicy = policyActions?.map(named).find((a) => supported[a.type] === type);
    // Custodian's name whichever spelling was given: `--action delete` and `--action delete-volume` are one recommendation.
    const custodianName = Object.keys(supported).find((c) => supported[c] === type)!;
    return { ok: true, intent: { nativeName: custodianName, type, params: fromPolicy?.params ?? {} } };
  }
  const found = (policyActions ?? []).map(named).find((a) => supported[a.type] !== undefined);
  if (!found) return { ok: false, code: 'unsupported-action', reason: `policy.actions: ${(policyActions ?? []).map((a) => named(a).type).join(', ')} — none that optex performs on ${kind} (${choices})` };
  return { ok: true, intent: { nativeName: found.type, type: supported[found.type]!, params: found.params } };
}

const named = (a: PolicyAction): { type: string; params: Record<string, unknown> } => (typeof a === 'string' ? { type: a, params: {} } : { type: a.type, params: a as Record<string, unknown> });

function actionOf(intent: Intent, record: z.infer<typeof custodianResourceSchema>): { ok: true; action: Action } | Failure {
  switch (intent.type) {
    case 'stop-idle':
    case 'delete-snapshot':
    case 'release-address':
      return { ok: true, action: { type: intent.type } };
    case 'delete-volume':
      return { ok: true, action: { type: 'delete-volume', snapshotFirst: true } };
    case 'modify-volume': {
      const target = intent.params['volume-type'];
      if (typeof target !== 'string') return { ok: false, code: 'missing-field', reason: "policy.actions[modify].volume-type: missing (optex needs the policy's modify action to know the target type)" };
      if (!isVolumeType(target)) return { ok: false, code: 'unsupported-action', reason: notAVolumeType('policy.actions[modify].volume-type', target) };
      const num = (k: string) => (typeof intent.params[k] === 'number' ? (intent.params[k] as number) : undefined);
      return { ok: true, action: volumeModification(target, num('iops'), num('throughput')) };
    }
    case 'rightsize': {
      if (!record.InstanceType) return { ok: false, code: 'missing-field', reason: 'InstanceType: missing' };
      const typeMap = intent.params['type-map'];
      const mappedType = typeof typeMap === 'object' && typeMap !== null ? (typeMap as Record<string, unknown>)[record.InstanceType] : undefined;
      const target = typeof mappedType === 'string' ? mappedType : typeof intent.params['default'] === 'string' ? (intent.params['default'] as string) : undefined;
      if (!target) return { ok: false, code: 'missing-field', reason: `policy.actions[resize].type-map: no entry for ${record.InstanceType} and no default` };
      return { ok: true, action: { type: 'rightsize', currentInstanceType: record.InstanceType, targetInstanceType: target } };
    }
    case 'purchase-reserved-instances':
      return { ok: false, code: 'unsupported-action', reason: 'purchase-reserved-instances: not a Custodian action' };
    default: {
      const _exhaustive: never = intent.type;
      return _exhaustive;
    }
  }
}

type Resource = z.infer<typeof custodianResourceSchema>;

/**
 * What the resource costs a month now and after the action, by the price book; unpriced where the book lacks a
 * figure (or the record a field: `InstanceType`, `Size`, an io1/io2 volume's `Iops`). A volume is priced with every
 * charge it carries (`quoteVolume`): its `Iops`/`Throughput` as the executor reads them (`effectiveVolumePerformance`:
 * gp2's from its size, gp3's baseline when the record has none). stop-idle: the instance, then 0; rightsize: the
 * current type, then the target; delete-volume: the volume, then its backup snapshot at full size; modify-volume: the
 * volume, then the target type with the action's `iops`/`throughput`, else what the executor sets (the volume's
 * IOPS and throughput kept, at least gp3's 3,000/125 MiB/s or io1/io2's 100 IOPS); delete-snapshot: the snapshot,
 * then 0; release-address: the address, then 0.
 */
function costsOf(action: Action, r: Resource, region: string, pb: PriceBook): { now: PriceQuote; after: PriceQuote } {
  const free: PriceQuote = { usd: 0 };
  const missing = (field: string): PriceQuote => ({ unpriced: [`${field} (not in the record)`] });
  switch (action.type) {
    case 'stop-idle':
      return { now: r.InstanceType ? quoteInstance(pb, region, r.InstanceType) : missing('InstanceType'), after: free };
    case 'rightsize':
      return { now: quoteInstance(pb, region, action.currentInstanceType), after: quoteInstance(pb, region, action.targetInstanceType) };
    case 'delete-volume': {
      const now = volumeNow(r);
      return { now: now ? quoteVolume(pb, region, now) : missing('VolumeType/Size'), after: r.Size !== undefined ? quoteSnapshot(pb, region, r.Size) : missing('Size') };
    }
    case 'modify-volume': {
      const now = volumeNow(r);
      if (!now) return { now: missing('VolumeType/Size'), after: missing('VolumeType/Size') };
      return { now: quoteVolume(pb, region, now), after: quoteVolume(pb, region, { volumeType: action.targetVolumeType, sizeGiB: now.sizeGiB, ...performanceAfter(now, action) }) };
    }
    case 'delete-snapshot':
      return { now: r.VolumeSize !== undefined ? quoteSnapshot(pb, region, r.VolumeSize) : missing('VolumeSize'), after: free };
    case 'release-address':
      return { now: quoteAddress(pb, region), after: free };
    case 'purchase-reserved-instances':
      return { now: free, after: free };
    default: {
      const _exhaustive: never = action;
      return _exhaustive;
    }
  }
}

/** The volume of the record with the IOPS and throughput it delivers (as the executor reads an observed volume); needs `VolumeType` and `Size`. */
function volumeNow(r: Resource): VolumeShape | undefined {
  if (r.VolumeType === undefined || r.Size === undefined) return undefined;
  // effectiveVolumePerformance reads the type, size, IOPS and throughput only; the other fields are the type's.
  const observed: Extract<ObservedResource, { kind: 'volume' }> = {
    kind: 'volume',
    id: r.VolumeId ?? '',
    volumeType: r.VolumeType,
    sizeGiB: r.Size,
    ...(r.Iops !== undefined ? { iops: r.Iops } : {}),
    ...(r.Throughput !== undefined ? { throughput: r.Throughput } : {}),
    state: '',
    availabilityZone: r.AvailabilityZone ?? '',
    tags: {},
  };
  return { volumeType: r.VolumeType, sizeGiB: r.Size, ...effectiveVolumePerformance(observed) };
}

/**
 * The IOPS and throughput a modify-volume sets, as the executor plans it (plans.ts `volumeTarget`): the action's
 * figures, else the volume's kept, at least the target type's floor (gp3 3,000 IOPS and 125 MiB/s, io1/io2 100 IOPS);
 * none for a type that takes none.
 */
function performanceAfter(now: VolumeShape, action: Extract<Action, { type: 'modify-volume' }>): { iops?: number; throughput?: number } {
  const type = action.targetVolumeType;
  const baseline = defaultPriceBook.gp3Baseline;
  return {
    ...(['gp3', 'io1', 'io2'].includes(type) ? { iops: action.iops ?? Math.max(type === 'gp3' ? baseline.iops : 100, now.iops ?? 0) } : {}),
    ...(type === 'gp3' ? { throughput: action.throughput ?? Math.max(baseline.throughputMBps, now.throughput ?? 0) } : {}),
  };
}
