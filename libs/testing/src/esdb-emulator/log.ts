import { closeSync, existsSync, fsyncSync, openSync, readFileSync, truncateSync, writeSync } from 'node:fs';

/** One event as the emulator stores it: the wire-level fields of a recorded event. */
export interface StoredEvent {
  readonly stream: string;
  /** Revision in its stream, from 0. */
  readonly revision: bigint;
  /** Position in `$all`; the emulator uses the same value for commit and prepare positions. */
  readonly position: bigint;
  readonly id: string;
  readonly type: string;
  readonly contentType: string;
  readonly data: Uint8Array;
  readonly metadata: Uint8Array;
  /** .NET ticks (100 ns) since the Unix epoch, as EventStoreDB sends in the `created` metadata entry. */
  readonly created: bigint;
}

/** An event as an Append call proposes it. */
export interface ProposedEvent {
  readonly id: string;
  readonly type: string;
  readonly contentType: string;
  readonly data: Uint8Array;
  readonly metadata: Uint8Array;
}

export type ExpectedStreamState = bigint | 'any' | 'no_stream' | 'stream_exists';

export type AppendOutcome =
  | {
      readonly ok: true;
      /** Revision of the stream's last event after the append; `undefined` when the stream still does not exist (empty append). */
      readonly revision: bigint | undefined;
      /** Position of the stream's last event; `undefined` when nothing was written and the stream is empty. */
      readonly position: bigint | undefined;
    }
  | { readonly ok: false; readonly current: bigint | 'no_stream'; readonly expected: ExpectedStreamState };

export type Direction = 'forwards' | 'backwards';

/** A predicate on stored events (server-side subscription/read filter). */
export type EventPredicate = (event: StoredEvent) => boolean;

/** Bytes every record "occupies" besides its payload, so positions look like (made-up) byte offsets: increasing, not contiguous. */
const RECORD_OVERHEAD = 64n;
const TICKS_PER_MS = 10_000n;

interface PersistedBatch {
  readonly v: 1;
  readonly events: {
    readonly stream: string;
    readonly revision: string;
    readonly position: string;
    readonly id: string;
    readonly type: string;
    readonly contentType: string;
    readonly data: string;
    readonly metadata: string;
    readonly created: string;
  }[];
}

/**
 * The emulator's storage: an append-only, totally ordered log with per-stream indexes, kept in
 * memory and, when a data file is given, also as JSON lines (one line per append, written and
 * fsync'd before the append is acknowledged, so an append is all or nothing across a crash).
 */
export class EmulatorLog {
  private readonly all: StoredEvent[] = [];
  private readonly streams = new Map<string, StoredEvent[]>();
  private readonly idsByStream = new Map<string, Set<string>>();
  private readonly listeners = new Set<() => void>();
  private nextPosition = 0n;

  private constructor(
    private readonly dataFile: string | undefined,
    private readonly now: () => number,
  ) {}

  /**
   * Opens a log. With `dataFile`, loads what it holds (a torn last line from a crash is cut off)
   * and persists every later append to it.
   */
  static open(options: { dataFile?: string; now?: () => number } = {}): EmulatorLog {
    const log = new EmulatorLog(options.dataFile, options.now ?? Date.now);
    if (options.dataFile && existsSync(options.dataFile)) log.load(options.dataFile);
    return log;
  }

  get size(): number {
    return this.all.length;
  }

  /**
   * Appends atomically with EventStoreDB's expected-revision rules. Idempotency: when every
   * proposed id is already in the stream (a repeated append) nothing is written and the current
   * revision is returned, whatever the expected revision; when only some are, the append is
   * rejected as a wrong expected version (EventStoreDB's "corrupted idempotency").
   */
  append(stream: string, expected: ExpectedStreamState, proposed: readonly ProposedEvent[]): AppendOutcome {
    const existing = this.streams.get(stream) ?? [];
    const last = existing.at(-1);
    const current = last?.revision;

    const ids = this.idsByStream.get(stream);
    const known = ids ? proposed.filter((event) => ids.has(event.id)).length : 0;
    if (known > 0 && known === proposed.length) return { ok: true, revision: current, position: last?.position };
    if (known > 0) return { ok: false, current: current ?? 'no_stream', expected };

    const matches =
      expected === 'any' ||
      (expected === 'no_stream' && current === undefined) ||
      (expected === 'stream_exists' && current !== undefined) ||
      (typeof expected === 'bigint' && current === expected);
    if (!matches) return { ok: false, current: current ?? 'no_stream', expected };
    if (proposed.length === 0) return { ok: true, revision: current, position: last?.position };

    const created = BigInt(this.now()) * TICKS_PER_MS;
    let revision = current === undefined ? 0n : current + 1n;
    let position = this.nextPosition;
    const written: StoredEvent[] = proposed.map((event) => {
      const stored: StoredEvent = { stream, revision, position, created, ...event };
      revision += 1n;
      position += recordSize(stored);
      return stored;
    });
    if (this.dataFile) this.persist(this.dataFile, written);
    this.commit(written);
    const tail = written[written.length - 1];
    return { ok: true, revision: tail.revision, position: tail.position };
  }

