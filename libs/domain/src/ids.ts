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

/**
 * The client token of one step's effect: `uuidv5("<optimizationId>/<phase>/<index>", OPTEX_NAMESPACE)`. Recorded in
 * the step's intent before the EC2 call and sent with it, so that after a crash the effect is looked up by it
 * instead of being made twice. Deterministic: the same step of the same optimization always has the same token.
 */
export function clientTokenFor(optimizationId: string, phase: 'execution' | 'rollback', index: number): string {
  return uuidv5(`${optimizationId}/${phase}/${index}`, OPTEX_NAMESPACE);
}
