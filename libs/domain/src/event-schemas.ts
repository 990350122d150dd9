import { z } from 'zod';
import { DomainError } from './errors';
import { clientTokenFor } from './ids';
import { BATCH_MODES, EVENT_SCHEMA_VERSION, type AnyOptexEvent } from './events';
import { PERFORMANCE_METRICS, RISK_LEVELS } from './types';
import { SCOPE_RULES, type ScopeRule } from './scope';
import { controlSchemas } from './control';
import { HALT_RULES, type HaltRule } from './blast-radius';
import { circuitBreakerSchemas } from './circuit-breakers';
import { DEFERRAL_HOLDS, type DeferralHold } from './cool-down';
import { BACKUP_EXPIRY_OUTCOMES } from './backups';
import { settingsSchemas } from './store-settings';

// Stored events are parsed, never cast: every event read from the store goes through {@link parseStoredEvent},
// which upcasts older schema versions to the current one and validates the data against the current schema.

const text = z.string();
const iso = z.string();
const tags = z.record(z.string(), z.string());
const risk = z.enum(RISK_LEVELS as unknown as ['LOW', 'MEDIUM', 'HIGH', 'CRITICAL']);
const outputs = z.record(z.string(), z.string());
const errorInfo = z.object({ code: text, message: text });
const base = { optimizationId: text, at: iso };

const stepSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('stop-instance'), instanceId: text }),
  z.object({ kind: z.literal('wait-instance-stopped'), instanceId: text }),
  z.object({ kind: z.literal('modify-instance-type'), instanceId: text, instanceType: text }),
  z.object({ kind: z.literal('start-instance'), instanceId: text }),
  z.object({ kind: z.literal('wait-instance-running'), instanceId: text }),
  z.object({ kind: z.literal('modify-volume'), volumeId: text, volumeType: text, iops: z.number().optional(), throughput: z.number().optional() }),
  z.object({ kind: z.literal('create-snapshot'), volumeId: text, description: text, tags }),
  z.object({ kind: z.literal('wait-snapshot-completed'), snapshotFrom: z.literal('create-snapshot') }),
  z.object({ kind: z.literal('delete-volume'), volumeId: text }),
  z.object({
    kind: z.literal('create-volume-from-snapshot'),
    snapshotFrom: z.literal('create-snapshot'),
    availabilityZone: text,
    volumeType: text,
    sizeGiB: z.number(),
    iops: z.number().optional(),
    throughput: z.number().optional(),
    tags,
  }),
  z.object({ kind: z.literal('delete-snapshot'), snapshotId: text }),
  z.object({ kind: z.literal('release-address'), allocationId: text }),
  // `tags`: absent in steps recorded before the rollback gave the address its tags back.
  z.object({ kind: z.literal('allocate-address'), publicIp: text, tags: tags.optional() }),
  z.object({ kind: z.literal('purchase-reserved-instances'), offeringId: text, instanceCount: z.number(), limitPrice: z.number().optional() }),
  z.object({ kind: z.literal('list-reserved-instances'), reservedInstancesFrom: z.literal('purchase-reserved-instances'), instanceCount: z.number(), price: z.number() }),
]);

const observedSchema = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('instance'),
    id: text,
    instanceType: text,
    state: text,
    tags,
    cpuP95: z.number().optional(),
    targetOffering: z.object({ instanceType: text, location: text, offered: z.boolean() }).optional(),
  }),
  z.object({
    kind: z.literal('volume'),
    id: text,
    volumeType: text,
    sizeGiB: z.number(),
    iops: z.number().optional(),
    throughput: z.number().optional(),
    state: text,
    attachedTo: text.optional(),
    availabilityZone: text,
    tags,
    modificationState: text.optional(),
    lastModificationStartedAt: iso.optional(),
  }),
  z.object({ kind: z.literal('snapshot'), id: text, sizeGiB: z.number(), state: text, usedByImages: z.array(text), tags: tags.optional() }),
  z.object({ kind: z.literal('address'), allocationId: text, publicIp: text, associationId: text.optional(), tags: tags.optional() }),
  z.object({ kind: z.literal('reserved-instances-offering'), offeringId: text, instanceType: text, fixedPrice: z.number(), recurringHourly: z.number(), durationSeconds: z.number() }),
]);

