import { DomainError } from './errors';
import { controlDecider, heldByPause, joinsOutcome, parseControlEvent, type ControlCommand, type ControlEvent, type ControlState } from './control';
import type { Move } from './process';

const at = new Date('2026-12-02T12:00:00Z');
const pause = (by = 'Alice ', reason = 'incident INC-42'): ControlCommand => ({ type: 'PauseExecution', data: { by, reason }, metadata: { now: at } });
const resume = (by = 'bob', reason = 'incident closed'): ControlCommand => ({ type: 'ResumeExecution', data: { by, reason }, metadata: { now: new Date(at.getTime() + 60_000) } });
const given = (events: ControlEvent[]): ControlState => events.reduce(controlDecider.evolve, controlDecider.initialState());

describe('kill switch (given/when/then over the control stream)', () => {
  it('given running execution, when paused, then ExecutionPaused records who (normalized) and why', () => {
    expect(controlDecider.decide(pause(), given([]))).toEqual([{ type: 'ExecutionPaused', data: { by: 'alice', reason: 'incident INC-42', at: at.toISOString() } }]);
  });

  it('given paused execution, when resumed, then ExecutionResumed says since when it was paused', () => {
    const paused = controlDecider.decide(pause(), given([]));
    expect(given(paused)).toEqual({ paused: true, by: 'alice', reason: 'incident INC-42', since: at.toISOString() });
    const resumed = controlDecider.decide(resume(), given(paused));
    expect(resumed).toEqual([{ type: 'ExecutionResumed', data: { by: 'bob', reason: 'incident closed', at: '2026-12-02T12:01:00.000Z', pausedSince: at.toISOString() } }]);
    expect(given([...paused, ...resumed])).toEqual({ paused: false });
  });

  it('refuses pausing twice (naming who paused), resuming running execution, and an empty who or why', () => {
    const paused = given(controlDecider.decide(pause(), given([])));
    expect(() => controlDecider.decide(pause('carol'), paused)).toThrow(/execution is already paused \(by alice since 2026-12-02T12:00:00.000Z: incident INC-42\)/);
    expect(() => controlDecider.decide(resume(), given([]))).toThrow(new DomainError('INVALID_STATE', 'execution is not paused'));
    expect(() => controlDecider.decide(pause('  '), given([]))).toThrow(/by must not be empty/);
    expect(() => controlDecider.decide(pause('alice', ''), given([]))).toThrow(/reason must not be empty/);
    expect(() => controlDecider.decide(pause('alice', 'x'.repeat(1025)), given([]))).toThrow('execution control: reason must be at most 1024 characters, got 1025');
  });

  it('stored control events are parsed; an unknown or malformed one is named', () => {
    expect(parseControlEvent({ type: 'ExecutionPaused', data: { by: 'a', reason: 'r', at: at.toISOString() } }).type).toBe('ExecutionPaused');
    expect(() => parseControlEvent({ type: 'ExecutionHalted', data: {}, revision: 3n })).toThrow('unknown event type "ExecutionHalted" (optex-control@3)');
    expect(() => parseControlEvent({ type: 'ExecutionResumed', data: { by: 'a', reason: 'r', at: 'soon' } })).toThrow(/ExecutionResumed \(optex-control\): at: .*pausedSince/);
  });

  describe('what a pause holds', () => {
    const paused: ControlState = { paused: true, by: 'alice', reason: 'r', since: at.toISOString() };
    const step = { kind: 'modify-volume' } as never;
    const moves: [string, Move, boolean][] = [
      ['starting an execution', { kind: 'decide', command: { type: 'StartExecution', data: {}, metadata: { now: at } } as never }, true],
      ['recording an execution step intent', { kind: 'decide', command: { type: 'StartStep', data: { phase: 'execution', index: 1 }, metadata: { now: at } } as never }, true],
      ['an execution step without intent (a wait, a dry run)', { kind: 'perform', phase: 'execution', index: 1, step, dryRun: true, outputs: {} }, true],
      ['an execution step whose intent is recorded (in flight)', { kind: 'perform', phase: 'execution', index: 1, step, dryRun: false, clientToken: 't', outputs: {} }, false],
      ['a rollback step', { kind: 'perform', phase: 'rollback', index: 0, step, dryRun: false, outputs: {} }, false],
      ['the intent of a step after the execution stopped an instance it starts again', { kind: 'decide', command: { type: 'StartStep', data: { phase: 'execution', index: 2 }, metadata: { now: at } } as never, instanceStopped: 'i-1' }, false],
      ['a wait after the execution stopped an instance it starts again', { kind: 'perform', phase: 'execution', index: 1, step, dryRun: false, outputs: {}, instanceStopped: 'i-1' }, false],
      ['a rollback intent', { kind: 'decide', command: { type: 'StartStep', data: { phase: 'rollback', index: 0 }, metadata: { now: at } } as never }, false],
      ['pre-validation', { kind: 'pre-validate' }, false],
      ['validation', { kind: 'validate' }, false],
    ];
    it.each(moves)('%s: held %s', (_name, move, held) => {
      expect(heldByPause(paused, move)).toBe(held);
      expect(heldByPause({ paused: false }, move)).toBe(false);
    });
  });

  describe('what is appended together with an EC2 call\'s outcome', () => {
    const decide = (type: string, data: Record<string, unknown> = {}): Move => ({ kind: 'decide', command: { type, data, metadata: { now: at } } as never });
    const step = { kind: 'modify-volume' } as never;
    const moves: [string, boolean, Move][] = [
      ['succeeding the execution', true, decide('SucceedExecution')],
      ['completing the rollback', true, decide('CompleteRollback')],
      ['a rollback intent', true, decide('StartStep', { phase: 'rollback', index: 0 })],
      ['an execution step intent (held by a pause: the kill switch is read first)', false, decide('StartStep', { phase: 'execution', index: 1 })],
      ['starting an execution', false, decide('StartExecution')],
      ['a call (an execution step in flight)', false, { kind: 'perform', phase: 'execution', index: 1, step, dryRun: false, clientToken: 't', outputs: {} }],
      ['a wait', false, { kind: 'perform', phase: 'execution', index: 1, step, dryRun: false, outputs: {} }],
      ['pre-validation', false, { kind: 'pre-validate' }],
      ['validation', false, { kind: 'validate' }],
    ];
    it.each(moves)('%s: joins %s', (_name, joins, move) => {
      expect(joinsOutcome(move)).toBe(joins);
    });
  });
});
