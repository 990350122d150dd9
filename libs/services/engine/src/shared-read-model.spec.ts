import { OPTIMIZATION_STREAM_PREFIX, type Recommendation } from '@optex/domain';
import type { EventStore, RecordedEvent } from '@optex/ports';
import { SharedReadModel, readModelOf } from './shared-read-model';

const AT = '2026-03-01T10:00:00.000Z';
const rec = (id: string): Recommendation =>
  ({
    recommendationId: `rec-${id}`,
    source: 'spec',
    accountId: '123456789012',
    region: 'us-east-1',
    resource: { type: 'ec2:volume', id: `vol-${id}` },
    action: { type: 'modify-volume', targetVolumeType: 'gp3' },
    estimatedMonthlySavings: 2,
    currency: 'USD',
  }) as Recommendation;

const received = (id: string, commit: number): RecordedEvent => ({
  id: `e-${id}`,
  stream: `${OPTIMIZATION_STREAM_PREFIX}${id}`,
  revision: 0n,
  type: 'OptimizationReceived',
  data: { optimizationId: id, at: AT, recommendation: rec(id), dryRun: false, deliveryId: `d:${id}` },
  metadata: { schemaVersion: 1 },
  recordedAt: new Date(AT),
  position: { commit: BigInt(commit), prepare: BigInt(commit) },
});

/** A store holding `events` whose readAll counts how often the whole log was read, and fails the first `failures` times. */
function countingStore(events: readonly RecordedEvent[], failures = 0) {
  let reads = 0;
  let failing = failures;
  const store = {
    async *readAll() {
      reads++;
      if (failing > 0) {
        failing--;
        throw new Error('store unavailable');
      }
      yield* events;
    },
  } as unknown as EventStore;
  return { store, reads: () => reads };
}

describe('SharedReadModel (one read model for the services of a process)', () => {
  it('given a log of two optimizations, when four services load it at once, then the log is read once and every service holds the same projection', async () => {
    const { store, reads } = countingStore([received('a', 1), received('b', 2)]);
    const shared = new SharedReadModel(store);
    const loaded = await Promise.all([1, 2, 3, 4].map(() => readModelOf(store, shared)));
    expect(reads()).toBe(1);
    expect(new Set(loaded).size).toBe(1);
    expect(loaded[0]).toBe(shared.projection);
    expect(shared.projection.all().map((s) => s.optimizationId)).toEqual(['a', 'b']);
  });

  it('given an event one service applied, when another service of the process applies the same delivery, then nothing changes and the state is there for both', async () => {
    const { store } = countingStore([]);
    const shared = new SharedReadModel(store);
    const projection = await shared.load();
    const first = projection.applyRelayed(received('c', 1));
    expect(first?.status).toBe('received');
    expect(projection.applyRelayed(received('c', 1))).toBeUndefined();
    expect(projection.get('c')).toBe(first);
    expect(projection.size).toBe(1);
  });

  it('given a store that fails the first load, when loaded again, then the log is read again (the failure is not kept)', async () => {
    const { store, reads } = countingStore([received('d', 1)], 1);
    const shared = new SharedReadModel(store);
    await expect(shared.load()).rejects.toThrow('store unavailable');
    await expect(shared.load()).resolves.toBe(shared.projection);
    expect(reads()).toBe(2);
    expect(shared.projection.get('d')?.status).toBe('received');
  });

  it('without a shared read model (a service built on its own), each caller gets a projection of its own', async () => {
    const { store, reads } = countingStore([received('e', 1)]);
    const [x, y] = await Promise.all([readModelOf(store, undefined), readModelOf(store, undefined)]);
    expect(x).not.toBe(y);
    expect(reads()).toBe(2);
  });
});
