import {
  TOPICS,
  describeError,
  isOutage,
  silentLogger,
  type Bus,
  type BusMessage,
  type EventStore,
  type GlobalPosition,
  type Logger,
  type RecordedEvent,
  type Subscription,
} from '@optex/ports';
import { parseStoredEvent, schemaVersionOf } from '@optex/domain';
import { executionsKeyedByResource, internalMessagesOf, messageKeyOf, traceExtension } from './lifecycle-codec';
import { IntegrationTranslator, encodeIntegrationEvent } from './integration-codec';

/** Streams whose events are published (to `optex.internal.events.v1`, and translated to `optex.events.v1`). */
export const PUBLISHED_STREAM_PREFIXES = ['optimization-', 'rejected-recommendations', 'duplicate-recommendations', 'batch-', 'optex-control'] as const;

export interface LogRelayOptions {
  /** Name of the relay; its checkpoint lives in stream `relay-checkpoint-<name>`. @defaultValue `events` */
  readonly name?: string;
  /** Store a checkpoint after this many published events, and once more on stop. @defaultValue 100 */
  readonly checkpointEvery?: number;
  readonly logger?: Logger;
  /** Called after each publish (metrics). */
  readonly onPublished?: (event: RecordedEvent) => void;
  /**
   * Most events one publish carries: events the subscription delivers while a publish runs wait and go together in the
   * next one; with this many waiting, the subscription waits too. @defaultValue 100
   */
  readonly maxBatch?: number;
  /**
   * Also publish the public integration events (`optex.events.v1`).
   * @defaultValue true, unless the bus is local to this process (`Bus.local`: nobody outside could read them)
   */
  readonly integrationEvents?: boolean;
}

/**
 * The log is the outbox: a checkpointed catch-up subscription to the whole log that publishes
 * every lifecycle event to `optex.internal.events.v1` for optex's own services (CloudEvents binary mode,
 * `io.optex.<EventName>`, keyed by `<accountId>/<region>/<resourceId>`), to `optex.internal.executions.v1` for the
 * executor (keyed by `<accountId>/<region>`: one budget owner per account-region; per resource on a bus inside one
 * process, whose one executor owns every budget) and, in the same publish, its public
 * integration event, if it has one, to `optex.events.v1` (`com.optex.*.v1`, translated by the domain's
 * `integration-events.ts` through {@link IntegrationTranslator}). Nothing unrecorded is published; an event recorded
 * just before a crash is published after the restart (from the last checkpoint: at least once).
 * Publishes are batched, not awaited per event: the first event goes out at once, and those the subscription delivers
 * while that publish runs (an `acks=all` round trip on Kafka) go together in the next one — one `Bus.publish`, one
 * produce request — in log order, at most `maxBatch` (100) events each; `onPublished` follows each publish, and a
 * checkpoint every `checkpointEvery` published events, so `position` and `caughtUp()` count only what the bus
 * acknowledged.
 * Every event is parsed and upcast to its type's current schema version before it is published
 * (`parseStoredEvent`), so consumers of the topic read current events only; an event that cannot be
 * parsed (an unknown type, a newer version, bad data) is not published: the relay stops there,
 * reports it (`lastError`, an error log naming the event) and tries again with backoff, since only a
 * newer optex can read it.
 */
export class LogRelay {
  private subscription?: Subscription;
  private lastPublished?: GlobalPosition;
  private lastCheckpointed?: GlobalPosition;
  private sinceCheckpoint = 0;
  private readonly checkpointStream: string;
  private readonly logger: Logger;
  private failure?: unknown;
  private stopping = false;
  private readonly translator?: IntegrationTranslator;
  private readonly maxBatch: number;
  /** Events read and encoded, waiting for the publish that runs now; published together next, in log order. */
  private queued: { readonly event: RecordedEvent; readonly messages: readonly BusMessage[] }[] = [];
  /** The loop that publishes {@link queued}, while it runs. */
  private publishing: Promise<void> | undefined;
  /** Subscription deliveries waiting for room in {@link queued}. */
  private waitingForRoom: (() => void)[] = [];
  /** Retry backoffs under way, ended early by {@link stop}. */
  private readonly pauses = new Set<() => void>();

