import { dailyKeyOf, dailyLimitOf, type BlastRadiusPolicy, type DayStarts, type LimitVerdict } from '@optex/domain';
import type { KnownOptimization, OptimizationProjection } from '@optex/engine';

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * What the daily blast-radius limit looks at, kept from the scheduler's projection: when each execution (not a dry run)
 * of each account, region and action was dispatched, and the fleet per account, region and resource type — the
 * resources optex's log knows of there (no census of the account is taken). The rule is the domain's `dailyLimitOf`.
 *
 * The start times of a key are kept in order, so a verdict finds the rolling day's by two binary searches and hands
 * the rule a view of them: a verdict costs O(log n) however many executions the day holds (a run of 10,000 real
 * executions in one account and region used to copy and sort the whole day on every verdict).
 */
export class DailyTally {
  private readonly starts = new Map<string, StartTimes>();
  private readonly counted = new Set<string>();
  private readonly fleet = new Map<string, Set<string>>();

  constructor(projection: OptimizationProjection) {
    for (const state of projection.all()) this.track(state);
    projection.onChange((after) => this.track(after));
  }

  /**
   * Whether one more execution of `state` may start at `now`. `tentative` counts the ones chosen earlier in the same
   * tick (not dispatched yet) per daily key; the caller adds to it when the verdict allows.
   */
  verdict(policy: BlastRadiusPolicy['perDay'], state: KnownOptimization, now: Date, tentative: ReadonlyMap<string, number>): LimitVerdict {
    const rec = state.recommendation;
    const key = dailyKeyOf(rec.accountId, rec.region, rec.action.type);
    const day = (this.starts.get(key) ?? EMPTY).day(now.getTime(), tentative.get(key) ?? 0);
    return dailyLimitOf(policy, key, day, this.fleet.get(fleetKeyOf(state))?.size);
  }

  private track(state: KnownOptimization): void {
    const members = this.fleet.get(fleetKeyOf(state)) ?? new Set<string>();
    members.add(state.recommendation.resource.id);
    this.fleet.set(fleetKeyOf(state), members);
    const at = state.schedule?.scheduledAt;
    if (state.dryRun || at === undefined || this.counted.has(state.optimizationId)) return;
    this.counted.add(state.optimizationId);
    const key = dailyKeyOf(state.recommendation.accountId, state.recommendation.region, state.recommendation.action.type);
    let times = this.starts.get(key);
    if (!times) this.starts.set(key, (times = new StartTimes()));
    times.add(Date.parse(at));
  }
}

/** One key's start times (epoch ms), ascending; those that left the rolling day of a verdict are dropped in bulk. */
export class StartTimes {
  private times: number[] = [];

  add(at: number): void {
    if (Number.isNaN(at)) return;
    const times = this.times;
    if (times.length === 0 || times[times.length - 1] <= at) times.push(at);
    else times.splice(firstAfter(times, at), 0, at);
  }

  /**
   * The rolling day before `now` (after `now − 24 h`, at or before `now`), then `pending` more at `now` (chosen in this
   * tick, not dispatched yet), oldest first. Drops what is older than that day once it is most of what is kept.
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

const EMPTY = new StartTimes();

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

const fleetKeyOf = (state: KnownOptimization): string => `${state.recommendation.accountId}/${state.recommendation.region}/${state.recommendation.resource.type}`;
