import { randomUUID } from 'node:crypto';
import { InfrastructureError, type EventStore, type GlobalPosition, type RecordedEvent, type SubscribeOptions } from '@optex/ports';
import { SqliteEventStore } from '@optex/event-store';
import { CheckpointedProjection, CheckpointUnreadable, MemoryReadModelCheckpoints, type CheckpointChanges, type ProjectionDefinition } from './index';

/** A toy read model: events per stream of `counted-*`, one row per stream; it records what it was asked to do. */
class CountPerStream implements ProjectionDefinition {
  readonly name = 'counts';
  readonly filter = { kind: 'streamName', prefixes: ['counted-'] } as const;
  readonly counts = new Map<string, number>();
  applied: string[] = [];
  restored: number | undefined;
  constructor(readonly version = 1) {}
  apply(event: RecordedEvent): string[] {
    this.applied.push(`${event.stream}@${event.revision}`);
    this.counts.set(event.stream, (this.counts.get(event.stream) ?? 0) + 1);
    return [event.stream];
  }
  row(key: string): unknown {
    return this.counts.get(key);
  }
  restore(rows: ReadonlyMap<string, unknown>): void {
    for (const [k, v] of rows) if (typeof v !== 'number') throw new CheckpointUnreadable(this.name, k, 'not a count');
    this.restored = rows.size;
    for (const [k, v] of rows) this.counts.set(k, v as number);
  }
}

const append = async (store: EventStore, stream: string, n = 1) => {
  for (let i = 0; i < n; i++) await store.appendToStream(stream, [{ id: randomUUID(), type: 'Counted', data: { i } }], 'any');
};

const lastEvent = async (store: EventStore) => {
  for await (const e of store.readAll({ direction: 'backwards', maxCount: 1 })) return e;
  return undefined;
};

/**
 * The store, with outages of its subscription: `outage(error)` reports the drop (as an adapter does before it
 * resubscribes) and holds every delivery until the function it returns is called (the subscription is back).
 */
const withOutages = (store: EventStore) => {
  let dropped: SubscribeOptions['onDropped'];
  let held: Promise<void> | undefined;
  const flaky: EventStore = {
    appendToStream: (stream, events, expected) => store.appendToStream(stream, events, expected),
    readStream: (stream, options) => store.readStream(stream, options),
    readAll: (options) => store.readAll(options),
    subscribeToAll: (handler, options) => {
      dropped = options?.onDropped;
      return store.subscribeToAll(async (event) => {
        await held;
        await handler(event);
      }, options);
    },
    close: () => store.close(),
  };
  const outage = (error: unknown): (() => void) => {
    let end!: () => void;
    held = new Promise<void>((resolve) => (end = resolve));
    dropped?.(error);
    return () => {
      held = undefined;
      end();
    };
  };
  return { flaky, outage };
};

/** `promise`'s outcome, or 'pending' after `ms`. */
const within = async (ms: number, promise: Promise<unknown>): Promise<unknown> => {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise.then(
        () => 'resolved',
        (error: unknown) => error,
      ),
      new Promise((resolve) => (timer = setTimeout(() => resolve('pending'), ms))),
    ]);
  } finally {
    clearTimeout(timer);
  }
};

