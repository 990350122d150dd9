import { z } from 'zod';
import { ACTION_TYPES, RISK_LEVELS } from './types';
import type { ActionType, FieldError, Recommendation, ResourceType } from './types';
import { describeValue, fieldErrorsOf } from './field-errors';
import { AWS_REGIONS, KNOWN_INSTANCE_TYPES, isKnownInstanceType, isKnownRegion } from './aws-catalog';
import { controlCharacterIn, loneSurrogateIn } from './text';
import { VOLUME_TYPES } from './ec2-rules';

// ── Building blocks ──

/** The most a recommendation may say it saves, or its resource costs, per month (USD): ten million, far above any one resource; beyond it a figure is a mistake (and sums of such figures overflow). */
export const MAX_MONTHLY_USD = 10_000_000;
const nonEmpty = () => z.string().min(1, { error: 'must not be empty', abort: true });

/** Problems of a text field that would be printed or hashed: a lone surrogate, a control character. */
function textProblem(value: string): string | undefined {
  const lone = loneSurrogateIn(value);
  if (lone) return `must be well-formed Unicode: a lone surrogate (${lone.escaped}) at position ${lone.index}`;
  const control = controlCharacterIn(value);
  if (control) return `must not contain control characters: ${control.escaped} at position ${control.index}`;
  return undefined;
}

/**
 * Schemas whose rules zod's JSON Schema export cannot see (refinements), told apart so that {@link recommendationJsonSchema}
 * states them: identifiers (patterns), tag records (no control characters, at most so many), and the catalogue's
 * fields (the regions and instance types listed).
 */
type ExportKind = 'identifier' | 'tags' | 'region' | 'instanceType';
const exportKinds = new Map<unknown, ExportKind>();
const exported = <T extends z.ZodType>(kind: ExportKind, schema: T): T => {
  exportKinds.set(schema, kind);
  return schema;
};

/** An identifier (recommendationId, source, resource.id, offeringId): not empty, not blank, no control characters, well-formed. */
const identifier = () =>
  exported(
    'identifier',
    nonEmpty().superRefine((value, ctx) => {
      if (value.length > 0 && value.trim().length === 0) ctx.addIssue({ code: 'custom', message: 'must not be blank (only whitespace)', input: value });
      const problem = textProblem(value);
      if (problem) ctx.addIssue({ code: 'custom', message: problem, input: value });
    }),
  );

/** Resource tags: keys and values without control characters and well-formed (each key named in the error). */
const tags = () =>
  exported(
    'tags',
    z.record(z.string(), z.string()).superRefine((record, ctx) => {
      for (const [key, value] of Object.entries(record)) {
        const keyProblem = textProblem(key);
        if (keyProblem) ctx.addIssue({ code: 'custom', path: [key], message: `key ${keyProblem}`, input: key });
        const valueProblem = textProblem(value);
        if (valueProblem) ctx.addIssue({ code: 'custom', path: [key], message: valueProblem, input: value });
      }
    }),
  );

/** An EC2 instance type of {@link isKnownInstanceType} (`m5.huge` fits the pattern but is not one). */
const instanceType = (description: string) =>
  exported(
    'instanceType',
    nonEmpty()
      .refine(isKnownInstanceType, { error: (issue) => `must be a known EC2 instance type (family.size, e.g. m5.large), got ${describeValue(issue.input)}` })
      .describe(description),
  );
const positiveInt = () => z.number().int({ error: 'must be a whole number' }).positive({ error: 'must be greater than 0' });

/** Which resource type each action applies to. */
export const RESOURCE_TYPE_OF_ACTION: Readonly<Record<ActionType, ResourceType>> = {
  rightsize: 'ec2:instance',
  'stop-idle': 'ec2:instance',
  'modify-volume': 'ec2:volume',
  'delete-volume': 'ec2:volume',
  'delete-snapshot': 'ec2:snapshot',
  'release-address': 'ec2:elastic-ip',
  'purchase-reserved-instances': 'ec2:reserved-instances',
};

const AWS_REGION_EXAMPLES = 'e.g. us-east-1, eu-west-1; the list ships with the price book';

const RESOURCE_TYPES = ['ec2:instance', 'ec2:volume', 'ec2:elastic-ip', 'ec2:snapshot', 'ec2:reserved-instances'] as const satisfies readonly ResourceType[];

const rightsizeAction = z
  .strictObject({
    type: z.literal('rightsize'),
    currentInstanceType: instanceType('Instance type the resource has now, e.g. m5.xlarge.'),
    targetInstanceType: instanceType('Instance type to move to; must differ from currentInstanceType.'),
  })
  .refine((a) => a.targetInstanceType !== a.currentInstanceType, {
    path: ['targetInstanceType'],
    error: 'must differ from action.currentInstanceType',
  });

