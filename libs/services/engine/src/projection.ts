import { deflateRawSync, inflateRawSync } from 'node:zlib';
import {
  ACTIVE_EXECUTION_STATUSES,
  OPTIMIZATION_STREAM_PREFIX,
  RESOURCE_HELD_STATUSES,
  lastChangeAt,
  optimizationDecider,
  type OptimizationEvent,
  type OptimizationState,
  type OptimizationStatus,
  isTerminal,
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
  /** The optimization's id: the one string every index of this projection holds for it. */
  readonly id: string;
  /** The state; undefined while it is held packed (a settled optimization, see {@link OptimizationProjection}). */
  state: OptimizationState | undefined;
  /** The settled state as deflated JSON (bytes as a latin1 string) while `state` is undefined. */
  packed?: string;
  /** `state.status`, kept beside it so that a packed entry's status needs no unpacking. */
  status: OptimizationStatus | 'initial';
  revision: bigint;
  /** Cached `<accountId>/<region>/<resourceId>` of the recommendation (it never changes); dropped when packed. */
  resourceKey?: string;
}

/** What takes a parallel slot ({@link OptimizationProjection.activeCount}). */
const ACTIVE = new Set<string>(ACTIVE_EXECUTION_STATUSES);
/** What holds a resource ({@link OptimizationProjection.activeOnResource}, {@link OptimizationProjection.isResourceBusy}). */
const HELD = new Set<string>(RESOURCE_HELD_STATUSES);
const EMPTY: ReadonlySet<string> = new Set();

/** How many settled optimizations a projection keeps as objects before it packs the oldest of them. */
export const DEFAULT_UNPACKED_SETTLED = 1024;

export interface OptimizationProjectionOptions {
  /**
   * How many settled (terminal) optimizations stay unpacked, most recently settled first; older ones are held packed
   * and unpacked on each read. 0 packs every settled optimization at once; `Infinity` never packs (a reader that scans
   * everything often, such as the API's list). Default {@link DEFAULT_UNPACKED_SETTLED}.
   */
  readonly unpackedSettled?: number;
}

/**
 * Every optimization's state, folded from the log: the read model the scheduler, the approval
 * sweep, the executor's per-resource check, recovery and the CLI share. Feed it events in stream
 * order (`apply`), or rebuild it from the store (`load`). Events at or below a stream's known
 * revision are ignored, so replays and redeliveries are harmless.
 *
 * Indexed: every change costs O(1) and keeps, per status, the set of ids (so counts and "all
 * awaiting approval" need no scan), per resource key the optimizations holding it (`RESOURCE_HELD_STATUSES`:
 * `scheduled`, `executing`, `validating`, `rolling-back`, `reconciliation-needed` and `rollback-failed`), and how many
 * take a parallel slot (`ACTIVE_EXECUTION_STATUSES`: the same but `rollback-failed`). Only {@link states} and
 * {@link all} walk every optimization.
 *
 * Settled optimizations are held packed: once more than `unpackedSettled` (default 1,024) optimizations are in a
 * terminal status (`TERMINAL_STATUSES`), the one that settled longest ago is kept as its state's JSON deflated
 * with a dictionary (the JSON of the first state this projection packed; settled states of one fleet share most of
 * their text), ~0.2 KB instead of ~5 KB of objects for a modify-volume. Reading one ({@link get}, {@link states},
 * {@link all}) unpacks it into a new object each time (~20 µs) and leaves it packed; an event for it unpacks it for
 * good until it settles again. The choice is invisible to callers except for that cost and object identity.
 */
export class OptimizationProjection {
  private readonly entries = new Map<string, Entry>();
  /** Ids of settled optimizations still held unpacked, the one settled longest ago first. */
  private readonly unpackedSettled = new Set<string>();
  private readonly unpackedSettledLimit: number;
  private dictionary: Buffer | undefined;
  private readonly byStatus = new Map<OptimizationStatus, Set<string>>();
  /** Per resource key, the optimizations holding it (`RESOURCE_HELD_STATUSES`). */
  private readonly heldByResource = new Map<string, Set<string>>();
  /** How many optimizations take a parallel slot (`ACTIVE_EXECUTION_STATUSES`). */
  private activeTotal = 0;
  /** Per resource key, the latest change any optimization made to it (ms), for the cool-down. */
  private readonly lastChangeByResource = new Map<string, number>();
  private readonly listeners: OptimizationChangeListener[] = [];

  constructor(options: OptimizationProjectionOptions = {}) {
    const limit = options.unpackedSettled ?? DEFAULT_UNPACKED_SETTLED;
    if (limit !== Number.POSITIVE_INFINITY && (!Number.isSafeInteger(limit) || limit < 0)) throw new RangeError(`unpackedSettled must be a whole number ≥ 0 or Infinity, got ${limit}`);
    this.unpackedSettledLimit = limit;
  }