describe('CheckpointedProjection', () => {
  let store: SqliteEventStore;
  beforeEach(() => (store = SqliteEventStore.open(':memory:')));
  afterEach(() => store.close());

  it('given no checkpoint, folds the whole log; on stop it saves every changed row at the last position', async () => {
    await append(store, 'counted-a', 2);
    await append(store, 'other-x');
    await append(store, 'counted-b');
    const checkpoints = new MemoryReadModelCheckpoints();
    const model = new CountPerStream();
    const runner = new CheckpointedProjection(store, model, { checkpoints });
    expect(await runner.start()).toEqual({ rows: 0 });
    await runner.sync();
    await runner.stop();
    expect(model.applied).toEqual(['counted-a@0', 'counted-a@1', 'counted-b@0']);
    const saved = await checkpoints.load('counts', 1);
    expect(Object.fromEntries(saved!.rows)).toEqual({ 'counted-a': 2, 'counted-b': 1 });
    expect(saved!.header.position).toEqual(runner.position);
  });

  /** A checkpoint of `counted-a` × 3 saved from the spec's store, as a stopped API leaves it. */
  async function savedFromStore(): Promise<{ checkpoints: MemoryReadModelCheckpoints; position: GlobalPosition | undefined }> {
    const checkpoints = new MemoryReadModelCheckpoints();
    await append(store, 'counted-a', 3);
    const first = new CheckpointedProjection(store, new CountPerStream(), { checkpoints });
    await first.start();
    await first.sync();
    await first.stop();
    return { checkpoints, position: first.position };
  }

  it('given a checkpoint, restores it and folds only the events after it', async () => {
    const { checkpoints, position } = await savedFromStore();
    await append(store, 'counted-a');
    await append(store, 'counted-c', 2);

    const model = new CountPerStream();
    const second = new CheckpointedProjection(store, model, { checkpoints });
    const start = await second.start();
    expect(start.restoredFrom?.position).toEqual(position);
    expect(start.rows).toBe(1);
    await second.sync();
    expect(model.applied).toEqual(['counted-a@3', 'counted-c@0', 'counted-c@1']);
    expect(Object.fromEntries(model.counts)).toEqual({ 'counted-a': 4, 'counted-c': 2 });
    await second.stop();
  });

  describe('a checkpoint is restored only onto the log it was saved from', () => {
    it('given the log it was saved from, it records the id of its last event and is restored', async () => {
      const { checkpoints } = await savedFromStore();
      expect((await checkpoints.describe('counts'))?.eventId).toBe((await lastEvent(store))!.id);
      const start = await new CheckpointedProjection(store, new CountPerStream(), { checkpoints }).start();
      expect(start).toMatchObject({ rows: 1, restoredFrom: { eventId: (await lastEvent(store))!.id } });
      expect(start.notOfThisLog).toBeUndefined();
    });

    it.each([
      ['other events at its position (a log restored from an older backup, then written again)', 3, /^the log holds event \S+ at position 3, not \S+ at 3 \(a log restored from an older backup, or another log\)$/],
      ['fewer events than its position (a log restored from an older backup)', 2, /^the log ends before position 3, where its event \S+ was \(a log restored from an older backup, or another log\)$/],
    ])('given a log with %s, drops it and folds that whole log; the next start restores the new checkpoint', async (_what, events, reason) => {
      const { checkpoints } = await savedFromStore();
      const restored = SqliteEventStore.open(':memory:');
      try {
        await append(restored, 'counted-r', events);
        const model = new CountPerStream();
        const runner = new CheckpointedProjection(restored, model, { checkpoints });
        const start = await runner.start();
        expect(start.restoredFrom).toBeUndefined();
        expect(start.rows).toBe(0);
        expect(start.notOfThisLog).toMatch(reason);
        await runner.sync();
        await runner.stop();
        // Nothing of the other log's checkpoint is served: only what this log holds.
        expect(Object.fromEntries(model.counts)).toEqual({ 'counted-r': events });
        expect(model.restored).toBeUndefined();
        const again = await new CheckpointedProjection(restored, new CountPerStream(), { checkpoints }).start();
        expect(again).toMatchObject({ rows: 1, restoredFrom: { eventId: (await lastEvent(restored))!.id } });
      } finally {
        await restored.close();
      }
    });

    it('given a checkpoint that names no event (an earlier optex saved it), drops it and folds the whole log once', async () => {
      const { checkpoints, position } = await savedFromStore();
      const header = (await checkpoints.describe('counts'))!;
      // What an earlier optex left: the same rows and position, no event id.
      const earlier: MemoryReadModelCheckpoints = Object.assign(Object.create(MemoryReadModelCheckpoints.prototype) as MemoryReadModelCheckpoints, checkpoints);
      const load = checkpoints.load.bind(checkpoints);
      earlier.load = async (name, version) => {
        const loaded = await load(name, version);
        if (!loaded) return loaded;
        const { eventId: _eventId, ...rest } = loaded.header;
        return { ...loaded, header: rest };
      };
      const model = new CountPerStream();
      const runner = new CheckpointedProjection(store, model, { checkpoints: earlier });
      const start = await runner.start();
      expect(start.notOfThisLog).toBe(`it names no event at its position ${header.position.commit.toString()} (an earlier optex saved it), so it cannot be checked against the log`);
      await runner.sync();
      await runner.stop();
      expect(model.applied).toEqual(['counted-a@0', 'counted-a@1', 'counted-a@2']);
      expect(await checkpoints.describe('counts')).toMatchObject({ position, eventId: (await lastEvent(store))!.id });
    });
  });

  it('given a checkpoint of another version, ignores it and folds the whole log', async () => {
    const checkpoints = new MemoryReadModelCheckpoints();
    await append(store, 'counted-a', 2);
    const v1 = new CheckpointedProjection(store, new CountPerStream(1), { checkpoints });
    await v1.start();
    await v1.sync();
    await v1.stop();
    const model = new CountPerStream(2);
    const v2 = new CheckpointedProjection(store, model, { checkpoints });
    expect((await v2.start()).restoredFrom).toBeUndefined();
    await v2.sync();
    await v2.stop();
    expect(model.restored).toBeUndefined();
    expect(model.applied).toEqual(['counted-a@0', 'counted-a@1']);
    expect((await checkpoints.describe('counts'))?.version).toBe(2);
  });

  it('given a checkpoint it cannot read back, drops it and folds the whole log; the next start restores the new one', async () => {
    const checkpoints = new MemoryReadModelCheckpoints();
    await append(store, 'counted-a', 2);
    await append(store, 'counted-b');
    const last = (await lastEvent(store))!;
    await checkpoints.save('counts', { version: 1, position: last.position, eventId: last.id, rows: new Map<string, unknown>([['counted-a', 2], ['counted-b', 'one']]) });
    const model = new CountPerStream();
    const runner = new CheckpointedProjection(store, model, { checkpoints });
    const start = await runner.start();
    expect(start).toEqual({ unreadable: 'row "counted-b" of read model counts\'s checkpoint: not a count', rows: 0 });
    expect(await checkpoints.describe('counts')).toBeUndefined();
    await runner.sync();
    await runner.stop();
    expect(model.applied).toEqual(['counted-a@0', 'counted-a@1', 'counted-b@0']);
    expect(Object.fromEntries(model.counts)).toEqual({ 'counted-a': 2, 'counted-b': 1 });

    const again = await new CheckpointedProjection(store, new CountPerStream(), { checkpoints }).start();
    expect(again).toMatchObject({ rows: 2, restoredFrom: { position: runner.position } });
  });

  it('a checkpoint store that fails to load fails the start: only an unreadable checkpoint is dropped', async () => {
    const checkpoints = new MemoryReadModelCheckpoints();
    const failing = Object.assign(Object.create(checkpoints) as MemoryReadModelCheckpoints, { load: () => Promise.reject(new Error('disk I/O error')) });
    await expect(new CheckpointedProjection(store, new CountPerStream(), { checkpoints: failing }).start()).rejects.toThrow('disk I/O error');
  });

  it('saves while events arrive after checkpointEveryEvents, without waiting for stop', async () => {
    const checkpoints = new MemoryReadModelCheckpoints();
    const runner = new CheckpointedProjection(store, new CountPerStream(), { checkpoints, checkpointEveryEvents: 3, checkpointEveryMs: 3_600_000 });
    await runner.start();
    const positions = [];
    for (let i = 0; i < 4; i++) positions.push((await store.appendToStream('counted-a', [{ id: randomUUID(), type: 'Counted', data: { i } }], 'any')).position);
    await runner.sync();
    // The third event's save is done before the fourth is applied; the fourth waits for the timer (an hour) or stop.
    expect((await checkpoints.describe('counts'))?.position).toEqual(positions[2]);
    expect(Object.fromEntries((await checkpoints.load('counts', 1))!.rows)).toEqual({ 'counted-a': 3 });
    await runner.stop();
    expect((await checkpoints.describe('counts'))?.position).toEqual(positions[3]);
  });

  it('keeps the rows of a failed save and writes them with the next one', async () => {
    const inner = new MemoryReadModelCheckpoints();
    let failures = 1;
    const saves: CheckpointChanges[] = [];
    const flaky = Object.assign(Object.create(inner) as MemoryReadModelCheckpoints, {
      save: async (name: string, changes: CheckpointChanges) => {
        saves.push(changes);
        if (failures-- > 0) throw new Error('disk full');
        return inner.save(name, changes);
      },
    });
    const runner = new CheckpointedProjection(store, new CountPerStream(), { checkpoints: flaky, checkpointEveryMs: 3_600_000 });
    await runner.start();
    await append(store, 'counted-a');
    await runner.sync();
    await runner.checkpoint();
    expect(runner.checkpointPosition).toBeUndefined();
    await append(store, 'counted-b');
    await runner.sync();
    await runner.stop();
    expect(saves).toHaveLength(2);
    expect([...saves[1]!.rows.keys()].sort()).toEqual(['counted-a', 'counted-b']);
    expect(Object.fromEntries((await inner.load('counts', 1))!.rows)).toEqual({ 'counted-a': 1, 'counted-b': 1 });
  });

  it('a dropped subscription fails a sync only while it delivers nothing: once it is back, every sync succeeds', async () => {
    const { flaky, outage } = withOutages(store);
    const model = new CountPerStream();
    const runner = new CheckpointedProjection(flaky, model);
    await runner.start();
    await append(store, 'counted-a');
    await runner.sync();

    const back = outage(new InfrastructureError('connection reset'));
    await runner.sync(); // nothing in the log it has not applied
    await append(store, 'counted-a');
    await expect(runner.sync(50)).rejects.toThrow(/behind the log by more than 50 ms: its subscription dropped \(connection reset\) and has delivered nothing since/);
    back();
    await runner.sync();
    await runner.sync();
    await append(store, 'counted-b');
    await runner.sync();
    expect(model.applied).toEqual(['counted-a@0', 'counted-a@1', 'counted-b@0']);

    outage(new InfrastructureError('connection reset'))();
    await runner.sync(); // a drop it recovered from at once, with nothing to deliver since
    await runner.stop();
  });

  it('an event the read model cannot apply fails the sync waiting for it at once, and every sync after it', async () => {
    const model = new CountPerStream();
    const apply = model.apply.bind(model);
    model.apply = (event) => {
      if (event.stream === 'counted-bad') throw new Error('cannot count it');
      return apply(event);
    };
    const runner = new CheckpointedProjection(store, model);
    await append(store, 'counted-a', 50);
    await append(store, 'counted-bad');
    await runner.start();
    expect(await within(1000, runner.sync(60_000))).toEqual(new Error('cannot count it'));
    await expect(runner.sync()).rejects.toThrow('cannot count it');
    expect(model.applied).toHaveLength(50);
    await runner.stop();
  });

  it('reports its lag: the events of its streams it has not applied', async () => {
    await append(store, 'counted-a', 2);
    await append(store, 'other-x', 5);
    const runner = new CheckpointedProjection(store, new CountPerStream());
    expect(await runner.lag()).toBe(2);
    await runner.start();
    await runner.sync();
    expect(await runner.lag()).toBe(0);
    await runner.stop();
    await append(store, 'counted-b', 3);
    expect(await runner.lag()).toBe(3);
  });
});
