import { defaultPolicy, optimizationDecider, optimizationStream, parseRecommendation } from '@optex/domain';
import { randomUUID } from 'node:crypto';
import { silentLogger, type EventStore } from '@optex/ports';
import { HashChainedEventStore, SqliteEventStore, verifyLog } from '@optex/event-store';
import { OptexMetrics, defaultEngineOptions, handleCommand } from '@optex/engine';
import { asDelivered, gp3Recommendation, recordUpTo } from '@optex/testing';
import { SchedulerService } from './scheduler.service';

const NOW = new Date('2026-11-26T10:00:00Z');
const clock = { now: () => NOW };

/** A store holding one optimization received, assessed and auto-approved; its ApprovalGranted event. */
async function approved(store: EventStore, recommendationId = 's1') {
  const parsed = parseRecommendation(gp3Recommendation({ recommendationId, source: 'spec', volumeId: 'vol-1' }));
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
  const id = await recordUpTo(store, parsed.value, NOW, 'approved');
  return { id, granted: (await store.readStream(optimizationStream(id))).find((e) => e.type === 'ApprovalGranted')! };
}

const until = async (done: () => Promise<boolean>): Promise<void> => {
  for (let i = 0; i < 200 && !(await done()); i++) await new Promise((r) => setTimeout(r, 5));
};

describe('SchedulerService dispatch', () => {
  it('schedules an approved optimization on the state its read model folded, without reading its stream', async () => {
    const store = SqliteEventStore.open(':memory:');
    const scheduler = new SchedulerService(store, clock, silentLogger, new OptexMetrics(), { ...defaultEngineOptions, recoverOnStart: false, batchWindowMs: 10, batchQuietMs: 0 }, defaultPolicy);
    const { id, granted } = await approved(store);
    await scheduler.onApplicationBootstrap(); // its read model: up to ApprovalGranted
    const read = jest.spyOn(store, 'readStream');

    await scheduler.onEvent(asDelivered(granted)); // opens the batch window; the dispatch follows when it closes
    const types = async () => (await SqliteEventStore.prototype.readStream.call(store, optimizationStream(id))).map((e) => e.type);
    await until(async () => (await types()).includes('ExecutionScheduled'));
    await scheduler.settled();

    expect(await types()).toEqual(['OptimizationReceived', 'RiskAssessed', 'ApprovalGranted', 'ExecutionScheduled']);
    expect(read.mock.calls.filter(([stream]) => stream === optimizationStream(id))).toHaveLength(0);
    scheduler.onApplicationShutdown();
    await store.close();
  });

  it('on a hash-chained log other processes write, plans and completes a batch without reading the batch stream', async () => {
    const raw = SqliteEventStore.open(':memory:');
    const others = new HashChainedEventStore(raw); // the other services' processes
    const store = new HashChainedEventStore(raw); // the scheduler's
    const scheduler = new SchedulerService(store, clock, silentLogger, new OptexMetrics(), { ...defaultEngineOptions, recoverOnStart: false, batchWindowMs: 10, batchQuietMs: 0 }, defaultPolicy);
    const { id, granted } = await approved(others);
    await scheduler.onApplicationBootstrap();
    const read = jest.spyOn(raw, 'readStream');
    const batchReads = () => read.mock.calls.filter(([stream]) => stream.startsWith('batch-')).length;
    /** A stream as the log holds it, read past the spy (the spec's own reads are not the scheduler's). */
    const logOf = (stream: string) => SqliteEventStore.prototype.readStream.call(raw, stream);
    const relay = async (stream: string, after = -1n) => {
      for (const e of await logOf(stream)) if (e.revision > after) await scheduler.onEvent(asDelivered(e));
    };

    await scheduler.onEvent(asDelivered(granted));
    await until(async () => (await logOf(optimizationStream(id))).some((e) => e.type === 'ExecutionScheduled'));
    await scheduler.settled();
    const [batch] = await batchStreamsOf(raw);
    if (!batch) throw new Error('no batch planned');
    await relay(batch); // the relay delivers BatchPlanned to the scheduler
    await relay(optimizationStream(id), granted.revision);
    // Cancelled by an operator (another process): the batch's only member settles, so the batch completes.
    await handleCommand(others, optimizationStream(id), optimizationDecider, { type: 'CancelOptimization', data: { by: 'oncall', reason: 'spec' }, metadata: { now: NOW } }, { causationKey: 'cancel', recordedBy: 'spec' });
    await relay(optimizationStream(id), granted.revision + 1n);
    await until(async () => (await logOf(batch)).length === 2);
    await scheduler.settled();

    expect((await logOf(batch)).map((e) => e.type)).toEqual(['BatchPlanned', 'BatchCompleted']);
    expect(batchReads()).toBe(0);
    read.mockRestore();
    expect(await verifyLog(raw)).toMatchObject({ ok: true });
    scheduler.onApplicationShutdown();
    await store.close();
  });
});

