import { z } from 'zod';
import { computeOptimizerDocumentSchema, idleRecommendationSchema, instanceRecommendationSchema, translateComputeOptimizer, volumeRecommendationSchema } from './compute-optimizer';
import { cohDocumentSchema, cohRecommendationSchema, translateCostOptimizationHub } from './cost-optimization-hub';
import { custodianMetadataSchema, custodianResourceSchema, custodianResourcesSchema, translateCustodian } from './custodian';
import { translateTrustedAdvisor, trustedAdvisorDocumentSchema } from './trusted-advisor';
import { AnalyzerFormatError, type TranslateOptions, type Translation } from './translation';

/** The analyzers `optex import --from` reads. */
export const ANALYZER_FORMATS = ['coh', 'compute-optimizer', 'trusted-advisor', 'custodian'] as const;
export type AnalyzerFormat = (typeof ANALYZER_FORMATS)[number];

/** A native document: parsed JSON, or text for the CSV exports; Cloud Custodian's `metadata.json` beside its resources. */
export interface AnalyzerDocument {
  readonly document: unknown;
  readonly metadata?: unknown;
}

interface Analyzer {
  readonly title: string;
  /** The CloudEvents `type` of one native item on `optex.recommendations.v1`. */
  readonly cloudEventType: string;
  readonly translate: (input: AnalyzerDocument, options: TranslateOptions) => Translation;
  /** Whether a document looks like this format (to name it when another was given). */
  readonly looksLike: (document: unknown) => boolean;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const firstItem = (v: unknown): unknown => (Array.isArray(v) ? v[0] : isObject(v) && Array.isArray(v['items']) ? v['items'][0] : v);

export const ANALYZERS: Readonly<Record<AnalyzerFormat, Analyzer>> = {
  coh: {
    title: 'AWS Cost Optimization Hub',
    cloudEventType: 'com.amazonaws.cost-optimization-hub.recommendation',
    translate: (input, options) => translateCostOptimizationHub(input.document, options),
    looksLike: (document) => {
      const item = firstItem(document);
      return isObject(item) && typeof item['actionType'] === 'string' && ('currentResourceType' in item || 'resourceArn' in item);
    },
  },
  'compute-optimizer': {
    title: 'AWS Compute Optimizer',
    cloudEventType: 'com.amazonaws.compute-optimizer.recommendation',
    translate: (input, options) => translateComputeOptimizer(input.document, options),
    looksLike: (document) =>
      typeof document === 'string'
        ? /^\uFEFF?[^\n]*\b(instanceArn|volumeArn)\b/i.test(document)
        : isObject(document) && ['instanceRecommendations', 'volumeRecommendations', 'idleRecommendations'].some((k) => Array.isArray(document[k])),
  },
  'trusted-advisor': {
    title: 'AWS Trusted Advisor',
    cloudEventType: 'com.amazonaws.trusted-advisor.check-result',
    translate: (input, options) => translateTrustedAdvisor(input.document, options),
    looksLike: (document) => isObject(document) && (isObject(document['result']) ? Array.isArray(document['result']['flaggedResources']) : Array.isArray(document['flaggedResources'])),
  },
  custodian: {
    title: 'Cloud Custodian',
    cloudEventType: 'io.cloudcustodian.resources',
    translate: (input, options) => translateCustodian(input.document, input.metadata, options),
    looksLike: (document) => {
      const item = firstItem(document);
      return Array.isArray(document) && isObject(item) && ['InstanceId', 'VolumeId', 'AllocationId', 'SnapshotId'].some((k) => typeof item[k] === 'string');
    },
  },
};

/** Translates a native document of `format`. Throws {@link AnalyzerFormatError} when it is not that format. */
export function translateAnalyzerDocument(format: AnalyzerFormat, input: AnalyzerDocument, options: TranslateOptions = {}): Translation {
  if (!ANALYZERS[format].looksLike(input.document)) {
    const a = /^[AEIOU]/.test(ANALYZERS[format].title) ? 'an' : 'a';
    const other = detectAnalyzerFormat(input.document);
    if (other === 'optex') throw new AnalyzerFormatError(`not ${a} ${ANALYZERS[format].title} document: it looks like optex recommendations already (use optex run)`);
    if (other !== undefined) throw new AnalyzerFormatError(`not ${a} ${ANALYZERS[format].title} document: it looks like ${ANALYZERS[other].title} (--from ${other})`);
  }
  return ANALYZERS[format].translate(input, options);
}

/** Which format a document looks like: an analyzer's, `optex` (already recommendations), or `undefined`. */
export function detectAnalyzerFormat(document: unknown): AnalyzerFormat | 'optex' | undefined {
  const item = firstItem(document);
  if (isObject(item) && 'recommendationId' in item && isObject(item['action']) && 'resource' in item) return 'optex';
  return ANALYZER_FORMATS.find((f) => ANALYZERS[f].looksLike(document));
}

/** The format a CloudEvents `type` names, if it names one. */
export function analyzerFormatOfCloudEventType(type: string | undefined): AnalyzerFormat | undefined {
  return type === undefined ? undefined : ANALYZER_FORMATS.find((f) => ANALYZERS[f].cloudEventType === type);
}

/** The input formats' zod schemas, by the file name they are exported under (`docs/analyzers/<name>.schema.json`). */
const ANALYZER_SCHEMAS: Readonly<Record<string, z.ZodType>> = {
  'coh-document': cohDocumentSchema,
  'coh-recommendation': cohRecommendationSchema,
  'compute-optimizer-document': computeOptimizerDocumentSchema,
  'compute-optimizer-instance-recommendation': instanceRecommendationSchema,
  'compute-optimizer-volume-recommendation': volumeRecommendationSchema,
  'compute-optimizer-idle-recommendation': idleRecommendationSchema,
  'trusted-advisor-document': trustedAdvisorDocumentSchema,
  'custodian-resources': custodianResourcesSchema,
  'custodian-resource': custodianResourceSchema,
  'custodian-metadata': custodianMetadataSchema,
};

/**
 * The analyzers' input formats as JSON Schema (draft 2020-12), as optex reads them: objects are open (AWS adds
 * fields), the fields optex reads are typed. The Compute Optimizer export CSVs have no JSON Schema; their columns
 * are listed in docs/design.md.
 */
export function analyzerJsonSchemas(): Record<string, Record<string, unknown>> {
  return Object.fromEntries(Object.entries(ANALYZER_SCHEMAS).map(([name, schema]) => [name, z.toJSONSchema(schema, { io: 'input', target: 'draft-2020-12' }) as Record<string, unknown>]));
}
