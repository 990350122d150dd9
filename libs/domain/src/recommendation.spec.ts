import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { parseRecommendation, recommendationJsonSchema } from './recommendation';
import { intakeRecord } from './intake';
import type { FieldError } from './types';

const valid = {
  recommendationId: 'rec-1',
  source: 'compute-optimizer',
  accountId: '123456789012',
  region: 'us-east-1',
  resource: { type: 'ec2:instance', id: 'i-0abc', tags: { Env: 'prod' }, monthlyCost: 140.16 },
  action: { type: 'rightsize', currentInstanceType: 'm5.xlarge', targetInstanceType: 'm5.large' },
  estimatedMonthlySavings: 70.08,
  currency: 'USD',
  priority: 'HIGH',
  createdAt: '2026-02-01T12:00:00Z',
};

const errorsOf = (raw: unknown): FieldError[] => {
  const result = parseRecommendation(raw);
  if (result.ok) throw new Error('expected the recommendation to be rejected');
  return result.errors;
};
const errorAt = (raw: unknown, path: string): FieldError | undefined => errorsOf(raw).find((e) => e.path === path);

describe('parseRecommendation', () => {
  it('accepts a complete recommendation and returns it unchanged', () => {
    expect(parseRecommendation(valid)).toEqual({ ok: true, value: valid });
  });

  it.each([
    ['stop-idle', 'ec2:instance', { type: 'stop-idle' }],
    ['modify-volume', 'ec2:volume', { type: 'modify-volume', targetVolumeType: 'gp3', iops: 3000, throughput: 125 }],
    ['delete-volume', 'ec2:volume', { type: 'delete-volume', snapshotFirst: false }],
    ['delete-snapshot', 'ec2:snapshot', { type: 'delete-snapshot' }],
    ['release-address', 'ec2:elastic-ip', { type: 'release-address' }],
    ['purchase-reserved-instances', 'ec2:reserved-instances', { type: 'purchase-reserved-instances', offeringId: 'o-1', instanceCount: 2, limitPrice: 900 }],
  ])('accepts %s on %s', (_name, resourceType, action) => {
    const result = parseRecommendation({ ...valid, resource: { type: resourceType, id: 'x-1' }, action });
    expect(result.ok).toBe(true);
  });

  it('defaults delete-volume snapshotFirst to true', () => {
    const result = parseRecommendation({ ...valid, resource: { type: 'ec2:volume', id: 'vol-1' }, action: { type: 'delete-volume' } });
    expect(result.ok && result.value.action).toEqual({ type: 'delete-volume', snapshotFirst: true });
  });

  it('rejects an unknown top-level field, naming it', () => {
    expect(errorsOf({ ...valid, owner: 'bob' })).toEqual([{ path: 'owner', message: 'owner is not a known field' }]);
  });

  it('rejects an unknown nested field, naming its full path', () => {
    expect(errorsOf({ ...valid, action: { ...valid.action, force: true } })).toEqual([{ path: 'action.force', message: 'action.force is not a known field' }]);
  });

  it.each(['12345678901', '1234567890123', '12345678901a', ''])('rejects accountId %j', (accountId) => {
    expect(errorAt({ ...valid, accountId }, 'accountId')?.message).toMatch(/^accountId must be exactly 12 digits/);
  });

  it('rejects a numeric accountId as not a string', () => {
    expect(errorAt({ ...valid, accountId: 123456789012 }, 'accountId')?.message).toBe('accountId must be a string, got 123456789012');
  });

  it.each(['us-east-1', 'eu-central-1', 'ap-southeast-2', 'us-gov-west-1'])('accepts region %s', (region) => {
    expect(parseRecommendation({ ...valid, region }).ok).toBe(true);
  });

  it.each(['xx-yy-1', 'us-east-9'])('rejects region %j, which fits the pattern but is not an AWS region', (region) => {
    expect(errorsOf({ ...valid, region })).toEqual([{ path: 'region', message: `region must be a known AWS region (e.g. us-east-1, eu-west-1; the list ships with the price book), got "${region}"` }]);
  });

  it.each(['gp9', '  ', 'gp3\u0000', 'GP3'])('rejects target volume type %j, naming the field (EC2 would refuse it at pre-validation)', (targetVolumeType) => {
    const volume = { ...valid, resource: { type: 'ec2:volume', id: 'vol-1' }, action: { type: 'modify-volume', targetVolumeType } };
    expect(errorAt(volume, 'action.targetVolumeType')?.message).toBe(`action.targetVolumeType must be one of "gp2", "gp3", "io1", "io2", "st1", "sc1", "standard", got ${JSON.stringify(targetVolumeType)}`);
  });

  it.each(['m5.huge', 'zz1.large', 'm5.large.x'])('rejects instance type %j, naming the field', (type) => {
    expect(errorAt({ ...valid, action: { ...valid.action, currentInstanceType: type } }, 'action.currentInstanceType')?.message).toBe(
      `action.currentInstanceType must be a known EC2 instance type (family.size, e.g. m5.large), got "${type}"`,
    );
  });

  it.each([
    ['recommendationId', { ...valid, recommendationId: ' ' }],
    ['source', { ...valid, source: '\u00a0 ' }],
    ['resource.id', { ...valid, resource: { ...valid.resource, id: '   ' } }],
  ])('rejects a whitespace-only %s', (path, record) => {
    expect(errorsOf(record)).toEqual([{ path, message: `${path} must not be blank (only whitespace)` }]);
  });

  it('rejects control characters and lone surrogates in a tag key, naming the tag', () => {
    expect(errorsOf({ ...valid, resource: { ...valid.resource, tags: { 'a\u001b': 'x', b: '\ud800' } } })).toEqual([
      { path: 'resource.tags.a\u001b', message: 'resource.tags.a\u001b key must not contain control characters: \\x1b at position 1' },
      { path: 'resource.tags.b', message: 'resource.tags.b must be well-formed Unicode: a lone surrogate (\\ud800) at position 0' },
    ]);
  });

  it.each(['US-EAST-1', 'useast1', 'us-east', ''])('rejects region %j', (region) => {
    expect(errorAt({ ...valid, region }, 'region')?.message).toMatch(/^region must be an AWS region like us-east-1/);
  });

  it('rejects negative savings naming the field and the value', () => {
    expect(errorAt({ ...valid, estimatedMonthlySavings: -1 }, 'estimatedMonthlySavings')?.message).toBe('estimatedMonthlySavings must be at least 0, got -1');
  });

  it('rejects savings, or a monthly cost, above ten million USD a month naming the field (1e308 overflowed the summary to Infinity)', () => {
    expect(errorAt({ ...valid, estimatedMonthlySavings: 1e308 }, 'estimatedMonthlySavings')?.message).toBe('estimatedMonthlySavings must be at most 10000000, got 1e+308');
    expect(errorAt({ ...valid, resource: { ...valid.resource, monthlyCost: 2e7 } }, 'resource.monthlyCost')?.message).toMatch(/^resource\.monthlyCost must be at most 10000000/);
    expect(parseRecommendation({ ...valid, estimatedMonthlySavings: 10_000_000 }).ok).toBe(true);
  });

  it('rejects non-finite savings', () => {
    expect(errorAt({ ...valid, estimatedMonthlySavings: Infinity }, 'estimatedMonthlySavings')).toBeDefined();
    expect(errorAt({ ...valid, estimatedMonthlySavings: Number.NaN }, 'estimatedMonthlySavings')).toBeDefined();
  });

  it('accepts zero savings', () => {
    expect(parseRecommendation({ ...valid, estimatedMonthlySavings: 0 }).ok).toBe(true);
  });

  it('rejects a currency other than USD', () => {
    expect(errorAt({ ...valid, currency: 'EUR' }, 'currency')?.message).toBe('currency must be "USD", got "EUR"');
  });

  it.each([
    ['rightsize', 'ec2:volume', 'ec2:instance'],
    ['stop-idle', 'ec2:snapshot', 'ec2:instance'],
    ['delete-snapshot', 'ec2:volume', 'ec2:snapshot'],
    ['release-address', 'ec2:instance', 'ec2:elastic-ip'],
  ])('rejects %s on a %s (needs %s)', (actionType, resourceType, needed) => {
    const action = actionType === 'rightsize' ? valid.action : { type: actionType };
    const error = errorAt({ ...valid, resource: { type: resourceType, id: 'x' }, action }, 'action.type');
    expect(error?.message).toBe(`action.type ${actionType} does not apply to resource.type ${resourceType} (${actionType} needs ${needed})`);
  });

  it('rejects rightsize to the same type at action.targetInstanceType', () => {
    const error = errorAt({ ...valid, action: { ...valid.action, targetInstanceType: 'm5.xlarge' } }, 'action.targetInstanceType');
    expect(error?.message).toBe('action.targetInstanceType must differ from action.currentInstanceType');
  });

  it('reports a missing required action field by path', () => {
    expect(errorsOf({ ...valid, action: { type: 'rightsize', currentInstanceType: 'm5.xlarge' } })).toEqual([
      { path: 'action.targetInstanceType', message: 'action.targetInstanceType is required' },
    ]);
  });

  it('rejects an unknown action type listing the allowed ones', () => {
    expect(errorAt({ ...valid, action: { type: 'terminate' } }, 'action.type')?.message).toMatch(/^action\.type must be one of "rightsize", .*got "terminate"$/);
  });

  it('requires action.type', () => {
    expect(errorAt({ ...valid, action: {} }, 'action.type')?.message).toBe('action.type is required');
  });

  it.each([0, -1, 1.5])('rejects instanceCount %p', (instanceCount) => {
    const raw = { ...valid, resource: { type: 'ec2:reserved-instances', id: 'o' }, action: { type: 'purchase-reserved-instances', offeringId: 'o', instanceCount } };
    expect(errorAt(raw, 'action.instanceCount')?.message).toMatch(/^action\.instanceCount must be/);
  });

  it('rejects a createdAt that is not an ISO date-time', () => {
    expect(errorAt({ ...valid, createdAt: '01/02/2026' }, 'createdAt')?.message).toMatch(/^createdAt must be an ISO-8601 date-time/);
  });

  it('accepts a createdAt with an offset', () => {
    expect(parseRecommendation({ ...valid, createdAt: '2026-02-01T12:00:00.123+02:00' }).ok).toBe(true);
  });

  it('rejects an unknown priority', () => {
    expect(errorAt({ ...valid, priority: 'URGENT' }, 'priority')?.message).toMatch(/^priority must be one of "LOW", "MEDIUM", "HIGH", "CRITICAL"/);
  });

  it('rejects non-string tag values naming the tag', () => {
    expect(errorAt({ ...valid, resource: { ...valid.resource, tags: { Env: 1 } } }, 'resource.tags.Env')?.message).toBe('resource.tags.Env must be a string, got 1');
  });

  it('rejects a negative monthlyCost', () => {
    expect(errorAt({ ...valid, resource: { ...valid.resource, monthlyCost: -5 } }, 'resource.monthlyCost')).toBeDefined();
  });

  it('reports every error at once, including the action/resource mismatch', () => {
    const errors = errorsOf({ ...valid, accountId: '1', currency: 'EUR', extra: 1, resource: { type: 'ec2:volume', id: 'v' } });
    expect(errors.map((e) => e.path).sort()).toEqual(['accountId', 'action.type', 'currency', 'extra']);
  });

  it('reports every missing field of an empty object', () => {
    const paths = errorsOf({}).map((e) => e.path);
    expect(paths).toEqual(expect.arrayContaining(['recommendationId', 'source', 'accountId', 'region', 'resource', 'action', 'estimatedMonthlySavings', 'currency']));
    expect(errorsOf({}).find((e) => e.path === 'source')?.message).toBe('source is required');
  });

  it.each([null, 'a string', 42, []])('rejects %p at (root)', (raw) => {
    const errors = errorsOf(raw);
    expect(errors).toHaveLength(1);
    expect(errors[0]!.path).toBe('(root)');
    expect(errors[0]!.message).toMatch(/^\(root\) must be an object/);
  });
});

