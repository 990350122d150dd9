import { AT, NOW, OPT_ID, ev, observed, recs } from './__fixtures__';
import { foldOptimization } from './decider';
import type { OptimizationStatus } from './decider';
import { executionPlan } from './plans';
import { optimizationDetail, summarize, viewOf } from './projection';
import type { OptimizationView } from './projection';
import type { OptimizationEvent } from './events';

const rec = recs.rightsize;
const running = observed.runningInstance;
const steps = executionPlan(rec, running, OPT_ID);
const ok = { verdict: 'ok' } as const;
const received = (dryRun = false) => ev('OptimizationReceived', { recommendation: rec, dryRun, deliveryId: 'd' });
const assessed = ev('RiskAssessed', { baseLevel: 'MEDIUM', level: 'MEDIUM', factors: [], policyVersion: 'default-v1' });
const requested = ev('ApprovalRequested', { authority: 'team-lead', requiredApprovals: 1, expiresAt: '2026-03-08T10:00:00.000Z' });
const granted = ev('ApprovalGranted', { mode: 'manual', by: 'alice', approvers: ['alice'], final: true });
const executing = (dryRun = false): OptimizationEvent[] => [
  received(dryRun),
  assessed,
  requested,
  granted,
  ev('ExecutionScheduled', { batchId: 'b', notBefore: AT, priority: 'MEDIUM' }),
  ev('ExecutionStarted', { dryRun }),
  ev('PreValidationPassed', { observed: running }),
];
const validating: OptimizationEvent[] = [...executing(), ev('ExecutionSucceeded', { durationMs: 1200, dryRun: false })];
const view = (events: OptimizationEvent[]) => viewOf(foldOptimization(events));

