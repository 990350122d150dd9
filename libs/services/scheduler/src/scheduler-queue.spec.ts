import { OPTIMIZATION_STREAM_PREFIX, selectDispatches, type BatchMode, type BatchPlanned, type Recommendation, type RiskLevel } from '@optex/domain';
import { OptimizationProjection, type KnownOptimization } from '@optex/engine';
import { SchedulerQueue, queuedItemOf } from './scheduler-queue';

const NOW = new Date('2026-03-01T10:00:00.000Z');
const ACCOUNT = '123456789012';

interface Spec {
  id: string;
  volumeId?: string;
  priority?: RiskLevel;
  region?: string;
  type?: 'ec2:volume' | 'ec2:instance';
  approvedAt?: string;
}

/** Feeds a projection the events of optimizations, by stream revision. */
class World {
  readonly projection = new OptimizationProjection();
  private readonly revisions = new Map<string, bigint>();

  private emit(id: string, type: string, data: Record<string, unknown> = {}, at = NOW.toISOString()): void {
    const revision = (this.revisions.get(id) ?? -1n) + 1n;
    this.revisions.set(id, revision);
    this.projection.apply({ stream: `${OPTIMIZATION_STREAM_PREFIX}${id}`, revision, type, data: { optimizationId: id, at, ...data } });
  }

  approve(spec: Spec): void {
    const type = spec.type ?? 'ec2:volume';
    const recommendation = {
      recommendationId: `rec-${spec.id}`,
      source: 'spec',
      accountId: ACCOUNT,
      region: spec.region ?? 'us-east-1',
      resource: { type, id: spec.volumeId ?? `vol-${spec.id}` },
      action: type === 'ec2:volume' ? { type: 'modify-volume', targetVolumeType: 'gp3' } : { type: 'stop-idle' },
      estimatedMonthlySavings: 2,
      currency: 'USD',
      ...(spec.priority ? { priority: spec.priority } : {}),
    } as Recommendation;
    this.emit(spec.id, 'OptimizationReceived', { recommendation, dryRun: false, deliveryId: `d:${spec.id}` });
    this.emit(spec.id, 'RiskAssessed', { baseLevel: 'LOW', level: 'LOW', factors: [], policyVersion: 'v1' });
    this.emit(spec.id, 'ApprovalGranted', { mode: 'auto', approvers: [], final: true }, spec.approvedAt ?? NOW.toISOString());
  }

  schedule(id: string, batchId = 'b1'): void {
    this.emit(id, 'ExecutionScheduled', { batchId, notBefore: NOW.toISOString(), priority: 'MEDIUM' });
  }

  /** Started, its rollback failed: waiting for an operator (`retry-rollback` or `resolve`). */
  rollbackFailed(id: string): void {
    this.emit(id, 'ExecutionStarted', { dryRun: false });
    this.emit(id, 'RollbackStarted', { reason: 'validation failed', steps: [] });
    this.emit(id, 'RollbackFailed', { error: { code: 'InsufficientInstanceCapacity', message: 'no capacity' } });
  }

  resolve(id: string): void {
    this.emit(id, 'OptimizationResolved', { by: 'oncall', note: 'restored by hand', from: 'rollback-failed' });
  }

  retryAndRollBack(id: string): void {
    this.emit(id, 'RollbackRetried', { by: 'oncall', reason: 'capacity is back' });
    this.emit(id, 'RollbackCompleted');
  }

  fail(id: string): void {
    this.emit(id, 'ExecutionStarted', { dryRun: false });
    this.emit(id, 'PreValidationFailed', { reasons: ['gone'] });
  }
}

const plan = (ids: string[], options: { mode?: BatchMode; maxParallel?: number; notBefore?: Date; batchId?: string } = {}): BatchPlanned['data'] => ({
  batchId: options.batchId ?? 'b1',
  mode: options.mode ?? 'parallel',
  maxParallel: options.maxParallel ?? 4,
  notBefore: (options.notBefore ?? NOW).toISOString(),
  optimizationIds: [...ids].sort(),
  at: NOW.toISOString(),
});

const chosenIds = (items: readonly { optimizationId: string }[]) => items.map((i) => i.optimizationId);
const never = () => false;

