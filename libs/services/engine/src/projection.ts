import {
  ACTIVE_EXECUTION_STATUSES,
  OPTIMIZATION_STREAM_PREFIX,
  lastChangeAt,
  optimizationDecider,
  type OptimizationEvent,
  type OptimizationState,
  type OptimizationStatus,
  parseStoredEvent,
} from '@optex/domain';
import type { EventStore, RecordedEvent } from '@optex/ports';
import { resourceKeyOf } from './resource';

export type KnownOptimization = Exclude<OptimizationState, { status: 'initial' }>;

/**
 * Called after an optimization's state changed (`before` is undefined the first time it is known).
 * Listeners run synchronously inside `apply`/`set` and must not call them again.
 */
export type OptimizationChangeListener = (after: KnownOptimization, before: KnownOptimization | undefined) => void;

interface Entry {
  state: OptimizationState;
  revision: bigint;
  /** Cached `<accountId>/<region>/<resourceId>` of the recommendation (it never changes). */
  resourceKey?: string;
}

const ACTIVE = new Set<string>(ACTIVE_EXECUTION_STATUSES);
const EMPTY: ReadonlySet<string> = new Set();

/**
 * Every optimization's state, folded from the log: the read model the scheduler, the approval
 * sweep, the executor's per-resource check, recovery and the CLI share. Feed it events in stream
 * order (`apply`), or rebuild it from the store (`load`). Events at or below a stream's known
 * revision are ignored, so replays and redeliveries are harmless.
 *
 * Indexed: every change costs O(1) and keeps, per status, the set of ids (so counts and "all
 * awaiting approval" need no scan), and per resource key the optimizations actively executing on
 * it (statuses `scheduled`, `executing`, `validating`, `rolling-back`). Only {@link all} walks
 * every optimization.
 */
export class OptimizationProjection {
  private readonly entries = new Map<string, Entry>();
  private readonly byStatus = new Map<OptimizationStatus, Set<string>>();
  private readonly activeByResource = new Map<string, Set<string>>();
  private activeTotal = 0;
  /** Per resource key, the latest change any optimization made to it (ms), for the cool-down. */
  private readonly lastChangeByResource = new Map<string, number>();
  private readonly listeners: OptimizationChangeListener[] = [];

  /** Rebuilds from the whole log. */
  static async load(store: EventStore): Promise<OptimizationProjection> {
    return new OptimizationProjection().catchUp(store);
  }

  /** Folds every optimization event of the log into this projection (what it already holds is ignored by revision). */
  async catchUp(store: EventStore): Promise<this> {
    for await (const e of store.readAll({ filter: { kind: 'streamName', prefixes: [OPTIMIZATION_STREAM_PREFIX] } })) this.apply(e);
    return this;
  }

  /**
   * Applies one event read from the store; returns the new state, or undefined when ignored. The event is parsed and
   * upcast first ({@link parseStoredEvent}, by `metadata.schemaVersion`): an unknown type or bad data throws, naming it.
   */
  apply(event: Pick<RecordedEvent, 'stream' | 'revision' | 'type' | 'data'> & { readonly metadata?: Readonly<Record<string, unknown>> }): KnownOptimization | undefined {
    if (!event.stream.startsWith(OPTIMIZATION_STREAM_PREFIX)) return undefined;
    return this.applyParsed(event.stream, event.revision, parseStoredEvent(event) as OptimizationEvent);
  }

  /**
   * Applies one event delivered on `optex.internal.events.v1`: the relay (`LogRelay`) parsed and
   * upcast it before publishing, so it is applied as it is.
   */
  applyRelayed(event: Pick<RecordedEvent, 'stream' | 'revision' | 'type' | 'data'>): KnownOptimization | undefined {
    if (!event.stream.startsWith(OPTIMIZATION_STREAM_PREFIX)) return undefined;
    return this.applyParsed(event.stream, event.revision, { type: event.type, data: event.data } as OptimizationEvent);
  }

  private applyParsed(stream: string, revision: bigint, event: OptimizationEvent): KnownOptimization | undefined {
    const id = stream.slice(OPTIMIZATION_STREAM_PREFIX.length);
    const current = this.entries.get(id);
    if (current && revision <= current.revision) return undefined;
    const state = optimizationDecider.evolve(current?.state ?? optimizationDecider.initialState(), event);
    this.put(id, current, state, revision);
    return state.status === 'initial' ? undefined : (state as KnownOptimization);
  }

  /**
   * Replaces one optimization's state (after the caller folded the stream itself, e.g. from a command's
   * result). Ignored when the projection already holds a later revision of that stream.
   */
  set(optimizationId: string, state: OptimizationState, revision: bigint): void {
    const current = this.entries.get(optimizationId);
    if (current && revision < current.revision) return;
    this.put(optimizationId, current, state, revision);
  }

  get(optimizationId: string): KnownOptimization | undefined {
    const s = this.entries.get(optimizationId)?.state;
    return s && s.status !== 'initial' ? (s as KnownOptimization) : undefined;
  }

  /** Revision of the last event applied to an optimization's stream, or undefined when unknown. */
  revisionOf(optimizationId: string): bigint | undefined {
    return this.entries.get(optimizationId)?.revision;
  }