describe('recommendationJsonSchema', () => {
  const schema = recommendationJsonSchema();
  const ajv = new Ajv2020({ allErrors: true, strict: false });
  addFormats(ajv);
  const validateJson = ajv.compile(schema);

  it('matches the committed docs/recommendation.schema.json (regenerate with scripts/export-schema.ts)', () => {
    const committed = JSON.parse(readFileSync(join(__dirname, '..', '..', '..', 'docs', 'recommendation.schema.json'), 'utf8'));
    expect(committed).toEqual(schema);
  });

  it('is a strict draft 2020-12 schema', () => {
    expect(schema['$schema']).toBe('https://json-schema.org/draft/2020-12/schema');
    expect(schema['additionalProperties']).toBe(false);
  });

  it('accepts what parseRecommendation accepts', () => {
    expect(validateJson(valid)).toBe(true);
    expect(validateJson({ ...valid, resource: { type: 'ec2:volume', id: 'v' }, action: { type: 'delete-volume' } })).toBe(true);
  });

  it('rejects an unknown field and a bad accountId', () => {
    expect(validateJson({ ...valid, owner: 'x' })).toBe(false);
    expect(validateJson({ ...valid, accountId: '1' })).toBe(false);
  });

  it('rejects an action that does not fit the resource type', () => {
    expect(validateJson({ ...valid, resource: { type: 'ec2:volume', id: 'v' } })).toBe(false);
  });

  it('lists the catalogue: a region or an instance type that only fits the pattern is rejected, as parseRecommendation does', () => {
    expect(validateJson({ ...valid, region: 'xx-yy-1' })).toBe(false);
    expect(validateJson({ ...valid, action: { ...valid.action, targetInstanceType: 'm5.huge' } })).toBe(false);
    expect(validateJson({ ...valid, region: 'ap-southeast-2', action: { ...valid.action, targetInstanceType: 'c7g.16xlarge' } })).toBe(true);
  });

  // Each case: JSON Schema and the intake (schema and limits, at their defaults) agree.
  const volume = { ...valid, resource: { type: 'ec2:volume', id: 'vol-1' } };
  const tagsOf = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, 'v']));
  it.each([
    ['a blank recommendationId', { ...valid, recommendationId: '   ' }, false],
    ['a tab in source', { ...valid, source: 'a\tb' }, false],
    ['a bidi override in resource.id', { ...valid, resource: { ...valid.resource, id: 'i-1\u202e' } }, false],
    ['an id of 1,025 characters', { ...valid, recommendationId: 'r'.repeat(1025) }, false],
    ['an id of 1,024 characters', { ...valid, recommendationId: 'r'.repeat(1024) }, true],
    ['an escape in a tag value', { ...valid, resource: { ...valid.resource, tags: { env: 'x\u001b[2J' } } }, false],
    ['a newline in a tag key', { ...valid, resource: { ...valid.resource, tags: { 'e\nv': 'x' } } }, false],
    ['50 tags', { ...valid, resource: { ...valid.resource, tags: tagsOf(50) } }, true],
    ['51 tags', { ...valid, resource: { ...valid.resource, tags: tagsOf(51) } }, false],
    ['a volume type EC2 lacks', { ...volume, action: { type: 'modify-volume', targetVolumeType: 'gp9' } }, false],
    ['an instance type that fits family.size only', { ...valid, action: { ...valid.action, targetInstanceType: 'm5.nano' } }, false],
    ['an offering id with a space inside', { ...valid, resource: { type: 'ec2:reserved-instances', id: 'ri' }, action: { type: 'purchase-reserved-instances', offeringId: 'a b', instanceCount: 1 } }, true],
  ])('%s: JSON Schema and the intake agree', (_what, record, ok) => {
    expect(validateJson(record)).toBe(ok);
    expect(intakeRecord(new TextEncoder().encode(JSON.stringify(record))).ok).toBe(ok);
  });
});
