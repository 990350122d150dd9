import { z } from 'zod';
import type { KnownOptimizationState, OptimizationStatus } from './decider';
import { fieldErrorsOf } from './field-errors';
import { viewOf } from './projection';
import type { ParseResult } from './recommendation';
import { ACTION_TYPES, RISK_LEVELS, type ActionType, type Authority, type RiskLevel } from './types';

// ── Queries over optimizations: the filters of the API's list, and savings realized against estimated ──

const STATUS_SET: Readonly<Record<OptimizationStatus, true>> = {
  received: true,
  'awaiting-approval': true,
  approved: true,
  scheduled: true,
  executing: true,
  validating: true,
  'rolling-back': true,
  'reconciliation-needed': true,
  completed: true,
  'dry-run-completed': true,
  denied: true,
  expired: true,
  cancelled: true,
  failed: true,
  'rolled-back': true,
  'rollback-failed': true,
  resolved: true,
  'out-of-scope': true,
};
/** Every status an optimization can have. */
export const OPTIMIZATION_STATUSES = Object.keys(STATUS_SET) as OptimizationStatus[];

/** Statuses that wait for an operator (not an approver): a rollback that failed, a step nobody can tell happened. */
export const NEEDS_OPERATOR_STATUSES: readonly OptimizationStatus[] = ['rollback-failed', 'reconciliation-needed'];

/** What a list of optimizations is narrowed to; each present criterion must hold (a list criterion: any of its values). */
export interface OptimizationFilter {
  readonly status?: readonly OptimizationStatus[];
  readonly risk?: readonly RiskLevel[];
  readonly authority?: readonly Authority[];
  readonly account?: readonly string[];
  readonly region?: readonly string[];
  readonly action?: readonly ActionType[];
  /** Received at or after (inclusive). */
  readonly receivedFrom?: Date;
  /** Received before (exclusive). */
  readonly receivedBefore?: Date;
}

const list = <T extends string>(values: readonly T[]) =>
  z.preprocess((raw) => (typeof raw === 'string' ? raw.split(',').map((s) => s.trim()).filter(Boolean) : raw), z.array(z.enum(values as unknown as [T, ...T[]])).min(1));
/** An ISO-8601 time with its zone: one instant, anywhere (`1`, or a time read in the machine's zone, is not one). */
const instant = z.iso.datetime({ offset: true, error: 'must be an ISO-8601 time with a zone, e.g. 2026-11-01T00:00:00Z' });
const time = instant.transform((s) => new Date(s));

/** `value` as an instant when it is an ISO-8601 time with its zone, else undefined (the API's `at`, the CLI's `--at`). */
export function parseInstant(value: string): Date | undefined {
  return instant.safeParse(value).success ? new Date(value) : undefined;
}

const filterSchema = z.strictObject({
  status: list(OPTIMIZATION_STATUSES).optional(),
  risk: list(RISK_LEVELS).optional(),
  authority: list<Authority>(['team-lead', 'finops-manager', 'change-board']).optional(),
  account: z.preprocess((raw) => (typeof raw === 'string' ? raw.split(',').map((s) => s.trim()) : raw), z.array(z.string().regex(/^\d{12}$/, { error: 'must be 12 digits' })).min(1)).optional(),
  region: z.preprocess((raw) => (typeof raw === 'string' ? raw.split(',').map((s) => s.trim()) : raw), z.array(z.string().min(1)).min(1)).optional(),
  action: list(ACTION_TYPES).optional(),
  receivedFrom: time.optional(),
  receivedBefore: time.optional(),
});

/** Parses query parameters (comma-separated lists) into a filter; every bad parameter is named. */
export function parseOptimizationFilter(query: Readonly<Record<string, unknown>>): ParseResult<OptimizationFilter> {
  const parsed = filterSchema.safeParse(query, { reportInput: true });
  return parsed.success ? { ok: true, value: parsed.data } : { ok: false, errors: fieldErrorsOf(parsed.error.issues) };
}

const within = <T>(values: readonly T[] | undefined, value: T | undefined): boolean => values === undefined || (value !== undefined && values.includes(value));

export function matchesFilter(state: KnownOptimizationState, filter: OptimizationFilter): boolean {
  const rec = state.recommendation;
  const received = Date.parse(state.receivedAt);
  return (
    within(filter.status, state.status) &&
    within(filter.risk, state.risk?.level) &&
    within(filter.authority, state.approval.authority) &&
    within(filter.account, rec.accountId) &&
    within(filter.region, rec.region) &&
    within(filter.action, rec.action.type) &&
    (filter.receivedFrom === undefined || received >= filter.receivedFrom.getTime()) &&
    (filter.receivedBefore === undefined || received < filter.receivedBefore.getTime())
  );
}

// ── Savings ──

export const SAVINGS_GROUPINGS = ['account', 'action', 'month'] as const;
export type SavingsGrouping = (typeof SAVINGS_GROUPINGS)[number];

/** Savings of one group: what the analyzers estimated for the completed changes, what they realize, per month. */
export interface SavingsRow {
  readonly key: string;
  /** Completed (not dry-run) optimizations in the group. */
  readonly completed: number;
  readonly estimatedMonthlySavings: number;
  /** Net realized savings of the priced ones. */
  readonly realizedMonthlySavings: number;
  /** Completed ones whose realized savings the price book cannot price (left out of `realizedMonthlySavings`). */
  readonly unpriced: number;
}

const round2 = (n: number): number => Math.round(n * 100) / 100;

/**
 * Realized against estimated savings of the completed optimizations, grouped by account, action or month (UTC month
 * the execution started), sorted by key. An unpriced saving is counted as unpriced, never as $0.
 */
export function savingsBy(states: Iterable<KnownOptimizationState>, grouping: SavingsGrouping): SavingsRow[] {
  const rows = new Map<string, { completed: number; estimated: number; realized: number; unpriced: number }>();
  for (const state of states) {
    if (state.status !== 'completed' || state.dryRun) continue;
    const key = grouping === 'account' ? state.recommendation.accountId : grouping === 'action' ? state.recommendation.action.type : state.execution.startedAt.slice(0, 7);
    const row = rows.get(key) ?? { completed: 0, estimated: 0, realized: 0, unpriced: 0 };
    const view = viewOf(state);
    row.completed++;
    row.estimated += view.estimatedMonthlySavings;
    if (view.actualMonthlySavings === null) row.unpriced++;
    else row.realized += view.actualMonthlySavings;
    rows.set(key, row);
  }
  return [...rows.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([key, r]) => ({ key, completed: r.completed, estimatedMonthlySavings: round2(r.estimated), realizedMonthlySavings: round2(r.realized), unpriced: r.unpriced }));
}
