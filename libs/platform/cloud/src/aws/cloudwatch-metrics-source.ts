import { CloudWatchClient, GetMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import type { CloudWatchClientConfig, GetMetricDataCommandOutput } from '@aws-sdk/client-cloudwatch';
import { InfrastructureError, systemClock } from '@optex/ports';
import type { Clock, MetricsSource, ResourceRef } from '@optex/ports';
import type { PerformanceFigures } from '@optex/domain';
import { describeAwsFailure } from './aws-errors';
import { Resilience, resolveResilienceOptions } from './resilience';
import type { ResilienceOptions } from './resilience';

/** Options of {@link CloudWatchMetricsSource.create}. */
export interface CloudWatchMetricsSourceOptions extends ResilienceOptions {
  /** Endpoint override for every region (e.g. moto); AWS's own endpoints when absent. */
  readonly endpoint?: string;
  /** Credentials for every client; the SDK's default provider chain when absent. */
  readonly credentials?: CloudWatchClientConfig['credentials'];
  /**
   * The account the credentials belong to; when set, a `ref` of another account fails (no STS lookup is made).
   * When absent every `accountId` is taken to be the credentials' account.
   */
  readonly accountId?: string;
  /**
   * Creates the client of one region (called once per region). Tests inject fakes here.
   * @defaultValue a new `CloudWatchClient({ region, endpoint, credentials, maxAttempts: 1 })`
   */
  readonly clientFor?: (region: string) => CloudWatchClient;
  /**
   * Statistic asked for `cpuP95`. Only for endpoints without percentiles (moto 5.2.1 answers HTTP 500 to `p95`).
   * @defaultValue `"p95"`
   */
  readonly cpuStatistic?: string;
  /** Decides how old a window is (CloudWatch's coarser periods for old data). @defaultValue `systemClock` */
  readonly clock?: Clock;
}

/** One statistic of one metric of one instance (dimension `InstanceId`), over a window. */
interface MetricQuery {
  /** @defaultValue `AWS/EC2` */
  readonly namespace?: string;
  readonly metricName: string;
  readonly statistic: string;
}

const MINUTE_MS = 60_000;

/**
 * {@link MetricsSource} on CloudWatch `GetMetricData` (namespace `AWS/EC2`, dimension `InstanceId`).
 *
 * The whole window is asked as one period (rounded up to what CloudWatch accepts for data that old: 60 s, 300 s
 * beyond 15 days, 3600 s beyond 63 days); should CloudWatch still split it, the highest value is kept — the
 * conservative choice for a "too high" check. No datapoint means "unknown": `undefined`, never 0 or `true`.
 * Failures become {@link InfrastructureError} with the CloudWatch code in the message; throttling, 5xx, network
 * failures and time-outs are retried with backoff, under a circuit breaker per account and region.
 */
export class CloudWatchMetricsSource implements MetricsSource {
  private readonly clients = new Map<string, CloudWatchClient>();
  private readonly resilience: Resilience;
  private readonly clock: Clock;
  private readonly cpuStatistic: string;

  private constructor(private readonly options: CloudWatchMetricsSourceOptions) {
    this.resilience = new Resilience(resolveResilienceOptions(options, 'CloudWatchMetricsSource'), {
      isTransient: (e) => e instanceof CloudWatchFailure && e.retryable,
      isThrottling: (e) => e instanceof CloudWatchFailure && e.throttling,
      timeoutError: (call, ms, cause) => new InfrastructureError(`CloudWatch ${call.operation}: no answer within ${ms} ms`, { cause }),
      circuitOpenError: (call, ms, cause) =>
        new InfrastructureError(`CloudWatch ${call.operation}: calls for ${call.key} are suspended after repeated failures (retry after ${ms} ms)`, { cause }),
    }, options.onCircuitOpened);
    this.clock = options.clock ?? systemClock;
    this.cpuStatistic = options.cpuStatistic ?? 'p95';
    if (this.cpuStatistic.trim() === '') throw new RangeError('CloudWatchMetricsSource: cpuStatistic must be a non-empty string');
    if (options.accountId !== undefined && !/^\d{12}$/.test(options.accountId)) {
      throw new RangeError(`CloudWatchMetricsSource: accountId must be 12 digits, got ${JSON.stringify(options.accountId)}`);
    }
  }

  /** Builds a source; throws a `RangeError` naming the bad option. */
  static create(options: CloudWatchMetricsSourceOptions = {}): CloudWatchMetricsSource {
    return new CloudWatchMetricsSource(options);
  }

  /** Releases the HTTP resources of every client created so far. */
  destroy(): void {
    for (const client of this.clients.values()) client.destroy();
    this.clients.clear();
  }

  /** `CPUUtilization` at the configured statistic (p95) over the window, in percent; `undefined` without datapoints. */
  async cpuP95(ref: ResourceRef, window: { from: Date; to: Date }): Promise<number | undefined> {
    const values = await this.values(ref, window, { metricName: 'CPUUtilization', statistic: this.cpuStatistic });
    return values.length === 0 ? undefined : Math.max(...values);
  }

  /** `StatusCheckFailed` Maximum over the window: 0 → `true`, above 0 → `false`, no datapoint → `undefined`. */
  async statusChecksPassed(ref: ResourceRef, window: { from: Date; to: Date }): Promise<boolean | undefined> {
    const values = await this.values(ref, window, { metricName: 'StatusCheckFailed', statistic: 'Maximum' });
    if (values.length === 0) return undefined;
    return Math.max(...values) <= 0;
  }

  /**
   * The whole picture over the window: `CPUUtilization` at the configured statistic, `mem_used_percent` Maximum in
   * namespace `CWAgent` (the CloudWatch agent's; none when the instance does not publish it), `NetworkIn`/`NetworkOut`
   * Sum divided by the window's seconds, `StatusCheckFailed` as {@link statusChecksPassed}. CloudWatch rounds a
   * `StartTime` down to the minute, so `from` is first rounded *up* to one: no datapoint from before `from` (before
   * the change, for an "after" window) is counted. A window left empty by that has no data.
   */
  async performance(ref: ResourceRef, window: { from: Date; to: Date }): Promise<PerformanceFigures> {
    const { to } = checkWindow(window);
    const from = new Date(Math.ceil(window.from.getTime() / MINUTE_MS) * MINUTE_MS);
    if (from.getTime() >= to.getTime()) return {};
    const inner = { from, to };
    const seconds = (to.getTime() - from.getTime()) / 1000;
    const highest = (values: number[]) => (values.length === 0 ? undefined : Math.max(...values));
    const perSecond = (values: number[]) => (values.length === 0 ? undefined : Math.round((values.reduce((a, b) => a + b, 0) / seconds) * 100) / 100);
    const cpuP95 = await this.cpuP95(ref, inner);
    const memoryUsedPct = highest(await this.values(ref, inner, { namespace: 'CWAgent', metricName: 'mem_used_percent', statistic: 'Maximum' }));
    const networkInBytesPerSec = perSecond(await this.values(ref, inner, { metricName: 'NetworkIn', statistic: 'Sum' }));
    const networkOutBytesPerSec = perSecond(await this.values(ref, inner, { metricName: 'NetworkOut', statistic: 'Sum' }));
    const statusChecksPassed = await this.statusChecksPassed(ref, inner);
    return {
      ...(cpuP95 === undefined ? {} : { cpuP95 }),
      ...(memoryUsedPct === undefined ? {} : { memoryUsedPct }),
      ...(networkInBytesPerSec === undefined ? {} : { networkInBytesPerSec }),
      ...(networkOutBytesPerSec === undefined ? {} : { networkOutBytesPerSec }),
      ...(statusChecksPassed === undefined ? {} : { statusChecksPassed }),
    };
  }

  private async values(ref: ResourceRef, window: { from: Date; to: Date }, query: MetricQuery): Promise<number[]> {
    checkRef(ref, this.options.accountId);
    const { from, to } = checkWindow(window);
    const period = periodFor(from, to, this.clock.now());
    const values: number[] = [];
    let nextToken: string | undefined;
    do {
      const token = nextToken;
      const out: GetMetricDataCommandOutput = await this.resilience.execute({
        key: `${ref.accountId}/${ref.region}`,
        operation: 'GetMetricData',
        idempotent: true,
        run: async (signal) => {
          try {
            return await this.client(ref.region).send(
              new GetMetricDataCommand({
                StartTime: from,
                EndTime: to,
                ScanBy: 'TimestampAscending',
                NextToken: token,
                MetricDataQueries: [
                  {
                    Id: 'm',
                    ReturnData: true,
                    MetricStat: {
                      Metric: { Namespace: query.namespace ?? 'AWS/EC2', MetricName: query.metricName, Dimensions: [{ Name: 'InstanceId', Value: ref.id }] },
                      Period: period,
                      Stat: query.statistic,
                    },
                  },
                ],
              }),
              { abortSignal: signal },
            );
          } catch (error) {
            throw CloudWatchFailure.from(error, `GetMetricData ${query.metricName} ${query.statistic} of ${ref.id}`);
          }
        },
      });
      for (const result of out.MetricDataResults ?? []) {
        if (result.StatusCode === 'Forbidden' || result.StatusCode === 'InternalError') {
          const detail = (out.Messages ?? []).map((m) => `${m.Code ?? ''} ${m.Value ?? ''}`.trim()).join('; ');
          throw new InfrastructureError(`CloudWatch GetMetricData ${query.metricName} of ${ref.id}: status ${result.StatusCode}${detail ? ` (${detail})` : ''}`);
        }
        for (const value of result.Values ?? []) if (Number.isFinite(value)) values.push(value);
      }
      nextToken = out.NextToken;
    } while (nextToken);
    return values;
  }

  private client(region: string): CloudWatchClient {
    let client = this.clients.get(region);
    if (client === undefined) {
      client = this.options.clientFor
        ? this.options.clientFor(region)
        : new CloudWatchClient({ region, endpoint: this.options.endpoint, credentials: this.options.credentials, maxAttempts: 1 });
      this.clients.set(region, client);
    }
    return client;
  }
}

/** A CloudWatch SDK failure, normalized; surfaces to callers as {@link InfrastructureError}. */
class CloudWatchFailure extends InfrastructureError {
  private constructor(
    message: string,
    readonly awsCode: string,
    readonly retryable: boolean,
    readonly throttling: boolean,
    cause: unknown,
  ) {
    super(message, { cause });
  }

  static from(error: unknown, what: string): CloudWatchFailure {
    const failure = describeAwsFailure(error);
    return new CloudWatchFailure(`CloudWatch ${what}: ${failure.code}: ${failure.message}`, failure.code, failure.transient, failure.throttling, error);
  }
}

function checkRef(ref: ResourceRef, accountId: string | undefined): void {
  for (const field of ['accountId', 'region', 'id'] as const) {
    const value: unknown = ref?.[field];
    if (typeof value !== 'string' || value.trim() === '') throw new RangeError(`CloudWatchMetricsSource: ref.${field} must be a non-empty string`);
  }
  if (accountId !== undefined && ref.accountId !== accountId) {
    throw new RangeError(`CloudWatchMetricsSource: ref.accountId ${ref.accountId} is not the credentials' account ${accountId}`);
  }
}

function checkWindow(window: { from: Date; to: Date }): { from: Date; to: Date } {
  const { from, to } = window ?? ({} as { from: Date; to: Date });
  if (!(from instanceof Date) || Number.isNaN(from.getTime())) throw new RangeError('CloudWatchMetricsSource: window.from must be a valid Date');
  if (!(to instanceof Date) || Number.isNaN(to.getTime())) throw new RangeError('CloudWatchMetricsSource: window.to must be a valid Date');
  if (from.getTime() >= to.getTime()) throw new RangeError(`CloudWatchMetricsSource: window.from (${from.toISOString()}) must be before window.to (${to.toISOString()})`);
  return { from, to };
}

const DAY_MS = 24 * 60 * 60 * 1000;

/** One period covering the window, a multiple of what CloudWatch accepts for data as old as `from`. */
export function periodFor(from: Date, to: Date, now: Date): number {
  const age = now.getTime() - from.getTime();
  const unit = age > 63 * DAY_MS ? 3600 : age > 15 * DAY_MS ? 300 : 60;
  const seconds = Math.ceil((to.getTime() - from.getTime()) / 1000);
  return Math.max(unit, Math.ceil(seconds / unit) * unit);
}
