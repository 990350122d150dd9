import type { EligibleApprover } from './roster';
import type { ChangePlan } from './change-plan';
import type {
  AppliedFactor,
  Authority,
  FieldError,
  ObservedResource,
  PerformanceImpact,
  Recommendation,
  RiskLevel,
  Step,
  StepOutputs,
  Reversibility,
  RiskBasis,
} from './types';
import type { ScopeViolation } from './scope';
import type { ControlEvent } from './control';
import type { HaltRule } from './blast-radius';
import type { CircuitBreakerEvent } from './circuit-breakers';
import type { DeferralHold } from './cool-down';
import type { SettingsEvent } from './store-settings';
import type { RecommendationDifference } from './resubmission';
import type { BackupExpiryOutcome } from './backups';

/**
 * The schema version an event is written with when its type has no entry in {@link EVENT_SCHEMA_VERSIONS}.
 * Stored event names are explicit, never derived from class names; the version travels in `metadata.schemaVersion`
 * and stored events are upcast to the current version when read (event-schemas.ts).
 */
export const EVENT_SCHEMA_VERSION = 1;

type Ev<T extends string, D> = { readonly type: T; readonly data: D };
/** Which plan a step belongs to. */
export type StepPhase = 'execution' | 'rollback';

interface Base {
  readonly optimizationId: string;
  /** ISO-8601 time at which the decision was taken (from the command, never `new Date()` in the domain). */
  readonly at: string;
}
export interface ErrorInfo {
  readonly code: string;
  readonly message: string;
}

export type OptimizationReceived = Ev<'OptimizationReceived', Base & { recommendation: Recommendation; dryRun: boolean; deliveryId: string }>;
/**
 * A recommendation came again under the id of this optimization (same source and `recommendationId`) with other
 * content (`differences`, field by field): a conflict, recorded with the resubmitted recommendation as it came and
 * its delivery. The optimization keeps the recommendation received first; nothing else changes.
 */
export type ResubmissionConflicted = Ev<'ResubmissionConflicted', Base & { deliveryId: string; recommendation: Recommendation; differences: readonly RecommendationDifference[] }>;
/** `basis`: what the recommendation stated and what the live resource was (absent in events recorded before risk read it). */
export type RiskAssessed = Ev<'RiskAssessed', Base & { baseLevel: RiskLevel; level: RiskLevel; factors: readonly AppliedFactor[]; policyVersion: string; basis?: RiskBasis }>;
/**
 * Pre-validation found the live resource at a higher risk than the one approved (`previousLevel`): the new assessment,
 * on what it observed. `returnedForApproval`: the approval is void — the new level needs a person, or the plan changed —
 * and the optimization goes back to approval (an `ApprovalRequested`, or an automatic `ApprovalGranted` when the policy
 * approves it; its schedule, execution and approvals so far are void); otherwise the execution goes on.
 */
export type RiskReassessed = Ev<
  'RiskReassessed',
  Base & { previousLevel: RiskLevel; baseLevel: RiskLevel; level: RiskLevel; factors: readonly AppliedFactor[]; policyVersion: string; basis?: RiskBasis; returnedForApproval: boolean }
>;
/** One per approver. `final` when the required number of distinct approvers is reached (or mode auto). */
export type ApprovalGranted = Ev<
  'ApprovalGranted',
  Base & { mode: 'auto' | 'manual'; by?: string; reason?: string; approvers: readonly string[]; final: boolean; /** The plan approved automatically (auto only). */ plan?: ChangePlan }
>;
/** `eligibleApprovers`: who may decide (normalized roster ids and aliases) when the policy had a roster; absent: anyone. */
/** `plan`: the exact change asked for (absent when the live resource was not seen, and in events recorded before plans). */
export type ApprovalRequested = Ev<
  'ApprovalRequested',
  Base & { authority: Authority; requiredApprovals: number; expiresAt: string; eligibleApprovers?: readonly EligibleApprover[]; plan?: ChangePlan }
>;
/**
 * Pre-validation derived a different plan from the live resource than the one approved (`differences`, in words): the
 * approval is void and the new `plan` goes through approval again (an ApprovalRequested, or an automatic
 * ApprovalGranted when the policy approves it), instead of executing.
 */
export type PlanChanged = Ev<'PlanChanged', Base & { differences: readonly string[]; plan: ChangePlan }>;
export type ApprovalDenied = Ev<'ApprovalDenied', Base & { by: string; reason: string }>;
export type ApprovalExpired = Ev<'ApprovalExpired', Base & { expiresAt: string }>;
export type ExecutionScheduled = Ev<'ExecutionScheduled', Base & { batchId: string; notBefore: string; priority: RiskLevel }>;
export type ExecutionStarted = Ev<'ExecutionStarted', Base & { dryRun: boolean }>;
export type PreValidationPassed = Ev<'PreValidationPassed', Base & { observed: ObservedResource }>;
export type PreValidationFailed = Ev<'PreValidationFailed', Base & { reasons: readonly string[]; observed?: ObservedResource }>;
export type RollbackPlanRecorded = Ev<'RollbackPlanRecorded', Base & { steps: readonly Step[]; reversible: Reversibility }>;
/**
 * The intent of a mutating step, recorded before its EC2 call: the step, its index and the client token of its
 * effect ({@link clientTokenFor}). A step started but not completed is reconciled after a crash, never blindly repeated.
 */
