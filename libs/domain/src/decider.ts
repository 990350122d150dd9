import { statedText } from './text';
import { DomainError } from './errors';
import { executionPlan, isMutatingStep, preValidationProblems, reversibility, rollbackPlan, rollbackStepsFor } from './plans';
import { assessRisk, decideApproval, isHigherRisk } from './policy';
import { accuracyPct, expectedOutcomeProblems, savingsQuote } from './savings';
import { performanceImpact, performanceProblems } from './performance';
import { clientTokenFor } from './ids';
import { changePlanOf, planDifferences, type ChangePlan } from './change-plan';
import type { PriceBook } from './pricing';
import { judgeStepEffect } from './reconciliation';
import { eligibleApprovers, eligibleIdentity, normalizeIdentity, type EligibleApprover } from './roster';
import { assessmentScopeViolations, preValidationScopeViolations, type ScopeViolation } from './scope';
import { recommendationDifferences, type RecommendationDifference } from './resubmission';
import { backupExpiresAt, rollbackRefusal, type BackupData } from './backups';
import type * as C from './commands';
import type { OptimizationCommand } from './commands';
import type { ErrorInfo, OptimizationEvent, ResolvableStatus, ScopeStage, StepPhase, ValidationFailed } from './events';
import type { ApprovalDecision, Authority, ObservedResource, PerformanceImpact, Recommendation, Reversibility, RiskAssessment, RiskLevel, Step, StepOutputs } from './types';

// ── State ──

import { TERMINAL_STATUSES, ACTIVE_EXECUTION_STATUSES, RESOURCE_HELD_STATUSES, WAITING_FOR_PEOPLE_STATUSES, isTerminal, type OptimizationStatus } from './statuses';

export { TERMINAL_STATUSES, ACTIVE_EXECUTION_STATUSES, RESOURCE_HELD_STATUSES, WAITING_FOR_PEOPLE_STATUSES, isTerminal, type OptimizationStatus };
export { MOVING_STATUSES, goesOnForReal } from './statuses';

/** A step done, with what it produced (e.g. `snapshotId`). */
export interface CompletedStep {
  readonly index: number;
  readonly step: Step;
  readonly outputs: StepOutputs;
  /** Found after a crash rather than performed. */
  readonly reconciled?: boolean;
  /** When its outcome was recorded: after the call, so no earlier than the change began in EC2. */
  readonly at?: string;
}

/** The outputs of steps done (e.g. `snapshotId`), merged in order: what later steps and the validation read. */
export const mergedOutputs = (steps: readonly { readonly outputs: StepOutputs }[]): StepOutputs => Object.assign({}, ...steps.map((s) => s.outputs)) as StepOutputs;

/** A mutating step whose intent is recorded and whose outcome is not (yet): in flight, or cut short by a crash. */
export interface StartedStep {
  readonly index: number;
  readonly step: Step;
  readonly clientToken: string;
  /** ISO time the intent was recorded. */
  readonly at: string;
}

/** The approval part of an optimization. */
export interface ApprovalData {
  readonly mode?: 'auto' | 'manual';
  readonly authority?: Authority;
  readonly requiredApprovals?: number;
  /** Who may decide (normalized ids and aliases), when the policy had a roster at the request; absent: anyone. */
  readonly eligibleApprovers?: readonly EligibleApprover[];
  /** Distinct approvers so far (manual), as normalized identities (roster ids when there is a roster). */
  readonly approvers: readonly string[];
  /** The exact change asked for and approved (absent when the live resource was not seen at assessment). */
  readonly plan?: ChangePlan;
  readonly requestedAt?: string;
  readonly expiresAt?: string;
  /** Set once the approval is final (auto, or enough approvers). */
  readonly grantedAt?: string;
  readonly deniedBy?: string;
  readonly denyReason?: string;
  readonly expiredAt?: string;
}

/** When and in which batch an optimization was dispatched. */
export interface ScheduleData {
  readonly batchId: string;
  readonly notBefore: string;
  readonly priority: RiskLevel;
  /** When it was dispatched (what the daily blast-radius limit counts). */
  readonly scheduledAt: string;
}

/** The execution part: pre-validation, the plan's progress and its outcome. */
export interface ExecutionData {
  readonly startedAt: string;
  readonly preValidation?: 'passed' | 'failed';
  readonly preValidationProblems?: readonly string[];
  readonly observed?: ObservedResource;
  readonly reversible: Reversibility;
  readonly rollbackPlan?: readonly Step[];
  readonly completedSteps: readonly CompletedStep[];
  /** The step whose intent is recorded but not its outcome. */
  readonly startedStep?: StartedStep;
  readonly succeeded?: boolean;
  readonly durationMs?: number;
  readonly error?: ErrorInfo;
  readonly failedStepIndex?: number;
}

/** The post-validation verdict. */
export interface ValidationData {
  readonly actualMonthlySavings?: number;
  readonly accuracyPct?: number;
  /** The price-book figures the actual savings needed and the book lacks (then `actualMonthlySavings` is absent). */
  readonly unpriced?: readonly string[];
  readonly performance?: PerformanceImpact;
  readonly passed: boolean;
  readonly problems: readonly string[];
}

/** A rollback's plan and progress. */
export interface RollbackData {
  readonly reason: string;
  readonly steps: readonly Step[];
  readonly completedSteps: readonly CompletedStep[];
  readonly startedStep?: StartedStep;
  readonly error?: ErrorInfo;
  readonly failedStepIndex?: number;
  /** ISO time the rollback completed or failed. */
  readonly endedAt?: string;
}

/** Why an operator must look: a started step whose effect EC2 could neither confirm nor rule out. */
export interface ReconciliationData {
  readonly phase: StepPhase;
  readonly index: number;
  readonly step: Step;
  readonly clientToken: string;
  readonly reason: string;
}

/** Why the scope guard refused the optimization, and when. */
export interface OutOfScopeData {
  readonly stage: ScopeStage;
  readonly violations: readonly ScopeViolation[];
}

/**
 * What is known about any received optimization. The parts that only some statuses have are declared here as
 * optional so that every status can be read the same way; each status below states which of them it guarantees.
 */
export interface OptimizationData {
  readonly optimizationId: string;
  readonly recommendation: Recommendation;
  readonly dryRun: boolean;
  readonly deliveryId: string;
  /** ISO time of OptimizationReceived. */
  readonly receivedAt: string;
  readonly risk?: RiskAssessment;
  readonly approval: ApprovalData;
  readonly schedule?: ScheduleData;
  readonly execution?: ExecutionData;
  readonly validation?: ValidationData;
  readonly rollback?: RollbackData;
  readonly cancellation?: { readonly by: string; readonly reason: string };
  readonly reconciliation?: ReconciliationData;
  /** How an operator closed it (`resolved`). */
  readonly resolution?: { readonly by: string; readonly note: string; readonly from: ResolvableStatus };
  readonly outOfScope?: OutOfScopeData;
  /** Resubmissions under this optimization's id with other content, in order (see ResubmissionConflicted). */
  readonly conflicts?: readonly ConflictData[];
  /**
   * The backup snapshot a delete-volume took before deleting the volume, while optex holds it or after it expired
   * (absent when none was taken, or the rollback of a deletion that failed before the volume went deleted it).
   */
  readonly backup?: BackupData;
}

/** A changed resubmission, as the state keeps it: its delivery, when, and what it changed. */
export interface ConflictData {
  readonly deliveryId: string;
  readonly at: string;
  readonly differences: readonly RecommendationDifference[];
}

