import { bucketOf, takeToken, type BucketFigures, type BucketState, type Ec2Bucket } from '@optex/domain';
import type { AccountRegion } from '@optex/ports';

export interface Ec2ApiBudgetOptions {
  /** What optex allows itself of each bucket (the domain's `optexFigures`). */
  readonly figures: (bucket: Ec2Bucket) => BucketFigures;
  /** Milliseconds since the epoch. @defaultValue Date.now */
  readonly now?: () => number;
  /** Waits `ms` (tests pass a fake). @defaultValue setTimeout */
  readonly sleep?: (ms: number) => Promise<void>;
}

/** The longest delay setTimeout keeps (2^31 - 1 ms, ~24.8 days). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Tokens spent and time waited, per bucket (summed over accounts and regions). */
export interface BudgetStats {
  readonly spent: Readonly<Partial<Record<Ec2Bucket, number>>>;
  readonly waits: number;
  readonly waitedMs: number;
}

/**
 * optex's own EC2 request budget: one token bucket per account, region and EC2 bucket ({@link bucketOf}), holding
 * what the policy lets optex use. {@link spend} resolves once a token was taken, so a caller that spends before
 * every call never sends one it has no token for; callers waiting on one bucket are served in arrival order.
 */
export class Ec2ApiBudget {
  private readonly buckets = new Map<string, BucketState>();
  private readonly queues = new Map<string, Promise<void>>();
  private readonly spent: Partial<Record<Ec2Bucket, number>> = {};
  private waits = 0;
  private waitedMs = 0;
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(private readonly options: Ec2ApiBudgetOptions) {
    this.now = options.now ?? Date.now;
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  /** Takes one token for `action` (an EC2 API action name) in `scope`, waiting for the bucket to refill if needed. */
  spend(scope: AccountRegion, action: string): Promise<void> {
    const bucket = bucketOf(action);
    const key = `${scope.accountId}/${scope.region}/${bucket}`;
    const turn = (this.queues.get(key) ?? Promise.resolve()).then(() => this.take(key, bucket));
    this.queues.set(key, turn);
    void turn.finally(() => {
      if (this.queues.get(key) === turn) this.queues.delete(key);
    });
    return turn;
  }

  private async take(key: string, bucket: Ec2Bucket): Promise<void> {
    const figures = this.options.figures(bucket);
    for (;;) {
      const result = takeToken(this.buckets.get(key), figures, this.now());
      this.buckets.set(key, result.state);
      if (result.granted) {
        this.spent[bucket] = (this.spent[bucket] ?? 0) + 1;
        return;
      }
      this.waits++;
      this.waitedMs += result.waitMs;
      // setTimeout fires at once for more than 2^31 - 1 ms (and warns): wait that long at most, then look again.
      await this.sleep(Math.min(result.waitMs, MAX_TIMER_MS));
    }
  }

  stats(): BudgetStats {
    return { spent: { ...this.spent }, waits: this.waits, waitedMs: this.waitedMs };
  }
}