describe('SchedulerService per-resource lock', () => {
  it('holds a resource whose optimization is rollback-failed until an operator resolves it, then dispatches the one waiting for it', async () => {
    const store = SqliteEventStore.open(':memory:');
    const scheduler = new SchedulerService(store, clock, silentLogger, new OptexMetrics(), { ...defaultEngineOptions, recoverOnStart: false, batchWindowMs: 10, batchQuietMs: 0 }, defaultPolicy);
    const one = await approved(store, 's1'); // both on vol-1
    const two = await approved(store, 's2');
    await scheduler.onApplicationBootstrap();
    const types = async (id: string) => (await store.readStream(optimizationStream(id))).map((e) => e.type);
    const scheduledIds = async () => {
      const out: string[] = [];
      for (const id of [one.id, two.id]) if ((await types(id)).includes('ExecutionScheduled')) out.push(id);
      return out;
    };
    await scheduler.onEvent(asDelivered(one.granted));
    await scheduler.onEvent(asDelivered(two.granted));
    await until(async () => (await scheduledIds()).length > 0);
    await scheduler.settled();
    const [first, ...others] = await scheduledIds();
    expect(others).toEqual([]); // never two on one resource
    const second = first === one.id ? two.id : one.id;

    /** Appends events to `first`'s stream as the executor and an operator would, delivering each to the scheduler. */
    const record = async (...events: [string, Record<string, unknown>][]) => {
      const stream = optimizationStream(first);
      const at = NOW.toISOString();
      await store.appendToStream(stream, events.map(([type, data]) => ({ id: randomUUID(), type, data: { optimizationId: first, at, ...data } })), 'any');
      const recorded = await store.readStream(stream);
      for (const e of recorded.slice(-events.length)) await scheduler.onEvent(asDelivered(e));
      await scheduler.settled();
    };
    await record(
      ['ExecutionStarted', { dryRun: false }],
      ['RollbackStarted', { reason: 'validation failed', steps: [] }],
      ['RollbackFailed', { error: { code: 'InsufficientInstanceCapacity', message: 'no capacity' } }],
    );
    expect(scheduler.readModel.statusOf(first)).toBe('rollback-failed');
    await new Promise((r) => setTimeout(r, 30)); // past any batch window
    await scheduler.tick();
    expect(await scheduledIds()).toEqual([first]); // the second waits: the resource is held
    expect(scheduler.readModel.statusOf(second)).toBe('approved');

    await record(['OptimizationResolved', { by: 'oncall', note: 'restored by hand', from: 'rollback-failed' }]); // the delivery ticks
    expect((await scheduledIds()).sort()).toEqual([one.id, two.id].sort());
    expect(scheduler.readModel.statusOf(second)).toBe('scheduled');
    scheduler.onApplicationShutdown();
    await store.close();
  });
});

/** The batch streams in the log, in order. */
async function batchStreamsOf(store: SqliteEventStore): Promise<string[]> {
  const streams: string[] = [];
  for await (const e of store.readAll()) if (e.stream.startsWith('batch-') && !streams.includes(e.stream)) streams.push(e.stream);
  return streams;
}
