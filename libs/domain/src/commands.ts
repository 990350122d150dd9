import type { ErrorInfo } from './events';
import type { ObservedResource, PerformanceImpact, Recommendation, RiskLevel, Step, StepOutputs } from './types';
import type { Policy } from './policy';

type Cmd<T extends string, D> = { readonly type: T; readonly data: D; readonly metadata: { readonly now: Date } };

export type ReceiveRecommendation = Cmd<'ReceiveRecommendation', { optimizationId: string; recommendation: Recommendation; dryRun: boolean; deliveryId: string }>;
export type AssessRisk = Cmd<'AssessRisk', { policy: Policy }>;
export type DecideApproval = Cmd<'DecideApproval', { policy: Policy }>;
export type Approve = Cmd<'Approve', { by: string; reason?: string }>;
export type Deny = Cmd<'Deny', { by: string; reason: string }>;
/** Expires a pending approval request if `now` is at or after its `expiresAt`; otherwise nothing. */
export type ExpireApproval = Cmd<'ExpireApproval', Record<string, never>>;
export type ScheduleExecution = Cmd<'ScheduleExecution', { batchId: string; notBefore: Date }>;
export type StartExecution = Cmd<'StartExecution', Record<string, never>>;
/** `problems` empty → PreValidationPassed + RollbackPlanRecorded (plan computed by the domain); else PreValidationFailed. */
export type RecordPreValidation = Cmd<'RecordPreValidation', { observed?: ObservedResource; problems: readonly string[] }>;
export type CompleteExecutionStep = Cmd<'CompleteExecutionStep', { index: number; step: Step; outputs: StepOutputs }>;
export type SucceedExecution = Cmd<'SucceedExecution', Record<string, never>>;
/** ExecutionFailed, then RollbackStarted when mutating steps were completed, else status `failed`. */
export type FailExecution = Cmd<'FailExecution', { error: ErrorInfo; failedStepIndex?: number }>;
export type RecordValidation = Cmd<
  'RecordValidation',
  { problems: readonly string[]; actualMonthlySavings?: number; accuracyPct?: number; performance: PerformanceImpact }
>;
export type CompleteRollbackStep = Cmd<'CompleteRollbackStep', { index: number; step: Step; outputs: StepOutputs }>;
export type CompleteRollback = Cmd<'CompleteRollback', Record<string, never>>;
export type FailRollback = Cmd<'FailRollback', { error: ErrorInfo; failedStepIndex?: number }>;
export type CancelOptimization = Cmd<'CancelOptimization', { by: string; reason: string }>;

export type OptimizationCommand =
  | ReceiveRecommendation
  | AssessRisk
  | DecideApproval
  | Approve
  | Deny
  | ExpireApproval
  | ScheduleExecution
  | StartExecution
  | RecordPreValidation
  | CompleteExecutionStep
  | SucceedExecution
  | FailExecution
  | RecordValidation
  | CompleteRollbackStep
  | CompleteRollback
  | FailRollback
  | CancelOptimization;

export type { RiskLevel };
