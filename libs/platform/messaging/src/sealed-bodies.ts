/**
 * Message bodies their maker never changes after making them (the relay's CloudEvents bodies): a bus inside the process
 * may deliver such a body as it is instead of a copy, so its consumers find it in the codec's cache of decoded events and
 * never decode it. Held weakly: an entry goes with its body.
 */
const sealed = new WeakSet<Buffer>();

/** Marks a body its maker will never change again; returns it. */
export function sealBody(body: Buffer): Buffer {
  sealed.add(body);
  return body;
}

/** True when the body was sealed by its maker ({@link sealBody}). */
export function isSealedBody(body: Buffer): boolean {
  return sealed.has(body);
}
