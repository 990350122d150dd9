import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { AT, OPT_ID, ev, observed, recs } from './__fixtures__';
import { executionPlan, rollbackPlan } from './plans';
import { evolveOptimization, initialOptimizationState, type OptimizationState } from './decider';
import type { OptimizationEvent } from './events';
import {
  INTEGRATION_EVENT_TYPES,
  assertIntegrationEvent,
  controlIntegrationEvent,
  integrationEventJsonSchemas,
  optimizationIntegrationEvent,
  rejectionIntegrationEvent,
  type IntegrationEventOut,
} from './integration-events';

const DOCS = join(__dirname, '..', '..', '..', 'docs', 'events');
const RECORDED = new Date('2026-03-01T10:00:05.000Z');

/** Folds the events and translates each against the state before and after it, and the next event, as the relay does. */
function translate(events: readonly OptimizationEvent[]): IntegrationEventOut[] {
  const out: IntegrationEventOut[] = [];
  let state: OptimizationState = initialOptimizationState();
  events.forEach((event, i) => {
    const after = evolveOptimization(state, event);
    const translated = optimizationIntegrationEvent(state, after, RECORDED, events[i + 1]?.type);
    if (translated) out.push(translated);
    state = after;
  });
  return out;
}

const received = ev('OptimizationReceived', { recommendation: recs.rightsize, dryRun: false, deliveryId: 'file:abc:0' });
const assessedHigh = ev('RiskAssessed', { baseLevel: 'MEDIUM', level: 'HIGH', factors: [{ factor: 'production', detail: 'env=prod' }], policyVersion: 'v1' });
const requested = ev('ApprovalRequested', { authority: 'finops-manager', requiredApprovals: 1, expiresAt: '2026-03-08T10:00:00.000Z' });

