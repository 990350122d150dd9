/**
 * Given/when/then over events for deciders, in the style of Emmett's `DeciderSpecification`:
 *
 * ```ts
 * const spec = DeciderSpecification.for(optimizationDecider);
 * spec.given([received]).when(assessRisk).then([riskAssessed]);
 * spec.given([]).when(approve).thenThrows('NOT_FOUND');
 * ```
 * Uses jest's `expect`; meant for `*.spec.ts` files.
 */

/** The decider shape the helper drives (structurally the same as the domain's). */
export interface SpecDecider<Command, Event, State> {
  decide(command: Command, state: State): Event[];
  evolve(state: State, event: Event): State;
  initialState(): State;
}

/** Expected error: its `code`, a predicate, or an error class. */
export type ExpectedError = string | ((error: unknown) => boolean) | (new (...args: never[]) => Error);

export interface ThenStep<Event, State> {
  /** Asserts the exact events decided (deep equality), or runs custom assertions on them. */
  then(expected: readonly Event[] | ((events: Event[], state: State) => void)): void;
  /** Asserts that the command decides no events (idempotent no-op). */
  thenNothing(): void;
  /** Asserts that the command is refused with this error code, class or predicate; the error is returned for further checks. */
  thenThrows(expected: ExpectedError): unknown;
}

export interface WhenStep<Command, Event, State> {
  when(command: Command): ThenStep<Event, State>;
}

export interface GivenStep<Command, Event, State> {
  given(events: readonly Event[]): WhenStep<Command, Event, State>;
}

function matches(error: unknown, expected: ExpectedError): boolean {
  if (typeof expected === 'string') return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === expected;
  if (expected.prototype instanceof Error || expected === Error) return error instanceof (expected as new (...args: never[]) => Error);
  return (expected as (error: unknown) => boolean)(error);
}

const describeExpected = (expected: ExpectedError): string => (typeof expected === 'string' ? `an error with code ${expected}` : expected.name ? `${expected.name}` : 'a matching error');

export const DeciderSpecification = {
  /** Starts a specification of `decider`. */
  for<Command, Event, State>(decider: SpecDecider<Command, Event, State>): GivenStep<Command, Event, State> {
    return {
      given(events) {
        const state = events.reduce((s, e) => decider.evolve(s, e), decider.initialState());
        return {
          when(command) {
            const run = (): Event[] => decider.decide(command, state);
            return {
              then(expected) {
                const events = run();
                if (typeof expected === 'function') expected(events, events.reduce((s, e) => decider.evolve(s, e), state));
                else expect(events).toEqual(expected);
              },
              thenNothing() {
                expect(run()).toEqual([]);
              },
              thenThrows(expected) {
                let thrown: unknown;
                let threw = false;
                try {
                  run();
                } catch (error) {
                  thrown = error;
                  threw = true;
                }
                if (!threw) throw new Error(`expected the command to be refused with ${describeExpected(expected)}, but it was accepted`);
                if (!matches(thrown, expected)) {
                  const got = thrown instanceof Error ? `${(thrown as { code?: string }).code ?? thrown.name}: ${thrown.message}` : String(thrown);
                  throw new Error(`expected ${describeExpected(expected)}, got ${got}`);
                }
                return thrown;
              },
            };
          },
        };
      },
    };
  },
};
