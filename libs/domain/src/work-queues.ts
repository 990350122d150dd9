import { approvalExpired, isRequester, type KnownOptimizationState, type OptimizationStatus } from './decider';
import { NEEDS_OPERATOR_STATUSES } from './queries';
import { eligibleIdentity, normalizeIdentity } from './roster';

/**
 * The approvals waiting for an authenticated caller (`identity`, as {@link principalOf} gives it, and every name its
 * credentials gave): awaiting approval and not expired at `now`, the caller among the eligible approvers the request
 * recorded (matched exactly, as the decider matches an authenticated caller; anyone when it recorded none), not one of
 * its approvers yet (one approval per person) and not its requester under any of its names; soonest expiry first.
 * The decider still checks everything again when the person decides.
 */
export function approvalQueueFor(states: Iterable<KnownOptimizationState>, caller: { readonly identity: string; readonly names?: readonly string[] }, now: Date): KnownOptimizationState[] {
  const ms = now.getTime();
  return [...states]
    .filter((s) => {
      if (s.status !== 'awaiting-approval' || approvalExpired(s.approval.expiresAt, ms)) return false;
      const eligible = s.approval.eligibleApprovers;
      const as = eligible ? eligibleIdentity(eligible, caller.identity, true) : normalizeIdentity(caller.identity);
      return as !== undefined && !s.approval.approvers.includes(as) && !isRequester(s, as, caller.names);
    })
    .sort((a, b) => (a.approval.expiresAt ?? '').localeCompare(b.approval.expiresAt ?? '') || a.optimizationId.localeCompare(b.optimizationId));
}

/** Optimizations the engine stopped on and an operator must look at (rollback failed, reconciliation needed), oldest first. */
export const needingAnOperator = (states: Iterable<KnownOptimizationState>): KnownOptimizationState[] =>
  [...states].filter((s) => NEEDS_OPERATOR_STATUSES.includes(s.status)).sort((a, b) => a.receivedAt.localeCompare(b.receivedAt) || a.optimizationId.localeCompare(b.optimizationId));

/** One batch's progress: how many of its optimizations are in each status. */
export interface BatchProgress {
  readonly batchId: string;
  readonly total: number;
  readonly byStatus: Readonly<Partial<Record<OptimizationStatus, number>>>;
}

/** Progress of every batch (optimizations that were scheduled), by batch id. */
export function batchProgress(states: Iterable<KnownOptimizationState>): BatchProgress[] {
  const batches = new Map<string, { total: number; byStatus: Partial<Record<OptimizationStatus, number>> }>();
  for (const s of states) {
    const id = s.schedule?.batchId;
    if (!id) continue;
    const batch = batches.get(id) ?? { total: 0, byStatus: {} };
    batch.total++;
    batch.byStatus[s.status] = (batch.byStatus[s.status] ?? 0) + 1;
    batches.set(id, batch);
  }
  return [...batches].map(([batchId, b]) => ({ batchId, ...b })).sort((a, b) => a.batchId.localeCompare(b.batchId));
}