describe('integration events: the public contract', () => {
  const ajv = new Ajv2020({ allErrors: true, strict: false });
  addFormats(ajv);
  const schemas = integrationEventJsonSchemas();
  const validate = (e: IntegrationEventOut) => {
    const check = ajv.getSchema(schemas[e.type]['$id'] as string) ?? ajv.compile(schemas[e.type]);
    return check(e.data) ? [] : (check.errors ?? []).map((x) => `${x.instancePath} ${x.message}`);
  };

  it('docs/events holds exactly the generated schemas (regenerate with npm run -s events:schemas)', () => {
    const committed = readdirSync(DOCS).filter((f) => f.endsWith('.schema.json')).sort();
    expect(committed).toEqual(INTEGRATION_EVENT_TYPES.map((t) => `${t}.schema.json`).sort());
    for (const type of INTEGRATION_EVENT_TYPES) {
      expect({ type, schema: JSON.parse(readFileSync(join(DOCS, `${type}.schema.json`), 'utf8')) }).toEqual({ type, schema: schemas[type] });
    }
  });

  it('names every type com.optex.<subject>.<what>.v<N>', () => {
    for (const type of INTEGRATION_EVENT_TYPES) expect(type).toMatch(/^com\.optex\.[a-z-]+\.[a-z-]+\.v\d+$/);
  });

  it('a request for approval then a denial: one event per status, nothing for the assessment that changed no status', () => {
    const out = translate([received, assessedHigh, requested, ev('ApprovalDenied', { by: 'dana', reason: 'freeze' })]);
    expect(out.map((e) => e.type)).toEqual(['com.optex.optimization.received.v1', 'com.optex.optimization.approval-requested.v1', 'com.optex.optimization.denied.v1']);
    expect(out[1]!.data).toMatchObject({ authority: 'finops-manager', requiredApprovals: 1, riskLevel: 'HIGH', previousStatus: 'received', status: 'awaiting-approval' });
    expect(out[2]).toEqual({
      type: 'com.optex.optimization.denied.v1',
      subject: OPT_ID,
      data: {
        optimizationId: OPT_ID,
        recommendationId: 'rec-rightsize',
        source: 'compute-optimizer',
        accountId: '123456789012',
        region: 'us-east-1',
        resource: { type: 'ec2:instance', id: 'i-0abc' },
        action: 'rightsize',
        dryRun: false,
        status: 'denied',
        previousStatus: 'awaiting-approval',
        riskLevel: 'HIGH',
        estimatedMonthlySavings: 70.08,
        occurredAt: RECORDED.toISOString(),
        by: 'dana',
        reason: 'freeze',
      },
    });
    for (const e of out) expect(validate(e)).toEqual([]);
  });

  it('the first of two approvals changes no status and publishes nothing; the second publishes approved', () => {
    const board = ev('ApprovalRequested', { authority: 'change-board', requiredApprovals: 2, expiresAt: '2026-03-08T10:00:00.000Z' });
    const out = translate([
      received,
      assessedHigh,
      board,
      ev('ApprovalGranted', { mode: 'manual', by: 'ann', approvers: ['ann'], final: false }),
      ev('ApprovalGranted', { mode: 'manual', by: 'bob', approvers: ['ann', 'bob'], final: true }),
    ]);
    expect(out.map((e) => e.type).slice(-2)).toEqual(['com.optex.optimization.approval-requested.v1', 'com.optex.optimization.approved.v1']);
    expect(out.at(-1)!.data).toMatchObject({ mode: 'manual', approvers: ['ann', 'bob'] });
    for (const e of out) expect(validate(e)).toEqual([]);
  });

  describe('a failure publishes failed only where it is the end', () => {
    const rec = recs.rightsize;
    const running = observed.runningInstance;
    const steps = executionPlan(rec, running, OPT_ID);
    const undo = rollbackPlan(rec, running);
    const executed: OptimizationEvent[] = [
      received,
      ev('RiskAssessed', { baseLevel: 'LOW', level: 'LOW', factors: [], policyVersion: 'v1' }),
      ev('ApprovalGranted', { mode: 'auto', by: 'policy', approvers: [], final: true }),
      ev('ExecutionScheduled', { batchId: 'b-1', notBefore: AT, priority: 'LOW' }),
      ev('ExecutionStarted', { dryRun: false }),
      ev('PreValidationPassed', { observed: running }),
      ev('RollbackPlanRecorded', { steps: undo, reversible: 'yes' }),
      ...steps.map((step, index) => ev('ExecutionStepCompleted', { index, step, outputs: {}, dryRun: false, reconciled: false })),
      ev('ExecutionSucceeded', { durationMs: 1000, dryRun: false }),
    ];
    const types = (out: readonly IntegrationEventOut[]) => out.map((e) => e.type.replace(/^com\.optex\.optimization\.|\.v1$/g, ''));

    it('a validation that fails and rolls the change back: rollback-started (previous status validating, with the reason), then rolled-back; no failed', () => {
      const out = translate([
        ...executed,
        ev('ValidationFailed', { reasons: ['CPU p95 after 93 % > 80 %'], performance: { verdict: 'degraded' } }),
        ev('RollbackStarted', { reason: 'validation failed: CPU p95 after 93 % > 80 %', steps: undo }),
        ...undo.map((step, index) => ev('RollbackStepCompleted', { index, step, outputs: {}, reconciled: false })),
        ev('RollbackCompleted', {}),
      ]);
      expect(types(out)).toEqual(['received', 'approved', 'scheduled', 'execution-started', 'validation-started', 'rollback-started', 'rolled-back']);
      expect(out[5]!.data).toMatchObject({ previousStatus: 'validating', status: 'rolling-back', reason: 'validation failed: CPU p95 after 93 % > 80 %' });
      for (const e of out) expect(validate(e)).toEqual([]);
    });

    it('an execution step that fails after a change: rollback-started with previous status executing; no failed', () => {
      const out = translate([
        ...executed.slice(0, 8),
        ev('ExecutionFailed', { error: { code: 'InsufficientInstanceCapacity', message: 'none left' }, failedStepIndex: 1, durationMs: 10 }),
        ev('RollbackStarted', { reason: 'execution failed at step 1: InsufficientInstanceCapacity: none left', steps: undo }),
      ]);
      expect(types(out).slice(-2)).toEqual(['execution-started', 'rollback-started']);
      expect(out.at(-1)!.data).toMatchObject({ previousStatus: 'executing' });
    });

    it('a validation that fails with nothing to undo ends failed, its problems as the reasons', () => {
      const out = translate([...executed, ev('ValidationFailed', { reasons: ['i-0abc is m5.xlarge, not m5.large'], performance: { verdict: 'ok' } })]);
      expect(types(out).at(-1)).toBe('failed');
      expect(out.at(-1)!.data).toMatchObject({ previousStatus: 'validating', error: null, reasons: ['i-0abc is m5.xlarge, not m5.large'] });
      expect(validate(out.at(-1)!)).toEqual([]);
    });
  });

  it('a rejected record says which fields, never the raw payload', () => {
    const out = rejectionIntegrationEvent(
      { type: 'RecommendationRejected', data: { deliveryId: 'file:abc:3', index: 3, raw: { secret: 'x'.repeat(100) }, errors: [{ path: 'region', message: 'region is not an AWS region' }], at: AT } },
      RECORDED,
    );
    expect(out.data).toEqual({ deliveryId: 'file:abc:3', index: 3, recommendationId: null, errors: [{ path: 'region', message: 'region is not an AWS region' }], occurredAt: RECORDED.toISOString() });
    expect(validate(out)).toEqual([]);
  });

  it('the kill switch is public: paused and resumed', () => {
    const paused = controlIntegrationEvent({ type: 'ExecutionPaused', data: { by: 'ops', reason: 'incident', at: AT } }, RECORDED);
    expect(paused).toEqual({ type: 'com.optex.execution.paused.v1', subject: 'optex-control', data: { by: 'ops', reason: 'incident', occurredAt: RECORDED.toISOString() } });
    expect(validate(paused)).toEqual([]);
  });

  it('assertIntegrationEvent refuses data that breaks its schema, naming the field', () => {
    const [first] = translate([received]);
    expect(() => assertIntegrationEvent({ ...first!, data: { ...first!.data, accountId: '1' } })).toThrow(/accountId/);
    expect(() => assertIntegrationEvent({ ...first!, data: { ...first!.data, internal: true } })).toThrow(/internal|Unrecognized/);
  });
});
