import { z } from 'zod';

/**
 * EC2's request throttling, as AWS documents it ("Request throttling for the Amazon EC2 API"): token buckets per
 * account and region. Each API action spends one token from its bucket: a few resource-intensive actions have buckets
 * of their own, other mutating actions share the mutating bucket, describe/get/list actions the non-mutating one. A
 * bucket holds at most `capacity` tokens and gains `refillPerSecond` a second; a call with no token left is answered
 * `RequestLimitExceeded`.
 */
export const EC2_BUCKETS = ['non-mutating', 'mutating', 'DeleteVolume', 'CreateSnapshot', 'DeleteSnapshot', 'PurchaseReservedInstancesOffering', 'StartInstances'] as const;
export type Ec2Bucket = (typeof EC2_BUCKETS)[number];

export interface BucketFigures {
  readonly capacity: number;
  readonly refillPerSecond: number;
}

/** AWS's default figures per account and region (the documented defaults; an account's may have been raised). */
export const AWS_EC2_BUCKETS: Readonly<Record<Ec2Bucket, BucketFigures>> = {
  'non-mutating': { capacity: 100, refillPerSecond: 20 },
  mutating: { capacity: 50, refillPerSecond: 5 },
  DeleteVolume: { capacity: 100, refillPerSecond: 5 },
  CreateSnapshot: { capacity: 100, refillPerSecond: 5 },
  DeleteSnapshot: { capacity: 100, refillPerSecond: 5 },
  PurchaseReservedInstancesOffering: { capacity: 5, refillPerSecond: 5 },
  StartInstances: { capacity: 5, refillPerSecond: 2 },
};

const OWN_BUCKET = new Set<string>(EC2_BUCKETS.filter((b) => b !== 'mutating' && b !== 'non-mutating'));

/** The bucket an EC2 API action (e.g. `ModifyVolume`, `DescribeVolumes`) spends from. */
export function bucketOf(action: string): Ec2Bucket {
  if (OWN_BUCKET.has(action)) return action as Ec2Bucket;
  return /^(Describe|Get|List)/.test(action) ? 'non-mutating' : 'mutating';
}

/** A bucket's content at an instant (ms since the epoch). */
export interface BucketState {
  readonly tokens: number;
  readonly atMs: number;
}

export type TakeResult =
  | { readonly granted: true; readonly state: BucketState }
  /** No whole token now: `waitMs` until there is one (nothing taken). */
  | { readonly granted: false; readonly state: BucketState; readonly waitMs: number };

/** The bucket at `nowMs`: full when never used; refilled for the time elapsed, up to its capacity. */
export function refill(state: BucketState | undefined, figures: BucketFigures, nowMs: number): BucketState {
  if (!state) return { tokens: figures.capacity, atMs: nowMs };
  const elapsed = Math.max(0, nowMs - state.atMs) / 1000;
  return { tokens: Math.min(figures.capacity, state.tokens + elapsed * figures.refillPerSecond), atMs: Math.max(nowMs, state.atMs) };
}

/** Takes one token if there is a whole one; otherwise says how long until there is. */
export function takeToken(state: BucketState | undefined, figures: BucketFigures, nowMs: number): TakeResult {
  const now = refill(state, figures, nowMs);
  if (now.tokens >= 1) return { granted: true, state: { tokens: now.tokens - 1, atMs: now.atMs } };
  const waitMs = figures.refillPerSecond > 0 ? Math.ceil(((1 - now.tokens) / figures.refillPerSecond) * 1000) : Number.POSITIVE_INFINITY;
  return { granted: false, state: now, waitMs };
}

/** The policy's `apiBudget`: what optex allows itself of each account-region's EC2 budget. */
export interface ApiBudgetPolicy {
  /** Spend tokens before every call. Off: optex sends as fast as it works (EC2 throttles it). @defaultValue true */
  readonly enabled: boolean;
  /** Share of every bucket (capacity and refill) left to the customer's own traffic. @defaultValue 0.5 */
  readonly customerShare: number;
  /** The account's figures where they differ from AWS's defaults (raised limits), per bucket. */
  readonly buckets: Readonly<Partial<Record<Ec2Bucket, BucketFigures>>>;
}

export const DEFAULT_API_BUDGET: ApiBudgetPolicy = { enabled: true, customerShare: 0.5, buckets: {} };

const figuresSchema = z.strictObject({
  capacity: z.number().positive({ error: 'must be greater than 0' }),
  // Below one token per 100 s optex would wait hours for each call (the customer's share taken out of it too).
  refillPerSecond: z.number().min(0.01, { error: 'must be at least 0.01 (one request per 100 s)' }),
});

export const apiBudgetSchema = z.strictObject({
  enabled: z.boolean(),
  customerShare: z.number().min(0, { error: 'must be at least 0' }).max(0.95, { error: 'must be at most 0.95 (optex needs some of the budget)' }),
  buckets: z.strictObject(Object.fromEntries(EC2_BUCKETS.map((b) => [b, figuresSchema.optional()])) as Record<Ec2Bucket, z.ZodOptional<typeof figuresSchema>>),
});

/** The account's figures for a bucket: the policy's when given, else `base` (AWS's defaults, or a simulated fleet's). */
export function accountFigures(policy: ApiBudgetPolicy, bucket: Ec2Bucket, base: Readonly<Record<Ec2Bucket, BucketFigures>> = AWS_EC2_BUCKETS): BucketFigures {
  return policy.buckets[bucket] ?? base[bucket];
}

/** What optex allows itself of a bucket: the account's figures less the customer's share (capacity at least one token). */
export function optexFigures(policy: ApiBudgetPolicy, bucket: Ec2Bucket, base: Readonly<Record<Ec2Bucket, BucketFigures>> = AWS_EC2_BUCKETS): BucketFigures {
  const account = accountFigures(policy, bucket, base);
  const share = 1 - policy.customerShare;
  return { capacity: Math.max(1, Math.floor(account.capacity * share)), refillPerSecond: account.refillPerSecond * share };
}
