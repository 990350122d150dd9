import { isMutatingStep } from './plans';
import { executionEndedAt, type StartVerdict } from './cool-down';
import { VOLUME_MODIFICATION_COOLDOWN_MS } from './ec2-rules';
import { mergedOutputs, planOf, type OptimizationState, type KnownOptimizationState } from './decider';
import { effectLookupFor, type EffectLookup } from './reconciliation';
import type { OptimizationCommand } from './commands';
import type { StepPhase } from './events';
import type { Step, StepOutputs } from './types';

/** What happens next to an optimization: the process manager's answer, performed by the executor or the validator. */
export type Move =
  /** Nothing to do now (terminal, waiting for people, or for a later time: `until`, when the process manager knows it). */
  | { readonly kind: 'idle'; readonly reason: string; readonly until?: string }
  /** A command the decider takes without any observation (start, succeed, complete the rollback, record an intent). */
  | { readonly kind: 'decide'; readonly command: OptimizationCommand; readonly instanceStopped?: string }
  /** Describe the live resource (and the optimizations active on it), then `RecordPreValidation`. */
  | { readonly kind: 'pre-validate' }
  /** Describe the resource after the change and sample its performance, then `RecordValidation` (the validator's move). */
  | { readonly kind: 'validate' }
  /** Perform a step through EC2 (its intent is recorded when it mutates), then record its outcome. */
  | {
      readonly kind: 'perform';
      readonly phase: StepPhase;
      readonly index: number;
      readonly step: Step;
      readonly dryRun: boolean;
      /** The intent's client token (absent for waits and dry runs, which record no intent). */
      readonly clientToken?: string;
      /** Outputs of the steps done so far (e.g. `snapshotId`), merged. */
      readonly outputs: StepOutputs;
      /** See {@link InstanceStopped}. */
      readonly instanceStopped?: string;
    }
  /** A step started before a crash: look for its effect, then `ReconcileStep` with what was found. */
  | { readonly kind: 'reconcile'; readonly phase: StepPhase; readonly index: number; readonly step: Step; readonly clientToken: string; readonly lookup: EffectLookup };

/**
 * On an execution step's move (its intent, its call, its wait): the instance this execution stopped and its plan
 * starts again (a rightsize of a running instance, from its stop to the wait for it running). A pause does not hold
 * such a move (`pauseHolds`): the kill switch stops changes from starting, and never leaves an instance optex stopped
 * down until someone resumes.
 */
export type InstanceStopped = string;

/** What the caller knows besides the log: the time, and the intent it recorded itself in this handling (if any). */
export interface MoveContext {
  readonly now: Date;
  /**
   * The client token of the intent this process has just recorded and not yet performed. A started step whose token
   * is not this one was cut short (a crash, another process): it is reconciled before anything is called again.
   */
  readonly justStarted?: string;
  /** Minutes to wait after a change before validating it (the policy's `validation.soakMinutes`). @defaultValue 0 */
  readonly soakMinutes?: number;
  /**
   * Whether a scheduled one may start now by the policy (`startVerdict`: its cool-down, its change windows, the
   * freezes), judged again at its start: the scheduler judged it when it dispatched it, but a start delayed past that
   * moment (a crash between the dispatch and the start, a queue, a sweep) must not begin in a freeze or outside its
   * window. @defaultValue allowed
   */
  readonly startVerdict?: StartVerdict;
}

/** When a validating optimization may be validated: the end of its execution plus the soak. */
export function validationDueAt(s: KnownOptimizationState, soakMinutes: number): Date {
  const ended = s.execution ? executionEndedAt(s.execution) : undefined;
  return new Date((ended === undefined ? Number.NEGATIVE_INFINITY : Date.parse(ended)) + soakMinutes * 60_000);
}

/**
 * The process manager: from an optimization's state, the next move. Pure. Scheduled → start once `notBefore` has
 * come and the policy lets it start now (`startVerdict`: else idle until the verdict's `until`); executing → pre-validate, then each step of the plan (a mutating one: intent first, then the call), then
 * succeed; a started step not recorded by the caller → reconcile; validating → validate once the soak after the
 * change is over (`soakMinutes`); rolling back → each
 * rollback step the same way (a volume modified by the execution is modified back only once EC2's 6-hour cool-down
 * after that modification is over: {@link modificationCoolDownUntil}), then complete the rollback.
 */
export function nextMove(state: OptimizationState, context: MoveContext): Move {
  if (state.status === 'initial') return { kind: 'idle', reason: 'nothing received' };
  const s = state;
  const meta = { now: context.now };
  switch (s.status) {
    case 'scheduled': {
      const notBefore = s.schedule ? Date.parse(s.schedule.notBefore) : Number.NEGATIVE_INFINITY;
      if (notBefore > context.now.getTime()) return { kind: 'idle', reason: `scheduled not before ${s.schedule!.notBefore}` };
      const verdict = context.startVerdict;
      if (verdict && !verdict.allowed) return { kind: 'idle', reason: `scheduled, held at its start (${verdict.hold}): ${verdict.reason}`, until: verdict.until };
      return { kind: 'decide', command: { type: 'StartExecution', data: {}, metadata: meta } };
    }
    case 'executing': {
      const ex = s.execution;
      if (!ex || !ex.preValidation) return { kind: 'pre-validate' };
      return stepMove(s, 'execution', context) ?? { kind: 'decide', command: { type: 'SucceedExecution', data: {}, metadata: meta } };
    }
    case 'rolling-back':
      return stepMove(s, 'rollback', context) ?? { kind: 'decide', command: { type: 'CompleteRollback', data: {}, metadata: meta } };
    case 'validating': {
      const soak = context.soakMinutes ?? 0;
      const due = validationDueAt(s, soak);
      if (soak > 0 && due.getTime() > context.now.getTime()) return { kind: 'idle', reason: `soaking until ${due.toISOString()}` };
      return { kind: 'validate' };
    }
    case 'reconciliation-needed':
      return { kind: 'idle', reason: `waits for an operator: ${s.reconciliation?.reason ?? 'reconciliation needed'}` };
    case 'awaiting-approval':
      return { kind: 'idle', reason: 'waits for approval' };
    default:
      return { kind: 'idle', reason: s.status };
  }
}

