import { z } from 'zod';
import type { OptimizationStatus } from './statuses';
import type { ActionType, RiskBasis } from './types';

/**
 * Blast radius: how much optex changes before a person looks. Three limits, each `null` to turn it off:
 * - per account, region and action, in any 24 hours (a rolling day): a count of executions, and a share of the fleet
 *   (the resources of that type in that account and region); a member over either waits (`ExecutionDeferred`) until
 *   the oldest execution counted leaves the day;
 * - per batch: a count, or a percentage of the batch's members; once that many were dispatched, the rest of the batch
 *   waits for an operator (`BatchHalted`), who may let it go on for as many again (`BatchContinued`);
 * - the error threshold (SSM's `MaxErrors`): when the batch's failed executions exceed the count or the percentage of
 *   its members, the rest of the batch waits for an operator.
 * Counts after a continue start from the figures the halt recorded. Pure: the instant and the counts come in.
 */
export interface BlastRadiusPolicy {
  readonly perDay: {
    /** Executions started per account, region and action in any 24 hours. @defaultValue 500 */
    readonly maxExecutions: number | null;
    /** The same, as a percentage of the fleet (resources of the action's type in that account and region). @defaultValue null (off) */
    readonly maxFleetPct: number | null;
  };
  readonly perBatch: {
    /** Members dispatched before the batch waits for an operator. @defaultValue 1000 */
    readonly maxExecutions: number | null;
    /** The same, as a percentage of the batch's members (rounded up, at least one). @defaultValue null (off) */
    readonly maxPct: number | null;
  };
  readonly maxErrors: {
    /** The batch halts when more than this many of its executions failed. @defaultValue 5 */
    readonly count: number | null;
    /** The batch halts when more than this percentage of its members failed. @defaultValue null (off) */
    readonly pct: number | null;
  };
}

export const DEFAULT_BLAST_RADIUS: BlastRadiusPolicy = {
  perDay: { maxExecutions: 500, maxFleetPct: null },
  perBatch: { maxExecutions: 1000, maxPct: null },
  maxErrors: { count: 5, pct: null },
};

/** Every limit off: for benchmarks and chaos runs, which measure throughput and crash safety, not the guards. */
export const NO_BLAST_RADIUS: BlastRadiusPolicy = {
  perDay: { maxExecutions: null, maxFleetPct: null },
  perBatch: { maxExecutions: null, maxPct: null },
  maxErrors: { count: null, pct: null },
};

const count = z.number().int({ error: 'must be a whole number' }).min(0, { error: 'must be at least 0' }).nullable();
const positiveCount = z.number().int({ error: 'must be a whole number' }).min(1, { error: 'must be at least 1' }).nullable();
const pct = z.number().gt(0, { error: 'must be greater than 0' }).max(100, { error: 'must be at most 100' }).nullable();

export const blastRadiusSchema = z.strictObject({
  perDay: z.strictObject({ maxExecutions: positiveCount, maxFleetPct: pct }),
  perBatch: z.strictObject({ maxExecutions: positiveCount, maxPct: pct }),
  maxErrors: z.strictObject({ count, pct: z.number().min(0, { error: 'must be at least 0' }).max(100, { error: 'must be at most 100' }).nullable() }),
});

/** Statuses of an execution that went wrong: what the error threshold and a stage's gate count. */
export const EXECUTION_ERROR_STATUSES: readonly OptimizationStatus[] = ['failed', 'rolled-back', 'rollback-failed', 'reconciliation-needed', 'resolved'];
export const isExecutionError = (status: OptimizationStatus): boolean => EXECUTION_ERROR_STATUSES.includes(status);

const DAY_MS = 24 * 60 * 60 * 1000;

/** What the daily limit counts by: `<accountId>/<region>/<action>`. */
export const dailyKeyOf = (accountId: string, region: string, action: ActionType): string => `${accountId}/${region}/${action}`;

export type LimitVerdict = { readonly allowed: true } | { readonly allowed: false; readonly until: string; readonly reason: string };

/**
 * Whether one more execution of `key` may start at `now`, given the start times of the executions of that key
 * (any order; those older than a day are ignored) and the fleet's size (resources of the action's type in that account
 * and region; `undefined` when not known, and then the share is not judged). Refused: until when the oldest
 * execution that makes the difference leaves the rolling day, and why. The rule itself is {@link dailyLimitOf}.
 */
