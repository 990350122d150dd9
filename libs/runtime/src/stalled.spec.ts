import type { OptimizationStatus, OptimizationView } from '@optex/domain';
import { stalledOf, type RunReport } from './processing';

// Which optimizations a finished run left mid-way with nothing recorded to wait for (run/resume exit 1 on them).

const row = (optimizationId: string, status: OptimizationStatus): OptimizationView => ({ optimizationId, status }) as OptimizationView;
const reportOf = (optimizations: OptimizationView[], more: Partial<RunReport> = {}): RunReport => ({ optimizations, conflicts: [], rejected: [], summary: {} as RunReport['summary'], ...more });

describe('stalledOf', () => {
  const all: OptimizationStatus[] = ['received', 'awaiting-approval', 'approved', 'scheduled', 'executing', 'validating', 'rolling-back', 'reconciliation-needed', 'completed', 'dry-run-completed', 'denied', 'expired', 'cancelled', 'failed', 'rolled-back', 'rollback-failed', 'resolved', 'out-of-scope'];

  it('given a run with no reason to leave work, then every optimization neither settled nor waiting for a person is stalled', () => {
    const stalled = stalledOf(reportOf(all.map((status) => row(`o-${status}`, status))));
    expect(stalled.map((s) => s.status)).toEqual(['received', 'approved', 'scheduled', 'executing', 'validating', 'rolling-back']);
    expect(stalled[0]).toEqual({ optimizationId: 'o-received', status: 'received' });
  });

  it('given an approved optimization waiting for a resource another one holds, then it is not stalled; another approved one is', () => {
    const heldBy = { optimizationId: 'o-h', status: 'rollback-failed' as const };
    const report = reportOf([row('o-1', 'approved'), row('o-2', 'approved'), row('o-h', 'rollback-failed')], { waitingOnResource: [{ optimizationId: 'o-1', resourceId: 'i-1', heldBy, reason: 'held' }] });
    expect(stalledOf(report)).toEqual([{ optimizationId: 'o-2', status: 'approved' }]);
  });

  it('given a run that waits for a time, holds a halted batch, is paused or has a dead letter, then nothing is called stalled (the report names that reason)', () => {
    const optimizations = [row('o-1', 'scheduled'), row('o-2', 'validating')];
    for (const more of [
      { waitingUntil: '2099-01-01T00:00:00.000Z' },
      { haltedBatches: [{ batchId: 'b', rule: 'max-errors', reason: 'r', waiting: 1 }] },
      { paused: { by: 'ops', reason: 'incident', since: '2026-01-01T00:00:00.000Z' } },
      { deadLettered: [{ group: 'optex-executor', optimizationId: 'o-1', reason: 'bug' }] },
    ]) {
      expect(stalledOf(reportOf(optimizations, more))).toEqual([]);
    }
    expect(stalledOf(reportOf(optimizations, { haltedBatches: [], deadLettered: [] }))).toHaveLength(2);
  });
});
