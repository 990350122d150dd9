import { START, eventTypeFilter, streamNameFilter } from '@eventstore/db-client';
import type { AllStreamSubscription, EventStoreDBClient, Filter } from '@eventstore/db-client';
import { InfrastructureError } from '@optex/ports';
import type { GlobalPosition, RecordedEvent, SubscribeOptions, Subscription } from '@optex/ports';
import { toInfrastructureError } from './errors';
import { filterPredicate, isSystemEventType, toRecordedEvent } from './mapping';

/** Delays between resubscription attempts: `initialDelayMs`, doubling up to `maxDelayMs`. */
export interface ResubscribeBackoff {
  /** @defaultValue 100 */
  readonly initialDelayMs?: number;
  /** @defaultValue 5000 */
  readonly maxDelayMs?: number;
}

/**
 * A catch-up subscription to `$all` that survives dropped connections: on a driver error (or the
 * server ending the call) it reports an `InfrastructureError` through `onDropped`, waits
 * (exponential backoff, reset once the server confirms a subscription or an event is delivered)
 * and subscribes again strictly after the last event it saw, so the handler gets every event
 * once, in order. A handler that throws ends the subscription (the same event would fail again);
 * its error goes to `onDropped`, or a process warning without one.
 *
 * `unsubscribe()` resolves once the handler is not running and will not be called again; called from inside the
 * handler it stops delivery at once, but its promise settles only after that handler has returned, so the handler must
 * not await it. (No `AsyncLocalStorage` to tell the handler's own call apart: in Node 20 one hooks every promise of the
 * process; see the SQLite subscription.)
 */
export class EsdbSubscription implements Subscription {
  private stopped = false;
  private current: AllStreamSubscription | undefined;
  private lastPosition: GlobalPosition | undefined;
  private wakeSleeper: (() => void) | undefined;
  private readonly loop: Promise<void>;
  private readonly initialDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly matches: (event: RecordedEvent) => boolean;

  constructor(
    private readonly client: EventStoreDBClient,
    private readonly handler: (event: RecordedEvent) => Promise<void>,
    private readonly options: SubscribeOptions,
    backoff: ResubscribeBackoff,
    private readonly onFinished: (subscription: EsdbSubscription) => void,
  ) {
    this.initialDelayMs = backoff.initialDelayMs ?? 100;
    this.maxDelayMs = backoff.maxDelayMs ?? 5000;
    this.lastPosition = options.fromPosition;
    this.matches = filterPredicate(options.filter);
    this.loop = this.run().finally(() => this.onFinished(this));
  }

  async unsubscribe(): Promise<void> {
    if (!this.stopped) {
      this.stopped = true;
      this.wakeSleeper?.();
      const current = this.current;
      if (current) {
        await current.unsubscribe().catch(() => undefined);
        current.destroy();
      }
    }
    // From inside the handler this waits for that handler to return: it must not await it (see the class comment).
    await this.loop;
  }

  private async run(): Promise<void> {
    let attempt = 0;
    while (!this.stopped) {
      const subscription = this.client.subscribeToAll({
        fromPosition: this.lastPosition ?? START,
        filter: serverFilter(this.options.filter),
      });
      this.current = subscription;
      subscription.once('confirmation', () => (attempt = 0));
      let dropped: unknown;
      try {
        for await (const resolved of subscription) {
          if (this.stopped) break;
          const event = toRecordedEvent(resolved);
          if (!event) continue;
          if (!isSystemEventType(event.type) && this.matches(event)) {
            try {
              await this.handler(event);
            } catch (error) {
              // The same event would fail again: the subscription ends, the caller hears why.
              this.stopped = true;
              this.report(error);
              return;
            }
            attempt = 0;
          }
          this.lastPosition = event.position;
        }
        dropped = new InfrastructureError('EventStoreDB subscription to $all ended by the server');
      } catch (error) {
        dropped = toInfrastructureError('subscription to $all', error);
      } finally {
        // Cancel the gRPC call too (destroying the stream alone would leave it open on the server).
        await subscription.unsubscribe().catch(() => undefined);
        subscription.destroy();
        this.current = undefined;
      }
      if (this.stopped) return;
      this.report(dropped);
      await this.sleep(Math.min(this.maxDelayMs, this.initialDelayMs * 2 ** attempt));
      attempt += 1;
    }
  }

  private report(error: unknown): void {
    const onDropped = this.options.onDropped;
    if (!onDropped) {
      process.emitWarning(`optex EventStoreDB subscription: ${error instanceof Error ? error.message : String(error)}`, {
        code: 'OPTEX_SUBSCRIPTION_DROPPED',
      });
      return;
    }
    try {
      onDropped(error);
    } catch {
      // A failing onDropped callback must not stop the resubscription.
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.wakeSleeper = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wakeSleeper = done;
    });
  }
}

function serverFilter(filter: SubscribeOptions['filter']): Filter | undefined {
  if (!filter) return undefined;
  const prefixes = [...filter.prefixes];
  return filter.kind === 'eventType' ? eventTypeFilter({ prefixes }) : streamNameFilter({ prefixes });
}
