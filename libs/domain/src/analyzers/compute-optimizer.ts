import { z } from 'zod';
import type { Action, Recommendation } from '../types';
import { parseCsv } from './csv';
import { notAVolumeType, volumeModification } from './cost-optimization-hub';
import { isVolumeType } from '../ec2-rules';
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
  type SkipCode,
  type TranslateOptions,
  type Translation,
} from './translation';

// ── The format: @aws-sdk/client-compute-optimizer responses (the client is not installed here; shapes from its
//    model) and the S3 export CSVs (column names from the Compute Optimizer user guide, "Exported files"). ──

const money = z.looseObject({ currency: z.string().optional(), value: z.number().optional() });
const savingsOpportunity = z.looseObject({ savingsOpportunityPercentage: z.number().optional(), estimatedMonthlySavings: money.optional() }).optional();
const ranked = { rank: z.number().optional(), savingsOpportunity, savingsOpportunityAfterDiscounts: savingsOpportunity };

export const instanceRecommendationSchema = z
  .looseObject({
    instanceArn: z.string().optional(),
    accountId: z.string().optional(),
    instanceName: z.string().optional(),
    currentInstanceType: z.string().optional(),
    finding: z.string().optional().describe('Underprovisioned, Overprovisioned, Optimized, NotOptimized'),
    recommendationOptions: z.array(z.looseObject({ instanceType: z.string().optional(), platformDifferences: z.array(z.string()).optional(), ...ranked })).optional(),
    lastRefreshTimestamp: awsTimestamp,
    tags: awsTags,
  })
  .meta({ title: 'AWS Compute Optimizer InstanceRecommendation' });

const volumeConfiguration = z.looseObject({
  volumeType: z.string().optional(),
  volumeSize: z.number().optional(),
  volumeBaselineIOPS: z.number().optional(),
  volumeBaselineThroughput: z.number().optional(),
});
export const volumeRecommendationSchema = z
  .looseObject({
    volumeArn: z.string().optional(),
    accountId: z.string().optional(),
    currentConfiguration: volumeConfiguration.optional(),
    finding: z.string().optional().describe('Optimized, NotOptimized'),
    volumeRecommendationOptions: z.array(z.looseObject({ configuration: volumeConfiguration.optional(), ...ranked })).optional(),
    lastRefreshTimestamp: awsTimestamp,
    tags: awsTags,
  })
  .meta({ title: 'AWS Compute Optimizer VolumeRecommendation' });

export const idleRecommendationSchema = z
  .looseObject({
    resourceArn: z.string().optional(),
    resourceId: z.string().optional(),
    resourceType: z.string().optional().describe('EC2Instance, EBSVolume, AutoScalingGroup, ECSService, RDSDBInstance, NatGateway, …'),
    accountId: z.string().optional(),
    finding: z.string().optional().describe('Idle, Unattached'),
    savingsOpportunity,
    savingsOpportunityAfterDiscounts: savingsOpportunity,
    lastRefreshTimestamp: awsTimestamp,
    tags: awsTags,
  })
  .meta({ title: 'AWS Compute Optimizer IdleRecommendation' });

const errorEntry = z.looseObject({ identifier: z.string().optional(), code: z.string().optional(), message: z.string().optional() });

const pageFields = { errors: z.array(errorEntry).nullish(), nextToken: z.string().nullish() };
/**
 * The JSON documents `optex import --from compute-optimizer` reads (the CSV exports are read as text): one response,
 * or several merged into one object (`jq -s add`), each of its lists translated.
 */
export const computeOptimizerDocumentSchema = z
  .union([
    z.looseObject({ instanceRecommendations: z.array(z.unknown()), ...pageFields }),
    z.looseObject({ volumeRecommendations: z.array(z.unknown()), ...pageFields }),
    z.looseObject({ idleRecommendations: z.array(z.unknown()), ...pageFields }),
  ])
  .meta({ title: 'AWS Compute Optimizer GetEC2InstanceRecommendations, GetEBSVolumeRecommendations or GetIdleRecommendations response' });

export const COMPUTE_OPTIMIZER_SOURCE = 'aws-compute-optimizer';

type Kind = 'instance' | 'volume' | 'idle';

/** The recommendation lists of the responses, in the order they are translated. */
const LISTS = [
  ['instanceRecommendations', 'instance'],
  ['volumeRecommendations', 'volume'],
  ['idleRecommendations', 'idle'],
] as const;

