import { OPT_ID, ev, recs } from './__fixtures__';
import { clientTokenFor } from './ids';
import { parseStoredEvent, schemaVersionOf, STORED_EVENT_TYPES } from './event-schemas';
import type { AnyOptexEvent } from './events';
import type { ChangePlan } from './change-plan';
import type { ObservedResource, PerformanceImpact, Recommendation, RiskBasis, Step } from './types';

// Stored events are parsed and upcast at the store boundary, never cast.

const stream = `optimization-${OPT_ID}`;
const modify = { kind: 'modify-volume', volumeId: 'vol-1', volumeType: 'gp3' } as const;

describe('parseStoredEvent', () => {
  it('returns a current-version event for current data', () => {
    const e = ev('OptimizationReceived', { recommendation: recs.rightsize, dryRun: false, deliveryId: 'd-1' });
    expect(parseStoredEvent({ type: e.type, data: e.data, metadata: { schemaVersion: 1 }, stream })).toEqual(e);
  });

  it('reads back every field a recommendation can carry, requestedBy among them (the four-eyes rule needs it)', () => {
    const everything: Required<Recommendation> = {
      ...recs.rightsize,
      resource: { ...recs.rightsize.resource, tags: { env: 'prod' }, monthlyCost: 120 },
      priority: 'HIGH',
      createdAt: '2026-03-01T09:00:00.000Z',
      requestedBy: 'alice@acme.example',
    };
    const e = ev('OptimizationReceived', { recommendation: everything, dryRun: false, deliveryId: 'd-1' });
    expect(parseStoredEvent({ type: e.type, data: JSON.parse(JSON.stringify(e.data)), metadata: { schemaVersion: 1 }, stream }).data).toEqual(e.data);
  });

  it('upcasts a version-1 step completion: the client token is derived as the executor derives it, and it was not reconciled', () => {
    const v1 = { optimizationId: OPT_ID, at: '2026-03-01T10:00:00.000Z', index: 3, step: modify, outputs: {}, dryRun: false };
    const parsed = parseStoredEvent({ type: 'ExecutionStepCompleted', data: v1, metadata: { schemaVersion: 1 }, stream });
    expect(parsed.data).toEqual({ ...v1, clientToken: clientTokenFor(OPT_ID, 'execution', 3), reconciled: false });
    expect(schemaVersionOf('ExecutionStepCompleted')).toBe(2);
  });

  it('upcasts a version-1 deferral: the hold it did not name is read from its reason; one it named is kept', () => {
    const v1 = (reason: string, hold?: string) => parseStoredEvent({ type: 'ExecutionDeferred', data: { batchId: 'b-1', optimizationId: OPT_ID, ...(hold ? { hold } : {}), until: '2026-03-02T00:00:00.000Z', reason, at: '2026-03-01T10:00:00.000Z' }, metadata: { schemaVersion: 1 } });
    expect(v1('freeze year-end until 2026-03-02T00:00:00.000Z: holiday').data).toMatchObject({ hold: 'freeze' });
    expect(v1('outside its change windows; nightly opens at 2026-03-02T00:00:00.000Z (0 0 * * *, UTC)').data).toMatchObject({ hold: 'change-window' });
    expect(v1('blast radius: 2 executions of 123456789012/us-east-1/modify-volume in the last 24 hours reach the daily limit of 2 executions; next at 2026-03-02T00:00:00.000Z').data).toMatchObject({ hold: 'daily-limit' });
    expect(v1('staged rollout: stage 1 of 3 passed; soaking until 2026-03-02T00:00:00.000Z').data).toMatchObject({ hold: 'stage-soak' });
    expect(v1('cool-down of 7 day(s) after the last change', 'cool-down').data).toMatchObject({ hold: 'cool-down' });
    expect(schemaVersionOf('ExecutionDeferred')).toBe(2);
    // Version 2 names its hold: one missing is an error naming the field, not a guess.
    expect(() => parseStoredEvent({ type: 'ExecutionDeferred', data: { batchId: 'b-1', optimizationId: OPT_ID, until: '2026-03-02T00:00:00.000Z', reason: 'x', at: '2026-03-01T10:00:00.000Z' }, metadata: { schemaVersion: 2 } })).toThrow(/hold/);
  });

  it('a version-1 wait or dry-run step gets no token; a rollback step gets the rollback phase token', () => {
    const wait = { optimizationId: OPT_ID, at: '2026-03-01T10:00:00.000Z', index: 1, step: { kind: 'wait-instance-stopped', instanceId: 'i-1' }, outputs: {}, dryRun: false };
    expect(parseStoredEvent({ type: 'ExecutionStepCompleted', data: wait, metadata: { schemaVersion: 1 } }).data).not.toHaveProperty('clientToken');
    const dry = { ...wait, step: modify, dryRun: true };
    expect(parseStoredEvent({ type: 'ExecutionStepCompleted', data: dry, metadata: { schemaVersion: 1 } }).data).not.toHaveProperty('clientToken');
    const rb = { optimizationId: OPT_ID, at: '2026-03-01T10:00:00.000Z', index: 0, step: modify, outputs: {} };
    expect(parseStoredEvent({ type: 'RollbackStepCompleted', data: rb, metadata: {} }).data).toMatchObject({ clientToken: clientTokenFor(OPT_ID, 'rollback', 0), reconciled: false });
  });

  it('an unknown event type is an error naming it and where it is', () => {
    expect(() => parseStoredEvent({ type: 'OptimizationTeleported', data: {}, metadata: { schemaVersion: 1 }, stream, revision: 7n })).toThrow(
      /unknown event type "OptimizationTeleported" \(optimization-.+@7\)/,
    );
    expect(() => parseStoredEvent({ type: 'OptimizationTeleported', data: {} })).toThrow(expect.objectContaining({ name: 'DomainError', code: 'UNKNOWN_EVENT' }));
  });

  it.each(['constructor', 'toString', '__proto__', 'hasOwnProperty', 'valueOf'])('a type named like an Object prototype member (%s) is an unknown event type', (type) => {
    expect(() => parseStoredEvent({ type, data: {}, metadata: { schemaVersion: 1 }, stream })).toThrow(
      expect.objectContaining({ name: 'DomainError', code: 'UNKNOWN_EVENT', message: expect.stringContaining(`unknown event type "${type}"`) }),
    );
    expect(schemaVersionOf(type)).toBe(schemaVersionOf('OptimizationTeleported'));
  });

  it('a schema version newer than this code knows is refused, not guessed', () => {
    expect(() => parseStoredEvent({ type: 'ApprovalDenied', data: { optimizationId: OPT_ID, at: 'x', by: 'a', reason: 'r' }, metadata: { schemaVersion: 9 } })).toThrow(/schema version 9.*knows up to 1/);
  });

  it('data that does not fit the schema is an error naming the field', () => {
    expect(() => parseStoredEvent({ type: 'ApprovalRequested', data: { optimizationId: OPT_ID, at: 'x', authority: 'the-janitor', requiredApprovals: 1, expiresAt: 'y' }, metadata: { schemaVersion: 1 } })).toThrow(
      /ApprovalRequested: authority:/,
    );
    expect(() => parseStoredEvent({ type: 'ApprovalDenied', data: 'not an object', metadata: { schemaVersion: 1 } })).toThrow(/data is not an object/);
  });

  it('reads an out-of-scope decision with its rules, and refuses a rule it does not know', () => {
    const e = ev('OptimizationOutOfScope', { stage: 'pre-validation', violations: [{ rule: 'opt-out-tag', reason: 'tagged optex:skip=true' }], observed: { kind: 'address', allocationId: 'eipalloc-1', publicIp: '203.0.113.1', tags: { 'optex:skip': 'true' } } });
    expect(parseStoredEvent({ type: e.type, data: e.data, metadata: { schemaVersion: 1 }, stream })).toEqual(e);
    const unknownRule = { ...e.data, violations: [{ rule: 'vibes', reason: 'x' }] };
    expect(() => parseStoredEvent({ type: e.type, data: unknownRule, metadata: { schemaVersion: 1 } })).toThrow(/OptimizationOutOfScope: violations\.0\.rule:/);
  });

  it('keeps the target offering a rightsize pre-validation observed', () => {
    const observed = { kind: 'instance', id: 'i-1', instanceType: 'm5.xlarge', state: 'running', tags: {}, targetOffering: { instanceType: 'm5.large', location: 'us-east-1a', offered: false } } as const;
    const e = ev('PreValidationFailed', { reasons: ['Unsupported: m5.large is not offered in us-east-1a'], observed });
    expect(parseStoredEvent({ type: e.type, data: e.data, metadata: { schemaVersion: 1 }, stream })).toEqual(e);
  });

  it('knows every event type the domain declares', () => {
    expect(STORED_EVENT_TYPES).toEqual(expect.arrayContaining(['ExecutionStepStarted', 'RollbackStepStarted', 'StepEffectNotFound', 'ReconciliationRequired', 'RecommendationRejected', 'BatchPlanned']));
  });
});

