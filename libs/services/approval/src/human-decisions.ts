import { optimizationDecider, optimizationStream, DomainError, type OptimizationState } from '@optex/domain';
import type { EventStore } from '@optex/ports';
import { handleCommand, resourceKeyOf } from '@optex/engine';

export interface HumanDecision {
  readonly optimizationId: string;
  readonly by: string;
  readonly reason?: string;
  readonly now: Date;
}

async function decideAsHuman(store: EventStore, decision: HumanDecision, type: 'Approve' | 'Deny'): Promise<OptimizationState> {
  const result = await handleCommand(
    store,
    optimizationStream(decision.optimizationId),
    optimizationDecider,
    (state) => {
      if (state.status === 'initial') throw new DomainError('NOT_FOUND', `no optimization ${decision.optimizationId}`);
      return type === 'Approve'
        ? { type, data: { by: decision.by, ...(decision.reason ? { reason: decision.reason } : {}) }, metadata: { now: decision.now } }
        : { type, data: { by: decision.by, reason: decision.reason ?? '' }, metadata: { now: decision.now } };
    },
    {
      causationKey: `${type.toLowerCase()}:${decision.by}`,
      recordedBy: `human:${decision.by}`,
      metadata: (state: OptimizationState) => (state.status === 'initial' ? {} : { resourceKey: resourceKeyOf(state.recommendation) }),
    },
  );
  return result.state;
}

/** Records one approver's approval (CRITICAL needs two distinct approvers). Throws DomainError when not allowed. */
export const recordApproval = (store: EventStore, decision: HumanDecision): Promise<OptimizationState> => decideAsHuman(store, decision, 'Approve');

/** Records a denial; `reason` is required. Throws DomainError when not allowed. */
export const recordDenial = (store: EventStore, decision: HumanDecision): Promise<OptimizationState> => decideAsHuman(store, decision, 'Deny');
