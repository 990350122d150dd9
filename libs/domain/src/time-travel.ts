import { optimizationDecider, type OptimizationState } from './decider';
import { DomainError } from './errors';
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
  /** The events folded: the stream's prefix before the first event recorded after the instant. */
  readonly applied: number;
  /** The events left out: the first one recorded after the instant and every one after it in the stream. */
  readonly after: number;
  /** The last event folded, or `null` when the optimization did not exist yet. */
  readonly asOf: { readonly revision: number; readonly type: string; readonly recordedAt: string } | null;
}

/**
 * Time travel: the optimization as it was at `at` — its stream (`events`, in stream order) up to, not including, the
 * first event recorded after that instant, parsed and upcast as the engine reads them, folded with the decider's
 * `evolve`. A stream is a sequence: when its `recordedAt` are not monotonic (a clock stepped back, several writers, a
 * row edited), an event recorded at or before the instant but after a later-recorded one is left out with it, never
 * folded out of order. Pure.
 * @throws DomainError naming the revision, type and recorded time of an event the prefix cannot fold (an unknown
 *         type or schema, data that does not fit it, an event the state before it cannot take).
 */
export function optimizationStateAt(events: readonly RecordedOptimizationEvent[], at: Date): StateAt {
  const firstAfter = events.findIndex((e) => e.recordedAt.getTime() > at.getTime());
  const upTo = firstAfter === -1 ? events : events.slice(0, firstAfter);
  let state = optimizationDecider.initialState();
  for (const e of upTo) {
    try {
      state = optimizationDecider.evolve(state, parseStoredEvent(e) as OptimizationEvent);
    } catch (error) {
      if (!(error instanceof DomainError)) throw error;
      throw new DomainError(error.code, `the stream does not fold at revision ${e.revision} (${e.type}, recorded ${e.recordedAt.toISOString()}): ${error.message}`);
    }
  }
  const last = upTo[upTo.length - 1];
  return {
    state,
    applied: upTo.length,
    after: events.length - upTo.length,
    asOf: last ? { revision: Number(last.revision), type: last.type, recordedAt: last.recordedAt.toISOString() } : null,
  };
}
