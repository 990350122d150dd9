import { DEFAULT_STAGED_ROLLOUT, soakUntil, stageGate, stageName, stageSizes } from './staged-rollout';
import { defaultPolicy, parsePolicy } from './policy';
import type { OptimizationStatus } from './decider';

const on = { ...DEFAULT_STAGED_ROLLOUT, enabled: true };
const members = (entries: Record<string, OptimizationStatus>) => new Map(Object.entries(entries));

describe('stages of a batch (given the policy and the batch size)', () => {
  it('given staging on and 20 members with a 10% canary, then one, then 2, then the other 17', () => {
    expect(stageSizes(on, 20)).toEqual([1, 2, 17]);
  });

  it('given a small batch, then the canary is at least one and the stages never exceed the members', () => {
    expect(stageSizes(on, 3)).toEqual([1, 1, 1]);
    expect(stageSizes(on, 2)).toEqual([1, 1]);
    expect(stageSizes(on, 1)).toEqual([1]);
    expect(stageSizes({ ...on, canaryPct: 99 }, 10)).toEqual([1, 9]);
  });

  it('given staging off, then the batch is one stage', () => {
    expect(stageSizes(DEFAULT_STAGED_ROLLOUT, 20)).toEqual([20]);
  });

  it('names stages in reasons', () => {
    expect([stageName(1, 3), stageName(2, 3), stageName(3, 3), stageName(1, 1)]).toEqual(['stage 1 of 3 (first)', 'stage 2 of 3 (canary)', 'stage 3 of 3 (rest)', 'stage 1 of 1 (all)']);
  });
});

describe('the gate of a stage (given its members statuses)', () => {
  it('given a member still executing, then the gate waits', () => {
    expect(stageGate(members({ a: 'completed', b: 'validating' }))).toEqual({ kind: 'running', open: 1 });
  });

  it('given every member completed (validations passed), then it passes; cancelled or out-of-scope members do not fail it', () => {
    expect(stageGate(members({ a: 'completed', b: 'cancelled', c: 'out-of-scope' }))).toEqual({ kind: 'passed' });
  });

  it('given a member failed or rolled back, then it fails, naming them', () => {
    expect(stageGate(members({ a: 'completed', c: 'rolled-back', b: 'failed' }))).toEqual({ kind: 'failed', failed: ['b', 'c'] });
  });

  it('given a member waiting for reconciliation, then it fails without waiting for the operator', () => {
    expect(stageGate(members({ a: 'reconciliation-needed' }))).toEqual({ kind: 'failed', failed: ['a'] });
  });

  it('the next stage may start soakMinutes after the gate passed', () => {
    expect(soakUntil({ ...on, soakMinutes: 30 }, '2026-03-01T10:00:00.000Z')).toBe('2026-03-01T10:30:00.000Z');
  });
});

describe('staged rollout in the policy file', () => {
  it('is off by default, with a 10% canary, 30 minutes of soak and the failed stage rolled back once turned on', () => {
    expect(defaultPolicy.stagedRollout).toEqual({ enabled: false, canaryPct: 10, soakMinutes: 30, onGateFailure: 'roll-back-stage' });
  });

  it('rejects bad values, naming their path', () => {
    const parsed = parsePolicy({ stagedRollout: { canaryPct: 100, soakMinutes: -1, onGateFailure: 'ignore' } });
    expect(!parsed.ok && parsed.errors.map((e) => e.path).sort()).toEqual(['stagedRollout.canaryPct', 'stagedRollout.onGateFailure', 'stagedRollout.soakMinutes']);
    // a soak past any date (1e12 minutes) made the scheduler throw "Invalid time value" on every tick
    const long = parsePolicy({ stagedRollout: { enabled: true, soakMinutes: 1e12 } });
    expect(!long.ok && long.errors.map((e) => `${e.path}: ${e.message}`)).toEqual(['stagedRollout.soakMinutes: stagedRollout.soakMinutes must be at most 10080 (7 days), got 1000000000000']);
  });
});
