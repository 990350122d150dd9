import { AT, OPT_ID, ev, observed, recs } from './__fixtures__';
import { foldOptimization, type KnownOptimizationState } from './decider';
import type { OptimizationEvent } from './events';
import { matchesFilter, parseOptimizationFilter, savingsBy } from './queries';

const ok = { verdict: 'ok' } as const;
const received = ev('OptimizationReceived', { recommendation: recs.rightsize, dryRun: false, deliveryId: 'd' });
const assessed = ev('RiskAssessed', { baseLevel: 'MEDIUM', level: 'MEDIUM', factors: [], policyVersion: 'default-v1' });
const requested = ev('ApprovalRequested', { authority: 'team-lead', requiredApprovals: 1, expiresAt: '2026-03-08T10:00:00.000Z' });
const completed = (validation: Record<string, unknown>): OptimizationEvent[] => [
  received,
  assessed,
  requested,
  ev('ApprovalGranted', { mode: 'manual', by: 'alice', approvers: ['alice'], final: true }),
  ev('ExecutionScheduled', { batchId: 'b', notBefore: AT, priority: 'MEDIUM' }),
  ev('ExecutionStarted', { dryRun: false }),
  ev('PreValidationPassed', { observed: observed.runningInstance }),
  ev('ExecutionSucceeded', { durationMs: 1200, dryRun: false }),
  ev('ValidationPassed', { performance: ok, ...validation } as never),
];
const fold = (events: OptimizationEvent[]) => foldOptimization(events) as KnownOptimizationState;

describe('parseOptimizationFilter', () => {
  it('given comma-separated lists and times, parses them', () => {
    const parsed = parseOptimizationFilter({ status: 'awaiting-approval,completed', risk: 'HIGH', account: '123456789012', receivedFrom: '2026-03-01T00:00:00Z' });
    expect(parsed).toEqual({ ok: true, value: { status: ['awaiting-approval', 'completed'], risk: ['HIGH'], account: ['123456789012'], receivedFrom: new Date('2026-03-01T00:00:00Z') } });
  });

  it('names every bad parameter, and an unknown one', () => {
    const parsed = parseOptimizationFilter({ status: 'done', account: '12', receivedBefore: 'yesterday', colour: 'red' });
    expect(parsed.ok).toBe(false);
    const paths = parsed.ok ? [] : parsed.errors.map((e) => e.path);
    expect(paths).toEqual(expect.arrayContaining(['status.0', 'account.0', 'receivedBefore', 'colour']));
  });
});

describe('matchesFilter', () => {
  const waiting = fold([received, assessed, requested]);
  it('holds when every present criterion holds', () => {
    expect(matchesFilter(waiting, {})).toBe(true);
    expect(matchesFilter(waiting, { status: ['awaiting-approval'], risk: ['MEDIUM'], authority: ['team-lead'], account: ['123456789012'], region: ['us-east-1'], action: ['rightsize'] })).toBe(true);
  });
  it('fails on any criterion that does not hold', () => {
    expect(matchesFilter(waiting, { risk: ['HIGH'] })).toBe(false);
    expect(matchesFilter(waiting, { authority: ['change-board'] })).toBe(false);
    expect(matchesFilter(waiting, { action: ['stop-idle'] })).toBe(false);
  });
  it('filters on the received time: from inclusive, before exclusive', () => {
    expect(matchesFilter(waiting, { receivedFrom: new Date(AT) })).toBe(true);
    expect(matchesFilter(waiting, { receivedBefore: new Date(AT) })).toBe(false);
  });
});

describe('savingsBy', () => {
  it('sums estimated and realized savings of completed optimizations per group; unpriced ones are counted apart, never as 0', () => {
    const priced = fold(completed({ actualMonthlySavings: 60, accuracyPct: 85.62 }));
    const unpriced = { ...fold(completed({ unpriced: ['region eu-north-1 (not in the price book)'] })), optimizationId: `${OPT_ID}-2` } as KnownOptimizationState;
    const waiting = fold([received, assessed, requested]);
    expect(savingsBy([priced, unpriced, waiting], 'action')).toEqual([{ key: 'rightsize', completed: 2, estimatedMonthlySavings: 140.16, realizedMonthlySavings: 60, unpriced: 1 }]);
    expect(savingsBy([priced], 'month')).toEqual([expect.objectContaining({ key: '2026-03' })]);
    expect(savingsBy([priced], 'account')).toEqual([expect.objectContaining({ key: '123456789012' })]);
  });
});