type In<S extends OptimizationStatus, Guaranteed extends keyof OptimizationData = never> = OptimizationData & { readonly status: S } & Required<Pick<OptimizationData, Guaranteed>>;

/**
 * A received optimization: a union on `status`, each status guaranteeing the parts it cannot be without (an
 * executing optimization has its schedule and execution, a rolling-back one its rollback, a completed one its
 * validation…). `evolve` can only build states that keep these promises.
 */
export type KnownOptimizationState =
  | In<'received'>
  | In<'awaiting-approval', 'risk'>
  | In<'approved', 'risk'>
  | In<'scheduled', 'risk' | 'schedule'>
  | In<'executing', 'risk' | 'schedule' | 'execution'>
  | In<'validating', 'risk' | 'schedule' | 'execution'>
  | In<'rolling-back', 'execution' | 'rollback'>
  | In<'reconciliation-needed', 'execution' | 'reconciliation'>
  | In<'completed', 'execution' | 'validation'>
  | In<'dry-run-completed', 'execution'>
  | In<'denied'>
  | In<'expired'>
  | In<'cancelled', 'cancellation'>
  | In<'failed'>
  | In<'rolled-back', 'execution' | 'rollback'>
  | In<'rollback-failed', 'execution' | 'rollback'>
  | In<'resolved', 'execution' | 'resolution'>
  | In<'out-of-scope', 'outOfScope'>;
/** The state of one optimization stream: nothing yet, or a received optimization. */
export type OptimizationState = { readonly status: 'initial' } | KnownOptimizationState;

/** Emmett-style decider. */
export interface Decider<Command, Event, State> {
  decide(command: Command, state: State): Event[];
  evolve(state: State, event: Event): State;
  initialState(): State;
  /** Whether an append holding this event must survive a power loss before it is acknowledged (the store's `durable`). */
  durable?(event: Event): boolean;
}

// ── decide ──

/** The last command time and its ISO form: the commands of one busy millisecond share it (`toISOString` ~2 µs each). */
let lastNow: { readonly at: string; readonly ms: number } | undefined;

const nowOf = (command: OptimizationCommand): { readonly at: string; readonly ms: number } => {
  const ms = command.metadata.now.getTime();
  if (Number.isNaN(ms)) throw new DomainError('INVALID_INPUT', `${command.type}: metadata.now is not a valid date`);
  if (lastNow?.ms !== ms) lastNow = { at: new Date(ms).toISOString(), ms };
  return lastNow;
};

function requireKnown(command: OptimizationCommand, state: OptimizationState): KnownOptimizationState {
  if (state.status === 'initial') throw new DomainError('NOT_FOUND', `${command.type}: no optimization received on this stream`);
  return state;
}

const invalidState = (command: OptimizationCommand, state: KnownOptimizationState, expected: string): DomainError =>
  new DomainError('INVALID_STATE', `${command.type} is not possible: optimization ${state.optimizationId} is ${state.status}, expected ${expected}`);

function requireText(command: OptimizationCommand, field: string, value: string | undefined): string {
  const text = statedText(command.type, field, value ?? '');
  if (text === '') throw new DomainError('INVALID_INPUT', `${command.type}: ${field} is required and must not be empty`);
  return text;
}

function stepIndex(command: OptimizationCommand, index: number): number {
  if (!Number.isInteger(index) || index < 0) throw new DomainError('INVALID_INPUT', `${command.type}: index must be a whole number ≥ 0, got ${index}`);
  return index;
}

const describeError = (error: ErrorInfo): string => `${error.code}: ${error.message}`;

/** The rollback of what the execution did; `stillThere`: validation found the resource a deletion or release had removed (see {@link rollbackStepsFor}). */
const undoSteps = (state: KnownOptimizationState, stillThere = false): Step[] =>
  state.dryRun || !state.execution?.observed
    ? []
    : rollbackStepsFor(
        state.recommendation,
        state.execution.observed,
        state.execution.completedSteps.map((s) => s.step).filter(isMutatingStep),
        mergedOutputs(state.execution.completedSteps),
        stillThere,
      );

/**
 * The first delivery opens the optimization. A later one of the same recommendation is a duplicate: nothing changes
 * when its content is the same (or it is the first delivery again), and a changed one is a conflict, recorded once
 * per delivery, while the optimization keeps what it received first.
 */
function decideReceive(command: C.ReceiveRecommendation, state: OptimizationState): OptimizationEvent[] {
  const { at } = nowOf(command);
  const { optimizationId, recommendation, dryRun, deliveryId } = command.data;
  if (state.status === 'initial') return [{ type: 'OptimizationReceived', data: { optimizationId, at, recommendation, dryRun, deliveryId } }];
  if (state.deliveryId === deliveryId || state.conflicts?.some((c) => c.deliveryId === deliveryId)) return [];
  const differences = recommendationDifferences(state.recommendation, recommendation);
  if (differences.length === 0) return [];
  return [{ type: 'ResubmissionConflicted', data: { optimizationId: state.optimizationId, at, deliveryId, recommendation, differences } }];
}

function decideAssessRisk(command: C.AssessRisk, s: KnownOptimizationState): OptimizationEvent[] {
  if (s.risk || s.status === 'out-of-scope') return [];
  if (s.status !== 'received') throw invalidState(command, s, 'received');
  const { at } = nowOf(command);
  const { policy, credentialsAccountId } = command.data;
  const violations = assessmentScopeViolations(s.recommendation, policy.scope, credentialsAccountId);
  if (violations.length > 0) return [{ type: 'OptimizationOutOfScope', data: { optimizationId: s.optimizationId, at, stage: 'assessment', violations } }];
  const risk = assessRisk(s.recommendation, policy, command.data.priceBook, command.data.live);
  return [{ type: 'RiskAssessed', data: { optimizationId: s.optimizationId, at, ...risk } }];
}

/** The request a manual approval decision makes, expiring `expiresInMs` after `ms`. */
function approvalRequest(optimizationId: string, at: string, ms: number, decision: Extract<ApprovalDecision, { mode: 'manual' }>, plan: ChangePlan | undefined): OptimizationEvent {
  return {
    type: 'ApprovalRequested',
    data: {
      optimizationId,
      at,
      authority: decision.authority,
      requiredApprovals: decision.requiredApprovals,
      expiresAt: new Date(ms + decision.expiresInMs).toISOString(),
      ...(decision.eligibleApprovers ? { eligibleApprovers: decision.eligibleApprovers } : {}),
      ...(plan ? { plan } : {}),
    },
  };
}

/** The approval of `plan` under `decision`: granted automatically, or asked of the decision's authority. */
function approvalOf(optimizationId: string, at: string, ms: number, decision: ApprovalDecision, plan: ChangePlan | undefined): OptimizationEvent {
  if (decision.mode === 'manual') return approvalRequest(optimizationId, at, ms, decision, plan);
  return { type: 'ApprovalGranted', data: { optimizationId, at, mode: 'auto', approvers: [], final: true, ...(plan ? { plan } : {}) } };
}

/** The plan of the change on the live resource the risk assessment observed; `undefined` when it saw none. */
function assessedPlan(s: KnownOptimizationState, risk: RiskAssessment, pb: PriceBook | undefined): ChangePlan | undefined {
  const observed = risk.basis?.live?.observed;
  return observed ? changePlanOf(s.recommendation, observed, s.optimizationId, risk, pb) : undefined;
}

