// ── Statuses (a module of their own, so that rules the policy imports can use them without importing the decider) ──

/** Where an optimization is in its life. */
export type OptimizationStatus =
  | 'received'
  | 'awaiting-approval'
  | 'approved'
  | 'scheduled'
  | 'executing'
  | 'validating'
  | 'rolling-back'
  | 'reconciliation-needed'
  | 'completed'
  | 'dry-run-completed'
  | 'denied'
  | 'expired'
  | 'cancelled'
  | 'failed'
  | 'rolled-back'
  | 'rollback-failed'
  | 'resolved'
  | 'out-of-scope';

/**
 * Statuses the engine never moves an optimization out of on its own. An operator does from `rollback-failed`
 * (`retry-rollback` sends it back to `rolling-back`; `resolve` closes it as `resolved`), and a failed stage gate of a
 * staged batch rolls back its `completed` members (`RollBackStage`).
 */
export const TERMINAL_STATUSES: readonly OptimizationStatus[] = [
  'completed',
  'dry-run-completed',
  'denied',
  'expired',
  'cancelled',
  'failed',
  'rolled-back',
  'rollback-failed',
  'resolved',
  'out-of-scope',
];
/**
 * Statuses in which an optimization is executing, or may still be (what a crash left behind waits for an operator's
 * reconciliation): what counts against the parallel execution slots (`--max-parallel`, a batch's own limit). Whether a
 * resource is free for another optimization is {@link RESOURCE_HELD_STATUSES}.
 */
export const ACTIVE_EXECUTION_STATUSES: readonly OptimizationStatus[] = ['scheduled', 'executing', 'validating', 'rolling-back', 'reconciliation-needed'];
/**
 * Statuses in which an optimization holds its resource: another optimization of it waits (the scheduler never
 * dispatches onto it, and pre-validation fails while one is there). {@link ACTIVE_EXECUTION_STATUSES} and
 * `rollback-failed`, until an operator retries it (`retry-rollback` → `rolling-back`, which releases it when it ends
 * `rolled-back`) or resolves it (`resolve` → `resolved`): the resource is in neither its original state nor the new
 * one, and a second change would build on it (and a later rollback undo to the wrong state). A `rollback-failed` one
 * runs nothing, so it takes no parallel slot.
 */
export const RESOURCE_HELD_STATUSES: readonly OptimizationStatus[] = [...ACTIVE_EXECUTION_STATUSES, 'rollback-failed'];
/** Statuses that wait for a person: an approver, or an operator who must check what a crash left behind. */
export const WAITING_FOR_PEOPLE_STATUSES: readonly OptimizationStatus[] = ['awaiting-approval', 'reconciliation-needed'];

/** Whether `status` is terminal (`initial` is not). */
export const isTerminal = (status: OptimizationStatus | 'initial'): boolean => (TERMINAL_STATUSES as readonly string[]).includes(status);

/** Statuses the engine moves on from by itself when it runs (neither terminal nor waiting for a person). */
export const MOVING_STATUSES: readonly OptimizationStatus[] = ['received', 'approved', 'scheduled', 'executing', 'validating', 'rolling-back'];

/**
 * Whether running the engine would go on with this optimization for real, changing the cloud: it is not a preview
 * and the engine moves it by itself ({@link MOVING_STATUSES}). A `--dry-run` never runs the engine over a store that
 * holds such work: the engine carries on everything the store holds, and a preview must change nothing.
 */
export const goesOnForReal = (s: { readonly status: OptimizationStatus | 'initial'; readonly dryRun?: boolean }): boolean =>
  s.dryRun !== true && (MOVING_STATUSES as readonly string[]).includes(s.status);
