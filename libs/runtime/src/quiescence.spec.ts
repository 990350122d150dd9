import { OPTIMIZATION_STREAM_PREFIX } from '@optex/domain';
import { QuiescenceTracker, isQuiescent, type QuiescenceSignals, type SettlementCounts } from './quiescence';

const counts = (c: Partial<SettlementCounts>): SettlementCounts => ({ total: 0, settled: 0, approved: 0, events: 0, ...c });
const signals = (s: Partial<QuiescenceSignals> = {}): QuiescenceSignals => ({ relayCaughtUp: true, schedulerBusy: false, waitingForLater: false, quietMs: 0, ...s });

describe('isQuiescent', () => {
  it('is done when every optimization is settled and nothing is moving', () => {
    expect(isQuiescent(counts({ total: 3, settled: 3 }), signals(), 250)).toBe(true);
    expect(isQuiescent(counts({}), signals(), 250)).toBe(true);
  });

  it('is never done while the relay lags or the batch window is open', () => {
    expect(isQuiescent(counts({ total: 3, settled: 3 }), signals({ relayCaughtUp: false }), 250)).toBe(false);
    expect(isQuiescent(counts({ total: 3, settled: 3 }), signals({ schedulerBusy: true, quietMs: 10_000 }), 250)).toBe(false);
  });

  it('is not done while optimizations are unsettled and events still come', () => {
    expect(isQuiescent(counts({ total: 3, settled: 1, approved: 1 }), signals({ quietMs: 10 }), 250)).toBe(false);
  });

  it('is done when the only unsettled ones are approved and wait for a later notBefore', () => {
    expect(isQuiescent(counts({ total: 3, settled: 1, approved: 2 }), signals({ waitingForLater: true }), 250)).toBe(true);
    expect(isQuiescent(counts({ total: 4, settled: 1, approved: 2 }), signals({ waitingForLater: true }), 250)).toBe(false);
  });

  it('gives up on stuck optimizations after the stall time without any event', () => {
    expect(isQuiescent(counts({ total: 3, settled: 2 }), signals({ quietMs: 249 }), 250)).toBe(false);
    expect(isQuiescent(counts({ total: 3, settled: 2 }), signals({ quietMs: 250 }), 250)).toBe(true);
  });
});

describe('QuiescenceTracker', () => {
  const AT = '2026-03-01T10:00:00.000Z';
  const event = (id: string, revision: bigint, type: string, data: Record<string, unknown> = {}) => ({
    stream: `${OPTIMIZATION_STREAM_PREFIX}${id}`,
    revision,
    type,
    data: { optimizationId: id, at: AT, ...data },
  });
  const received = (id: string) =>
    event(id, 0n, 'OptimizationReceived', {
      recommendation: { recommendationId: id, source: 's', accountId: '123456789012', region: 'us-east-1', resource: { type: 'ec2:volume', id: `vol-${id}` }, action: { type: 'modify-volume', targetVolumeType: 'gp3' }, estimatedMonthlySavings: 1, currency: 'USD' },
      dryRun: true,
      deliveryId: `d:${id}`,
    });

  it('counts settled optimizations from the events it observes', () => {
    const tracker = QuiescenceTracker.empty();
    tracker.observe(received('a'));
    tracker.observe(received('b'));
    tracker.observe(event('a', 1n, 'RiskAssessed', { baseLevel: 'HIGH', level: 'HIGH', factors: [], policyVersion: 'v1' }));
    tracker.observe(event('a', 2n, 'ApprovalRequested', { authority: 'finops-manager', requiredApprovals: 1, expiresAt: AT }));
    tracker.observe(event('b', 1n, 'RiskAssessed', { baseLevel: 'LOW', level: 'LOW', factors: [], policyVersion: 'v1' }));
    tracker.observe(event('b', 2n, 'ApprovalGranted', { mode: 'auto', approvers: [], final: true }));
    expect(tracker.counts()).toEqual({ total: 2, settled: 1, approved: 1, events: 6 });
    tracker.observe(event('b', 3n, 'ApprovalDenied', { by: 'x', reason: 'y' }));
    tracker.observe(event('b', 3n, 'ApprovalDenied', { by: 'x', reason: 'y' })); // redelivered
    expect(tracker.counts()).toMatchObject({ total: 2, settled: 2, approved: 0 });
    expect(tracker.progressLine(3000)).toBe('… 2/2 optimizations settled after 3 s (8 events)');
  });

  it('wakes a waiter on the next observed event', async () => {
    const tracker = QuiescenceTracker.empty();
    const woken = tracker.changed(60_000);
    tracker.observe(received('a'));
    await expect(woken).resolves.toBeUndefined();
  });
});