function decideDecideApproval(command: C.DecideApproval, s: KnownOptimizationState): OptimizationEvent[] {
  if (s.approval.mode !== undefined) return [];
  if (s.status !== 'received') throw invalidState(command, s, 'received');
  if (!s.risk) throw new DomainError('INVALID_STATE', `DecideApproval is not possible: optimization ${s.optimizationId} has no risk assessment yet`);
  const { at, ms } = nowOf(command);
  // A dry run is a preview: it changes nothing, so it needs no approval (its risk and plan are still recorded).
  const plan = assessedPlan(s, s.risk, command.data.priceBook);
  const decision: ApprovalDecision = s.dryRun ? { mode: 'auto' } : decideApproval(s.risk, s.recommendation, command.data.policy, plan);
  return [approvalOf(s.optimizationId, at, ms, decision, plan)];
}

/**
 * Whether an approval request that expires at `expiresAt` has expired at `ms` (epoch ms): from that instant on,
 * approving or denying it is refused and `ExpireApproval` records it. A request without an expiry never expires.
 */
export const approvalExpired = (expiresAt: string | null | undefined, ms: number): boolean => typeof expiresAt === 'string' && ms >= Date.parse(expiresAt);

function requirePendingApproval(command: C.Approve | C.Deny, s: KnownOptimizationState, ms: number): void {
  if (s.status !== 'awaiting-approval') throw invalidState(command, s, 'awaiting-approval');
  const expiresAt = s.approval.expiresAt;
  if (approvalExpired(expiresAt, ms)) {
    throw new DomainError('APPROVAL_EXPIRED', `${command.type}: the approval request of ${s.optimizationId} expired at ${expiresAt}`);
  }
}

/**
 * Who is deciding, as the identity recorded: with a roster on the request, the roster id `by` denotes (by id or
 * alias, compared normalized), refused when that person may not decide this request; without one, `by` normalized.
 * With a roster in force ({@link C.RosterInForce}, entries given), `by` must also be one of those who may decide the
 * request's authority under it now: someone taken off the roster (or whose authority was lowered) after approval was
 * asked is refused, and a request asked without a roster records the roster id `by` denotes in the one in force.
 */
function deciderIdentity(command: C.Approve | C.Deny, s: KnownOptimizationState): string {
  const by = requireText(command, 'by', command.data.by);
  const exact = command.data.authenticated !== undefined;
  const refuse = (eligible: readonly EligibleApprover[], roster: string): never => {
    const who = eligible.length === 0 ? `nobody on ${roster} holds it` : `${roster} names ${eligible.map((e) => e.id).join(', ')}`;
    throw new DomainError('NOT_AUTHORIZED', `${command.type}: ${by} may not decide ${s.optimizationId}: it needs the ${s.approval.authority ?? 'requested'} authority and ${who}`);
  };
  const eligible = s.approval.eligibleApprovers;
  const identity = eligible && (eligibleIdentity(eligible, by, exact) ?? refuse(eligible, 'the roster'));
  const inForce = command.data.rosterInForce;
  const eligibleNow = inForce && s.approval.authority ? eligibleApprovers(inForce.roster, s.approval.authority, inForce.higherAuthorityDecides) : undefined;
  const identityNow = eligibleNow && (eligibleIdentity(eligibleNow, by, exact) ?? refuse(eligibleNow, 'the roster in force'));
  return identity ?? identityNow ?? normalizeIdentity(by);
}

/**
 * Whether `identity` (as a decision records it: a roster id, or a normalized name), or one of the other `names` an
 * authenticated caller goes by (its subject, its name claims), is who asked for the optimization
 * (`recommendation.requestedBy`, compared normalized; with a roster on the request, an alias denotes its entry's id).
 */
export function isRequester(s: KnownOptimizationState, identity: string, names: readonly string[] = []): boolean {
  const requestedBy = s.recommendation.requestedBy;
  if (requestedBy === undefined) return false;
  const requester = normalizeIdentity(requestedBy);
  const eligible = s.approval.eligibleApprovers;
  return (
    requester === identity ||
    names.some((name) => normalizeIdentity(name) === requester) ||
    (eligible !== undefined && eligibleIdentity(eligible, requester) === identity)
  );
}

function decideApprove(command: C.Approve, s: KnownOptimizationState): OptimizationEvent[] {
  const { at, ms } = nowOf(command);
  requirePendingApproval(command, s, ms);
  const seen = command.data.requestedAt;
  if (seen !== undefined && seen !== s.approval.requestedAt) {
    throw new DomainError(
      'REQUEST_CHANGED',
      `Approve: the approval request of ${s.optimizationId} you looked at (asked ${seen}) has been asked again since (at ${s.approval.requestedAt ?? 'an unknown time'}: its plan changed); look at it again and approve that one`,
    );
  }
  const by = deciderIdentity(command, s);
  if (isRequester(s, by, command.data.authenticated?.names)) {
    throw new DomainError('NOT_AUTHORIZED', `Approve: ${by} requested ${s.optimizationId} and may not approve it; the approval must come from someone else`);
  }
  if (s.approval.approvers.map(normalizeIdentity).includes(by)) {
    throw new DomainError('ALREADY_APPROVED', `Approve: ${by} has already approved ${s.optimizationId}; a second approval must come from someone else`);
  }
  const approvers = [...s.approval.approvers, by];
  const reason = statedText(command.type, 'reason', command.data.reason ?? '');
  return [
    {
      type: 'ApprovalGranted',
      data: {
        optimizationId: s.optimizationId,
        at,
        mode: 'manual',
        by,
        ...(reason ? { reason } : {}),
        approvers,
        final: approvers.length >= (s.approval.requiredApprovals ?? 1),
      },
    },
  ];
}

function decideDeny(command: C.Deny, s: KnownOptimizationState): OptimizationEvent[] {
  const { at, ms } = nowOf(command);
  requirePendingApproval(command, s, ms);
  const by = deciderIdentity(command, s);
  const reason = requireText(command, 'reason', command.data.reason);
  return [{ type: 'ApprovalDenied', data: { optimizationId: s.optimizationId, at, by, reason } }];
}

function decideExpire(command: C.ExpireApproval, s: KnownOptimizationState): OptimizationEvent[] {
  const { at, ms } = nowOf(command);
  const expiresAt = s.approval.expiresAt;
  if (s.status !== 'awaiting-approval' || expiresAt === undefined || !approvalExpired(expiresAt, ms)) return [];
  return [{ type: 'ApprovalExpired', data: { optimizationId: s.optimizationId, at, expiresAt } }];
}

function decideSchedule(command: C.ScheduleExecution, s: KnownOptimizationState): OptimizationEvent[] {
  if (s.schedule) return [];
  if (s.status !== 'approved') throw invalidState(command, s, 'approved');
  const { at } = nowOf(command);
  const batchId = requireText(command, 'batchId', command.data.batchId);
  const notBefore = command.data.notBefore.getTime();
  if (Number.isNaN(notBefore)) throw new DomainError('INVALID_INPUT', 'ScheduleExecution: notBefore is not a valid date');
  return [
    {
      type: 'ExecutionScheduled',
      data: { optimizationId: s.optimizationId, at, batchId, notBefore: new Date(notBefore).toISOString(), priority: s.recommendation.priority ?? 'MEDIUM' },
    },
  ];
}

function decideStart(command: C.StartExecution, s: KnownOptimizationState): OptimizationEvent[] {
  if (s.execution) return [];
  if (s.status !== 'scheduled') throw invalidState(command, s, 'scheduled');
  const { at } = nowOf(command);
  return [{ type: 'ExecutionStarted', data: { optimizationId: s.optimizationId, at, dryRun: s.dryRun } }];
}

