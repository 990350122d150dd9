import { v5 as uuidv5 } from 'uuid';

/** The fixed UUID namespace of every id optex derives (UUIDv5). Never change it: ids in stored streams depend on it. */
export const OPTEX_NAMESPACE = '0b6f3a1e-5c7d-4e8a-9f21-6d3c8b7a4e50';

/**
 * The optimization id of a recommendation: `uuidv5("<source>/<recommendationId>", OPTEX_NAMESPACE)`.
 * A duplicate recommendation maps to the same id, hence the same stream.
 */
export function optimizationIdFor(source: string, recommendationId: string): string {
  return uuidv5(`${source}/${recommendationId}`, OPTEX_NAMESPACE);
}

/**
 * Deterministic id of the `index`-th event appended in reaction to one message:
 * `uuidv5("<streamOrId>/<causationKey>/<index>", OPTEX_NAMESPACE)`. A redelivered message yields the
 * same ids, so the store appends nothing new.
 */
export function eventIdFor(streamOrId: string, causationKey: string, index: number): string {
  return uuidv5(`${streamOrId}/${causationKey}/${index}`, OPTEX_NAMESPACE);
}
