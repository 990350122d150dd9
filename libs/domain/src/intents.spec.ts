import { DeciderSpecification } from './__fixtures__/decider-spec';
import { AT, NOW, OPT_ID, cmd, ev, observed, recommendation, recs } from './__fixtures__';
import { pauseHolds } from './control';
import { optimizationDecider, type OptimizationState } from './decider';
import { clientTokenFor } from './ids';
import { moverOf, nextMove } from './process';
import { whyWaiting } from './waiting';
import { parsePolicy } from './policy';
import { startVerdict } from './cool-down';
import type { KnownOptimizationState } from './decider';
import { executionPlan, rollbackPlan } from './plans';
import type { OptimizationEvent } from './events';
import type { Recommendation } from './types';

// Each cloud effect exactly once: intents before mutating calls, reconciliation of a step cut short by a crash,
// and the process manager that says which of them comes next.

const spec = DeciderSpecification.for(optimizationDecider);
const fold = (events: readonly OptimizationEvent[]): OptimizationState => events.reduce(optimizationDecider.evolve, optimizationDecider.initialState());
const token = (phase: 'execution' | 'rollback', index: number) => clientTokenFor(OPT_ID, phase, index);

function upToPreValidated(rec: Recommendation, seen: Parameters<typeof executionPlan>[1], dryRun = false): OptimizationEvent[] {
  return [
    ev('OptimizationReceived', { recommendation: rec, dryRun, deliveryId: 'd-1' }),
    ev('RiskAssessed', { baseLevel: 'LOW', level: 'LOW', factors: [], policyVersion: 'v' }),
    ev('ApprovalGranted', { mode: 'auto', approvers: [], final: true }),
    ev('ExecutionScheduled', { batchId: 'b-1', notBefore: AT, priority: 'MEDIUM' }),
    ev('ExecutionStarted', { dryRun }),
    ev('PreValidationPassed', { observed: seen! }),
    ev('RollbackPlanRecorded', { steps: rollbackPlan(rec, seen), reversible: 'yes' }),
  ];
}

const delVol = recs.deleteVolume;
const delVolPlan = executionPlan(delVol, observed.gp2Volume, OPT_ID); // create-snapshot, wait, delete-volume
const delVolBase = upToPreValidated(delVol, observed.gp2Volume);
const snapStarted = ev('ExecutionStepStarted', { index: 0, step: delVolPlan[0]!, clientToken: token('execution', 0) });

const ri = recs.purchaseRI;
const riPlan = executionPlan(ri, observed.offering, OPT_ID);
const riBase = upToPreValidated(ri, observed.offering);
const riStarted = ev('ExecutionStepStarted', { index: 0, step: riPlan[0]!, clientToken: token('execution', 0) });