/**
 * Translates a Compute Optimizer response (JSON) or S3 export (CSV text). Every list the document holds is translated
 * (`instanceRecommendations`, then `volumeRecommendations`, then `idleRecommendations`: several responses merged with
 * `jq -s add`), then each `errors` entry is an `analyzer-error` skip of the resource it names (`identifier`). Of
 * recommendations for one resource (an instance to rightsize and to stop as idle) one is kept, the one with the
 * highest estimated savings (see {@link onePerResource}); a `nextToken` makes the translation `partial`.
 */
export function translateComputeOptimizer(document: unknown, options: TranslateOptions = {}): Translation {
  if (typeof document === 'string') return translateExport(document, options);
  const parsed = computeOptimizerDocumentSchema.safeParse(document);
  if (!parsed.success) {
    throw new AnalyzerFormatError(
      'not a Compute Optimizer document: expected a GetEC2InstanceRecommendations, GetEBSVolumeRecommendations or GetIdleRecommendations response, or an EC2 instance or EBS volume export (CSV)',
    );
  }
  const doc = parsed.data as Record<string, unknown> & { errors?: z.infer<typeof errorEntry>[] | null };
  const notAList = LISTS.find(([key]) => doc[key] !== undefined && !Array.isArray(doc[key]));
  if (notAList) throw new AnalyzerFormatError(`not a Compute Optimizer document: ${notAList[0]} is not a list`);
  const items = LISTS.flatMap(([key, kind]) => ((doc[key] as unknown[] | undefined) ?? []).map((item, i) => translateItem(kind, item, `${key}[${i}]`, options)));
  const errors = (doc.errors ?? []).map((e, i) =>
    skipped(e.identifier ?? `errors[${i}]`, 'analyzer-error', `errors[${i}]: Compute Optimizer could not recommend: ${e.code ?? 'no code'}${e.message ? `: ${e.message}` : ''}`),
  );
  return { ...collect([...onePerResource(items), ...errors]), ...partialOf(document) };
}

function translateItem(kind: Kind, raw: unknown, position: string, options: TranslateOptions): ItemResult {
  switch (kind) {
    case 'instance':
      return instanceItem(raw, position, options);
    case 'volume':
      return volumeItem(raw, position, options);
    case 'idle':
      return idleItem(raw, position, options);
    default: {
      const _exhaustive: never = kind;
      return _exhaustive;
    }
  }
}

/** Findings as the API spells them (`Overprovisioned`) and as the exports do (`OVER_PROVISIONED`). */
const normalFinding = (finding: string | undefined): string => (finding ?? '').replace(/_/g, '').toLowerCase();

type Option = { rank?: number | undefined; savingsOpportunity?: z.infer<typeof savingsOpportunity>; savingsOpportunityAfterDiscounts?: z.infer<typeof savingsOpportunity> };
/** The options best-ranked first (an option without a rank last), each with its label for reasons: `rank 2`, else its position `3`. */
const byRank = <T extends Option>(options: readonly T[] | undefined): { option: T; label: string }[] =>
  (options ?? [])
    .map((option, i) => ({ option, label: option.rank === undefined ? `${i}` : `rank ${option.rank}` }))
    .sort((a, b) => (a.option.rank ?? Number.MAX_SAFE_INTEGER) - (b.option.rank ?? Number.MAX_SAFE_INTEGER));
const topRanked = <T extends Option>(options: readonly T[] | undefined): T | undefined => byRank(options)[0]?.option;

/**
 * The savings at public prices (what optex's price book realizes), else after discounts, of the option at `field`
 * (`''`: the item itself); a skip when missing or not USD, and a `no-saving` skip when negative (the change costs more).
 */
function savingsOf(option: Option, field: string): { ok: true; usd: number } | { ok: false; code: SkipCode; reason: string } {
  const at = field === '' ? '' : `${field}.`;
  const which = option.savingsOpportunity?.estimatedMonthlySavings ? 'savingsOpportunity' : 'savingsOpportunityAfterDiscounts';
  const money = option[which]?.estimatedMonthlySavings;
  if (money?.value === undefined) return { ok: false, code: 'missing-field', reason: `${at}savingsOpportunity.estimatedMonthlySavings.value: missing` };
  if (money.currency !== 'USD') return { ok: false, code: 'unsupported-currency', reason: `${at}${which}.estimatedMonthlySavings.currency: ${money.currency ?? 'missing'}, optex's savings are in USD` };
  if (cents(money.value) < 0) return { ok: false, code: 'no-saving', reason: costsMoreReason(`${at}${which}.estimatedMonthlySavings.value`, money.value) };
  return { ok: true, usd: cents(money.value) };
}

