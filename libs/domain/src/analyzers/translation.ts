import { z } from 'zod';
import type { PriceBook } from '../pricing';
import type { Action, Recommendation } from '../types';
import { pathLabel } from '../field-errors';

// ── What every translator returns ──

/** Why an analyzer's item did not become a recommendation; the counts of `optex import` are per code. */
export const SKIP_CODES = [
  'unsupported-action',
  'unsupported-resource-type',
  'missing-field',
  'unsupported-currency',
  'no-saving',
  'analyzer-error',
  'suppressed',
  'invalid-item',
  'competing-recommendation',
] as const;
export type SkipCode = (typeof SKIP_CODES)[number];

/** An item of the analyzer's document that did not become a recommendation, and why. */
export interface Skip {
  /** Which item: its ARN, resource id or position in the document (`items[3]`). */
  readonly itemRef: string;
  readonly code: SkipCode;
  /** Starts with the field or value it is about. */
  readonly reason: string;
}

/** A native document translated: every item is in exactly one of the two lists. */
export interface Translation {
  readonly recommendations: Recommendation[];
  readonly skipped: Skip[];
  /**
   * Set when the document is one page of several: its non-blank `nextToken` (the API's) or `NextToken` (the AWS
   * CLI's, with `--max-items`). The items of the other pages are not in this translation.
   */
  readonly partial?: { readonly nextToken: string };
}

/** What the command line adds to a document. */
export interface TranslateOptions {
  /** The action to take on Cloud Custodian's resources (an optex action or a Custodian action name). */
  readonly action?: string;
  /** Account when the document and the ARN do not say. */
  readonly accountId?: string;
  /** Region when the document and the ARN do not say. */
  readonly region?: string;
  /**
   * Prices for analyzers that give no savings (Trusted Advisor's Elastic IP check, Cloud Custodian): the monthly cost
   * of what the action removes minus what it adds, `0` where the book has no figure. @defaultValue the shipped book
   */
  readonly priceBook?: PriceBook;
  /**
   * Allocation ids by public IP (from an `ec2 describe-addresses` output): Trusted Advisor names an Elastic IP by
   * its address only, and EC2 releases a VPC address by its allocation id.
   */
  readonly allocationIds?: Readonly<Record<string, string>>;
}

/** One item's fate while it is translated; a recommendation may carry its item's reference (for a later skip of it). */
export type ItemResult = { readonly ok: true; readonly recommendation: Recommendation; readonly itemRef?: string } | { readonly ok: false; readonly skip: Skip };

export const mapped = (recommendation: Recommendation, itemRef?: string): ItemResult => ({ ok: true, recommendation, ...(itemRef === undefined ? {} : { itemRef }) });
export const skipped = (itemRef: string, code: SkipCode, reason: string): ItemResult => ({ ok: false, skip: { itemRef, code, reason } });

/** Collects item results into a {@link Translation}, in input order. */
export function collect(results: Iterable<ItemResult>): Translation {
  const recommendations: Recommendation[] = [];
  const skips: Skip[] = [];
  for (const r of results) {
    if (r.ok) recommendations.push(r.recommendation);
    else skips.push(r.skip);
  }
  return { recommendations, skipped: skips };
}

/**
 * The page token of a paginated response (`nextToken` of the API, `NextToken` of the AWS CLI with `--max-items`),
 * as {@link Translation.partial}; `{}` when the document has none (absent, `null` or blank), or is not an object.
 */
export function partialOf(document: unknown): { partial?: { nextToken: string } } {
  if (typeof document !== 'object' || document === null || Array.isArray(document)) return {};
  const fields = document as Record<string, unknown>;
  const token = [fields['nextToken'], fields['NextToken']].find((t): t is string => typeof t === 'string' && t.trim() !== '');
  return token === undefined ? {} : { partial: { nextToken: token } };
}

/**
 * One recommendation per resource (same account, region, resource type and id): an analyzer may give alternatives for
 * one resource (Cost Optimization Hub with `includeAllRecommendations`: Rightsize and Stop of one instance; Compute
 * Optimizer's instance and idle lists merged), and executing both would act twice on it. Keeps the one with the
 * highest `estimatedMonthlySavings`, on a tie the smallest `recommendationId` (so the input order does not matter);
 * every other becomes a `competing-recommendation` skip naming the one kept (its item: the reference it was
 * {@link mapped} with, else its resource id). Skips pass through; the order is kept.
 */