describe('StartStep: the intent of a mutating step, before its call', () => {
  it('records the step of the plan with the client token derived from optimization, phase and index', () => {
    spec.given(delVolBase).when(cmd('StartStep', { phase: 'execution', index: 0 })).then([snapStarted]);
  });

  it('an intent, of a step or of a rollback step, is the one event the decider asks to be appended durably', () => {
    const rollbackStarted = ev('RollbackStepStarted', { index: 0, step: delVolPlan[0]!, clientToken: token('rollback', 0) });
    expect([snapStarted, rollbackStarted].map((e) => optimizationDecider.durable?.(e))).toEqual([true, true]);
    expect([...delVolBase, ev('ExecutionStepCompleted', { index: 0, step: delVolPlan[0]!, outputs: { snapshotId: 'snap-1' }, dryRun: false, clientToken: token('execution', 0), reconciled: false })].filter((e) => optimizationDecider.durable?.(e))).toEqual([]);
  });

  it('is idempotent while the same step is started', () => {
    spec.given([...delVolBase, snapStarted]).when(cmd('StartStep', { phase: 'execution', index: 0 })).thenNothing();
  });

  it('refuses a wait (it changes nothing), a step out of order and a dry run', () => {
    const done0 = ev('ExecutionStepCompleted', { index: 0, step: delVolPlan[0]!, outputs: { snapshotId: 'snap-1' }, dryRun: false, clientToken: token('execution', 0), reconciled: false });
    spec.given([...delVolBase, snapStarted, done0]).when(cmd('StartStep', { phase: 'execution', index: 1 })).thenThrows('INVALID_INPUT');
    spec.given(delVolBase).when(cmd('StartStep', { phase: 'execution', index: 2 })).thenThrows('OUT_OF_ORDER');
    spec.given(upToPreValidated(delVol, observed.gp2Volume, true)).when(cmd('StartStep', { phase: 'execution', index: 0 })).thenThrows('INVALID_INPUT');
  });

  it('a delete-volume that fails after its backup snapshot rolls back by deleting that snapshot, leaving no orphan', () => {
    const done0 = ev('ExecutionStepCompleted', { index: 0, step: delVolPlan[0]!, outputs: { snapshotId: 'snap-1' }, dryRun: false, clientToken: token('execution', 0), reconciled: false });
    const waited = ev('ExecutionStepCompleted', { index: 1, step: delVolPlan[1]!, outputs: {}, dryRun: false, reconciled: false });
    const deleteStarted = ev('ExecutionStepStarted', { index: 2, step: delVolPlan[2]!, clientToken: token('execution', 2) });
    const error = { code: 'UnauthorizedOperation', message: 'not allowed' };
    spec
      .given([...delVolBase, snapStarted, done0, waited, deleteStarted])
      .when(cmd('FailExecution', { error, failedStepIndex: 2 }))
      .then((events, state) => {
        expect(events.map((e) => e.type)).toEqual(['ExecutionFailed', 'RollbackStarted']);
        expect(events[1]!.data).toMatchObject({ steps: [{ kind: 'delete-snapshot', snapshotId: 'snap-1' }] });
        expect(nextMove(state, { now: NOW })).toEqual({ kind: 'decide', command: cmd('StartStep', { phase: 'rollback', index: 0 }) });
      });
    spec.given(delVolBase).when(cmd('FailExecution', { error, failedStepIndex: 0 })).then((events) => expect(events.map((e) => e.type)).toEqual(['ExecutionFailed']));
  });

  it('the completion of a started step carries its client token', () => {
    spec
      .given([...delVolBase, snapStarted])
      .when(cmd('CompleteExecutionStep', { index: 0, step: delVolPlan[0]!, outputs: { snapshotId: 'snap-1' } }))
      .then((events, state) => {
        expect(events).toEqual([ev('ExecutionStepCompleted', { index: 0, step: delVolPlan[0]!, outputs: { snapshotId: 'snap-1' }, dryRun: false, clientToken: token('execution', 0), reconciled: false })]);
        expect(state.status !== 'initial' && state.execution?.startedStep).toBeUndefined();
      });
  });
});

