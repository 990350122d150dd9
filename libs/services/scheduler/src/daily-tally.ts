import { StartTimes, countsInDailyFleet, countsTowardDailyLimit, dailyKeyOf, dailyLimitOf, type BlastRadiusPolicy, type LimitVerdict } from '@optex/domain';
import type { KnownOptimization, OptimizationProjection } from '@optex/engine';

/**
 * What the daily blast-radius limit looks at, kept from the scheduler's projection: when each execution (not a dry run,
 * not one refused as out of scope at pre-validation: the domain's `countsTowardDailyLimit`) of each account, region and
 * action was dispatched, and the fleet per account, region and resource type — the resources optex's log knows of
 * there and found live (`countsInDailyFleet`; no census of the account is taken). The rule is the domain's
 * `dailyLimitOf`.
 *
 * The start times of a key are kept in order (the domain's `StartTimes`), so a verdict finds the rolling day by two
 * binary searches and hands the rule a view of it: a verdict costs O(log n) however many executions the day holds (a
 * run of 10,000 real executions in one account and region used to copy and sort the whole day on every verdict).
 */
export class DailyTally {
  private readonly starts = new Map<string, StartTimes>();
  private readonly counted = new Set<string>();
  private readonly fleet = new Map<string, Set<string>>();

  constructor(projection: OptimizationProjection) {
    for (const state of projection.states()) this.track(state, undefined);
    projection.onChange((after, prior) => this.track(after, prior));
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

  /** `prior` is the optimization's state before this change, undefined when it is new here. */
  private track(state: KnownOptimization, prior: KnownOptimization | undefined): void {
    if (state.risk !== prior?.risk && countsInDailyFleet(state)) {
      // Its resource joins the fleet once the risk assessment found it live (a Set: a reassessment adds nothing).
      const fleetKey = fleetKeyOf(state);
      let members = this.fleet.get(fleetKey);
      if (!members) this.fleet.set(fleetKey, (members = new Set<string>()));
      members.add(state.recommendation.resource.id);
    }
    const counted = this.counted.has(state.optimizationId);
    if (counted === countsTowardDailyLimit(state)) return;
    const key = dailyKeyOf(state.recommendation.accountId, state.recommendation.region, state.recommendation.action.type);
    let times = this.starts.get(key);
    if (!times) this.starts.set(key, (times = new StartTimes()));
    const at = Date.parse((state.schedule ?? prior?.schedule)!.scheduledAt!);
    if (counted) {
      // Dispatched, then refused as out of scope at pre-validation: no execution after all.
      this.counted.delete(state.optimizationId);
      times.remove(at);
    } else {
      this.counted.add(state.optimizationId);
      times.add(at);
    }
  }
}

const EMPTY = new StartTimes();

const fleetKeyOf = (state: KnownOptimization): string => `${state.recommendation.accountId}/${state.recommendation.region}/${state.recommendation.resource.type}`;
