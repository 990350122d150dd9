import { DomainError, batchGuardDecider, batchStream, normalizeIdentity, type BatchGuardState } from '@optex/domain';
import type { EventStore } from '@optex/ports';
import { handleCommand } from '@optex/engine';

/**
 * An operator lets a halted batch go on (CLI `continue-batch`, the API): records `BatchContinued` with who and why in
 * the batch's stream. Throws DomainError when the batch does not exist, is not halted or is completed, or who/why is
 * empty. The scheduler dispatches the rest of the batch, counting errors and dispatches again from the halt.
 */
export async function recordBatchContinue(store: EventStore, batchId: string, request: { by: string; reason: string; now: Date }): Promise<BatchGuardState> {
  try {
    const result = await handleCommand(store, batchStream(batchId), batchGuardDecider, { type: 'ContinueBatch', data: { by: request.by, reason: request.reason }, metadata: { now: request.now } }, {
      causationKey: `ContinueBatch:${normalizeIdentity(request.by)}:${request.now.toISOString()}`,
      recordedBy: `human:${request.by}`,
    });
    return result.state;
  } catch (error) {
    // The decider sees an empty stream, not the id that was asked for: the message names it.
    if (error instanceof DomainError && error.code === 'NOT_FOUND') throw new DomainError('NOT_FOUND', `no such batch ${JSON.stringify(batchId)}: none of that id was planned on this store`);
    throw error;
  }
}
