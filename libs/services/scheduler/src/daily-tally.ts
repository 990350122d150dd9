import { dailyKeyOf, dailyLimit, type BlastRadiusPolicy, type LimitVerdict } from '@optex/domain';
import type { KnownOptimization, OptimizationProjection } from '@optex/engine';

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * What the daily blast-radius limit looks at, kept from the scheduler's projection: when each execution (not a dry run)
 * of each account, region and action was dispatched, and the fleet per account, region and resource type — the
 * resources optex's log knows of there (no census of the account is taken). The rule is the domain's `dailyLimit`.
 */
export class DailyTally {
  private readonly starts = new Map<string, string[]>();
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
    const since = now.getTime() - DAY_MS;
    const kept = (this.starts.get(key) ?? []).filter((t) => Date.parse(t) > since);
    this.starts.set(key, kept);
    const pending = Array.from({ length: tentative.get(key) ?? 0 }, () => now.toISOString());
    return dailyLimit(policy, key, [...kept, ...pending], this.fleet.get(fleetKeyOf(state))?.size, now);
  }

  private track(state: KnownOptimization): void {
    const members = this.fleet.get(fleetKeyOf(state)) ?? new Set<string>();
    members.add(state.recommendation.resource.id);
    this.fleet.set(fleetKeyOf(state), members);
    const at = state.schedule?.scheduledAt;
    if (state.dryRun || at === undefined || this.counted.has(state.optimizationId)) return;
    this.counted.add(state.optimizationId);
    const key = dailyKeyOf(state.recommendation.accountId, state.recommendation.region, state.recommendation.action.type);
    const list = this.starts.get(key);
    if (list) list.push(at);
    else this.starts.set(key, [at]);
  }
}

const fleetKeyOf = (state: KnownOptimization): string => `${state.recommendation.accountId}/${state.recommendation.region}/${state.recommendation.resource.type}`;