/**
 * Problems that other optimizations holding the same resource cause (`RESOURCE_HELD_STATUSES`: executing, or waiting
 * for an operator — `rollback-failed` included); the scheduler prevents them, this is the safety net.
 */
function activeElsewhereProblems(s: KnownOptimizationState, active: C.RecordPreValidation['data']['activeOnResource']): string[] {
  return active
    .filter((o) => o.optimizationId !== s.optimizationId && RESOURCE_HELD_STATUSES.includes(o.status))
    .map((o) => `optimization ${o.optimizationId} (${o.action}) is ${o.status} on ${s.recommendation.resource.id}`);
}

function decidePreValidation(command: C.RecordPreValidation, s: KnownOptimizationState): OptimizationEvent[] {
  if (s.execution?.preValidation || s.status === 'out-of-scope') return [];
  if (s.status !== 'executing') throw invalidState(command, s, 'executing');
  const { at } = nowOf(command);
  const { observed, activeOnResource, scope, describeError } = command.data;
  if (describeError) {
    const reason = `${s.recommendation.resource.id} could not be described: ${describeError.code}: ${describeError.message}`;
    return [{ type: 'PreValidationFailed', data: { optimizationId: s.optimizationId, at, reasons: [reason] } }];
  }
  const violations = preValidationScopeViolations(s.recommendation, scope, observed);
  if (violations.length > 0) {
    return [{ type: 'OptimizationOutOfScope', data: { optimizationId: s.optimizationId, at, stage: 'pre-validation', violations, ...(observed ? { observed } : {}) } }];
  }
  const problems = [...preValidationProblems(s.recommendation, observed, command.metadata.now), ...activeElsewhereProblems(s, activeOnResource)];
  if (problems.length > 0 || !observed) {
    return [{ type: 'PreValidationFailed', data: { optimizationId: s.optimizationId, at, reasons: problems, ...(observed ? { observed } : {}) } }];
  }
  const drift = approvalDrift(command, s, observed);
  if (drift.some((e) => e.type === 'ApprovalRequested' || e.type === 'ApprovalGranted')) return drift;
  return [
    ...drift,
    { type: 'PreValidationPassed', data: { optimizationId: s.optimizationId, at, observed } },
    {
      type: 'RollbackPlanRecorded',
      data: { optimizationId: s.optimizationId, at, steps: rollbackPlan(s.recommendation, observed), reversible: reversibility(s.recommendation.action) },
    },
  ];
}

/**
 * What approval the resource as pre-validation observed it needs (nothing for a dry run, or without a policy): the risk
 * again — higher than assessed → `RiskReassessed` — and the plan again — different from the approved one →
 * `PlanChanged`. A higher risk the policy still approves automatically, with the same plan, goes on (the reassessment
 * recorded); otherwise the approval of the new plan follows (`ApprovalRequested`, or an automatic `ApprovalGranted`
 * when only the plan changed and the policy approves it) and nothing executes. An automatic approval given with no
 * plan (the assessment could not describe the resource) is decided again on the plan now: one the policy would not
 * approve automatically (its savings by the book above the limit, say) goes to a person (`PlanChanged`, then
 * `ApprovalRequested`).
 */
function approvalDrift(command: C.RecordPreValidation, s: KnownOptimizationState, observed: ObservedResource): OptimizationEvent[] {
  const { policy, priceBook } = command.data;
  if (!policy || s.dryRun || !s.risk) return [];
  const assessed = assessRisk(s.recommendation, policy, priceBook, { observed });
  const higher = isHigherRisk(assessed.level, s.risk.level);
  const risk = higher ? assessed : s.risk;
  const approved = s.approval.plan;
  const plan = changePlanOf(s.recommendation, observed, s.optimizationId, risk, priceBook);
  // Approved automatically with no plan (the resource could not be described then): approved on the estimate alone.
  const unplanned = approved === undefined && plan !== undefined && s.approval.mode === 'auto';
  const planned = approved && plan ? planDifferences(approved, plan) : [];
  if (!higher && planned.length === 0 && !unplanned) return [];
  const { at, ms } = nowOf(command);
  const decision = decideApproval(risk, s.recommendation, policy, plan);
  if (!higher && planned.length === 0 && decision.mode === 'auto') return [];
  const differences =
    unplanned && decision.mode === 'manual' && !higher ? [`approved automatically without a plan (${s.recommendation.resource.id} was not described then); the plan now: ${plan.change}`] : planned;
  const returnedForApproval = decision.mode === 'manual' || differences.length > 0;
  const events: OptimizationEvent[] = [];
  if (higher) events.push({ type: 'RiskReassessed', data: { optimizationId: s.optimizationId, at, previousLevel: s.risk.level, ...assessed, returnedForApproval } });
  if (differences.length > 0 && plan) events.push({ type: 'PlanChanged', data: { optimizationId: s.optimizationId, at, differences, plan } });
  if (returnedForApproval) events.push(approvalOf(s.optimizationId, at, ms, decision, plan));
  return events;
}

/** The plan of a phase: the execution plan derived from what pre-validation observed, or the recorded rollback steps. */
export function planOf(s: KnownOptimizationState, phase: StepPhase): readonly Step[] {
  if (phase === 'rollback') return s.rollback?.steps ?? [];
  const observed = s.execution?.observed;
  return observed && s.execution?.preValidation === 'passed' ? executionPlan(s.recommendation, observed, s.optimizationId) : [];
}

const phaseProgress = (s: KnownOptimizationState, phase: StepPhase) => (phase === 'execution' ? s.execution : s.rollback);

function decideStartStep(command: C.StartStep, s: KnownOptimizationState): OptimizationEvent[] {
  const { phase } = command.data;
  const index = stepIndex(command, command.data.index);
  const progress = phaseProgress(s, phase);
  const done = progress?.completedSteps.length ?? 0;
  if (index < done || progress?.startedStep?.index === index) return [];
  const expected = phase === 'execution' ? 'executing' : 'rolling-back';
  if (s.status !== expected) throw invalidState(command, s, expected);
  if (phase === 'execution' && s.execution?.preValidation !== 'passed') {
    throw new DomainError('INVALID_STATE', `StartStep is not possible: pre-validation of ${s.optimizationId} has not passed`);
  }
  if (progress?.startedStep) {
    throw new DomainError('OUT_OF_ORDER', `StartStep: step ${progress.startedStep.index} of ${s.optimizationId} is started and has no outcome yet`);
  }
  if (index > done) throw new DomainError('OUT_OF_ORDER', `StartStep: ${phase} step ${index} of ${s.optimizationId} started before step ${done}`);
  const step = planOf(s, phase)[index];
  if (!step) throw new DomainError('INVALID_INPUT', `StartStep: the ${phase} plan of ${s.optimizationId} has no step ${index}`);
  if (!isMutatingStep(step)) throw new DomainError('INVALID_INPUT', `StartStep: ${step.kind} changes nothing and needs no intent`);
  if (s.dryRun && phase === 'execution') throw new DomainError('INVALID_INPUT', `StartStep: ${s.optimizationId} is a dry run; its calls change nothing and need no intent`);
  const { at } = nowOf(command);
  const clientToken = clientTokenFor(s.optimizationId, phase, index);
  return [{ type: phase === 'execution' ? 'ExecutionStepStarted' : 'RollbackStepStarted', data: { optimizationId: s.optimizationId, at, index, step, clientToken } }];
}

