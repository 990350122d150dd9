import { z } from 'zod';
import { ACTION_TYPES, RISK_LEVELS } from './types';
import type { KnownOptimizationState, OptimizationState, OptimizationStatus } from './decider';
import { CONTROL_STREAM, type ControlEvent } from './control';
import { REJECTED_STREAM, type RecommendationRejected } from './events';

// The public event contract: what optex publishes on `optex.events.v1` for dashboards and other systems. Domain events
// (the log) and integration events (Kafka) are separate types; this module is the one translation between them, so an
// internal change to a stored event changes nothing here unless this file changes — and docs/events/ pins the shapes.

// ── Schemas ──

const text = z.string().min(1);
const isoTime = z.iso.datetime({ offset: true });
const money = z.number();
const errorInfo = z.strictObject({ code: z.string(), message: z.string() }).describe('What failed: the AWS or optex error code and its message.');

/** What every optimization event says about the optimization, whatever happened to it. */
const optimizationFields = {
  optimizationId: z.uuid().describe('The optimization: UUIDv5 of source + recommendationId (a dry run has an id of its own).'),
  recommendationId: text.describe("The analyzer's id of the recommendation."),
  source: text.describe('The analyzer that sent the recommendation.'),
  accountId: z.string().regex(/^\d{12}$/),
  region: text,
  resource: z.strictObject({ type: z.enum(['ec2:instance', 'ec2:volume', 'ec2:elastic-ip', 'ec2:snapshot', 'ec2:reserved-instances']), id: text }),
  action: z.enum(ACTION_TYPES as unknown as ['rightsize']).describe('The change asked for.'),
  dryRun: z.boolean().describe('A preview: every call made with EC2 DryRun, nothing changed.'),
  status: z.string().describe('The status the optimization is in after this event.'),
  previousStatus: z.string().nullable().describe('The status before this event (null for the first one).'),
  riskLevel: z.enum(RISK_LEVELS as unknown as ['LOW']).nullable().describe('The assessed risk, null before assessment.'),
  estimatedMonthlySavings: money.describe("The analyzer's estimate, USD per month."),
  occurredAt: isoTime.describe('When optex recorded the change.'),
};

const optimizationEvent = <T extends z.core.$ZodShape>(status: OptimizationStatus, description: string, details: T) =>
  z.strictObject({ ...optimizationFields, status: z.literal(status).describe('The status the optimization is in after this event.'), ...details }).describe(description);

/**
 * The integration events, by CloudEvents type. One closed schema per type (no other fields), pinned by the files in
 * docs/events/: any change to a type's data is a new type (`.v2`), published beside the old one while consumers move.
 */