interface Common {
  readonly arn?: string | undefined;
  /** The item's name for its ARN (`instanceArn`, `volumeArn`, `resourceArn`), for the skip when it is missing. */
  readonly arnField: string;
  readonly resourceId?: string | undefined;
  readonly accountId?: string | undefined;
  readonly tags?: z.infer<typeof awsTags>;
  readonly lastRefreshTimestamp?: number | string | undefined;
}

function recommendationOf(common: Common, nativeAction: string, action: Action, resourceType: Recommendation['resource']['type'], usd: number, ref: string, options: TranslateOptions): ItemResult {
  const arn = parseArn(common.arn);
  const id = resourceIdOf(common.resourceId, arn);
  if (!id) return skipped(ref, 'missing-field', `${common.arnField}: missing${common.arnField === 'resourceArn' ? ' (and no resourceId)' : ''}`);
  const place = placeOf({ accountId: common.accountId }, arn, options);
  if (!place.ok) return skipped(ref, 'missing-field', place.reason);
  const tags = tagRecord(common.tags);
  const createdAt = isoTime(common.lastRefreshTimestamp);
  const recommendation: Recommendation = {
    recommendationId: stableRecommendationId(common.arn || id, nativeAction, action),
    source: COMPUTE_OPTIMIZER_SOURCE,
    accountId: place.accountId,
    region: place.region,
    resource: { type: resourceType, id, ...(tags ? { tags } : {}) },
    action,
    estimatedMonthlySavings: usd,
    currency: 'USD',
    ...(createdAt ? { createdAt } : {}),
  };
  return mapped(recommendation, ref);
}

type Choice = { ok: true; action: Action; usd: number } | { ok: false; code: SkipCode; reason: string };

/**
 * The item's recommendation or skip, by its finding: an `Optimized` resource may still get an option that saves (a
 * newer generation, gp2 → gp3); it is imported only when that option saves something in USD, else skipped as
 * `no-saving` (with why, when the option could not be taken).
 */
function byFinding(finding: string, choice: Choice, ref: string): { ok: true; action: Action; usd: number } | { ok: false; result: ItemResult } {
  if (finding === 'optimized' && (!choice.ok || choice.usd <= 0)) {
    return { ok: false, result: skipped(ref, 'no-saving', `finding: Optimized, nothing to change${choice.ok ? '' : ` (${choice.reason})`}`) };
  }
  return choice.ok ? choice : { ok: false, result: skipped(ref, choice.code, choice.reason) };
}

function instanceItem(raw: unknown, position: string, options: TranslateOptions): ItemResult {
  const parsed = parseItem(instanceRecommendationSchema, raw, position);
  if (!parsed.ok) return parsed.result;
  const item = parsed.value;
  const ref = item.instanceArn || position;
  const finding = normalFinding(item.finding);
  if (finding === 'underprovisioned') return skipped(ref, 'no-saving', 'finding: Underprovisioned, a larger instance costs more');
  const chosen = byFinding(finding, instanceChoice(item), ref);
  if (!chosen.ok) return chosen.result;
  return recommendationOf({ ...item, arn: item.instanceArn, arnField: 'instanceArn' }, 'rightsize', chosen.action, 'ec2:instance', chosen.usd, ref, options);
}

/**
 * The rightsize to the best-ranked option without `platformDifferences`: a move across any (Architecture, Hypervisor,
 * VirtualizationType; NetworkInterface needs the ENA driver, StorageInterface the NVMe driver; InstanceStoreAvailability
 * loses the instance-store data) may not boot or may lose data, and optex cannot check the drivers; when every option
 * has some, `unsupported-action` naming them.
 */