describe('viewOf', () => {
  it('shows a received optimization with nothing decided yet', () => {
    expect(view([received()])).toEqual({
      optimizationId: OPT_ID,
      recommendationId: 'rec-rightsize',
      resourceId: 'i-0abc',
      action: 'rightsize',
      risk: null,
      approval: null,
      status: 'received',
      dryRun: false,
      estimatedMonthlySavings: 70.08,
      actualMonthlySavings: null,
      accuracyPct: null,
      unpriced: null,
      reversible: 'yes',
      error: null,
      executionMs: null,
      rolledBack: false,
      conflicts: 0,
    });
  });

  it('shows a pending manual approval with the risk', () => {
    expect(view([received(), assessed, requested])).toMatchObject({ risk: 'MEDIUM', approval: 'pending', status: 'awaiting-approval' });
  });

  it('given the instant a read command looks, a request past its expiry and not recorded as expired reads expired; before it, pending; without an instant, pending', () => {
    const state = foldOptimization([received(), assessed, requested]);
    expect(viewOf(state, new Date('2026-03-08T10:00:00.000Z'))).toMatchObject({ status: 'awaiting-approval', approval: 'expired' });
    expect(viewOf(state, new Date('2026-03-08T09:59:59.999Z'))).toMatchObject({ status: 'awaiting-approval', approval: 'pending' });
    expect(viewOf(state)).toMatchObject({ status: 'awaiting-approval', approval: 'pending' });
    // Decided or cancelled before its expiry: the instant changes nothing.
    const late = new Date('2027-01-01T00:00:00.000Z');
    expect(viewOf(foldOptimization([received(), assessed, requested, granted]), late).approval).toBe('manual');
    expect(viewOf(foldOptimization([received(), assessed, requested, ev('OptimizationCancelled', { by: 'bob', reason: 'freeze' })]), late).approval).toBeNull();
  });

  it('a cancelled optimization is not pending approval: nobody decided (null); one approved before it was cancelled stays approved', () => {
    const cancelled = ev('OptimizationCancelled', { by: 'bob', reason: 'freeze week' });
    expect(view([received(), assessed, requested, cancelled])).toMatchObject({ status: 'cancelled', approval: null });
    expect(view([received(), cancelled])).toMatchObject({ status: 'cancelled', approval: null });
    expect(view([received(), assessed, requested, granted, cancelled])).toMatchObject({ status: 'cancelled', approval: 'manual' });
    expect(optimizationDetail(foldOptimization([received(), assessed, requested, cancelled]))).toMatchObject({ approval: { state: null }, cancellation: { by: 'bob', reason: 'freeze week' } });
    expect(optimizationDetail(foldOptimization([received(), assessed, requested])).cancellation).toBeNull();
  });

  it('shows a pending approval while a second approver is missing', () => {
    const first = ev('ApprovalGranted', { mode: 'manual', by: 'a', approvers: ['a'], final: false });
    expect(view([received(), assessed, { ...requested, data: { ...requested.data, requiredApprovals: 2 } }, first]).approval).toBe('pending');
  });

  it('shows manual, auto, denied and expired approvals', () => {
    expect(view([received(), assessed, requested, granted]).approval).toBe('manual');
    expect(view([received(), assessed, ev('ApprovalGranted', { mode: 'auto', approvers: [], final: true })]).approval).toBe('auto');
    expect(view([received(), assessed, requested, ev('ApprovalDenied', { by: 'b', reason: 'no' })]).approval).toBe('denied');
    expect(view([received(), assessed, requested, ev('ApprovalExpired', { expiresAt: 'x' })]).approval).toBe('expired');
  });

  it('shows the actual savings, accuracy and execution time of a completed optimization', () => {
    expect(view([...validating, ev('ValidationPassed', { actualMonthlySavings: 70.08, accuracyPct: 100, performance: ok })])).toMatchObject({
      status: 'completed',
      actualMonthlySavings: 70.08,
      accuracyPct: 100,
      executionMs: 1200,
      error: null,
    });
  });

  it('shows the execution error of a failed optimization', () => {
    expect(view([...executing(), ev('ExecutionFailed', { error: { code: 'UnauthorizedOperation', message: 'not allowed' }, durationMs: 3 })])).toMatchObject({
      status: 'failed',
      error: 'UnauthorizedOperation: not allowed',
      executionMs: 3,
    });
  });

  it('shows pre-validation problems as the error', () => {
    const events = [...executing().slice(0, 6), ev('PreValidationFailed', { reasons: ['instance i-0abc is stopping', 'x'] })];
    expect(view(events).error).toBe('pre-validation failed: instance i-0abc is stopping; x');
  });

  it('an execution that ended in pre-validation lasted until then: it has a duration, and the average execution time counts it', () => {
    const failed = view([...executing().slice(0, 6), ev('PreValidationFailed', { reasons: ['gone'], at: new Date(NOW.getTime() + 250).toISOString() })]);
    expect(failed).toMatchObject({ status: 'failed', executionMs: 250 });
    const succeeded = view(validating);
    expect(summarize([failed, { ...succeeded, optimizationId: 'o-2' }], { rejected: 0, duplicates: 0 })).toMatchObject({ totalExecutions: 2, failedExecutions: 1, averageExecutionMs: 725 });
  });

  it('shows validation problems and a rollback failure as the error', () => {
    const events: OptimizationEvent[] = [
      ...validating,
      ev('ValidationFailed', { reasons: ['wrong type'], performance: ok }),
      ev('RollbackStarted', { reason: 'validation failed: wrong type', steps }),
      ev('RollbackFailed', { error: { code: 'InsufficientInstanceCapacity', message: 'none left' } }),
    ];
    expect(view(events)).toMatchObject({ status: 'rollback-failed', error: 'validation failed: wrong type; rollback failed: InsufficientInstanceCapacity: none left' });
  });

  it('shows why an operator is needed when EC2 could not tell whether a step took effect (the error was null)', () => {
    const step = steps[0]!;
    const events: OptimizationEvent[] = [
      ...executing(),
      ev('ExecutionStepStarted', { index: 0, step, clientToken: 'tok-0' }),
      ev('ReconciliationRequired', { phase: 'execution', index: 0, step, clientToken: 'tok-0', reason: 'the look-up of the effect failed for 15 minutes: RequestLimitExceeded' }),
    ];
    expect(view(events)).toMatchObject({
      status: 'reconciliation-needed',
      error: `reconciliation needed (execution step 0, ${step.kind}): the look-up of the effect failed for 15 minutes: RequestLimitExceeded`,
    });
  });

  it('derives the reversibility from the action before execution', () => {
    const noSnapshot = { ...received(), data: { ...received().data, recommendation: recs.deleteVolumeNoSnapshot } };
    expect(view([noSnapshot]).reversible).toBe('no');
  });

  it('refuses an empty stream', () => {
    expect(() => viewOf({ status: 'initial' })).toThrow(/no optimization/);
  });
});

