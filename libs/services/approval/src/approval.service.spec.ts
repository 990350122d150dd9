import { defaultPolicy, defaultPriceBook, optimizationDecider, optimizationStream, parseRecommendation } from '@optex/domain';
import { silentLogger, type EventStore } from '@optex/ports';
import { HashChainedEventStore, SqliteEventStore, verifyLog } from '@optex/event-store';
import { OptexMetrics, defaultEngineOptions, handleCommand } from '@optex/engine';
import { asDelivered, gp3Recommendation, recordUpTo } from '@optex/testing';
import { ApprovalService } from './approval.service';

const NOW = new Date('2026-11-26T10:00:00Z');
const clock = { now: () => NOW };

/** A store holding one optimization received and assessed LOW (auto-approvable under the default policy). */
async function assessed() {
  const store = SqliteEventStore.open(':memory:');
  const parsed = parseRecommendation(gp3Recommendation({ recommendationId: 'a1', source: 'spec', volumeId: 'vol-1' }));
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
  const id = await recordUpTo(store, parsed.value, NOW, 'assessed');
  const riskAssessed = (await store.readStream(optimizationStream(id))).find((e) => e.type === 'RiskAssessed')!;
  return { store, id, riskAssessed };
}

async function approvalOn(store: EventStore): Promise<ApprovalService> {
  const service = new ApprovalService(store, defaultPolicy, defaultPriceBook, clock, silentLogger, new OptexMetrics(), { ...defaultEngineOptions, recoverOnStart: false });
  await service.onApplicationBootstrap();
  return service;
}

describe('ApprovalService', () => {
  it('decides a delivered RiskAssessed on the state its read model folded, without reading the stream', async () => {
    const { store, id, riskAssessed } = await assessed();
    const approval = await approvalOn(store);
    const read = jest.spyOn(store, 'readStream');

    await approval.onEvent(asDelivered(riskAssessed));

    expect(read.mock.calls.filter(([stream]) => stream === optimizationStream(id))).toHaveLength(0);
    read.mockRestore();
    const events = await store.readStream(optimizationStream(id));
    expect(events.map((e) => e.type)).toEqual(['OptimizationReceived', 'RiskAssessed', 'ApprovalGranted']);
    expect(events[2]!.data).toMatchObject({ mode: 'auto' });
    await approval.onApplicationShutdown();
    await store.close();
  });

  it('on a hash-chained log another process wrote, appends after the delivered event without reading the stream\'s last event first', async () => {
    const raw = SqliteEventStore.open(':memory:');
    const parsed = parseRecommendation(gp3Recommendation({ recommendationId: 'a2', source: 'spec', volumeId: 'vol-2' }));
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
    const id = await recordUpTo(new HashChainedEventStore(raw), parsed.value, NOW, 'assessed'); // the other process's chain
    const riskAssessed = (await raw.readStream(optimizationStream(id))).find((e) => e.type === 'RiskAssessed')!;
    const store = new HashChainedEventStore(raw); // this process's: it has written and read nothing of the stream
    const approval = await approvalOn(store);
    const read = jest.spyOn(raw, 'readStream');

    await approval.onEvent(asDelivered(riskAssessed));

    // Neither the state (the read model's) nor the chain's tip (the delivered event's hash) is read from the log.
    expect(read.mock.calls.filter(([stream]) => stream === optimizationStream(id))).toHaveLength(0);
    read.mockRestore();
    const events = await raw.readStream(optimizationStream(id));
    expect(events.map((e) => e.type)).toEqual(['OptimizationReceived', 'RiskAssessed', 'ApprovalGranted']);
    expect(await verifyLog(raw)).toMatchObject({ ok: true, events: 3 });
    await approval.onApplicationShutdown();
    await store.close();
  });

  it('a stream that moved on past its read model is read again: the decision is not taken twice', async () => {
    const { store, id, riskAssessed } = await assessed();
    const approval = await approvalOn(store); // its read model: up to RiskAssessed
    // Meanwhile another approval instance decides it first, from another delivery.
    await handleCommand(store, optimizationStream(id), optimizationDecider, { type: 'DecideApproval', data: { policy: defaultPolicy }, metadata: { now: NOW } }, { causationKey: 'other-delivery', recordedBy: 'spec' });
    const read = jest.spyOn(store, 'readStream');

    await approval.onEvent(asDelivered(riskAssessed));

    expect(read.mock.calls.filter(([stream]) => stream === optimizationStream(id))).toHaveLength(1); // the conflict's read
    read.mockRestore();
    expect((await store.readStream(optimizationStream(id))).map((e) => e.type)).toEqual(['OptimizationReceived', 'RiskAssessed', 'ApprovalGranted']);
    await approval.onApplicationShutdown();
    await store.close();
  });
});
