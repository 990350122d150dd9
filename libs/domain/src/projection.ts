import { DomainError } from './errors';
import { roundMoney, roundTo } from './numbers';
import { reversibility } from './plans';
import { approvalExpired, type ConflictData, type OptimizationState, type OptimizationStatus, type RollbackData } from './decider';
import type { ActionType, Authority, PerformanceImpact, Recommendation, Reversibility, RiskAssessment, RiskLevel, Step, StepOutputs } from './types';
import type { ChangePlan } from './change-plan';
import type { BackupData } from './backups';
import type { ErrorInfo, RecommendationRejected } from './events';

/** One row of `run --json`'s `optimizations` (the contract), plus `executionMs`. */
export interface OptimizationView {
  readonly optimizationId: string;
  readonly recommendationId: string;
  readonly resourceId: string;
  readonly action: ActionType;
  readonly risk: RiskLevel | null;
  readonly approval: 'auto' | 'manual' | 'pending' | 'denied' | 'expired' | null;
  readonly status: OptimizationStatus;
  readonly dryRun: boolean;
  readonly estimatedMonthlySavings: number;
  /** Net realized savings of a `completed` optimization; `null` otherwise, and when they are unpriced (see `unpriced`). */
  readonly actualMonthlySavings: number | null;
  readonly accuracyPct: number | null;
  /** The price-book figures a `completed` optimization's savings needed and the book lacks; `null` when priced (or not completed). */
  readonly unpriced: readonly string[] | null;
  readonly reversible: Reversibility;
  readonly error: string | null;
  /** Execution duration (ms) once it succeeded or failed; `null` before. */
  readonly executionMs: number | null;
  /** Whether a rollback was started (whatever came of it). */
  readonly rolledBack: boolean;
  /** Resubmissions under its id with other content, recorded as conflicts (ResubmissionConflicted). */
  readonly conflicts: number;
}

function approvalOf(state: Exclude<OptimizationState, { status: 'initial' }>, at: Date | undefined): OptimizationView['approval'] {
  if (state.status === 'denied') return 'denied';
  if (state.status === 'expired') return 'expired';
  // Lapsed and not recorded yet (the next resume, or the services, record ApprovalExpired): nobody can decide it now.
  if (state.status === 'awaiting-approval' && at !== undefined && approvalExpired(state.approval.expiresAt, at.getTime())) return 'expired';
  const { mode, grantedAt } = state.approval;
  if (mode === 'auto') return 'auto';
  if (mode === 'manual') {
    if (grantedAt !== undefined) return 'manual';
    // Cancelled while it waited: nobody will decide any more, so nothing is pending (and it was never approved).
    return state.status === 'cancelled' ? null : 'pending';
  }
  return null;
}

function errorOf(state: Exclude<OptimizationState, { status: 'initial' }>): string | null {
  const parts: string[] = [];
  const scope = state.outOfScope;
  if (scope) parts.push(`out of scope (${scope.stage}): ${scope.violations.map((v) => v.reason).join('; ')}`);
  const error = state.execution?.error;
  if (error) parts.push(error.code === 'PRE_VALIDATION_FAILED' ? `pre-validation failed: ${error.message}` : `${error.code}: ${error.message}`);
  if (state.validation && !state.validation.passed) parts.push(`validation failed: ${state.validation.problems.join('; ')}`);
  const rollbackError = state.rollback?.error;
  if (rollbackError) parts.push(`rollback failed: ${rollbackError.code}: ${rollbackError.message}`);
  // Waiting for an operator: why EC2 could not tell whether the step's call took effect (the reason is the error).
  if (state.status === 'reconciliation-needed') parts.push(`reconciliation needed (${state.reconciliation.phase} step ${state.reconciliation.index}, ${state.reconciliation.step.kind}): ${state.reconciliation.reason}`);
  return parts.length > 0 ? parts.join('; ') : null;
}

/**
 * The view row of an optimization. Throws `DomainError('NOT_FOUND')` for an empty stream. `at`: the instant a read
 * command looks at the store (its real time); an approval request past its `expiresAt` then reads `expired` though its
 * status stays `awaiting-approval` until `ApprovalExpired` is recorded. Absent, only a recorded expiry counts.
 */
