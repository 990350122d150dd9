import { z } from 'zod';
import { executionWindow, type ChangeWindowPolicy } from './change-windows';
import { isMutatingStep } from './plans';
import type { KnownOptimizationState } from './decider';
import type { Recommendation } from './types';

/**
 * Cool-down per resource: no execution starts on a resource within `days` of the last change an optimization made
 * to it, so the previous change's effect (cost, performance, alarms) is seen on its own before the next one. The
 * optimization waits, it is not refused. 0 turns it off.
 */
export interface CoolDownPolicy {
  /** Days after the last change to a resource before another optimization may start on it. @defaultValue 0 (off) */
  readonly days: number;
}

export const DEFAULT_COOL_DOWN: CoolDownPolicy = { days: 0 };

export const coolDownSchema = z.strictObject({
  days: z.number({ error: 'must be a number of days' }).min(0, { error: 'must be at least 0 (0 turns the cool-down off)' }).max(365, { error: 'must be at most 365' }),
});

const DAY_MS = 24 * 60 * 60 * 1000;

/** When an execution ended (ISO): its start plus its duration; `undefined` while it runs. */
export function executionEndedAt(execution: { readonly startedAt: string; readonly durationMs?: number }): string | undefined {
  return execution.durationMs === undefined ? undefined : new Date(Date.parse(execution.startedAt) + execution.durationMs).toISOString();
}

/**
 * When an optimization last changed its resource (ISO), or `undefined` when it never did: a dry run, or nothing
 * mutating was completed. The end of its rollback when it rolled back, else the end of its execution; while the
 * execution runs, its start (the resource is busy then anyway).
 */
export function lastChangeAt(state: KnownOptimizationState): string | undefined {
  const execution = state.execution;
  if (state.dryRun || !execution || !execution.completedSteps.some((s) => isMutatingStep(s.step))) return undefined;
  if (state.rollback?.endedAt) return state.rollback.endedAt;
  return executionEndedAt(execution) ?? execution.startedAt;
}

/** What holds an execution that may not start now. */
export const START_HOLDS = ['freeze', 'change-window', 'cool-down'] as const;
export type StartHold = (typeof START_HOLDS)[number];

/** What an `ExecutionDeferred` says holds a batch member: a start hold, the daily blast-radius limit or a staged batch's soak. */
export const DEFERRAL_HOLDS = [...START_HOLDS, 'daily-limit', 'stage-soak'] as const;
export type DeferralHold = (typeof DEFERRAL_HOLDS)[number];

export type StartVerdict = { readonly allowed: true } | { readonly allowed: false; readonly hold: StartHold; readonly until: string; readonly reason: string };

/**
 * Whether an execution of `rec` may start at `now`: not within the cool-down after `lastChange` (the latest change any
 * optimization made to the resource, see {@link lastChangeAt}), and not outside its change windows or in a freeze
 * ({@link executionWindow}). The cool-down is answered first: a window that opens before it ends is no reason to start;
 * its `until` is then the first instant after it the windows and freezes allow.
 */
export function startVerdict(
  policy: { readonly coolDown: CoolDownPolicy; readonly changeWindows: ChangeWindowPolicy },
  rec: Recommendation,
  now: Date,
  lastChange: string | undefined,
  liveTags?: Readonly<Record<string, string>>,
): StartVerdict {
  if (policy.coolDown.days > 0 && lastChange !== undefined) {
    const until = Date.parse(lastChange) + policy.coolDown.days * DAY_MS;
    if (now.getTime() < until) {
      const at = new Date(until).toISOString();
      const reason = `cool-down of ${policy.coolDown.days} day(s) after the last change to ${rec.resource.id} at ${lastChange}: waits until ${at}`;
      // Its end may fall in a freeze or outside its windows: the start is the first instant both allow.
      const then = executionWindow(policy.changeWindows, rec, new Date(until), liveTags);
      return then.allowed ? { allowed: false, hold: 'cool-down', until: at, reason } : { allowed: false, hold: 'cool-down', until: then.until, reason: `${reason}; then ${then.reason}` };
    }
  }
  return executionWindow(policy.changeWindows, rec, now, liveTags);
}