describe('ReconcileStep: a started step without outcome after a crash', () => {
  const reconcile = (evidence: Parameters<typeof cmd<'ReconcileStep'>>[1]['evidence']) => cmd('ReconcileStep', { phase: 'execution', index: 0, evidence });

  it('records the snapshot found by its client token as the step completed (reconciled), never creating a second one', () => {
    spec
      .given([...delVolBase, snapStarted])
      .when(reconcile({ kind: 'created', outputs: { snapshotId: 'snap-found' } }))
      .then([ev('ExecutionStepCompleted', { index: 0, step: delVolPlan[0]!, outputs: { snapshotId: 'snap-found' }, dryRun: false, clientToken: token('execution', 0), reconciled: true })]);
  });

  it('records that nothing carries the token; the step may then be started again with the same token', () => {
    spec
      .given([...delVolBase, snapStarted])
      .when(reconcile({ kind: 'created' }))
      .then((events, state) => {
        expect(events).toEqual([ev('StepEffectNotFound', { phase: 'execution', index: 0, clientToken: token('execution', 0), evidence: 'nothing carries the step client token' })]);
        expect(nextMove(state, { now: NOW })).toEqual({ kind: 'decide', command: cmd('StartStep', { phase: 'execution', index: 0 }) });
      });
  });

  it('a purchase with exactly one matching reservation since the intent is completed with it', () => {
    spec
      .given([...riBase, riStarted])
      .when(reconcile({ kind: 'reservations', found: [{ reservedInstancesId: 'ri-1', instanceCount: 2, offeringId: 'ri-offering-0abc' }] }))
      .then((events) => expect(events[0]).toMatchObject({ type: 'ExecutionStepCompleted', data: { outputs: { reservedInstancesId: 'ri-1' }, reconciled: true } }));
  });

  it('a purchase that EC2 cannot confirm stops for an operator and is never repeated', () => {
    spec
      .given([...riBase, riStarted])
      .when(reconcile({ kind: 'reservations', found: [] }))
      .then((events, state) => {
        expect(events.map((e) => e.type)).toEqual(['ReconciliationRequired']);
        expect(events[0]!.data).toMatchObject({ phase: 'execution', index: 0, clientToken: token('execution', 0) });
        expect(state.status).toBe('reconciliation-needed');
        expect(nextMove(state, { now: NOW }).kind).toBe('idle');
      });
  });

  it('an operator who checked the account by hand resolves a purchase EC2 could not confirm; it is never bought again', () => {
    const stopped = [...riBase, riStarted, ev('ReconciliationRequired', { phase: 'execution', index: 0, step: riPlan[0]!, clientToken: token('execution', 0), reason: 'no reservation found' })];
    spec
      .given(stopped)
      .when(cmd('ResolveOptimization', { by: 'finops-lead', note: 'ri-1 was bought at 10:02, kept' }))
      .then((events, state) => {
        expect(events).toEqual([ev('OptimizationResolved', { by: 'finops-lead', note: 'ri-1 was bought at 10:02, kept', from: 'reconciliation-needed' })]);
        expect(state.status).toBe('resolved');
        expect(nextMove(state, { now: NOW }).kind).toBe('idle');
      });
    spec.given(stopped).when(cmd('RetryRollback', { by: 'finops-lead', reason: 'x' })).thenThrows('INVALID_STATE');
  });

  it('two reservations that could both be the purchase also stop for an operator', () => {
    const found = [
      { reservedInstancesId: 'ri-1', instanceCount: 2 },
      { reservedInstancesId: 'ri-2', instanceCount: 2 },
    ];
    spec.given([...riBase, riStarted]).when(reconcile({ kind: 'reservations', found })).then((events) => expect(events[0]!.type).toBe('ReconciliationRequired'));
  });

  it('does nothing when the step has no open intent (a redelivered look-up)', () => {
    spec.given(delVolBase).when(reconcile({ kind: 'created' })).thenNothing();
  });
});

