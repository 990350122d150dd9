import type { ErrorInfo, StepPhase } from './events';
import type { LiveResource, ObservedResource, Recommendation, RiskLevel, Step, StepOutputs } from './types';
import type { Policy } from './policy';
import type { ScopePolicy } from './scope';
import type { PriceBook } from './pricing';
import type { PerformanceSample } from './performance';
import type { StepEvidence } from './reconciliation';
import type { OptimizationStatus } from './decider';
import type { BackupExpiryOutcome } from './backups';

/** Another optimization that holds the same resource, as the executor's read model sees it. */
export interface ActiveOnResource {
  readonly optimizationId: string;
  readonly action: string;
  readonly status: OptimizationStatus;
}

type Cmd<T extends string, D> = { readonly type: T; readonly data: D; readonly metadata: { readonly now: Date } };

export type ReceiveRecommendation = Cmd<'ReceiveRecommendation', { optimizationId: string; recommendation: Recommendation; dryRun: boolean; deliveryId: string }>;
/**
 * Checks the scope guard, then assesses the risk: out of scope → OptimizationOutOfScope, else RiskAssessed.
 * `credentialsAccountId` is the account of the cloud credentials as observed (STS `GetCallerIdentity`, or the simulated
 * fleet's declared account); `undefined` when the cloud does not say, and the credentials check is then not made.
 * `priceBook` prices a rightsize's target against its current type (the `costs-more` factor); without it that factor is not assessed.
 * `live` is the resource as the cloud describes it (absent `observed`: not found): the risk is assessed on the union of
 * what the recommendation states and what is there, and both are recorded (`RiskAssessed.basis`).
 */
export type AssessRisk = Cmd<'AssessRisk', { policy: Policy; credentialsAccountId: string | undefined; priceBook?: PriceBook; live?: LiveResource }>;
/** `priceBook` prices the plan recorded with the approval (its net monthly cost change); without it that figure is unpriced. */
export type DecideApproval = Cmd<'DecideApproval', { policy: Policy; priceBook?: PriceBook }>;
/**
 * How an authenticated caller (the HTTP API, the console) was identified: `by` is then an identifier the caller proved
 * (a roster id its credentials matched, else its subject), so it must be a roster id or alias as it is, letter case
 * aside — never one only after Unicode normalization — and `names` (its subject and name claims) are who else it is,
 * for the rule that a requester may not decide their own request. Absent for a decision typed into the CLI, which holds
 * the store and is trusted as an administrator.
 */
export interface AuthenticatedDecider {
  readonly names: readonly string[];
}
/**
 * The approval roster of the policy in force where a decision is made (the API's, the console's, or the one remembered
 * with the store for the CLI): with entries, whoever decides must also be on it now, holding the authority the request
 * names — someone removed from the roster after approval was asked may no longer decide. Absent, or without entries:
 * only the roster recorded on the request counts.
 */
export type RosterInForce = Pick<Policy['approval'], 'roster' | 'higherAuthorityDecides'>;
/**
 * `requestedAt`: when the approval request the approver looked at was asked (`ApprovalRequested.at`, the state's
 * `approval.requestedAt`). Given, the approval counts only for that request: one asked again since (its plan drifted)
 * is refused (`REQUEST_CHANGED`), so nobody approves a plan they did not see.
 */
export type Approve = Cmd<'Approve', { by: string; reason?: string; authenticated?: AuthenticatedDecider; rosterInForce?: RosterInForce; requestedAt?: string }>;
export type Deny = Cmd<'Deny', { by: string; reason: string; authenticated?: AuthenticatedDecider; rosterInForce?: RosterInForce }>;
/** Expires a pending approval request if `now` is at or after its `expiresAt`; otherwise nothing. */
export type ExpireApproval = Cmd<'ExpireApproval', Record<string, never>>;
export type ScheduleExecution = Cmd<'ScheduleExecution', { batchId: string; notBefore: Date }>;
export type StartExecution = Cmd<'StartExecution', Record<string, never>>;
/**
 * What pre-validation observed: the live resource (absent when it does not exist) and the other optimizations active on
 * it, with the policy's scope. The decider finds the problems itself: out of scope (the live resource's opt-out tag, the
 * allow-lists) → OptimizationOutOfScope; other problems → PreValidationFailed; none → PreValidationPassed +
 * RollbackPlanRecorded. With `policy`, the risk is assessed again on the resource as it is now: a higher level than
 * the one approved is recorded (`RiskReassessed`) and, unless the policy approves the new level automatically, the
 * optimization goes back for approval (`ApprovalRequested`) instead of executing. Dry runs are not re-approved.
 * `describeError`: EC2 refused to describe the resource (a refusal retrying would not change, such as a missing
 * permission) → PreValidationFailed naming the code, in a dry run too: nothing may change on a resource not seen.
 */
