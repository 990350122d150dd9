import {
  AnalyzerFormatError,
  REJECTED_PREFIX_CHARS,
  translateAnalyzerDocument,
  type AnalyzerFormat,
  type FieldError,
  type IntakeOutcome,
} from '@optex/domain';
import type { IncomingRecommendation } from '@optex/ports';

/** A rejection to record: the message it stands for and the intake-shaped outcome. */
export interface NativeRejection {
  readonly message: IncomingRecommendation;
  readonly outcome: Extract<IntakeOutcome, { ok: false }>;
}

/** A native analyzer message split into optex records and the items that did not become one. */
export interface NativeExpansion {
  /** One message per translated recommendation (its JSON as the bytes), delivery id `<delivery>#<i>`. */
  readonly records: IncomingRecommendation[];
  /** One per skipped item (delivery id `<delivery>#skipped-<j>`), or one for the whole message when it cannot be read. */
  readonly rejections: NativeRejection[];
  /** Set when the message as a whole is unusable (not JSON, not the format its type names): the dead-letter reason. */
  readonly unusable?: string;
}

/**
 * Translates the body of a message whose CloudEvents `type` names an analyzer format (a Cost Optimization Hub
 * item or list, a Compute Optimizer response or export, a Trusted Advisor check result, a Custodian resources.json)
 * into the records the intake checks, as `optex import` does. Every item is accounted for: a recommendation to
 * ingest, or a rejection whose error is the skip reason (its field first). Deterministic: a redelivery expands to
 * the same delivery ids, so it appends nothing new.
 */
export function expandNativeMessage(format: AnalyzerFormat, message: IncomingRecommendation): NativeExpansion {
  const text = Buffer.from(message.bytes.buffer, message.bytes.byteOffset, message.bytes.length).toString('utf8');
  let document: unknown;
  let translation;
  try {
    document = /^\s*[[{]/.test(text) ? (JSON.parse(text) as unknown) : text;
    translation = translateAnalyzerDocument(format, custodianEnvelope(format, document) ?? { document });
  } catch (error) {
    const reason = error instanceof AnalyzerFormatError || error instanceof SyntaxError ? error.message : String(error);
    const errors: FieldError[] = [{ path: '(root)', message: `(root) is not a ${format} document (ce_type ${message.cloudEventType}): ${reason}` }];
    return { records: [], rejections: [{ message, outcome: { ok: false, errors, raw: { format, prefix: text.slice(0, REJECTED_PREFIX_CHARS), bytes: message.bytes.length } } }], unusable: errors[0]!.message };
  }
  const derived = (suffix: string): IncomingRecommendation => ({ ...message, deliveryId: `${message.deliveryId}#${suffix}`, cloudEventType: undefined });
  return {
    records: translation.recommendations.map((r, i) => ({ ...derived(String(i)), bytes: Buffer.from(JSON.stringify(r), 'utf8'), receivedBytes: undefined })),
    rejections: translation.skipped.map((s, j) => {
      const field = /^([^:\s]+):/.exec(s.reason)?.[1];
      const error: FieldError = field ? { path: field, message: s.reason } : { path: '(root)', message: `(root) ${s.reason}` };
      return { message: derived(`skipped-${j}`), outcome: { ok: false, errors: [error], raw: { format, itemRef: s.itemRef, skipped: s.code } } };
    }),
  };
}

/** Cloud Custodian on the topic: `{resources, metadata}` (its two files in one message), or resources.json alone. */
function custodianEnvelope(format: AnalyzerFormat, document: unknown): { document: unknown; metadata?: unknown } | undefined {
  if (format !== 'custodian' || typeof document !== 'object' || document === null || Array.isArray(document)) return undefined;
  const { resources, metadata } = document as { resources?: unknown; metadata?: unknown };
  return Array.isArray(resources) ? { document: resources, ...(metadata === undefined ? {} : { metadata }) } : undefined;
}