function decideReconcileStep(command: C.ReconcileStep, s: KnownOptimizationState): OptimizationEvent[] {
  const { phase, evidence } = command.data;
  const index = stepIndex(command, command.data.index);
  const started = phaseProgress(s, phase)?.startedStep;
  if (!started || started.index !== index) return []; // already reconciled (a redelivered look-up)
  const expected = phase === 'execution' ? 'executing' : 'rolling-back';
  if (s.status !== expected) throw invalidState(command, s, expected);
  const { at } = nowOf(command);
  const verdict = judgeStepEffect(started.step, evidence);
  const id = s.optimizationId;
  switch (verdict.verdict) {
    case 'happened':
      return phase === 'execution'
        ? [{ type: 'ExecutionStepCompleted', data: { optimizationId: id, at, index, step: started.step, outputs: verdict.outputs, dryRun: s.dryRun, clientToken: started.clientToken, reconciled: true } }]
        : [{ type: 'RollbackStepCompleted', data: { optimizationId: id, at, index, step: started.step, outputs: verdict.outputs, clientToken: started.clientToken, reconciled: true } }];
    case 'not-happened':
      return [{ type: 'StepEffectNotFound', data: { optimizationId: id, at, phase, index, clientToken: started.clientToken, evidence: verdict.evidence } }];
    case 'unknown':
      return [{ type: 'ReconciliationRequired', data: { optimizationId: id, at, phase, index, step: started.step, clientToken: started.clientToken, reason: verdict.reason } }];
    default: {
      const _exhaustive: never = verdict;
      return _exhaustive;
    }
  }
}

function decideExecutionStep(command: C.CompleteExecutionStep, s: KnownOptimizationState): OptimizationEvent[] {
  const index = stepIndex(command, command.data.index);
  const done = s.execution?.completedSteps.length ?? 0;
  if (index < done) return [];
  if (s.status !== 'executing') throw invalidState(command, s, 'executing');
  if (s.execution?.preValidation !== 'passed') {
    throw new DomainError('INVALID_STATE', `CompleteExecutionStep is not possible: pre-validation of ${s.optimizationId} has not passed`);
  }
  if (index > done) throw new DomainError('OUT_OF_ORDER', `CompleteExecutionStep: step ${index} of ${s.optimizationId} reported before step ${done}`);
  const started = s.execution?.startedStep;
  if (started && started.index !== index) throw new DomainError('OUT_OF_ORDER', `CompleteExecutionStep: step ${started.index} of ${s.optimizationId} is started, not step ${index}`);
  const { at } = nowOf(command);
  return [
    {
      type: 'ExecutionStepCompleted',
      data: {
        optimizationId: s.optimizationId,
        at,
        index,
        step: command.data.step,
        outputs: command.data.outputs,
        dryRun: s.dryRun,
        ...(started ? { clientToken: started.clientToken } : {}),
        reconciled: false,
      },
    },
  ];
}

const durationSince = (startedAt: string, ms: number): number => Math.max(0, ms - Date.parse(startedAt));

function decideSucceed(command: C.SucceedExecution, s: KnownOptimizationState): OptimizationEvent[] {
  if (s.execution?.succeeded) return [];
  if (s.status !== 'executing') throw invalidState(command, s, 'executing');
  if (s.execution?.preValidation !== 'passed') {
    throw new DomainError('INVALID_STATE', `SucceedExecution is not possible: pre-validation of ${s.optimizationId} has not passed`);
  }
  const { at, ms } = nowOf(command);
  return [{ type: 'ExecutionSucceeded', data: { optimizationId: s.optimizationId, at, durationMs: durationSince(s.execution.startedAt, ms), dryRun: s.dryRun } }];
}

function decideFail(command: C.FailExecution, s: KnownOptimizationState): OptimizationEvent[] {
  if (s.execution?.error) return [];
  if (s.status !== 'executing' || !s.execution) throw invalidState(command, s, 'executing');
  const { at, ms } = nowOf(command);
  const { error, failedStepIndex } = command.data;
  const events: OptimizationEvent[] = [
    {
      type: 'ExecutionFailed',
      data: {
        optimizationId: s.optimizationId,
        at,
        error,
        ...(failedStepIndex !== undefined ? { failedStepIndex } : {}),
        durationMs: durationSince(s.execution.startedAt, ms),
      },
    },
  ];
  const steps = undoSteps(s);
  if (steps.length > 0) {
    const where = failedStepIndex !== undefined ? ` at step ${failedStepIndex}` : '';
    events.push({ type: 'RollbackStarted', data: { optimizationId: s.optimizationId, at, reason: `execution failed${where}: ${describeError(error)}`, steps } });
  }
  return events;
}

function decideValidation(command: C.RecordValidation, s: KnownOptimizationState): OptimizationEvent[] {
  if (s.validation) return [];
  if (s.status !== 'validating') throw invalidState(command, s, 'validating');
  const { at } = nowOf(command);
  const { observedAfter, sample, policy, priceBook, describeError: refused } = command.data;
  const rec = s.recommendation;
  const before = s.execution?.observed;
  if (refused) {
    const reason = `${rec.resource.id} could not be described after the change (${describeError(refused)}), so the change cannot be verified`;
    return validationFailed(s, at, [reason], { performance: performanceImpact(rec, sample, policy) });
  }
  const outputs = mergedOutputs(s.execution?.completedSteps ?? []);
  const quote = before ? savingsQuote(rec, before, observedAfter, rec.region, priceBook, outputs) : undefined;
  const actual = quote && 'usd' in quote ? quote.usd : undefined;
  const unpriced = quote && 'unpriced' in quote && quote.unpriced.length > 0 ? quote.unpriced : undefined;
  const accuracy = actual === undefined ? undefined : accuracyPct(actual, rec.estimatedMonthlySavings);
  const performance = performanceImpact(rec, sample, policy);
  const reasons = before ? expectedOutcomeProblems(rec, before, observedAfter) : ['nothing was observed before the execution'];
  for (const reason of performanceProblems(performance, policy)) if (!reasons.includes(reason)) reasons.push(reason);
  const figures = {
    ...(actual !== undefined ? { actualMonthlySavings: actual } : {}),
    ...(accuracy !== undefined ? { accuracyPct: accuracy } : {}),
    ...(unpriced ? { unpriced } : {}),
    performance,
  };
  if (reasons.length === 0) return [{ type: 'ValidationPassed', data: { optimizationId: s.optimizationId, at, ...figures } }];
  return validationFailed(s, at, reasons, figures, observedAfter !== undefined);
}

/**
 * ValidationFailed with its reasons and figures, and the rollback of what the execution did (when it did anything);
 * `stillThere`: the resource was described after the execution, so a deletion or release recorded done did not
 * remove it and it is not created again ({@link rollbackStepsFor}; no other action's rollback depends on it).
 */
function validationFailed(s: KnownOptimizationState, at: string, reasons: string[], figures: Omit<ValidationFailed['data'], 'optimizationId' | 'at' | 'reasons'>, stillThere = false): OptimizationEvent[] {
  const events: OptimizationEvent[] = [{ type: 'ValidationFailed', data: { optimizationId: s.optimizationId, at, reasons, ...figures } }];
  const steps = undoSteps(s, stillThere);
  if (steps.length > 0) {
    events.push({ type: 'RollbackStarted', data: { optimizationId: s.optimizationId, at, reason: `validation failed: ${reasons.join('; ')}`, steps } });
  }
  return events;
}

