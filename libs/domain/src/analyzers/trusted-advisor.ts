import { z } from 'zod';
import type { Action, Recommendation } from '../types';
import { addressMonthly, defaultPriceBook } from '../pricing';
import {
  AnalyzerFormatError,
  cents,
  collect,
  costsMoreReason,
  ec2Arn,
  isoTime,
  mapped,
  parseItem,
  placeOf,
  regionOfZone,
  skipped,
  stableRecommendationId,
  type ItemResult,
  type TranslateOptions,
  type Translation,
} from './translation';

// ── The format: AWS Support API `DescribeTrustedAdvisorCheckResult` (its `result`), optionally merged with
//    `DescribeTrustedAdvisorChecks` (its `checks`, whose `metadata` is the column list of each check). ──

const flaggedResource = z.looseObject({
  status: z.string().optional(),
  region: z.string().optional(),
  resourceId: z.string().optional(),
  isSuppressed: z.boolean().optional(),
  metadata: z.array(z.string().nullable()).optional(),
});
const checkResult = z.looseObject({
  checkId: z.string(),
  timestamp: z.string().optional(),
  status: z.string().optional(),
  flaggedResources: z.array(z.unknown()),
});
type CheckResult = z.infer<typeof checkResult>;
const checkDescription = z.looseObject({ id: z.string(), name: z.string().optional(), category: z.string().optional(), metadata: z.array(z.string()).optional() });

/**
 * What `optex import --from trusted-advisor` reads: `{result, checks?, accountId?}` (the two responses merged, e.g.
 * `jq -s add`; Trusted Advisor's responses do not say which account they are about, so a sender may add it), or the
 * result alone.
 */
export const trustedAdvisorDocumentSchema = z
  .union([
    z.looseObject({
      result: checkResult,
      checks: z.array(checkDescription).optional(),
      accountId: z.string().optional().describe('The account the check ran in (not part of the AWS responses; --account otherwise).'),
    }),
    checkResult,
  ])
  .meta({ title: 'AWS Trusted Advisor DescribeTrustedAdvisorCheckResult response (+ DescribeTrustedAdvisorChecks checks)' });

export const TRUSTED_ADVISOR_SOURCE = 'aws-trusted-advisor';

interface CostCheck {
  readonly name: string;
  /** The check's columns in AWS's order, used when the document brings no `checks`. */
  readonly columns: readonly string[];
  readonly resourceType: Recommendation['resource']['type'];
  readonly action: Action;
}

const days = Array.from({ length: 14 }, (_, i) => `Day ${i + 1}`);
/** The cost checks optex acts on, by check id. */
export const TRUSTED_ADVISOR_CHECKS: Readonly<Record<string, CostCheck>> = {
  Qch7DwouX1: {
    name: 'Low Utilization Amazon EC2 Instances',
    columns: ['Region/AZ', 'Instance ID', 'Instance Name', 'Instance Type', 'Estimated Monthly Savings', ...days, '14-Day Average CPU Utilization', '14-Day Average Network I/O', 'Number of Days Low Utilization'],
    resourceType: 'ec2:instance',
    action: { type: 'stop-idle' },
  },
  Z4AUBRNSmz: { name: 'Unassociated Elastic IP Addresses', columns: ['Region', 'IP Address'], resourceType: 'ec2:elastic-ip', action: { type: 'release-address' } },
  DAvU99Dc4C: {
    name: 'Underutilized Amazon EBS Volumes',
    columns: ['Region', 'Volume ID', 'Volume Name', 'Volume Type', 'Volume Size', 'Monthly Storage Cost', 'Snapshot ID', 'Snapshot Name', 'Snapshot Age'],
    resourceType: 'ec2:volume',
    action: { type: 'delete-volume', snapshotFirst: true },
  },
};

