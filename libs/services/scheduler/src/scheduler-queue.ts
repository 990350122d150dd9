import {
  ACTIVE_EXECUTION_STATUSES,
  byPriority,
  dispatchGroupOf,
  dispatchRoom,
  isExecutionError,
  isTerminal,
  takeDispatches,
  type BatchPlanned,
  type QueuedItem,
} from '@optex/domain';
import { resourceKeyOf, type KnownOptimization, type OptimizationProjection } from '@optex/engine';

/**
 * What takes one of a batch's parallel slots and sets a grouped batch's current group. Not what holds a resource: a
 * `rollback-failed` member runs nothing, takes no slot and does not pin its group, but its resource stays held
 * (`RESOURCE_HELD_STATUSES`) — the `isBusy` the scheduler passes to {@link SchedulerQueue.select} is the read model's
 * `isResourceBusy`, which says so.
 */
const ACTIVE = new Set<string>(ACTIVE_EXECUTION_STATUSES);

/** Waiting items of one group of a batch, in `byPriority` order; `cursor` skips the leading ones already gone. */
interface Lane {
  order: QueuedItem[];
  position: Map<string, number>;
  cursor: number;
  sorted: boolean;
}

/** An open batch (planned, not completed) and where each of its members stands. */
export interface QueuedBatch {
  readonly plan: BatchPlanned['data'];
  readonly members: ReadonlySet<string>;
  /** Members approved and not dispatched yet. */
  readonly waiting: Set<string>;
  /**
   * Members dispatched and taking a parallel slot (`ACTIVE_EXECUTION_STATUSES`, waiting for an operator's reconciliation
   * included; not `rollback-failed`, whose resource stays held all the same), in the order they became so.
   */
  readonly active: Map<string, QueuedItem>;
  /** Members known and not terminal: the batch completes when this is empty. */
  readonly open: Set<string>;
  /** Members (not dry runs) ever dispatched in this batch: what the per-batch limit counts. */
  readonly dispatched: Set<string>;
  /** Members (not dry runs) whose execution went wrong: what the error threshold counts. */
  readonly errors: Set<string>;
  readonly lanes: Map<string, Lane>;
}

/** The queue entry of an optimization: what the scheduling rules look at. */
export function queuedItemOf(s: KnownOptimization, resourceKey = resourceKeyOf(s.recommendation)): QueuedItem {
  const rec = s.recommendation;
  return {
    optimizationId: s.optimizationId,
    resourceKey,
    resourceType: rec.resource.type,
    regionKey: `${rec.accountId}/${rec.region}`,
    priority: rec.priority ?? 'MEDIUM',
    approvedAt: s.approval.grantedAt ?? s.receivedAt,
  };
}

/**
 * The scheduler's queue, kept incrementally from an {@link OptimizationProjection}: the approved
 * optimizations not in a batch yet, and per open batch its waiting, active and unfinished members,
 * with each batch's waiting items in priority order (per group in the grouped modes). Every change of
 * an optimization costs O(1) (amortized); choosing what to dispatch reads only the head of the queue.
 * The rules are the domain's (`dispatchRoom`, `dispatchGroupOf`, `takeDispatches` — those of
 * `selectDispatches`).
 */
export class SchedulerQueue {
  private readonly unbatched = new Set<string>();
  private readonly batchOf = new Map<string, string>();
  private readonly batches = new Map<string, QueuedBatch>();
  /** Open batches by `plan.at` (then batch id), the order the scheduler serves them. */
  private ordered: QueuedBatch[] = [];
  private readonly completable = new Set<string>();

  constructor(private readonly projection: OptimizationProjection) {
    for (const id of projection.idsByStatus('approved')) this.unbatched.add(id);
    projection.onChange((after) => this.track(after));
  }

  /** Approved optimizations not in any open batch, in the order they were approved. */
  unbatchedIds(): readonly string[] {
    return [...this.unbatched];
  }

  get unbatchedCount(): number {
    return this.unbatched.size;
  }

  /** Open batches in the order they are served (oldest `at` first). */
  openBatches(): readonly QueuedBatch[] {
    return this.ordered;
  }

