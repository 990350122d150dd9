import { AT, NOW, ev, recs } from './__fixtures__';
import { foldOptimization, type KnownOptimizationState } from './decider';
import type { OptimizationEvent } from './events';
import { whyWaiting } from './waiting';

const approved: OptimizationEvent[] = [
  ev('OptimizationReceived', { recommendation: recs.modifyVolume, dryRun: false, deliveryId: 'd-1' }),
  ev('RiskAssessed', { baseLevel: 'LOW', level: 'LOW', factors: [], policyVersion: 'default-v1' }),
  ev('ApprovalGranted', { mode: 'auto', approvers: [], final: true }),
];
const state = (events: OptimizationEvent[]) => foldOptimization(events) as KnownOptimizationState;
const running = { paused: false } as const;
const later = new Date(NOW.getTime() + 3_600_000).toISOString();

describe('why an optimization waits (given what the log recorded, when asked now)', () => {
  it('given a cool-down deferral ahead, then it waits for the cool-down until then', () => {
    const deferral = { hold: 'cool-down' as const, until: later, reason: 'cool-down of 7 day(s) …' };
    expect(whyWaiting(state(approved), { now: NOW, control: running, deferral, soakMinutes: 0 })).toEqual({ hold: 'cool-down', until: later, reason: 'cool-down of 7 day(s) …' });
  });

  it('given a deferral for the daily limit or for a staged batch\'s soak, then it waits for that, not for a change window', () => {
    const daily = { hold: 'daily-limit' as const, until: later, reason: 'blast radius: 2 executions of … reach the daily limit of 2 executions; next at …' };
    expect(whyWaiting(state(approved), { now: NOW, control: running, deferral: daily, soakMinutes: 0 })).toEqual({ hold: 'daily-limit', until: later, reason: daily.reason });
    const soak = { hold: 'stage-soak' as const, until: later, reason: 'staged rollout: stage 1 of 2 passed; soaking until …' };
    expect(whyWaiting(state(approved), { now: NOW, control: running, deferral: soak, soakMinutes: 0 })).toMatchObject({ hold: 'stage-soak' });
  });

  it('given a deferral whose until has passed, then it no longer waits for it', () => {
    expect(whyWaiting(state(approved), { now: new Date(later), control: running, deferral: { hold: 'change-window', until: later, reason: 'x' }, soakMinutes: 0 })).toBeUndefined();
  });

  it('given paused execution, then the kill switch holds it (before any deferral), with who and why', () => {
    const control = { paused: true as const, by: 'oncall', reason: 'INC-7', since: AT };
    expect(whyWaiting(state(approved), { now: NOW, control, deferral: { hold: 'cool-down', until: later, reason: 'x' }, soakMinutes: 0 })).toEqual({ hold: 'kill-switch', reason: `execution paused by oncall since ${AT}: INC-7` });
  });

  it('given its batch halted and not continued, then it waits for an operator (before any deferral), naming the batch and why', () => {
    const halt = { batchId: 'b-1', reason: 'error threshold: 6 executions failed, more than the 5 allowed' };
    expect(whyWaiting(state(approved), { now: NOW, control: running, halt, deferral: { hold: 'cool-down', until: later, reason: 'x' }, soakMinutes: 0 })).toEqual({
      hold: 'batch-halted',
      reason: 'batch b-1 halted: error threshold: 6 executions failed, more than the 5 allowed; an operator lets it go on (optex continue-batch)',
    });
    expect(whyWaiting(state(approved), { now: NOW, control: { paused: true, by: 'o', reason: 'r', since: AT }, halt, soakMinutes: 0 })).toMatchObject({ hold: 'kill-switch' });
  });

  it('given another optimization on its resource whose rollback failed, then it waits for an operator on that one (before any deferral), naming it and what to run', () => {
    const holders = [{ optimizationId: 'o-held', status: 'rollback-failed' as const }];
    const s = state(approved);
    expect(whyWaiting(s, { now: NOW, control: running, holders, deferral: { hold: 'cool-down', until: later, reason: 'x' }, soakMinutes: 0 })).toEqual({
      hold: 'resource-held',
      reason: `${s.recommendation.resource.type} ${s.recommendation.resource.id} is held by optimization o-held (rollback-failed): an operator retries its rollback (optex retry-rollback) or resolves it (optex resolve)`,
    });
  });

  it('given holders still moving and one to reconcile, then the one waiting for an operator is named; given only moving ones, it starts when that one is over', () => {
    const s = state(approved);
    const moving = { optimizationId: 'o-exec', status: 'executing' as const };
    const reconcile = { optimizationId: 'o-rec', status: 'reconciliation-needed' as const };
    expect(whyWaiting(s, { now: NOW, control: running, holders: [moving, reconcile], soakMinutes: 0 })?.reason).toMatch(/held by optimization o-rec \(reconciliation-needed\): an operator checks the step EC2 could not confirm and resolves it \(optex resolve\)$/);
    expect(whyWaiting(s, { now: NOW, control: running, holders: [moving], soakMinutes: 0 })?.reason).toMatch(/held by optimization o-exec \(executing\): it starts when that one is over$/);
  });

  it('given itself among the holders, or the kill switch on, then its own hold is not a wait for a resource', () => {
    const s = state(approved);
    expect(whyWaiting(s, { now: NOW, control: running, holders: [{ optimizationId: s.optimizationId, status: 'scheduled' }], soakMinutes: 0 })).toBeUndefined();
    const control = { paused: true as const, by: 'oncall', reason: 'INC-7', since: AT };
    expect(whyWaiting(s, { now: NOW, control, holders: [{ optimizationId: 'o-held', status: 'rollback-failed' }], soakMinutes: 0 })).toMatchObject({ hold: 'kill-switch' });
  });

  it('given a scheduled one whose start the policy holds now, then it waits for that hold until the verdict says; allowed, it does not wait', () => {
    const scheduled = state([...approved, ev('ExecutionScheduled', { batchId: 'b-1', notBefore: AT, priority: 'LOW' })]);
    const verdict = { allowed: false as const, hold: 'freeze' as const, until: later, reason: 'freeze year-end until …' };
    expect(whyWaiting(scheduled, { now: NOW, control: running, startVerdict: verdict, soakMinutes: 0 })).toEqual({ hold: 'freeze', until: later, reason: 'held at its start: freeze year-end until …' });
    expect(whyWaiting(scheduled, { now: NOW, control: running, startVerdict: { allowed: true }, soakMinutes: 0 })).toBeUndefined();
    expect(whyWaiting(state(approved), { now: NOW, control: running, startVerdict: verdict, soakMinutes: 0 })).toBeUndefined();
  });

  it('given its batch planned not before a later time (--not-before), then it waits for that until then; once it has come, it does not', () => {
    expect(whyWaiting(state(approved), { now: NOW, control: running, notBefore: later, soakMinutes: 0 })).toEqual({ hold: 'not-before', until: later, reason: `its batch starts not before ${later} (--not-before of the run that planned it)` });
    expect(whyWaiting(state(approved), { now: new Date(later), control: running, notBefore: later, soakMinutes: 0 })).toBeUndefined();
  });

  it('given one awaiting approval, then none of these holds it', () => {
    expect(whyWaiting(state(approved.slice(0, 2)), { now: NOW, control: { paused: true, by: 'o', reason: 'r', since: AT }, soakMinutes: 0 })).toBeUndefined();
  });
});
