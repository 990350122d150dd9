import { ConcurrencyError, type ExpectedRevisionDescription } from '@optex/ports';

/**
 * An append whose event ids are partly already in the stream and partly new. It is neither a
 * repeat of an earlier append (which would succeed without writing) nor a new one, so it is
 * rejected as a concurrency conflict (as EventStoreDB does) with a message naming the ids.
 */
export class PartialDuplicateAppendError extends ConcurrencyError {
  constructor(
    stream: string,
    expected: ExpectedRevisionDescription,
    actual: bigint | 'no_stream',
    /** Ids of the call that are already in the stream. */
    readonly duplicateIds: readonly string[],
    /** Ids of the call that are not. */
    readonly newIds: readonly string[],
  ) {
    super(stream, expected, actual);
    this.message =
      `stream ${stream}: ${duplicateIds.length} of the ${duplicateIds.length + newIds.length} event ids of this append are already in the stream ` +
      `(${duplicateIds.join(', ')}) and the others are not (${newIds.join(', ')}); an append must repeat an earlier one entirely or be entirely new`;
  }
}