function instanceChoice(item: z.infer<typeof instanceRecommendationSchema>): Choice {
  if (!item.currentInstanceType) return { ok: false, code: 'missing-field', reason: 'currentInstanceType: missing' };
  const ranked = byRank(item.recommendationOptions);
  if (ranked.length === 0) return { ok: false, code: 'missing-field', reason: 'recommendationOptions[rank 1].instanceType: missing' };
  const usable = ranked.find(({ option }) => (option.platformDifferences ?? []).length === 0);
  if (!usable) {
    const named = ranked.map(({ option, label }) => `${label} ${option.instanceType ?? '(no instanceType)'}: ${(option.platformDifferences ?? []).join(', ')}`).join('; ');
    return {
      ok: false,
      code: 'unsupported-action',
      reason:
        `recommendationOptions.platformDifferences: every option differs from the instance in platform (${named}); ` +
        'it may not boot there (architecture, hypervisor, virtualization type, ENA and NVMe drivers) or may lose instance-store data, which optex cannot check: it changes instance types only',
    };
  }
  const at = `recommendationOptions[${usable.label}]`;
  const target = usable.option.instanceType;
  if (!target) return { ok: false, code: 'missing-field', reason: `${at}.instanceType: missing` };
  if (target === item.currentInstanceType) return { ok: false, code: 'no-saving', reason: `${at}.instanceType: ${target}, the type it has` };
  const savings = savingsOf(usable.option, at);
  if (!savings.ok) return savings;
  return { ok: true, action: { type: 'rightsize', currentInstanceType: item.currentInstanceType, targetInstanceType: target }, usd: savings.usd };
}

function volumeItem(raw: unknown, position: string, options: TranslateOptions): ItemResult {
  const parsed = parseItem(volumeRecommendationSchema, raw, position);
  if (!parsed.ok) return parsed.result;
  const item = parsed.value;
  const ref = item.volumeArn || position;
  const chosen = byFinding(normalFinding(item.finding), volumeChoice(item), ref);
  if (!chosen.ok) return chosen.result;
  return recommendationOf({ ...item, arn: item.volumeArn, arnField: 'volumeArn' }, 'modify-volume', chosen.action, 'ec2:volume', chosen.usd, ref, options);
}

/** The modify-volume to the top-ranked option: its type, IOPS and throughput; a size change is `unsupported-action`. */
function volumeChoice(item: z.infer<typeof volumeRecommendationSchema>): Choice {
  const current = item.currentConfiguration;
  const top = topRanked(item.volumeRecommendationOptions);
  const target = top?.configuration;
  if (!top || !target?.volumeType) return { ok: false, code: 'missing-field', reason: 'volumeRecommendationOptions[rank 1].configuration.volumeType: missing' };
  if (current?.volumeSize !== undefined && target.volumeSize !== undefined && target.volumeSize !== current.volumeSize) {
    return {
      ok: false,
      code: 'unsupported-action',
      reason: `volumeRecommendationOptions[rank 1].configuration.volumeSize: ${target.volumeSize} GiB (now ${current.volumeSize}); optex changes a volume's type, IOPS and throughput, not its size`,
    };
  }
  if (!isVolumeType(target.volumeType)) return { ok: false, code: 'unsupported-action', reason: notAVolumeType('volumeRecommendationOptions[rank 1].configuration.volumeType', target.volumeType) };
  const action = volumeModification(target.volumeType, target.volumeBaselineIOPS, target.volumeBaselineThroughput);
  if (current?.volumeType === target.volumeType && current.volumeBaselineIOPS === target.volumeBaselineIOPS && current.volumeBaselineThroughput === target.volumeBaselineThroughput) {
    return { ok: false, code: 'no-saving', reason: `volumeRecommendationOptions[rank 1].configuration: the configuration it has (${target.volumeType})` };
  }
  const savings = savingsOf(top, 'volumeRecommendationOptions[rank 1]');
  if (!savings.ok) return savings;
  return { ok: true, action, usd: savings.usd };
}