export type ExecutionStepStarted = Ev<'ExecutionStepStarted', Base & { index: number; step: Step; clientToken: string }>;
/**
 * Version 2: `clientToken` (the token of the step's intent; absent for waits and dry runs) and `reconciled` (true when
 * the step's effect was found after a crash instead of being performed). Version 1 events are upcast on read.
 */
export type ExecutionStepCompleted = Ev<
  'ExecutionStepCompleted',
  Base & { index: number; step: Step; outputs: StepOutputs; dryRun: boolean; clientToken?: string; reconciled: boolean }
>;
/** A started step whose effect was looked for after a crash and not found: the step may be performed again (same token). */
export type StepEffectNotFound = Ev<'StepEffectNotFound', Base & { phase: StepPhase; index: number; clientToken: string; evidence: string }>;
/**
 * A started step whose effect EC2 cannot confirm nor rule out (e.g. a reservation purchase after a crash): the
 * optimization stops in `reconciliation-needed` and waits for an operator; the call is never repeated.
 */
export type ReconciliationRequired = Ev<'ReconciliationRequired', Base & { phase: StepPhase; index: number; step: Step; clientToken: string; reason: string }>;
export type ExecutionSucceeded = Ev<'ExecutionSucceeded', Base & { durationMs: number; dryRun: boolean }>;
export type ExecutionFailed = Ev<'ExecutionFailed', Base & { error: ErrorInfo; failedStepIndex?: number; durationMs: number }>;
/**
 * Savings and accuracy are absent when they cannot be priced (unknown, not zero); `unpriced` then names each price-book
 * figure that was missing (e.g. `instance type m7g.large in eu-west-1`). Events written before `unpriced` existed lack it.
 */
export type ValidationPassed = Ev<'ValidationPassed', Base & { actualMonthlySavings?: number; accuracyPct?: number; unpriced?: readonly string[]; performance: PerformanceImpact }>;
export type ValidationFailed = Ev<
  'ValidationFailed',
  Base & { reasons: readonly string[]; actualMonthlySavings?: number; accuracyPct?: number; unpriced?: readonly string[]; performance: PerformanceImpact }
>;
export type RollbackStarted = Ev<'RollbackStarted', Base & { reason: string; steps: readonly Step[] }>;
/** The intent of a mutating rollback step, recorded before its EC2 call (see {@link ExecutionStepStarted}). */
export type RollbackStepStarted = Ev<'RollbackStepStarted', Base & { index: number; step: Step; clientToken: string }>;
/** Version 2: `clientToken` and `reconciled`, as {@link ExecutionStepCompleted}. */
export type RollbackStepCompleted = Ev<'RollbackStepCompleted', Base & { index: number; step: Step; outputs: StepOutputs; clientToken?: string; reconciled: boolean }>;
export type RollbackCompleted = Ev<'RollbackCompleted', Base>;
export type RollbackFailed = Ev<'RollbackFailed', Base & { error: ErrorInfo; failedStepIndex?: number }>;
export type OptimizationCancelled = Ev<'OptimizationCancelled', Base & { by: string; reason: string }>;
/**
 * An operator sent a failed rollback back to work: the optimization is `rolling-back` again and the executor resumes
 * at the rollback step that failed (`failedStepIndex`, when the failure named one), with that step's client token.
 */
export type RollbackRetried = Ev<'RollbackRetried', Base & { by: string; reason: string; failedStepIndex?: number }>;
/** The statuses an operator can resolve: the ones where the engine stops and waits for a person. */
export type ResolvableStatus = 'rollback-failed' | 'reconciliation-needed';
/** An operator closed an optimization the engine could not finish (`from`), with a note of what they found or did. */
export type OptimizationResolved = Ev<'OptimizationResolved', Base & { by: string; note: string; from: ResolvableStatus }>;
/** Where the scope guard stopped an optimization: when it was assessed, or at pre-validation (the live resource). */
export type ScopeStage = 'assessment' | 'pre-validation';
/**
 * The scope guard refused the optimization (policy `scope`, the credentials' account): status `out-of-scope`, terminal;
 * nothing was changed. Every rule it broke, each with a reason naming the rule; at pre-validation, what was observed.
 */
export type OptimizationOutOfScope = Ev<'OptimizationOutOfScope', Base & { stage: ScopeStage; violations: readonly ScopeViolation[]; observed?: ObservedResource }>;
/**
 * The backup snapshot of a delete-volume (see backups.ts) was expired after `retentionDays`: `outcome` deleted, found
 * gone already, or refused by EC2 (`error`, e.g. `InvalidSnapshot.InUse` when an image uses it: left as it is and
 * not tried again). The status does not change; the optimization is no longer reversible.
 */