function decideRollbackStep(command: C.CompleteRollbackStep, s: KnownOptimizationState): OptimizationEvent[] {
  const index = stepIndex(command, command.data.index);
  const done = s.rollback?.completedSteps.length ?? 0;
  if (index < done) return [];
  if (s.status !== 'rolling-back' || !s.rollback) throw invalidState(command, s, 'rolling-back');
  if (index > done) throw new DomainError('OUT_OF_ORDER', `CompleteRollbackStep: rollback step ${index} of ${s.optimizationId} reported before step ${done}`);
  if (index >= s.rollback.steps.length) {
    throw new DomainError('INVALID_INPUT', `CompleteRollbackStep: the rollback of ${s.optimizationId} has ${s.rollback.steps.length} step(s), no step ${index}`);
  }
  const started = s.rollback.startedStep;
  if (started && started.index !== index) throw new DomainError('OUT_OF_ORDER', `CompleteRollbackStep: rollback step ${started.index} of ${s.optimizationId} is started, not step ${index}`);
  const { at } = nowOf(command);
  return [
    {
      type: 'RollbackStepCompleted',
      data: { optimizationId: s.optimizationId, at, index, step: command.data.step, outputs: command.data.outputs, ...(started ? { clientToken: started.clientToken } : {}), reconciled: false },
    },
  ];
}

function decideCompleteRollback(command: C.CompleteRollback, s: KnownOptimizationState): OptimizationEvent[] {
  if (s.status === 'rolled-back') return [];
  if (s.status !== 'rolling-back' || !s.rollback) throw invalidState(command, s, 'rolling-back');
  if (s.rollback.completedSteps.length < s.rollback.steps.length) {
    throw new DomainError(
      'INVALID_STATE',
      `CompleteRollback is not possible: ${s.rollback.completedSteps.length} of ${s.rollback.steps.length} rollback steps of ${s.optimizationId} completed`,
    );
  }
  const { at } = nowOf(command);
  return [{ type: 'RollbackCompleted', data: { optimizationId: s.optimizationId, at } }];
}

function decideFailRollback(command: C.FailRollback, s: KnownOptimizationState): OptimizationEvent[] {
  if (s.status === 'rollback-failed') return [];
  if (s.status !== 'rolling-back') throw invalidState(command, s, 'rolling-back');
  const { at } = nowOf(command);
  const { error, failedStepIndex } = command.data;
  return [{ type: 'RollbackFailed', data: { optimizationId: s.optimizationId, at, error, ...(failedStepIndex !== undefined ? { failedStepIndex } : {}) } }];
}

const CANCELLABLE: readonly OptimizationStatus[] = ['received', 'awaiting-approval', 'approved', 'scheduled'];

function decideCancel(command: C.CancelOptimization, s: KnownOptimizationState): OptimizationEvent[] {
  // A second cancel is refused, naming who cancelled and why: reporting it done would credit someone who did not.
  if (s.status === 'cancelled') {
    throw new DomainError('INVALID_STATE', `${command.type} is not possible: optimization ${s.optimizationId} was already cancelled by ${s.cancellation?.by ?? 'someone'} (${s.cancellation?.reason ?? 'no reason recorded'})`);
  }
  if (!CANCELLABLE.includes(s.status)) throw invalidState(command, s, CANCELLABLE.join(', '));
  const { at } = nowOf(command);
  const by = requireText(command, 'by', command.data.by);
  const reason = requireText(command, 'reason', command.data.reason);
  return [{ type: 'OptimizationCancelled', data: { optimizationId: s.optimizationId, at, by, reason } }];
}

function decideRetryRollback(command: C.RetryRollback, s: KnownOptimizationState): OptimizationEvent[] {
  if (s.status !== 'rollback-failed') throw invalidState(command, s, 'rollback-failed');
  requireReversible(command, s);
  const { at } = nowOf(command);
  const by = requireText(command, 'by', command.data.by);
  const reason = requireText(command, 'reason', command.data.reason);
  const failedStepIndex = s.rollback.failedStepIndex;
  return [{ type: 'RollbackRetried', data: { optimizationId: s.optimizationId, at, by, reason, ...(failedStepIndex !== undefined ? { failedStepIndex } : {}) } }];
}

/**
 * A completed member of a stage whose gate failed is rolled back: `RollbackStarted` with the stage in its reason. Nothing
 * when its rollback has started already (a redelivery) or nothing of it needs undoing (a dry run); refused otherwise unless completed.
 */
function decideRollBackStage(command: C.RollBackStage, s: KnownOptimizationState): OptimizationEvent[] {
  if (s.rollback || s.status === 'dry-run-completed') return [];
  if (s.status !== 'completed') throw invalidState(command, s, 'completed');
  requireReversible(command, s);
  const steps = undoSteps(s);
  if (steps.length === 0) return [];
  const { at } = nowOf(command);
  const reason = requireText(command, 'reason', command.data.reason);
  return [{ type: 'RollbackStarted', data: { optimizationId: s.optimizationId, at, reason: `stage ${command.data.stage} of batch ${command.data.batchId} failed its gate: ${reason}`, steps } }];
}

/** Refuses a rollback of an optimization that can no longer be undone: its backup snapshot expired (backups.ts). */
function requireReversible(command: OptimizationCommand, s: KnownOptimizationState): void {
  const refusal = rollbackRefusal(s);
  if (refusal !== undefined) throw new DomainError('INVALID_STATE', `${command.type} is not possible: ${refusal}`);
}

/**
 * The expiry of the backup snapshot, once it is due: the optimization ended with the deletion standing (`completed`)
 * or undone (`rolled-back`) and the snapshot is at least `retentionDays` old. Nothing when it expired already.
 */
function decideExpireBackup(command: C.ExpireBackupSnapshot, s: KnownOptimizationState): OptimizationEvent[] {
  const backup = s.backup;
  if (!backup) throw new DomainError('INVALID_STATE', `ExpireBackupSnapshot is not possible: optimization ${s.optimizationId} holds no backup snapshot`);
  if (backup.expiry) return [];
  if (s.status !== 'completed' && s.status !== 'rolled-back') throw invalidState(command, s, 'completed, rolled-back');
  const { retentionDays, outcome, error } = command.data;
  if (!Number.isInteger(retentionDays) || retentionDays < 1) throw new DomainError('INVALID_INPUT', `ExpireBackupSnapshot: retentionDays must be a whole number ≥ 1, got ${retentionDays}`);
  const { at, ms } = nowOf(command);
  const due = backupExpiresAt(backup.createdAt, retentionDays)!;
  if (ms < Date.parse(due)) {
    throw new DomainError('INVALID_STATE', `ExpireBackupSnapshot is not possible: the backup snapshot ${backup.snapshotId} of ${s.optimizationId} is kept until ${due} (${retentionDays} day(s) after ${backup.createdAt})`);
  }
  if (outcome === 'refused' && !error) throw new DomainError('INVALID_INPUT', 'ExpireBackupSnapshot: a refused expiry needs the error EC2 refused it with');
  return [
    {
      type: 'BackupSnapshotExpired',
      data: {
        optimizationId: s.optimizationId,
        at,
        snapshotId: backup.snapshotId,
        volumeId: backup.volumeId,
        createdAt: backup.createdAt,
        retentionDays,
        outcome,
        ...(outcome === 'refused' && error ? { error } : {}),
      },
    },
  ];
}

function decideResolve(command: C.ResolveOptimization, s: KnownOptimizationState): OptimizationEvent[] {
  if (s.status !== 'rollback-failed' && s.status !== 'reconciliation-needed') throw invalidState(command, s, 'rollback-failed, reconciliation-needed');
  const { at } = nowOf(command);
  const by = requireText(command, 'by', command.data.by);
  const note = requireText(command, 'note', command.data.note);
  return [{ type: 'OptimizationResolved', data: { optimizationId: s.optimizationId, at, by, note, from: s.status } }];
}