describe('nextMove: the process manager', () => {
  it('an intent recorded by the caller itself is performed with its token; one found in the log is reconciled first', () => {
    const state = fold([...delVolBase, snapStarted]);
    expect(nextMove(state, { now: NOW, justStarted: token('execution', 0) })).toMatchObject({ kind: 'perform', index: 0, step: delVolPlan[0], clientToken: token('execution', 0) });
    expect(nextMove(state, { now: NOW })).toEqual({
      kind: 'reconcile',
      phase: 'execution',
      index: 0,
      step: delVolPlan[0],
      clientToken: token('execution', 0),
      lookup: { kind: 'find-by-client-token', resource: 'snapshot' },
    });
  });

  it('a purchase cut short is looked up by the offering type and the intent time', () => {
    expect(nextMove(fold([...riBase, riStarted]), { now: NOW })).toMatchObject({ kind: 'reconcile', lookup: { kind: 'find-reservations', instanceType: 'm5.large', since: AT } });
  });

  it('walks a plan: intent for a mutating step, the wait performed without one, then success', () => {
    const done0 = ev('ExecutionStepCompleted', { index: 0, step: delVolPlan[0]!, outputs: { snapshotId: 'snap-1' }, dryRun: false, clientToken: token('execution', 0), reconciled: false });
    expect(nextMove(fold(delVolBase), { now: NOW })).toEqual({ kind: 'decide', command: cmd('StartStep', { phase: 'execution', index: 0 }) });
    expect(nextMove(fold([...delVolBase, snapStarted, done0]), { now: NOW })).toMatchObject({ kind: 'perform', index: 1, step: { kind: 'wait-snapshot-completed' }, outputs: { snapshotId: 'snap-1' } });
    const done1 = ev('ExecutionStepCompleted', { index: 1, step: delVolPlan[1]!, outputs: {}, dryRun: false, reconciled: false });
    const done2 = ev('ExecutionStepCompleted', { index: 2, step: delVolPlan[2]!, outputs: {}, dryRun: false, reconciled: false });
    expect(nextMove(fold([...delVolBase, snapStarted, done0, done1, done2]), { now: NOW })).toEqual({ kind: 'decide', command: cmd('SucceedExecution', {}) });
  });

  it('from the stop of an instance its plan starts again to its end, each move of a rightsize names the instance (a pause does not hold them)', () => {
    const rs = recs.rightsize;
    const plan = executionPlan(rs, observed.runningInstance, OPT_ID); // stop, wait stopped, modify type, start, wait running
    expect(plan.map((s) => s.kind)).toEqual(['stop-instance', 'wait-instance-stopped', 'modify-instance-type', 'start-instance', 'wait-instance-running']);
    const base = upToPreValidated(rs, observed.runningInstance);
    const started = (i: number) => ev('ExecutionStepStarted', { index: i, step: plan[i]!, clientToken: token('execution', i) });
    const done = (i: number) => ev('ExecutionStepCompleted', { index: i, step: plan[i]!, outputs: {}, dryRun: false, ...(plan[i]!.kind.startsWith('wait') ? {} : { clientToken: token('execution', i) }), reconciled: false });
    const moves = [
      nextMove(fold(base), { now: NOW }), // the stop's intent
      nextMove(fold([...base, started(0)]), { now: NOW, justStarted: token('execution', 0) }), // the stop in flight
      nextMove(fold([...base, started(0), done(0)]), { now: NOW }), // the wait
      nextMove(fold([...base, started(0), done(0), done(1)]), { now: NOW }), // the type's intent
      nextMove(fold([...base, started(0), done(0), done(1), started(2)]), { now: NOW, justStarted: token('execution', 2) }),
      nextMove(fold([...base, started(0), done(0), done(1), started(2), done(2), started(3), done(3)]), { now: NOW }), // the wait for it running
    ];
    expect(moves.map((m) => (m as { instanceStopped?: string }).instanceStopped)).toEqual([undefined, undefined, 'i-0abc', 'i-0abc', 'i-0abc', 'i-0abc']);
    expect(moves.map((m) => pauseHolds(m))).toEqual([true, false, false, false, false, false]);
    // A stop-idle stops and is done: nothing to finish.
    const idle = recommendation({ type: 'stop-idle' });
    const idleBase = upToPreValidated(idle, observed.runningInstance);
    expect(nextMove(fold(idleBase), { now: NOW })).not.toHaveProperty('instanceStopped');
  });

  it('a dry run performs its mutating steps (with EC2 DryRun) without intents', () => {
    expect(nextMove(fold(upToPreValidated(delVol, observed.gp2Volume, true)), { now: NOW })).toMatchObject({ kind: 'perform', index: 0, dryRun: true });
  });

  it('waits for notBefore, pre-validates once started, and leaves validation to the validator', () => {
    const upToScheduled = delVolBase.slice(0, 3).concat(ev('ExecutionScheduled', { batchId: 'b', notBefore: new Date(NOW.getTime() + 60_000).toISOString(), priority: 'LOW' }));
    expect(nextMove(fold(upToScheduled), { now: NOW }).kind).toBe('idle');
    expect(nextMove(fold(upToScheduled), { now: new Date(NOW.getTime() + 60_000) })).toEqual({ kind: 'decide', command: cmd('StartExecution', {}, new Date(NOW.getTime() + 60_000)) });
    expect(nextMove(fold(delVolBase.slice(0, 5)), { now: NOW })).toEqual({ kind: 'pre-validate' });
    const succeeded = ev('ExecutionSucceeded', { durationMs: 5, dryRun: false });
    const done = (i: number, outputs: Record<string, string> = {}) => ev('ExecutionStepCompleted', { index: i, step: delVolPlan[i]!, outputs, dryRun: false, reconciled: false });
    expect(nextMove(fold([...delVolBase, snapStarted, done(0, { snapshotId: 'snap-1' }), done(1), done(2), succeeded]), { now: NOW })).toEqual({ kind: 'validate' });
  });

  it('given a start the policy holds now (a freeze begun after the dispatch, a crash between dispatch and start), then a scheduled one waits until the verdict\'s end instead of starting', () => {
    const parsed = parsePolicy({ changeWindows: { windows: [], freezes: [{ name: 'year-end', from: new Date(NOW.getTime() - 60_000).toISOString(), to: new Date(NOW.getTime() + 3_600_000).toISOString(), reason: 'holiday' }] } });
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
    const scheduled = fold(delVolBase.slice(0, 4));
    const verdict = startVerdict(parsed.value, delVol, NOW, undefined);
    expect(verdict).toMatchObject({ allowed: false, hold: 'freeze', until: new Date(NOW.getTime() + 3_600_000).toISOString() });
    const held = nextMove(scheduled, { now: NOW, startVerdict: verdict });
    expect(held).toMatchObject({ kind: 'idle', until: new Date(NOW.getTime() + 3_600_000).toISOString() });
    expect((held as { reason: string }).reason).toMatch(/^scheduled, held at its start \(freeze\): .*year-end/);
    expect(nextMove(scheduled, { now: NOW, startVerdict: { allowed: true } })).toEqual({ kind: 'decide', command: cmd('StartExecution', {}, NOW) });
    // Only a scheduled one is held by it: one executing goes on with its plan.
    expect(nextMove(fold(delVolBase.slice(0, 5)), { now: NOW, startVerdict: verdict })).toEqual({ kind: 'pre-validate' });
  });

  it('given a 15-minute soak, then a validating optimization waits until 15 minutes after the change ended, then is validated', () => {
    const state = fold([...delVolBase, snapStarted, ev('ExecutionStepCompleted', { index: 0, step: delVolPlan[0]!, outputs: { snapshotId: 'snap-1' }, dryRun: false, reconciled: false }), ...[1, 2].map((i) => ev('ExecutionStepCompleted', { index: i, step: delVolPlan[i]!, outputs: {}, dryRun: false, reconciled: false })), ev('ExecutionSucceeded', { durationMs: 60_000, dryRun: false })]);
    const due = new Date(NOW.getTime() + 16 * 60_000);
    expect(nextMove(state, { now: new Date(due.getTime() - 1), soakMinutes: 15 })).toEqual({ kind: 'idle', reason: `soaking until ${due.toISOString()}` });
    expect(moverOf(state, { now: new Date(due.getTime() - 1), soakMinutes: 15 })).toBeUndefined();
    expect(nextMove(state, { now: due, soakMinutes: 15 })).toEqual({ kind: 'validate' });
  });
});

