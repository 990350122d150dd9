/**
 * What a service receives from the bus once the transport has decoded it: a lifecycle event
 * published from the log (topic `optex.internal.events.v1`, CloudEvents binary mode), or a raw
 * recommendation (topic `optex.recommendations.v1`). Services never see transport headers.
 */
export interface IntegrationEvent {
  readonly kind: 'event';
  /** The stored event id (also the CloudEvent `ce_id`). */
  readonly id: string;
  readonly type: string;
  readonly stream: string;
  readonly revision: bigint;
  readonly data: unknown;
  readonly metadata: Readonly<Record<string, unknown>>;
  readonly recordedAt: Date;
  /** Delivery identity (`topic/partition/offset`), for idempotency keys and logs. */
  readonly deliveryId: string;
  readonly attempt: number;
}

export interface IncomingRecommendation {
  readonly kind: 'recommendation';
  /** The message as received, bytes unchanged: may be anything, including invalid UTF-8 or JSON. */
  readonly bytes: Uint8Array;
  /** The record's full size when `bytes` is only its first part (the CLI keeps a prefix of a record over the size limit). */
  readonly receivedBytes?: number;
  /** Stable identity of this submission: a file's hash + index, or `topic/partition/offset`. */
  readonly deliveryId: string;
  /** Position of the record in its input file, when it came from one. */
  readonly index?: number;
  readonly dryRun: boolean;
  readonly attempt: number;
  /**
   * The message's CloudEvents `type` (`ce_type` header), when it has one: an analyzer's type (e.g.
   * `com.amazonaws.cost-optimization-hub.recommendation`) says the body is that analyzer's own document.
   */
  readonly cloudEventType?: string;
  /** Who submitted it, when optex's CLI or API published it (the `x-optex-submitted-by` header): see {@link Submitter}. */
  readonly submittedBy?: Submitter;
}

/**
 * Who submitted a recommendation, as the publisher knew them: `optex run`/`submit` (`cli`: whoever holds the files and
 * the bus), or the HTTP API with the caller it authenticated (`method`, `subject`). Recorded as `via` in the metadata
 * of `OptimizationReceived`, as a decision records how its person was authenticated; absent for a message an analyzer
 * or a bridge published itself.
 */
export type Submitter = { readonly channel: 'cli' } | { readonly channel: 'api'; readonly method: 'jwt' | 'api-token'; readonly subject: string };

/** The longest subject a `x-optex-submitted-by` header may name (the API's stated texts are 1,024 characters). */
const MAX_SUBJECT = 1024;

/** The `x-optex-submitted-by` header's value for a submitter. */
export const submitterHeader = (submitter: Submitter): string => JSON.stringify(submitter);

/** The submitter a `x-optex-submitted-by` header names, or undefined when it is absent or not one optex writes. */
export function submitterOf(header: string | undefined): Submitter | undefined {
  if (header === undefined || header.length > 2 * MAX_SUBJECT) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(header);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const { channel, method, subject } = value as Record<string, unknown>;
  if (channel === 'cli') return { channel };
  if (channel === 'api' && (method === 'jwt' || method === 'api-token') && typeof subject === 'string' && subject.length > 0 && subject.length <= MAX_SUBJECT) return { channel, method, subject };
  return undefined;
}

/** Headers optex sets on messages it publishes besides the CloudEvents ones. */
export const HEADERS = {
  deliveryId: 'x-optex-delivery-id',
  index: 'x-optex-index',
  dryRun: 'x-optex-dry-run',
  /** Set on a record the sender cut to a prefix (over the size limit): its full size in bytes. */
  recordBytes: 'x-optex-record-bytes',
  /** Who submitted a recommendation (`optex run`/`submit`, the API): {@link submitterHeader}. */
  submittedBy: 'x-optex-submitted-by',
  stream: 'x-optex-stream',
  revision: 'x-optex-revision',
} as const;