/**
 * Decides what a command changes: the events to append (empty = nothing to do, e.g. a redelivered command).
 * Throws {@link DomainError} when the command is refused. Pure: time comes from `command.metadata.now`.
 */
export function decideOptimization(command: OptimizationCommand, state: OptimizationState): OptimizationEvent[] {
  if (command.type === 'ReceiveRecommendation') return decideReceive(command, state);
  const s = requireKnown(command, state);
  switch (command.type) {
    case 'AssessRisk':
      return decideAssessRisk(command, s);
    case 'DecideApproval':
      return decideDecideApproval(command, s);
    case 'Approve':
      return decideApprove(command, s);
    case 'Deny':
      return decideDeny(command, s);
    case 'ExpireApproval':
      return decideExpire(command, s);
    case 'ScheduleExecution':
      return decideSchedule(command, s);
    case 'StartExecution':
      return decideStart(command, s);
    case 'RecordPreValidation':
      return decidePreValidation(command, s);
    case 'StartStep':
      return decideStartStep(command, s);
    case 'ReconcileStep':
      return decideReconcileStep(command, s);
    case 'CompleteExecutionStep':
      return decideExecutionStep(command, s);
    case 'SucceedExecution':
      return decideSucceed(command, s);
    case 'FailExecution':
      return decideFail(command, s);
    case 'RecordValidation':
      return decideValidation(command, s);
    case 'CompleteRollbackStep':
      return decideRollbackStep(command, s);
    case 'CompleteRollback':
      return decideCompleteRollback(command, s);
    case 'FailRollback':
      return decideFailRollback(command, s);
    case 'CancelOptimization':
      return decideCancel(command, s);
    case 'RetryRollback':
      return decideRetryRollback(command, s);
    case 'ResolveOptimization':
      return decideResolve(command, s);
    case 'RollBackStage':
      return decideRollBackStage(command, s);
    case 'ExpireBackupSnapshot':
      return decideExpireBackup(command, s);
    default: {
      const _exhaustive: never = command;
      return _exhaustive;
    }
  }
}

// ── evolve ──

/**
 * Applies one event to the state. Pure; an event other than OptimizationReceived on an empty stream leaves the state
 * as it is (it cannot come from {@link decideOptimization}); an event of a type it does not know throws
 * `DomainError('UNKNOWN_EVENT')` naming it (stored events are parsed first: event-schemas.ts).
 */