  /** Events of one stream, or `undefined` when the stream does not exist. */
  readStream(
    stream: string,
    from: bigint | 'start' | 'end',
    direction: Direction,
    count: number,
  ): StoredEvent[] | undefined {
    const events = this.streams.get(stream);
    if (!events) return undefined;
    const out: StoredEvent[] = [];
    if (direction === 'forwards') {
      if (from === 'end') return out;
      const start = from === 'start' ? 0 : Number(from);
      for (let i = start; i < events.length && out.length < count; i++) out.push(events[i]);
    } else {
      if (from === 'start') return out;
      const start = from === 'end' ? events.length - 1 : Math.min(Number(from), events.length - 1);
      for (let i = start; i >= 0 && out.length < count; i--) out.push(events[i]);
    }
    return out;
  }

  /**
   * Reads `$all`. Forwards from a position is inclusive (events at or after it); backwards from a
   * position is exclusive (events strictly before it), as EventStoreDB's pre/post positions are.
   */
  readAll(
    from: bigint | 'start' | 'end',
    direction: Direction,
    count: number,
    predicate: EventPredicate = () => true,
  ): StoredEvent[] {
    const out: StoredEvent[] = [];
    if (direction === 'forwards') {
      const start = from === 'start' ? 0 : from === 'end' ? this.all.length : this.indexAtOrAfter(from);
      for (let i = start; i < this.all.length && out.length < count; i++) {
        if (predicate(this.all[i])) out.push(this.all[i]);
      }
    } else {
      const start = from === 'end' ? this.all.length - 1 : from === 'start' ? -1 : this.indexAtOrAfter(from) - 1;
      for (let i = start; i >= 0 && out.length < count; i--) {
        if (predicate(this.all[i])) out.push(this.all[i]);
      }
    }
    return out;
  }

  /** The event at an index of `$all` (0-based, in log order), if any. */
  at(index: number): StoredEvent | undefined {
    return this.all[index];
  }

  /** Index of the first event of `$all` whose position is at or after `position`. */
  indexAtOrAfter(position: bigint): number {
    let lo = 0;
    let hi = this.all.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.all[mid].position < position) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Index of the first event of `$all` strictly after `position` (where an exclusive subscription starts). */
  indexAfter(position: bigint): number {
    const i = this.indexAtOrAfter(position);
    return this.all[i]?.position === position ? i + 1 : i;
  }

  /** Calls `listener` after every successful append that wrote events; returns the unsubscribe function. */
  onAppended(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private commit(events: readonly StoredEvent[]): void {
    for (const event of events) {
      this.all.push(event);
      const stream = this.streams.get(event.stream);
      if (stream) stream.push(event);
      else this.streams.set(event.stream, [event]);
      const ids = this.idsByStream.get(event.stream);
      if (ids) ids.add(event.id);
      else this.idsByStream.set(event.stream, new Set([event.id]));
    }
    const tail = events[events.length - 1];
    this.nextPosition = tail.position + recordSize(tail);
    for (const listener of [...this.listeners]) listener();
  }

  private persist(file: string, events: readonly StoredEvent[]): void {
    const batch: PersistedBatch = {
      v: 1,
      events: events.map((e) => ({
        stream: e.stream,
        revision: e.revision.toString(),
        position: e.position.toString(),
        id: e.id,
        type: e.type,
        contentType: e.contentType,
        data: Buffer.from(e.data).toString('base64'),
        metadata: Buffer.from(e.metadata).toString('base64'),
        created: e.created.toString(),
      })),
    };
    const fd = openSync(file, 'a');
    try {
      writeSync(fd, `${JSON.stringify(batch)}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }

  private load(file: string): void {
    const text = readFileSync(file, 'utf8');
    const end = text.lastIndexOf('\n') + 1;
    if (end < text.length) truncateSync(file, Buffer.byteLength(text.slice(0, end))); // torn last append
    const lines = text.slice(0, end).split('\n');
    lines.forEach((line, index) => {
      if (line.trim() === '') return;
      let batch: PersistedBatch;
      try {
        batch = JSON.parse(line) as PersistedBatch;
      } catch (error) {
        throw new Error(`esdb emulator: ${file} line ${index + 1} is not valid JSON`, { cause: error });
      }
      if (batch.v !== 1 || !Array.isArray(batch.events) || batch.events.length === 0) {
        throw new Error(`esdb emulator: ${file} line ${index + 1} is not an append record (expected {"v":1,"events":[...]})`);
      }
      this.commit(
        batch.events.map((e) => ({
          stream: e.stream,
          revision: BigInt(e.revision),
          position: BigInt(e.position),
          id: e.id,
          type: e.type,
          contentType: e.contentType,
          data: Buffer.from(e.data, 'base64'),
          metadata: Buffer.from(e.metadata, 'base64'),
          created: BigInt(e.created),
        })),
      );
    });
  }
}

function recordSize(event: StoredEvent): bigint {
  return (
    RECORD_OVERHEAD +
    BigInt(Buffer.byteLength(event.stream) + Buffer.byteLength(event.type) + event.data.length + event.metadata.length)
  );
}
