import { statedText } from './text';
import { DomainError } from './errors';
import type { HaltRule } from './blast-radius';
import type { BatchEvent } from './events';
import { normalizeIdentity } from './roster';

/**
 * What a batch's stream says about its guards: whether it is halted (and why), the counts a continue starts again
 * from, and its stages. The scheduler folds it; an operator's `ContinueBatch` is decided on it.
 */
export interface BatchGuardState {
  readonly batchId?: string;
  readonly members: readonly string[];
  /** `dispatched`/`errors`: the counts the halt recorded, where a continue starts counting again. */
  readonly halted?: { readonly rule: HaltRule; readonly reason: string; readonly at: string; readonly stage?: number; readonly dispatched: number; readonly errors: number };
  /**
   * Dispatched and failed members counted at the last continue (0 before any), and `since`, when the halt it let go
   * was recorded: nothing is dispatched while a batch is halted, so the members dispatched after `since` are the ones
   * dispatched since the continue, and only their failures count toward the next halt (a member in flight at the halt
   * that failed after it is not a new error).
   */
  readonly baseline: { readonly dispatched: number; readonly errors: number; readonly since?: string };
  readonly stages: readonly { readonly stage: number; readonly of: number; readonly optimizationIds: readonly string[]; readonly passedAt?: string; readonly failed?: boolean }[];
  readonly completed: boolean;
}

export type BatchGuardCommand = {
  readonly type: 'ContinueBatch';
  readonly data: { readonly by: string; readonly reason: string };
  readonly metadata: { readonly now: Date };
};

export const initialBatchGuard = (): BatchGuardState => ({ members: [], baseline: { dispatched: 0, errors: 0 }, stages: [], completed: false });

export function evolveBatchGuard(state: BatchGuardState, event: BatchEvent): BatchGuardState {
  switch (event.type) {
    case 'BatchPlanned':
      return { ...state, batchId: event.data.batchId, members: event.data.optimizationIds };
    case 'BatchCompleted':
      return { ...state, completed: true };
    case 'ExecutionDeferred':
      return state;
    case 'BatchHalted': {
      const { rule, reason, at, stage, dispatched, errors } = event.data;
      return { ...state, halted: { rule, reason, at, dispatched, errors, ...(stage !== undefined ? { stage } : {}) } };
    }
    case 'BatchContinued': {
      const { halted, ...rest } = state;
      return { ...rest, baseline: halted ? { dispatched: halted.dispatched, errors: halted.errors, since: halted.at } : state.baseline };
    }
    case 'StageStarted': {
      const { stage, of, optimizationIds } = event.data;
      return { ...state, stages: [...state.stages.filter((s) => s.stage !== stage), { stage, of, optimizationIds }] };
    }
    case 'StagePassed':
      return { ...state, stages: state.stages.map((s) => (s.stage === event.data.stage ? { ...s, passedAt: event.data.at } : s)) };
    case 'StageFailed':
      return { ...state, stages: state.stages.map((s) => (s.stage === event.data.stage ? { ...s, failed: true } : s)) };
    default: {
      const _exhaustive: never = event;
      return _exhaustive;
    }
  }
}

/**
 * An operator lets a halted batch go on: `BatchContinued` with who (normalized) and why. Refused (`INVALID_STATE`) when
 * the batch is not halted or already completed, (`NOT_FOUND`) when it was never planned, (`INVALID_INPUT`) without who or why.
 */
export function decideBatchGuard(command: BatchGuardCommand, state: BatchGuardState): BatchEvent[] {
  if (!state.batchId) throw new DomainError('NOT_FOUND', 'no such batch');
  const by = statedText('ContinueBatch', 'by', command.data.by);
  const reason = statedText('ContinueBatch', 'reason', command.data.reason);
  if (by === '' || reason === '') throw new DomainError('INVALID_INPUT', `${by === '' ? 'by' : 'reason'} must not be empty: say who and why`);
  if (state.completed) throw new DomainError('INVALID_STATE', `batch ${state.batchId} is completed`);
  if (!state.halted) throw new DomainError('INVALID_STATE', `batch ${state.batchId} is not halted`);
  return [{ type: 'BatchContinued', data: { batchId: state.batchId, by: normalizeIdentity(by), reason, rule: state.halted.rule, at: command.metadata.now.toISOString() } }];
}

export const batchGuardDecider = { decide: decideBatchGuard, evolve: evolveBatchGuard, initialState: initialBatchGuard };
