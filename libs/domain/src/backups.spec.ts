import { DeciderSpecification } from './__fixtures__/decider-spec';
import { AT, NOW, OPT_ID, cmd, ev, observed, recs } from './__fixtures__';
import { backupExpiryOutcomeOf, backupExpiryText, backupSnapshotOf, backupSnapshots, DEFAULT_BACKUPS, rollbackRefusal } from './backups';
import { foldOptimization, optimizationDecider, type OptimizationState } from './decider';
import { parseStoredEvent } from './event-schemas';
import { executionPlan, rollbackPlan, rollbackStepsFor } from './plans';
import { defaultPolicy, parsePolicy } from './policy';
import { viewOf } from './projection';
import type { OptimizationEvent } from './events';

// Backup snapshots of delete-volume follow the policy's retention: due once older than backups.retentionDays and
// the optimization ended, expired as BackupSnapshotExpired, after which nothing rolls the deletion back.

const spec = DeciderSpecification.for(optimizationDecider);
const DAY = 24 * 3600 * 1000;
const later = (days: number, ms = 0) => new Date(NOW.getTime() + days * DAY + ms);
const known = (state: OptimizationState) => {
  if (state.status === 'initial') throw new Error('expected a received optimization');
  return state;
};

// ── A delete-volume with a backup snapshot (snap-backup), taken at NOW ──
const rec = recs.deleteVolume;
const volume = observed.gp2Volume;
const plan = executionPlan(rec, volume, OPT_ID);
const outputs: Record<string, string>[] = [{ snapshotId: 'snap-backup' }, {}, {}];
const stepDone = (index: number) => ev('ExecutionStepCompleted', { index, step: plan[index]!, outputs: outputs[index]!, dryRun: false, reconciled: false });
const upToExecuting: OptimizationEvent[] = [
  ev('OptimizationReceived', { recommendation: rec, dryRun: false, deliveryId: 'd-1' }),
  ev('RiskAssessed', { baseLevel: 'HIGH', level: 'HIGH', factors: [], policyVersion: 'default-v1' }),
  ev('ApprovalGranted', { mode: 'manual', by: 'alice', approvers: ['alice'], final: true }),
  ev('ExecutionScheduled', { batchId: 'b-1', notBefore: AT, priority: 'HIGH' }),
  ev('ExecutionStarted', { dryRun: false }),
  ev('PreValidationPassed', { observed: volume }),
  ev('RollbackPlanRecorded', { steps: rollbackPlan(rec, volume), reversible: 'yes' }),
];
const upToValidating: OptimizationEvent[] = [...upToExecuting, stepDone(0), stepDone(1), stepDone(2), ev('ExecutionSucceeded', { durationMs: 1000, dryRun: false })];
const completed: OptimizationEvent[] = [...upToValidating, ev('ValidationPassed', { performance: { verdict: 'ok' } })];
const restoreSteps = rollbackStepsFor(rec, volume, plan, { snapshotId: 'snap-backup' });
const rolledBack: OptimizationEvent[] = [
  ...upToValidating,
  ev('ValidationFailed', { reasons: ['x'], performance: { verdict: 'ok' } }),
  ev('RollbackStarted', { reason: 'validation failed: x', steps: restoreSteps }),
  ev('RollbackStepCompleted', { index: 0, step: restoreSteps[0]!, outputs: { volumeId: 'vol-restored' }, reconciled: false }),
  ev('RollbackCompleted', {}),
];
const expire = (days: number, outcome: 'deleted' | 'already-gone' | 'refused' = 'deleted', error?: { code: string; message: string }, retentionDays = 30) =>
  cmd('ExpireBackupSnapshot', { retentionDays, outcome, ...(error ? { error } : {}) }, later(days));
const expired = (days: number, outcome: 'deleted' | 'already-gone' | 'refused' = 'deleted', error?: { code: string; message: string }) =>
  ev('BackupSnapshotExpired', { at: later(days).toISOString(), snapshotId: 'snap-backup', volumeId: 'vol-0abc', createdAt: AT, retentionDays: 30, outcome, ...(error ? { error } : {}) });
const inUse = { code: 'InvalidSnapshot.InUse', message: 'The snapshot snap-backup is currently in use by ami-1' };

describe('backups policy', () => {
  it('keeps backups 30 days by default; a policy file sets other whole days, or null for ever', () => {
    expect(defaultPolicy.backups).toEqual({ retentionDays: 30 });
    expect(parsePolicy({ backups: { retentionDays: 7 } })).toMatchObject({ ok: true, value: { backups: { retentionDays: 7 } } });
    expect(parsePolicy({ backups: { retentionDays: null } })).toMatchObject({ ok: true, value: { backups: { retentionDays: null } } });
  });

  it.each([[0], [-3], [1.5], ['30'], [3651]])('refuses retentionDays %j with its path', (retentionDays) => {
    const result = parsePolicy({ backups: { retentionDays } });
    expect(result).toMatchObject({ ok: false, errors: [{ path: 'backups.retentionDays' }] });
  });

  it('refuses an unknown field of backups with its path', () => {
    expect(parsePolicy({ backups: { retention: 30 } })).toMatchObject({ ok: false, errors: [{ path: 'backups.retention' }] });
  });
});

