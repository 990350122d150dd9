import { BACKWARDS, END, EventStoreDBClient, FORWARDS, START, jsonEvent } from '@eventstore/db-client';
import type { AllStreamResolvedEvent, JSONType, Position, ResolvedEvent } from '@eventstore/db-client';
import { ConcurrencyError, InfrastructureError, withoutCredentials } from '@optex/ports';
import type {
  AppendResult,
  EventStore,
  ExpectedRevision,
  GlobalPosition,
  NewEvent,
  ReadAllOptions,
  ReadStreamOptions,
  RecordedEvent,
  SubscribeOptions,
  Subscription,
} from '@optex/ports';
import {
  assertExpectedRevision,
  assertFilter,
  assertPosition,
  assertReadAllOptions,
  assertReadStreamOptions,
  assertStreamName,
  serializeEvents,
} from '../validation';
import { isStreamNotFound, isWrongExpectedVersion, toInfrastructureError } from './errors';
import { EsdbSubscription } from './esdb-subscription';
import type { ResubscribeBackoff } from './esdb-subscription';
import { comparePositions, filterPredicate, isSystemEventType, toRecordedEvent } from './mapping';

/** Tuning of {@link EsdbEventStore}. */
export interface EsdbEventStoreOptions {
  /** Backoff between resubscriptions after a dropped subscription. */
  readonly resubscribe?: ResubscribeBackoff;
  /**
   * Events fetched per request while iterating `readAll` (forwards, each request after the first fetches one more: the
   * previous page's last event again, where the server's inclusive read resumes). @defaultValue 500
   */
  readonly readAllPageSize?: number;
}

/**
 * {@link EventStore} on EventStoreDB through `@eventstore/db-client`.
 *
 * - Appends send the caller's deterministic event ids; the server dedupes a retried append, and
 *   when a conflict is reported for events that are all already at the end of the stream the
 *   append counts as done (the port's idempotency rule).
 * - Driver errors never leave the adapter: a version conflict becomes {@link ConcurrencyError},
 *   anything else (unavailable, deadline, access denied, ...) {@link InfrastructureError}.
 * - `$all` reads and subscriptions skip system events (types starting with `$`).
 */
export class EsdbEventStore implements EventStore {
  private readonly subscriptions = new Set<EsdbSubscription>();
  private readonly pageSize: number;
  private closed = false;

  private constructor(
    private readonly client: EventStoreDBClient,
    private readonly options: EsdbEventStoreOptions,
  ) {
    const pageSize = options.readAllPageSize ?? 500;
    if (!Number.isInteger(pageSize) || pageSize < 1) {
      throw new RangeError(`EsdbEventStore: readAllPageSize must be a positive integer, got ${String(pageSize)}`);
    }
    this.pageSize = pageSize;
  }

  /**
   * Creates a store for a connection string such as `esdb://127.0.0.1:2113?tls=false`. The
   * connection is opened lazily by the first call; an unreachable server surfaces as
   * {@link InfrastructureError} from that call.
   * @throws TypeError naming the connection string when it cannot be parsed.
   */
  static connect(connectionString: string, options: EsdbEventStoreOptions = {}): EsdbEventStore {
    let client: EventStoreDBClient;
    try {
      client = EventStoreDBClient.connectionString(connectionString);
    } catch (error) {
      const detail = error instanceof Error ? error.message : String(error);
      throw new TypeError(`invalid EventStoreDB connection string ${JSON.stringify(withoutCredentials(connectionString))}: ${detail.split(connectionString).join(withoutCredentials(connectionString))}`, { cause: error });
    }
    return new EsdbEventStore(client, options);
  }

  async appendToStream(stream: string, events: readonly NewEvent[], expected: ExpectedRevision): Promise<AppendResult> {
    assertStreamName(stream);
    assertExpectedRevision(expected);
    const serialized = serializeEvents(events);
    this.assertOpen();
    const payload = events.map((event, i) =>
      jsonEvent({
        id: serialized[i].id,
        type: serialized[i].type,
        // JSON.stringify (what the client applies) takes any JSON value, not only the client's JSONType.
        data: (event.data === undefined ? null : event.data) as JSONType,
        metadata: event.metadata ?? {},
      }),
    );
    try {
      const result = await this.client.appendToStream(stream, payload, { expectedRevision: expected });
      const position = result.position ?? (await this.lastEvent(stream))?.position;
      if (!position) throw new InfrastructureError(`EventStoreDB append to ${stream} returned no position`);
      return { nextExpectedRevision: result.nextExpectedRevision, position: { commit: position.commit, prepare: position.prepare } };
    } catch (error) {
      if (!isWrongExpectedVersion(error)) throw toInfrastructureError(`append to ${stream}`, error);
      // Port rule: a call whose events are all already at the end of the stream is a success.
      const tail = await this.readStream(stream, { direction: 'backwards', maxCount: serialized.length });
      const tailIds = tail.map((event) => event.id).reverse();
      if (tailIds.length === serialized.length && tailIds.every((id, i) => id === serialized[i].id)) {
        return { nextExpectedRevision: tail[0].revision, position: tail[0].position, written: false };
      }
      const reported = (error as { actualVersion?: unknown }).actualVersion;
      const actual = typeof reported === 'bigint' || reported === 'no_stream' ? reported : (tail[0]?.revision ?? 'no_stream');
      throw new ConcurrencyError(stream, expected, actual);
    }
  }

