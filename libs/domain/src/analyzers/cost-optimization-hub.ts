import { z } from 'zod';
import type { Action, Recommendation } from '../types';
import { isVolumeType, VOLUME_TYPES, type VolumeType } from '../ec2-rules';
import {
  AnalyzerFormatError,
  awsTags,
  awsTimestamp,
  cents,
  collect,
  costsMoreReason,
  isoTime,
  mapped,
  onePerResource,
  parseArn,
  parseItem,
  partialOf,
  placeOf,
  resourceIdOf,
  skipped,
  stableRecommendationId,
  tagRecord,
  type ItemResult,
  type TranslateOptions,
  type Translation,
} from './translation';

// ── The format: @aws-sdk/client-cost-optimization-hub `Recommendation` (ListRecommendations items) and
//    `GetRecommendationResponse`; the client is not installed here, so the shapes are written from its model. ──

const ec2InstanceDetails = z.looseObject({
  configuration: z.looseObject({ instance: z.looseObject({ type: z.string().optional() }).optional() }).optional(),
});
const ebsVolumeDetails = z.looseObject({
  configuration: z
    .looseObject({
      storage: z.looseObject({ type: z.string().optional(), sizeInGb: z.number().optional() }).optional(),
      performance: z.looseObject({ iops: z.number().optional(), throughput: z.number().optional() }).optional(),
      attachmentState: z.string().optional(),
    })
    .optional(),
});
/** `ResourceDetails`: a union with one key per resource type; optex reads the EC2 instance and EBS volume members. */
const resourceDetails = z.looseObject({ ec2Instance: ec2InstanceDetails.optional(), ebsVolume: ebsVolumeDetails.optional() });

/** One Cost Optimization Hub recommendation: a `ListRecommendations` item or a `GetRecommendation` response. */
export const cohRecommendationSchema = z
  .looseObject({
    recommendationId: z.string().optional().describe('Valid for at most 24 hours: optex keys on resourceArn + actionType instead.'),
    accountId: z.string().optional(),
    region: z.string().optional(),
    resourceId: z.string().optional(),
    resourceArn: z.string().optional(),
    currentResourceType: z.string().optional().describe('Ec2Instance, EbsVolume, Ec2ReservedInstances, LambdaFunction, …'),
    recommendedResourceType: z.string().optional(),
    estimatedMonthlySavings: z.number().optional(),
    estimatedSavingsPercentage: z.number().optional(),
    estimatedMonthlyCost: z.number().optional(),
    currencyCode: z.string().optional(),
    implementationEffort: z.string().optional(),
    restartNeeded: z.boolean().optional(),
    actionType: z.string().optional().describe('Rightsize, Stop, Upgrade, PurchaseSavingsPlans, PurchaseReservedInstances, MigrateToGraviton, Delete, ScaleIn'),
    rollbackPossible: z.boolean().optional(),
    currentResourceSummary: z.string().optional(),
    recommendedResourceSummary: z.string().optional(),
    currentResourceDetails: resourceDetails.optional(),
    recommendedResourceDetails: resourceDetails.optional(),
    lastRefreshTimestamp: awsTimestamp.describe('Epoch seconds on the wire.'),
    recommendationLookbackPeriodInDays: z.number().optional(),
    source: z.string().optional(),
    tags: awsTags,
  })
  .meta({ title: 'AWS Cost Optimization Hub recommendation (ListRecommendations item or GetRecommendation response)' });
export type CohRecommendation = z.infer<typeof cohRecommendationSchema>;

/** The documents `optex import --from coh` reads: a `ListRecommendations` response, an array of items, or one `GetRecommendation` response. */
export const cohDocumentSchema = z
  .union([
    z.looseObject({ items: z.array(z.unknown()), nextToken: z.string().nullish() }),
    z.array(z.unknown()),
    z.looseObject({ actionType: z.string() }),
  ])
  .meta({ title: 'AWS Cost Optimization Hub document' });

export const COH_SOURCE = 'aws-cost-optimization-hub';

/** The items of a Cost Optimization Hub document, each with its reference (`items[i]` or `(document)`). */
function cohItems(document: unknown): { item: unknown; ref: string }[] {
  const parsed = cohDocumentSchema.safeParse(document);
  if (!parsed.success) throw new AnalyzerFormatError('not a Cost Optimization Hub document: expected a ListRecommendations response ({items: [...]}), an array of its items, or a GetRecommendation response (with actionType)');
  const doc = parsed.data;
  if (Array.isArray(doc)) return doc.map((item, i) => ({ item, ref: `[${i}]` }));
  if ('items' in doc && Array.isArray(doc.items)) return doc.items.map((item, i) => ({ item, ref: `items[${i}]` }));
  return [{ item: doc, ref: '(document)' }];
}