export const integrationEventSchemas = {
  'com.optex.optimization.received.v1': optimizationEvent('received', 'A recommendation was accepted and its optimization created.', {}),
  'com.optex.optimization.approval-requested.v1': optimizationEvent('awaiting-approval', 'The change waits for people to approve it.', {
    authority: z.enum(['team-lead', 'finops-manager', 'change-board']).nullable(),
    requiredApprovals: z.int().min(1),
    expiresAt: isoTime.nullable(),
  }),
  'com.optex.optimization.approved.v1': optimizationEvent('approved', 'The change is approved (automatically or by enough people) and queued.', {
    mode: z.enum(['auto', 'manual']),
    approvers: z.array(z.string()).describe('Who approved (empty when automatic).'),
  }),
  'com.optex.optimization.scheduled.v1': optimizationEvent('scheduled', 'The change was handed to an executor.', { batchId: text, notBefore: isoTime }),
  'com.optex.optimization.execution-started.v1': optimizationEvent('executing', 'The executor started the change (pre-validation first).', {}),
  'com.optex.optimization.validation-started.v1': optimizationEvent('validating', 'The change was made; its result is being validated.', {
    durationMs: z.number().min(0).nullable(),
  }),
  'com.optex.optimization.rollback-started.v1': optimizationEvent('rolling-back', 'The change is being undone.', { reason: z.string() }),
  'com.optex.optimization.completed.v1': optimizationEvent('completed', 'The change was made and validated.', {
    actualMonthlySavings: money.nullable().describe('Realized savings from the price book, USD per month; null when unpriced.'),
    accuracyPct: z.number().nullable(),
    unpriced: z.array(z.string()).describe('The price-book figures the realized savings lacked (empty when priced).'),
    durationMs: z.number().min(0).nullable(),
  }),
  'com.optex.optimization.dry-run-completed.v1': optimizationEvent('dry-run-completed', 'A preview ran every check and changed nothing.', {}),
  'com.optex.optimization.denied.v1': optimizationEvent('denied', 'An approver denied the change.', { by: z.string(), reason: z.string() }),
  'com.optex.optimization.expired.v1': optimizationEvent('expired', 'Nobody decided before the approval request expired.', { expiresAt: isoTime.nullable() }),
  'com.optex.optimization.cancelled.v1': optimizationEvent('cancelled', 'An operator cancelled the change before it executed.', { by: z.string(), reason: z.string() }),
  'com.optex.optimization.failed.v1': optimizationEvent('failed', 'The change failed before changing anything, or failed and had nothing to undo.', {
    error: errorInfo.nullable(),
    reasons: z.array(z.string()).describe('Pre-validation or validation problems, when that is what failed.'),
  }),
  'com.optex.optimization.rolled-back.v1': optimizationEvent('rolled-back', 'The change was undone.', { reason: z.string() }),
  'com.optex.optimization.rollback-failed.v1': optimizationEvent('rollback-failed', 'Undoing the change failed: an operator must look.', { reason: z.string(), error: errorInfo.nullable() }),
  'com.optex.optimization.reconciliation-needed.v1': optimizationEvent('reconciliation-needed', 'After a crash EC2 could neither confirm nor rule out a step: an operator must look.', {
    reason: z.string(),
  }),
  'com.optex.optimization.resolved.v1': optimizationEvent('resolved', 'An operator closed an optimization the engine could not finish.', {
    by: z.string(),
    note: z.string(),
    from: z.enum(['rollback-failed', 'reconciliation-needed']),
  }),
  'com.optex.optimization.out-of-scope.v1': optimizationEvent('out-of-scope', 'The scope guard refused the change; nothing was changed.', {
    stage: z.enum(['assessment', 'pre-validation']),
    violations: z.array(z.strictObject({ rule: z.string(), reason: z.string() })),
  }),
  'com.optex.recommendation.rejected.v1': z
    .strictObject({
      deliveryId: text.describe('Which submission: a file hash and index, or topic/partition/offset.'),
      index: z.int().min(0).nullable(),
      recommendationId: z.string().nullable(),
      errors: z.array(z.strictObject({ path: z.string(), message: z.string() })).describe('Every field at fault.'),
      occurredAt: isoTime,
    })
    .describe('A submitted record was not a valid recommendation.'),
  'com.optex.execution.paused.v1': z.strictObject({ by: z.string(), reason: z.string(), occurredAt: isoTime }).describe('The kill switch: no new execution step starts.'),
  'com.optex.execution.resumed.v1': z.strictObject({ by: z.string(), reason: z.string(), pausedSince: isoTime, occurredAt: isoTime }).describe('Execution goes on after a pause.'),
} as const;

export type IntegrationEventType = keyof typeof integrationEventSchemas;
export const INTEGRATION_EVENT_TYPES = Object.keys(integrationEventSchemas) as IntegrationEventType[];

/** An integration event before it is put in a CloudEvent: its type, its subject (what it is about) and its data. */
export interface IntegrationEventOut {
  readonly type: IntegrationEventType;
  /** CloudEvents `subject`: the optimization id, or the stream for events about no optimization. */
  readonly subject: string;
  readonly data: Readonly<Record<string, unknown>>;
}

