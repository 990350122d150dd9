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

/** Group key of an item in a grouped mode; groups run one after another. */
function groupOf(mode: BatchMode, item: QueuedItem): string {
  if (mode === 'resource-grouped') return item.resourceType;
  if (mode === 'region-grouped') return item.regionKey;
  return '';
}

/**
 * The items of `batch` to dispatch now.
 * - `sequential`: one at a time, in priority order.
 * - `parallel`: up to `maxParallel` at once.
 * - `resource-grouped` / `region-grouped`: one group (resource type / account+region) at a time,
 *   up to `maxParallel` inside it; the group holding the highest-priority item goes first, and the
 *   next group starts only when the current one has finished.
 * Always: nothing before `notBefore`; never two active on one resource (`busyKeys` holds the
 * resource keys active anywhere, in any batch); at most `globalCapacity` more starts overall.
 */
export function selectDispatches(batch: BatchPlan, now: Date, busyKeys: ReadonlySet<string>, globalCapacity = Infinity): QueuedItem[] {
  if (now.getTime() < Date.parse(batch.notBefore)) return [];
  const limit = batch.mode === 'sequential' ? 1 : Math.max(1, batch.maxParallel);
  let room = Math.min(limit - batch.active.length, globalCapacity);
  if (room <= 0) return [];
  let candidates = [...batch.queued].sort(byPriority);
  if (batch.mode === 'resource-grouped' || batch.mode === 'region-grouped') {
    const current = batch.active.length > 0 ? groupOf(batch.mode, batch.active[0]) : candidates.length > 0 ? groupOf(batch.mode, candidates[0]) : undefined;
    candidates = candidates.filter((c) => groupOf(batch.mode, c) === current);
  }
  const busy = new Set(busyKeys);
  for (const a of batch.active) busy.add(a.resourceKey);
  const chosen: QueuedItem[] = [];
  for (const c of candidates) {
    if (room <= 0) break;
    if (busy.has(c.resourceKey)) continue;
    chosen.push(c);
    busy.add(c.resourceKey);
    room--;
  }
  return chosen;
}