export function viewOf(state: OptimizationState, at?: Date): OptimizationView {
  if (state.status === 'initial') throw new DomainError('NOT_FOUND', 'viewOf: no optimization received on this stream');
  const rec = state.recommendation;
  return {
    optimizationId: state.optimizationId,
    recommendationId: rec.recommendationId,
    resourceId: rec.resource.id,
    action: rec.action.type,
    risk: state.risk?.level ?? null,
    approval: approvalOf(state, at),
    status: state.status,
    dryRun: state.dryRun,
    estimatedMonthlySavings: rec.estimatedMonthlySavings,
    // A change that was rolled back (or failed) realizes nothing, whatever validation measured before the rollback.
    actualMonthlySavings: state.status === 'completed' ? (state.validation?.actualMonthlySavings ?? null) : null,
    accuracyPct: state.status === 'completed' ? (state.validation?.accuracyPct ?? null) : null,
    unpriced: state.status === 'completed' ? (state.validation?.unpriced ?? null) : null,
    reversible: state.execution?.reversible ?? reversibility(rec.action),
    error: errorOf(state),
    executionMs: state.execution?.durationMs ?? null,
    rolledBack: state.rollback !== undefined,
    conflicts: state.conflicts?.length ?? 0,
  };
}

/** The metrics summary (`run`, `resume` and `metrics` print it). */
export interface Summary {
  /** Every input: optimizations + rejected + duplicates. */
  readonly received: number;
  readonly rejected: number;
  /** Records naming an optimization already known (conflicts included). */
  readonly duplicates: number;
  /** Duplicates whose content differed from the recommendation recorded first: recorded as conflicts. */
  readonly conflicts: number;
  /** Optimizations per status (only statuses present). */
  readonly byStatus: Partial<Record<OptimizationStatus, number>>;
  /** Optimizations whose execution started (dry runs are previews, not executions). */
  readonly totalExecutions: number;
  /** completed. */
  readonly successfulExecutions: number;
  /** failed after start + rolled-back + rollback-failed + resolved (an operator closed what the engine could not finish). */
  readonly failedExecutions: number;
  /** successful / total, 3 decimals; 0 without executions. */
  readonly successRate: number;
  /** Mean execution duration (ms, integer) of executions that ended — a pre-validation failure's too, which lasted until it (dry runs left out); 0 when none. */
  readonly averageExecutionMs: number;
  /** The optimizations this summary covers (a re-run's duplicates included): what the estimated average divides by. */
  readonly optimizations: number;
  /** Sum of the estimates of every optimization. */
  readonly estimatedMonthlySavings: number;
  /** `estimatedMonthlySavings / optimizations`, to the cent; `null` without optimizations. */
  readonly averageEstimatedMonthlySavings: number | null;
  /** Sum of the actual savings of `completed` optimizations whose savings are priced (unpriced ones are left out). */
  readonly realizedMonthlySavings: number;
  /** `completed` optimizations whose savings are priced: what an average of `realizedMonthlySavings` divides by. */
  readonly realizedCount: number;
  /** `realizedMonthlySavings / realizedCount`, to the cent (unpriced ones left out); `null` when none is priced. */
  readonly averageRealizedMonthlySavings: number | null;
  /** `completed` optimizations whose savings are unpriced (the price book lacks a figure they need). */
  readonly unpriced: number;
  /** Optimizations that started a rollback. */
  readonly rollbacks: number;
  /** Of those, the ones an operator closed by hand (`resolved`) after their rollback failed. */
  readonly rollbacksResolved: number;
  /**
   * Previews (dry runs) among the optimizations that every figure above leaves out: a summary of real optimizations and
   * previews (a store's, say) counts the real ones only, so a preview and the run of the same recommendations are not
   * two recommendations and twice the savings. 0 when the summary holds no preview, or previews only (a dry run's report).
   */
  readonly previewsLeftOut: number;
}

/** Statuses reached only after ExecutionStarted (`failed` included: every failure happens during or after execution). */
const STARTED: ReadonlySet<OptimizationStatus> = new Set([
  'executing',
  'validating',
  'rolling-back',
  'reconciliation-needed',
  'completed',
  'dry-run-completed',
  'failed',
  'rolled-back',
  'rollback-failed',
  'resolved',
]);
const SUCCEEDED: ReadonlySet<OptimizationStatus> = new Set(['completed', 'dry-run-completed']);
const FAILED: ReadonlySet<OptimizationStatus> = new Set(['failed', 'rolled-back', 'rollback-failed', 'resolved']);

