import { AT, NOW, OPT_ID, ev, observed, recs } from './__fixtures__';
import { foldOptimization, type KnownOptimizationState } from './decider';
import { executionPlan, isMutatingStep, rollbackPlan } from './plans';
import { lastChangeAt, startVerdict } from './cool-down';
import { parsePolicy } from './policy';
import type { OptimizationEvent } from './events';

const rec = recs.rightsize;
const running = observed.runningInstance;
const steps = executionPlan(rec, running, OPT_ID);
const DAY = 24 * 3600 * 1000;
const iso = (ms: number) => new Date(NOW.getTime() + ms).toISOString();

const upToExecuting = (dryRun = false): OptimizationEvent[] => [
  ev('OptimizationReceived', { recommendation: rec, dryRun, deliveryId: 'd-1' }),
  ev('RiskAssessed', { baseLevel: 'MEDIUM', level: 'MEDIUM', factors: [], policyVersion: 'default-v1' }),
  ev('ApprovalGranted', { mode: 'auto', approvers: [], final: true }),
  ev('ExecutionScheduled', { batchId: 'b-1', notBefore: AT, priority: 'MEDIUM' }),
  ev('ExecutionStarted', { dryRun }),
  ev('PreValidationPassed', { observed: running }),
  ev('RollbackPlanRecorded', { steps: rollbackPlan(rec, running), reversible: 'yes' }),
];
const allSteps = (dryRun = false) => steps.map((step, index) => ev('ExecutionStepCompleted', { index, step, outputs: {}, dryRun, reconciled: false }));
const state = (events: OptimizationEvent[]): KnownOptimizationState => {
  const s = foldOptimization(events);
  if (s.status === 'initial') throw new Error('expected a received optimization');
  return s;
};
const policyOf = (override: unknown) => {
  const parsed = parsePolicy(override);
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
  return parsed.value;
};

describe('last change to a resource (given an optimization history, when did it last change its resource)', () => {
  it('given an execution that succeeded after 90 s, then the change is at its end', () => {
    expect(lastChangeAt(state([...upToExecuting(), ...allSteps(), ev('ExecutionSucceeded', { durationMs: 90_000, dryRun: false })]))).toBe(iso(90_000));
  });

  it('given a rolled-back execution, then the change is the end of the rollback', () => {
    const rollback = rollbackPlan(rec, running);
    const history = [
      ...upToExecuting(),
      ...allSteps(),
      ev('ExecutionSucceeded', { durationMs: 1000, dryRun: false }),
      ev('ValidationFailed', { reasons: ['x'], performance: { verdict: 'ok' } }),
      ev('RollbackStarted', { reason: 'validation failed: x', steps: rollback }),
      ...rollback.map((step, index) => ev('RollbackStepCompleted', { index, step, outputs: {}, reconciled: false })),
      ev('RollbackCompleted', { at: iso(DAY) }),
    ];
    expect(lastChangeAt(state(history))).toBe(iso(DAY));
  });

  it('given a dry run, or an execution that failed before any mutating step, then it never changed the resource', () => {
    expect(lastChangeAt(state([...upToExecuting(true), ...allSteps(true), ev('ExecutionSucceeded', { durationMs: 10, dryRun: true })]))).toBeUndefined();
    expect(lastChangeAt(state([...upToExecuting(), ev('ExecutionFailed', { error: { code: 'X', message: 'x' }, failedStepIndex: 0, durationMs: 5 })]))).toBeUndefined();
  });

  it('given an execution still running after a mutating step, then the change counts from its start', () => {
    const firstMutating = steps.findIndex(isMutatingStep);
    expect(lastChangeAt(state([...upToExecuting(), ...allSteps().slice(0, firstMutating + 1)]))).toBe(AT);
  });
});

describe('cool-down (given a policy and the last change to the resource, when may the next execution start)', () => {
  const policy = policyOf({ coolDown: { days: 7 } });

  it('given a change 2 days ago and a 7-day cool-down, then it waits until 7 days after the change, saying so', () => {
    const lastChange = iso(-2 * DAY);
    expect(startVerdict(policy, rec, NOW, lastChange)).toEqual({
      allowed: false,
      hold: 'cool-down',
      until: iso(5 * DAY),
      reason: `cool-down of 7 day(s) after the last change to i-0abc at ${lastChange}: waits until ${iso(5 * DAY)}`,
    });
  });

  it('given the cool-down has just ended, or no change was ever made, then it may start', () => {
    expect(startVerdict(policy, rec, NOW, iso(-7 * DAY))).toEqual({ allowed: true });
    expect(startVerdict(policy, rec, NOW, undefined)).toEqual({ allowed: true });
  });

  it('given the default policy (0 days), then a change a minute ago holds nothing', () => {
    expect(startVerdict(policyOf({}), rec, NOW, iso(-60_000))).toEqual({ allowed: true });
  });

  it('given the cool-down is over but a freeze is on, then the freeze holds it', () => {
    const frozen = policyOf({ coolDown: { days: 1 }, changeWindows: { freezes: [{ name: 'f', from: iso(-DAY), to: iso(DAY), reason: 'audit' }] } });
    expect(startVerdict(frozen, rec, NOW, iso(-2 * DAY))).toMatchObject({ allowed: false, hold: 'freeze', until: iso(DAY) });
  });

  it('given a cool-down that ends inside a freeze, then it waits for the cool-down until the freeze ends, saying both', () => {
    const frozen = policyOf({ coolDown: { days: 7 }, changeWindows: { freezes: [{ name: 'f', from: iso(4 * DAY), to: iso(9 * DAY), reason: 'audit' }] } });
    const verdict = startVerdict(frozen, rec, NOW, iso(-2 * DAY));
    expect(verdict).toMatchObject({ allowed: false, hold: 'cool-down', until: iso(9 * DAY) });
    expect(verdict.allowed ? '' : verdict.reason).toMatch(new RegExp(`waits until ${iso(5 * DAY).replace(/[.]/g, '\\.')}; then freeze f until ${iso(9 * DAY).replace(/[.]/g, '\\.')}: audit$`));
  });

  it('a negative or non-numeric cool-down is refused naming the field', () => {
    expect(parsePolicy({ coolDown: { days: -1 } })).toMatchObject({ ok: false, errors: [{ path: 'coolDown.days' }] });
    expect(parsePolicy({ coolDown: { days: '7' } })).toMatchObject({ ok: false, errors: [{ path: 'coolDown.days' }] });
  });
});