/**
 * Translates a Cost Optimization Hub document: each item becomes a recommendation or a skip with its reason. Of
 * alternatives for one resource (`includeAllRecommendations`) one is kept, the one with the highest estimated savings
 * (the others are `competing-recommendation` skips, see {@link onePerResource}); a `nextToken` makes it `partial`.
 */
export function translateCostOptimizationHub(document: unknown, options: TranslateOptions = {}): Translation {
  const results = cohItems(document).map(({ item, ref }) => translateItem(item, ref, options));
  return { ...collect(onePerResource(results)), ...partialOf(document) };
}

function translateItem(raw: unknown, position: string, options: TranslateOptions): ItemResult {
  const parsed = parseItem(cohRecommendationSchema, raw, position);
  if (!parsed.ok) return parsed.result;
  const item = parsed.value;
  const ref = item.resourceArn || item.resourceId || position;
  if (!item.actionType) return skipped(ref, 'missing-field', 'actionType: missing');
  if (!item.resourceArn && !item.resourceId) return skipped(position, 'missing-field', 'resourceArn: missing (and no resourceId)');
  const action = actionOf(item);
  if (!action.ok) return skipped(ref, action.code, action.reason);
  if (item.currencyCode === undefined) return skipped(ref, 'missing-field', 'currencyCode: missing');
  if (item.currencyCode !== 'USD') return skipped(ref, 'unsupported-currency', `currencyCode: ${item.currencyCode}, optex's savings are in USD`);
  if (item.estimatedMonthlySavings === undefined) return skipped(ref, 'missing-field', 'estimatedMonthlySavings: missing');
  const savings = cents(item.estimatedMonthlySavings);
  if (savings < 0) return skipped(ref, 'no-saving', costsMoreReason('estimatedMonthlySavings', item.estimatedMonthlySavings));
  // resourceId "is the same as the ARN, if available": an ARN there places the item and names the resource too.
  const arn = parseArn(item.resourceArn) ?? parseArn(item.resourceId);
  const place = placeOf(item, arn, options);
  if (!place.ok) return skipped(ref, 'missing-field', place.reason);
  const tags = tagRecord(item.tags);
  const createdAt = isoTime(item.lastRefreshTimestamp);
  const recommendation: Recommendation = {
    // Cost Optimization Hub's own id lives at most 24 hours; the resource and the action do not.
    recommendationId: stableRecommendationId(item.resourceArn || item.resourceId || '', item.actionType, action.action),
    source: COH_SOURCE,
    accountId: place.accountId,
    region: place.region,
    resource: {
      type: action.resourceType,
      id: resourceIdOf(item.resourceId, arn) ?? '',
      ...(tags ? { tags } : {}),
      ...(item.estimatedMonthlyCost !== undefined && item.estimatedMonthlyCost >= 0 ? { monthlyCost: cents(item.estimatedMonthlyCost) } : {}),
    },
    action: action.action,
    estimatedMonthlySavings: savings,
    currency: 'USD',
    ...(createdAt ? { createdAt } : {}),
  };
  return mapped(recommendation, ref);
}

type ActionOutcome =
  | { ok: true; action: Action; resourceType: Recommendation['resource']['type'] }
  | { ok: false; code: 'unsupported-action' | 'unsupported-resource-type' | 'missing-field' | 'no-saving'; reason: string };

const unsupportedResource = (item: CohRecommendation): ActionOutcome => ({
  ok: false,
  code: 'unsupported-resource-type',
  reason: `currentResourceType: ${item.currentResourceType ?? 'missing'} — optex does not ${item.actionType} this resource type`,
});