function idleItem(raw: unknown, position: string, options: TranslateOptions): ItemResult {
  const parsed = parseItem(idleRecommendationSchema, raw, position);
  if (!parsed.ok) return parsed.result;
  const item = parsed.value;
  const ref = item.resourceArn || item.resourceId || position;
  const mapping =
    item.resourceType === 'EC2Instance'
      ? ({ action: { type: 'stop-idle' }, resourceType: 'ec2:instance' } as const)
      : item.resourceType === 'EBSVolume'
        ? ({ action: { type: 'delete-volume', snapshotFirst: true }, resourceType: 'ec2:volume' } as const)
        : undefined;
  if (!mapping) return skipped(ref, 'unsupported-resource-type', `resourceType: ${item.resourceType ?? 'missing'} is not a resource optex acts on when idle (EC2Instance, EBSVolume)`);
  const savings = savingsOf(item, '');
  if (!savings.ok) return skipped(ref, savings.code, savings.reason);
  return recommendationOf({ ...item, arn: item.resourceArn, arnField: 'resourceArn' }, mapping.action.type, mapping.action, mapping.resourceType, savings.usd, ref, options);
}

// ── The S3 exports (CSV): the same items, read from the columns of rank 1 ──

function translateExport(text: string, options: TranslateOptions): Translation {
  let csv: ReturnType<typeof parseCsv>;
  try {
    csv = parseCsv(text);
  } catch (error) {
    throw new AnalyzerFormatError(`not a Compute Optimizer export: unreadable CSV (${(error as Error).message})`);
  }
  const lower = new Map(csv.header.map((h) => [h.toLowerCase(), h]));
  const kind: Kind | undefined = lower.has('instancearn') ? 'instance' : lower.has('volumearn') ? 'volume' : undefined;
  if (!kind) throw new AnalyzerFormatError('not a Compute Optimizer export: the CSV has neither an instanceArn (EC2 instance export) nor a volumeArn (EBS volume export) column');
  return collect(
    csv.rows.map((row, i) => {
      const col = (name: string): string | undefined => {
        const key = lower.get(name.toLowerCase());
        const value = key === undefined ? undefined : row[key]?.trim();
        return value === '' ? undefined : value;
      };
      const line = `line ${i + 2}`;
      const errorCode = col('errorCode');
      if (errorCode) return skipped(col('instanceArn') ?? col('volumeArn') ?? line, 'analyzer-error', `errorCode: ${errorCode}${col('errorMessage') ? `: ${col('errorMessage')}` : ''}`);
      const num = (name: string): number | undefined => (col(name) === undefined || Number.isNaN(Number(col(name))) ? undefined : Number(col(name)));
      const savingsAt = (rank: number) => ({
        estimatedMonthlySavings: { currency: col(`recommendationOptions_${rank}_estimatedMonthlySavings_currency`), value: num(`recommendationOptions_${rank}_estimatedMonthlySavings_value`) },
      });
      const savings = savingsAt(1);
      const common = { accountId: col('accountId'), finding: col('finding'), lastRefreshTimestamp: col('lastRefreshTimestamp_UTC') ?? col('lastRefreshTimestamp') };
      if (kind === 'instance') {
        // Ranks 2 and 3 only with their platformDifferences column: an option whose differences are unknown is not taken.
        const ranks = [1, 2, 3].filter((rank) => col(`recommendationOptions_${rank}_instanceType`) && (rank === 1 || lower.has(`recommendationoptions_${rank}_platformdifferences`)));
        return instanceItem(
          {
            ...common,
            instanceArn: col('instanceArn'),
            currentInstanceType: col('currentInstanceType') ?? col('current_instanceType'),
            recommendationOptions: ranks.map((rank) => {
              const differences = col(`recommendationOptions_${rank}_platformDifferences`);
              return {
                rank,
                instanceType: col(`recommendationOptions_${rank}_instanceType`),
                savingsOpportunity: savingsAt(rank),
                ...(differences ? { platformDifferences: differences.split(/[|;,]/).map((d) => d.trim()) } : {}),
              };
            }),
          },
          line,
          options,
        );
      }
      const configuration = (prefix: string) => ({
        volumeType: col(`${prefix}_volumeType`),
        volumeSize: num(`${prefix}_volumeSize`),
        volumeBaselineIOPS: num(`${prefix}_volumeBaselineIOPS`),
        volumeBaselineThroughput: num(`${prefix}_volumeBaselineThroughput`),
      });
      return volumeItem(
        {
          ...common,
          volumeArn: col('volumeArn'),
          currentConfiguration: configuration('currentConfiguration'),
          volumeRecommendationOptions: col('recommendationOptions_1_configuration_volumeType') ? [{ rank: 1, configuration: configuration('recommendationOptions_1_configuration'), savingsOpportunity: savings }] : [],
        },
        line,
        options,
      );
    }),
  );
}
