import { CIRCUIT_BREAKER_STREAM, circuitBreakerCausationKey, type CircuitBreakerOpened } from '@optex/domain';
import { describeError, isOutage, silentLogger, type Clock, type EventStore, type Logger } from '@optex/ports';
import { appendOnce } from './command-handler';

/** What a cloud adapter says when one of its breakers opens (the platform's `CircuitOpened`, without importing it). */
export interface OpenedBreaker {
  /** `<accountId>/<region>`. */
  readonly key: string;
  readonly consecutiveFailures: number;
  readonly halfOpenAfterMs: number;
  readonly lastError: unknown;
}

/**
 * Records `CircuitBreakerOpened` in the log when a cloud adapter's breaker opens, so the notifier (which follows the log)
 * tells on-call and history shows why work waited. The breaker calls it synchronously from a failing call: the append
 * runs in the background, one at a time, retried with backoff through a store outage (at most `maxAttempts`), and
 * never fails the call. The event id derives from the breaker and the instant it opened, so a retry appends once.
 */
export class CircuitBreakerRecorder {
  private queue: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: EventStore,
    private readonly options: { readonly process: string; readonly clock: Clock; readonly logger?: Logger; readonly maxAttempts?: number; readonly backoffMs?: number },
  ) {}

  /** A listener for one API's adapter (`onCircuitOpened`). */
  listenerFor(api: CircuitBreakerOpened['data']['api']): (opened: OpenedBreaker) => void {
    return (opened) => this.record(api, opened);
  }

  record(api: CircuitBreakerOpened['data']['api'], opened: OpenedBreaker): void {
    const [accountId = '', region = ''] = opened.key.split('/');
    const data: CircuitBreakerOpened['data'] = {
      api,
      accountId,
      region,
      consecutiveFailures: opened.consecutiveFailures,
      halfOpenAfterMs: opened.halfOpenAfterMs,
      lastError: describeError(opened.lastError),
      process: this.options.process,
      at: this.options.clock.now().toISOString(),
    };
    this.queue = this.queue.then(() => this.append(data));
  }

  /** Resolves when every opening reported so far is recorded (or given up). */
  flush(): Promise<void> {
    return this.queue;
  }

  private async append(data: CircuitBreakerOpened['data']): Promise<void> {
    const logger = (this.options.logger ?? silentLogger).child({ component: 'circuit-breaker-recorder' });
    const maxAttempts = this.options.maxAttempts ?? 8;
    for (let attempt = 1; ; attempt++) {
      try {
        const key = circuitBreakerCausationKey(data);
        await appendOnce(this.store, CIRCUIT_BREAKER_STREAM, { type: 'CircuitBreakerOpened', data }, { key, causationId: key, recordedBy: this.options.process });
        logger.warn({ api: data.api, accountId: data.accountId, region: data.region, lastError: data.lastError }, 'circuit breaker opened; recorded');
        return;
      } catch (error) {
        if (!isOutage(error) || attempt >= maxAttempts) {
          logger.error({ err: describeError(error), api: data.api, accountId: data.accountId, region: data.region }, 'circuit breaker opened but could not be recorded');
          return;
        }
        await new Promise((r) => setTimeout(r, Math.min(10_000, (this.options.backoffMs ?? 100) * 2 ** (attempt - 1))));
      }
    }
  }
}