/** The CloudEvents type published for each status an optimization can enter. */
const TYPE_OF_STATUS: Readonly<Record<OptimizationStatus, IntegrationEventType>> = {
  received: 'com.optex.optimization.received.v1',
  'awaiting-approval': 'com.optex.optimization.approval-requested.v1',
  approved: 'com.optex.optimization.approved.v1',
  scheduled: 'com.optex.optimization.scheduled.v1',
  executing: 'com.optex.optimization.execution-started.v1',
  validating: 'com.optex.optimization.validation-started.v1',
  'rolling-back': 'com.optex.optimization.rollback-started.v1',
  completed: 'com.optex.optimization.completed.v1',
  'dry-run-completed': 'com.optex.optimization.dry-run-completed.v1',
  denied: 'com.optex.optimization.denied.v1',
  expired: 'com.optex.optimization.expired.v1',
  cancelled: 'com.optex.optimization.cancelled.v1',
  failed: 'com.optex.optimization.failed.v1',
  'rolled-back': 'com.optex.optimization.rolled-back.v1',
  'rollback-failed': 'com.optex.optimization.rollback-failed.v1',
  'reconciliation-needed': 'com.optex.optimization.reconciliation-needed.v1',
  resolved: 'com.optex.optimization.resolved.v1',
  'out-of-scope': 'com.optex.optimization.out-of-scope.v1',
};

// ── Translation ──

/**
 * The integration event an optimization event calls for, given the stream's state just before and just after it:
 * one when the status changed (also back to one it had left: a changed plan asked again, a rollback retried),
 * none otherwise — step intents, step completions, single approvals of several are internal progress.
 * `occurredAt` is when the log recorded the event. `nextType`: the type of the stream's next event when it was appended
 * with this one. A failed execution or validation that a rollback follows (the decider appends `RollbackStarted` with
 * it) publishes no `failed`: `rollback-started` says why, with the status the change failed in as its previous status,
 * so `failed` is published only where it is the end.
 */
export function optimizationIntegrationEvent(before: OptimizationState, after: OptimizationState, recordedAt: Date, nextType?: string): IntegrationEventOut | undefined {
  if (after.status === 'initial' || before.status === after.status) return undefined;
  if (after.status === 'failed' && nextType === 'RollbackStarted') return undefined;
  return { type: TYPE_OF_STATUS[after.status], subject: after.optimizationId, data: { ...commonOf(before, after, recordedAt), ...detailsOf(after) } };
}

/** The status published as a previous one: a `failed` that a rollback followed at once was never published, so it is the status the change failed in. */
function publishedPrevious(before: OptimizationState, after: KnownOptimizationState): string | null {
  if (before.status === 'initial') return null;
  if (before.status === 'failed' && after.status === 'rolling-back') return before.validation ? 'validating' : 'executing';
  return before.status;
}

function commonOf(before: OptimizationState, after: KnownOptimizationState, recordedAt: Date): Record<string, unknown> {
  const rec = after.recommendation;
  return {
    optimizationId: after.optimizationId,
    recommendationId: rec.recommendationId,
    source: rec.source,
    accountId: rec.accountId,
    region: rec.region,
    resource: { type: rec.resource.type, id: rec.resource.id },
    action: rec.action.type,
    dryRun: after.dryRun,
    status: after.status,
    previousStatus: publishedPrevious(before, after),
    riskLevel: after.risk?.level ?? null,
    estimatedMonthlySavings: rec.estimatedMonthlySavings,
    occurredAt: recordedAt.toISOString(),
  };
}