  /** Rebuilds from the whole log. */
  static async load(store: EventStore, options?: OptimizationProjectionOptions): Promise<OptimizationProjection> {
    return new OptimizationProjection(options).catchUp(store);
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
    // Not the stream's next event: this projection missed some (another replica of the service handled them, before a
    // rebalance gave this one the partition). Folded over the gap it would be a state the log never had — or the fold
    // would throw, and the delivery be dropped as a domain rejection. Left as it is: `knownAt` misses, so the caller
    // reads the stream, and `set` repairs the entry.
    if (revision !== (current ? current.revision + 1n : 0n)) return undefined;
    const before = current ? this.stateOf(current) : undefined;
    const state = optimizationDecider.evolve(before ?? optimizationDecider.initialState(), event);
    this.put(id, current, before, state, revision);
    return state.status === 'initial' ? undefined : (state as KnownOptimization);
  }

  /**
   * Replaces one optimization's state (after the caller folded the stream itself, e.g. from a command's
   * result). Ignored when the projection already holds a later revision of that stream.
   */
  set(optimizationId: string, state: OptimizationState, revision: bigint): void {
    const current = this.entries.get(optimizationId);
    if (current && revision < current.revision) return;
    this.put(optimizationId, current, current ? this.stateOf(current) : undefined, state, revision);
  }

  /** An optimization's state, or undefined when unknown. A packed (settled) one is unpacked into a new object. */
  get(optimizationId: string): KnownOptimization | undefined {
    const entry = this.entries.get(optimizationId);
    return entry && entry.status !== 'initial' ? (this.stateOf(entry) as KnownOptimization) : undefined;
  }

  /** An optimization's state and the revision it was folded to (one look-up), or undefined when unknown. */
  known(optimizationId: string): { readonly state: KnownOptimization; readonly revision: bigint } | undefined {
    return this.knownOf(this.entries.get(optimizationId));
  }

  /**
   * {@link known}, when the revision it was folded to is `revision` (the event a service is handling is still the last
   * one it folded); undefined otherwise. For deciding without reading the stream again (`handleCommandAt`: a stream
   * that moved on since is read after all).
   */
  knownAt(optimizationId: string, revision: bigint): { readonly state: KnownOptimization; readonly revision: bigint } | undefined {
    const entry = this.entries.get(optimizationId);
    return entry?.revision === revision ? this.knownOf(entry) : undefined;
  }

  private knownOf(entry: Entry | undefined): { readonly state: KnownOptimization; readonly revision: bigint } | undefined {
    return entry && entry.status !== 'initial' ? { state: this.stateOf(entry) as KnownOptimization, revision: entry.revision } : undefined;
  }

  /** The status of an optimization, or undefined when unknown. O(1), never unpacks. */
  statusOf(optimizationId: string): OptimizationStatus | undefined {
    const status = this.entries.get(optimizationId)?.status;
    return status === 'initial' ? undefined : status;
  }

  /** Revision of the last event applied to an optimization's stream, or undefined when unknown. */
  revisionOf(optimizationId: string): bigint | undefined {
    return this.entries.get(optimizationId)?.revision;
  }

  /**
   * Every known optimization, in the order first seen, one at a time: a packed one is unpacked when reached and is
   * garbage once the caller moves on. O(n): for reports and recovery, not per event. Do not change the projection
   * while iterating.
   */
  *states(): IterableIterator<KnownOptimization> {
    for (const e of this.entries.values()) if (e.status !== 'initial') yield this.stateOf(e) as KnownOptimization;
  }

