import type { AllStreamResolvedEvent, ResolvedEvent } from '@eventstore/db-client';
import type { EventFilter, GlobalPosition, RecordedEvent } from '@optex/ports';

/** System events (`$metadata`, `$>` links, `$statsCollected`, ...) start with `$`; the port never shows them. */
export const isSystemEventType = (type: string): boolean => type.startsWith('$');

/** Orders two positions of `$all` (commit, then prepare). */
export function comparePositions(a: GlobalPosition, b: GlobalPosition): number {
  if (a.commit !== b.commit) return a.commit < b.commit ? -1 : 1;
  if (a.prepare !== b.prepare) return a.prepare < b.prepare ? -1 : 1;
  return 0;
}

/** The client-side form of an {@link EventFilter}; `undefined` filter matches everything. */
export function filterPredicate(filter: EventFilter | undefined): (event: RecordedEvent) => boolean {
  if (!filter) return () => true;
  const { prefixes } = filter;
  if (filter.kind === 'eventType') return (event) => prefixes.some((prefix) => event.type.startsWith(prefix));
  return (event) => prefixes.some((prefix) => event.stream.startsWith(prefix));
}

/**
 * Converts a driver event into the port's {@link RecordedEvent}; `undefined` for an unresolved
 * link (no event) — the caller decides what to do with system events.
 */
export function toRecordedEvent(resolved: ResolvedEvent | AllStreamResolvedEvent): RecordedEvent | undefined {
  const event = resolved.event;
  if (!event) return undefined;
  const position: GlobalPosition = event.position
    ? { commit: event.position.commit, prepare: event.position.prepare }
    : { commit: resolved.commitPosition ?? 0n, prepare: resolved.commitPosition ?? 0n };
  return {
    id: event.id,
    stream: event.streamId,
    type: event.type,
    revision: event.revision,
    position,
    data: event.isJson ? event.data : decodeBinary(event.data),
    metadata: toMetadata(event.metadata),
    recordedAt: event.created,
  };
}

function toMetadata(metadata: unknown): Record<string, unknown> {
  if (metadata === undefined || metadata === null) return {};
  if (metadata instanceof Uint8Array) {
    const decoded = decodeBinary(metadata);
    return isPlainObject(decoded) ? decoded : {};
  }
  return isPlainObject(metadata) ? metadata : {};
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array);
}

/** Events written by other tools may be binary; JSON inside is decoded, anything else stays bytes. */
function decodeBinary(bytes: Uint8Array): unknown {
  if (bytes.length === 0) return null;
  try {
    return JSON.parse(Buffer.from(bytes).toString('utf8')) as unknown;
  } catch {
    return bytes;
  }
}
