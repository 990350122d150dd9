import type { EventFilter, RecordedEvent, SubscribeOptions, Subscription } from '@optex/ports';

/** One page of a subscription's read: matching events after a position, and how far the read looked. */
export interface SubscriptionPage {
  readonly events: readonly RecordedEvent[];
  /** Every event up to this position has been looked at (matching ones are in `events` unless the page is full). */
  readonly scannedUpTo: bigint;
}

/** What a subscription needs from the store. */
export interface SubscriptionSource {
  /** Up to `limit` events strictly after `after` (matching `filter`), in global order. Synchronous: the driver is. */
  readPage(after: bigint, filter: EventFilter | undefined, limit: number): SubscriptionPage;
  /** True once the store is closed: the subscription ends quietly. */
  isClosed(): boolean;
}

/**
 * A catch-up subscription over the SQLite log: reads pages after the last delivered position,
 * delivers them one at a time (awaiting the handler), and when caught up sleeps until the store
 * signals an append of its own (`wake()`) or the poll interval elapses (appends by other
 * connections to the same file).
 *
 * A handler that throws ends the subscription: the same event would fail again, so there is
 * nothing useful to retry; the error goes to `onDropped` (or a process warning without one).
 * A failing read (e.g. the file is locked) is reported to `onDropped` and retried after the poll
 * interval from the last delivered position.
 *
 * `unsubscribe()` called from inside the handler stops delivery at once, but its promise settles only after that
 * handler has returned: the handler must not await it (it would wait for itself). No `AsyncLocalStorage` tells the
 * handler's own call apart: in Node 20 one hooks every promise of the process, which cost the embedded engine about
 * 10 % of its throughput (docs/benchmarks.md).
 */
export class SqliteSubscription implements Subscription {
  private stopped = false;
  private signalled = false;
  private sleeper: { resolve: () => void; timer: NodeJS.Timeout } | undefined;
  private readonly done: Promise<void>;

  constructor(
    private readonly source: SubscriptionSource,
    private readonly handler: (event: RecordedEvent) => Promise<void>,
    private readonly options: SubscribeOptions,
    private readonly pageSize: number,
    private readonly pollIntervalMs: number,
    private readonly onEnd: (subscription: SqliteSubscription) => void,
  ) {
    // Start after the caller has the subscription in hand: a handler may refer to it.
    this.done = Promise.resolve()
      .then(() => this.run())
      .finally(() => this.onEnd(this));
  }

  /** Signals that new events may be there (an append through the same store). */
  wake(): void {
    this.signalled = true;
    const sleeper = this.sleeper;
    if (sleeper) {
      this.sleeper = undefined;
      clearTimeout(sleeper.timer);
      sleeper.resolve();
    }
  }

  /** Stops delivery. Resolves once the handler is not running and will not be called again (from inside the handler: do not await it). */
  async unsubscribe(): Promise<void> {
    this.stopped = true;
    this.wake();
    await this.done;
  }

  private async run(): Promise<void> {
    let after = this.options.fromPosition?.commit ?? 0n;
    while (!this.stopped && !this.source.isClosed()) {
      this.signalled = false;
      let page: SubscriptionPage;
      try {
        page = this.source.readPage(after, this.options.filter, this.pageSize);
      } catch (error) {
        if (this.stopped || this.source.isClosed()) return;
        this.report(error);
        await this.sleep();
        continue;
      }
      for (const event of page.events) {
        if (this.stopped) return;
        try {
          await this.handler(event);
        } catch (error) {
          this.stopped = true;
          this.report(error);
          return;
        }
        after = event.position.commit;
      }
      if (page.events.length < this.pageSize) {
        if (page.scannedUpTo > after) after = page.scannedUpTo;
        await this.sleep();
      }
    }
  }

  private sleep(): Promise<void> {
    if (this.signalled || this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.sleeper = undefined;
        resolve();
      }, this.pollIntervalMs);
      this.sleeper = { resolve, timer };
    });
  }

  private report(error: unknown): void {
    if (this.options.onDropped) {
      try {
        this.options.onDropped(error);
      } catch {
        // A failing onDropped must not break the subscription loop.
      }
      return;
    }
    process.emitWarning(`optex SQLite subscription: ${error instanceof Error ? error.message : String(error)}`, { code: 'OPTEX_SUBSCRIPTION_DROPPED' });
  }
}
