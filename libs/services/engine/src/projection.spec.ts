import { OPTIMIZATION_STREAM_PREFIX, type Recommendation } from '@optex/domain';
import { OptimizationProjection, type KnownOptimization } from './projection';

const AT = '2026-03-01T10:00:00.000Z';
const rec = (volumeId: string, id = volumeId): Recommendation =>
  ({
    recommendationId: `rec-${id}`,
    source: 'spec',
    accountId: '123456789012',
    region: 'us-east-1',
    resource: { type: 'ec2:volume', id: volumeId },
    action: { type: 'modify-volume', targetVolumeType: 'gp3' },
    estimatedMonthlySavings: 2,
    currency: 'USD',
  }) as Recommendation;

/** Events of one optimization's stream, numbered by revision as they are appended. */
function stream(id: string, volumeId = `vol-${id}`) {
  let revision = -1n;
  const event = (type: string, data: Record<string, unknown> = {}) => ({ stream: `${OPTIMIZATION_STREAM_PREFIX}${id}`, revision: ++revision, type, data: { optimizationId: id, at: AT, ...data } });
  return {
    received: () => event('OptimizationReceived', { recommendation: rec(volumeId, id), dryRun: false, deliveryId: `d:${id}` }),
    assessed: () => event('RiskAssessed', { baseLevel: 'LOW', level: 'LOW', factors: [], policyVersion: 'v1' }),
    approved: () => event('ApprovalGranted', { mode: 'auto', approvers: [], final: true }),
    requested: () => event('ApprovalRequested', { authority: 'team-lead', requiredApprovals: 1, expiresAt: '2026-03-08T10:00:00.000Z' }),
    denied: () => event('ApprovalDenied', { by: 'bob', reason: 'no' }),
    scheduled: () => event('ExecutionScheduled', { batchId: 'b1', notBefore: AT, priority: 'MEDIUM' }),
    started: () => event('ExecutionStarted', { dryRun: false }),
    preValidationFailed: () => event('PreValidationFailed', { reasons: ['gone'] }),
  };
}

const ids = (set: ReadonlySet<string>) => [...set].sort();
const idsOf = (states: readonly KnownOptimization[]) => states.map((s) => s.optimizationId).sort();

describe('OptimizationProjection indexes', () => {
  it('counts and lists optimizations per status as events move them', () => {
    const p = new OptimizationProjection();
    const a = stream('a');
    const b = stream('b');
    p.apply(a.received());
    p.apply(b.received());
    expect(p.countByStatus('received')).toBe(2);
    expect(p.size).toBe(2);

    p.apply(a.assessed());
    p.apply(a.approved());
    p.apply(b.assessed());
    p.apply(b.requested());
    expect(p.countByStatus('received')).toBe(0);
    expect(ids(p.idsByStatus('approved'))).toEqual(['a']);
    expect(ids(p.idsByStatus('awaiting-approval'))).toEqual(['b']);

    p.apply(b.denied());
    expect(p.countByStatus('awaiting-approval')).toBe(0);
    expect(ids(p.idsByStatus('denied'))).toEqual(['b']);
    expect(p.size).toBe(2);
    expect(idsOf(p.all())).toEqual(['a', 'b']);
  });

  it('indexes optimizations active on a resource while scheduled, executing, validating or rolling back', () => {
    const p = new OptimizationProjection();
    const a = stream('a', 'vol-shared');
    const b = stream('b', 'vol-shared');
    const key = '123456789012/us-east-1/vol-shared';
    for (const e of [a.received(), a.assessed(), a.approved(), b.received(), b.assessed(), b.approved()]) p.apply(e);
    expect(p.activeOnResource(key)).toEqual([]);
    expect(p.isResourceBusy(key)).toBe(false);
    expect(p.activeCount()).toBe(0);

    p.apply(a.scheduled());
    expect(idsOf(p.activeOnResource(key))).toEqual(['a']);
    expect(p.activeCount()).toBe(1);

    p.apply(a.started());
    expect(idsOf(p.activeOnResource(key))).toEqual(['a']);
    expect(p.activeOnResource(key)[0].status).toBe('executing');
    expect(p.activeCount()).toBe(1);

    p.apply(b.scheduled());
    expect(idsOf(p.activeOnResource(key))).toEqual(['a', 'b']);
    expect(p.activeCount()).toBe(2);

    p.apply(a.preValidationFailed());
    expect(idsOf(p.activeOnResource(key))).toEqual(['b']);
    expect(p.countByStatus('failed')).toBe(1);
    expect(p.activeCount()).toBe(1);
    expect(p.activeOnResource('123456789012/us-east-1/vol-other')).toEqual([]);
    expect(p.resourceKeyOf('a')).toBe(key);
  });

  it('ignores redelivered and out-of-order revisions', () => {
    const p = new OptimizationProjection();
    const a = stream('a');
    const received = a.received();
    const assessed = a.assessed();
    const approved = a.approved();
    const scheduled = a.scheduled();
    p.apply(received);
    p.apply(assessed);
    p.apply(approved);
    p.apply(scheduled);
    expect(p.apply(approved)).toBeUndefined();
    expect(p.apply(received)).toBeUndefined();
    expect(p.get('a')?.status).toBe('scheduled');
    expect(p.countByStatus('approved')).toBe(0);
    expect(p.countByStatus('scheduled')).toBe(1);
    expect(p.activeCount()).toBe(1);
    expect(p.size).toBe(1);
  });

  it('set() moves an optimization between indexes, but never back to an older revision', () => {
    const source = new OptimizationProjection();
    const a = stream('a');
    const events = [a.received(), a.assessed(), a.approved(), a.scheduled()];
    const snapshots = events.map((e) => ({ state: source.apply(e) as KnownOptimization, revision: e.revision }));

    const p = new OptimizationProjection();
    p.set('a', snapshots[2].state, snapshots[2].revision);
    expect(ids(p.idsByStatus('approved'))).toEqual(['a']);
    p.set('a', snapshots[3].state, snapshots[3].revision);
    expect(p.countByStatus('approved')).toBe(0);
    expect(p.activeCount()).toBe(1);
    p.set('a', snapshots[1].state, snapshots[1].revision);
    expect(p.get('a')?.status).toBe('scheduled');
    expect(p.revisionOf('a')).toBe(3n);
  });

  it('tells listeners each change with the state before', () => {
    const p = new OptimizationProjection();
    const seen: string[] = [];
    const stop = p.onChange((after, before) => seen.push(`${before?.status ?? '∅'}→${after.status}`));
    const a = stream('a');
    p.apply(a.received());
    const assessed = a.assessed();
    p.apply(assessed);
    p.apply(assessed); // a redelivery changes nothing
    stop();
    p.apply(a.approved());
    expect(seen).toEqual(['∅→received', 'received→received']);
  });

  it('ignores events of other streams', () => {
    const p = new OptimizationProjection();
    expect(p.apply({ stream: 'batch-1', revision: 0n, type: 'BatchPlanned', data: {} })).toBeUndefined();
    expect(p.size).toBe(0);
  });
});
