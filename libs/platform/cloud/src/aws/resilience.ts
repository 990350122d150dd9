import {
  BrokenCircuitError,
  ConsecutiveBreaker,
  ExponentialBackoff,
  TaskCancelledError,
  TimeoutStrategy,
  circuitBreaker,
  handleWhen,
  retry,
  timeout,
  wrap,
} from 'cockatiel';
import type { CircuitBreakerPolicy, RetryPolicy } from 'cockatiel';

/** Retry of transient failures, with exponential backoff and decorrelated jitter (cockatiel's default generator). */
export interface RetryOptions {
  /**
   * Retries after the first attempt (so `maxRetries + 1` attempts in all). `0` disables retrying.
   * @defaultValue 3
   */
  readonly maxRetries?: number;
  /**
   * First backoff delay, in milliseconds; later ones grow exponentially (exponent 2) with jitter.
   * @defaultValue 200
   */
  readonly initialDelayMs?: number;
  /**
   * Upper bound of one backoff delay, in milliseconds.
   * @defaultValue 5000
   */
  readonly maxDelayMs?: number;
}

/** Circuit breaker, one per account and region: it opens after consecutive transient failures. */
export interface BreakerOptions {
  /**
   * Consecutive transient failures (throttling, 5xx, network, time-outs) that open the circuit.
   * Rejections (a 4xx with a business code such as `IncorrectInstanceState`) neither count nor reset.
   * @defaultValue 5
   */
  readonly consecutiveFailures?: number;
  /**
   * How long the circuit stays open before one trial call is let through (half-open), in milliseconds.
   * While open, calls fail at once without reaching AWS. Measured on the wall clock (cockatiel uses `Date.now()`).
   * @defaultValue 30000
   */
  readonly halfOpenAfterMs?: number;
}

/** Everything that shapes how one AWS call is attempted. */
export interface ResilienceOptions {
  /**
   * Time allowed for one attempt, in milliseconds; the request is aborted when it elapses.
   * @defaultValue 10000
   */
  readonly callTimeoutMs?: number;
  readonly retry?: RetryOptions;
  readonly breaker?: BreakerOptions;
  /**
   * Told each time a breaker opens (after the failure that opened it), e.g. to record it in the log and notify on-call.
   * Called synchronously from the failing call; it must not throw (what it throws is ignored) and should not block.
   */
  readonly onCircuitOpened?: (opened: CircuitOpened) => void;
}

/** A breaker that just opened: its key, the settings it opened under and the failure that opened it. */
export interface CircuitOpened {
  /** The breaker's key: `<accountId>/<region>`. */
  readonly key: string;
  readonly consecutiveFailures: number;
  readonly halfOpenAfterMs: number;
  readonly lastError: unknown;
}

/** The resolved settings, every default applied. */
export interface ResolvedResilienceOptions {
  readonly callTimeoutMs: number;
  readonly retry: Required<RetryOptions>;
  readonly breaker: Required<BreakerOptions>;
}

/** Validates `options` (naming the bad field, prefixed by `where`) and applies the defaults. */
export function resolveResilienceOptions(options: ResilienceOptions, where: string): ResolvedResilienceOptions {
  const positive = (name: string, value: number | undefined, fallback: number, allowZero = false): number => {
    if (value === undefined) return fallback;
    if (!Number.isFinite(value) || value < 0 || (!allowZero && value === 0)) {
      throw new RangeError(`${where}: ${name} must be a ${allowZero ? 'non-negative' : 'positive'} number, got ${String(value)}`);
    }
    return value;
  };
  const integer = (name: string, value: number, allowZero: boolean): number => {
    if (!Number.isInteger(value)) throw new RangeError(`${where}: ${name} must be an integer, got ${String(value)}`);
    return positive(name, value, value, allowZero);
  };
  const maxRetries = integer('retry.maxRetries', options.retry?.maxRetries ?? 3, true);
  const initialDelayMs = positive('retry.initialDelayMs', options.retry?.initialDelayMs, 200);
  const maxDelayMs = positive('retry.maxDelayMs', options.retry?.maxDelayMs, 5_000);
  if (maxDelayMs < initialDelayMs) {
    throw new RangeError(`${where}: retry.maxDelayMs (${maxDelayMs}) must be at least retry.initialDelayMs (${initialDelayMs})`);
  }
  return {
    callTimeoutMs: positive('callTimeoutMs', options.callTimeoutMs, 10_000),
    retry: { maxRetries, initialDelayMs, maxDelayMs },
    breaker: {
      consecutiveFailures: integer('breaker.consecutiveFailures', options.breaker?.consecutiveFailures ?? 5, false),
      halfOpenAfterMs: positive('breaker.halfOpenAfterMs', options.breaker?.halfOpenAfterMs, 30_000),
    },
  };
}