  batch(batchId: string): QueuedBatch | undefined {
    return this.batches.get(batchId);
  }

  /** Ids of open batches whose members are all terminal (they are to be completed), and forgets them as such. */
  takeCompletable(): string[] {
    const ids = [...this.completable].filter((id) => this.batches.get(id)?.open.size === 0);
    this.completable.clear();
    return ids;
  }

  /** Records a planned batch: its members leave the unbatched set and are classified by their current state. */
  addBatch(plan: BatchPlanned['data']): void {
    if (this.batches.has(plan.batchId)) return;
    const batch: QueuedBatch = { plan, members: new Set(plan.optimizationIds), waiting: new Set(), active: new Map(), open: new Set(), dispatched: new Set(), errors: new Set(), lanes: new Map() };
    this.batches.set(plan.batchId, batch);
    this.ordered.push(batch);
    this.ordered.sort((a, b) => a.plan.at.localeCompare(b.plan.at) || a.plan.batchId.localeCompare(b.plan.batchId));
    for (const id of plan.optimizationIds) {
      this.batchOf.set(id, plan.batchId);
      this.unbatched.delete(id);
      const state = this.projection.get(id);
      if (state) this.classify(batch, state);
    }
    if (batch.open.size === 0) this.completable.add(plan.batchId);
  }

  /** Forgets a completed batch; a member still approved (not expected) becomes unbatched again. */
  removeBatch(batchId: string): void {
    const batch = this.batches.get(batchId);
    if (!batch) return;
    this.batches.delete(batchId);
    this.ordered = this.ordered.filter((b) => b !== batch);
    this.completable.delete(batchId);
    for (const id of batch.members) {
      if (this.batchOf.get(id) !== batchId) continue;
      this.batchOf.delete(id);
      if (this.projection.statusOf(id) === 'approved') this.unbatched.add(id);
    }
  }

  /**
   * What of `batch` may start now: at most `capacity` (and the batch's own limit), never onto a busy
   * resource, nothing before its `notBefore`; in a grouped mode only from the current group (that of
   * its active items, else that of its highest-priority waiting item). `isBusy`: whether some optimization holds the
   * resource — the scheduler passes the read model's `isResourceBusy` (`RESOURCE_HELD_STATUSES`, `rollback-failed`
   * included until an operator retries or resolves it).
   */
  select(batch: QueuedBatch, now: Date, capacity: number, isBusy: (resourceKey: string) => boolean, held?: (item: QueuedItem) => boolean): QueuedItem[] {
    const room = dispatchRoom(batch.plan, batch.active.size, now, capacity, this.projection.activeCount());
    if (room <= 0 || batch.waiting.size === 0) return [];
    let lane: Lane | undefined;
    if (batch.plan.mode === 'resource-grouped' || batch.plan.mode === 'region-grouped') {
      const first = batch.active.values().next();
      if (!first.done) lane = batch.lanes.get(dispatchGroupOf(batch.plan.mode, first.value));
      else {
        let best: QueuedItem | undefined;
        for (const l of batch.lanes.values()) {
          const head = this.head(batch, l);
          if (head && (!best || byPriority(head, best) < 0)) {
            best = head;
            lane = l;
          }
        }
      }
    } else lane = batch.lanes.get('');
    if (!lane) return [];
    return takeDispatches(this.waitingIn(batch, lane), isBusy, room, held);
  }

  /**
   * What of `members` (a stage of a staged batch) may start now: in priority order whatever the mode's groups (a stage
   * is small), with the batch's own limit and `capacity`, never onto a busy resource, nothing before `notBefore`.
   */
  selectAmong(batch: QueuedBatch, members: ReadonlySet<string>, now: Date, capacity: number, isBusy: (resourceKey: string) => boolean, held?: (item: QueuedItem) => boolean): QueuedItem[] {
    const room = dispatchRoom(batch.plan, batch.active.size, now, capacity, this.projection.activeCount());
    const items: QueuedItem[] = [];
    for (const id of members) {
      const state = batch.waiting.has(id) ? this.projection.get(id) : undefined;
      if (state) items.push(queuedItemOf(state, this.projection.resourceKeyOf(id)));
    }
    return takeDispatches(items.sort(byPriority), isBusy, room, held);
  }

