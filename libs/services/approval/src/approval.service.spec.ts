import { defaultPolicy, defaultPriceBook, optimizationDecider, optimizationStream, parseRecommendation } from '@optex/domain';
import { silentLogger, type EventStore } from '@optex/ports';
import { HashChainedEventStore, SqliteEventStore, verifyLog } from '@optex/event-store';
import { OptexMetrics, defaultEngineOptions, handleCommand } from '@optex/engine';
import { asDelivered, gp3Recommendation, recordUpTo } from '@optex/testing';
import { ApprovalService } from './approval.service';
import { recordApproval, recordDenial } from './human-decisions';

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
  it('optex_pending_approvals counts, when read, the optimizations awaiting approval whose messages this instance owns', async () => {
    const store = SqliteEventStore.open(':memory:');
    const metrics = new OptexMetrics();
    const approval = new ApprovalService(store, defaultPolicy, defaultPriceBook, clock, silentLogger, metrics, { ...defaultEngineOptions, recoverOnStart: false });
    const ids: string[] = [];
    for (const volumeId of ['vol-1', 'vol-2', 'vol-3']) {
      // Tagged production: assessed above LOW, so a person must approve it.
      const parsed = parseRecommendation(gp3Recommendation({ recommendationId: `p-${volumeId}`, source: 'spec', volumeId }, { resource: { type: 'ec2:volume', id: volumeId, tags: { env: 'production' } } }));
      if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
      ids.push(await recordUpTo(store, parsed.value, NOW, 'assessed'));
    }
    await approval.onApplicationBootstrap();
    await approval.recover(); // decides each: an approval is requested
    const pending = async () => (await metrics.pendingApprovals.get()).values[0]?.value;
    expect(await pending()).toBe(3);
    approval.ownResourcesBy((key) => key !== '123456789012/us-east-1/vol-3'); // vol-3's partition is another instance's
    expect(await pending()).toBe(2);
    await recordApproval(store, { optimizationId: ids[0]!, by: 'alice@example.com', reason: 'ok', now: NOW });
    const [granted] = await store.readStream(optimizationStream(ids[0]!), { direction: 'backwards', maxCount: 1 });
    await approval.onEvent(asDelivered(granted!));
    expect(await pending()).toBe(1);
    await approval.onApplicationShutdown();
    await store.close();
  });

  it('an approval another instance decided while it owned the partition is read from the log at the next sweep once the partition comes here, and no longer counted pending', async () => {
    const store = SqliteEventStore.open(':memory:');
    const metrics = new OptexMetrics();
    const ids: string[] = [];
    for (const volumeId of ['vol-1', 'vol-2']) {
      const parsed = parseRecommendation(gp3Recommendation({ recommendationId: `r-${volumeId}`, source: 'spec', volumeId }, { resource: { type: 'ec2:volume', id: volumeId, tags: { env: 'production' } } }));
      if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
      ids.push(await recordUpTo(store, parsed.value, NOW, 'assessed'));
    }
    const approval = new ApprovalService(store, defaultPolicy, defaultPriceBook, clock, silentLogger, metrics, { ...defaultEngineOptions, recoverOnStart: false });
    await approval.onApplicationBootstrap();
    await approval.recover(); // both await approval
    let ownsSecond = false;
    approval.ownResourcesBy((key) => ownsSecond || !key.endsWith('/vol-2'));
    await approval.sweep(); // vol-2's partition is another instance's
    // That instance records an approval of vol-2: its events are not delivered here.
    await recordApproval(store, { optimizationId: ids[1]!, by: 'alice@example.com', reason: 'ok', now: NOW });
    const pending = async () => (await metrics.pendingApprovals.get()).values[0]?.value;
    expect(await pending()).toBe(1);
    ownsSecond = true; // the other instance left: its partition comes here
    expect(await pending()).toBe(2); // as the read model last saw it
    const read = jest.spyOn(store, 'readStream');
    await approval.sweep();
    expect(await pending()).toBe(1);
    expect(read.mock.calls.filter(([stream]) => stream === optimizationStream(ids[0]!))).toHaveLength(0); // owned all along: not read
    const reads = () => read.mock.calls.filter(([stream]) => stream === optimizationStream(ids[1]!)).length;
    const once = reads();
    await approval.sweep(); // read once: the next sweep reads nothing
    expect(reads()).toBe(once);
    read.mockRestore();
    await approval.onApplicationShutdown();
    await store.close();
  });

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

  it('a replica given a RiskAssessed of a stream it never saw (another replica handled its receipt, before a rebalance) reads the stream and decides', async () => {
    const store = SqliteEventStore.open(':memory:');
    const approval = await approvalOn(store); // its read model knows nothing of what follows
    const parsed = parseRecommendation(gp3Recommendation({ recommendationId: 'a4', source: 'spec', volumeId: 'vol-4' }));
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
    const id = await recordUpTo(store, parsed.value, NOW, 'assessed');
    const riskAssessed = (await store.readStream(optimizationStream(id))).find((e) => e.type === 'RiskAssessed')!;

    await approval.onEvent(asDelivered(riskAssessed));

    expect((await store.readStream(optimizationStream(id))).map((e) => e.type)).toEqual(['OptimizationReceived', 'RiskAssessed', 'ApprovalGranted']);
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

  describe('optex_approvals_total', () => {
    /** Two optimizations whose savings need a person's approval (over the default $500/month), each awaiting approval. */
    async function awaitingTwo() {
      const store = SqliteEventStore.open(':memory:');
      const ids: string[] = [];
      for (const n of [1, 2]) {
        const parsed = parseRecommendation(gp3Recommendation({ recommendationId: `m${n}`, source: 'spec', volumeId: `vol-m${n}` }, { estimatedMonthlySavings: 900 }));
        if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
        ids.push(await recordUpTo(store, parsed.value, NOW, 'assessed'));
      }
      const metrics = new OptexMetrics();
      const approval = new ApprovalService(store, defaultPolicy, defaultPriceBook, clock, silentLogger, metrics, { ...defaultEngineOptions, recoverOnStart: false });
      await approval.onApplicationBootstrap();
      for (const id of ids) await approval.onEvent(asDelivered((await store.readStream(optimizationStream(id))).find((e) => e.type === 'RiskAssessed')!));
      return { store, metrics, approval, ids };
    }
    const counted = async (metrics: OptexMetrics) =>
      Object.fromEntries((await metrics.approvals.get()).values.map((v) => [`${v.labels.mode}/${v.labels.decision}`, v.value]));

    it('counts the decisions people record in the log (CLI, API) as the approval service receives them, as it counts its own', async () => {
      const { store, metrics, approval, ids } = await awaitingTwo();
      expect(await counted(metrics)).toEqual({ 'manual/requested': 2 });

      await recordApproval(store, { optimizationId: ids[0]!, by: 'alice@example.com', now: NOW });
      await recordDenial(store, { optimizationId: ids[1]!, by: 'bob@example.com', reason: 'not this quarter', now: NOW });
      for (const id of ids) await approval.onEvent(asDelivered((await store.readStream(optimizationStream(id))).at(-1)!));

      expect(await counted(metrics)).toEqual({ 'manual/requested': 2, 'manual/granted': 1, 'manual/denied': 1 });
      await approval.onApplicationShutdown();
      await store.close();
    });

    it('records in the metadata how the decision came: typed into the CLI, or through the API with the caller’s method and subject', async () => {
      const { store, approval, ids } = await awaitingTwo();
      await recordApproval(store, { optimizationId: ids[0]!, by: 'alice@example.com', now: NOW });
      await recordDenial(store, { optimizationId: ids[1]!, by: 'bob@example.com', reason: 'no', now: NOW, authenticated: { channel: 'api', method: 'api-token', subject: 'bob-bot', names: ['bob-bot'] } });
      const lastOf = async (id: string) => (await store.readStream(optimizationStream(id))).at(-1)!;
      expect(await lastOf(ids[0]!)).toMatchObject({ type: 'ApprovalGranted', metadata: { via: { channel: 'cli' }, recordedBy: 'human:alice@example.com' } });
      expect(await lastOf(ids[1]!)).toMatchObject({ type: 'ApprovalDenied', metadata: { via: { channel: 'api', method: 'api-token', subject: 'bob-bot' } } });
      await approval.onApplicationShutdown();
      await store.close();
    });
  });
});
