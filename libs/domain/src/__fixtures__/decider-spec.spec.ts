import { DeciderSpecification } from './decider-spec';

// A tiny counter decider: 'add' emits 'added' unless the amount is negative.
type Cmd = { type: 'add'; amount: number };
type Ev = { type: 'added'; amount: number };
class CodedError extends Error {
  constructor(readonly code: string) {
    super(code);
  }
}
const counter = {
  initialState: () => 0,
  evolve: (state: number, event: Ev) => state + event.amount,
  decide: (command: Cmd, state: number): Ev[] => {
    if (command.amount < 0) throw new CodedError('NEGATIVE');
    if (command.amount === 0 || state >= 10) return [];
    return [{ type: 'added', amount: command.amount }];
  },
};
const spec = DeciderSpecification.for(counter);

describe('DeciderSpecification', () => {
  it('passes when the decided events are the expected ones', () => {
    spec.given([]).when({ type: 'add', amount: 2 }).then([{ type: 'added', amount: 2 }]);
  });

  it('fails when the decided events differ', () => {
    expect(() => spec.given([]).when({ type: 'add', amount: 2 }).then([{ type: 'added', amount: 3 }])).toThrow();
  });

  it('folds the given events before deciding', () => {
    spec.given([{ type: 'added', amount: 10 }]).when({ type: 'add', amount: 1 }).thenNothing();
  });

  it('hands events and the resulting state to a callback', () => {
    spec
      .given([{ type: 'added', amount: 1 }])
      .when({ type: 'add', amount: 2 })
      .then((events, state) => {
        expect(events).toHaveLength(1);
        expect(state).toBe(3);
      });
  });

  it('fails thenNothing when events were decided', () => {
    expect(() => spec.given([]).when({ type: 'add', amount: 1 }).thenNothing()).toThrow();
  });

  it('matches a thrown error by code, class or predicate and returns it', () => {
    const when = spec.given([]).when({ type: 'add', amount: -1 });
    expect(when.thenThrows('NEGATIVE')).toBeInstanceOf(CodedError);
    when.thenThrows(CodedError);
    when.thenThrows((e) => e instanceof Error && e.message === 'NEGATIVE');
  });

  it('fails thenThrows when the command is accepted or the error differs', () => {
    expect(() => spec.given([]).when({ type: 'add', amount: 1 }).thenThrows('NEGATIVE')).toThrow(/but it was accepted/);
    expect(() => spec.given([]).when({ type: 'add', amount: -1 }).thenThrows('OTHER')).toThrow(/expected an error with code OTHER, got NEGATIVE/);
  });
});