/** How {@link Resilience} classifies and reports failures; supplied by the adapter that owns the calls. */
export interface FailureModel {
  /** Failures worth another attempt and counted by the breaker (throttling, 5xx, network…). */
  isTransient(error: unknown): boolean;
  /** Failures known not to have been processed (throttling): the only ones retried for non-idempotent calls. */
  isThrottling(error: unknown): boolean;
  /** The error to throw when one attempt exceeded its time budget. */
  timeoutError(call: ResilientCall<unknown>, timeoutMs: number, cause: unknown): Error;
  /** The error to throw when the breaker for `call.key` is open. */
  circuitOpenError(call: ResilientCall<unknown>, halfOpenAfterMs: number, cause: unknown): Error;
}

/** One call as {@link Resilience.execute} sees it. */
export interface ResilientCall<T> {
  /** Breaker key, e.g. `<accountId>/<region>`. */
  readonly key: string;
  /** Operation name, for error messages. */
  readonly operation: string;
  /**
   * `false` for calls that may take effect twice when repeated (no idempotency token): they are retried only
   * on throttling, never after a time-out, 5xx or network error whose outcome is unknown.
   */
  readonly idempotent: boolean;
  /** Performs one attempt; `signal` aborts when the attempt times out. `attempt` starts at 1. */
  run(signal: AbortSignal, attempt: number): Promise<T>;
}

/**
 * Retry (outermost), circuit breaker per key, then a time-out per attempt — built on cockatiel. A breaker that is
 * open stops the retries at once. Only errors the {@link FailureModel} calls transient are retried or counted.
 */
export class Resilience {
  private readonly breakers = new Map<string, CircuitBreakerPolicy>();
  private readonly retryTransient: RetryPolicy;
  private readonly retryThrottling: RetryPolicy;

  constructor(
    readonly options: ResolvedResilienceOptions,
    private readonly failures: FailureModel,
    private readonly onCircuitOpened?: (opened: CircuitOpened) => void,
  ) {
    const backoff = new ExponentialBackoff({ initialDelay: options.retry.initialDelayMs, maxDelay: options.retry.maxDelayMs });
    const isTimeout = (error: Error): boolean => error instanceof TaskCancelledError;
    this.retryTransient = retry(
      handleWhen((e) => isTimeout(e) || failures.isTransient(e)),
      { maxAttempts: options.retry.maxRetries, backoff },
    );
    this.retryThrottling = retry(
      handleWhen((e) => failures.isThrottling(e)),
      { maxAttempts: options.retry.maxRetries, backoff },
    );
  }

  /** Runs `call` under the policies; see {@link Resilience}. */
  async execute<T>(call: ResilientCall<T>): Promise<T> {
    const policy = wrap(
      call.idempotent ? this.retryTransient : this.retryThrottling,
      this.breakerFor(call.key),
      timeout(this.options.callTimeoutMs, TimeoutStrategy.Aggressive),
    );
    let attempt = 0;
    try {
      return await policy.execute(({ signal }) => call.run(signal, ++attempt));
    } catch (error) {
      if (error instanceof BrokenCircuitError) {
        throw this.failures.circuitOpenError(call, this.options.breaker.halfOpenAfterMs, error);
      }
      if (error instanceof TaskCancelledError) {
        throw this.failures.timeoutError(call, this.options.callTimeoutMs, error);
      }
      throw error;
    }
  }

  private breakerFor(key: string): CircuitBreakerPolicy {
    let breaker = this.breakers.get(key);
    if (breaker === undefined) {
      breaker = circuitBreaker(
        handleWhen((e) => e instanceof TaskCancelledError || this.failures.isTransient(e)),
        {
          halfOpenAfter: this.options.breaker.halfOpenAfterMs,
          breaker: new ConsecutiveBreaker(this.options.breaker.consecutiveFailures),
        },
      );
      const { consecutiveFailures, halfOpenAfterMs } = this.options.breaker;
      breaker.onBreak((reason) => {
        try {
          this.onCircuitOpened?.({ key, consecutiveFailures, halfOpenAfterMs, lastError: 'error' in reason ? reason.error : reason });
        } catch {
          // a listener's failure must not change the outcome of the call that opened the breaker
        }
      });
      this.breakers.set(key, breaker);
    }
    return breaker;
  }
}