// zod drops the keys a shape does not name, so a field the domain writes but the stored schema lacks is lost on every
// read (requestedBy was, until 2026-12-06). One fixture per kind with every field set: the types make a new kind or a new
// field a compile error here until it has a fixture, and the round trip fails until the stored schema reads it.
type EveryKind<U extends { kind: string }> = { [K in U['kind']]: Required<Extract<U, { kind: K }>> };
const tags = { env: 'prod' };
const EVERY_STEP: EveryKind<Step> = {
  'stop-instance': { kind: 'stop-instance', instanceId: 'i-1' },
  'wait-instance-stopped': { kind: 'wait-instance-stopped', instanceId: 'i-1' },
  'modify-instance-type': { kind: 'modify-instance-type', instanceId: 'i-1', instanceType: 'm5.large' },
  'start-instance': { kind: 'start-instance', instanceId: 'i-1' },
  'wait-instance-running': { kind: 'wait-instance-running', instanceId: 'i-1' },
  'modify-volume': { kind: 'modify-volume', volumeId: 'vol-1', volumeType: 'gp3', iops: 3000, throughput: 125 },
  'create-snapshot': { kind: 'create-snapshot', volumeId: 'vol-1', description: 'backup', tags },
  'wait-snapshot-completed': { kind: 'wait-snapshot-completed', snapshotFrom: 'create-snapshot' },
  'delete-volume': { kind: 'delete-volume', volumeId: 'vol-1' },
  'create-volume-from-snapshot': { kind: 'create-volume-from-snapshot', snapshotFrom: 'create-snapshot', availabilityZone: 'us-east-1a', volumeType: 'gp3', sizeGiB: 100, iops: 3000, throughput: 125, tags },
  'delete-snapshot': { kind: 'delete-snapshot', snapshotId: 'snap-1' },
  'release-address': { kind: 'release-address', allocationId: 'eipalloc-1' },
  'allocate-address': { kind: 'allocate-address', publicIp: '203.0.113.7', tags },
  'purchase-reserved-instances': { kind: 'purchase-reserved-instances', offeringId: 'off-1', instanceCount: 2, limitPrice: 1000 },
  'list-reserved-instances': { kind: 'list-reserved-instances', reservedInstancesFrom: 'purchase-reserved-instances', instanceCount: 2, price: 900 },
};
const EVERY_OBSERVED: EveryKind<ObservedResource> = {
  instance: { kind: 'instance', id: 'i-1', instanceType: 'm5.xlarge', state: 'running', tags, cpuP95: 12.5, targetOffering: { instanceType: 'm5.large', location: 'us-east-1a', offered: true } },
  volume: {
    kind: 'volume',
    id: 'vol-1',
    volumeType: 'gp2',
    sizeGiB: 100,
    iops: 300,
    throughput: 128,
    state: 'in-use',
    attachedTo: 'i-1',
    availabilityZone: 'us-east-1a',
    tags,
    modificationState: 'completed',
    lastModificationStartedAt: '2026-03-01T08:00:00.000Z',
  },
  snapshot: { kind: 'snapshot', id: 'snap-1', sizeGiB: 100, state: 'completed', usedByImages: ['ami-1'], tags },
  address: { kind: 'address', allocationId: 'eipalloc-1', publicIp: '203.0.113.7', associationId: 'eipassoc-1', tags },
  'reserved-instances-offering': { kind: 'reserved-instances-offering', offeringId: 'off-1', instanceType: 'm5.large', fixedPrice: 500, recurringHourly: 0.01, durationSeconds: 31_536_000 },
};