/** The delivery ids of a dry run's records from the CLI (`run FILE --dry-run`): `dry-run:input:<hash>:<index>`. */
export const PREVIEW_DELIVERY_PREFIX = 'dry-run:';

/** A rejected record that came for a preview: recorded so (`dryRun`), or — before rejections said — a CLI dry run's delivery. */
export const isPreviewRejection = (data: Pick<RecommendationRejected['data'], 'dryRun' | 'deliveryId'>): boolean => data.dryRun === true || data.deliveryId.startsWith(PREVIEW_DELIVERY_PREFIX);

/** What a summary counts of the intake besides the optimizations. */
export interface IntakeCounts {
  readonly rejected: number;
  readonly duplicates: number;
  /** Those of the input reported; absent: every conflict the views the summary covers hold. */
  readonly conflicts?: number;
  /**
   * Of `rejected` and `duplicates`, the previews' (a rejected record of a dry run, {@link isPreviewRejection}; a
   * duplicate naming a preview): left out with the previews when the summary covers real optimizations.
   */
  readonly previews?: { readonly rejected: number; readonly duplicates: number };
}

/**
 * Builds the {@link Summary} from the optimization views and the intake counters. Money rounded to cents. Views of
 * real optimizations and previews together: the previews — and the previews' rejected records and duplicates — are
 * left out of every figure and counted in `previewsLeftOut`; previews only: they are the summary (a dry run's report).
 */
export function summarize(all: readonly OptimizationView[], counts: IntakeCounts): Summary {
  const real = all.filter((v) => !v.dryRun);
  const views = real.length > 0 ? real : all;
  const leftOut = real.length > 0 ? (counts.previews ?? { rejected: 0, duplicates: 0 }) : { rejected: 0, duplicates: 0 };
  const rejected = counts.rejected - leftOut.rejected;
  const duplicates = counts.duplicates - leftOut.duplicates;
  const byStatus: Partial<Record<OptimizationStatus, number>> = {};
  let totalExecutions = 0;
  let successfulExecutions = 0;
  let failedExecutions = 0;
  let rollbacks = 0;
  let rollbacksResolved = 0;
  let estimated = 0;
  let realized = 0;
  let realizedCount = 0;
  let unpriced = 0;
  const durations: number[] = [];
  for (const view of views) {
    byStatus[view.status] = (byStatus[view.status] ?? 0) + 1;
    const execution = !view.dryRun; // a dry run is a preview: never counted as an execution
    if (execution && STARTED.has(view.status)) totalExecutions += 1;
    if (execution && SUCCEEDED.has(view.status)) successfulExecutions += 1;
    if (execution && FAILED.has(view.status)) failedExecutions += 1;
    if (view.rolledBack) rollbacks += 1;
    if (view.rolledBack && view.status === 'resolved') rollbacksResolved += 1;
    estimated += view.estimatedMonthlySavings;
    if (view.status === 'completed' && view.actualMonthlySavings !== null) {
      realized += view.actualMonthlySavings;
      realizedCount += 1;
    }
    if (view.status === 'completed' && view.unpriced !== null) unpriced += 1;
    if (execution && view.executionMs !== null) durations.push(view.executionMs);
  }
  return {
    received: views.length + rejected + duplicates,
    rejected,
    duplicates,
    conflicts: counts.conflicts ?? views.reduce((n, v) => n + v.conflicts, 0),
    byStatus,
    totalExecutions,
    successfulExecutions,
    failedExecutions,
    successRate: totalExecutions === 0 ? 0 : roundTo(successfulExecutions / totalExecutions, 3),
    averageExecutionMs: durations.length === 0 ? 0 : Math.round(durations.reduce((a, b) => a + b, 0) / durations.length),
    optimizations: views.length,
    estimatedMonthlySavings: roundMoney(estimated),
    averageEstimatedMonthlySavings: views.length === 0 ? null : roundMoney(estimated / views.length),
    realizedMonthlySavings: roundMoney(realized),
    realizedCount,
    averageRealizedMonthlySavings: realizedCount === 0 ? null : roundMoney(realized / realizedCount),
    unpriced,
    rollbacks,
    rollbacksResolved,
    previewsLeftOut: all.length - views.length,
  };
}

/**
 * What `optex show` prints of one optimization: the recommendation, the risk with its factors and what it was
 * assessed on (stated and live), the exact plan asked for and approved, the authority asked for, who may decide,
 * the approvals so far and the expiry, and where it stands.
 */