  /**
   * Every known optimization, in the order first seen, as one array. O(n), and every packed one is unpacked at once:
   * prefer {@link states} when the caller looks at one at a time.
   */
  all(): KnownOptimization[] {
    return [...this.states()];
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

  /**
   * How many optimizations take a parallel execution slot: scheduled, executing, validating, rolling back or waiting
   * for an operator's reconciliation (`ACTIVE_EXECUTION_STATUSES`). The scheduler's parallel slots are `maxParallel`
   * less this, so an optimization waiting for an operator's reconciliation keeps its slot until the operator settles
   * it. A `rollback-failed` one is not counted: it runs nothing (it still holds its resource, see
   * {@link activeOnResource}). O(1).
   */
  activeCount(): number {
    return this.activeTotal;
  }

  /**
   * The optimizations holding a resource — status `scheduled`, `executing`, `validating`, `rolling-back`,
   * `reconciliation-needed` or `rollback-failed` (`RESOURCE_HELD_STATUSES`: a rollback-failed one until an operator
   * retries or resolves it) — as this projection last saw them. O(number returned). The executor passes the others
   * (all but the one it drives) to the domain's pre-validation as "optimizations active on the same resource"; the
   * scheduler never dispatches onto a key for which this is non-empty ({@link isResourceBusy}).
   *
   * @param resourceKey `<accountId>/<region>/<resourceId>` ({@link resourceKeyOf} of the recommendation).
   * @returns the optimizations holding that resource, in no particular order; empty when none.
   */
  activeOnResource(resourceKey: string): KnownOptimization[] {
    const ids = this.heldByResource.get(resourceKey);
    if (!ids) return [];
    const out: KnownOptimization[] = [];
    for (const id of ids) {
      const s = this.get(id);
      if (s) out.push(s);
    }
    return out;
  }

  /** True when some optimization holds `resourceKey` (see {@link activeOnResource}): another of it must wait. O(1). */
  isResourceBusy(resourceKey: string): boolean {
    return (this.heldByResource.get(resourceKey)?.size ?? 0) > 0;
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
    if (!entry || entry.status === 'initial') return undefined;
    return (entry.resourceKey ??= resourceKeyOf((this.stateOf(entry) as KnownOptimization).recommendation));
  }

  /** Registers a listener called after every change of state (see {@link OptimizationChangeListener}); returns a function that removes it. */
  onChange(listener: OptimizationChangeListener): () => void {
    this.listeners.push(listener);
    return () => {
      const i = this.listeners.indexOf(listener);
      if (i >= 0) this.listeners.splice(i, 1);
    };
  }

  /** `before` is `current`'s state, already unpacked by the caller (a packed entry is inflated once per change). */
  private put(optimizationId: string, current: Entry | undefined, before: OptimizationState | undefined, state: OptimizationState, revision: bigint): void {
    // Every field set up front (one object shape, no out-of-object property array); the id copied flat, since a slice
    // of the stream name would keep the whole name alive with it.
    const entry: Entry = current ?? { id: flat(optimizationId), state, packed: undefined, status: state.status, revision, resourceKey: undefined };
    const id = entry.id;
    entry.state = state;
    entry.packed = undefined;
    entry.status = state.status;
    entry.revision = revision;
    if (!current) this.entries.set(id, entry);
    this.unpackedSettled.delete(id);
    if (isTerminal(state.status)) {
      this.unpackedSettled.add(id);
      if (this.unpackedSettled.size > this.unpackedSettledLimit) this.pack(this.unpackedSettled.keys().next().value as string);
    }
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
      if (wasActive !== isActive) this.activeTotal += isActive ? 1 : -1;
      const wasHeld = from !== undefined && HELD.has(from);
      const isHeld = to !== undefined && HELD.has(to);
      if (wasHeld !== isHeld) {
        // Not cached on the entry: a `rollback-failed` one is settled and may be packed already (see `pack`).
        const key = entry.resourceKey ?? resourceKeyOf(((to ? state : before) as KnownOptimization).recommendation);
        if (isHeld) {
          let ids = this.heldByResource.get(key);
          if (!ids) this.heldByResource.set(key, (ids = new Set()));
          ids.add(id);
        } else {
          const ids = this.heldByResource.get(key);
          ids?.delete(id);
          if (ids && ids.size === 0) this.heldByResource.delete(key);
        }
      }
    }
    if (to && this.listeners.length > 0) {
      const after = state as KnownOptimization;
      const prior = from ? (before as KnownOptimization) : undefined;
      for (const listener of this.listeners) listener(after, prior);
    }
  }

  /** The entry's state, unpacked into a new object when it is held packed. */
  private stateOf(entry: Entry): OptimizationState {
    if (entry.state) return entry.state;
    const json = inflateRawSync(Buffer.from(entry.packed as string, 'latin1'), { dictionary: this.dictionary }).toString('utf8');
    return JSON.parse(json) as OptimizationState;
  }

  /** Packs a settled optimization's state (see the class comment). */
  private pack(id: string): void {
    this.unpackedSettled.delete(id);
    const entry = this.entries.get(id);
    if (!entry?.state) return;
    const json = Buffer.from(JSON.stringify(entry.state), 'utf8');
    this.dictionary ??= json;
    entry.packed = deflateRawSync(json, { dictionary: this.dictionary }).toString('latin1');
    entry.state = undefined;
    // Built from the state's strings, it would keep them alive; recomputed from the unpacked state when asked.
    entry.resourceKey = undefined;
  }
}

/** A flat copy of a string (not a slice or concatenation that keeps its parts alive). */
const flat = (s: string): string => Buffer.from(s, 'utf8').toString('utf8');
