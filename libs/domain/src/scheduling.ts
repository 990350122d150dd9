import type { BatchMode } from './events';
import type { RiskLevel } from './types';

// ── Scheduling: which approved optimizations may start now (pure) ──

export interface QueuedItem {
  readonly optimizationId: string;
  /** `<accountId>/<region>/<resourceId>`: never two active executions on one key. */
  readonly resourceKey: string;
  readonly resourceType: string;
  /** `<accountId>/<region>` */
  readonly regionKey: string;
  readonly priority: RiskLevel;
  /** ISO time the item was approved: first come, first served within one priority. */
  readonly approvedAt: string;
}

export interface BatchPlan {
  readonly batchId: string;
  readonly mode: BatchMode;
  readonly maxParallel: number;
  readonly notBefore: string;
  /** Items of the batch not dispatched yet. */
  readonly queued: readonly QueuedItem[];
  /** Items of the batch dispatched and not finished yet. */
  readonly active: readonly QueuedItem[];
}

const PRIORITY_RANK: Record<RiskLevel, number> = { CRITICAL: 0, HIGH: 1, MEDIUM: 2, LOW: 3 };

/** Priority first (CRITICAL before LOW), then approval time, then id for a total order. */
export function byPriority(a: QueuedItem, b: QueuedItem): number {
  return (
    PRIORITY_RANK[a.priority] - PRIORITY_RANK[b.priority] ||
    a.approvedAt.localeCompare(b.approvedAt) ||
    a.optimizationId.localeCompare(b.optimizationId)
  );
}

/** Group key of an item in a grouped mode (resource type / account+region); groups run one after another. `''` in the other modes. */
export function dispatchGroupOf(mode: BatchMode, item: QueuedItem): string {
  if (mode === 'resource-grouped') return item.resourceType;
  if (mode === 'region-grouped') return item.regionKey;
  return '';
}

/**
 * How many more items of a batch may start now: 0 before `notBefore`, else the mode's limit minus what it counts as
 * active, capped by `globalCapacity`. `sequential` is one execution at a time whatever batch the others belong to (a
 * run whose approvals came slower than the batch window forms several batches), so it counts `activeAnywhere`; the
 * other modes count the batch's own.
 */
export function dispatchRoom(batch: Pick<BatchPlan, 'mode' | 'maxParallel' | 'notBefore'>, activeInBatch: number, now: Date, globalCapacity = Infinity, activeAnywhere = activeInBatch): number {
  if (now.getTime() < Date.parse(batch.notBefore)) return 0;
  const [limit, active] = batch.mode === 'sequential' ? [1, Math.max(activeInBatch, activeAnywhere)] : [Math.max(1, batch.maxParallel), activeInBatch];
  return Math.max(0, Math.min(limit - active, globalCapacity));
}

/**
 * Takes up to `room` items from `candidates` (already in {@link byPriority} order and, in a grouped
 * mode, already of the current group), skipping any whose resource is busy; an item taken makes its
 * resource busy for the ones after it; and skipping any `held` (e.g. outside its change windows), which keeps its
 * place for a later tick. Stops reading `candidates` as soon as `room` items are taken, so a caller can pass a lazy
 * iterator over a long queue.
 */
export function takeDispatches(candidates: Iterable<QueuedItem>, isBusy: (resourceKey: string) => boolean, room: number, held: (item: QueuedItem) => boolean = () => false): QueuedItem[] {
  const chosen: QueuedItem[] = [];
  if (room <= 0) return chosen;
  const taken = new Set<string>();
  for (const c of candidates) {
    if (taken.has(c.resourceKey) || isBusy(c.resourceKey) || held(c)) continue;
    chosen.push(c);
    taken.add(c.resourceKey);
    if (chosen.length >= room) break;
  }
  return chosen;
}

/**
 * The items of `batch` to dispatch now.
 * - `sequential`: one at a time, in priority order, and none while an execution of any batch is active.
 * - `parallel`: up to `maxParallel` at once.
 * - `resource-grouped` / `region-grouped`: one group (resource type / account+region) at a time,
 *   up to `maxParallel` inside it; the group holding the highest-priority item goes first, and the
 *   next group starts only when the current one has finished.
 * Always: nothing before `notBefore`; never two active on one resource (`busyKeys` holds the
 * resource keys active anywhere, in any batch); at most `globalCapacity` more starts overall.
 * (The scheduler service applies the same rules incrementally with {@link dispatchRoom},
 * {@link dispatchGroupOf} and {@link takeDispatches} over queues it keeps sorted.)
 */
export function selectDispatches(batch: BatchPlan, now: Date, busyKeys: ReadonlySet<string>, globalCapacity = Infinity): QueuedItem[] {
  // Never two executions on one resource: `busyKeys` counts the executions active anywhere.
  const room = dispatchRoom(batch, batch.active.length, now, globalCapacity, busyKeys.size);
  if (room <= 0) return [];
  let candidates = [...batch.queued].sort(byPriority);
  if (batch.mode === 'resource-grouped' || batch.mode === 'region-grouped') {
    const current = batch.active.length > 0 ? dispatchGroupOf(batch.mode, batch.active[0]) : candidates.length > 0 ? dispatchGroupOf(batch.mode, candidates[0]) : undefined;
    candidates = candidates.filter((c) => dispatchGroupOf(batch.mode, c) === current);
  }
  const inBatch = new Set(batch.active.map((a) => a.resourceKey));
  return takeDispatches(candidates, (key) => busyKeys.has(key) || inBatch.has(key), room);
}

// ── The batch window: which approvals form one batch (pure; the times come in) ──

export interface BatchWindowSettings {
  /** Longest a window stays open, from its first approval. */
  readonly windowMs: number;
  /** The window closes early once this long passes without another approval (0: never early). */
  readonly quietMs: number;
}

/**
 * When a batch window closes: `windowMs` after it opened, or `quietMs` after the last approval it gathered, whichever
 * comes first. A burst of approvals keeps the window open up to `windowMs` and forms one batch; a lone approval waits
 * only `quietMs`. Times are milliseconds on one clock (the scheduler's wall clock).
 */
export function batchWindowClosesAt(openedAt: number, lastApprovalAt: number, settings: BatchWindowSettings): number {
  const latest = openedAt + settings.windowMs;
  if (settings.quietMs <= 0) return latest;
  return Math.min(latest, Math.max(openedAt, lastApprovalAt) + settings.quietMs);
}
