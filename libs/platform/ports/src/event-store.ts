/** A position in the whole log (`$all`), totally ordered; `commit` is enough to order events. */
export interface GlobalPosition {
  readonly commit: bigint;
  readonly prepare: bigint;
}

/** An event as the caller gives it to the store. `id` must be deterministic (see DESIGN: idempotent appends). */
export interface NewEvent {
  readonly id: string; // UUID
  readonly type: string;
  readonly data: unknown; // JSON-serialisable
  readonly metadata?: Record<string, unknown>; // JSON-serialisable; `schemaVersion` is set by the caller
}

export interface RecordedEvent {
  readonly id: string;
  readonly stream: string;
  readonly type: string;
  /** Revision in its stream, starting at 0. */
  readonly revision: bigint;
  readonly position: GlobalPosition;
  readonly data: unknown;
  readonly metadata: Record<string, unknown>;
  readonly recordedAt: Date;
}

/** `no_stream`: the stream must not exist; `stream_exists`; `any`; or the exact revision of the last event. */
export type ExpectedRevision = bigint | 'any' | 'no_stream' | 'stream_exists';

export interface AppendResult {
  /** Revision of the stream's last event after the append. */
  readonly nextExpectedRevision: bigint;
  readonly position: GlobalPosition;
  /**
   * Whether this call stored its events: `false` for an idempotent repeat (every id was in the stream already, so what
   * is stored is what the first call sent), `true` when the adapter knows it wrote them, absent when it cannot tell
   * (EventStoreDB answers a repeat at the revision the first call expected as a plain success).
   */
  readonly written?: boolean;
}

export interface ReadStreamOptions {
  /** Inclusive start revision. @defaultValue 0n (forwards) */
  readonly fromRevision?: bigint;
  readonly direction?: 'forwards' | 'backwards';
  /** @defaultValue unlimited */
  readonly maxCount?: number;
}

export interface ReadAllOptions {
  /** Inclusive start position. @defaultValue start of the log */
  readonly fromPosition?: GlobalPosition;
  readonly direction?: 'forwards' | 'backwards';
  readonly maxCount?: number;
  readonly filter?: EventFilter;
}

/** Server-side style filter: by event type prefix, or by stream-name prefix. */
export type EventFilter =
  | { readonly kind: 'eventType'; readonly prefixes: readonly string[] }
  | { readonly kind: 'streamName'; readonly prefixes: readonly string[] };

export interface SubscribeOptions {
  /** Exclusive: the subscription delivers events strictly after this position. Undefined = from the start. */
  readonly fromPosition?: GlobalPosition;
  readonly filter?: EventFilter;
  /** Called on a dropped connection before the adapter resubscribes from the last delivered position. */
  readonly onDropped?: (error: unknown) => void;
}

export interface Subscription {
  /**
   * Stops delivery; resolves once the handler is not running and will no longer be called. Called from inside the
   * handler, delivery stops at once and the promise settles after that handler has returned: do not await it there.
   */
  unsubscribe(): Promise<void>;
}

/** How one append is written. */
export interface AppendOptions {
  /**
   * Acknowledge the append only once it, and every append this store acknowledged before it, would survive a power
   * loss: for an intent recorded before an EC2 call that may change something, which a lost intent would let a resume
   * make twice. The SQLite store syncs its WAL at this commit (its others are synced by the next checkpoint, at most
   * about a quarter second later); EventStoreDB flushes every write to disk before it acknowledges it (unless started
   * with `UnsafeDisableFlushToDisk`), so its adapter has nothing more to do and takes no options.
   */
  readonly durable?: boolean;
}

/**
 * The append-only log. Appends are atomic per call; an event whose `id` is already in the
 * stream is not appended again (idempotent append): if *all* ids of the call are already
 * present at the end of the stream the call succeeds and returns the current revision,
 * regardless of the expected revision.
 */
export interface EventStore {
  appendToStream(stream: string, events: readonly NewEvent[], expected: ExpectedRevision, options?: AppendOptions): Promise<AppendResult>;
  /** Resolves to [] when the stream does not exist. */
  readStream(stream: string, options?: ReadStreamOptions): Promise<RecordedEvent[]>;
  readAll(options?: ReadAllOptions): AsyncIterable<RecordedEvent>;
  /**
   * Optional: `readAll` without each event's data, for a reader that needs only ids, streams, types, positions and
   * metadata (the audit anchor), from a store that can leave the data unread (SQLite neither fetches nor parses it).
   * Where a store has none, {@link readAllWithoutData} reads `readAll`.
   */
  readAllWithoutData?(options?: ReadAllOptions): AsyncIterable<RecordedEventWithoutData>;
  /**
   * Catch-up subscription to the whole log: first every stored event after `fromPosition`,
   * then live ones, in global order. The handler is awaited before the next event is delivered.
   */
  subscribeToAll(handler: (event: RecordedEvent) => Promise<void>, options?: SubscribeOptions): Subscription;
  /**
   * Optional: a stored event this process learned of without reading it — a delivery of the relay, with the stream,
   * revision and metadata it has in the log. A store that remembers the last event of streams may remember it (the hash
   * chain then appends at that revision without reading the stream's last event first); where a store has no such
   * memory it has no such method. The append still names its expected revision, so a stream that moved on since is
   * refused as ever.
   */
  rememberDelivered?(event: Pick<RecordedEvent, 'stream' | 'revision' | 'metadata'>): void;
  /**
   * Optional: since when every append has failed (a local store: a full disk, a file made read-only or damaged) and the
   * last failure; undefined while appends succeed. A remote store has none: its outages are waited out. A run of the
   * embedded engine stops when appends have failed for too long (`ProcessOptions.storeWriteTimeoutMs`).
   */
  appendsFailing?(): { readonly since: Date; readonly error: string } | undefined;
  close(): Promise<void>;
}

/** A recorded event as {@link EventStore.readAllWithoutData} reads it. */
export type RecordedEventWithoutData = Omit<RecordedEvent, 'data'>;

/** The store's `readAllWithoutData` when it has one, else its `readAll` (the data read, and not looked at). */
export function readAllWithoutData(store: EventStore, options?: ReadAllOptions): AsyncIterable<RecordedEventWithoutData> {
  return store.readAllWithoutData ? store.readAllWithoutData(options) : store.readAll(options);
}

/**
 * The file a `sqlite:PATH` event store url names, read as `createEventStore` reads it (scheme case-insensitive, the
 * rest taken as it is); `undefined` for a store that is not a file on this machine (`sqlite::memory:`, `memory:`,
 * `esdb://…`) or a url that names no file. The one reading of that url for everything kept beside the store (the
 * writer lock, the simulated fleet's state, read-model checkpoints) and for commands that refuse a missing store.
 */
export function sqliteFileOf(storeUrl: string): string | undefined {
  const path = /^sqlite:(.+)$/is.exec(storeUrl)?.[1];
  return path === undefined || path === ':memory:' ? undefined : path;
}
