import { ConcurrencyError, type AppendOptions, type AppendResult, type EventStore, type ExpectedRevision, type NewEvent, type RecordedEvent } from '@optex/ports';
import { PendingDecisions, handleCommandAt, loadStream, type Decider } from './command-handler';

type Add = { type: 'Add'; data: { n: number } };
type Added = { type: 'Added'; data: { n: number; total: number } };
type Total = { total: number };

/** Adds `n` to a running total; adding 0 decides nothing. */
const adder: Decider<Add, Added, Total> = {
  initialState: () => ({ total: 0 }),
  decide: (command, state) => (command.data.n === 0 ? [] : [{ type: 'Added', data: { n: command.data.n, total: state.total + command.data.n } }]),
  evolve: (state, event) => ({ total: event.data.total }),
};
const add = (n: number): Add => ({ type: 'Add', data: { n } });
const context = (key: string) => ({ causationKey: key, recordedBy: 'spec', metadata: { resourceKey: 'acct/region/res' } });
const STREAM = 'adder-1';

jest.mock('@optex/domain', () => ({
  ...jest.requireActual('@optex/domain'),
  parseStoredEvent: (e: { type: string; data: unknown }) => ({ type: e.type, data: e.data }),
}));

/** A store of one process's memory with the expected-revision check, recording every append call. */
function memoryStore() {
  const recorded: RecordedEvent[] = [];
  const appends: { stream: string; events: readonly NewEvent[]; expected: ExpectedRevision; options?: AppendOptions }[] = [];
  const store = {
    appends,
    async readStream(stream: string): Promise<RecordedEvent[]> {
      return recorded.filter((e) => e.stream === stream);
    },
    async appendToStream(stream: string, events: readonly NewEvent[], expected: ExpectedRevision, options?: AppendOptions): Promise<AppendResult> {
      appends.push({ stream, events, expected, ...(options ? { options } : {}) });
      const last = recorded.filter((e) => e.stream === stream).length - 1;
      const actual = last < 0 ? 'no_stream' : BigInt(last);
      if (expected !== 'any' && (expected === 'no_stream' ? last >= 0 : expected !== actual)) throw new ConcurrencyError(stream, expected, actual);
      events.forEach((e, i) => {
        const position = BigInt(recorded.length + 1);
        recorded.push({ id: e.id, stream, type: e.type, revision: BigInt(last + 1 + i), position: { commit: position, prepare: position }, data: e.data, metadata: e.metadata ?? {}, recordedAt: new Date(0) });
      });
      const position = BigInt(recorded.length);
      return { nextExpectedRevision: BigInt(last + events.length), position: { commit: position, prepare: position } };
    },
  };
  return store as typeof store & EventStore;
}

describe('durable appends', () => {
  /** The adder, whose events of an odd `n` must survive a power loss (as the optimization decider's intents). */
  const durableOdd: Decider<Add, Added, Total> = { ...adder, durable: (e) => e.data.n % 2 === 1 };

  it('a flush holding an event the decider calls durable asks the store for a durable append; one without does not', async () => {
    const store = memoryStore();
    const decisions = new PendingDecisions(store, STREAM, durableOdd, await loadStream(store, STREAM, durableOdd));
    decisions.decide(add(2), context('a@-1'));
    await decisions.flush();
    decisions.decide(add(2), context('b@0'));
    decisions.decide(add(3), context('c@1'));
    await decisions.flush();
    expect(store.appends.map((a) => a.options)).toEqual([undefined, { durable: true }]);
  });

  it('handleCommandAt asks for a durable append as the decider says, and a decider without durable never does', async () => {
    const store = memoryStore();
    await handleCommandAt(store, STREAM, durableOdd, undefined, add(1), context('a'));
    await handleCommandAt(store, STREAM, durableOdd, undefined, add(2), context('b'));
    await handleCommandAt(store, STREAM, adder, undefined, add(1), context('c'));
    expect(store.appends.map((a) => a.options)).toEqual([{ durable: true }, undefined, undefined]);
  });
});

