import { applyDecorators } from '@nestjs/common';
import { ApiResponse, type ReferenceObject, type ResponseObject, type SchemaObject } from '@nestjs/swagger';
import { ACTION_TYPES, AUTHORITY_ORDER, OPTIMIZATION_STATUSES, RISK_LEVELS, SAVINGS_GROUPINGS } from '@optex/domain';

/**
 * The shapes the API answers with, as OpenAPI 3 schemas under `components.schemas` (beside `Recommendation`). Each
 * operation names them in its responses (the decorators below); the API specs validate every response they receive
 * against the served document, so a body the document does not describe fails a spec.
 */
/** The schemas below, and `Recommendation` (the intake's, added by the document's builder). */
export type ApiSchemaName =
  | 'FieldError'
  | 'Error'
  | 'OptimizationRow'
  | 'OptimizationPage'
  | 'Optimization'
  | 'OptimizationAt'
  | 'History'
  | 'Decision'
  | 'Summary'
  | 'Metrics'
  | 'Savings'
  | 'ExecutionControl'
  | 'BatchGuard'
  | 'Submission'
  | 'SubmissionRefused'
  | 'Health';

const ref = (name: ApiSchemaName | 'Recommendation'): ReferenceObject => ({ $ref: `#/components/schemas/${name}` });
/** A schema that also allows null (OpenAPI 3.0's `nullable`; a `$ref` cannot carry it, so it goes in an `allOf`). */
const nullable = (schema: SchemaObject | ReferenceObject): SchemaObject => ('$ref' in schema ? { allOf: [schema], nullable: true } : { ...schema, nullable: true });
const instant: SchemaObject = { type: 'string', format: 'date-time' };
const count: SchemaObject = { type: 'integer', minimum: 0 };
const money: SchemaObject = { type: 'number' };
const strings: SchemaObject = { type: 'array', items: { type: 'string' } };
const object = (required: readonly string[], properties: Record<string, SchemaObject | ReferenceObject>, description?: string): SchemaObject => ({
  type: 'object',
  ...(description ? { description } : {}),
  required: [...required],
  properties,
  additionalProperties: false,
});
const status: SchemaObject = { type: 'string', enum: [...OPTIMIZATION_STATUSES] };

const row = object(
  [
    'optimizationId',
    'recommendationId',
    'resourceId',
    'action',
    'risk',
    'approval',
    'status',
    'dryRun',
    'estimatedMonthlySavings',
    'actualMonthlySavings',
    'accuracyPct',
    'unpriced',
    'reversible',
    'error',
    'executionMs',
    'rolledBack',
    'conflicts',
    'accountId',
    'region',
    'authority',
    'receivedAt',
    'expiresAt',
  ],
  {
    optimizationId: { type: 'string', format: 'uuid' },
    recommendationId: { type: 'string' },
    resourceId: { type: 'string' },
    action: { type: 'string', enum: [...ACTION_TYPES] },
    risk: nullable({ type: 'string', enum: [...RISK_LEVELS] }),
    approval: nullable({ type: 'string', enum: ['auto', 'manual', 'pending', 'denied', 'expired'] }),
    status,
    dryRun: { type: 'boolean' },
    estimatedMonthlySavings: money,
    actualMonthlySavings: nullable({ ...money, description: 'Net realized savings of a completed optimization; null otherwise, and when unpriced.' }),
    accuracyPct: nullable({ type: 'number' }),
    unpriced: nullable({ ...strings, description: 'The price-book figures a completed optimization’s savings need and the book lacks.' }),
    reversible: { type: 'string', enum: ['yes', 'partial', 'no'] },
    error: nullable({ type: 'string' }),
    executionMs: nullable(count),
    rolledBack: { type: 'boolean' },
    conflicts: { ...count, description: 'Resubmissions under its id with other content, recorded as conflicts.' },
    accountId: { type: 'string', pattern: '^\\d{12}$' },
    region: { type: 'string' },
    authority: nullable({ type: 'string', enum: [...AUTHORITY_ORDER] }),
    receivedAt: instant,
    expiresAt: nullable({ ...instant, description: 'When an approval still awaited expires (null unless awaiting-approval).' }),
  },
  'One optimization as `run --json` reports it, plus its account, region, the authority asked for and when it was received.',
);

const state: SchemaObject = {
  type: 'object',
  description: 'The optimization’s state folded from its events (the domain’s OptimizationState): what the recommendation said, risk, approval, plan, execution, validation, rollback; fields appear as the optimization gets there.',
  required: ['optimizationId', 'status', 'recommendation', 'approval'],
  properties: { optimizationId: { type: 'string', format: 'uuid' }, status, recommendation: ref('Recommendation'), approval: { type: 'object' } },
};