const actionSchema = z.discriminatedUnion('type', [
  rightsizeAction,
  z.strictObject({ type: z.literal('stop-idle') }),
  z.strictObject({
    type: z.literal('modify-volume'),
    targetVolumeType: z.enum(VOLUME_TYPES).describe('EBS volume type to move to, e.g. gp3.'),
    iops: positiveInt().optional().describe('Provisioned IOPS; when left out, at least what the volume has now.'),
    throughput: positiveInt().optional().describe('Throughput in MiB/s; when left out, at least what the volume has now.'),
  }),
  z.strictObject({
    type: z.literal('delete-volume'),
    snapshotFirst: z.boolean().default(true).describe('Snapshot the volume before deleting it (makes the deletion reversible).'),
  }),
  z.strictObject({ type: z.literal('delete-snapshot') }),
  z.strictObject({ type: z.literal('release-address') }),
  z.strictObject({
    type: z.literal('purchase-reserved-instances'),
    offeringId: identifier(),
    instanceCount: positiveInt(),
    limitPrice: z.number().positive({ error: 'must be greater than 0' }).optional().describe('Maximum total upfront price (USD) for the purchase.'),
  }),
]);

/**
 * The recommendation input contract (zod 4). Objects are strict (unknown fields are rejected), and
 * the action type must fit the resource type ({@link RESOURCE_TYPE_OF_ACTION}).
 * `action.snapshotFirst` of `delete-volume` defaults to `true`.
 */
export const recommendationSchema = z
  .strictObject({
    recommendationId: identifier().describe('Id of the recommendation at its source; (source, recommendationId) identifies it.'),
    source: identifier().describe('The analyzer that produced it, e.g. compute-optimizer.'),
    accountId: z.string().regex(/^\d{12}$/, { error: 'must be exactly 12 digits' }),
    region: exported(
      'region',
      z
        .string()
        .regex(/^[a-z]{2}(-[a-z]+)+-\d+$/, { error: 'must be an AWS region like us-east-1', abort: true })
        .refine(isKnownRegion, { error: (issue) => `must be a known AWS region (${AWS_REGION_EXAMPLES}), got ${describeValue(issue.input)}` })
        .describe('An AWS region of the list shipped with the price book (libs/domain/src/aws-catalog.ts).'),
    ),
    resource: z.strictObject({
      type: z.enum(RESOURCE_TYPES),
      id: identifier().describe('Instance, volume or snapshot id; allocation id for addresses; offering id for reserved instances.'),
      tags: tags().optional(),
      monthlyCost: z.number().min(0, { error: 'must be at least 0' }).max(MAX_MONTHLY_USD, { error: `must be at most ${MAX_MONTHLY_USD}` }).optional().describe('What the resource costs per month now (USD).'),
    }),
    action: actionSchema,
    estimatedMonthlySavings: z.number().min(0, { error: 'must be at least 0' }).max(MAX_MONTHLY_USD, { error: `must be at most ${MAX_MONTHLY_USD}` }),
    currency: z.literal('USD'),
    priority: z.enum(RISK_LEVELS as unknown as ['LOW', 'MEDIUM', 'HIGH', 'CRITICAL']).optional(),
    createdAt: z.iso.datetime({ offset: true, error: 'must be an ISO-8601 date-time, e.g. 2026-01-31T12:00:00Z' }).optional(),
    requestedBy: identifier()
      .optional()
      .describe('Who asked for the change (a person’s id, email or roster alias). Optional; when given, that person may never approve it (four eyes: never the requester).'),
  })
  .refine((r) => RESOURCE_TYPE_OF_ACTION[r.action.type] === r.resource.type, {
    path: ['action', 'type'],
    // Runs even when other fields failed, so that every error is reported at once.
    when: (payload) => actionAndResourceTypes(payload.value) !== undefined,
    error: (issue) => {
      const types = actionAndResourceTypes(issue.input);
      return types
        ? `${types.action} does not apply to resource.type ${types.resource} (${types.action} needs ${RESOURCE_TYPE_OF_ACTION[types.action]})`
        : 'does not apply to resource.type';
    },
  })
  .meta({
    title: 'optex recommendation',
    description:
      'A cost optimization recommendation for optex. The action type must fit resource.type: rightsize and stop-idle → ec2:instance; ' +
      'modify-volume and delete-volume → ec2:volume; delete-snapshot → ec2:snapshot; release-address → ec2:elastic-ip; ' +
      'purchase-reserved-instances → ec2:reserved-instances. For rightsize, targetInstanceType must differ from currentInstanceType. ' +
      'optex also refuses what this schema cannot state: a lone surrogate in a string, a key given twice, a number beyond a double ' +
      '(1e400), a record over 64 KiB or nested deeper than 16 levels (its default limits; maxLength here counts characters, optex UTF-16 code units).',
  });