describe('what the domain writes reads back whole', () => {
  const roundTrip = (e: { type: string; data: unknown }) => parseStoredEvent({ type: e.type, data: JSON.parse(JSON.stringify(e.data)), metadata: { schemaVersion: schemaVersionOf(e.type) }, stream }).data;

  it('every kind of step, with every field', () => {
    const e = ev('RollbackPlanRecorded', { steps: Object.values(EVERY_STEP), reversible: 'partial' });
    expect(roundTrip(e)).toEqual(e.data);
  });

  it('an allocate-address recorded before the rollback gave the address its tags back (no tags) still reads, without them', () => {
    const old = { kind: 'allocate-address' as const, publicIp: '203.0.113.7' };
    for (const e of [ev('RollbackPlanRecorded', { steps: [old], reversible: 'partial' }), ev('RollbackStarted', { reason: 'validation failed', steps: [old] })]) {
      expect(roundTrip(e)).toEqual(e.data);
    }
    // A version 1 completion (no schemaVersion, no client token), as the first releases wrote it.
    const data = { optimizationId: OPT_ID, at: '2026-03-01T10:00:00.000Z', index: 0, step: old, outputs: { allocationId: 'eipalloc-2', publicIp: '203.0.113.7' } };
    expect((parseStoredEvent({ type: 'RollbackStepCompleted', data, stream }).data as { step: Step }).step).toEqual(old);
  });

  it.each(Object.keys(EVERY_OBSERVED))('an observed %s, with every field', (kind) => {
    const e = ev('PreValidationPassed', { observed: EVERY_OBSERVED[kind as ObservedResource['kind']] });
    expect(roundTrip(e)).toEqual(e.data);
  });
});

