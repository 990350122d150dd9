import {
  OPTIMIZATION_STREAM_PREFIX,
  optimizationDecider,
  type OptimizationEvent,
  type OptimizationState,
} from '@optex/domain';
import type { EventStore, RecordedEvent } from '@optex/ports';

export type KnownOptimization = Exclude<OptimizationState, { status: 'initial' }>;

/**
 * Every optimization's state, folded from the log: the read model the scheduler, the approval
 * sweep, recovery and the CLI share. Feed it events in stream order (`apply`), or rebuild it from
 * the store (`load`). Events at or below a stream's known revision are ignored, so replays and
 * redeliveries are harmless.
 */
export class OptimizationProjection {
  private readonly states = new Map<string, { state: OptimizationState; revision: bigint }>();

  /** Rebuilds from the whole log. */
  static async load(store: EventStore): Promise<OptimizationProjection> {
    const projection = new OptimizationProjection();
    for await (const e of store.readAll({ filter: { kind: 'streamName', prefixes: [OPTIMIZATION_STREAM_PREFIX] } })) projection.apply(e);
    return projection;
  }

  /** Applies one recorded (or relayed) event; returns the new state, or undefined when ignored. */
  apply(event: Pick<RecordedEvent, 'stream' | 'revision' | 'type' | 'data'>): KnownOptimization | undefined {
    if (!event.stream.startsWith(OPTIMIZATION_STREAM_PREFIX)) return undefined;
    const id = event.stream.slice(OPTIMIZATION_STREAM_PREFIX.length);
    const current = this.states.get(id) ?? { state: optimizationDecider.initialState(), revision: -1n };
    if (event.revision <= current.revision) return undefined;
    const state = optimizationDecider.evolve(current.state, { type: event.type, data: event.data } as OptimizationEvent);
    this.states.set(id, { state, revision: event.revision });
    return state.status === 'initial' ? undefined : (state as KnownOptimization);
  }

  /** Replaces one optimization's state (after the caller folded the stream itself). */
  set(optimizationId: string, state: OptimizationState, revision: bigint): void {
    this.states.set(optimizationId, { state, revision });
  }

  get(optimizationId: string): KnownOptimization | undefined {
    const s = this.states.get(optimizationId)?.state;
    return s && s.status !== 'initial' ? (s as KnownOptimization) : undefined;
  }

  all(): KnownOptimization[] {
    return [...this.states.values()].map((s) => s.state).filter((s): s is KnownOptimization => s.status !== 'initial');
  }
}