export function onePerResource(results: readonly ItemResult[]): ItemResult[] {
  const keyOf = (r: Recommendation) => JSON.stringify([r.accountId, r.region, r.resource.type, r.resource.id]);
  const better = (a: Recommendation, b: Recommendation) =>
    a.estimatedMonthlySavings !== b.estimatedMonthlySavings ? a.estimatedMonthlySavings > b.estimatedMonthlySavings : a.recommendationId < b.recommendationId;
  const kept = new Map<string, { recommendation: Recommendation; index: number }>();
  results.forEach((result, index) => {
    if (!result.ok) return;
    const key = keyOf(result.recommendation);
    const held = kept.get(key);
    if (!held || better(result.recommendation, held.recommendation)) kept.set(key, { recommendation: result.recommendation, index });
  });
  return results.map((result, index) => {
    if (!result.ok) return result;
    const winner = kept.get(keyOf(result.recommendation))!;
    if (winner.index === index) return result;
    const [loser, keep] = [result.recommendation, winner.recommendation];
    return skipped(
      result.itemRef ?? loser.resource.id,
      'competing-recommendation',
      `recommendationId: ${loser.recommendationId} (${loser.action.type}, ${loser.estimatedMonthlySavings} a month) competes with ${keep.recommendationId} (${keep.action.type}, ${keep.estimatedMonthlySavings} a month) for ${loser.resource.type} ${loser.resource.id}; one recommendation per resource is kept, the one with the highest estimated savings`,
    );
  });
}

/**
 * Parses one item with its zod schema; a failure is an `invalid-item` skip naming the field (up to three): `prefix`
 * then the field's path (`flaggedResources[0].` + `metadata.0`), the item itself (`prefix` without its dot, else
 * `(root)`) when it is the item that is wrong.
 */
export function parseItem<T>(schema: z.ZodType<T>, item: unknown, itemRef: string, prefix = ''): { ok: true; value: T } | { ok: false; result: ItemResult } {
  const parsed = schema.safeParse(item);
  if (parsed.success) return { ok: true, value: parsed.data };
  const label = (path: readonly PropertyKey[]) => (path.length === 0 ? prefix.replace(/\.$/, '') || '(root)' : `${prefix}${pathLabel(path)}`);
  const issues = parsed.error.issues.slice(0, 3).map((i) => `${label(i.path)}: ${i.message}`);
  return { ok: false, result: skipped(itemRef, 'invalid-item', issues.join('; ')) };
}

/** The document as a whole is not the format it was given as (a usage error: nothing is translated). */
export class AnalyzerFormatError extends Error {
  constructor(message: string) {
    super(message);
    Object.setPrototypeOf(this, new.target.prototype);
  }
}

// ── Shared pieces of the AWS formats ──

/** The parts of an ARN optex needs: `arn:aws:ec2:us-east-1:123456789012:instance/i-…`. */
export interface ArnParts {
  readonly service: string;
  readonly region: string;
  readonly accountId: string;
  readonly resourceType: string;
  readonly resourceId: string;
}

export function parseArn(arn: string | undefined): ArnParts | undefined {
  if (!arn) return undefined;
  const m = /^arn:aws[a-z-]*:([^:]*):([^:]*):([^:]*):(.+)$/.exec(arn);
  if (!m) return undefined;
  const resource = m[4]!;
  const slash = resource.search(/[/:]/);
  return {
    service: m[1]!,
    region: m[2]!,
    accountId: m[3]!,
    resourceType: slash < 0 ? '' : resource.slice(0, slash),
    resourceId: slash < 0 ? resource : resource.slice(slash + 1),
  };
}

/**
 * The resource id of an item: its id field, or the id its ARN ends with. An id field that is itself an ARN (Cost
 * Optimization Hub: resourceId "is the same as the ARN, if available") gives the id that ARN ends with (`i-…`, `vol-…`).
 */
export function resourceIdOf(id: string | undefined, arn: ArnParts | undefined): string | undefined {
  return parseArn(id)?.resourceId || id || arn?.resourceId || undefined;
}

/** Where the item is: the document's own field first, then its ARN, then the command line's flag. */
export function placeOf(
  fields: { readonly accountId?: string | undefined; readonly region?: string | undefined },
  arn: ArnParts | undefined,
  options: TranslateOptions,
  fieldNames: { readonly accountId: string; readonly region: string } = { accountId: 'accountId', region: 'region' },
): { ok: true; accountId: string; region: string } | { ok: false; reason: string } {
  const accountId = nonBlank(fields.accountId) ?? nonBlank(arn?.accountId) ?? options.accountId;
  const region = nonBlank(fields.region) ?? nonBlank(arn?.region) ?? options.region;
  if (!accountId) return { ok: false, reason: `${fieldNames.accountId}: missing (not in the item nor its ARN); pass --account` };
  if (!region) return { ok: false, reason: `${fieldNames.region}: missing (not in the item nor its ARN); pass --region` };
  return { ok: true, accountId, region };
}