// The recommendation as stored: the shape the input schema produced, read leniently (the input contract may
// tighten over time; what was accepted then must still be readable). Every field of `Recommendation` must be here:
// zod drops keys a shape does not name, so a field left out is lost on every read (the spec checks each one).
const storedAction = z.discriminatedUnion('type', [
  z.object({ type: z.literal('rightsize'), currentInstanceType: text, targetInstanceType: text }),
  z.object({ type: z.literal('stop-idle') }),
  z.object({ type: z.literal('modify-volume'), targetVolumeType: text, iops: z.number().optional(), throughput: z.number().optional() }),
  z.object({ type: z.literal('delete-volume'), snapshotFirst: z.boolean() }),
  z.object({ type: z.literal('delete-snapshot') }),
  z.object({ type: z.literal('release-address') }),
  z.object({ type: z.literal('purchase-reserved-instances'), offeringId: text, instanceCount: z.number(), limitPrice: z.number().optional() }),
]);
const storedRecommendation = z.object({
  recommendationId: text,
  source: text,
  accountId: text,
  region: text,
  resource: z.object({
    type: z.enum(['ec2:instance', 'ec2:volume', 'ec2:elastic-ip', 'ec2:snapshot', 'ec2:reserved-instances']),
    id: text,
    tags: tags.optional(),
    monthlyCost: z.number().optional(),
  }),
  action: storedAction,
  estimatedMonthlySavings: z.number(),
  currency: z.literal('USD'),
  priority: risk.optional(),
  createdAt: iso.optional(),
  requestedBy: text.optional(),
});

const performanceVerdict = z.enum(['ok', 'degraded', 'unknown']);
const performance = z.object({
  cpuP95Before: z.number().optional(),
  cpuP95After: z.number().optional(),
  statusChecksPassed: z.boolean().optional(),
  afterWindow: z.object({ from: iso, to: iso }).optional(),
  soakMinutes: z.number().optional(),
  comparison: z
    .array(
      z.object({
        metric: z.enum(PERFORMANCE_METRICS),
        before: z.union([z.number(), z.boolean()]).optional(),
        after: z.union([z.number(), z.boolean()]).optional(),
        verdict: performanceVerdict,
        counts: z.boolean(),
        detail: text,
      }),
    )
    .optional(),
  verdict: performanceVerdict,
});
const phase = z.enum(['execution', 'rollback']);
const authority = z.enum(['team-lead', 'finops-manager', 'change-board']);
const factor = z.object({ factor: z.enum(['production', 'criticality', 'large', 'big-impact', 'irreversible', 'costs-more']), detail: text });

const riskBasis = z.object({
  stated: z.object({ tags: tags.optional(), monthlyCost: z.number().optional(), instanceType: text.optional() }),
  live: z
    .object({ found: z.boolean(), error: errorInfo.optional(), observed: observedSchema.optional(), monthlyCost: z.number().optional(), unpriced: z.array(text).optional() })
    .optional(),
});

const changePlan = z.object({
  observed: observedSchema,
  change: text,
  steps: z.array(stepSchema),
  rollback: z.array(stepSchema),
  reversible: z.enum(['yes', 'partial', 'no']),
  monthlyCostChange: z.number().optional(),
  unpriced: z.array(text).optional(),
  riskLevel: risk,
  riskFactors: z.array(factor),
});

