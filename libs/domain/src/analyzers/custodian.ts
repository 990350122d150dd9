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

/** Where Custodian's `cost-optimization` filter puts the resource's Cost Optimization Hub recommendation (a ListRecommendations item). */
const COST_OPTIMIZE = 'c7n:cost_optimize';
/**
 * What `resize` reads besides the type (c7n/resources/ec2.py `Resize`): the instance's `State` (a volume's is a string)
 * and the `cost-optimization` filter's annotation (c7n/filters/costhub.py).
 */
const resizeFieldsSchema = z.looseObject({
  State: z.union([z.string(), z.looseObject({ Name: z.string().optional() })]).optional(),
  [COST_OPTIMIZE]: z
    .looseObject({
      actionType: z.string().optional(),
      recommendedResourceSummary: z.string().optional(),
      estimatedMonthlySavings: z.number().optional(),
      currencyCode: z.string().optional(),
    })
    .optional(),
});

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
 * (`…#<policy>/delete`). Savings: a `resize` whose target is the `cost-optimization` filter's annotation takes that
 * recommendation's `estimatedMonthlySavings` when in USD (as the other translators take the analyzer's own estimate);
 * otherwise they are estimated with the price book (Custodian gives none): what the resource costs now minus what it
 * costs after the action (see {@link costsOf}), `0` where the book lacks a figure. A resource the action would cost
 * more is a `no-saving` skip.
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
      let usd: number;
      if (action.estimate) {
        // The analyzer's own estimate, as the other translators take theirs: negative is a no-saving skip.
        usd = cents(action.estimate.usd);
        if (usd < 0) return skipped(id, 'no-saving', costsMoreReason(action.estimate.field, action.estimate.usd));
      } else {
        const costs = costsOf(action.action, record, place.region, pb);
        const saved = subtractQuotes(costs.now, costs.after);
        usd = isPriced(saved) ? cents(saved.usd) : 0;
        if (usd < 0 && isPriced(costs.now) && isPriced(costs.after)) {
          return skipped(id, 'no-saving', costsMoreReason('estimatedMonthlySavings', usd, ` by the price book (${cents(costs.now.usd)} a month now, ${cents(costs.after.usd)} after ${action.action.type})`));
        }
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

type Failure = { ok: false; code: 'unsupported-action' | 'missing-field' | 'no-saving' | 'invalid-item'; reason: string };

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

/** The action on the record, with the analyzer's own USD estimate when it gives one (`estimate`, else the price book's). */
type Resolved = { ok: true; action: Action; estimate?: { usd: number; field: string } };

function actionOf(intent: Intent, record: z.infer<typeof custodianResourceSchema>): Resolved | Failure {
  switch (intent.type) {
    case 'stop-idle':
    case 'delete-snapshot':
    case 'release-address':
      return { ok: true, action: { type: intent.type } };
    case 'delete-volume':
      return { ok: true, action: { type: 'delete-volume', snapshotFirst: true } };
    case 'modify-volume':
      return modifyOf(intent.params, record);
    case 'rightsize':
      return resizeOf(intent.params, record);
    case 'purchase-reserved-instances':
      return { ok: false, code: 'unsupported-action', reason: 'purchase-reserved-instances: not a Custodian action' };
    default: {
      const _exhaustive: never = intent.type;
      return _exhaustive;
    }
  }
}

/**
 * `modify` as Custodian's schema has it (c7n/resources/ebs.py `ModifyVolume`: `volume-type`, `shrink`, `size-percent`,
 * `iops-percent`, nothing else): a `size-percent` other than 100 resizes the volume, which optex does not
 * (`unsupported-action`); `iops-percent` sets the IOPS of a gp3/io1/io2 target as Custodian computes them, the
 * record's `Iops` × percent / 100 truncated, at least 3,000 (gp3) or 100 (io1/io2); the throughput is the executor's
 * (the volume's kept, at least gp3's baseline).
 */
function modifyOf(params: Record<string, unknown>, record: Resource): Resolved | Failure {
  const target = params['volume-type'];
  if (typeof target !== 'string') return { ok: false, code: 'missing-field', reason: "policy.actions[modify].volume-type: missing (optex needs the policy's modify action to know the target type)" };
  if (!isVolumeType(target)) return { ok: false, code: 'unsupported-action', reason: notAVolumeType('policy.actions[modify].volume-type', target) };
  const sizePercent = params['size-percent'];
  if (sizePercent !== undefined && sizePercent !== 100) {
    const now = record.Size === undefined ? '' : ` (${record.Size} GiB now)`;
    return {
      ok: false,
      code: 'unsupported-action',
      reason: `policy.actions[modify].size-percent: ${JSON.stringify(sizePercent)} changes the volume's size${now}; optex changes a volume's type, IOPS and throughput, not its size`,
    };
  }
  const iopsPercent = params['iops-percent'];
  if (iopsPercent !== undefined && typeof iopsPercent !== 'number') {
    return { ok: false, code: 'unsupported-action', reason: `policy.actions[modify].iops-percent: ${JSON.stringify(iopsPercent)} is not a number` };
  }
  // Custodian applies iops-percent (when not 0) to the types that take IOPS only.
  if (!iopsPercent || !['gp3', 'io1', 'io2'].includes(target)) return { ok: true, action: volumeModification(target, undefined, undefined) };
  if (record.Iops === undefined) return { ok: false, code: 'missing-field', reason: "Iops: missing (policy.actions[modify].iops-percent is a percentage of the volume's current IOPS)" };
  const iops = Math.max(Math.trunc((Math.trunc(record.Iops) * iopsPercent) / 100), target === 'gp3' ? 3000 : 100);
  return { ok: true, action: volumeModification(target, iops, undefined) };
}

/**
 * `resize` as Custodian resolves it (c7n/resources/ec2.py `Resize.get_target_instance_type`): the `cost-optimization`
 * filter's annotation when it is a `Rightsize` (its `recommendedResourceSummary`, and its `estimatedMonthlySavings`
 * when in USD), else `type-map`[type], else `default`. A target that is the instance's type is a `no-saving` skip
 * (Custodian leaves the instance as it is). A running instance (`State.Name`) is resized only when the action has
 * `restart: true` (Custodian then stops and starts it; without it Custodian leaves a running instance alone): else
 * an `unsupported-action` skip (optex's rightsize would stop it: the policy said not to). A record without `State`
 * (Describe always gives one) is not checked.
 */
function resizeOf(params: Record<string, unknown>, record: Resource): Resolved | Failure {
  const current = record.InstanceType;
  if (!current) return { ok: false, code: 'missing-field', reason: 'InstanceType: missing' };
  const fields = resizeFieldsSchema.safeParse(record);
  if (!fields.success) return { ok: false, code: 'invalid-item', reason: `${fields.error.issues[0]?.path.join('.') ?? ''}: ${fields.error.issues[0]?.message ?? 'not an EC2 instance record'}` };
  const note = fields.data[COST_OPTIMIZE];
  const state = fields.data.State;
  const fromNote = note?.actionType === 'Rightsize' && note.recommendedResourceSummary ? note.recommendedResourceSummary : undefined;
  const typeMap = params['type-map'];
  const mappedType = typeof typeMap === 'object' && typeMap !== null ? (typeMap as Record<string, unknown>)[current] : undefined;
  const [target, field] =
    fromNote !== undefined
      ? [fromNote, `${COST_OPTIMIZE}.recommendedResourceSummary`]
      : typeof mappedType === 'string'
        ? [mappedType, `policy.actions[resize].type-map.${current}`]
        : typeof params['default'] === 'string'
          ? [params['default'], 'policy.actions[resize].default']
          : [undefined, ''];
  if (!target) return { ok: false, code: 'missing-field', reason: `policy.actions[resize].type-map: no entry for ${current} and no default (and no ${COST_OPTIMIZE} Rightsize annotation)` };
  if (target === current) return { ok: false, code: 'no-saving', reason: `${field}: ${target}, the type it has` };
  if (typeof state === 'object' && state.Name === 'running' && params['restart'] !== true) {
    return {
      ok: false,
      code: 'unsupported-action',
      reason: 'policy.actions[resize].restart: not true and State.Name is running; Custodian resizes a running instance only with restart: true (it stops and starts it)',
    };
  }
  const savings = note?.estimatedMonthlySavings;
  const estimate = fromNote !== undefined && note?.currencyCode === 'USD' && savings !== undefined ? { usd: savings, field: `${COST_OPTIMIZE}.estimatedMonthlySavings` } : undefined;
  return { ok: true, action: { type: 'rightsize', currentInstanceType: current, targetInstanceType: target }, ...(estimate ? { estimate } : {}) };
}

type Resource = z.infer<typeof custodianResourceSchema>;

/**
 * What the resource costs a month now and after the action, by the price book; unpriced where the book lacks a
 * figure (or the record a field: `InstanceType`, `Size`, an io1/io2 volume's `Iops`). A volume is priced with every
 * charge it carries (`quoteVolume`): its `Iops`/`Throughput` as the executor reads them (`effectiveVolumePerformance`:
 * gp2's from its size, gp3's baseline when the record has none). stop-idle: the instance, then 0; rightsize: the
 * current type, then the target; delete-volume: the volume, then its backup snapshot at full size; modify-volume: the
 * volume, then the target type with the action's IOPS (from `iops-percent`), else what the executor sets (the
 * volume's IOPS and throughput kept, at least gp3's 3,000/125 MiB/s or io1/io2's 100 IOPS); delete-snapshot: the
 * snapshot, then 0; release-address: the address, then 0.
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
