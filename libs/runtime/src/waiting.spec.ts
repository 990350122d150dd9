import { defaultPolicy, optimizationDecider, optimizationIdFor, optimizationStream, parseRecommendation, type KnownOptimizationState, type Recommendation } from '@optex/domain';
import { SqliteEventStore } from '@optex/event-store';
import { OptimizationProjection, handleCommand, loadStream, resourceKeyOf } from '@optex/engine';
import { gp3Recommendation, recordUpTo } from '@optex/testing';
import { projectionOfResource, waitingOf } from './waiting';

// `show` of an approved or scheduled optimization needs who holds its resource and when it last changed: from the
// optimizations on that resource alone, not from every event of the log.

const NOW = new Date('2026-11-26T10:00:00Z');

function gp3(recommendationId: string, volumeId: string): Recommendation {
  const parsed = parseRecommendation(gp3Recommendation({ recommendationId, source: 'spec', volumeId }));
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
  return parsed.value;
}

describe('projectionOfResource', () => {
  it('folds the optimizations on the resource only, found by the receipt’s resourceKey or its recommendation; holders and last change as the whole log says', async () => {
    const store = SqliteEventStore.open(':memory:');
    try {
      // On vol-1: a scheduled one (written without resourceKey metadata, as older events may be) and an approved one
      // received with it (as the risk-assessor writes); on vol-2: a scheduled one.
      const holder = await recordUpTo(store, gp3('holder', 'vol-1'), NOW, 'scheduled');
      const waiter = gp3('waiter', 'vol-1');
      const waiterId = optimizationIdFor(waiter.source, waiter.recommendationId);
      const metadata = { resourceKey: resourceKeyOf(waiter) };
      await handleCommand(store, optimizationStream(waiterId), optimizationDecider, { type: 'ReceiveRecommendation', data: { optimizationId: waiterId, recommendation: waiter, dryRun: false, deliveryId: `d-${waiterId}` }, metadata: { now: NOW } }, { causationKey: 'receive', recordedBy: 'spec', metadata });
      await recordUpTo(store, waiter, NOW, 'approved');
      await recordUpTo(store, gp3('elsewhere', 'vol-2'), NOW, 'scheduled');

      const read = jest.spyOn(store, 'readStream');
      const key = resourceKeyOf(waiter);
      const onResource = await projectionOfResource(store, key);
      const whole = await OptimizationProjection.load(store);
      expect(onResource.size).toBe(2);
      expect(read.mock.calls.map(([stream]) => stream).sort()).toEqual([optimizationStream(holder), optimizationStream(waiterId)].sort());
      expect(onResource.activeOnResource(key).map((o) => o.optimizationId)).toEqual([holder]);
      expect(onResource.activeOnResource(key)).toEqual(whole.activeOnResource(key));
      expect(onResource.lastChangeOn(key)).toEqual(whole.lastChangeOn(key));
      read.mockRestore();

      const { state } = await loadStream(store, optimizationStream(waiterId), optimizationDecider);
      const why = await waitingOf(store, state as KnownOptimizationState, { now: NOW, policy: defaultPolicy });
      expect(why).toMatchObject({ hold: 'resource-held', reason: expect.stringContaining(`is held by optimization ${holder} (scheduled)`) });
    } finally {
      await store.close();
    }
  });
});