describe('PendingDecisions', () => {
  it('decides each command on the state the previous one left and appends nothing before flush, then all in one append', async () => {
    const store = memoryStore();
    const decisions = new PendingDecisions(store, STREAM, adder, await loadStream(store, STREAM, adder));
    expect(decisions.decide(add(2), context('a@-1'))).toEqual([{ type: 'Added', data: { n: 2, total: 2 } }]);
    expect(decisions.decide(add(0), context('b@0'))).toEqual([]);
    decisions.decide(add(3), context('c@0'));
    expect(decisions).toMatchObject({ state: { total: 5 }, revision: 1n, pending: 2 });
    expect(store.appends).toEqual([]);

    expect((await decisions.flush()).map((e) => e.data.total)).toEqual([2, 5]);
    expect(store.appends.map((a) => [a.events.length, a.expected])).toEqual([[2, 'no_stream']]);
    expect(decisions).toMatchObject({ state: { total: 5 }, revision: 1n, pending: 0 });
    expect(await decisions.flush()).toEqual([]);
    expect(store.appends).toHaveLength(1);

    decisions.decide(add(4), context('d@1'));
    await decisions.flush();
    expect(store.appends[1]!.expected).toBe(1n);
    expect((await loadStream(store, STREAM, adder)).state).toEqual({ total: 9 });
  });

  it('gives each event the id, type, data and metadata it would have had appended one command at a time', async () => {
    const oneByOne = memoryStore();
    let known: { state: Total; revision: bigint } = await loadStream(oneByOne, STREAM, adder);
    for (const [n, key] of [[2, 'a'], [3, 'b']] as const) known = await handleCommandAt(oneByOne, STREAM, adder, known, add(n), context(key));
    const together = memoryStore();
    const decisions = new PendingDecisions(together, STREAM, adder, await loadStream(together, STREAM, adder));
    decisions.decide(add(2), context('a'));
    decisions.decide(add(3), context('b'));
    await decisions.flush();
    expect(together.appends).toHaveLength(1);
    expect(together.appends[0]!.events).toEqual(oneByOne.appends.flatMap((a) => a.events));
    expect(await together.readStream(STREAM)).toEqual(await oneByOne.readStream(STREAM));
  });

  it('fails with the conflict when the stream moved on meanwhile, appends none of the pending events and refuses further use', async () => {
    const store = memoryStore();
    const decisions = new PendingDecisions(store, STREAM, adder, await loadStream(store, STREAM, adder));
    decisions.decide(add(2), context('mine'));
    await handleCommandAt(store, STREAM, adder, await loadStream(store, STREAM, adder), add(7), context('theirs'));

    await expect(decisions.flush()).rejects.toBeInstanceOf(ConcurrencyError);
    expect((await store.readStream(STREAM)).map((e) => e.data)).toEqual([{ n: 7, total: 7 }]);
    expect(() => decisions.decide(add(1), context('later'))).toThrow(/an earlier flush failed; read the stream again/);
    await expect(decisions.flush()).rejects.toThrow(/an earlier flush failed/);
  });
});

describe('handleCommandAt', () => {
  it('decides on the state it is given without reading the stream; a stale one conflicts and is decided again on the stream read', async () => {
    const store = memoryStore();
    const read = jest.spyOn(store, 'readStream');
    const first = await handleCommandAt(store, STREAM, adder, { state: adder.initialState(), revision: -1n }, add(2), context('a'));
    expect(first).toMatchObject({ state: { total: 2 }, revision: 0n });
    expect(read).not.toHaveBeenCalled();

    // Given the state before `first` (a read model behind the stream): the append conflicts, the stream is read, total 2 + 5.
    const stale = await handleCommandAt(store, STREAM, adder, { state: adder.initialState(), revision: -1n }, add(5), context('b'));
    expect(stale).toMatchObject({ state: { total: 7 }, revision: 1n });
    expect(read).toHaveBeenCalledTimes(1);
    expect((await store.readStream(STREAM)).map((e) => e.data)).toEqual([{ n: 2, total: 2 }, { n: 5, total: 7 }]);
  });

  it('without a known state, reads the stream first (handleCommand)', async () => {
    const store = memoryStore();
    await handleCommandAt(store, STREAM, adder, undefined, add(2), context('a'));
    const read = jest.spyOn(store, 'readStream');
    const result = await handleCommandAt(store, STREAM, adder, undefined, add(3), context('b'));
    expect(result).toMatchObject({ state: { total: 5 }, revision: 1n });
    expect(read).toHaveBeenCalledTimes(1);
    expect(store.appends.map((a) => a.expected)).toEqual(['no_stream', 0n]);
  });
});
