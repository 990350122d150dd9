import { DUPLICATES_STREAM, defaultPolicy, defaultPriceBook, optimizationIdFor, optimizationStream } from '@optex/domain';
import { InfrastructureError, silentLogger, type IncomingRecommendation } from '@optex/ports';
import { SqliteEventStore } from '@optex/event-store';
import { SimulatedFleet } from '@optex/cloud';
import { OptexMetrics, defaultEngineOptions } from '@optex/engine';
import { gp3Recommendation } from '@optex/testing';
import { RiskAssessorService } from './risk-assessor.service';

const NOW = new Date('2026-11-26T10:00:00Z');
const fleetFile = { volumes: [{ id: 'vol-1', accountId: '123456789012', region: 'us-east-1', volumeType: 'gp2', sizeGiB: 100, state: 'available' }] };
const STREAM = optimizationStream(optimizationIdFor('spec', 'rec-1'));

function delivery(deliveryId: string, recommendationId = 'rec-1'): IncomingRecommendation {
  return { kind: 'recommendation', bytes: Buffer.from(JSON.stringify(gp3Recommendation({ recommendationId, source: 'spec', volumeId: 'vol-1' }))), deliveryId, dryRun: false, attempt: 1 };
}

function setUp() {
  const store = SqliteEventStore.open(':memory:');
  const fleet = SimulatedFleet.fromFleet(fleetFile, { clock: { now: () => NOW } });
  const metrics = new OptexMetrics();
  const service = new RiskAssessorService(store, defaultPolicy, fleet, fleet, defaultPriceBook, { now: () => NOW }, silentLogger, metrics, { ...defaultEngineOptions, recoverOnStart: false });
  const accepted = async () => (await metrics.recommendations.get()).values.find((v) => v.labels['result'] === 'accepted')?.value ?? 0;
  return { store, fleet, service, accepted };
}

describe('RiskAssessorService intake', () => {
  it('a new recommendation is received and assessed in one append, on the volume as EC2 describes it', async () => {
    const { store, service, accepted } = setUp();
    const append = jest.spyOn(store, 'appendToStream');
    expect(await service.ingest(delivery('d-1'))).toEqual({ kind: 'ack' });
    expect(append.mock.calls.map((c) => [c[0], c[1].map((e) => e.type)])).toEqual([[STREAM, ['OptimizationReceived', 'RiskAssessed']]]);
    const [, assessed] = await store.readStream(STREAM);
    expect(assessed!.data).toMatchObject({ basis: { live: { found: true, observed: { id: 'vol-1', volumeType: 'gp2' } } } });
    expect(await accepted()).toBe(1);
    await store.close();
  });

  it('when EC2 cannot be asked, the receipt alone is appended and the delivery fails; handled again, it is assessed once', async () => {
    const { store, fleet, service, accepted } = setUp();
    const describe = jest.spyOn(fleet, 'describeVolume').mockRejectedValueOnce(new InfrastructureError('EC2 unavailable'));
    await expect(service.ingest(delivery('d-1'))).rejects.toThrow('EC2 unavailable');
    expect((await store.readStream(STREAM)).map((e) => e.type)).toEqual(['OptimizationReceived']);

    expect(await service.ingest(delivery('d-1'))).toEqual({ kind: 'ack' });
    expect((await store.readStream(STREAM)).map((e) => e.type)).toEqual(['OptimizationReceived', 'RiskAssessed']);
    expect(describe).toHaveBeenCalledTimes(2);
    expect(await accepted()).toBe(1);
    await store.close();
  });

  it('a second delivery of the same recommendation is a recorded duplicate and describes nothing', async () => {
    const { store, fleet, service } = setUp();
    await service.ingest(delivery('d-1'));
    const describe = jest.spyOn(fleet, 'describeVolume');
    expect(await service.ingest(delivery('d-2'))).toEqual({ kind: 'ack' });
    expect(describe).not.toHaveBeenCalled();
    expect((await store.readStream(STREAM)).map((e) => e.type)).toEqual(['OptimizationReceived', 'RiskAssessed']);
    expect((await store.readStream(DUPLICATES_STREAM)).map((e) => e.data)).toEqual([expect.objectContaining({ deliveryId: 'd-2', recommendationId: 'rec-1' })]);
    await store.close();
  });
});