/** The current schema of every stored event type's data. */
const SCHEMAS = {
  OptimizationReceived: z.object({ ...base, recommendation: storedRecommendation, dryRun: z.boolean(), deliveryId: text }),
  ResubmissionConflicted: z.object({
    ...base,
    deliveryId: text,
    recommendation: storedRecommendation,
    differences: z.array(z.object({ path: text, recorded: z.unknown().optional(), resubmitted: z.unknown().optional() })).min(1),
  }),
  RiskAssessed: z.object({ ...base, baseLevel: risk, level: risk, factors: z.array(factor), policyVersion: text, basis: riskBasis.optional() }),
  RiskReassessed: z.object({
    ...base,
    previousLevel: risk,
    baseLevel: risk,
    level: risk,
    factors: z.array(factor),
    policyVersion: text,
    basis: riskBasis.optional(),
    returnedForApproval: z.boolean(),
  }),
  ApprovalGranted: z.object({
    ...base,
    mode: z.enum(['auto', 'manual']),
    by: text.optional(),
    reason: text.optional(),
    approvers: z.array(text),
    final: z.boolean(),
    plan: changePlan.optional(),
  }),
  PlanChanged: z.object({ ...base, differences: z.array(text), plan: changePlan }),
  ApprovalRequested: z.object({
    ...base,
    authority,
    requiredApprovals: z.number().int().positive(),
    expiresAt: iso,
    eligibleApprovers: z.array(z.object({ id: text, aliases: z.array(text).optional() })).optional(),
    plan: changePlan.optional(),
  }),
  ApprovalDenied: z.object({ ...base, by: text, reason: text }),
  ApprovalExpired: z.object({ ...base, expiresAt: iso }),
  ExecutionScheduled: z.object({ ...base, batchId: text, notBefore: iso, priority: risk }),
  ExecutionStarted: z.object({ ...base, dryRun: z.boolean() }),
  PreValidationPassed: z.object({ ...base, observed: observedSchema }),
  PreValidationFailed: z.object({ ...base, reasons: z.array(text), observed: observedSchema.optional() }),
  RollbackPlanRecorded: z.object({ ...base, steps: z.array(stepSchema), reversible: z.enum(['yes', 'partial', 'no']) }),
  ExecutionStepStarted: z.object({ ...base, index: z.number().int().min(0), step: stepSchema, clientToken: text }),
  ExecutionStepCompleted: z.object({
    ...base,
    index: z.number().int().min(0),
    step: stepSchema,
    outputs,
    dryRun: z.boolean(),
    clientToken: text.optional(),
    reconciled: z.boolean(),
  }),
  StepEffectNotFound: z.object({ ...base, phase, index: z.number().int().min(0), clientToken: text, evidence: text }),
  ReconciliationRequired: z.object({ ...base, phase, index: z.number().int().min(0), step: stepSchema, clientToken: text, reason: text }),
  ExecutionSucceeded: z.object({ ...base, durationMs: z.number(), dryRun: z.boolean() }),
  ExecutionFailed: z.object({ ...base, error: errorInfo, failedStepIndex: z.number().int().optional(), durationMs: z.number() }),
  ValidationPassed: z.object({ ...base, actualMonthlySavings: z.number().optional(), accuracyPct: z.number().optional(), unpriced: z.array(text).optional(), performance }),
  ValidationFailed: z.object({
    ...base,
    reasons: z.array(text),
    actualMonthlySavings: z.number().optional(),
    accuracyPct: z.number().optional(),
    unpriced: z.array(text).optional(),
    performance,
  }),
  RollbackStarted: z.object({ ...base, reason: text, steps: z.array(stepSchema) }),
  RollbackStepStarted: z.object({ ...base, index: z.number().int().min(0), step: stepSchema, clientToken: text }),
  RollbackStepCompleted: z.object({ ...base, index: z.number().int().min(0), step: stepSchema, outputs, clientToken: text.optional(), reconciled: z.boolean() }),
  RollbackCompleted: z.object(base),
  RollbackFailed: z.object({ ...base, error: errorInfo, failedStepIndex: z.number().int().optional() }),
  OptimizationCancelled: z.object({ ...base, by: text, reason: text }),
  RollbackRetried: z.object({ ...base, by: text, reason: text, failedStepIndex: z.number().int().nonnegative().optional() }),
  OptimizationResolved: z.object({ ...base, by: text, note: text, from: z.enum(['rollback-failed', 'reconciliation-needed']) }),
  OptimizationOutOfScope: z.object({
    ...base,
    stage: z.enum(['assessment', 'pre-validation']),
    violations: z.array(z.object({ rule: z.enum(SCOPE_RULES as unknown as [ScopeRule, ...ScopeRule[]]), reason: text })).min(1),
    observed: observedSchema.optional(),
  }),
  BackupSnapshotExpired: z.object({
    ...base,
    snapshotId: text,
    volumeId: text,
    createdAt: iso,
    retentionDays: z.number().int().positive(),
    outcome: z.enum(BACKUP_EXPIRY_OUTCOMES),
    error: errorInfo.optional(),
  }),
  RecommendationRejected: z.object({
    deliveryId: text,
    index: z.number().int().optional(),
    recommendationId: text.optional(),
    raw: z.unknown(),
    errors: z.array(z.object({ path: text, message: text })),
    dryRun: z.boolean().optional(),
    at: iso,
  }),
  RecommendationDuplicated: z.object({ deliveryId: text, optimizationId: text, recommendationId: text, at: iso }),
  BatchPlanned: z.object({ batchId: text, mode: z.enum(BATCH_MODES as unknown as ['sequential']), maxParallel: z.number().int().positive(), notBefore: iso, optimizationIds: z.array(text), at: iso }),
  BatchCompleted: z.object({ batchId: text, at: iso }),
  ExecutionDeferred: z.object({ batchId: text, optimizationId: text, hold: z.enum(DEFERRAL_HOLDS), until: iso, reason: text, at: iso }),
  BatchHalted: z.object({ batchId: text, rule: z.enum(HALT_RULES as unknown as [HaltRule, ...HaltRule[]]), reason: text, dispatched: z.number().int().min(0), errors: z.number().int().min(0), stage: z.number().int().positive().optional(), at: iso }),
  BatchContinued: z.object({ batchId: text, by: text, reason: text, rule: z.enum(HALT_RULES as unknown as [HaltRule, ...HaltRule[]]), at: iso }),
  StageStarted: z.object({ batchId: text, stage: z.number().int().positive(), of: z.number().int().positive(), optimizationIds: z.array(text), at: iso }),
  StagePassed: z.object({ batchId: text, stage: z.number().int().positive(), of: z.number().int().positive(), at: iso }),
  StageFailed: z.object({ batchId: text, stage: z.number().int().positive(), of: z.number().int().positive(), failed: z.array(text), rolledBack: z.array(text), at: iso }),
  ...controlSchemas,
  ...circuitBreakerSchemas,
  ...settingsSchemas,
} satisfies Record<AnyOptexEvent['type'], z.ZodType>;

