import type { EventFilter, ExpectedRevision, NewEvent, ReadAllOptions, ReadStreamOptions } from '@optex/ports';

// Argument checks shared by every EventStore adapter, so that a bad call fails the same way
// (a TypeError/RangeError naming the field) whatever the adapter behind the port.

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** An unpaired surrogate (with the `u` flag a pair is one code point): text that is not well-formed UTF-16, which a store would keep as U+FFFD. */
const LONE_SURROGATE = /\p{Surrogate}/u;

/** An event ready to store: id normalised to lower case, data and metadata serialised to JSON text. */
export interface SerializedEvent {
  readonly id: string;
  readonly type: string;
  readonly data: string;
  readonly metadata: string;
}

export function assertStreamName(stream: unknown, field = 'stream'): asserts stream is string {
  if (typeof stream !== 'string' || stream.length === 0) throw new TypeError(`${field} must be a non-empty string, got ${describe(stream)}`);
  assertWellFormed(stream, field);
}

export function assertExpectedRevision(expected: unknown): asserts expected is ExpectedRevision {
  if (expected === 'any' || expected === 'no_stream' || expected === 'stream_exists') return;
  if (typeof expected === 'bigint' && expected >= 0n) return;
  throw new TypeError(`expected revision must be a bigint ≥ 0n, 'any', 'no_stream' or 'stream_exists', got ${describe(expected)}`);
}

/**
 * Checks and serialises the events of one append call: a non-empty list, UUID ids (unique within
 * the call), non-empty well-formed types, JSON-serialisable data and metadata (JSON escapes a lone surrogate there).
 */
export function serializeEvents(events: readonly NewEvent[]): SerializedEvent[] {
  if (!Array.isArray(events) || events.length === 0) throw new TypeError('events must be a non-empty array');
  const seen = new Map<string, number>();
  return events.map((event, i) => {
    if (event === null || typeof event !== 'object') throw new TypeError(`events[${i}] must be an object`);
    if (typeof event.id !== 'string' || !UUID.test(event.id)) throw new TypeError(`events[${i}].id must be a UUID string, got ${describe(event.id)}`);
    const id = event.id.toLowerCase();
    const previous = seen.get(id);
    if (previous !== undefined) throw new TypeError(`events[${i}].id ${id} repeats events[${previous}].id within one append`);
    seen.set(id, i);
    if (typeof event.type !== 'string' || event.type.length === 0) throw new TypeError(`events[${i}].type must be a non-empty string, got ${describe(event.type)}`);
    assertWellFormed(event.type, `events[${i}].type`);
    const metadata = event.metadata ?? {};
    if (metadata === null || typeof metadata !== 'object' || Array.isArray(metadata)) throw new TypeError(`events[${i}].metadata must be a plain object`);
    return { id, type: event.type, data: toJson(event.data === undefined ? null : event.data, `events[${i}].data`), metadata: toJson(metadata, `events[${i}].metadata`) };
  });
}

export function assertReadStreamOptions(options: ReadStreamOptions): void {
  if (options.fromRevision !== undefined && (typeof options.fromRevision !== 'bigint' || options.fromRevision < 0n)) {
    throw new TypeError(`fromRevision must be a bigint ≥ 0n, got ${describe(options.fromRevision)}`);
  }
  assertDirection(options.direction);
  assertMaxCount(options.maxCount);
}

export function assertReadAllOptions(options: ReadAllOptions): void {
  if (options.fromPosition !== undefined) assertPosition(options.fromPosition, 'fromPosition');
  assertDirection(options.direction);
  assertMaxCount(options.maxCount);
  if (options.filter !== undefined) assertFilter(options.filter);
}

export function assertPosition(position: unknown, field: string): void {
  const p = position as { commit?: unknown; prepare?: unknown } | null;
  if (p === null || typeof p !== 'object' || typeof p.commit !== 'bigint' || typeof p.prepare !== 'bigint' || p.commit < 0n) {
    throw new TypeError(`${field} must be {commit: bigint, prepare: bigint}, got ${describe(position)}`);
  }
}

export function assertFilter(filter: EventFilter): void {
  if (filter === null || typeof filter !== 'object' || (filter.kind !== 'eventType' && filter.kind !== 'streamName')) {
    throw new TypeError(`filter.kind must be 'eventType' or 'streamName', got ${describe((filter as { kind?: unknown } | null)?.kind)}`);
  }
  if (!Array.isArray(filter.prefixes) || filter.prefixes.length === 0) throw new TypeError('filter.prefixes must be a non-empty array of strings');
  filter.prefixes.forEach((prefix, i) => {
    if (typeof prefix !== 'string') throw new TypeError(`filter.prefixes[${i}] must be a string, got ${describe(prefix)}`);
  });
}

function assertWellFormed(text: string, field: string): void {
  if (LONE_SURROGATE.test(text)) throw new TypeError(`${field} must be well-formed Unicode (no lone surrogate), got ${describe(text)}`);
}

function assertDirection(direction: unknown): void {
  if (direction !== undefined && direction !== 'forwards' && direction !== 'backwards') {
    throw new TypeError(`direction must be 'forwards' or 'backwards', got ${describe(direction)}`);
  }
}

function assertMaxCount(maxCount: unknown): void {
  if (maxCount !== undefined && (typeof maxCount !== 'number' || !Number.isSafeInteger(maxCount) || maxCount < 0)) {
    throw new RangeError(`maxCount must be an integer ≥ 0, got ${describe(maxCount)}`);
  }
}

function toJson(value: unknown, field: string): string {
  try {
    const text = JSON.stringify(value);
    if (text === undefined) throw new TypeError(`not representable as JSON`);
    return text;
  } catch (error) {
    throw new TypeError(`${field} must be JSON-serialisable: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
}

function describe(value: unknown): string {
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === undefined) return 'undefined';
  try {
    return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v)) ?? String(value);
  } catch {
    return String(value);
  }
}