describe('the state is a union on status', () => {
  it('an event that needs a part the history never recorded is an error, not a half-built state', () => {
    // ExecutionStarted without a schedule: a corrupt or hand-edited stream
    const corrupt = [delVolBase[0]!, delVolBase[1]!, delVolBase[2]!, ev('ExecutionStarted', { dryRun: false })];
    expect(() => fold(corrupt)).toThrow(/ExecutionStarted of .* cannot apply to a state without a schedule/);
  });

  it('each status carries the parts it promises', () => {
    const s = fold([...delVolBase, snapStarted]);
    if (s.status !== 'executing') throw new Error(`expected executing, got ${s.status}`);
    // compile-time: schedule and execution are not optional here
    expect([s.schedule.batchId, s.execution.startedStep?.clientToken]).toEqual(['b-1', token('execution', 0)]);
  });
});

describe('moverOf: who resumes an optimization left mid-way (the sweeper asks)', () => {
  it('the executor for an execution or rollback under way (including a step to reconcile), the validator for a validation', () => {
    expect(moverOf(fold(delVolBase), { now: NOW })).toBe('executor');
    expect(moverOf(fold([...delVolBase, snapStarted]), { now: NOW })).toBe('executor');
    const done0 = ev('ExecutionStepCompleted', { index: 0, step: delVolPlan[0]!, outputs: { snapshotId: 'snap-1' }, dryRun: false, clientToken: token('execution', 0), reconciled: false });
    const done1 = ev('ExecutionStepCompleted', { index: 1, step: delVolPlan[1]!, outputs: {}, dryRun: false, reconciled: false });
    const started2 = ev('ExecutionStepStarted', { index: 2, step: delVolPlan[2]!, clientToken: token('execution', 2) });
    const done2 = ev('ExecutionStepCompleted', { index: 2, step: delVolPlan[2]!, outputs: {}, dryRun: false, clientToken: token('execution', 2), reconciled: false });
    const validating = [...delVolBase, snapStarted, done0, done1, started2, done2, ev('ExecutionSucceeded', { dryRun: false, durationMs: 10 })];
    expect(moverOf(fold(validating), { now: NOW })).toBe('validator');
  });

  it('nobody for what waits for people or time, or is over', () => {
    const received = [ev('OptimizationReceived', { recommendation: delVol, dryRun: false, deliveryId: 'd-1' }), ev('RiskAssessed', { baseLevel: 'HIGH', level: 'HIGH', factors: [], policyVersion: 'v' })];
    expect(moverOf(fold([...received, ev('ApprovalRequested', { authority: 'finops-manager', requiredApprovals: 1, expiresAt: AT })]), { now: NOW })).toBeUndefined();
    const later = [...received, ev('ApprovalGranted', { mode: 'manual', approvers: ['a'], final: true }), ev('ExecutionScheduled', { batchId: 'b-1', notBefore: '2999-01-01T00:00:00.000Z', priority: 'MEDIUM' })];
    expect(moverOf(fold(later), { now: NOW })).toBeUndefined();
    expect(moverOf(fold([...delVolBase.slice(0, 5), ev('PreValidationFailed', { reasons: ['gone'] })]), { now: NOW })).toBeUndefined();
  });
});

