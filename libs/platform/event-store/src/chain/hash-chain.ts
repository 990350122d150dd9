import { hash as digestOf } from 'node:crypto';
import {
  ConcurrencyError,
  readAllWithoutData,
  type AppendOptions,
  type AppendResult,
  type EventStore,
  type ExpectedRevision,
  type NewEvent,
  type ReadAllOptions,
  type ReadStreamOptions,
  type RecordedEvent,
  type RecordedEventWithoutData,
  type SubscribeOptions,
  type Subscription,
} from '@optex/ports';
import { canonicalJson } from './canonical-json';

/** Metadata keys the chain writes on every event: the hash of the stream's previous event (absent on the first) and the event's own. */
export const CHAIN_KEYS = { prev: 'chainPrev', hash: 'chainHash' } as const;
/** Version of what the hash covers; part of the hashed text, so a later change of the recipe cannot pass for this one. */
const CHAIN_VERSION = 1;

/**
 * What an event's hash covers: its place (stream, revision), type, data, metadata (without the chain keys) and the
 * previous hash. Not its id, nor its `recordedAt`: editing either in the store goes unnoticed.
 */
export interface ChainedContent {
  readonly stream: string;
  readonly revision: bigint;
  readonly type: string;
  readonly data: unknown;
  readonly metadata: Readonly<Record<string, unknown>>;
}

/** The metadata without the chain's own keys (what the hash covers). */
export function unchainedMetadata(metadata: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const { [CHAIN_KEYS.prev]: _prev, [CHAIN_KEYS.hash]: _hash, ...rest } = metadata;
  return rest;
}

/**
 * SHA-256 (hex) of the canonical JSON of the event's content and the previous event's hash (`null` for a stream's
 * first event). Unkeyed: anyone can compute it, so it shows an edit made without recomputing it, not who wrote the event.
 */
export function eventHash(prev: string | null, event: ChainedContent): string {
  const text = canonicalJson({
    v: CHAIN_VERSION,
    stream: event.stream,
    revision: event.revision.toString(),
    type: event.type,
    data: event.data,
    metadata: unchainedMetadata(event.metadata),
    prev,
  });
  return digestOf('sha256', text, 'hex');
}

/** The hash an event records (`undefined` when it carries none). */
export function recordedHash(event: Pick<RecordedEvent, 'metadata'>): string | undefined {
  const hash = event.metadata[CHAIN_KEYS.hash];
  return typeof hash === 'string' ? hash : undefined;
}

export interface HashChainedEventStoreOptions {
  /** Streams whose last hash is remembered (the others are read back on their next append). @defaultValue 10,000 */
  readonly rememberedStreams?: number;
  /** Tries of an append with expected revision `any`/`stream_exists` that loses a race to another writer. @defaultValue 10 */
  readonly attempts?: number;
}

interface Tip {
  readonly revision: bigint;
  /** `null` when the stream's last event predates the chain (the new events chain from `null`). */
  readonly hash: string | null;
}

/** The tip a stored event makes when it is its stream's last: its revision and the hash it records. */
function tipOf(last: Pick<RecordedEvent, 'revision' | 'metadata'>): Tip {
  return { revision: last.revision, hash: recordedHash(last) ?? null };
}

/**
 * An {@link EventStore} whose every appended event carries a SHA-256 hash chained to the previous event of its stream
 * (metadata `chainHash`, and `chainPrev` = the previous event's hash), so that an event edited, removed or reordered
 * without every later hash recomputed no longer matches the chain (`verifyLog`; the recipe is public and unkeyed, so
 * an event appended with a correct hash passes). Wraps any adapter; reads pass through.
 *
 * The previous hash must be the hash of the event actually before the new ones, so every append is made at an exact
 * revision: the caller's, or — for `any`/`stream_exists` — the remembered tip's, else the revision read just before
 * (such appends queue per stream within the process); when another writer got there first, the tip is read again and
 * the append retried after a random pause (up to `attempts` tries). The last hash of recently written streams is
 * remembered, and so is the last event of a stream read to its end (see {@link readStream}) or delivered by the relay
 * ({@link rememberDelivered}); any other stream's last event is read back first.
 */
