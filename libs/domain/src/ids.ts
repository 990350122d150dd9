import { parse as parseUuid, v5 as uuidv5 } from 'uuid';

/** The fixed UUID namespace of every id optex derives (UUIDv5). Never change it: ids in stored streams depend on it. */
export const OPTEX_NAMESPACE = '0b6f3a1e-5c7d-4e8a-9f21-6d3c8b7a4e50';

const utf8 = new TextEncoder();
/** The namespace as uuid's 16 bytes, parsed once (uuid would parse the string on every call: a third of its cost). */
const NAMESPACE_BYTES = parseUuid(OPTEX_NAMESPACE);

// uuid hashes a string argument through `unescape(encodeURIComponent(…))`, which throws `URIError` on a lone
// surrogate; the UTF-8 bytes are the same for every well-formed string, and encoding never throws (a lone
// surrogate becomes U+FFFD). So ids are unchanged, and deriving one cannot fail.
const uuidOf = (name: string): string => uuidv5(utf8.encode(name), NAMESPACE_BYTES);

/**
 * The optimization id of a recommendation: `uuidv5("<source>/<recommendationId>", OPTEX_NAMESPACE)`.
 * A duplicate recommendation maps to the same id, hence the same stream.
 */
export function optimizationIdFor(source: string, recommendationId: string): string {
  return uuidOf(`${source}/${recommendationId}`);
}

/**
 * The optimization id of a dry run (a preview) of a recommendation: `uuidv5("<source>/<recommendationId>/dry-run",
 * OPTEX_NAMESPACE)`. A preview has a stream of its own, so it never uses the recommendation up: a later real
 * submission opens the recommendation's own stream ({@link optimizationIdFor}) and runs. A second dry run of the same
 * recommendation is a duplicate of its preview, as a second real submission is of the real one.
 */
export function previewIdFor(source: string, recommendationId: string): string {
  return uuidOf(`${source}/${recommendationId}/dry-run`);
}

/**
 * Deterministic id of the `index`-th event appended in reaction to one message:
 * `uuidv5("<streamOrId>/<causationKey>/<index>", OPTEX_NAMESPACE)`. A redelivered message yields the
 * same ids, so the store appends nothing new.
 */
export function eventIdFor(streamOrId: string, causationKey: string, index: number): string {
  return uuidOf(`${streamOrId}/${causationKey}/${index}`);
}

/**
 * The client token of one step's effect: `uuidv5("<optimizationId>/<phase>/<index>", OPTEX_NAMESPACE)`. Recorded in
 * the step's intent before the EC2 call and sent with it, so that after a crash the effect is looked up by it
 * instead of being made twice. Deterministic: the same step of the same optimization always has the same token.
 */
export function clientTokenFor(optimizationId: string, phase: 'execution' | 'rollback', index: number): string {
  return uuidOf(`${optimizationId}/${phase}/${index}`);
}