export function evolveOptimization(state: OptimizationState, event: OptimizationEvent): OptimizationState {
  if (event.type === 'OptimizationReceived') {
    if (state.status !== 'initial') return state;
    const { optimizationId, recommendation, dryRun, deliveryId, at } = event.data;
    return { status: 'received', optimizationId, recommendation, dryRun, deliveryId, receivedAt: at, approval: { approvers: [] } };
  }
  if (state.status === 'initial') return state;
  const s = state;
  switch (event.type) {
    case 'RiskAssessed': {
      const { baseLevel, level, factors, policyVersion, basis } = event.data;
      return { ...s, risk: { baseLevel, level, factors, policyVersion, ...(basis ? { basis } : {}) } };
    }
    case 'RiskReassessed': {
      const { baseLevel, level, factors, policyVersion, basis, returnedForApproval } = event.data;
      const risk = { baseLevel, level, factors, policyVersion, ...(basis ? { basis } : {}) };
      return returnedForApproval ? backToApproval(s, risk) : { ...s, risk };
    }
    case 'ApprovalGranted': {
      const d = event.data;
      return {
        ...s,
        status: d.final ? 'approved' : 'awaiting-approval',
        risk: need(s.risk, 'a risk assessment', event),
        approval: { ...s.approval, mode: d.mode, approvers: [...d.approvers], ...(d.final ? { grantedAt: d.at } : {}), ...(d.plan ? { plan: d.plan } : {}) },
      };
    }
    case 'PlanChanged':
      return backToApproval(s, need(s.risk, 'a risk assessment', event));
    case 'ApprovalRequested': {
      const d = event.data;
      return {
        ...s,
        status: 'awaiting-approval',
        risk: need(s.risk, 'a risk assessment', event),
        approval: {
          ...s.approval,
          mode: 'manual',
          authority: d.authority,
          requiredApprovals: d.requiredApprovals,
          requestedAt: d.at,
          expiresAt: d.expiresAt,
          ...(d.eligibleApprovers ? { eligibleApprovers: d.eligibleApprovers } : {}),
          ...(d.plan ? { plan: d.plan } : {}),
        },
      };
    }
    case 'ApprovalDenied':
      return { ...s, status: 'denied', approval: { ...s.approval, deniedBy: event.data.by, denyReason: event.data.reason } };
    case 'ApprovalExpired':
      return { ...s, status: 'expired', approval: { ...s.approval, expiredAt: event.data.at } };
    case 'ExecutionScheduled': {
      const { batchId, notBefore, priority, at } = event.data;
      return { ...s, status: 'scheduled', risk: need(s.risk, 'a risk assessment', event), schedule: { batchId, notBefore, priority, scheduledAt: at } };
    }
    case 'ExecutionStarted':
      return {
        ...s,
        status: 'executing',
        risk: need(s.risk, 'a risk assessment', event),
        schedule: need(s.schedule, 'a schedule', event),
        execution: { startedAt: event.data.at, reversible: reversibility(s.recommendation.action), completedSteps: [] },
      };
    case 'PreValidationPassed':
      return { ...s, execution: { ...executionOf(s, event.data.at), preValidation: 'passed', observed: event.data.observed } };
    case 'PreValidationFailed': {
      const { reasons, observed } = event.data;
      const execution = executionOf(s, event.data.at);
      return {
        ...s,
        status: 'failed',
        execution: {
          ...execution,
          // The execution ended here: its duration is the pre-validation's (the average execution time counts it).
          durationMs: durationSince(execution.startedAt, Date.parse(event.data.at)),
          preValidation: 'failed',
          preValidationProblems: reasons,
          ...(observed ? { observed } : {}),
          error: { code: 'PRE_VALIDATION_FAILED', message: reasons.join('; ') },
        },
      };
    }
    case 'RollbackPlanRecorded':
      return { ...s, execution: { ...executionOf(s, event.data.at), rollbackPlan: event.data.steps, reversible: event.data.reversible } };
    case 'ExecutionStepStarted': {
      const { index, step, clientToken, at } = event.data;
      return { ...s, execution: { ...executionOf(s, at), startedStep: { index, step, clientToken, at } } };
    }
    case 'ExecutionStepCompleted': {
      const { startedStep: _done, ...execution } = executionOf(s, event.data.at);
      const { index, step, outputs, reconciled, dryRun, at } = event.data;
      const backup = step.kind === 'create-snapshot' && !dryRun && outputs.snapshotId !== undefined ? { backup: { snapshotId: outputs.snapshotId, volumeId: step.volumeId, createdAt: at } } : {};
      return { ...s, ...backup, execution: { ...execution, completedSteps: [...execution.completedSteps, { index, step, outputs, ...(reconciled ? { reconciled } : {}), at }] } };
    }
    case 'StepEffectNotFound': {
      if (event.data.phase === 'execution') {
        const { startedStep: _gone, ...execution } = executionOf(s, event.data.at);
        return { ...s, execution };
      }
      const { startedStep: _gone, ...rollback } = s.rollback ?? { reason: '', steps: [], completedSteps: [] };
      return { ...s, rollback };
    }
    case 'ReconciliationRequired': {
      const { phase, index, step, clientToken, reason } = event.data;
      return { ...s, status: 'reconciliation-needed', execution: need(s.execution, 'an execution', event), reconciliation: { phase, index, step, clientToken, reason } };
    }
    case 'ExecutionSucceeded':
      const execution = { ...executionOf(s, event.data.at), succeeded: true, durationMs: event.data.durationMs };
      if (event.data.dryRun) return { ...s, status: 'dry-run-completed', execution };
      return { ...s, status: 'validating', risk: need(s.risk, 'a risk assessment', event), schedule: need(s.schedule, 'a schedule', event), execution };
    case 'ExecutionFailed': {
      const { error, failedStepIndex, durationMs } = event.data;
      const { startedStep: _failed, ...execution } = executionOf(s, event.data.at);
      return {
        ...s,
        status: 'failed',
        execution: { ...execution, error, durationMs, ...(failedStepIndex !== undefined ? { failedStepIndex } : {}) },
      };
    }
    case 'ValidationPassed': {
      const { actualMonthlySavings, accuracyPct: accuracy, performance, unpriced } = event.data;
      return {
        ...s,
        status: 'completed',
        execution: need(s.execution, 'an execution', event),
        validation: { actualMonthlySavings, accuracyPct: accuracy, ...(unpriced ? { unpriced } : {}), performance, passed: true, problems: [] },
      };
    }
    case 'ValidationFailed': {
      const { actualMonthlySavings, accuracyPct: accuracy, performance, reasons, unpriced } = event.data;
      return {
        ...s,
        status: 'failed',
        validation: {
          ...(actualMonthlySavings !== undefined ? { actualMonthlySavings } : {}),
          ...(accuracy !== undefined ? { accuracyPct: accuracy } : {}),
          ...(unpriced ? { unpriced } : {}),
          performance,
          passed: false,
          problems: reasons,
        },
      };
    }
    case 'RollbackStarted':
      return { ...s, status: 'rolling-back', execution: need(s.execution, 'an execution', event), rollback: { reason: event.data.reason, steps: event.data.steps, completedSteps: [] } };
    case 'RollbackStepStarted': {
      const { index, step, clientToken, at } = event.data;
      const rollback = s.rollback ?? { reason: '', steps: [], completedSteps: [] };
      return { ...s, rollback: { ...rollback, startedStep: { index, step, clientToken, at } } };
    }
    case 'RollbackStepCompleted': {
      const { startedStep: _done, ...rollback } = s.rollback ?? { reason: '', steps: [], completedSteps: [] };
      const { index, step, outputs, reconciled, at } = event.data;
      const next = { ...s, rollback: { ...rollback, completedSteps: [...rollback.completedSteps, { index, step, outputs, ...(reconciled ? { reconciled } : {}), at }] } };
      // The rollback of a deletion that failed before the volume went deletes the backup: optex holds it no more.
      if (step.kind === 'delete-snapshot' && s.backup?.snapshotId === step.snapshotId) {
        const { backup: _deleted, ...rest } = next;
        return rest;
      }
      return next;
    }
    case 'RollbackCompleted':
      return { ...s, status: 'rolled-back', execution: need(s.execution, 'an execution', event), rollback: { ...need(s.rollback, 'a rollback', event), endedAt: event.data.at } };
    case 'RollbackFailed': {
      const { startedStep: _failed, ...rollback } = s.rollback ?? { reason: '', steps: [], completedSteps: [] };
      const { error, failedStepIndex } = event.data;
      return {
        ...s,
        status: 'rollback-failed',
        execution: need(s.execution, 'an execution', event),
        rollback: { ...rollback, error, ...(failedStepIndex !== undefined ? { failedStepIndex } : {}), endedAt: event.data.at },
      };
    }
    case 'OptimizationCancelled':
      return { ...s, status: 'cancelled', cancellation: { by: event.data.by, reason: event.data.reason } };
    case 'RollbackRetried': {
      const { error: _failure, failedStepIndex: _at, endedAt: _ended, ...rollback } = need(s.rollback, 'a rollback', event);
      return { ...s, status: 'rolling-back', execution: need(s.execution, 'an execution', event), rollback };
    }
    case 'OptimizationResolved': {
      const { by, note, from } = event.data;
      return { ...s, status: 'resolved', execution: need(s.execution, 'an execution', event), resolution: { by, note, from } };
    }
    case 'OptimizationOutOfScope': {
      const { stage, violations } = event.data;
      return { ...s, status: 'out-of-scope', outOfScope: { stage, violations } };
    }
    case 'ResubmissionConflicted': {
      const { deliveryId, at, differences } = event.data;
      return { ...s, conflicts: [...(s.conflicts ?? []), { deliveryId, at, differences }] };
    }
    case 'BackupSnapshotExpired': {
      const { at, retentionDays, outcome, error } = event.data;
      const backup = need(s.backup, 'a backup snapshot', event);
      // The volume can no longer be created again from the backup: the optimization is not reversible any more.
      const execution = s.execution ? { execution: { ...s.execution, reversible: 'no' as const } } : {};
      return { ...s, ...execution, backup: { ...backup, expiry: { at, retentionDays, outcome, ...(error ? { error } : {}) } } };
    }
    default: {
      const _exhaustive: never = event;
      throw new DomainError('UNKNOWN_EVENT', `evolve: unknown optimization event type "${(_exhaustive as { type?: unknown }).type}"`);
    }
  }
}

/** Back to assessed and undecided: the schedule, the execution that did not start and the approvals given are void. */
function backToApproval(s: KnownOptimizationState, risk: RiskAssessment): KnownOptimizationState {
  const { schedule: _schedule, execution: _execution, ...rest } = s;
  return { ...rest, status: 'received', risk, approval: { approvers: [] } };
}

/** A part the state must already have for `event` to apply; a stored history without it is corrupt. */
function need<T>(part: T | undefined, what: string, event: OptimizationEvent): T {
  if (part === undefined) throw new DomainError('INVALID_EVENT', `${event.type} of ${event.data.optimizationId} cannot apply to a state without ${what}`);
  return part;
}

const executionOf = (s: KnownOptimizationState, at: string): NonNullable<OptimizationData['execution']> =>
  s.execution ?? { startedAt: at, reversible: reversibility(s.recommendation.action), completedSteps: [] };

/** The optimization's empty state: `{ status: 'initial' }`. */
export const initialOptimizationState = (): OptimizationState => ({ status: 'initial' });

/**
 * An intent: recorded before an EC2 call that may change something. It must survive a power loss once appended, or a
 * resume would not know the call may have been made and would make it again (with a new plan) instead of reconciling.
 */
export const isIntent = (event: OptimizationEvent): event is Extract<OptimizationEvent, { type: 'ExecutionStepStarted' | 'RollbackStepStarted' }> => event.type === 'ExecutionStepStarted' || event.type === 'RollbackStepStarted';

/** The optimization decider: `decide`, `evolve`, `initialState`, and `durable` for its intents ({@link isIntent}). */
export const optimizationDecider: Decider<OptimizationCommand, OptimizationEvent, OptimizationState> = {
  decide: decideOptimization,
  evolve: evolveOptimization,
  initialState: initialOptimizationState,
  durable: isIntent,
};

/** Folds a stream's events (in order) into its state. */
export const foldOptimization = (events: readonly OptimizationEvent[]): OptimizationState => events.reduce(evolveOptimization, initialOptimizationState());