// The same guard for every event type, every field set at every depth (a union such as Step, ObservedResource or the
// action is one of its members here; the fixtures above cover every member). A new event type, or a new field
// anywhere in one, is a compile error until its fixture has it; the round trip fails until the stored schema reads it.
type DeepRequired<T> = T extends readonly (infer E)[] ? readonly DeepRequired<E>[] : T extends object ? { -readonly [K in keyof T]-?: DeepRequired<T[K]> } : T;
type EveryEvent = { [T in AnyOptexEvent['type']]: DeepRequired<Extract<AnyOptexEvent, { type: T }>['data']> };

const at = '2026-03-01T10:00:00.000Z';
const base = { optimizationId: OPT_ID, at };
const recommendation: DeepRequired<Recommendation> = {
  ...recs.rightsize,
  action: { type: 'rightsize', currentInstanceType: 'm5.xlarge', targetInstanceType: 'm5.large' },
  resource: { type: 'ec2:instance', id: 'i-1', tags, monthlyCost: 140.16 },
  priority: 'HIGH',
  createdAt: at,
  requestedBy: 'alice@acme.example',
};
const factors = [{ factor: 'production', detail: 'tag env=prod' }] as const;
const plan: DeepRequired<ChangePlan> = {
  observed: EVERY_OBSERVED.instance,
  change: 'm5.xlarge (running) → m5.large',
  steps: [EVERY_STEP['stop-instance'], EVERY_STEP['modify-instance-type']],
  rollback: [EVERY_STEP['modify-instance-type']],
  reversible: 'yes',
  monthlyCostChange: -70.08,
  unpriced: ['m5.large in eu-north-1'],
  riskLevel: 'MEDIUM',
  riskFactors: [...factors],
};
const basis: DeepRequired<RiskBasis> = {
  stated: { tags, monthlyCost: 140.16, instanceType: 'm5.xlarge' },
  live: { found: true, error: { code: 'UnauthorizedOperation', message: 'not allowed' }, observed: EVERY_OBSERVED.instance, monthlyCost: 140.16, unpriced: ['cpu credits'] },
};
const performance: DeepRequired<PerformanceImpact> = {
  cpuP95Before: 40,
  cpuP95After: 55,
  statusChecksPassed: true,
  afterWindow: { from: at, to: '2026-03-01T11:00:00.000Z' },
  soakMinutes: 60,
  comparison: [{ metric: 'cpu-p95', before: 40, after: 55, verdict: 'ok', counts: true, detail: '40 → 55 %' }],
  verdict: 'ok',
};
const error = { code: 'UnauthorizedOperation', message: 'not allowed' };
const step = EVERY_STEP['modify-volume'];
const EVERY_EVENT: EveryEvent = {
  OptimizationReceived: { ...base, recommendation, dryRun: false, deliveryId: 'd-1' },
  ResubmissionConflicted: { ...base, deliveryId: 'd-2', recommendation, differences: [{ path: 'estimatedMonthlySavings', recorded: 70, resubmitted: 90 }] },
  RiskAssessed: { ...base, baseLevel: 'LOW', level: 'MEDIUM', factors: [...factors], policyVersion: 'default-1', basis },
  RiskReassessed: { ...base, previousLevel: 'LOW', baseLevel: 'LOW', level: 'HIGH', factors: [...factors], policyVersion: 'default-1', basis, returnedForApproval: true },
  ApprovalGranted: { ...base, mode: 'manual', by: 'bob', reason: 'ok', approvers: ['bob'], final: true, plan },
  ApprovalRequested: { ...base, authority: 'team-lead', requiredApprovals: 2, expiresAt: '2026-03-02T10:00:00.000Z', eligibleApprovers: [{ id: 'bob', aliases: ['bob@acme.example'] }], plan },
  PlanChanged: { ...base, differences: ['instance type m5.xlarge → m5.2xlarge'], plan },
  ApprovalDenied: { ...base, by: 'bob', reason: 'no' },
  ApprovalExpired: { ...base, expiresAt: at },
  ExecutionScheduled: { ...base, batchId: 'b-1', notBefore: at, priority: 'HIGH' },
  ExecutionStarted: { ...base, dryRun: true },
  PreValidationPassed: { ...base, observed: EVERY_OBSERVED.volume },
  PreValidationFailed: { ...base, reasons: ['volume is being modified'], observed: EVERY_OBSERVED.volume },
  RollbackPlanRecorded: { ...base, steps: [step], reversible: 'partial' },
  ExecutionStepStarted: { ...base, index: 0, step, clientToken: 'tok-1' },
  ExecutionStepCompleted: { ...base, index: 0, step, outputs: { modificationState: 'modifying' }, dryRun: false, clientToken: 'tok-1', reconciled: true },
  StepEffectNotFound: { ...base, phase: 'rollback', index: 1, clientToken: 'tok-2', evidence: 'no snapshot tagged optex:client-token=tok-2' },
  ReconciliationRequired: { ...base, phase: 'execution', index: 2, step, clientToken: 'tok-3', reason: 'EC2 cannot tell' },
  ExecutionSucceeded: { ...base, durationMs: 1200, dryRun: false },
  ExecutionFailed: { ...base, error, failedStepIndex: 2, durationMs: 900 },
  ValidationPassed: { ...base, actualMonthlySavings: 70.08, accuracyPct: 100, unpriced: ['x'], performance },
  ValidationFailed: { ...base, reasons: ['cpu p95 up'], actualMonthlySavings: 10, accuracyPct: 14.3, unpriced: ['x'], performance: { ...performance, verdict: 'degraded' } },
  RollbackStarted: { ...base, reason: 'validation failed', steps: [step] },
  RollbackStepStarted: { ...base, index: 0, step, clientToken: 'tok-r' },
  RollbackStepCompleted: { ...base, index: 0, step, outputs: { volumeId: 'vol-1' }, clientToken: 'tok-r', reconciled: false },
  RollbackCompleted: { ...base },
  RollbackFailed: { ...base, error, failedStepIndex: 0 },
  OptimizationCancelled: { ...base, by: 'bob', reason: 'changed our minds' },
  RollbackRetried: { ...base, by: 'bob', reason: 'fixed the permission', failedStepIndex: 0 },
  OptimizationResolved: { ...base, by: 'bob', note: 'done by hand', from: 'reconciliation-needed' },
  OptimizationOutOfScope: { ...base, stage: 'pre-validation', violations: [{ rule: 'regions', reason: 'scope.regions: eu-west-1 is not allowed' }], observed: EVERY_OBSERVED.instance },
  BackupSnapshotExpired: { ...base, snapshotId: 'snap-1', volumeId: 'vol-1', createdAt: at, retentionDays: 30, outcome: 'refused', error },
  RecommendationRejected: { deliveryId: 'd-1', index: 3, recommendationId: 'rec-3', raw: { accountId: '1' }, errors: [{ path: 'accountId', message: 'must be 12 digits' }], dryRun: true, at },
  RecommendationDuplicated: { deliveryId: 'd-1', optimizationId: OPT_ID, recommendationId: 'rec-1', at },
  BatchPlanned: { batchId: 'b-1', mode: 'parallel', maxParallel: 4, notBefore: at, optimizationIds: [OPT_ID], at },
  BatchCompleted: { batchId: 'b-1', at },
  ExecutionDeferred: { batchId: 'b-1', optimizationId: OPT_ID, hold: 'stage-soak', until: at, reason: 'staged rollout: soak', at },
  BatchHalted: { batchId: 'b-1', rule: 'stage-gate', reason: 'stage 1 failed', dispatched: 3, errors: 1, stage: 1, at },
  BatchContinued: { batchId: 'b-1', by: 'bob', reason: 'looked', rule: 'max-errors', at },
  StageStarted: { batchId: 'b-1', stage: 1, of: 3, optimizationIds: [OPT_ID], at },
  StagePassed: { batchId: 'b-1', stage: 1, of: 3, at },
  StageFailed: { batchId: 'b-1', stage: 2, of: 3, failed: [OPT_ID], rolledBack: [OPT_ID], at },
  ExecutionPaused: { by: 'bob', reason: 'incident', at },
  ExecutionResumed: { by: 'bob', reason: 'over', at, pausedSince: at },
  CircuitBreakerOpened: { api: 'ec2', accountId: '123456789012', region: 'us-east-1', consecutiveFailures: 5, halfOpenAfterMs: 30_000, lastError: 'Throttling: slow down', process: 'executor-1', at },
  StoreSettingsRecorded: { cloud: 'aws', policyFile: '/etc/optex/policy.json', by: 'optex run', at },
};

describe('every event type reads back whole, every field set', () => {
  it.each(Object.keys(EVERY_EVENT))('%s', (type) => {
    const data = EVERY_EVENT[type as AnyOptexEvent['type']];
    const read = parseStoredEvent({ type, data: JSON.parse(JSON.stringify(data)), metadata: { schemaVersion: schemaVersionOf(type) }, stream });
    expect(read.data).toEqual(data);
  });

  it('the fixtures cover every type the store reads', () => {
    expect(Object.keys(EVERY_EVENT).sort()).toEqual([...STORED_EVENT_TYPES].sort());
  });
});
