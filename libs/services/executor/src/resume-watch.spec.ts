import { CONTROL_STREAM, controlDecider } from '@optex/domain';
import { silentLogger, type EventStore } from '@optex/ports';
import { SqliteEventStore } from '@optex/event-store';
import { ResumeWatch, executionControlState, handleCommand } from '@optex/engine';

const NOW = new Date('2026-11-26T10:00:00Z');

// ResumeWatch lives in the engine library; its spec is here, where a real event store may be used.
describe('ResumeWatch', () => {
  let store: SqliteEventStore;
  let turns = 0;
  const control = async (type: 'PauseExecution' | 'ResumeExecution'): Promise<string> => {
    await handleCommand(store, CONTROL_STREAM, controlDecider, { type, data: { by: 'oncall', reason: 'incident' }, metadata: { now: NOW } }, { causationKey: `${type}:${++turns}`, recordedBy: 'spec' });
    const [last] = await store.readStream(CONTROL_STREAM, { direction: 'backwards', maxCount: 1 });
    return last!.id;
  };
  const watching = async (onResumed: (id: string) => Promise<void>, over: EventStore = store) => {
    const watch = new ResumeWatch(over, { everyMs: 0, logger: silentLogger, onResumed });
    await watch.start();
    return watch;
  };

  beforeEach(() => {
    store = SqliteEventStore.open(':memory:');
  });
  afterEach(async () => {
    await store.close();
  });

  it('drives a resume it finds in the log once, whether the look or the delivery comes first; a pause drives nothing', async () => {
    const driven: string[] = [];
    const watch = await watching(async (id) => void driven.push(id));
    await control('PauseExecution');
    await watch.look();
    expect(driven).toEqual([]);
    const first = await control('ResumeExecution');
    await watch.look(); // not delivered here: found in the log
    await watch.delivered(first); // then delivered: already driven
    await watch.look();
    await control('PauseExecution');
    const second = await control('ResumeExecution');
    await watch.delivered(second); // delivered first this time
    await watch.look();
    expect(driven).toEqual([first, second]);
    expect((await executionControlState(store)).paused).toBe(false);
  });

  it('a resume already last when it started is driven only when delivered (its delivery outlived a restart), never by a look', async () => {
    await control('PauseExecution');
    const resumed = await control('ResumeExecution');
    const driven: string[] = [];
    const watch = await watching(async (id) => void driven.push(id));
    await watch.look();
    expect(driven).toEqual([]);
    await watch.delivered(resumed);
    expect(driven).toEqual([resumed]);
  });

  it('a drive that failed is driven again by the next look or delivery; a look that cannot read the log is logged and tried again', async () => {
    let fail = true;
    const driven: string[] = [];
    const watch = await watching(async (id) => {
      if (fail) throw new Error('store unavailable');
      driven.push(id);
    });
    await control('PauseExecution');
    const resumed = await control('ResumeExecution');
    await watch.look(); // failed: logged
    await expect(watch.delivered(resumed)).rejects.toThrow('store unavailable'); // the delivery is redelivered
    fail = false;
    await watch.look();
    await watch.delivered(resumed);
    expect(driven).toEqual([resumed]);

    const unreadable = { readStream: async () => Promise.reject(new Error('store unavailable')) } as unknown as EventStore;
    const blind = await watching(async (id) => void driven.push(id), unreadable);
    await expect(blind.look()).resolves.toBeUndefined();
    await blind.stop();
  });

  it('with everyMs, looks by itself until stopped', async () => {
    const driven: string[] = [];
    const watch = new ResumeWatch(store, { everyMs: 10, logger: silentLogger, onResumed: async (id) => void driven.push(id) });
    await watch.start();
    await control('PauseExecution');
    const resumed = await control('ResumeExecution');
    for (let i = 0; i < 100 && driven.length === 0; i++) await new Promise((r) => setTimeout(r, 5));
    expect(driven).toEqual([resumed]);
    await watch.stop();
    await control('PauseExecution');
    await control('ResumeExecution');
    await new Promise((r) => setTimeout(r, 50));
    expect(driven).toEqual([resumed]);
  });
});
