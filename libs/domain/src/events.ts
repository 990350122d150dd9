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
} from './types';

/** Stored event names: explicit, never derived from class names. Version travels in metadata.schemaVersion. */
export const EVENT_SCHEMA_VERSION = 1;

type Ev<T extends string, D> = { readonly type: T; readonly data: D };
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
export type RiskAssessed = Ev<'RiskAssessed', Base & { baseLevel: RiskLevel; level: RiskLevel; factors: readonly AppliedFactor[]; policyVersion: string }>;
/** One per approver. `final` when the required number of distinct approvers is reached (or mode auto). */
export type ApprovalGranted = Ev<'ApprovalGranted', Base & { mode: 'auto' | 'manual'; by?: string; reason?: string; approvers: readonly string[]; final: boolean }>;
export type ApprovalRequested = Ev<'ApprovalRequested', Base & { authority: Authority; requiredApprovals: number; expiresAt: string }>;
export type ApprovalDenied = Ev<'ApprovalDenied', Base & { by: string; reason: string }>;
export type ApprovalExpired = Ev<'ApprovalExpired', Base & { expiresAt: string }>;
export type ExecutionScheduled = Ev<'ExecutionScheduled', Base & { batchId: string; notBefore: string; priority: RiskLevel }>;
export type ExecutionStarted = Ev<'ExecutionStarted', Base & { dryRun: boolean }>;
export type PreValidationPassed = Ev<'PreValidationPassed', Base & { observed: ObservedResource }>;
export type PreValidationFailed = Ev<'PreValidationFailed', Base & { reasons: readonly string[]; observed?: ObservedResource }>;
export type RollbackPlanRecorded = Ev<'RollbackPlanRecorded', Base & { steps: readonly Step[]; reversible: Reversibility }>;
export type ExecutionStepCompleted = Ev<'ExecutionStepCompleted', Base & { index: number; step: Step; outputs: StepOutputs; dryRun: boolean }>;
export type ExecutionSucceeded = Ev<'ExecutionSucceeded', Base & { durationMs: number; dryRun: boolean }>;
export type ExecutionFailed = Ev<'ExecutionFailed', Base & { error: ErrorInfo; failedStepIndex?: number; durationMs: number }>;
/** Savings and accuracy are absent when the price book does not know a type involved (unknown, not zero). */
export type ValidationPassed = Ev<'ValidationPassed', Base & { actualMonthlySavings?: number; accuracyPct?: number; performance: PerformanceImpact }>;
export type ValidationFailed = Ev<'ValidationFailed', Base & { reasons: readonly string[]; actualMonthlySavings?: number; accuracyPct?: number; performance: PerformanceImpact }>;
export type RollbackStarted = Ev<'RollbackStarted', Base & { reason: string; steps: readonly Step[] }>;
export type RollbackStepCompleted = Ev<'RollbackStepCompleted', Base & { index: number; step: Step; outputs: StepOutputs }>;
export type RollbackCompleted = Ev<'RollbackCompleted', Base>;
export type RollbackFailed = Ev<'RollbackFailed', Base & { error: ErrorInfo; failedStepIndex?: number }>;
export type OptimizationCancelled = Ev<'OptimizationCancelled', Base & { by: string; reason: string }>;

export type OptimizationEvent =
  | OptimizationReceived
  | RiskAssessed
  | ApprovalGranted
  | ApprovalRequested
  | ApprovalDenied
  | ApprovalExpired
  | ExecutionScheduled
  | ExecutionStarted
  | PreValidationPassed
  | PreValidationFailed
  | RollbackPlanRecorded
  | ExecutionStepCompleted
  | ExecutionSucceeded
  | ExecutionFailed
  | ValidationPassed
  | ValidationFailed
  | RollbackStarted
  | RollbackStepCompleted
  | RollbackCompleted
  | RollbackFailed
  | OptimizationCancelled;
export type OptimizationEventType = OptimizationEvent['type'];

// ── Other streams ──
export const REJECTED_STREAM = 'rejected-recommendations';
export const DUPLICATES_STREAM = 'duplicate-recommendations';
export type RecommendationRejected = Ev<'RecommendationRejected', { deliveryId: string; index?: number; recommendationId?: string; raw: unknown; errors: readonly FieldError[]; at: string }>;
export type RecommendationDuplicated = Ev<'RecommendationDuplicated', { deliveryId: string; optimizationId: string; recommendationId: string; at: string }>;

export type BatchMode = 'sequential' | 'parallel' | 'resource-grouped' | 'region-grouped';
export const BATCH_MODES: readonly BatchMode[] = ['sequential', 'parallel', 'resource-grouped', 'region-grouped'];
export type BatchPlanned = Ev<'BatchPlanned', { batchId: string; mode: BatchMode; maxParallel: number; notBefore: string; optimizationIds: readonly string[]; at: string }>;
export type BatchCompleted = Ev<'BatchCompleted', { batchId: string; at: string }>;
export type BatchEvent = BatchPlanned | BatchCompleted;

export type IntakeEvent = RecommendationRejected | RecommendationDuplicated;
export type AnyOptexEvent = OptimizationEvent | IntakeEvent | BatchEvent;

export const optimizationStream = (optimizationId: string): string => `optimization-${optimizationId}`;
export const batchStream = (batchId: string): string => `batch-${batchId}`;
export const OPTIMIZATION_STREAM_PREFIX = 'optimization-';