const row = (status: OptimizationStatus, overrides: Partial<OptimizationView> = {}): OptimizationView => ({
  optimizationId: `o-${status}`,
  recommendationId: `r-${status}`,
  resourceId: 'i-1',
  action: 'rightsize',
  risk: 'MEDIUM',
  approval: 'auto',
  status,
  dryRun: false,
  estimatedMonthlySavings: 10,
  actualMonthlySavings: null,
  accuracyPct: null,
  unpriced: null,
  reversible: 'yes',
  error: null,
  executionMs: null,
  rolledBack: ['rolling-back', 'rolled-back', 'rollback-failed'].includes(status),
  conflicts: 0,
  ...overrides,
});

describe('summarize', () => {
  it('is all zeros for no input', () => {
    expect(summarize([], { rejected: 0, duplicates: 0 })).toEqual({
      received: 0,
      rejected: 0,
      duplicates: 0,
      conflicts: 0,
      byStatus: {},
      totalExecutions: 0,
      successfulExecutions: 0,
      failedExecutions: 0,
      successRate: 0,
      averageExecutionMs: 0,
      optimizations: 0,
      estimatedMonthlySavings: 0,
      averageEstimatedMonthlySavings: null,
      realizedMonthlySavings: 0,
      realizedCount: 0,
      averageRealizedMonthlySavings: null,
      unpriced: 0,
      rollbacks: 0,
      rollbacksResolved: 0,
      previewsLeftOut: 0,
    });
  });

  it('counts inputs, statuses, executions, rollbacks and savings', () => {
    const views = [
      row('completed', { actualMonthlySavings: 70.08, executionMs: 1000, estimatedMonthlySavings: 70.08 }),
      row('completed', { actualMonthlySavings: 0.1, executionMs: 2000, estimatedMonthlySavings: 0.2 }),
      row('dry-run-completed', { executionMs: 500, dryRun: true }),
      row('failed', { executionMs: 100 }),
      row('rolled-back', { actualMonthlySavings: 5, executionMs: 700 }),
      row('rollback-failed', { executionMs: 300 }),
      row('awaiting-approval', { approval: 'pending' }),
      row('denied', { approval: 'denied' }),
    ];
    // The preview among them is left out of every figure (previewsLeftOut).
    expect(summarize(views, { rejected: 2, duplicates: 1 })).toEqual({
      received: 10,
      rejected: 2,
      duplicates: 1,
      conflicts: 0,
      byStatus: { completed: 2, failed: 1, 'rolled-back': 1, 'rollback-failed': 1, 'awaiting-approval': 1, denied: 1 },
      totalExecutions: 5,
      successfulExecutions: 2,
      failedExecutions: 3,
      successRate: 0.4,
      averageExecutionMs: 820,
      optimizations: 7,
      estimatedMonthlySavings: 120.28,
      averageEstimatedMonthlySavings: 17.18,
      realizedMonthlySavings: 70.18,
      realizedCount: 2,
      averageRealizedMonthlySavings: 35.09,
      unpriced: 0,
      rollbacks: 2,
      rollbacksResolved: 0,
      previewsLeftOut: 1,
    });
  });

  it('never counts a dry run (a preview) as an execution, whether it succeeded or failed, nor in the average duration', () => {
    const summary = summarize([row('dry-run-completed', { executionMs: 500, dryRun: true }), row('failed', { executionMs: 900, dryRun: true }), row('completed', { executionMs: 100 })], { rejected: 0, duplicates: 0 });
    expect(summary).toMatchObject({ totalExecutions: 1, successfulExecutions: 1, failedExecutions: 0, successRate: 1, averageExecutionMs: 100 });
  });

  it('leaves previews out of a summary that also holds real optimizations (a preview and the run of one recommendation are not two, nor twice the savings); a dry run\'s own summary is its previews', () => {
    const mixed = summarize([row('dry-run-completed', { dryRun: true, estimatedMonthlySavings: 40 }), row('failed', { dryRun: true, estimatedMonthlySavings: 10 }), row('completed', { estimatedMonthlySavings: 40 })], { rejected: 0, duplicates: 0 });
    expect(mixed).toMatchObject({ received: 1, optimizations: 1, estimatedMonthlySavings: 40, byStatus: { completed: 1 }, previewsLeftOut: 2 });
    const previews = summarize([row('dry-run-completed', { dryRun: true, estimatedMonthlySavings: 40 }), row('failed', { dryRun: true, estimatedMonthlySavings: 10 })], { rejected: 0, duplicates: 0 });
    expect(previews).toMatchObject({ received: 2, optimizations: 2, estimatedMonthlySavings: 50, byStatus: { 'dry-run-completed': 1, failed: 1 }, previewsLeftOut: 0, totalExecutions: 0 });
  });

  it('counts an optimization an operator resolved as a failed execution, and its rollback when one was started', () => {
    const summary = summarize([row('resolved', { rolledBack: true }), row('resolved')], { rejected: 0, duplicates: 0 });
    expect(summary).toMatchObject({ byStatus: { resolved: 2 }, totalExecutions: 2, failedExecutions: 2, successfulExecutions: 0, rollbacks: 1, rollbacksResolved: 1 });
  });

  it('leaves unpriced savings out of the realized total and of what its average divides by, and counts them', () => {
    const views = [
      row('completed', { actualMonthlySavings: 20, estimatedMonthlySavings: 40 }),
      row('completed', { unpriced: ['instance type m5.large in eu-west-1'], estimatedMonthlySavings: 70.08 }),
    ];
    expect(summarize(views, { rejected: 0, duplicates: 0 })).toMatchObject({ estimatedMonthlySavings: 110.08, realizedMonthlySavings: 20, realizedCount: 1, unpriced: 1, averageRealizedMonthlySavings: 20 });
  });

  it('averages over the optimizations it sums, also when a re-run reports them all as duplicates (issue 8: "estimated $304.63 (average $0.00)")', () => {
    const views = [
      row('completed', { actualMonthlySavings: 15, estimatedMonthlySavings: 20 }),
      row('completed', { unpriced: ['region eu-west-1 (not in the price book)'], estimatedMonthlySavings: 6 }),
      row('awaiting-approval', { approval: 'pending', estimatedMonthlySavings: 70.08 }),
    ];
    // A re-run of the same recommendations under other delivery ids: every record is a duplicate of a reported optimization.
    const summary = summarize(views, { rejected: 0, duplicates: 3 });
    expect(summary).toMatchObject({ duplicates: 3, optimizations: 3, estimatedMonthlySavings: 96.08, averageEstimatedMonthlySavings: 32.03 });
    expect(summary).toMatchObject({ realizedMonthlySavings: 15, realizedCount: 1, averageRealizedMonthlySavings: 15, unpriced: 1 });
  });

  it('rounds the success rate to 3 decimals', () => {
    const summary = summarize([row('completed'), row('completed'), row('failed')], { rejected: 0, duplicates: 0 });
    expect(summary.successRate).toBe(0.667);
  });

  it('counts a rollback in progress as an execution and a rollback, not yet a failure', () => {
    const summary = summarize([row('rolling-back')], { rejected: 0, duplicates: 0 });
    expect(summary).toMatchObject({ totalExecutions: 1, failedExecutions: 0, rollbacks: 1, successRate: 0 });
  });

  it('shows an unpriced validation as unpriced, with no actual savings', () => {
    const completed = viewOf(foldOptimization([...validating, ev('ValidationPassed', { unpriced: ['region eu-north-1 (not in the price book)'], performance: ok })]));
    expect(completed).toMatchObject({ status: 'completed', actualMonthlySavings: null, accuracyPct: null, unpriced: ['region eu-north-1 (not in the price book)'] });
  });

  it('builds the same summary from folded streams', () => {
    const completed = viewOf(foldOptimization([...validating, ev('ValidationPassed', { actualMonthlySavings: 70.08, accuracyPct: 100, performance: ok })]));
    const summary = summarize([completed], { rejected: 0, duplicates: 0 });
    expect(summary).toMatchObject({ received: 1, totalExecutions: 1, successfulExecutions: 1, successRate: 1, averageExecutionMs: 1200, realizedMonthlySavings: 70.08 });
  });
});