/** Every event type optex stores. */
export const STORED_EVENT_TYPES = Object.keys(SCHEMAS) as readonly AnyOptexEvent['type'][];

/** The schema version each event type is written with now (types not listed: {@link EVENT_SCHEMA_VERSION}). */
export const EVENT_SCHEMA_VERSIONS: Readonly<Partial<Record<AnyOptexEvent['type'], number>>> = {
  ExecutionStepCompleted: 2,
  RollbackStepCompleted: 2,
  ExecutionDeferred: 2,
};

/** The version an event of `type` is written with now. */
export const schemaVersionOf = (type: string): number =>
  (Object.hasOwn(EVENT_SCHEMA_VERSIONS, type) ? EVENT_SCHEMA_VERSIONS[type as AnyOptexEvent['type']] : undefined) ?? EVENT_SCHEMA_VERSION;

type Upcaster = (data: Record<string, unknown>, stream: string) => Record<string, unknown>;

/** The optimization id of a stream named `optimization-<id>` (the upcasters' fallback when data lacks it). */
const idOfStream = (stream: string): string => stream.replace(/^optimization-/, '');

/**
 * Upcasters from version N to N+1, by type. Version 1 step completions had no client token: it is derived the
 * way the executor derives it ({@link clientTokenFor}) for mutating steps that were not dry runs, and they were
 * never reconciled. A version 1 `ExecutionDeferred` named its hold for start holds only (and not before cool-downs
 * existed): the hold is read from the reason the scheduler wrote ({@link deferralHoldOfReason}).
 */
