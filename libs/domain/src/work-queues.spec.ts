import { AT, ev, recs } from './__fixtures__';
import { foldOptimization, type KnownOptimizationState } from './decider';
import type { OptimizationEvent } from './events';
import { approvalQueueFor, batchProgress, needingAnOperator } from './work-queues';

const received = ev('OptimizationReceived', { recommendation: recs.rightsize, dryRun: false, deliveryId: 'd-1' });
const assessed = ev('RiskAssessed', { baseLevel: 'CRITICAL', level: 'CRITICAL', factors: [], policyVersion: 'v1' });
const state = (id: string, events: OptimizationEvent[]): KnownOptimizationState =>
  foldOptimization(events.map((e) => ({ ...e, data: { ...e.data, optimizationId: id } }) as OptimizationEvent)) as KnownOptimizationState;
const requested = (expiresAt: string, eligible?: string[]) =>
  ev('ApprovalRequested', { authority: 'change-board', requiredApprovals: 2, expiresAt, ...(eligible ? { eligibleApprovers: eligible.map((id) => ({ id, aliases: [id.split('@')[0]!] })) } : {}) });

describe('approvalQueueFor', () => {
  const NOW = new Date('2026-03-06T00:00:00.000Z');
  const as = (identity: string, names?: string[]) => ({ identity, ...(names ? { names } : {}) });
  it('given requests to the board, then a board member sees those not decided by them yet, soonest expiry first; others see none', () => {
    const later = state('b', [received, assessed, requested('2026-03-09T00:00:00.000Z', ['carol@acme.example', 'dan@acme.example'])]);
    const sooner = state('a', [received, assessed, requested('2026-03-08T00:00:00.000Z', ['carol@acme.example', 'dan@acme.example'])]);
    const carolApproved = state('c', [received, assessed, requested('2026-03-07T00:00:00.000Z', ['carol@acme.example', 'dan@acme.example']), ev('ApprovalGranted', { mode: 'manual', by: 'carol@acme.example', approvers: ['carol@acme.example'], final: false })]);
    const all = [later, sooner, carolApproved];
    expect(approvalQueueFor(all, as('Carol'), NOW).map((s) => s.optimizationId)).toEqual(['a', 'b']);
    expect(approvalQueueFor(all, as('dan@acme.example'), NOW).map((s) => s.optimizationId)).toEqual(['c', 'a', 'b']);
    expect(approvalQueueFor(all, as('alice@acme.example'), NOW)).toEqual([]);
  });

  it('given a request Carol asked for, then Carol does not see it (never the requester) and Dan does', () => {
    const asked = ev('OptimizationReceived', { recommendation: { ...recs.rightsize, requestedBy: 'carol' }, dryRun: false, deliveryId: 'd-1' });
    const all = [state('a', [asked, assessed, requested('2026-03-08T00:00:00.000Z', ['carol@acme.example', 'dan@acme.example'])])];
    expect(approvalQueueFor(all, as('carol@acme.example'), NOW)).toEqual([]);
    expect(approvalQueueFor(all, as('dan@acme.example'), NOW).map((s) => s.optimizationId)).toEqual(['a']);
  });

  it('without a roster at the request, anyone sees it', () => {
    expect(approvalQueueFor([state('a', [received, assessed, requested('2026-03-08T00:00:00.000Z')])], as('whoever'), NOW)).toHaveLength(1);
  });

  it('given a request that expired at now or before, then nobody sees it (the decider would refuse it: APPROVAL_EXPIRED)', () => {
    const all = [state('a', [received, assessed, requested('2026-03-06T00:00:00.000Z', ['dan@acme.example'])]), state('b', [received, assessed, requested('2026-03-06T00:00:01.000Z', ['dan@acme.example'])])];
    expect(approvalQueueFor(all, as('dan@acme.example'), NOW).map((s) => s.optimizationId)).toEqual(['b']);
  });

  it('given a name only Unicode normalization makes a roster alias, then it is not that member: the queue is empty', () => {
    const all = [state('a', [received, assessed, requested('2026-03-08T00:00:00.000Z', ['carol@acme.example', 'dan@acme.example'])])];
    expect(approvalQueueFor(all, as('ｃａｒｏｌ'), NOW)).toEqual([]);
    expect(approvalQueueFor(all, as('da\u00adn'), NOW)).toEqual([]);
    expect(approvalQueueFor(all, as('DAN'), NOW).map((s) => s.optimizationId)).toEqual(['a']); // letter case is no disguise
  });

  it('given a request asked for under a name the caller goes by (its subject, an e-mail claim), then the caller does not see it', () => {
    const asked = ev('OptimizationReceived', { recommendation: { ...recs.rightsize, requestedBy: 'dan' }, dryRun: false, deliveryId: 'd-1' });
    const all = [state('a', [asked, assessed, requested('2026-03-08T00:00:00.000Z')])];
    expect(approvalQueueFor(all, as('00u-dan', ['00u-dan', 'dan']), NOW)).toEqual([]);
    expect(approvalQueueFor(all, as('00u-erin', ['00u-erin', 'erin@acme.example']), NOW)).toHaveLength(1);
  });
});

describe('needingAnOperator and batchProgress', () => {
  const scheduled = (id: string, batchId: string) =>
    state(id, [received, assessed, ev('ApprovalGranted', { mode: 'auto', approvers: [], final: true }), ev('ExecutionScheduled', { batchId, notBefore: AT, priority: 'LOW' })]);
  const reconciling = state('r', [
    received,
    assessed,
    ev('ApprovalGranted', { mode: 'auto', approvers: [], final: true }),
    ev('ExecutionScheduled', { batchId: 'b1', notBefore: AT, priority: 'LOW' }),
    ev('ExecutionStarted', { dryRun: false }),
    ev('PreValidationPassed', { observed: { kind: 'instance', id: 'i-0abc', instanceType: 'm5.xlarge', state: 'running', tags: {} } }),
    ev('ExecutionStepStarted', { index: 0, step: { kind: 'stop-instance', instanceId: 'i-0abc' }, clientToken: 't' }),
    ev('ReconciliationRequired', { phase: 'execution', index: 0, step: { kind: 'stop-instance', instanceId: 'i-0abc' }, clientToken: 't', reason: 'unknown' }),
  ]);

  it('lists the ones an operator must look at, and nothing else', () => {
    expect(needingAnOperator([scheduled('s', 'b1'), reconciling]).map((s) => s.optimizationId)).toEqual(['r']);
  });

  it('counts each batch’s optimizations by status', () => {
    expect(batchProgress([scheduled('s1', 'b1'), scheduled('s2', 'b2'), reconciling, state('x', [received])])).toEqual([
      { batchId: 'b1', total: 2, byStatus: { scheduled: 1, 'reconciliation-needed': 1 } },
      { batchId: 'b2', total: 1, byStatus: { scheduled: 1 } },
    ]);
  });
});