  async readStream(stream: string, options: ReadStreamOptions = {}): Promise<RecordedEvent[]> {
    assertStreamName(stream);
    assertReadStreamOptions(options);
    this.assertOpen();
    if (options.maxCount === 0) return [];
    const direction = options.direction ?? 'forwards';
    const out: RecordedEvent[] = [];
    try {
      const read = this.client.readStream(stream, {
        fromRevision: options.fromRevision ?? (direction === 'forwards' ? START : END),
        direction: direction === 'forwards' ? FORWARDS : BACKWARDS,
        maxCount: options.maxCount ?? Number.MAX_SAFE_INTEGER,
      });
      for await (const resolved of read as AsyncIterable<ResolvedEvent>) {
        const event = toRecordedEvent(resolved);
        if (event) out.push(event);
      }
    } catch (error) {
      if (isStreamNotFound(error)) return [];
      throw toInfrastructureError(`read of ${stream}`, error);
    }
    return out;
  }

  readAll(options: ReadAllOptions = {}): AsyncIterable<RecordedEvent> {
    assertReadAllOptions(options);
    this.assertOpen();
    return this.iterateAll(options.direction ?? 'forwards', options.maxCount ?? Number.POSITIVE_INFINITY, options);
  }

  subscribeToAll(handler: (event: RecordedEvent) => Promise<void>, options: SubscribeOptions = {}): Subscription {
    if (typeof handler !== 'function') throw new TypeError('handler must be a function');
    if (options.fromPosition !== undefined) assertPosition(options.fromPosition, 'fromPosition');
    if (options.filter !== undefined) assertFilter(options.filter);
    this.assertOpen();
    const subscription = new EsdbSubscription(this.client, handler, options, this.options.resubscribe ?? {}, (s) =>
      this.subscriptions.delete(s),
    );
    this.subscriptions.add(subscription);
    return subscription;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.subscriptions].map((subscription) => subscription.unsubscribe()));
    await this.client.dispose();
  }

  // ------------------------------------------------------------------ internals

  /**
   * Pages through `$all`. Filters apply client-side (the 6.x client reads `$all` unfiltered), so
   * `maxCount` counts matching events. Forwards from a position is inclusive on the server;
   * backwards is exclusive there, so the event at `fromPosition` itself is fetched first.
   */
  private async *iterateAll(
    direction: 'forwards' | 'backwards',
    maxCount: number,
    options: ReadAllOptions,
  ): AsyncGenerator<RecordedEvent> {
    const matches = filterPredicate(options.filter);
    const wanted = (event: RecordedEvent): boolean => !isSystemEventType(event.type) && matches(event);
    let yielded = 0;
    if (yielded >= maxCount) return;
    let cursor: Position | typeof START | typeof END = options.fromPosition ?? (direction === 'forwards' ? START : END);
    // Forwards: skip what is at or before `seen` (page overlap); backwards: skip what is at or after it.
    let seen: GlobalPosition | undefined;
    if (direction === 'backwards' && options.fromPosition) {
      const { events } = await this.readAllPage(options.fromPosition, 'forwards', 1);
      const first = events[0];
      if (first && comparePositions(first.position, options.fromPosition) === 0 && wanted(first)) {
        yield first;
        yielded += 1;
      }
      seen = options.fromPosition;
    }
    while (yielded < maxCount) {
      // Forwards from the last page's last event reads that event again: one record more keeps the page's new events at pageSize.
      const count = direction === 'forwards' && seen ? this.pageSize + 1 : this.pageSize;
      const page = await this.readAllPage(cursor, direction, count);
      for (const event of page.events) {
        if (seen) {
          const order = comparePositions(event.position, seen);
          if (direction === 'forwards' ? order <= 0 : order >= 0) continue;
        }
        if (!wanted(event)) continue;
        yield event;
        yielded += 1;
        if (yielded >= maxCount) return;
      }
      if (page.received < count || !page.last) return;
      seen = page.last;
      cursor = page.last;
    }
  }

  /** One read of `$all`: the events, how many records the server sent, and the last one's position. */
  private async readAllPage(
    from: Position | typeof START | typeof END,
    direction: 'forwards' | 'backwards',
    count: number,
  ): Promise<{ events: RecordedEvent[]; received: number; last: GlobalPosition | undefined }> {
    this.assertOpen();
    const events: RecordedEvent[] = [];
    let received = 0;
    let last: GlobalPosition | undefined;
    try {
      const read = this.client.readAll({
        fromPosition: from,
        direction: direction === 'forwards' ? FORWARDS : BACKWARDS,
        maxCount: count,
      });
      for await (const resolved of read as AsyncIterable<AllStreamResolvedEvent>) {
        received += 1;
        const event = toRecordedEvent(resolved);
        if (event) events.push(event);
        const position = event?.position ?? resolved.link?.position;
        if (position) last = position;
      }
    } catch (error) {
      throw toInfrastructureError('read of $all', error);
    }
    return { events, received, last };
  }

  private async lastEvent(stream: string): Promise<RecordedEvent | undefined> {
    const [last] = await this.readStream(stream, { direction: 'backwards', maxCount: 1 });
    return last;
  }

  private assertOpen(): void {
    if (this.closed) throw new InfrastructureError('EsdbEventStore is closed');
  }
}
