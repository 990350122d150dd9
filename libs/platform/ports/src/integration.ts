/**
 * What a service receives from the bus once the transport has decoded it: a lifecycle event
 * published from the log (topic `optex.events.v1`, CloudEvents binary mode), or a raw
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
  /** Raw message text; may be anything, including invalid JSON. */
  readonly raw: string;
  /** Stable identity of this submission: a file's hash + index, or `topic/partition/offset`. */
  readonly deliveryId: string;
  /** Position of the record in its input file, when it came from one. */
  readonly index?: number;
  readonly dryRun: boolean;
  readonly attempt: number;
}

/** Headers optex sets on messages it publishes besides the CloudEvents ones. */
export const HEADERS = {
  deliveryId: 'x-optex-delivery-id',
  index: 'x-optex-index',
  dryRun: 'x-optex-dry-run',
  stream: 'x-optex-stream',
  revision: 'x-optex-revision',
} as const;
