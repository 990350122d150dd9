import type { EventStore, RecordedEvent } from '@optex/ports';
import { loadStream, type Decider } from './command-handler';

type Counted = { type: 'Counted'; data: { n: number } };

/** A decider that counts how often it evolves. */
function countingDecider(): Decider<never, Counted, { sum: number }> & { evolved: number } {
  const decider = {
    evolved: 0,
    initialState: () => ({ sum: 0 }),
    decide: () => [],
    evolve: (state: { sum: number }, event: Counted) => {
      decider.evolved++;
      return { sum: state.sum + event.data.n };
    },
  };
  return decider;
}

const recorded = (revision: number, n: number): RecordedEvent => ({
  id: `00000000-0000-4000-8000-${String(revision).padStart(12, '0')}`,
  stream: 'counter-1',
  type: 'Counted',
  revision: BigInt(revision),
  position: { commit: BigInt(revision + 1), prepare: BigInt(revision + 1) },
  data: { n },
  metadata: { schemaVersion: 1 },
  recordedAt: new Date(0),
});

/** A store whose readStream returns the given (shared) event objects, as the SQLite store's kept streams do. */
const storeOf = (events: () => RecordedEvent[]) => ({ readStream: async () => events() }) as unknown as EventStore;

jest.mock('@optex/domain', () => ({
  ...jest.requireActual('@optex/domain'),
  parseStoredEvent: (e: RecordedEvent) => ({ type: e.type, data: e.data }),
}));

describe('loadStream', () => {
  it('folds only the events after the last one it folded when the store hands out the same event objects', async () => {
    const decider = countingDecider();
    const events = [recorded(0, 1), recorded(1, 2)];
    const store = storeOf(() => events.slice());
    expect((await loadStream(store, 'counter-1', decider)).state).toEqual({ sum: 3 });
    expect(decider.evolved).toBe(2);
    expect(await loadStream(store, 'counter-1', decider)).toMatchObject({ state: { sum: 3 }, revision: 1n });
    expect(decider.evolved).toBe(2);
    events.push(recorded(2, 4));
    expect(await loadStream(store, 'counter-1', decider)).toMatchObject({ state: { sum: 7 }, revision: 2n });
    expect(decider.evolved).toBe(3);
  });

  it('folds the whole stream again when the events are new objects (another store, or read again from disk)', async () => {
    const decider = countingDecider();
    const store = storeOf(() => [recorded(0, 1), recorded(1, 2)]);
    await loadStream(store, 'counter-1', decider);
    expect((await loadStream(store, 'counter-1', decider)).state).toEqual({ sum: 3 });
    expect(decider.evolved).toBe(4);
  });

  it('keeps folds apart per decider', async () => {
    const first = countingDecider();
    const second = countingDecider();
    const events = [recorded(0, 5)];
    const store = storeOf(() => events);
    await loadStream(store, 'counter-1', first);
    expect((await loadStream(store, 'counter-1', second)).state).toEqual({ sum: 5 });
    expect(second.evolved).toBe(1);
  });

  it('an empty stream is the initial state at revision -1', async () => {
    expect(await loadStream(storeOf(() => []), 'counter-1', countingDecider())).toEqual({ state: { sum: 0 }, revision: -1n, recorded: [] });
  });
});
