import type { EventFilter, RecordedEvent } from '@optex/ports';

export interface RecentEventsLimits {
  /** Streams whose whole content is kept (least recently used dropped first). */
  readonly streams: number;
  /** Most recent events of the log kept for subscriptions. */
  readonly tail: number;
}

/**
 * What one connection knows of the log without asking SQLite: the whole content of recently used
 * streams, and the tail of `$all` after a base position. It is only ever *complete* for the events
 * this connection wrote, so the store must {@link reset} it whenever another connection may have
 * written (SQLite's `data_version` changed): from then on every event after `base` is one this
 * connection appends and records here, in position order.
 *
 * Events are shared, not copied: {@link RecordedEvent} is read-only by type, and callers get new arrays.
 */
export class RecentEvents {
  private readonly streams = new Map<string, RecordedEvent[]>();
  private tail: RecordedEvent[] = [];
  /** Every event at or before `base` existed before the tail began; every later one is in `tail`. */
  private base: bigint | undefined;

  constructor(private readonly limits: RecentEventsLimits) {}

  /** Forgets everything; `head` is the log's last position now (0n when empty: positions start at 1), or undefined when unknown. */
  reset(head: bigint | undefined): void {
    this.streams.clear();
    this.tail = [];
    this.base = head;
  }

  /** The whole stream when known (a new array), else undefined. */
  stream(name: string): RecordedEvent[] | undefined {
    const events = this.streams.get(name);
    if (!events) return undefined;
    this.streams.delete(name);
    this.streams.set(name, events);
    return events.slice();
  }

  /**
   * The last `count` events of a known stream, newest first (a new array): `[]` for a stream known to be empty;
   * undefined when the stream is not known.
   */
  last(name: string, count: number): RecordedEvent[] | undefined {
    const events = this.streams.get(name);
    if (!events) return undefined;
    this.streams.delete(name);
    this.streams.set(name, events);
    return events.slice(Math.max(0, events.length - count)).reverse();
  }

  /** Remembers a stream read whole from SQLite (`[]`: the stream has no events). */
  rememberStream(name: string, events: readonly RecordedEvent[]): void {
    this.keep(name, events.slice());
  }

  /**
   * Records events this connection has just committed to one stream (consecutive revisions, increasing positions).
   * When they do not directly follow the last event of `$all` known here, another connection committed in between
   * (after the store last looked at `data_version`): everything is forgotten, as by `reset(undefined)`, and it returns
   * false so the store looks at the file again.
   */
  appended(events: readonly RecordedEvent[]): boolean {
    if (events.length === 0) return true;
    const first = events[0];
    if (this.base !== undefined) {
      const last = this.tail.length > 0 ? this.tail[this.tail.length - 1].position.commit : this.base;
      if (first.position.commit !== last + 1n) {
        this.reset(undefined);
        return false;
      }
    }
    const known = this.streams.get(first.stream);
    if (known && known.length > 0 && known[known.length - 1].revision === first.revision - 1n) known.push(...events);
    else if (first.revision === 0n) this.keep(first.stream, [...events]);
    else this.streams.delete(first.stream);
    if (this.base === undefined) return true;
    this.tail.push(...events);
    if (this.tail.length > 2 * this.limits.tail) {
      const dropped = this.tail.length - this.limits.tail;
      this.base = this.tail[dropped - 1].position.commit;
      this.tail = this.tail.slice(dropped);
    }
    return true;
  }

  /**
   * Up to `limit` events after `after` matching `filter`, with the position everything up to which was looked at,
   * when the tail holds every event after `after`; undefined when SQLite must be asked.
   */
  page(after: bigint, filter: EventFilter | undefined, limit: number): { events: RecordedEvent[]; scannedUpTo: bigint } | undefined {
    if (this.base === undefined || after < this.base) return undefined;
    const events: RecordedEvent[] = [];
    let i = firstAfter(this.tail, after);
    for (; i < this.tail.length && events.length < limit; i++) if (matches(this.tail[i], filter)) events.push(this.tail[i]);
    const last = this.tail.length > 0 ? this.tail[this.tail.length - 1].position.commit : this.base;
    return { events, scannedUpTo: last > after ? last : after };
  }

  private keep(name: string, events: RecordedEvent[]): void {
    this.streams.delete(name);
    this.streams.set(name, events);
    if (this.streams.size > this.limits.streams) this.streams.delete(this.streams.keys().next().value as string);
  }
}

/** Index of the first event whose position is after `after` (binary search: positions increase). */
function firstAfter(events: readonly RecordedEvent[], after: bigint): number {
  let lo = 0;
  let hi = events.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (events[mid].position.commit <= after) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The SQL filter's semantics: the type or stream name starts with one of the prefixes. */
function matches(event: RecordedEvent, filter: EventFilter | undefined): boolean {
  if (!filter) return true;
  const value = filter.kind === 'eventType' ? event.type : event.stream;
  return filter.prefixes.some((p) => value.startsWith(p));
}