const UPCASTERS: Readonly<Partial<Record<AnyOptexEvent['type'], Readonly<Record<number, Upcaster>>>>> = {
  ExecutionStepCompleted: {
    1: (d, stream) => ({
      ...d,
      ...(d['dryRun'] === true || isWait(d['step']) ? {} : { clientToken: clientTokenFor(String(d['optimizationId'] ?? idOfStream(stream)), 'execution', Number(d['index'])) }),
      reconciled: false,
    }),
  },
  RollbackStepCompleted: {
    1: (d, stream) => ({
      ...d,
      ...(isWait(d['step']) ? {} : { clientToken: clientTokenFor(String(d['optimizationId'] ?? idOfStream(stream)), 'rollback', Number(d['index'])) }),
      reconciled: false,
    }),
  },
  ExecutionDeferred: {
    1: (d) => ({ ...d, hold: d['hold'] ?? deferralHoldOfReason(String(d['reason'] ?? '')) }),
  },
};

/**
 * The hold of a version 1 `ExecutionDeferred` without one, from how its reason begins: `freeze …`, `blast radius: …`
 * (the daily limit), `staged rollout: …` (a stage's soak), else outside the change windows.
 */
export function deferralHoldOfReason(reason: string): DeferralHold {
  if (reason.startsWith('freeze ')) return 'freeze';
  if (reason.startsWith('blast radius: ')) return 'daily-limit';
  if (reason.startsWith('staged rollout: ')) return 'stage-soak';
  return 'change-window';
}

function isWait(step: unknown): boolean {
  const kind = step !== null && typeof step === 'object' ? (step as { kind?: unknown }).kind : undefined;
  return typeof kind === 'string' && kind.startsWith('wait-');
}

/** A stored event as the store returns it: name, data, metadata (with `schemaVersion`) and where it lives. */
export interface StoredEventInput {
  readonly type: string;
  readonly data: unknown;
  readonly metadata?: Readonly<Record<string, unknown>>;
  readonly stream?: string;
  readonly revision?: bigint;
}

const where = (e: StoredEventInput): string => (e.stream !== undefined ? ` (${e.stream}${e.revision !== undefined ? `@${e.revision}` : ''})` : '');

/**
 * Parses one stored event into a current-version domain event: upcasts it from `metadata.schemaVersion` (1 when
 * absent: the first events were written without it) to the current version, then validates it against the
 * current schema. Throws `DomainError('UNKNOWN_EVENT')` naming an unknown type or a version newer than this code
 * knows, and `DomainError('INVALID_EVENT')` naming the first bad field of data that does not fit its schema.
 */
export function parseStoredEvent(e: StoredEventInput): AnyOptexEvent {
  const schema = Object.hasOwn(SCHEMAS, e.type) ? (SCHEMAS as Record<string, z.ZodType>)[e.type] : undefined;
  if (!schema) throw new DomainError('UNKNOWN_EVENT', `unknown event type "${e.type}"${where(e)}: this version of optex cannot read it`);
  const current = schemaVersionOf(e.type);
  const raw = e.metadata?.['schemaVersion'];
  const stored = raw === undefined ? 1 : Number(raw);
  if (!Number.isInteger(stored) || stored < 1) throw new DomainError('INVALID_EVENT', `${e.type}${where(e)}: schemaVersion ${String(raw)} is not a version`);
  if (stored > current) {
    throw new DomainError('UNKNOWN_EVENT', `${e.type}${where(e)} has schema version ${stored}; this version of optex knows up to ${current}`);
  }
  if (e.data === null || typeof e.data !== 'object' || Array.isArray(e.data)) throw new DomainError('INVALID_EVENT', `${e.type}${where(e)}: data is not an object`);
  let data = e.data as Record<string, unknown>;
  for (let v = stored; v < current; v++) {
    const up = UPCASTERS[e.type as AnyOptexEvent['type']]?.[v];
    if (!up) throw new DomainError('UNKNOWN_EVENT', `${e.type}${where(e)}: no upcaster from schema version ${v}`);
    data = up(data, e.stream ?? '');
  }
  const result = schema.safeParse(data);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw new DomainError('INVALID_EVENT', `${e.type}${where(e)}: ${issue.path.length ? issue.path.join('.') : '(data)'}: ${issue.message}`);
  }
  return { type: e.type, data: result.data } as AnyOptexEvent;
}