describe('the backup an optimization holds', () => {
  it('is taken by the create-snapshot step, counting from its completion', () => {
    expect(backupSnapshotOf(foldOptimization(completed), DEFAULT_BACKUPS, NOW)).toMatchObject({
      optimizationId: OPT_ID,
      accountId: '123456789012',
      region: 'us-east-1',
      volumeId: 'vol-0abc',
      snapshotId: 'snap-backup',
      createdAt: AT,
      expiresAt: later(30).toISOString(),
      status: 'kept',
    });
  });

  it('is due once a completed or rolled-back optimization passed the retention, not a millisecond before', () => {
    expect(backupSnapshotOf(foldOptimization(completed), DEFAULT_BACKUPS, later(30, -1))?.status).toBe('kept');
    expect(backupSnapshotOf(foldOptimization(completed), DEFAULT_BACKUPS, later(30))?.status).toBe('due');
    expect(backupSnapshotOf(foldOptimization(rolledBack), DEFAULT_BACKUPS, later(31))?.status).toBe('due');
    expect(backupSnapshotOf(foldOptimization(completed), { retentionDays: null }, later(3650))).toMatchObject({ status: 'kept', expiresAt: null });
  });

  it('is not due while the optimization may still need it, or waits for (or was closed by) an operator', () => {
    expect(backupSnapshotOf(foldOptimization(upToValidating), DEFAULT_BACKUPS, later(90))?.status).toBe('in-flight');
    const rollbackFailed = [...rolledBack.slice(0, -2), ev('RollbackFailed', { error: { code: 'InsufficientVolumeCapacity', message: 'no gp2' }, failedStepIndex: 0 })];
    expect(backupSnapshotOf(foldOptimization(rollbackFailed), DEFAULT_BACKUPS, later(90))?.status).toBe('held');
    const resolved = [...rollbackFailed, ev('OptimizationResolved', { by: 'oncall', note: 'restored by hand', from: 'rollback-failed' })];
    expect(backupSnapshotOf(foldOptimization(resolved), DEFAULT_BACKUPS, later(90))).toMatchObject({ status: 'held', reason: expect.stringMatching(/by hand/) });
  });

  it('is none when the rollback of a deletion that failed before the volume went deleted it, nor for a dry run or without a snapshot', () => {
    const cleanup = rollbackStepsFor(rec, volume, plan.slice(0, 2), { snapshotId: 'snap-backup' });
    const failedEarly = [
      ...upToExecuting,
      stepDone(0),
      stepDone(1),
      ev('ExecutionFailed', { error: { code: 'VolumeInUse', message: 'attached' }, failedStepIndex: 2, durationMs: 5 }),
      ev('RollbackStarted', { reason: 'execution failed', steps: cleanup }),
      ev('RollbackStepCompleted', { index: 0, step: cleanup[0]!, outputs: {}, reconciled: false }),
      ev('RollbackCompleted', {}),
    ];
    expect(cleanup).toEqual([{ kind: 'delete-snapshot', snapshotId: 'snap-backup' }]);
    expect(backupSnapshotOf(foldOptimization(failedEarly), DEFAULT_BACKUPS, later(90))).toBeUndefined();
    const dry = ev('ExecutionStepCompleted', { index: 0, step: plan[0]!, outputs: { snapshotId: 'snap-dry' }, dryRun: true, reconciled: false });
    expect(backupSnapshotOf(foldOptimization([...upToExecuting, dry]), DEFAULT_BACKUPS, later(90))).toBeUndefined();
    expect(backupSnapshots([foldOptimization(completed), foldOptimization([]), foldOptimization(upToExecuting)], DEFAULT_BACKUPS, NOW)).toHaveLength(1);
  });
});