  /** Earliest `notBefore` after `now` of a batch with waiting members, if any. */
  waitingUntil(now: Date): Date | undefined {
    let earliest: number | undefined;
    for (const b of this.ordered) {
      if (b.waiting.size === 0) continue;
      const t = Date.parse(b.plan.notBefore);
      if (t > now.getTime() && (earliest === undefined || t < earliest)) earliest = t;
    }
    return earliest === undefined ? undefined : new Date(earliest);
  }

  private track(state: KnownOptimization): void {
    const id = state.optimizationId;
    const batchId = this.batchOf.get(id);
    if (batchId === undefined) {
      if (state.status === 'approved') this.unbatched.add(id);
      else this.unbatched.delete(id);
      return;
    }
    const batch = this.batches.get(batchId);
    if (batch) this.classify(batch, state);
  }

  private classify(batch: QueuedBatch, state: KnownOptimization): void {
    const id = state.optimizationId;
    if (state.status === 'approved') {
      if (!batch.waiting.has(id)) {
        batch.waiting.add(id);
        this.enqueue(batch, queuedItemOf(state, this.projection.resourceKeyOf(id)));
      }
    } else batch.waiting.delete(id);
    if (ACTIVE.has(state.status)) {
      if (!batch.active.has(id)) batch.active.set(id, queuedItemOf(state, this.projection.resourceKeyOf(id)));
    } else batch.active.delete(id);
    if (!state.dryRun && state.schedule?.batchId === batch.plan.batchId) batch.dispatched.add(id);
    if (!state.dryRun && isExecutionError(state.status)) batch.errors.add(id);
    else batch.errors.delete(id);
    if (isTerminal(state.status)) {
      if (batch.open.delete(id) && batch.open.size === 0) this.completable.add(batch.plan.batchId);
    } else batch.open.add(id);
  }

  /** Puts a newly waiting item into its lane: where it already was (cursor moved back to it), else appended and the lane re-sorted lazily. */
  private enqueue(batch: QueuedBatch, item: QueuedItem): void {
    const group = dispatchGroupOf(batch.plan.mode, item);
    let lane = batch.lanes.get(group);
    if (!lane) batch.lanes.set(group, (lane = { order: [], position: new Map(), cursor: 0, sorted: true }));
    const at = lane.position.get(item.optimizationId);
    if (at !== undefined) {
      const old = lane.order[at];
      lane.order[at] = item;
      if (old.priority !== item.priority || old.approvedAt !== item.approvedAt) lane.sorted = false;
      else if (at < lane.cursor) lane.cursor = at;
      return;
    }
    const last = lane.order[lane.order.length - 1];
    lane.position.set(item.optimizationId, lane.order.length);
    lane.order.push(item);
    if (last && byPriority(last, item) > 0) lane.sorted = false;
  }

  private ensureSorted(lane: Lane): void {
    if (lane.sorted) return;
    lane.order.sort(byPriority);
    lane.position.clear();
    lane.order.forEach((item, i) => lane.position.set(item.optimizationId, i));
    lane.cursor = 0;
    lane.sorted = true;
  }

  /** Skips (for good) the leading items of a lane that no longer wait; returns the first waiting one. */
  private head(batch: QueuedBatch, lane: Lane): QueuedItem | undefined {
    this.ensureSorted(lane);
    while (lane.cursor < lane.order.length && !batch.waiting.has(lane.order[lane.cursor].optimizationId)) lane.cursor++;
    return lane.order[lane.cursor];
  }

  /** The waiting items of a lane in priority order, lazily (the caller stops once it has enough). */
  private *waitingIn(batch: QueuedBatch, lane: Lane): Generator<QueuedItem> {
    if (!this.head(batch, lane)) return;
    for (let i = lane.cursor; i < lane.order.length; i++) {
      const item = lane.order[i];
      if (batch.waiting.has(item.optimizationId)) yield item;
    }
  }
}