const nonBlank = (s: string | undefined): string | undefined => (s !== undefined && s.trim() !== '' ? s : undefined);

/** AWS's tag lists (`[{key, value}]` in the JSON APIs, `[{Key, Value}]` in EC2's Describe records) as optex's record. */
export function tagRecord(tags: readonly { key?: string; value?: string; Key?: string; Value?: string }[] | undefined): Record<string, string> | undefined {
  if (!tags || tags.length === 0) return undefined;
  const out: Record<string, string> = {};
  for (const t of tags) {
    const key = t.key ?? t.Key;
    if (key !== undefined) out[key] = t.value ?? t.Value ?? '';
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

/** An AWS timestamp (epoch seconds on the wire, or an ISO string as the SDKs print them) as ISO-8601; `undefined` when unreadable. */
export function isoTime(value: number | string | undefined): string | undefined {
  if (value === undefined || value === '') return undefined;
  // A zone-less date-time (the exports' `lastRefreshTimestamp_UTC`, `2026-01-01 00:00:00`) is UTC.
  const text = typeof value === 'string' && /^\d{4}-\d\d-\d\d[ T]\d\d:\d\d(:\d\d(\.\d+)?)?$/.test(value) ? `${value.replace(' ', 'T')}Z` : value;
  const date = typeof text === 'number' ? new Date(text * 1000) : /^\d+(\.\d+)?$/.test(text) ? new Date(Number(text) * 1000) : new Date(text);
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString();
}

/**
 * The stable `recommendationId` of an imported recommendation: the resource (its ARN, else its id), the analyzer's
 * action and, for a change of type, the target (`…/i-0a1b#Rightsize:m5.large`). Deterministic: importing the same
 * finding again is a duplicate; a new target for the same resource is a new recommendation.
 */
export function stableRecommendationId(resource: string, nativeAction: string, action: Action): string {
  const target = action.type === 'rightsize' ? `:${action.targetInstanceType}` : action.type === 'modify-volume' ? `:${action.targetVolumeType}` : '';
  return `${resource}#${nativeAction}${target}`;
}

/**
 * The ARN of an EC2 resource optex acts on, for analyzers that give only ids (Trusted Advisor, Cloud Custodian), in
 * its region's partition (see {@link arnPartitionOf}).
 */
export function ec2Arn(region: string, accountId: string, resourceType: Recommendation['resource']['type'], id: string): string {
  const kind = { 'ec2:instance': 'instance', 'ec2:volume': 'volume', 'ec2:elastic-ip': 'elastic-ip', 'ec2:snapshot': 'snapshot', 'ec2:reserved-instances': 'reserved-instances' }[resourceType];
  return `arn:${arnPartitionOf(region)}:ec2:${region}:${accountId}:${kind}/${id}`;
}

/** The ARN partition of a region: `aws-us-gov` (`us-gov-*`), `aws-cn` (`cn-*`), `aws-iso` (`us-iso-*`), `aws-iso-b` (`us-isob-*`), else `aws`. */
export function arnPartitionOf(region: string): string {
  if (region.startsWith('us-gov-')) return 'aws-us-gov';
  if (region.startsWith('cn-')) return 'aws-cn';
  if (region.startsWith('us-iso-')) return 'aws-iso';
  if (region.startsWith('us-isob-')) return 'aws-iso-b';
  return 'aws';
}

/** The region of an availability zone (`us-east-1b` → `us-east-1`; a Local Zone `us-east-1-bos-1a` → `us-east-1`). */
export function regionOfZone(zone: string | undefined): string | undefined {
  const m = zone === undefined ? null : /^([a-z]{2}(?:-[a-z]+)+-\d+)/.exec(zone);
  return m ? m[1] : undefined;
}

/**
 * The reason of a `no-saving` skip for negative estimated savings (the change costs more than it saves): such an item
 * is skipped, never imported with its savings turned into 0. Zero savings are not negative: they are imported.
 */
export const costsMoreReason = (field: string, usd: number, detail = ''): string => `${field}: ${usd}${detail}, the change costs more than it saves`;

/** Rounds money to cents (analyzers print more digits than they mean). */
export const cents = (usd: number): number => Math.round(usd * 100) / 100;

/** Schema pieces for AWS's tag lists and timestamps. */
export const awsTags = z.array(z.looseObject({ key: z.string().optional(), value: z.string().optional() })).optional();
export const awsTimestamp = z.union([z.number(), z.string()]).optional();