const fieldError = object(['path', 'message'], { path: { type: 'string', description: 'The field, dotted (e.g. `action.targetInstanceType`).' }, message: { type: 'string' } });

const error = object(
  ['statusCode', 'error', 'reason'],
  {
    statusCode: { type: 'integer' },
    error: { type: 'string', description: 'The HTTP status text, or the domain’s refusal code (e.g. NOT_AUTHORIZED, INVALID_STATE).' },
    reason: { type: 'string', description: 'Why, in words.' },
    errors: { type: 'array', items: ref('FieldError'), description: 'On a 400 about fields: every failing field.' },
  },
  'A refusal: nothing was changed. But a 503 for an outage: whether a change the call asked for was recorded is then unknown.',
);

const summary = object(
  [
    'received',
    'rejected',
    'duplicates',
    'conflicts',
    'byStatus',
    'totalExecutions',
    'successfulExecutions',
    'failedExecutions',
    'successRate',
    'averageExecutionMs',
    'optimizations',
    'estimatedMonthlySavings',
    'averageEstimatedMonthlySavings',
    'realizedMonthlySavings',
    'realizedCount',
    'averageRealizedMonthlySavings',
    'unpriced',
    'rollbacks',
    'rollbacksResolved',
    'previewsLeftOut',
  ],
  {
    received: count,
    rejected: count,
    duplicates: count,
    conflicts: count,
    byStatus: { type: 'object', additionalProperties: count, description: 'Optimizations per status (only the statuses present).' },
    totalExecutions: count,
    successfulExecutions: count,
    failedExecutions: count,
    successRate: { type: 'number', minimum: 0, maximum: 1 },
    averageExecutionMs: count,
    optimizations: count,
    estimatedMonthlySavings: money,
    averageEstimatedMonthlySavings: nullable(money),
    realizedMonthlySavings: money,
    realizedCount: count,
    averageRealizedMonthlySavings: nullable(money),
    unpriced: count,
    rollbacks: count,
    rollbacksResolved: { ...count, description: 'Rollbacks that failed and that an operator then resolved by hand.' },
    previewsLeftOut: { ...count, description: 'Previews (dry runs) left out of every figure because real optimizations are summarized with them.' },
  },
  'The run summary (`optex metrics --json`’s `summary`).',
);

const control: SchemaObject = {
  description: 'The kill switch: not paused, or paused by whom, why and since when.',
  oneOf: [
    object(['paused'], { paused: { type: 'boolean', enum: [false] } }),
    object(['paused', 'by', 'reason', 'since'], { paused: { type: 'boolean', enum: [true] }, by: { type: 'string' }, reason: { type: 'string' }, since: instant }),
  ],
};

const batch = object(
  ['members', 'baseline', 'stages', 'completed'],
  {
    batchId: { type: 'string' },
    members: strings,
    halted: object(['rule', 'reason', 'at', 'dispatched', 'errors'], { rule: { type: 'string' }, reason: { type: 'string' }, at: instant, stage: count, dispatched: count, errors: count }),
    baseline: object(['dispatched', 'errors'], { dispatched: count, errors: count, since: { ...instant, description: 'When the halt the last continue let go was recorded: failures of members dispatched after it count toward the next halt.' } }),
    stages: {
      type: 'array',
      items: object(['stage', 'of', 'optimizationIds'], { stage: count, of: count, optimizationIds: strings, passedAt: instant, failed: { type: 'boolean' } }),
    },
    completed: { type: 'boolean' },
  },
  'A batch’s guard after the decision: its members, the halt it was under (gone once continued), its stages.',
);

const verdicts = (extra: Record<string, SchemaObject | ReferenceObject>, required: readonly string[] = []): SchemaObject =>
  object(['accepted', 'rejected', ...required], {
    ...extra,
    accepted: { type: 'array', items: object(['index', 'recommendationId', 'optimizationId'], { index: count, recommendationId: { type: 'string' }, optimizationId: { type: 'string', format: 'uuid' } }) },
    rejected: { type: 'array', items: object(['index', 'errors'], { index: count, recommendationId: { type: 'string' }, errors: { type: 'array', items: ref('FieldError') } }) },
  });

