import { hash } from 'node:crypto';
import { parse as parseUuid } from 'uuid';

/** The fixed UUID namespace of every id optex derives (UUIDv5). Never change it: ids in stored streams depend on it. */
export const OPTEX_NAMESPACE = '0b6f3a1e-5c7d-4e8a-9f21-6d3c8b7a4e50';

/** The namespace as 16 bytes, parsed once. */
const NAMESPACE_BYTES = Buffer.from(parseUuid(OPTEX_NAMESPACE));

/**
 * UUIDv5 (RFC 9562 §5.5) of `name` in {@link OPTEX_NAMESPACE}: SHA-1 of the namespace's bytes and the name's UTF-8
 * bytes, its first 16 bytes with the version (5) and the variant (10) set — what `uuid`'s `v5` returns for the name's
 * UTF-8 bytes (the spec compares the two), with one SHA-1 call instead of its hash object and copies, which cost
 * 104–116 µs of a dry run's ~3,600 (`bench:engine --cpu-prof`).
 *
 * The name is taken as UTF-8 bytes, not as uuid takes a string (`unescape(encodeURIComponent(…))`, which throws
 * `URIError` on a lone surrogate): the bytes are the same for every well-formed string, and encoding never throws (a
 * lone surrogate becomes U+FFFD). So ids are those uuid gives, and deriving one cannot fail.
 */
const uuidOf = (name: string): string => {
  const digest = hash('sha1', Buffer.concat([NAMESPACE_BYTES, Buffer.from(name, 'utf8')]), 'buffer');
  digest[6] = (digest[6] & 0x0f) | 0x50;
  digest[8] = (digest[8] & 0x3f) | 0x80;
  const hex = digest.toString('hex', 0, 16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
};

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