  /** Every known optimization, in the order first seen. O(n): for reports and recovery, not per event. */
  all(): KnownOptimization[] {
    const out: KnownOptimization[] = [];
    for (const e of this.entries.values()) if (e.state.status !== 'initial') out.push(e.state as KnownOptimization);
    return out;
  }

  /** How many optimizations are known. */
  get size(): number {
    let n = 0;
    for (const ids of this.byStatus.values()) n += ids.size;
    return n;
  }

  /** How many optimizations are in `status`. O(1). */
  countByStatus(status: OptimizationStatus): number {
    return this.byStatus.get(status)?.size ?? 0;
  }

  /** Ids of the optimizations in `status` (a live view: copy it before changing the projection while iterating). */
  idsByStatus(status: OptimizationStatus): ReadonlySet<string> {
    return this.byStatus.get(status) ?? EMPTY;
  }

  /** How many optimizations are scheduled, executing, validating or rolling back. O(1). */
  activeCount(): number {
    return this.activeTotal;
  }

  /**
   * The optimizations actively executing on a resource — status `scheduled`, `executing`,
   * `validating`, `rolling-back` or `reconciliation-needed` (`ACTIVE_EXECUTION_STATUSES`) — as this projection last saw them.
   * O(number returned). The executor passes the others (all but the one it drives) to the domain's
   * pre-validation as "optimizations active on the same resource"; the scheduler never dispatches
   * onto a key for which this is non-empty.
   *
   * @param resourceKey `<accountId>/<region>/<resourceId>` ({@link resourceKeyOf} of the recommendation).
   * @returns the active optimizations on that resource, in no particular order; empty when none.
   */
  activeOnResource(resourceKey: string): KnownOptimization[] {
    const ids = this.activeByResource.get(resourceKey);
    if (!ids) return [];
    const out: KnownOptimization[] = [];
    for (const id of ids) {
      const s = this.get(id);
      if (s) out.push(s);
    }
    return out;
  }

  /** True when some optimization is actively executing on `resourceKey` (see {@link activeOnResource}). O(1). */
  isResourceBusy(resourceKey: string): boolean {
    return (this.activeByResource.get(resourceKey)?.size ?? 0) > 0;
  }

  /**
   * When an optimization last changed the resource (ISO; the domain's `lastChangeAt` over every optimization on it), or
   * undefined when none did. Updated when an optimization's status changes, O(1).
   */
  lastChangeOn(resourceKey: string): string | undefined {
    const ms = this.lastChangeByResource.get(resourceKey);
    return ms === undefined ? undefined : new Date(ms).toISOString();
  }

  /** `<accountId>/<region>/<resourceId>` of an optimization, computed once and cached; undefined when unknown. */
  resourceKeyOf(optimizationId: string): string | undefined {
    const entry = this.entries.get(optimizationId);
    if (!entry || entry.state.status === 'initial') return undefined;
    return (entry.resourceKey ??= resourceKeyOf((entry.state as KnownOptimization).recommendation));
  }

  /** Registers a listener called after every change of state (see {@link OptimizationChangeListener}); returns a function that removes it. */
  onChange(listener: OptimizationChangeListener): () => void {
    this.listeners.push(listener);
    return () => {
      const i = this.listeners.indexOf(listener);
      if (i >= 0) this.listeners.splice(i, 1);
    };
  }

  private put(id: string, current: Entry | undefined, state: OptimizationState, revision: bigint): void {
    const before = current?.state;
    const entry: Entry = current ?? { state, revision };
    entry.state = state;
    entry.revision = revision;
    if (!current) this.entries.set(id, entry);
    const from = before && before.status !== 'initial' ? before.status : undefined;
    const to = state.status !== 'initial' ? state.status : undefined;
    if (from !== to) {
      if (from) this.byStatus.get(from)?.delete(id);
      if (to) {
        let ids = this.byStatus.get(to);
        if (!ids) this.byStatus.set(to, (ids = new Set()));
        ids.add(id);
      }
      const changed = to ? lastChangeAt(state as KnownOptimization) : undefined;
      if (changed !== undefined) {
        const key = (entry.resourceKey ??= resourceKeyOf((state as KnownOptimization).recommendation));
        const ms = Date.parse(changed);
        if (ms > (this.lastChangeByResource.get(key) ?? Number.NEGATIVE_INFINITY)) this.lastChangeByResource.set(key, ms);
      }
      const wasActive = from !== undefined && ACTIVE.has(from);
      const isActive = to !== undefined && ACTIVE.has(to);
      if (wasActive !== isActive) {
        const key = to ? (entry.resourceKey ??= resourceKeyOf((state as KnownOptimization).recommendation)) : entry.resourceKey;
        if (key !== undefined) {
          if (isActive) {
            let ids = this.activeByResource.get(key);
            if (!ids) this.activeByResource.set(key, (ids = new Set()));
            ids.add(id);
            this.activeTotal++;
          } else {
            const ids = this.activeByResource.get(key);
            if (ids?.delete(id)) this.activeTotal--;
            if (ids && ids.size === 0) this.activeByResource.delete(key);
          }
        }
      }
    }
    if (to && this.listeners.length > 0) {
      const after = state as KnownOptimization;
      const prior = from ? (before as KnownOptimization) : undefined;
      for (const listener of this.listeners) listener(after, prior);
    }
  }
}