export class HashChainedEventStore implements EventStore {
  private readonly tips = new Map<string, Tip>();
  /** Appends with expected `any`/`stream_exists` queue per stream in this process (other writers are met by retrying). */
  private readonly queues = new Map<string, Promise<unknown>>();
  private readonly remembered: number;
  private readonly attempts: number;

  constructor(
    readonly inner: EventStore,
    options: HashChainedEventStoreOptions = {},
  ) {
    this.remembered = options.rememberedStreams ?? 10_000;
    this.attempts = options.attempts ?? 10;
  }

  async appendToStream(stream: string, events: readonly NewEvent[], expected: ExpectedRevision, options?: AppendOptions): Promise<AppendResult> {
    if (events.length === 0) return this.inner.appendToStream(stream, events, expected, options);
    if (typeof expected === 'bigint' || expected === 'no_stream') return this.appendAt(stream, events, expected, options);
    const previous = this.queues.get(stream) ?? Promise.resolve();
    const turn = previous.then(
      () => this.appendAtTip(stream, events, expected, options),
      () => this.appendAtTip(stream, events, expected, options),
    );
    this.queues.set(stream, turn);
    try {
      return await turn;
    } finally {
      if (this.queues.get(stream) === turn) this.queues.delete(stream);
    }
  }

  private async appendAtTip(stream: string, events: readonly NewEvent[], expected: 'any' | 'stream_exists', options: AppendOptions | undefined): Promise<AppendResult> {
    // A stream whose tip this process knows (it wrote, read or was delivered the last event) is appended to at that
    // revision without a read; a tip gone stale is refused by the adapter, forgotten, and read as any other.
    const remembered = this.tips.get(stream);
    if (remembered) {
      try {
        return await this.appendAt(stream, events, remembered.revision, options, remembered);
      } catch (error) {
        if (!(error instanceof ConcurrencyError)) throw error;
      }
    }
    for (let attempt = 1; ; attempt++) {
      const tip = await this.readTip(stream);
      if (!tip && expected === 'stream_exists') return this.inner.appendToStream(stream, events, expected, options); // the adapter says why
      try {
        return await this.appendAt(stream, events, tip ? tip.revision : 'no_stream', options, tip);
      } catch (error) {
        if (!(error instanceof ConcurrencyError) || attempt >= this.attempts) throw error;
        // Another writer appended between the read and the append: wait a random while, so two writers stop meeting.
        await new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(2 ** attempt, 50)));
      }
    }
  }

  private async appendAt(stream: string, events: readonly NewEvent[], expected: bigint | 'no_stream', options: AppendOptions | undefined, known?: Tip): Promise<AppendResult> {
    let prev: string | null = null;
    // Whether the stream was at `expected` with this hash at its tip: then, if the adapter says it wrote the events,
    // what is stored is what is hashed here. An idempotent repeat (ids already in the stream; `written` false, or
    // absent where the adapter cannot tell) stored another call's events, whose content may differ.
    let certain = false;
    if (typeof expected === 'bigint') {
      const tip = known ?? (await this.tipAt(stream, expected));
      certain = tip !== undefined;
      // The stream is not at `expected`: the adapter decides (a conflict fails as it would have, an idempotent repeat
      // succeeds without writing what is hashed here).
      prev = tip?.hash ?? null;
    }
    let revision = expected === 'no_stream' ? 0n : expected + 1n;
    const chained: NewEvent[] = [];
    for (const event of events) {
      const metadata = unchainedMetadata(event.metadata ?? {});
      const hash = eventHash(prev, { stream, revision, type: event.type, data: event.data, metadata });
      chained.push({ ...event, metadata: { ...metadata, ...(prev === null ? {} : { [CHAIN_KEYS.prev]: prev }), [CHAIN_KEYS.hash]: hash } });
      prev = hash;
      revision++;
    }
    try {
      const result = await this.inner.appendToStream(stream, chained, expected, options);
      if (certain && result.written === true && result.nextExpectedRevision === revision - 1n) this.remember(stream, { revision: result.nextExpectedRevision, hash: prev as string });
      else this.tips.delete(stream);
      return result;
    } catch (error) {
      this.tips.delete(stream);
      throw error;
    }
  }

  /** The hash of the stream's event at `revision` when it is the last one. */
  private async tipAt(stream: string, revision: bigint): Promise<Tip | undefined> {
    const remembered = this.tips.get(stream);
    if (remembered?.revision === revision) return remembered;
    const tip = await this.readTip(stream);
    return tip?.revision === revision ? tip : undefined;
  }

  private async readTip(stream: string): Promise<Tip | undefined> {
    const [last] = await this.inner.readStream(stream, { direction: 'backwards', maxCount: 1 });
    return last ? tipOf(last) : undefined;
  }

  private remember(stream: string, tip: Tip): void {
    this.tips.delete(stream);
    this.tips.set(stream, tip);
    if (this.tips.size > this.remembered) this.tips.delete(this.tips.keys().next().value as string);
  }

  /**
   * Passes through; a read that shows the stream's last event (forwards to the end, or the newest first) also remembers
   * its revision and hash, so an append at that revision — a command handled on what it just read — need not read the
   * tip again. Sound whatever happened since: a remembered tip is a stored event's own revision and hash, and the
   * append names that revision, so the adapter refuses it if the stream has moved on.
   */
  async readStream(stream: string, options: ReadStreamOptions = {}): Promise<RecordedEvent[]> {
    const events = await this.inner.readStream(stream, options);
    if (events.length > 0) {
      if (options.direction === 'backwards') {
        if (options.fromRevision === undefined) this.rememberRead(stream, events[0]);
      } else if (options.maxCount === undefined) this.rememberRead(stream, events[events.length - 1]);
    }
    return events;
  }

  private rememberRead(stream: string, last: Pick<RecordedEvent, 'revision' | 'metadata'>): void {
    // A newer tip written or read here already stays: a read that started before it answers after it.
    if ((this.tips.get(stream)?.revision ?? -1n) > last.revision) return;
    this.remember(stream, tipOf(last));
  }

  /**
   * Remembers a delivered event as its stream's tip, as a read of the stream's newest event would (see
   * {@link readStream}): a service that handles the relay's delivery of event N and appends at revision N then needs no
   * read of the tip first. Sound for the same reason: the event is a stored one, with its own revision and hash, and the
   * append names that revision. One the tip remembered here is already at or past changes nothing (this process wrote
   * or read it, or it was delivered before), so a redelivery or a late delivery never moves the tip back; nor does an
   * event without a hash, which a chained log's events all have.
   */
  appendsFailing(): { readonly since: Date; readonly error: string } | undefined {
    return this.inner.appendsFailing?.();
  }

  rememberDelivered(event: Pick<RecordedEvent, 'stream' | 'revision' | 'metadata'>): void {
    if ((this.tips.get(event.stream)?.revision ?? -1n) >= event.revision || recordedHash(event) === undefined) return;
    this.remember(event.stream, tipOf(event));
  }

  readAll(options?: ReadAllOptions): AsyncIterable<RecordedEvent> {
    return this.inner.readAll(options);
  }

  readAllWithoutData(options?: ReadAllOptions): AsyncIterable<RecordedEventWithoutData> {
    return readAllWithoutData(this.inner, options);
  }

  subscribeToAll(handler: (event: RecordedEvent) => Promise<void>, options?: SubscribeOptions): Subscription {
    return this.inner.subscribeToAll(handler, options);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
