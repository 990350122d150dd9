import { DeciderSpecification } from './__fixtures__/decider-spec';
import { batchGuardDecider, type BatchGuardCommand } from './batch-guard';
import type { BatchEvent } from './events';

const spec = DeciderSpecification.for(batchGuardDecider);
const NOW = new Date('2026-03-01T10:00:00.000Z');
const at = NOW.toISOString();
const planned: BatchEvent = { type: 'BatchPlanned', data: { batchId: 'b-1', mode: 'parallel', maxParallel: 4, notBefore: at, optimizationIds: ['o1', 'o2', 'o3'], at } };
const halted: BatchEvent = { type: 'BatchHalted', data: { batchId: 'b-1', rule: 'max-errors', reason: 'error threshold: 3 executions failed', dispatched: 3, errors: 3, at } };
const proceed = (by = ' Alice ', reason = 'the failures were one bad AMI'): BatchGuardCommand => ({ type: 'ContinueBatch', data: { by, reason }, metadata: { now: NOW } });

describe('continuing a halted batch (operator)', () => {
  it('given a halted batch, when an operator continues it, then BatchContinued records who (normalized), why and the rule', () => {
    spec.given([planned, halted]).when(proceed()).then([{ type: 'BatchContinued', data: { batchId: 'b-1', by: 'alice', reason: 'the failures were one bad AMI', rule: 'max-errors', at } }]);
  });

  it('given it continued, then counting starts again from the counts of the halt', () => {
    const state = [planned, halted, ...batchGuardDecider.decide(proceed(), [planned, halted].reduce(batchGuardDecider.evolve, batchGuardDecider.initialState()))].reduce(
      batchGuardDecider.evolve,
      batchGuardDecider.initialState(),
    );
    expect(state).toMatchObject({ baseline: { dispatched: 3, errors: 3 } });
    expect(state.halted).toBeUndefined();
  });

  it('given a halted batch, when the reason is over 1,024 characters, then continuing is refused naming it', () => {
    spec.given([planned, halted]).when(proceed('alice', 'x'.repeat(1025))).thenThrows('INVALID_INPUT');
  });

  it('given a batch that is not halted, then continuing is refused', () => {
    spec.given([planned]).when(proceed()).thenThrows('INVALID_STATE');
  });

  it('given a completed batch, then continuing is refused', () => {
    spec.given([planned, halted, { type: 'BatchCompleted', data: { batchId: 'b-1', at } }]).when(proceed()).thenThrows('INVALID_STATE');
  });

  it('given no batch, then it is not found; without who or why, it is refused', () => {
    spec.given([]).when(proceed()).thenThrows('NOT_FOUND');
    spec.given([planned, halted]).when(proceed(' ')).thenThrows('INVALID_INPUT');
    spec.given([planned, halted]).when(proceed('alice', '')).thenThrows('INVALID_INPUT');
  });

  it('given stages, then the fold knows each stage, its members, when it passed and whether it failed', () => {
    const state = [
      planned,
      { type: 'StageStarted', data: { batchId: 'b-1', stage: 1, of: 3, optimizationIds: ['o1'], at } },
      { type: 'StagePassed', data: { batchId: 'b-1', stage: 1, of: 3, at } },
      { type: 'StageStarted', data: { batchId: 'b-1', stage: 2, of: 3, optimizationIds: ['o2'], at } },
      { type: 'StageFailed', data: { batchId: 'b-1', stage: 2, of: 3, failed: ['o2'], rolledBack: [], at } },
    ].reduce<ReturnType<typeof batchGuardDecider.initialState>>((s, e) => batchGuardDecider.evolve(s, e as BatchEvent), batchGuardDecider.initialState());
    expect(state.stages).toEqual([
      { stage: 1, of: 3, optimizationIds: ['o1'], passedAt: at },
      { stage: 2, of: 3, optimizationIds: ['o2'], failed: true },
    ]);
  });
});