export type BackupSnapshotExpired = Ev<
  'BackupSnapshotExpired',
  Base & { snapshotId: string; volumeId: string; createdAt: string; retentionDays: number; outcome: BackupExpiryOutcome; error?: ErrorInfo }
>;

export type OptimizationEvent =
  | OptimizationReceived
  | ResubmissionConflicted
  | RiskAssessed
  | RiskReassessed
  | ApprovalGranted
  | ApprovalRequested
  | PlanChanged
  | ApprovalDenied
  | ApprovalExpired
  | ExecutionScheduled
  | ExecutionStarted
  | PreValidationPassed
  | PreValidationFailed
  | RollbackPlanRecorded
  | ExecutionStepStarted
  | ExecutionStepCompleted
  | StepEffectNotFound
  | ReconciliationRequired
  | ExecutionSucceeded
  | ExecutionFailed
  | ValidationPassed
  | ValidationFailed
  | RollbackStarted
  | RollbackStepStarted
  | RollbackStepCompleted
  | RollbackCompleted
  | RollbackFailed
  | OptimizationCancelled
  | RollbackRetried
  | OptimizationResolved
  | OptimizationOutOfScope
  | BackupSnapshotExpired;
export type OptimizationEventType = OptimizationEvent['type'];

// ── Other streams ──
export const REJECTED_STREAM = 'rejected-recommendations';
export const DUPLICATES_STREAM = 'duplicate-recommendations';
/** `dryRun`: the record came for a preview (a dry run); absent on rejections recorded before 2026-12-07 (see {@link isPreviewRejection}). */
export type RecommendationRejected = Ev<'RecommendationRejected', { deliveryId: string; index?: number; recommendationId?: string; raw: unknown; errors: readonly FieldError[]; dryRun?: boolean; at: string }>;
export type RecommendationDuplicated = Ev<'RecommendationDuplicated', { deliveryId: string; optimizationId: string; recommendationId: string; at: string }>;

export type BatchMode = 'sequential' | 'parallel' | 'resource-grouped' | 'region-grouped';
export const BATCH_MODES: readonly BatchMode[] = ['sequential', 'parallel', 'resource-grouped', 'region-grouped'];
export type BatchPlanned = Ev<'BatchPlanned', { batchId: string; mode: BatchMode; maxParallel: number; notBefore: string; optimizationIds: readonly string[]; at: string }>;
export type BatchCompleted = Ev<'BatchCompleted', { batchId: string; at: string }>;
/**
 * A member of the batch waits (recorded once per member and `until`): `hold` says for what — a freeze, outside its change
 * windows, a cool-down, the daily blast-radius limit, a staged batch's soak. Schema version 1 had no `hold` for the last
 * two, nor any before cool-downs existed: the upcast derives it from `reason`.
 */
export type ExecutionDeferred = Ev<'ExecutionDeferred', { batchId: string; optimizationId: string; hold: DeferralHold; until: string; reason: string; at: string }>;
/** The rest of the batch waits for an operator: a blast-radius limit or a stage's gate (see blast-radius.ts, staged-rollout.ts). `dispatched`/`errors`: the counts that tripped it. */
export type BatchHalted = Ev<'BatchHalted', { batchId: string; rule: HaltRule; reason: string; dispatched: number; errors: number; stage?: number; at: string }>;
/** An operator lets a halted batch go on; counts start again from those of the halt. */
export type BatchContinued = Ev<'BatchContinued', { batchId: string; by: string; reason: string; rule: HaltRule; at: string }>;
/** A stage of a staged batch starts: its members (the last stage: every member still waiting). */
export type StageStarted = Ev<'StageStarted', { batchId: string; stage: number; of: number; optimizationIds: readonly string[]; at: string }>;
/** Every member of the stage ended and none went wrong: the gate passed; the soak runs from `at`. */
export type StagePassed = Ev<'StagePassed', { batchId: string; stage: number; of: number; at: string }>;
/** A member of the stage went wrong: the batch halts (a `BatchHalted` follows) and `rolledBack` are rolled back by the policy. */
export type StageFailed = Ev<'StageFailed', { batchId: string; stage: number; of: number; failed: readonly string[]; rolledBack: readonly string[]; at: string }>;
export type BatchEvent = BatchPlanned | BatchCompleted | ExecutionDeferred | BatchHalted | BatchContinued | StageStarted | StagePassed | StageFailed;

export type IntakeEvent = RecommendationRejected | RecommendationDuplicated;
export type AnyOptexEvent = OptimizationEvent | IntakeEvent | BatchEvent | ControlEvent | CircuitBreakerEvent | SettingsEvent;

export const optimizationStream = (optimizationId: string): string => `optimization-${optimizationId}`;
export const batchStream = (batchId: string): string => `batch-${batchId}`;
export const OPTIMIZATION_STREAM_PREFIX = 'optimization-';
