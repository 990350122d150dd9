import { defaultPolicy, defaultPriceBook, optimizationDecider, optimizationStream, parseRecommendation, type Recommendation } from '@optex/domain';
import { silentLogger, type IntegrationEvent, type RecordedEvent } from '@optex/ports';
import { SqliteEventStore } from '@optex/event-store';
import { SimulatedFleet } from '@optex/cloud';
import { OptexMetrics, defaultEngineOptions, loadStream } from '@optex/engine';
import { ExecutorService } from '@optex/executor';
import { upToScheduled } from '@optex/testing';
import { ValidatorService } from './validator.service';

const NOW = new Date('2026-11-26T10:00:00Z');
const clock = { now: () => NOW };
const fleetFile = { volumes: [{ id: 'vol-1', accountId: '123456789012', region: 'us-east-1', volumeType: 'gp2', sizeGiB: 100, state: 'available' }] };

function gp3(id: string): Recommendation {
  const parsed = parseRecommendation({ recommendationId: id, source: 'spec', accountId: '123456789012', region: 'us-east-1', resource: { type: 'ec2:volume', id: 'vol-1' }, action: { type: 'modify-volume', targetVolumeType: 'gp3' }, estimatedMonthlySavings: 2, currency: 'USD' });
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
  return parsed.value;
}

const delivered = (e: RecordedEvent, revision = e.revision): IntegrationEvent => ({ kind: 'event', id: e.id, type: e.type, stream: e.stream, revision, data: e.data, metadata: e.metadata, recordedAt: e.recordedAt, deliveryId: 't/0/1', attempt: 1 });

/** A store holding one modify-volume optimization the executor carried to `validating`, and a validator on it. */
async function executed() {
  const store = SqliteEventStore.open(':memory:');
  const fleet = SimulatedFleet.fromFleet(fleetFile, { clock });
  const id = await upToScheduled(store, gp3('v1'), NOW);
  const options = { ...defaultEngineOptions, recoverOnStart: false, sweepEveryMs: 0 };
  const executor = new ExecutorService(store, fleet, fleet, defaultPolicy, defaultPriceBook, clock, silentLogger, new OptexMetrics(), options);
  await executor.onApplicationBootstrap();
  await executor.drive(id, 'spec');
  await executor.onModuleDestroy();
  expect((await loadStream(store, optimizationStream(id), optimizationDecider)).state.status).toBe('validating');
  const validator = new ValidatorService(store, fleet, fleet, defaultPriceBook, defaultPolicy, clock, silentLogger, new OptexMetrics(), options);
  await validator.onApplicationBootstrap();
  const succeeded = (await store.readStream(optimizationStream(id))).find((e) => e.type === 'ExecutionSucceeded')!;
  return { store, id, validator, succeeded };
}

describe('ValidatorService', () => {
  it('validates an optimization when the ExecutionSucceeded it is handed is the last event of its stream', async () => {
    const { store, id, validator, succeeded } = await executed();
    await validator.onEvent(delivered(succeeded));
    const { state } = await loadStream(store, optimizationStream(id), optimizationDecider);
    expect(state.status).toBe('completed');
    expect((await store.readStream(optimizationStream(id))).at(-1)?.type).toBe('ValidationPassed');
    await validator.onModuleDestroy();
    await store.close();
  });

  it('does nothing for an ExecutionSucceeded the stream has moved past (its validation event ids would derive from a stale event)', async () => {
    const { store, id, validator, succeeded } = await executed();
    const before = (await store.readStream(optimizationStream(id))).length;
    await validator.onEvent(delivered(succeeded, succeeded.revision - 1n));
    expect((await store.readStream(optimizationStream(id))).length).toBe(before);
    expect((await loadStream(store, optimizationStream(id), optimizationDecider)).state.status).toBe('validating');
    await validator.onModuleDestroy();
    await store.close();
  });
});