export interface OptimizationDetail {
  readonly optimizationId: string;
  readonly recommendationId: string;
  readonly resourceId: string;
  readonly action: ActionType;
  readonly status: OptimizationStatus;
  readonly dryRun: boolean;
  /** Whether the change can be undone now (`list`'s REVERSIBLE): `no` once a delete-volume's backup snapshot expired, whatever the plan said when approved. */
  readonly reversible: Reversibility;
  readonly recommendation: Recommendation;
  readonly risk: RiskAssessment | null;
  readonly plan: ChangePlan | null;
  readonly approval: {
    readonly state: OptimizationView['approval'];
    readonly authority: Authority | null;
    readonly requiredApprovals: number | null;
    readonly approvers: readonly string[];
    /** Who may decide (roster ids), when the policy had a roster; `null`: anyone. */
    readonly eligibleApprovers: readonly string[] | null;
    readonly requestedAt: string | null;
    readonly expiresAt: string | null;
    readonly grantedAt: string | null;
    readonly deniedBy: string | null;
    readonly denyReason: string | null;
  };
  /** Post-validation's performance picture: each metric before and after, the window after the soak; `null` before validation. */
  readonly performance: PerformanceImpact | null;
  readonly error: string | null;
  /** Resubmissions with other content, recorded as conflicts and not applied. */
  readonly conflicts: readonly ConflictData[];
  /** The backup snapshot a delete-volume took, and its expiry once recorded; `null` when it holds none. */
  readonly backup: BackupData | null;
  /** Who cancelled it and why (`cancel`); `null` unless it was cancelled. */
  readonly cancellation: { readonly by: string; readonly reason: string } | null;
  /**
   * The rollback, once one started: why, its steps, those done with what they made (a restored volume's id, a new
   * allocation, a Marketplace listing: their `outputs`), the step that failed and how, and when it ended; `null` when
   * nothing was rolled back.
   */
  readonly rollback: RollbackDetail | null;
}

/** See {@link OptimizationDetail.rollback}. */
export interface RollbackDetail {
  readonly reason: string;
  readonly steps: readonly Step[];
  readonly done: readonly { readonly index: number; readonly step: Step; readonly outputs: StepOutputs }[];
  readonly failedStepIndex: number | null;
  readonly error: ErrorInfo | null;
  readonly endedAt: string | null;
}

/** The detail of an optimization (see {@link OptimizationDetail}). Throws `DomainError('NOT_FOUND')` for an empty stream. */
export function optimizationDetail(state: OptimizationState): OptimizationDetail {
  const view = viewOf(state);
  if (state.status === 'initial') throw new DomainError('NOT_FOUND', 'optimizationDetail: no optimization received on this stream');
  const a = state.approval;
  return {
    optimizationId: view.optimizationId,
    recommendationId: view.recommendationId,
    resourceId: view.resourceId,
    action: view.action,
    status: view.status,
    dryRun: view.dryRun,
    reversible: view.reversible,
    recommendation: state.recommendation,
    risk: state.risk ?? null,
    plan: a.plan ?? null,
    approval: {
      state: view.approval,
      authority: a.authority ?? null,
      requiredApprovals: a.requiredApprovals ?? null,
      approvers: a.approvers,
      eligibleApprovers: a.eligibleApprovers ? a.eligibleApprovers.map((e) => e.id) : null,
      requestedAt: a.requestedAt ?? null,
      expiresAt: a.expiresAt ?? null,
      grantedAt: a.grantedAt ?? null,
      deniedBy: a.deniedBy ?? null,
      denyReason: a.denyReason ?? null,
    },
    performance: state.validation?.performance ?? null,
    error: view.error,
    conflicts: state.conflicts ?? [],
    backup: state.backup ?? null,
    cancellation: state.status === 'cancelled' && state.cancellation ? { by: state.cancellation.by, reason: state.cancellation.reason } : null,
    rollback: rollbackDetailOf(state.rollback),
  };
}

function rollbackDetailOf(r: RollbackData | undefined): RollbackDetail | null {
  if (!r) return null;
  return {
    reason: r.reason,
    steps: r.steps,
    done: r.completedSteps.map((c) => ({ index: c.index, step: c.step, outputs: c.outputs })),
    failedStepIndex: r.failedStepIndex ?? null,
    error: r.error ?? null,
    endedAt: r.endedAt ?? null,
  };
}