export function dailyLimit(policy: BlastRadiusPolicy['perDay'], key: string, startedAt: readonly string[], fleetSize: number | undefined, now: Date): LimitVerdict {
  return dailyLimitOf(policy, key, StartTimes.of(startedAt.map((t) => Date.parse(t))).day(now.getTime(), 0), fleetSize);
}

/**
 * The start times (epoch ms) of a key's executions within the rolling day before a verdict, oldest first: an array, or
 * a view a caller keeps (the scheduler's tally) so a verdict costs no walk over the day.
 */
export interface DayStarts {
  readonly length: number;
  /** The `index`-th oldest, for 0 ≤ index < length. */
  at(index: number): number | undefined;
}

/**
 * One key's start times (epoch ms), kept in order, and the rolling day a verdict looks at ({@link StartTimes.day}): the
 * scheduler keeps one per key as executions are dispatched, so a verdict costs two binary searches however many
 * executions the day holds.
 */
export class StartTimes {
  private times: number[] = [];

  /** Start times in any order (unparseable ones, NaN, are left out). */
  static of(times: readonly number[]): StartTimes {
    const starts = new StartTimes();
    starts.times = times.filter((t) => !Number.isNaN(t)).sort((a, b) => a - b);
    return starts;
  }

  add(at: number): void {
    if (Number.isNaN(at)) return;
    const times = this.times;
    if (times.length === 0 || times[times.length - 1] <= at) times.push(at);
    else times.splice(firstAfter(times, at), 0, at);
  }

  /** Takes back one start at `at` (one that turned out to be no execution); nothing when none is kept (dropped as old). */
  remove(at: number): void {
    const i = firstAfter(this.times, at) - 1;
    if (i >= 0 && this.times[i] === at) this.times.splice(i, 1);
  }

  /**
   * The rolling day before `now` (after `now − 24 h`, at or before `now`), then `pending` more at `now` (chosen but not
   * dispatched yet), oldest first. Drops what is older than that day once it is most of what is kept: ask with a `now`
   * that does not go back.
   */
  day(now: number, pending: number): DayStarts {
    let from = firstAfter(this.times, now - DAY_MS);
    if (from > 64 && from * 2 > this.times.length) {
      this.times = this.times.slice(from);
      from = 0;
    }
    const times = this.times;
    const kept = firstAfter(times, now) - from;
    return { length: kept + pending, at: (index) => (index < 0 || index >= kept + pending ? undefined : index < kept ? times[from + index] : now) };
  }
}