  constructor(
    private readonly store: EventStore,
    private readonly bus: Bus,
    private readonly options: LogRelayOptions = {},
  ) {
    this.checkpointStream = `relay-checkpoint-${options.name ?? 'events'}`;
    this.logger = (options.logger ?? silentLogger).child({ component: 'log-relay' });
    if (options.integrationEvents ?? !bus.local) this.translator = new IntegrationTranslator(store);
    this.maxBatch = options.maxBatch ?? 100;
    if (!Number.isSafeInteger(this.maxBatch) || this.maxBatch < 1) throw new RangeError(`LogRelay: maxBatch must be a positive integer, got ${String(options.maxBatch)}`);
  }

  /** Reads the stored checkpoint and starts publishing from just after it. */
  async start(): Promise<void> {
    const [last] = await this.store.readStream(this.checkpointStream, { direction: 'backwards', maxCount: 1 });
    const from = last ? parsePosition(last.data) : undefined;
    this.lastPublished = from;
    this.lastCheckpointed = from;
    this.logger.info({ from: from ? String(from.commit) : 'start' }, 'relay starting');
    this.subscription = this.store.subscribeToAll(async (event) => this.enqueue(event), {
      fromPosition: from,
      filter: { kind: 'streamName', prefixes: [...PUBLISHED_STREAM_PREFIXES] },
      onDropped: (error) => this.logger.warn({ err: String(error) }, 'relay subscription dropped; resubscribing'),
    });
  }

  /** The event upcast to its current version and validated; retried with backoff (and reported) while it cannot be. */
  private async current(event: RecordedEvent): Promise<RecordedEvent> {
    for (let attempt = 1; ; attempt++) {
      try {
        const parsed = parseStoredEvent(event);
        return { ...event, type: parsed.type, data: parsed.data, metadata: { ...event.metadata, schemaVersion: schemaVersionOf(parsed.type) } };
      } catch (error) {
        this.failure = error;
        this.logger.error({ err: String(error), eventId: event.id, stream: event.stream, revision: String(event.revision), attempt }, 'cannot read a stored event; the relay waits');
        const until = Date.now() + Math.min(60_000, 100 * 2 ** Math.min(attempt, 10));
        while (Date.now() < until && !this.stopping) await new Promise((r) => setTimeout(r, Math.min(250, until - Date.now())));
        if (this.stopping) throw error; // ends this delivery; nothing after it was published
      }
    }
  }

  /**
   * The public message of an event, if any. A translation that fails (a bug: the translator's output breaks its own
   * schema) is logged and the public event left out, rather than stopping optex's own services behind it.
   */
  private async integrationMessages(event: RecordedEvent): Promise<BusMessage[]> {
    if (!this.translator) return [];
    try {
      const translated = await this.translator.translate(event);
      return translated.map((out) => ({ topic: TOPICS.events, ...encodeIntegrationEvent(out, event, messageKeyOf(event), traceExtension(event)) }));
    } catch (error) {
      if (isOutage(error)) throw error;
      this.logger.error({ err: describeError(error), eventId: event.id, stream: event.stream, type: event.type }, 'integration event not published: translation failed');
      return [];
    }
  }

  /** A delivery of the subscription: the event read and encoded, queued for the next publish; waits while the queue is full. */
  private async enqueue(stored: RecordedEvent): Promise<void> {
    const event = await this.current(stored);
    // The translation may read the store: an outage there waits here, before anything after this event is queued.
    const messages = await this.untilItWorks('encoding', { eventId: event.id }, async () => [
      ...internalMessagesOf(event, { executionsByResource: executionsKeyedByResource(this.bus) }),
      ...(await this.integrationMessages(event)),
    ]);
    this.queued.push({ event, messages });
    this.publishing ??= this.publishQueued();
    while (this.queued.length >= this.maxBatch && !this.stopping) await new Promise<void>((resolve) => this.waitingForRoom.push(resolve));
  }

  /**
   * Publishes what is queued, a batch at a time, until nothing is; each batch retried (with backoff) until the bus takes
   * it, or until the relay stops: then the batch goes back to the head of the queue, unpublished, and the loop ends.
   */
  private async publishQueued(): Promise<void> {
    try {
      while (this.queued.length > 0) {
        const batch = this.queued.splice(0, this.maxBatch);
        for (const wake of this.waitingForRoom.splice(0)) wake();
        const messages = batch.flatMap((b) => b.messages);
        try {
          await this.untilItWorks('publish', { events: batch.length, firstEventId: batch[0].event.id }, () => this.bus.publish(messages));
        } catch (error) {
          this.queued.unshift(...batch);
          this.logger.warn({ err: String(error), unpublished: this.queued.length }, 'relay stopping with the bus failing; a restart publishes from the checkpoint');
          return;
        }
        this.failure = undefined;
        this.lastPublished = batch[batch.length - 1].event.position;
        for (const { event } of batch) this.options.onPublished?.(event);
        this.sinceCheckpoint += batch.length;
        if (this.sinceCheckpoint >= (this.options.checkpointEvery ?? 100)) await this.checkpointIfReachable();
      }
    } finally {
      this.publishing = undefined;
    }
  }