function detailsOf(s: KnownOptimizationState): Record<string, unknown> {
  switch (s.status) {
    case 'received':
    case 'executing':
    case 'dry-run-completed':
      return {};
    case 'awaiting-approval':
      return { authority: s.approval.authority ?? null, requiredApprovals: s.approval.requiredApprovals ?? 1, expiresAt: s.approval.expiresAt ?? null };
    case 'approved':
      return { mode: s.approval.mode ?? 'auto', approvers: [...s.approval.approvers] };
    case 'scheduled':
      return { batchId: s.schedule.batchId, notBefore: s.schedule.notBefore };
    case 'validating':
      return { durationMs: s.execution.durationMs ?? null };
    case 'rolling-back':
    case 'rolled-back':
      return { reason: s.rollback.reason };
    case 'completed':
      return {
        actualMonthlySavings: s.validation.actualMonthlySavings ?? null,
        accuracyPct: s.validation.accuracyPct ?? null,
        unpriced: [...(s.validation.unpriced ?? [])],
        durationMs: s.execution.durationMs ?? null,
      };
    case 'denied':
      return { by: s.approval.deniedBy ?? '', reason: s.approval.denyReason ?? '' };
    case 'expired':
      return { expiresAt: s.approval.expiresAt ?? null };
    case 'cancelled':
      return { by: s.cancellation.by, reason: s.cancellation.reason };
    case 'failed':
      return { error: s.execution?.error ? { ...s.execution.error } : null, reasons: [...(s.execution?.preValidationProblems ?? []), ...(s.validation?.problems ?? [])] };
    case 'rollback-failed':
      return { reason: s.rollback.reason, error: s.rollback.error ? { ...s.rollback.error } : null };
    case 'reconciliation-needed':
      return { reason: s.reconciliation.reason };
    case 'resolved':
      return { by: s.resolution.by, note: s.resolution.note, from: s.resolution.from };
    case 'out-of-scope':
      return { stage: s.outOfScope.stage, violations: s.outOfScope.violations.map((v) => ({ rule: v.rule, reason: v.reason })) };
    default: {
      const _exhaustive: never = s;
      return _exhaustive;
    }
  }
}

/** The integration event of a rejected record: the reasons, never the raw payload (it may be large or sensitive). */
export function rejectionIntegrationEvent(event: RecommendationRejected, recordedAt: Date): IntegrationEventOut {
  const d = event.data;
  return {
    type: 'com.optex.recommendation.rejected.v1',
    subject: REJECTED_STREAM,
    data: {
      deliveryId: d.deliveryId,
      index: d.index ?? null,
      recommendationId: d.recommendationId ?? null,
      errors: d.errors.map((e) => ({ path: e.path, message: e.message })),
      occurredAt: recordedAt.toISOString(),
    },
  };
}

/** The integration event of the kill switch's events. */
export function controlIntegrationEvent(event: ControlEvent, recordedAt: Date): IntegrationEventOut {
  const occurredAt = recordedAt.toISOString();
  switch (event.type) {
    case 'ExecutionPaused':
      return { type: 'com.optex.execution.paused.v1', subject: CONTROL_STREAM, data: { by: event.data.by, reason: event.data.reason, occurredAt } };
    case 'ExecutionResumed':
      return { type: 'com.optex.execution.resumed.v1', subject: CONTROL_STREAM, data: { by: event.data.by, reason: event.data.reason, pausedSince: event.data.pausedSince, occurredAt } };
    default: {
      const _exhaustive: never = event;
      return _exhaustive;
    }
  }
}

/** Checks an integration event against its schema (the relay's last guard, and the specs' oracle); throws naming the field. */
export function assertIntegrationEvent(event: IntegrationEventOut): void {
  const result = integrationEventSchemas[event.type].safeParse(event.data);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw new Error(`integration event ${event.type}: ${issue.path.map(String).join('.') || '(root)'}: ${issue.message}`);
  }
}

/** Each integration event's JSON Schema (draft 2020-12), by CloudEvents type: what docs/events/<type>.schema.json holds. */
export function integrationEventJsonSchemas(): Record<IntegrationEventType, Record<string, unknown>> {
  const schemas = {} as Record<IntegrationEventType, Record<string, unknown>>;
  for (const type of INTEGRATION_EVENT_TYPES) {
    const schema = z.toJSONSchema(integrationEventSchemas[type], { io: 'output', target: 'draft-2020-12' }) as Record<string, unknown>;
    schemas[type] = { $id: `urn:optex:events:${type}`, title: type, ...schema };
  }
  return schemas;
}