export type RecordPreValidation = Cmd<
  'RecordPreValidation',
  {
    observed?: ObservedResource;
    describeError?: { readonly code: string; readonly message: string };
    activeOnResource: readonly ActiveOnResource[];
    scope: ScopePolicy;
    policy?: Policy;
    priceBook?: PriceBook;
  }
>;
/** Records the intent of the next mutating step (index `index` of the phase's plan) before its EC2 call. */
export type StartStep = Cmd<'StartStep', { phase: StepPhase; index: number }>;
/** The outcome of a started step's look-up after a crash (see reconciliation.ts). */
export type ReconcileStep = Cmd<'ReconcileStep', { phase: StepPhase; index: number; evidence: StepEvidence }>;
export type CompleteExecutionStep = Cmd<'CompleteExecutionStep', { index: number; step: Step; outputs: StepOutputs }>;
export type SucceedExecution = Cmd<'SucceedExecution', Record<string, never>>;
/** ExecutionFailed, then RollbackStarted when mutating steps were completed, else status `failed`. */
export type FailExecution = Cmd<'FailExecution', { error: ErrorInfo; failedStepIndex?: number }>;
/**
 * What post-validation observed: the resource after the change (absent when it is gone) and the performance sample;
 * the decider judges the outcome, prices the savings (price book) and the performance (policy) itself.
 */
/**
 * `describeError`: EC2 refused to describe the resource after the change (a refusal retrying would not change, such as
 * a missing permission): the change cannot be verified, so validation fails naming the code (and the change is rolled
 * back), instead of the optimization staying `validating` for ever.
 */
export type RecordValidation = Cmd<
  'RecordValidation',
  { observedAfter?: ObservedResource; sample: PerformanceSample; policy: Policy; priceBook: PriceBook; describeError?: { readonly code: string; readonly message: string } }
>;
export type CompleteRollbackStep = Cmd<'CompleteRollbackStep', { index: number; step: Step; outputs: StepOutputs }>;
export type CompleteRollback = Cmd<'CompleteRollback', Record<string, never>>;
export type FailRollback = Cmd<'FailRollback', { error: ErrorInfo; failedStepIndex?: number }>;
export type CancelOptimization = Cmd<'CancelOptimization', { by: string; reason: string }>;
/** An operator sends a `rollback-failed` optimization back to rolling back, from the step that failed. */
export type RetryRollback = Cmd<'RetryRollback', { by: string; reason: string }>;
/** An operator closes an optimization that waits for one (`rollback-failed`, `reconciliation-needed`), saying what they found or did. */
export type ResolveOptimization = Cmd<'ResolveOptimization', { by: string; note: string }>;
/** A stage of a staged batch failed its gate: a completed member of that stage is rolled back (staged-rollout.ts). */
export type RollBackStage = Cmd<'RollBackStage', { batchId: string; stage: number; reason: string }>;
/**
 * Records the expiry of the optimization's backup snapshot under a retention of `retentionDays`, once the caller has
 * asked EC2 to delete it: `outcome` what came of that (`error`: EC2's refusal, with `refused`). Refused unless the
 * backup is due (see backups.ts); nothing when it expired already.
 */
export type ExpireBackupSnapshot = Cmd<'ExpireBackupSnapshot', { retentionDays: number; outcome: BackupExpiryOutcome; error?: ErrorInfo }>;

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
  | StartStep
  | ReconcileStep
  | CompleteExecutionStep
  | SucceedExecution
  | FailExecution
  | RecordValidation
  | CompleteRollbackStep
  | CompleteRollback
  | FailRollback
  | CancelOptimization
  | RetryRollback
  | ResolveOptimization
  | RollBackStage
  | ExpireBackupSnapshot;

export type { RiskLevel };