function actionOf(item: CohRecommendation): ActionOutcome {
  switch (item.actionType) {
    case 'Rightsize':
    case 'Upgrade':
      if (item.currentResourceType === 'Ec2Instance') return rightsize(item);
      if (item.currentResourceType === 'EbsVolume') return modifyVolume(item);
      return unsupportedResource(item);
    case 'Stop':
      return item.currentResourceType === 'Ec2Instance' ? { ok: true, action: { type: 'stop-idle' }, resourceType: 'ec2:instance' } : unsupportedResource(item);
    case 'Delete':
      return item.currentResourceType === 'EbsVolume' ? { ok: true, action: { type: 'delete-volume', snapshotFirst: true }, resourceType: 'ec2:volume' } : unsupportedResource(item);
    case 'PurchaseReservedInstances':
      if (item.currentResourceType !== 'Ec2ReservedInstances') return unsupportedResource(item);
      return {
        ok: false,
        code: 'missing-field',
        reason: 'offeringId: Cost Optimization Hub names the term, payment option and instance type but no Reserved Instances offering (find one with DescribeReservedInstancesOfferings)',
      };
    case 'MigrateToGraviton':
      return { ok: false, code: 'unsupported-action', reason: 'actionType: MigrateToGraviton needs an arm64 build of the workload; optex changes instance types only' };
    default:
      return { ok: false, code: 'unsupported-action', reason: `actionType: ${item.actionType} is not an action optex executes` };
  }
}

function rightsize(item: CohRecommendation): ActionOutcome {
  const current = item.currentResourceDetails?.ec2Instance?.configuration?.instance?.type ?? item.currentResourceSummary;
  const target = item.recommendedResourceDetails?.ec2Instance?.configuration?.instance?.type ?? item.recommendedResourceSummary;
  if (!current) return { ok: false, code: 'missing-field', reason: 'currentResourceDetails.ec2Instance.configuration.instance.type: missing (and no currentResourceSummary)' };
  if (!target) return { ok: false, code: 'missing-field', reason: 'recommendedResourceDetails.ec2Instance.configuration.instance.type: missing (and no recommendedResourceSummary)' };
  if (current === target) return { ok: false, code: 'no-saving', reason: `recommendedResourceDetails.ec2Instance.configuration.instance.type: ${target}, the type it has` };
  return { ok: true, action: { type: 'rightsize', currentInstanceType: current, targetInstanceType: target }, resourceType: 'ec2:instance' };
}

/**
 * The modify-volume of an EBS `Rightsize`/`Upgrade`: the recommended type, IOPS and throughput. A recommended size
 * other than the current one is `unsupported-action` (optex does not resize volumes; the savings would be the resize's).
 */
function modifyVolume(item: CohRecommendation): ActionOutcome {
  const recommended = item.recommendedResourceDetails?.ebsVolume?.configuration;
  const type = recommended?.storage?.type;
  if (!type) {
    return {
      ok: false,
      code: 'missing-field',
      reason: 'recommendedResourceDetails.ebsVolume.configuration.storage.type: missing (a ListRecommendations item has only a summary: import the GetRecommendation response)',
    };
  }
  const [size, now] = [recommended?.storage?.sizeInGb, item.currentResourceDetails?.ebsVolume?.configuration?.storage?.sizeInGb];
  if (size !== undefined && now !== undefined && size !== now) {
    return {
      ok: false,
      code: 'unsupported-action',
      reason: `recommendedResourceDetails.ebsVolume.configuration.storage.sizeInGb: ${size} GiB (now ${now}); optex changes a volume's type, IOPS and throughput, not its size`,
    };
  }
  if (!isVolumeType(type)) return { ok: false, code: 'unsupported-action', reason: notAVolumeType('recommendedResourceDetails.ebsVolume.configuration.storage.type', type) };
  return { ok: true, action: volumeModification(type, recommended?.performance?.iops, recommended?.performance?.throughput), resourceType: 'ec2:volume' };
}

/** Why a target volume type an analyzer gave cannot be a modify-volume action. */
export const notAVolumeType = (field: string, value: string): string => `${field}: ${JSON.stringify(value)} is not an EBS volume type EC2 accepts (${VOLUME_TYPES.join(', ')})`;

/** A modify-volume action with the IOPS and throughput the target type takes (gp3: both; io1/io2: IOPS; others: neither). */
export function volumeModification(targetVolumeType: VolumeType, iops: number | undefined, throughput: number | undefined): Action {
  const takesIops = ['gp3', 'io1', 'io2'].includes(targetVolumeType);
  return {
    type: 'modify-volume',
    targetVolumeType,
    ...(takesIops && iops !== undefined && iops > 0 ? { iops: Math.round(iops) } : {}),
    ...(targetVolumeType === 'gp3' && throughput !== undefined && throughput > 0 ? { throughput: Math.round(throughput) } : {}),
  };
}
