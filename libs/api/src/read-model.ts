import { DUPLICATES_STREAM, OPTIMIZATION_STREAM_PREFIX, REJECTED_STREAM } from '@optex/domain';
import type { EventFilter, EventStore, GlobalPosition, Subscription } from '@optex/ports';
import { OptimizationProjection } from '@optex/engine';

const FILTER: EventFilter = { kind: 'streamName', prefixes: [OPTIMIZATION_STREAM_PREFIX, REJECTED_STREAM, DUPLICATES_STREAM] };

/**
 * The API's read model: every optimization's state (the engine's `OptimizationProjection`) and the rejected and
 * duplicate counts, kept by a catch-up subscription to the log, so a list does not re-read every stream.
 * `sync()` waits until it has applied everything the log held when it was called (read-your-writes for a caller
 * that just acted).
 */
export class ApiReadModel {
  readonly projection = new OptimizationProjection();
  rejected = 0;
  duplicates = 0;
  private applied = -1n;
  private lastPosition?: GlobalPosition;
  private subscription?: Subscription;
  private failure?: unknown;
  private readonly waiters = new Set<() => void>();

  constructor(private readonly store: EventStore) {}

  start(): void {
    this.subscription = this.store.subscribeToAll(
      async (event) => {
        if (event.stream === REJECTED_STREAM) this.rejected++;
        else if (event.stream === DUPLICATES_STREAM) this.duplicates++;
        else this.projection.apply(event);
        this.applied = event.position.commit;
        this.lastPosition = event.position;
        for (const wake of this.waiters) wake();
      },
      { filter: FILTER, onDropped: (error) => (this.failure = error) },
    );
  }

  /** Position (commit) of the last event applied; -1 before any. */
  get appliedPosition(): bigint {
    return this.applied;
  }

  /** Events of the log (of the streams it reads) not applied yet: the lag. */
  async lag(): Promise<number> {
    const head = await this.head();
    if (head < 0n || head <= this.applied) return 0;
    let behind = 0;
    for await (const e of this.store.readAll({ ...(this.lastPosition ? { fromPosition: this.lastPosition } : {}), filter: FILTER })) if (e.position.commit > this.applied) behind++;
    return behind;
  }

  /** Resolves once every event the log held at the call is applied; rejects after `timeoutMs`. */
  async sync(timeoutMs = 5000): Promise<void> {
    if (this.failure) throw this.failure;
    const head = await this.head();
    if (head <= this.applied) return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`the read model is behind the log by more than ${timeoutMs} ms`));
      }, timeoutMs);
      const check = () => {
        if (this.applied < head) return;
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve();
      };
      this.waiters.add(check);
      check();
    });
  }

  private async head(): Promise<bigint> {
    for await (const e of this.store.readAll({ direction: 'backwards', maxCount: 1, filter: FILTER })) return e.position.commit;
    return -1n;
  }

  async stop(): Promise<void> {
    await this.subscription?.unsubscribe();
  }
}