/** Translates a Trusted Advisor check result: each flagged resource becomes a recommendation or a skip. */
export function translateTrustedAdvisor(document: unknown, options: TranslateOptions = {}): Translation {
  const parsed = trustedAdvisorDocumentSchema.safeParse(document);
  if (!parsed.success) throw new AnalyzerFormatError('not a Trusted Advisor document: expected a DescribeTrustedAdvisorCheckResult response ({result: {checkId, flaggedResources}}), optionally with the checks of DescribeTrustedAdvisorChecks');
  const doc = parsed.data as { result?: CheckResult; checks?: z.infer<typeof checkDescription>[]; accountId?: string };
  const withAccount: TranslateOptions = doc.accountId ? { ...options, accountId: doc.accountId } : options;
  const result: CheckResult = doc.result ?? (parsed.data as CheckResult);
  const described = doc.checks?.find((c) => c.id === result.checkId);
  const check = TRUSTED_ADVISOR_CHECKS[result.checkId] ?? Object.values(TRUSTED_ADVISOR_CHECKS).find((c) => c.name === described?.name);
  const columns = described?.metadata ?? check?.columns;
  return collect(
    result.flaggedResources.map((raw, i): ItemResult => {
      const position = `flaggedResources[${i}]`;
      const parsedItem = parseItem(flaggedResource, raw, position, `${position}.`);
      if (!parsedItem.ok) return parsedItem.result;
      const item = parsedItem.value;
      if (!check || !columns) {
        return skipped(item.resourceId ?? position, 'unsupported-action', `checkId: ${result.checkId}${described?.name ? ` (${described.name})` : ''} is not a cost check optex acts on (${Object.keys(TRUSTED_ADVISOR_CHECKS).join(', ')})`);
      }
      const row: Record<string, string> = {};
      columns.forEach((c, k) => {
        const v = item.metadata?.[k];
        if (v !== undefined && v !== null && v !== '') row[c] = v;
      });
      return flaggedItem(check, row, item, item.resourceId ?? position, result.timestamp, withAccount);
    }),
  );
}

/** `$1,234.56` → 1234.56. */
const dollars = (text: string | undefined): number | undefined => {
  if (text === undefined) return undefined;
  const n = Number(text.replace(/[$,\s]/g, ''));
  return Number.isFinite(n) ? n : undefined;
};

function flaggedItem(check: CostCheck, row: Record<string, string>, item: z.infer<typeof flaggedResource>, position: string, timestamp: string | undefined, options: TranslateOptions): ItemResult {
  const idColumn = check.resourceType === 'ec2:instance' ? 'Instance ID' : check.resourceType === 'ec2:volume' ? 'Volume ID' : 'IP Address';
  const shown = row[idColumn];
  const ref = shown ?? position;
  if (item.isSuppressed) return skipped(ref, 'suppressed', 'isSuppressed: true (suppressed in Trusted Advisor)');
  if (item.status === 'ok') return skipped(ref, 'no-saving', 'status: ok (not flagged)');
  if (!shown) return skipped(position, 'missing-field', `metadata "${idColumn}": missing`);
  const zoneOrRegion = row['Region/AZ'] ?? row['Region'];
  const place = placeOf({ region: item.region ?? regionOfZone(zoneOrRegion) }, undefined, options, { accountId: 'accountId (Trusted Advisor does not say)', region: 'region' });
  if (!place.ok) return skipped(ref, 'missing-field', place.reason);
  let id = shown;
  let usd: number | undefined;
  if (check.resourceType === 'ec2:elastic-ip') {
    const allocationId = options.allocationIds?.[shown];
    if (!allocationId) return skipped(ref, 'missing-field', `allocationId: Trusted Advisor names the address ${shown} only; pass --addresses with an ec2 describe-addresses output`);
    id = allocationId;
    usd = addressMonthly(options.priceBook ?? defaultPriceBook, place.region) ?? 0;
  } else {
    const column = check.resourceType === 'ec2:instance' ? 'Estimated Monthly Savings' : 'Monthly Storage Cost';
    usd = dollars(row[column]);
    if (usd === undefined) return skipped(ref, 'missing-field', `metadata "${column}": missing or not an amount`);
    if (cents(usd) < 0) return skipped(ref, 'no-saving', costsMoreReason(`metadata "${column}"`, usd));
  }
  const createdAt = isoTime(timestamp);
  return mapped({
    recommendationId: stableRecommendationId(ec2Arn(place.region, place.accountId, check.resourceType, id), check.name.replace(/ /g, ''), check.action),
    source: TRUSTED_ADVISOR_SOURCE,
    accountId: place.accountId,
    region: place.region,
    resource: { type: check.resourceType, id },
    action: check.action,
    estimatedMonthlySavings: cents(usd),
    currency: 'USD',
    ...(createdAt ? { createdAt } : {}),
  });
}
