import { optimizationDecider, type OptimizationState } from './decider';
import { parseStoredEvent } from './event-schemas';
import type { OptimizationEvent } from './events';

/** A stored event of an optimization's stream, with the instant the store recorded it. */
export interface RecordedOptimizationEvent {
  readonly type: string;
  readonly data: unknown;
  readonly metadata?: Readonly<Record<string, unknown>>;
  readonly revision: bigint;
  readonly recordedAt: Date;
}

export interface StateAt {
  readonly state: OptimizationState;
  /** Events recorded at or before the instant, folded. */
  readonly applied: number;
  /** Events recorded after it, left out. */
  readonly after: number;
  /** The last event folded, or `null` when the optimization did not exist yet. */
  readonly asOf: { readonly revision: number; readonly type: string; readonly recordedAt: string } | null;
}

/**
 * Time travel: the optimization as it was at `at` — its stream's events recorded at or before that instant, parsed
 * and upcast as the engine reads them, folded with the decider's `evolve`. Pure.
 */
export function optimizationStateAt(events: readonly RecordedOptimizationEvent[], at: Date): StateAt {
  const upTo = events.filter((e) => e.recordedAt.getTime() <= at.getTime());
  const state = upTo.reduce<OptimizationState>((s, e) => optimizationDecider.evolve(s, parseStoredEvent(e) as OptimizationEvent), optimizationDecider.initialState());
  const last = upTo[upTo.length - 1];
  return {
    state,
    applied: upTo.length,
    after: events.length - upTo.length,
    asOf: last ? { revision: Number(last.revision), type: last.type, recordedAt: last.recordedAt.toISOString() } : null,
  };
}
