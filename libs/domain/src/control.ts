import { statedText } from './text';
import { z } from 'zod';
import { DomainError } from './errors';
import { normalizeIdentity } from './roster';
import type { Move } from './process';

/**
 * The kill switch: one stream for the whole deployment. While execution is paused, no optimization starts executing
 * and no execution step starts; a step already sent finishes and is recorded, rollbacks go on (undoing a change is
 * never held back), approvals and scheduling go on. Pausing and resuming are recorded with who and why, so history
 * shows why work waited.
 */
export const CONTROL_STREAM = 'optex-control';

export type ControlEvent =
  | { readonly type: 'ExecutionPaused'; readonly data: { readonly by: string; readonly reason: string; readonly at: string } }
  | { readonly type: 'ExecutionResumed'; readonly data: { readonly by: string; readonly reason: string; readonly at: string; readonly pausedSince: string } };

export type ControlCommand =
  | { readonly type: 'PauseExecution'; readonly data: { readonly by: string; readonly reason: string }; readonly metadata: { readonly now: Date } }
  | { readonly type: 'ResumeExecution'; readonly data: { readonly by: string; readonly reason: string }; readonly metadata: { readonly now: Date } };

export type ControlState =
  | { readonly paused: false }
  | { readonly paused: true; readonly by: string; readonly reason: string; readonly since: string };

export const CONTROL_EVENT_TYPES = ['ExecutionPaused', 'ExecutionResumed'] as const;

const text = z.string().min(1);
/** Schemas of the control events (also part of `parseStoredEvent`'s table). */
export const controlSchemas = {
  ExecutionPaused: z.strictObject({ by: text, reason: text, at: z.iso.datetime() }),
  ExecutionResumed: z.strictObject({ by: text, reason: text, at: z.iso.datetime(), pausedSince: z.iso.datetime() }),
} as const;

/** Parses a stored control event; throws `DomainError('UNKNOWN_EVENT' | 'INVALID_EVENT')` naming it. */
export function parseControlEvent(e: { readonly type: string; readonly data: unknown; readonly revision?: bigint }): ControlEvent {
  const schema = (controlSchemas as Record<string, z.ZodType>)[e.type];
  const where = `${CONTROL_STREAM}${e.revision !== undefined ? `@${e.revision}` : ''}`;
  if (!schema) throw new DomainError('UNKNOWN_EVENT', `unknown event type "${e.type}" (${where})`);
  const parsed = schema.safeParse(e.data);
  if (!parsed.success) throw new DomainError('INVALID_EVENT', `${e.type} (${where}): ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
  return { type: e.type, data: parsed.data } as ControlEvent;
}

export function evolveControl(_state: ControlState, event: ControlEvent): ControlState {
  switch (event.type) {
    case 'ExecutionPaused':
      return { paused: true, by: event.data.by, reason: event.data.reason, since: event.data.at };
    case 'ExecutionResumed':
      return { paused: false };
  }
}

function checked(field: 'by' | 'reason', value: string): string {
  const trimmed = statedText('execution control', field, value);
  if (trimmed === '') throw new DomainError('INVALID_INPUT', `${field} must not be empty: say who and why`);
  return field === 'by' ? normalizeIdentity(trimmed) : trimmed;
}

/** Pausing paused execution, or resuming running execution, is refused (`INVALID_STATE`), naming who paused and why. */
export function decideControl(command: ControlCommand, state: ControlState): ControlEvent[] {
  const at = command.metadata.now.toISOString();
  const by = checked('by', command.data.by);
  const reason = checked('reason', command.data.reason);
  switch (command.type) {
    case 'PauseExecution':
      if (state.paused) throw new DomainError('INVALID_STATE', `execution is already paused (by ${state.by} since ${state.since}: ${state.reason})`);
      return [{ type: 'ExecutionPaused', data: { by, reason, at } }];
    case 'ResumeExecution':
      if (!state.paused) throw new DomainError('INVALID_STATE', 'execution is not paused');
      return [{ type: 'ExecutionResumed', data: { by, reason, at, pausedSince: state.since } }];
  }
}

export const controlDecider = {
  decide: decideControl,
  evolve: evolveControl,
  initialState: (): ControlState => ({ paused: false }),
  parse: parseControlEvent,
};

/**
 * Whether a pause holds the process manager's next move: starting an execution, recording the intent of an execution
 * step, or performing an execution step that has no intent yet (a wait, a dry-run call). A step whose intent is
 * recorded is in flight: it is performed and its outcome recorded. Everything else goes on (pre-validation, recording
 * outcomes, validation, every rollback move), and so do the steps of an execution that has stopped an instance its plan
 * starts again (`instanceStopped`: a rightsize between its stop and its start), which finishes rather than leave the
 * instance down.
 */
export function pauseHolds(move: Move): boolean {
  if ((move.kind === 'decide' || move.kind === 'perform') && move.instanceStopped !== undefined) return false;
  switch (move.kind) {
    case 'decide':
      return move.command.type === 'StartExecution' || (move.command.type === 'StartStep' && move.command.data.phase === 'execution');
    case 'perform':
      return move.phase === 'execution' && move.clientToken === undefined;
    default:
      return false;
  }
}

/**
 * Whether a move the process manager answers right after an EC2 call's outcome is decided and appended together with
 * that outcome: a decision (no call, no look-up, no observation) that a pause does not hold — completing the plan
 * (`SucceedExecution`, `CompleteRollback`), a rollback step's intent. A held decision (an execution step's intent)
 * waits for the executor's read of the kill switch, which comes before it is decided.
 */
export function joinsOutcome(move: Move): move is Extract<Move, { kind: 'decide' }> {
  return move.kind === 'decide' && !pauseHolds(move);
}

/** Whether the move waits under `state`: execution is paused and {@link pauseHolds} the move. */
export function heldByPause(state: ControlState, move: Move): boolean {
  return state.paused && pauseHolds(move);
}
