import { defaultPolicy, optimizationStream, parseRecommendation } from '@optex/domain';
import { silentLogger } from '@optex/ports';
import { SqliteEventStore } from '@optex/event-store';
import { OptexMetrics, defaultEngineOptions } from '@optex/engine';
import { asDelivered, gp3Recommendation, recordUpTo } from '@optex/testing';
import { SchedulerService } from './scheduler.service';

const NOW = new Date('2026-11-26T10:00:00Z');
const clock = { now: () => NOW };

/** A store holding one optimization received, assessed and auto-approved; its ApprovalGranted event. */
async function approved(store: SqliteEventStore) {
  const parsed = parseRecommendation(gp3Recommendation({ recommendationId: 's1', source: 'spec', volumeId: 'vol-1' }));
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
});