describe("a rollback's volume modification waits out EC2's 6-hour cool-down", () => {
  // EC2 refuses a second modification of a volume within 6 hours of the first (VolumeModificationRateExceeded): a
  // gp3 conversion rolled back at once would fail and leave it rollback-failed for an operator.
  const mv = recs.modifyVolume;
  const [forward] = executionPlan(mv, observed.gp2Volume, OPT_ID);
  const completedAt = '2026-03-01T10:00:00.000Z';
  const rolledBack = [
    ...upToPreValidated(mv, observed.gp2Volume),
    ev('ExecutionStepStarted', { index: 0, step: forward!, clientToken: token('execution', 0) }),
    ev('ExecutionStepCompleted', { index: 0, step: forward!, outputs: {}, dryRun: false, clientToken: token('execution', 0), reconciled: false, at: completedAt }),
    ev('ExecutionSucceeded', { durationMs: 1000, dryRun: false, at: completedAt }),
    ev('RollbackStarted', { reason: 'validation failed', steps: rollbackPlan(mv, observed.gp2Volume), at: '2026-03-01T10:05:00.000Z' }),
  ];
  const until = '2026-03-01T16:01:00.000Z'; // 6 hours after the modification was recorded, and a minute for the clocks

  it('given the modification recorded at 10:00, when asked at 11:00, then the rollback waits until 16:01 (nothing for EC2 before)', () => {
    const state = fold(rolledBack);
    const move = nextMove(state, { now: new Date('2026-03-01T11:00:00.000Z') });
    expect(move).toEqual({ kind: 'idle', reason: expect.stringMatching(/6-hour modification cool-down of vol-\w+ until 2026-03-01T16:01:00\.000Z/), until });
    expect(moverOf(state, { now: new Date('2026-03-01T11:00:00.000Z') })).toBeUndefined();
    expect(whyWaiting(state as KnownOptimizationState, { now: new Date('2026-03-01T11:00:00.000Z'), control: { paused: false }, soakMinutes: 0 })).toMatchObject({ hold: 'cool-down', until });
  });

  it('when asked at 16:01, then the rollback step starts: its intent first', () => {
    const state = fold(rolledBack);
    expect(nextMove(state, { now: new Date(until) })).toEqual({ kind: 'decide', command: cmd('StartStep', { phase: 'rollback', index: 0 }, new Date(until)) });
    expect(moverOf(state, { now: new Date(until) })).toBe('executor');
  });

  it('other rollbacks do not wait (a rightsize modifies an instance, not a volume)', () => {
    const rs = recs.rightsize;
    const steps = executionPlan(rs, observed.runningInstance, OPT_ID);
    const events = [
      ...upToPreValidated(rs, observed.runningInstance),
      ...steps.flatMap((step, index) => [ev('ExecutionStepCompleted', { index, step, outputs: {}, dryRun: false, reconciled: false, at: completedAt })]),
      ev('ExecutionSucceeded', { durationMs: 1000, dryRun: false, at: completedAt }),
      ev('RollbackStarted', { reason: 'validation failed', steps: rollbackPlan(rs, observed.runningInstance) }),
    ];
    expect(nextMove(fold(events), { now: new Date('2026-03-01T11:00:00.000Z') }).kind).not.toBe('idle');
  });
});