describe('SchedulerQueue', () => {
  it('keeps approved optimizations unbatched until a batch takes them', () => {
    const w = new World();
    w.approve({ id: 'a' });
    const queue = new SchedulerQueue(w.projection);
    w.approve({ id: 'b' });
    expect(queue.unbatchedIds()).toEqual(['a', 'b']);
    queue.addBatch(plan(['a', 'b']));
    expect(queue.unbatchedCount).toBe(0);
    w.approve({ id: 'c' });
    expect(queue.unbatchedIds()).toEqual(['c']);
  });

  it('chooses by priority, then approval time, within the room left, never onto a busy resource', () => {
    const w = new World();
    const queue = new SchedulerQueue(w.projection);
    w.approve({ id: 'low', priority: 'LOW' });
    w.approve({ id: 'late', priority: 'HIGH', approvedAt: '2026-03-01T10:05:00.000Z' });
    w.approve({ id: 'early', priority: 'HIGH', approvedAt: '2026-03-01T09:55:00.000Z' });
    w.approve({ id: 'crit', priority: 'CRITICAL', volumeId: 'vol-busy' });
    queue.addBatch(plan(['low', 'late', 'early', 'crit'], { maxParallel: 3 }));
    const [batch] = queue.openBatches();
    const busy = (key: string) => key.endsWith('/vol-busy');
    expect(chosenIds(queue.select(batch, NOW, 10, busy))).toEqual(['early', 'late', 'low']);
    expect(chosenIds(queue.select(batch, NOW, 2, busy))).toEqual(['early', 'late']);
    expect(chosenIds(queue.select(batch, NOW, 10, never))).toEqual(['crit', 'early', 'late']);
  });

  it('moves dispatched members from waiting to active, and frees the room when they finish', () => {
    const w = new World();
    const queue = new SchedulerQueue(w.projection);
    for (const id of ['a', 'b', 'c']) w.approve({ id });
    queue.addBatch(plan(['a', 'b', 'c'], { maxParallel: 2 }));
    const batch = queue.openBatches()[0];
    for (const item of queue.select(batch, NOW, 10, never)) w.schedule(item.optimizationId);
    expect([...batch.waiting]).toEqual(['c']);
    expect([...batch.active.keys()].sort()).toEqual(['a', 'b']);
    expect(queue.select(batch, NOW, 10, never)).toEqual([]);
    w.fail('a');
    expect(chosenIds(queue.select(batch, NOW, 10, never))).toEqual(['c']);
    expect(queue.takeCompletable()).toEqual([]);
    w.fail('b');
    w.schedule('c');
    w.fail('c');
    expect(queue.takeCompletable()).toEqual(['b1']);
    queue.removeBatch('b1');
    expect(queue.openBatches()).toEqual([]);
  });

  it('never dispatches onto a resource whose optimization is rollback-failed, until an operator resolves it; it takes no slot meanwhile', () => {
    const w = new World();
    const queue = new SchedulerQueue(w.projection);
    const busy = (key: string) => w.projection.isResourceBusy(key);
    w.approve({ id: 'first', volumeId: 'vol-shared', priority: 'HIGH' });
    w.approve({ id: 'second', volumeId: 'vol-shared' });
    w.approve({ id: 'other' });
    queue.addBatch(plan(['first', 'second', 'other'], { maxParallel: 1 }));
    const batch = queue.openBatches()[0];
    expect(chosenIds(queue.select(batch, NOW, 10, busy))).toEqual(['first']);
    w.schedule('first');
    w.rollbackFailed('first');
    expect(chosenIds(queue.select(batch, NOW, 10, busy))).toEqual(['other']); // the slot is free; vol-shared is not
    w.schedule('other');
    w.fail('other');
    expect(queue.select(batch, NOW, 10, busy)).toEqual([]);
    expect(queue.takeCompletable()).toEqual([]); // second still waits in the batch
    w.resolve('first');
    expect(chosenIds(queue.select(batch, NOW, 10, busy))).toEqual(['second']);
  });

  it('releases the resource of a rollback-failed optimization once a retried rollback ends rolled-back', () => {
    const w = new World();
    const queue = new SchedulerQueue(w.projection);
    const busy = (key: string) => w.projection.isResourceBusy(key);
    w.approve({ id: 'first', volumeId: 'vol-shared', priority: 'HIGH' });
    w.approve({ id: 'second', volumeId: 'vol-shared' });
    queue.addBatch(plan(['first', 'second']));
    const batch = queue.openBatches()[0];
    expect(chosenIds(queue.select(batch, NOW, 10, busy))).toEqual(['first']);
    w.schedule('first');
    w.rollbackFailed('first');
    expect(queue.select(batch, NOW, 10, busy)).toEqual([]);
    w.retryAndRollBack('first');
    expect(w.projection.statusOf('first')).toBe('rolled-back');
    expect(chosenIds(queue.select(batch, NOW, 10, busy))).toEqual(['second']);
  });

  it('holds a batch until its notBefore, and says until when', () => {
    const w = new World();
    const queue = new SchedulerQueue(w.projection);
    w.approve({ id: 'a' });
    const later = new Date(NOW.getTime() + 3_600_000);
    queue.addBatch(plan(['a'], { notBefore: later }));
    const batch = queue.openBatches()[0];
    expect(queue.select(batch, NOW, 10, never)).toEqual([]);
    expect(queue.waitingUntil(NOW)).toEqual(later);
    expect(chosenIds(queue.select(batch, later, 10, never))).toEqual(['a']);
  });

  it('runs one group at a time in a grouped mode: that of its active items, else that of the highest-priority waiting item', () => {
    const w = new World();
    const queue = new SchedulerQueue(w.projection);
    w.approve({ id: 'eu1', region: 'eu-west-1', priority: 'HIGH' });
    w.approve({ id: 'eu2', region: 'eu-west-1', priority: 'LOW' });
    w.approve({ id: 'us1', region: 'us-east-1', priority: 'MEDIUM' });
    w.approve({ id: 'us2', region: 'us-east-1', priority: 'LOW' });
    queue.addBatch(plan(['eu1', 'eu2', 'us1', 'us2'], { mode: 'region-grouped', maxParallel: 2 }));
    const batch = queue.openBatches()[0];
    expect(chosenIds(queue.select(batch, NOW, 10, never))).toEqual(['eu1', 'eu2']);
    w.schedule('eu1');
    w.fail('eu1');
    expect(chosenIds(queue.select(batch, NOW, 10, never))).toEqual(['us1', 'us2']);
    w.schedule('eu2');
    expect(queue.select(batch, NOW, 10, never).map((i) => i.optimizationId)).toEqual([]);
    w.fail('eu2');
    expect(chosenIds(queue.select(batch, NOW, 10, never))).toEqual(['us1', 'us2']);
  });

  it('chooses what selectDispatches chooses, step by step, in every mode', () => {
    for (const mode of ['sequential', 'parallel', 'resource-grouped', 'region-grouped'] as const) {
      const w = new World();
      const queue = new SchedulerQueue(w.projection);
      const priorities: RiskLevel[] = ['LOW', 'MEDIUM', 'HIGH', 'CRITICAL'];
      const ids: string[] = [];
      for (let i = 0; i < 40; i++) {
        const id = `o${String(i).padStart(2, '0')}`;
        ids.push(id);
        w.approve({
          id,
          volumeId: `vol-${i % 13}`, // some share a resource
          priority: priorities[(i * 7) % 4],
          region: i % 3 === 0 ? 'eu-west-1' : 'us-east-1',
          type: i % 5 === 0 ? 'ec2:instance' : 'ec2:volume',
          approvedAt: new Date(NOW.getTime() - ((i * 37) % 11) * 1000).toISOString(),
        });
      }
      queue.addBatch(plan(ids, { mode, maxParallel: 3 }));
      const batch = queue.openBatches()[0];
      for (let step = 0; step < 100 && batch.open.size > 0; step++) {
        const members = ids.map((id) => w.projection.get(id)).filter((s): s is KnownOptimization => s !== undefined);
        const queued = members.filter((s) => s.status === 'approved').map((s) => queuedItemOf(s));
        const active = members.filter((s) => s.status === 'scheduled').map((s) => queuedItemOf(s));
        const busy = new Set(active.map((a) => a.resourceKey));
        const expected = selectDispatches({ ...batch.plan, queued, active }, NOW, busy, 2);
        const actual = queue.select(batch, NOW, 2, (key) => w.projection.isResourceBusy(key));
        expect({ mode, step, chosen: chosenIds(actual) }).toEqual({ mode, step, chosen: chosenIds(expected) });
        for (const item of actual) w.schedule(item.optimizationId);
        const running = [...batch.active.keys()].sort();
        if (running.length > 0) w.fail(running[step % running.length]);
      }
      expect(batch.open.size).toBe(0);
    }
  });
});
