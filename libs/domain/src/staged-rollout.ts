import { z } from 'zod';
import { isExecutionError } from './blast-radius';
import { isTerminal, type OptimizationStatus } from './statuses';

/**
 * Staged rollout: a batch runs as stages — one optimization, then a canary share of the batch, then the rest. A stage
 * starts when the previous one passed its gate (every member ended, none of them in error: validations passed) and
 * soaked `soakMinutes` after it passed. A failed gate halts the batch (an operator may let it go on) and, with
 * `onGateFailure: 'roll-back-stage'`, rolls back the stage's members that completed. Pure.
 */
export interface StagedRolloutPolicy {
  /** @defaultValue false (a one-shot `run` would otherwise stop after the first optimization and wait for the soak) */
  readonly enabled: boolean;
  /** The canary stage's share of the batch's members, in percent (rounded up, at least one). @defaultValue 10 */
  readonly canaryPct: number;
  /** Minutes a passed stage soaks before the next starts. @defaultValue 30 */
  readonly soakMinutes: number;
  /** What a failed gate does besides halting the batch. @defaultValue 'roll-back-stage' */
  readonly onGateFailure: 'roll-back-stage' | 'halt';
}

export const DEFAULT_STAGED_ROLLOUT: StagedRolloutPolicy = { enabled: false, canaryPct: 10, soakMinutes: 30, onGateFailure: 'roll-back-stage' };

export const stagedRolloutSchema = z.strictObject({
  enabled: z.boolean(),
  canaryPct: z.number().gt(0, { error: 'must be greater than 0' }).lt(100, { error: 'must be less than 100' }),
  soakMinutes: z.number().min(0, { error: 'must be at least 0' }).max(7 * 24 * 60, { error: 'must be at most 10080 (7 days)' }),
  onGateFailure: z.enum(['roll-back-stage', 'halt'], { error: "must be 'roll-back-stage' or 'halt'" }),
});

/** The sizes of a batch's stages: `[1, canary, rest]`, without empty stages; one stage when staging is off. */
export function stageSizes(policy: StagedRolloutPolicy, members: number): number[] {
  if (!policy.enabled || members <= 1) return [members];
  const canary = Math.min(members - 1, Math.max(1, Math.ceil((members * policy.canaryPct) / 100)));
  const rest = members - 1 - canary;
  return rest > 0 ? [1, canary, rest] : [1, canary];
}

/** Names a stage in reasons: `stage 2 of 3 (canary)`. */
export function stageName(stage: number, of: number): string {
  const what = of === 1 ? 'all' : stage === 1 ? 'first' : stage === of ? 'rest' : 'canary';
  return `stage ${stage} of ${of} (${what})`;
}

export type StageGate =
  | { readonly kind: 'running'; readonly open: number }
  | { readonly kind: 'passed' }
  | { readonly kind: 'failed'; readonly failed: readonly string[] };

/** The gate of a stage from its members' statuses: still running while one is not terminal; failed when any went wrong. */
export function stageGate(members: ReadonlyMap<string, OptimizationStatus>): StageGate {
  const failed = [...members].filter(([, status]) => isExecutionError(status)).map(([id]) => id).sort();
  const open = [...members.values()].filter((status) => !isTerminal(status) && !isExecutionError(status)).length;
  if (open > 0) return { kind: 'running', open };
  return failed.length > 0 ? { kind: 'failed', failed } : { kind: 'passed' };
}

/** When the next stage may start: `soakMinutes` after the previous stage passed. */
export const soakUntil = (policy: StagedRolloutPolicy, passedAt: string): string => new Date(Date.parse(passedAt) + policy.soakMinutes * 60_000).toISOString();
