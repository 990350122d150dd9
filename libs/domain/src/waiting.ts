import type { ControlState } from './control';
import type { DeferralHold, StartVerdict } from './cool-down';
import type { KnownOptimizationState } from './decider';
import { nextMove, validationDueAt } from './process';
import type { OptimizationStatus } from './statuses';

/** Why an optimization that could move does not, and until when (absent: until someone lifts it). */
export interface WaitReason {
  readonly hold: DeferralHold | 'kill-switch' | 'batch-halted' | 'resource-held' | 'not-before' | 'soak';
  readonly until?: string;
  readonly reason: string;
}

/** The latest `ExecutionDeferred` the scheduler recorded for the optimization (from its batch's stream). */
export interface RecordedDeferral {
  readonly hold: DeferralHold;
  readonly until: string;
  readonly reason: string;
}

/** The optimization's batch halted (a blast-radius limit, the error threshold, a stage's gate) and not continued since. */
export interface RecordedHalt {
  readonly batchId: string;
  readonly reason: string;
}

/** Another optimization holding the same resource (`RESOURCE_HELD_STATUSES`), as a read model last saw it. */
export interface ResourceHolder {
  readonly optimizationId: string;
  readonly status: OptimizationStatus;
}

/** What lets a resource go, per status of the optimization holding it. */
const RELEASED_BY: Partial<Record<OptimizationStatus, string>> = {
  'rollback-failed': 'an operator retries its rollback (optex retry-rollback) or resolves it (optex resolve)',
  'reconciliation-needed': 'an operator checks the step EC2 could not confirm and resolves it (optex resolve)',
};

const HELD_BY_PAUSE = new Set(['approved', 'scheduled', 'executing']);

/**
 * Why an optimization waits now, from what the log recorded: the kill switch (an approved, scheduled or executing one
 * while execution is paused; no new step starts), else its batch's halt (an approved one in a batch halted and not
 * continued since: it waits for an operator's `continue-batch`), else another optimization holding its resource (an
 * approved one is not dispatched while one in `RESOURCE_HELD_STATUSES` is on the same resource: until that one is over,
 * or, when it waits for an operator — `rollback-failed`, `reconciliation-needed` —, until the operator acts), else the
 * `notBefore` of the batch that planned an approved one while it is ahead (`--not-before`), else the
 * scheduler's last deferral of an approved one while its
 * `until` is ahead (a freeze, outside its change windows, a cool-down, the daily blast-radius limit, a staged batch's
 * soak), else the policy's verdict on a scheduled one's start (`startVerdict`: a freeze, outside its windows, its
 * cool-down — judged again at the start, as the executor does), else the wait of a rolling-back one for EC2's 6-hour
 * volume modification cool-down, else the soak of a
 * validating one before its validation. `undefined` when it does not wait for
 * any of these (it moves, waits for people, or is over). Pure.
 */
export function whyWaiting(state: KnownOptimizationState, context: { readonly now: Date; readonly control: ControlState; readonly halt?: RecordedHalt; readonly deferral?: RecordedDeferral; readonly holders?: readonly ResourceHolder[]; readonly notBefore?: string; readonly startVerdict?: StartVerdict; readonly soakMinutes: number }): WaitReason | undefined {
  const { now, control, deferral, halt } = context;
  if (control.paused && HELD_BY_PAUSE.has(state.status)) return { hold: 'kill-switch', reason: `execution paused by ${control.by} since ${control.since}: ${control.reason}` };
  if (state.status === 'approved' && halt) return { hold: 'batch-halted', reason: `batch ${halt.batchId} halted: ${halt.reason}; an operator lets it go on (optex continue-batch)` };
  const held = resourceHeldWait(state, context.holders ?? []);
  if (held) return { hold: held.hold, reason: held.reason };
  if (state.status === 'approved' && context.notBefore !== undefined && Date.parse(context.notBefore) > now.getTime()) {
    return { hold: 'not-before', until: context.notBefore, reason: `its batch starts not before ${context.notBefore} (--not-before of the run that planned it)` };
  }
  if (state.status === 'approved' && deferral && Date.parse(deferral.until) > now.getTime()) {
    return { hold: deferral.hold, until: deferral.until, reason: deferral.reason };
  }
  const start = context.startVerdict;
  if (state.status === 'scheduled' && start && !start.allowed) return { hold: start.hold, until: start.until, reason: `held at its start: ${start.reason}` };
  if (state.status === 'rolling-back') {
    const move = nextMove(state, { now });
    if (move.kind === 'idle' && move.until !== undefined) return { hold: 'cool-down', until: move.until, reason: move.reason };
  }
  if (state.status === 'validating' && context.soakMinutes > 0) {
    const due = validationDueAt(state, context.soakMinutes);
    if (due > now) return { hold: 'soak', until: due.toISOString(), reason: `soaking ${context.soakMinutes} min after the change before it is validated` };
  }
  return undefined;
}

/**
 * The wait of an approved optimization for its resource, held by another (`holders`: the optimizations a read model
 * sees holding the same resource key; the optimization itself among them is ignored): the holder that decides it — one
 * waiting for an operator first, as nothing else lets the resource go, else any — and what lets it go. `undefined`
 * when it is not approved or nothing else holds the resource. Pure.
 */
export function resourceHeldWait(state: KnownOptimizationState, holders: readonly ResourceHolder[]): (WaitReason & { readonly heldBy: ResourceHolder }) | undefined {
  if (state.status !== 'approved') return undefined;
  const others = holders.filter((h) => h.optimizationId !== state.optimizationId);
  const holder = others.find((h) => RELEASED_BY[h.status] !== undefined) ?? others[0];
  if (!holder) return undefined;
  const what = `${state.recommendation.resource.type} ${state.recommendation.resource.id}`;
  const released = RELEASED_BY[holder.status] ?? 'it starts when that one is over';
  return { hold: 'resource-held', reason: `${what} is held by optimization ${holder.optimizationId} (${holder.status}): ${released}`, heldBy: { optimizationId: holder.optimizationId, status: holder.status } };
}