export const API_SCHEMAS: Record<ApiSchemaName, SchemaObject> = {
  FieldError: fieldError,
  Error: error,
  OptimizationRow: row,
  OptimizationPage: object(['total', 'items'], { total: count, items: { type: 'array', items: ref('OptimizationRow') } }),
  Optimization: object(['view', 'state'], { view: ref('OptimizationRow'), state }),
  OptimizationAt: object(['optimizationId', 'at', 'asOf', 'eventsApplied', 'eventsAfter', 'state', 'view'], {
    optimizationId: { type: 'string', format: 'uuid' },
    at: instant,
    asOf: nullable({ ...object(['revision', 'type', 'recordedAt'], { revision: count, type: { type: 'string' }, recordedAt: instant }), description: 'The last event applied (null before the first).' }),
    eventsApplied: count,
    eventsAfter: count,
    state: { type: 'object', description: 'The state folded from the events up to `at` (`{status: initial}` before the first).', required: ['status'], properties: { status: { type: 'string' } } },
    view: nullable(ref('OptimizationRow')),
  }),
  History: object(['optimizationId', 'events'], {
    optimizationId: { type: 'string', format: 'uuid' },
    events: {
      type: 'array',
      items: object(['type', 'data', 'recordedAt', 'revision', 'id', 'metadata'], {
        type: { type: 'string', description: 'The event name (docs/events holds each one’s schema).' },
        data: { type: 'object' },
        recordedAt: instant,
        revision: count,
        id: { type: 'string', format: 'uuid' },
        metadata: { type: 'object' },
      }),
    },
  }),
  Decision: object(
    ['optimizationId', 'by', 'status', 'approvers', 'view'],
    { optimizationId: { type: 'string', format: 'uuid' }, by: { type: 'string', description: 'The authenticated principal it was recorded under.' }, status, approvers: strings, view: ref('OptimizationRow') },
    'The decision recorded, and the optimization after it.',
  ),
  Summary: summary,
  Metrics: object(['summary', 'readModel'], { summary: ref('Summary'), readModel: object(['lagEvents'], { lagEvents: count }) }),
  Savings: object(['by', 'rows'], {
    by: { type: 'string', enum: [...SAVINGS_GROUPINGS] },
    rows: {
      type: 'array',
      items: object(['key', 'completed', 'estimatedMonthlySavings', 'realizedMonthlySavings', 'unpriced'], { key: { type: 'string' }, completed: count, estimatedMonthlySavings: money, realizedMonthlySavings: money, unpriced: count }),
    },
  }),
  ExecutionControl: control,
  BatchGuard: batch,
  Submission: verdicts({}),
  SubmissionRefused: verdicts({ statusCode: { type: 'integer' }, error: { type: 'string' }, reason: { type: 'string' } }, ['statusCode', 'error', 'reason']),
  Health: object(['status', 'readModelPosition'], { status: { type: 'string', enum: ['ok'] }, readModelPosition: { type: 'string', description: 'Commit position of the last event the read model applied (-1 before any).' } }),
};

/** A response of an operation: its status, what it means, and the schema of its JSON body. */
export const Responds = (status: number, schema: ApiSchemaName, description: string) => ApiResponse({ status, description, content: { 'application/json': { schema: ref(schema) } } });

/** The refusals an operation may answer with, each an {@link API_SCHEMAS.Error} body: `[status, what it means]`. */
export const Refuses = (...refusals: readonly (readonly [number, string])[]) => applyDecorators(...refusals.map(([status, description]) => Responds(status, 'Error', description)));

/** The 415 of a route that takes a body: it must be JSON (or a form). */
export const NOT_JSON = [415, 'The body is neither JSON nor a form; nothing was changed.'] as const;
export const NOT_FOUND = [404, 'No optimization has that id, prefix or recommendation id.'] as const;
export const AMBIGUOUS_OR_BAD = [400, 'The id prefix matches more than one optimization, or the body names a bad field (every one in `errors`).'] as const;

/**
 * The 503 any operation may answer: an outage of the event store or the bus, answered by ApiErrorFilter whatever the
 * route (the document's builder adds it to every operation that does not document a 503 of its own).
 */
export const OUTAGE: ResponseObject = {
  description: 'The event store or the bus is unreachable (an outage): try again later. `reason` says so, with the store’s or bus’s own message to an authenticated caller. Whether a change the call asked for was recorded is unknown: read it back before repeating it.',
  content: { 'application/json': { schema: ref('Error') } },
};

/** The 413 of an operation that reads a body (added by the document's builder): the body is over what the API reads. */
export const TOO_LARGE: ResponseObject = {
  description: 'The body is larger than the API reads (64 KiB of JSON; a recommendations submission up to OPTEX_MAX_FILE_BYTES); nothing was read or changed.',
  content: { 'application/json': { schema: ref('Error') } },
};

/** The 400 of an operation that reads a body and documents no 400 of its own: the body is not JSON. */
export const UNREADABLE_BODY: ResponseObject = {
  description: 'The body is not JSON (`reason` says where it breaks); nothing was changed.',
  content: { 'application/json': { schema: ref('Error') } },
};