describe('ExpireBackupSnapshot', () => {
  it('given a completed delete-volume past its retention, when expired, then BackupSnapshotExpired and it is no longer reversible', () => {
    spec
      .given(completed)
      .when(expire(31))
      .then((events, state) => {
        expect(events).toEqual([expired(31)]);
        const s = known(state);
        expect(s.status).toBe('completed');
        expect(viewOf(s).reversible).toBe('no');
        expect(backupSnapshotOf(s, DEFAULT_BACKUPS, later(31))).toMatchObject({ status: 'deleted', expiry: { outcome: 'deleted', retentionDays: 30 } });
      });
  });

  it('records a snapshot found gone as already-gone, and EC2 refusing it (an image uses it) with its code', () => {
    spec.given(completed).when(expire(31, 'already-gone')).then([expired(31, 'already-gone')]);
    spec
      .given(completed)
      .when(expire(31, 'refused', inUse))
      .then((events, state) => {
        expect(events).toEqual([expired(31, 'refused', inUse)]);
        expect(backupSnapshotOf(state, DEFAULT_BACKUPS, later(32))).toMatchObject({ status: 'refused', reason: expect.stringMatching(/InvalidSnapshot\.InUse.*not tried again/) });
      });
  });

  it('given it expired already (whatever came of it), then nothing: a refusal is not tried again', () => {
    spec.given([...completed, expired(31)]).when(expire(40)).thenNothing();
    spec.given([...completed, expired(31, 'refused', inUse)]).when(expire(40)).thenNothing();
  });

  it('refuses a backup still within its retention, saying until when', () => {
    const error = spec.given(completed).when(expire(29)).thenThrows('INVALID_STATE');
    expect((error as Error).message).toMatch(/kept until 2026-03-31T10:00:00.000Z/);
  });

  it('refuses while the optimization may still need it, and an optimization without a backup', () => {
    spec.given(upToValidating).when(expire(90)).thenThrows('INVALID_STATE');
    spec.given(upToExecuting).when(expire(90)).thenThrows('INVALID_STATE');
  });

  it('refuses a refusal without its error, and a retention that is not whole days', () => {
    spec.given(completed).when(expire(31, 'refused')).thenThrows('INVALID_INPUT');
    spec.given(completed).when(expire(31, 'deleted', undefined, 0)).thenThrows('INVALID_INPUT');
  });

  it('is stored and read back by its schema', () => {
    const e = expired(31, 'refused', inUse);
    expect(parseStoredEvent({ type: e.type, data: e.data, metadata: { schemaVersion: 1 } })).toEqual(e);
    expect(() => parseStoredEvent({ type: e.type, data: { ...e.data, outcome: 'vanished' } })).toThrow(/BackupSnapshotExpired: outcome:/);
  });
});

describe('after expiry nothing rolls the deletion back', () => {
  it('given an expired backup, when a failed stage gate rolls the member back, then it is refused naming the snapshot', () => {
    const error = spec.given([...completed, expired(31)]).when(cmd('RollBackStage', { batchId: 'b-1', stage: 2, reason: 'x' }, later(32))).thenThrows('INVALID_STATE');
    expect((error as Error).message).toMatch(/backup snapshot snap-backup of vol-0abc expired .* no longer reversible/);
    expect(rollbackRefusal(foldOptimization([...completed, expired(31)]))).toMatch(/cannot be restored/);
  });

  it('given a backup whose deletion EC2 refused (an image uses it), the stage rollback is refused too, saying the snapshot is left to people and still there — not that the volume cannot be restored', () => {
    const refusal = rollbackRefusal(foldOptimization([...completed, expired(31, 'refused', inUse)]))!;
    expect(refusal).toMatch(/EC2 refused its deletion \(refused by EC2 \(InvalidSnapshot\.InUse: .*\), left as it is\): it is left to people, so optex no longer rolls optimization .* back \(a person may still restore the volume from it\)$/);
    expect(refusal).not.toMatch(/cannot be restored/);
    spec.given([...completed, expired(31, 'refused', inUse)]).when(cmd('RollBackStage', { batchId: 'b-1', stage: 2, reason: 'x' }, later(32))).thenThrows('INVALID_STATE');
  });

  it('given a backup within its retention, the stage rollback restores the volume from it', () => {
    spec
      .given(completed)
      .when(cmd('RollBackStage', { batchId: 'b-1', stage: 2, reason: 'x' }, later(1)))
      .then((events) => expect(events).toEqual([expect.objectContaining({ type: 'RollbackStarted', data: expect.objectContaining({ steps: restoreSteps }) })]));
    expect(rollbackRefusal(foldOptimization(completed))).toBeUndefined();
  });
});

describe('what an EC2 refusal of DeleteSnapshot means for the expiry', () => {
  it('NotFound: gone already; InUse: refused (recorded, not tried again); anything else: not recorded, tried again', () => {
    expect(backupExpiryOutcomeOf('InvalidSnapshot.NotFound')).toBe('already-gone');
    expect(backupExpiryOutcomeOf('InvalidSnapshot.InUse')).toBe('refused');
    expect(backupExpiryOutcomeOf('RequestLimitExceeded')).toBeUndefined();
    expect(backupExpiryOutcomeOf('UnauthorizedOperation')).toBeUndefined();
  });
});

describe('what became of an expired backup, in words (backups, show and history print it)', () => {
  it('deleted; gone already; refused with EC2 code and message, left as it is', () => {
    expect(backupExpiryText({ outcome: 'deleted' })).toBe('deleted');
    expect(backupExpiryText({ outcome: 'already-gone' })).toBe('gone already');
    expect(backupExpiryText({ outcome: 'refused', error: { code: 'InvalidSnapshot.InUse', message: 'snap-1 is in use by ami-1' } })).toBe(
      'refused by EC2 (InvalidSnapshot.InUse: snap-1 is in use by ami-1), left as it is',
    );
  });
});
