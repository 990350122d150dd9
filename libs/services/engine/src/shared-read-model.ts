import type { EventStore } from '@optex/ports';
import { OptimizationProjection, type OptimizationProjectionOptions } from './projection';

/**
 * The one read model of every optimization that the services of one process share (approval, scheduler, executor,
 * validator): folded from the log once at start, then fed by each service's deliveries. A service that applies an event
 * another service of the process applied already changes nothing (events at or below a stream's known revision are
 * ignored), so each event is folded once per process and every state is held once, however many services run there.
 * A service may therefore find the read model ahead of its own deliveries (never behind them): it reacts to the event
 * it was handed, and reads states from the read model as they are now.
 */
export class SharedReadModel {
  readonly projection: OptimizationProjection;
  private loading?: Promise<OptimizationProjection>;

  constructor(
    private readonly store: EventStore,
    options?: OptimizationProjectionOptions,
  ) {
    this.projection = new OptimizationProjection(options);
  }

  /** Folds the log into the shared projection the first time it is asked; every later call waits for that same load. A failed load is tried again by the next call. */
  load(): Promise<OptimizationProjection> {
    this.loading ??= this.projection.catchUp(this.store).catch((error: unknown) => {
      this.loading = undefined;
      throw error;
    });
    return this.loading;
  }
}

/** The read model a service uses: the process's shared one when the app provides it, else one of its own folded from the log. */
export function readModelOf(store: EventStore, shared: SharedReadModel | undefined): Promise<OptimizationProjection> {
  return shared ? shared.load() : OptimizationProjection.load(store);
}