function actionAndResourceTypes(value: unknown): { action: ActionType; resource: ResourceType } | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  const { action, resource } = value as { action?: unknown; resource?: unknown };
  const actionType = action !== null && typeof action === 'object' ? (action as { type?: unknown }).type : undefined;
  const resourceType = resource !== null && typeof resource === 'object' ? (resource as { type?: unknown }).type : undefined;
  if (!(ACTION_TYPES as readonly unknown[]).includes(actionType) || !(RESOURCE_TYPES as readonly unknown[]).includes(resourceType)) return undefined;
  return { action: actionType as ActionType, resource: resourceType as ResourceType };
}

// Compile-time proof that the schema produces exactly `Recommendation` (both directions).
type SchemaOutput = z.output<typeof recommendationSchema>;
const _outputIsRecommendation = (r: SchemaOutput): Recommendation => r;
const _recommendationIsOutput = (r: Recommendation): SchemaOutput => ({ ...r, resource: { ...r.resource }, action: { ...r.action } });
void _outputIsRecommendation;
void _recommendationIsOutput;

/** Result of {@link parseRecommendation}: the recommendation, or every error found. */
export type ParseResult<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly errors: FieldError[] };

/**
 * Validates raw input against {@link recommendationSchema}. On failure, returns every error, each with a
 * dotted path (`action.targetInstanceType`, `(root)`) and a message that starts with that path.
 */
export function parseRecommendation(raw: unknown): ParseResult<Recommendation> {
  const result = recommendationSchema.safeParse(raw, { reportInput: true });
  if (result.success) return { ok: true, value: result.data };
  return { ok: false, errors: fieldErrorsOf(result.error.issues) };
}

/** The intake's default limits that the JSON Schema export states (intake.ts's `defaultIntakeLimits` uses the same). */
export const DEFAULT_MAX_STRING_LENGTH = 1024;
export const DEFAULT_MAX_TAGS = 50;

/** No control character (text.ts's set), as a JSON Schema pattern. */
const NO_CONTROL_CHARACTERS = '^[^\\u0000-\\u001f\\u007f-\\u009f\\u2028\\u2029\\u200e\\u200f\\u202a-\\u202e\\u2066-\\u2069]*$';

/**
 * The recommendation contract as JSON Schema (draft 2020-12, input shape: fields with defaults are optional),
 * for analyzers. The action/resource pairing is expressed as `allOf` if/then rules; identifiers carry patterns (not
 * blank, no control characters); strings are at most `maxStringLength` long and tags at most `maxTags` (the intake's
 * default limits). What JSON Schema cannot say is only in the description and checked by the intake: a
 * targetInstanceType equal to currentInstanceType, lone surrogates, duplicate keys, numbers beyond a double, and the
 * record's size and nesting limits.
 */
export function recommendationJsonSchema(limits: { readonly maxStringLength: number; readonly maxTags: number } = { maxStringLength: DEFAULT_MAX_STRING_LENGTH, maxTags: DEFAULT_MAX_TAGS }): Record<string, unknown> {
  return z.toJSONSchema(recommendationSchema, {
    io: 'input',
    target: 'draft-2020-12',
    override: (ctx) => {
      const json = ctx.jsonSchema as Record<string, unknown>;
      if (json['type'] === 'string') json['maxLength'] = Math.min(limits.maxStringLength, (json['maxLength'] as number | undefined) ?? Infinity);
      const kind = exportKinds.get(ctx.zodSchema);
      if (kind === 'identifier') json['allOf'] = [{ pattern: '\\S' }, { pattern: NO_CONTROL_CHARACTERS }];
      if (kind === 'tags') {
        json['maxProperties'] = limits.maxTags;
        json['propertyNames'] = { ...(json['propertyNames'] as object | undefined), pattern: NO_CONTROL_CHARACTERS, maxLength: limits.maxStringLength };
        json['additionalProperties'] = { ...(json['additionalProperties'] as object | undefined), pattern: NO_CONTROL_CHARACTERS };
      }
      if (kind === 'region') json['enum'] = [...AWS_REGIONS];
      if (kind === 'instanceType') json['enum'] = [...KNOWN_INSTANCE_TYPES];
      if (ctx.zodSchema !== recommendationSchema) return;
      ctx.jsonSchema.allOf = ACTION_TYPES.map((action) => ({
        if: { properties: { action: { properties: { type: { const: action } }, required: ['type'] } }, required: ['action'] },
        then: { properties: { resource: { properties: { type: { const: RESOURCE_TYPE_OF_ACTION[action] } } } } },
      }));
    },
  }) as Record<string, unknown>;
}
