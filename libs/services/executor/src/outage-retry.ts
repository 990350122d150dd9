import { ExponentialBackoff, type IBackoff } from 'cockatiel';
import { describeError, isOutage, type Logger } from '@optex/ports';

export interface WaitOutOptions {
  /** Which errors to wait out; anything else is thrown at once. */
  readonly retryWhen: (error: unknown) => boolean;
  /** Ends the waiting: the last error is thrown (at once, even mid-delay). */
  readonly signal?: AbortSignal;
  /** The first delay; each next one doubles, jittered (cockatiel's {@link ExponentialBackoff}), up to `maxDelayMs`. */
  readonly initialDelayMs: number;
  /** @defaultValue 30,000 (as a step's retries) */
  readonly maxDelayMs?: number;
  /** Called before each delay (logs). */
  readonly onWait?: (error: unknown, round: number, delayMs: number) => void;
}

/**
 * Calls `call` until it goes through, waiting out with backoff the errors `retryWhen` accepts (an outage: EC2
 * throttling or unavailable, the store unreachable) for as long as it takes — as the bus redelivers a message an
 * outage paused — unless `signal` is aborted (the service stops): then the last such error is thrown. Any other error
 * is thrown at once.
 */
export async function waitOut<T>(call: () => Promise<T>, options: WaitOutOptions): Promise<T> {
  const factory = new ExponentialBackoff({ initialDelay: options.initialDelayMs, maxDelay: options.maxDelayMs ?? 30_000 });
  let backoff: IBackoff<unknown> | undefined;
  for (let round = 1; ; round++) {
    try {
      return await call();
    } catch (error) {
      if (!options.retryWhen(error) || options.signal?.aborted) throw error;
      backoff = backoff ? backoff.next(undefined) : factory.next();
      options.onWait?.(error, round, backoff.duration);
      await delay(backoff.duration, options.signal);
      if (options.signal?.aborted) throw error;
    }
  }
}

/** Sleeps `ms`, or less if `signal` is aborted meanwhile. */
function delay(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

export interface RecoverOptions {
  /** Aborted when the service stops: the waiting ends quietly (the log says where each one stopped). */
  readonly signal: AbortSignal;
  readonly initialDelayMs: number;
  readonly logger: Logger;
  /** What is done to each, for the logs (`driving`, `validating`). */
  readonly doing: string;
  /**
   * How many {@link recoverEach} handles at once (the engine's `maxParallel`: as many executions as the policy lets
   * run together were in flight). @defaultValue 1
   */
  readonly concurrency?: number;
}

/**
 * Handles one optimization again with backoff for as long as an outage lasts (`first` ended the previous try), until
 * it goes through or the service stops (then quietly: the log says where it stopped). Any other error is thrown.
 */
export async function handleThroughOutage(id: string, handle: () => Promise<void>, first: unknown, options: RecoverOptions): Promise<void> {
  options.logger.warn({ optimizationId: id, err: describeError(first) }, `EC2 or the store unavailable while ${options.doing}; retrying with backoff until it goes through`);
  await waitOut(handle, {
    retryWhen: isOutage,
    signal: options.signal,
    initialDelayMs: options.initialDelayMs,
    onWait: (err, round, delayMs) => options.logger.warn({ optimizationId: id, err: describeError(err), round, delayMs }, `still unavailable; ${options.doing} again after the delay`),
  }).catch((err: unknown) => {
    if (options.signal.aborted && isOutage(err)) return;
    throw err;
  });
}

/**
 * A service's start-up recovery: `handle` each id, taken in order, `concurrency` at a time (an execution waiting for
 * its instance to stop does not hold up the others left mid-way); one that meets an outage ({@link isOutage}) is
 * handled again with backoff ({@link handleThroughOutage}) while the others go on, and this returns once every one
 * went through or the service stopped. Any other error is thrown once the handles under way have ended, and no
 * further id is taken.
 */
export async function recoverEach(ids: readonly string[], handle: (id: string) => Promise<void>, options: RecoverOptions): Promise<void> {
  const waiting: Promise<void>[] = [];
  let next = 0;
  let failure: { readonly error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (failure === undefined && next < ids.length) {
      const id = ids[next++]!;
      try {
        await handle(id);
      } catch (error) {
        if (!isOutage(error)) failure ??= { error };
        else waiting.push(handleThroughOutage(id, () => handle(id), error, options));
      }
    }
  };
  const workers = Math.max(1, Math.min(options.concurrency ?? 1, ids.length));
  await Promise.all(Array.from({ length: workers }, worker));
  if (failure) throw failure.error;
  await Promise.all(waiting);
}