  /**
   * Runs `run` until it succeeds, 100 ms, 200 ms, … (at most 5 s) apart; each failure is {@link lastError} and a warning.
   * Throws only once the relay is stopping: a failure then is not retried (and {@link stop} ends the wait for a retry).
   */
  private async untilItWorks<T>(what: string, fields: Record<string, unknown>, run: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await run();
      } catch (error) {
        this.failure = error;
        if (this.stopping) throw error;
        this.logger.warn({ err: String(error), attempt, ...fields }, `${what} failed; retrying`);
        await this.pause(Math.min(5000, 50 * 2 ** Math.min(attempt, 7)));
        if (this.stopping) throw error;
      }
    }
  }

  /** Waits `ms`, or until {@link stop}. */
  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const end = (): void => {
        clearTimeout(timer);
        this.pauses.delete(end);
        resolve();
      };
      const timer = setTimeout(end, ms);
      this.pauses.add(end);
    });
  }

  /**
   * A checkpoint the store cannot take now (an outage, or any other failure) is not worth stopping the relay for: it only
   * bounds what a restart publishes again. Logged (an error when it is not an outage); the next one (after
   * `checkpointEvery` more events, or on stop) tries again.
   */
  private async checkpointIfReachable(): Promise<void> {
    try {
      await this.checkpoint();
    } catch (error) {
      if (!isOutage(error)) {
        // Not an outage (a bug): published events stay published; a restart republishes from the last stored checkpoint.
        this.logger.error({ err: describeError(error) }, 'relay checkpoint not stored; the next one tries again');
        return;
      }
      this.logger.warn({ err: describeError(error) }, 'relay checkpoint not stored (store unavailable); the next one tries again');
    }
  }

  /** Stores the position of the last published event (no-op when nothing new was published). */
  async checkpoint(): Promise<void> {
    const at = this.lastPublished;
    if (!at || (this.lastCheckpointed && this.lastCheckpointed.commit === at.commit)) return;
    await this.store.appendToStream(
      this.checkpointStream,
      [{ id: cryptoRandomId(), type: 'RelayCheckpointReached', data: { commit: String(at.commit), prepare: String(at.prepare) } }],
      'any',
    );
    this.lastCheckpointed = at;
    this.sinceCheckpoint = 0;
  }

  /** Position of the last event published, if any. */
  get position(): GlobalPosition | undefined {
    return this.lastPublished;
  }

  /** The last publish error while the relay is still retrying it, for health checks. */
  get lastError(): unknown {
    return this.failure;
  }

  /** True when every published-stream event in the log up to now has been published. */
  async caughtUp(): Promise<boolean> {
    for await (const head of this.store.readAll({ direction: 'backwards', maxCount: 1, filter: { kind: 'streamName', prefixes: [...PUBLISHED_STREAM_PREFIXES] } })) {
      return this.lastPublished !== undefined && this.lastPublished.commit >= head.position.commit;
    }
    return true;
  }

  /**
   * Stops reading the log, lets the publish under way finish (with what was queued by then), and stores a last
   * checkpoint. A publish the bus fails meanwhile is not retried: what it carried and what was queued behind it stay
   * after the checkpoint, for the next start to publish.
   */
  async stop(): Promise<void> {
    this.stopping = true;
    for (const end of [...this.pauses]) end();
    for (const wake of this.waitingForRoom.splice(0)) wake();
    await this.subscription?.unsubscribe();
    this.subscription = undefined;
    await this.publishing;
    await this.checkpointIfReachable();
  }
}

function parsePosition(data: unknown): GlobalPosition | undefined {
  const d = data as { commit?: string; prepare?: string };
  if (typeof d?.commit !== 'string') return undefined;
  return { commit: BigInt(d.commit), prepare: BigInt(d.prepare ?? d.commit) };
}

function cryptoRandomId(): string {
  return globalThis.crypto.randomUUID();
}
