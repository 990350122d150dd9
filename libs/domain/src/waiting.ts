import type { ControlState } from './control';
import type { DeferralHold } from './cool-down';
import type { KnownOptimizationState } from './decider';
import { nextMove, validationDueAt } from './process';

/** Why an optimization that could move does not, and until when (absent: until someone lifts it). */
export interface WaitReason {
  readonly hold: DeferralHold | 'kill-switch' | 'batch-halted' | 'soak';
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

const HELD_BY_PAUSE = new Set(['approved', 'scheduled', 'executing']);

/**
 * Why an optimization waits now, from what the log recorded: the kill switch (an approved, scheduled or executing one
 * while execution is paused; no new step starts), else its batch's halt (an approved one in a batch halted and not
 * continued since: it waits for an operator's `continue-batch`), else the scheduler's last deferral of an approved one while its
 * `until` is ahead (a freeze, outside its change windows, a cool-down, the daily blast-radius limit, a staged batch's
 * soak), else the wait of a rolling-back one for EC2's 6-hour volume modification cool-down, else the soak of a
 * validating one before its validation. `undefined` when it does not wait for
 * any of these (it moves, waits for people, or is over). Pure.
 */
export function whyWaiting(state: KnownOptimizationState, context: { readonly now: Date; readonly control: ControlState; readonly halt?: RecordedHalt; readonly deferral?: RecordedDeferral; readonly soakMinutes: number }): WaitReason | undefined {
  const { now, control, deferral, halt } = context;
  if (control.paused && HELD_BY_PAUSE.has(state.status)) return { hold: 'kill-switch', reason: `execution paused by ${control.by} since ${control.since}: ${control.reason}` };
  if (state.status === 'approved' && halt) return { hold: 'batch-halted', reason: `batch ${halt.batchId} halted: ${halt.reason}; an operator lets it go on (optex continue-batch)` };
  if (state.status === 'approved' && deferral && Date.parse(deferral.until) > now.getTime()) {
    return { hold: deferral.hold, until: deferral.until, reason: deferral.reason };
  }
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