/** The first index whose time is after `t` (`times.length` when none is). */
function firstAfter(times: readonly number[], t: number): number {
  let lo = 0;
  let hi = times.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (times[mid] <= t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Whether an optimization's resource counts in the fleet the daily `maxFleetPct` is a share of: the risk assessment
 * found it live (or the log predates that look-up). A recommendation naming a resource EC2 does not know, or could not
 * describe, adds nothing: 100 recommendations for missing volumes made 10 % of 25 real ones into 10 changes a day.
 */
export const countsInDailyFleet = (s: { readonly risk?: { readonly basis?: RiskBasis } }): boolean => s.risk !== undefined && s.risk.basis?.live?.found !== false;

/**
 * Whether a dispatched optimization counts toward the daily limit: a real execution dispatched (`scheduledAt`), unless
 * pre-validation refused it as out of scope (the live resource opted out): that changed nothing, and is no execution.
 */
export const countsTowardDailyLimit = (s: { readonly dryRun: boolean; readonly status: OptimizationStatus; readonly schedule?: { readonly scheduledAt?: string } }): boolean =>
  !s.dryRun && s.schedule?.scheduledAt !== undefined && s.status !== 'out-of-scope';

/**
 * The daily limit over the day's starts already chosen and ordered ({@link DayStarts}): refused when they reach the
 * smaller of the count and the share of the fleet, until the oldest that makes the difference leaves the rolling day.
 * Looks at one of them, whatever their number.
 */
export function dailyLimitOf(policy: BlastRadiusPolicy['perDay'], key: string, recent: DayStarts, fleetSize: number | undefined): LimitVerdict {
  const limits: { max: number; what: string }[] = [];
  if (policy.maxExecutions !== null) limits.push({ max: policy.maxExecutions, what: `${policy.maxExecutions} executions` });
  if (policy.maxFleetPct !== null && fleetSize !== undefined) {
    // At least one a day: a share of a small fleet that rounds down to none would hold its members for ever.
    const max = Math.max(1, Math.floor((fleetSize * policy.maxFleetPct) / 100));
    limits.push({ max, what: `${policy.maxFleetPct}% of a fleet of ${fleetSize} (${max})` });
  }
  const hit = limits.filter((l) => recent.length >= l.max).sort((a, b) => a.max - b.max)[0];
  if (!hit) return { allowed: true };
  // Waiting for enough of the day's executions to age out: the (n − max + 1)-th oldest leaves at its time + 1 day.
  const index = recent.length - hit.max;
  const oldest = index < recent.length ? recent.at(index) : undefined;
  const until = oldest !== undefined ? new Date(oldest + DAY_MS).toISOString() : '9999-12-31T23:59:59.999Z';
  return { allowed: false, until, reason: `blast radius: ${recent.length} executions of ${key} in the last 24 hours reach the daily limit of ${hit.what}; next at ${until}` };
}

/** What the batch has done since its last continue (or its start). */
export interface BatchTally {
  /** Members of the batch. */
  readonly members: number;
  /** Members dispatched since the last continue. */
  readonly dispatched: number;
  /** Members whose execution went wrong ({@link isExecutionError}) since the last continue. */
  readonly errors: number;
  /** Members still waiting to be dispatched. */
  readonly waiting: number;
  /** Whether an operator continued the batch before: the counts are then since that continue, and the reasons say so. */
  readonly continued?: boolean;
}

export type HaltRule = 'batch-limit' | 'max-errors' | 'stage-gate';
export const HALT_RULES: readonly HaltRule[] = ['batch-limit', 'max-errors', 'stage-gate'];

/** The per-batch limit in members (the smaller of the count and the share), or `undefined` when both are off. */
export function batchLimitOf(policy: BlastRadiusPolicy['perBatch'], members: number): number | undefined {
  const limits: number[] = [];
  if (policy.maxExecutions !== null) limits.push(policy.maxExecutions);
  if (policy.maxPct !== null) limits.push(Math.max(1, Math.ceil((members * policy.maxPct) / 100)));
  return limits.length === 0 ? undefined : Math.min(...limits);
}

/**
 * Whether the batch must stop and wait for an operator: its failed executions exceed the error threshold, or its
 * dispatches reached the per-batch limit while members still wait. Nothing to stop when no member waits.
 */
export function batchHalt(policy: BlastRadiusPolicy, progress: BatchTally): { readonly rule: HaltRule; readonly reason: string } | undefined {
  if (progress.waiting === 0) return undefined;
  const { count: maxCount, pct: maxPct } = policy.maxErrors;
  const since = progress.continued ? ' since the last continue' : '';
  if (maxCount !== null && progress.errors > maxCount) {
    return { rule: 'max-errors', reason: `error threshold: ${progress.errors} executions failed${since}, more than the ${maxCount} allowed; ${progress.waiting} waiting member(s) wait for an operator` };
  }
  if (maxPct !== null && progress.members > 0 && (progress.errors * 100) / progress.members > maxPct) {
    return {
      rule: 'max-errors',
      reason: `error threshold: ${progress.errors} of ${progress.members} executions failed${since}, more than ${maxPct}%; ${progress.waiting} waiting member(s) wait for an operator`,
    };
  }
  const limit = batchLimitOf(policy.perBatch, progress.members);
  if (limit !== undefined && progress.dispatched >= limit) {
    return { rule: 'batch-limit', reason: `batch limit: ${progress.dispatched} of ${progress.members} members dispatched${since} reach the limit of ${limit}; ${progress.waiting} waiting member(s) wait for an operator` };
  }
  return undefined;
}

/** How many more members of the batch may be dispatched before the per-batch limit (Infinity when it is off). */
export function batchRoom(policy: BlastRadiusPolicy['perBatch'], members: number, dispatched: number): number {
  const limit = batchLimitOf(policy, members);
  return limit === undefined ? Infinity : Math.max(0, limit - dispatched);
}