/** The next move within a phase's plan, or undefined when every step is done. */
function stepMove(s: KnownOptimizationState, phase: StepPhase, context: MoveContext): Move | undefined {
  const progress = phase === 'execution' ? s.execution : s.rollback;
  const completed = progress?.completedSteps ?? [];
  const outputs = phase === 'execution' ? mergedOutputs(completed) : { ...mergedOutputs(s.execution?.completedSteps ?? []), ...mergedOutputs(completed) };
  const dryRun = phase === 'execution' && s.dryRun;
  const started = progress?.startedStep;
  const plan = planOf(s, phase);
  const stopped = phase === 'execution' && !dryRun ? instanceStoppedBy(completed, plan) : undefined;
  const down = stopped === undefined ? {} : { instanceStopped: stopped };
  if (started) {
    if (started.clientToken === context.justStarted) {
      return { kind: 'perform', phase, index: started.index, step: started.step, dryRun, clientToken: started.clientToken, outputs, ...down };
    }
    const observed = s.execution?.observed;
    const offeringInstanceType = observed?.kind === 'reserved-instances-offering' ? observed.instanceType : undefined;
    const lookup = effectLookupFor(started.step, { since: started.at, ...(offeringInstanceType ? { offeringInstanceType } : {}) });
    return { kind: 'reconcile', phase, index: started.index, step: started.step, clientToken: started.clientToken, lookup };
  }
  const index = completed.length;
  if (index >= plan.length) return undefined;
  const step = plan[index]!;
  if (phase === 'rollback') {
    const until = modificationCoolDownUntil(s, step);
    if (until !== undefined && Date.parse(until) > context.now.getTime()) {
      return { kind: 'idle', reason: `the rollback waits for EC2's 6-hour modification cool-down of ${(step as { volumeId: string }).volumeId} until ${until}`, until };
    }
  }
  if (isMutatingStep(step) && !dryRun) return { kind: 'decide', command: { type: 'StartStep', data: { phase, index }, metadata: { now: context.now } }, ...down };
  return { kind: 'perform', phase, index, step, dryRun, outputs, ...down };
}

/** The instance a completed step stopped that the plan starts again ({@link InstanceStopped}). */
function instanceStoppedBy(completed: readonly { readonly step: Step }[], plan: readonly Step[]): InstanceStopped | undefined {
  for (const done of completed) {
    if (done.step.kind !== 'stop-instance') continue;
    const id = done.step.instanceId;
    if (plan.some((step) => step.kind === 'start-instance' && step.instanceId === id)) return id;
  }
  return undefined;
}

/** Slack past EC2's 6 hours for the clocks of EC2 and optex, which the wait is measured across. */
export const COOL_DOWN_MARGIN_MS = 60_000;

/**
 * When a rollback's `modify-volume` may modify the volume back: EC2 refuses a modification within 6 hours of the
 * previous one (`VolumeModificationRateExceeded`), so the rollback waits until 6 hours (and {@link COOL_DOWN_MARGIN_MS})
 * after the execution's modification of the same volume was recorded — a time no earlier than EC2 began it. Undefined
 * for any other step, or when the execution did not modify that volume (or its record predates the time being kept).
 */
export function modificationCoolDownUntil(s: KnownOptimizationState, step: Step): string | undefined {
  if (step.kind !== 'modify-volume') return undefined;
  let last: number | undefined;
  for (const done of s.execution?.completedSteps ?? []) {
    if (done.step.kind !== 'modify-volume' || done.step.volumeId !== step.volumeId || done.at === undefined) continue;
    last = Math.max(last ?? Number.NEGATIVE_INFINITY, Date.parse(done.at));
  }
  return last === undefined ? undefined : new Date(last + VOLUME_MODIFICATION_COOLDOWN_MS + COOL_DOWN_MARGIN_MS).toISOString();
}

/** The service that carries a move out: the validator validates, the executor does everything else. */
export type Mover = 'executor' | 'validator';

/**
 * Who must act on an optimization now, or `undefined` when nothing is to be done without people or time (terminal,
 * awaiting approval, reconciliation needed, scheduled for later). A sweeper resumes with it an optimization left
 * mid-way — executing, validating, rolling back — after an outage, a crash or a lost message. Pure.
 */
export function moverOf(state: OptimizationState, context: MoveContext): Mover | undefined {
  const move = nextMove(state, context);
  switch (move.kind) {
    case 'idle':
      return undefined;
    case 'validate':
      return 'validator';
    case 'decide':
    case 'pre-validate':
    case 'perform':
    case 'reconcile':
      return 'executor';
    default: {
      const _exhaustive: never = move;
      return _exhaustive;
    }
  }
}
