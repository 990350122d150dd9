import { randomUUID } from 'node:crypto';
import { REJECTED_STREAM } from '@optex/domain';
import { MemoryReadModelCheckpoints } from '@optex/projections';
import { apiHarness, type ApiHarness } from './__fixtures__/api-harness';
import { API_READ_MODEL, API_READ_MODEL_VERSION, ApiReadModel } from './read-model';

jest.setTimeout(60_000); // the harness runs the engine once

describe('ApiReadModel checkpoints', () => {
  let h: ApiHarness;
  beforeAll(async () => (h = await apiHarness({ bus: false })));
  afterAll(() => h?.close());

  it('given a checkpoint, a restart restores every optimization and count without folding the log again', async () => {
    await h.store.appendToStream(REJECTED_STREAM, [{ id: randomUUID(), type: 'RecommendationRejected', data: { deliveryId: 'spec:0', index: 0, errors: [{ path: 'region', message: 'required' }] } }], 'any');
    const checkpoints = new MemoryReadModelCheckpoints();
    const first = new ApiReadModel(h.store, { checkpoints });
    expect((await first.start()).restoredFrom).toBeUndefined();
    await first.sync();
    await first.stop();
    const header = await checkpoints.describe(API_READ_MODEL);
    expect(first.rejected).toBe(1);
    // One row per optimization and one of counts.
    expect(header).toMatchObject({ version: API_READ_MODEL_VERSION, rows: first.projection.size + 1 });
    expect(header?.position.commit).toBe(first.appliedPosition);

    const applied: string[] = [];
    const second = new ApiReadModel(h.store, { checkpoints });
    second.projection.onChange((after) => applied.push(after.optimizationId));
    const start = await second.start();
    await second.sync();
    expect(start.restoredFrom?.position.commit).toBe(first.appliedPosition);
    expect(second.appliedPosition).toBe(first.appliedPosition);
    // Restoring sets each optimization once; no event of the log was folded again.
    expect(applied.sort()).toEqual(first.projection.all().map((s) => s.optimizationId).sort());
    expect(second.projection.all()).toEqual(first.projection.all());
    expect([second.rejected, second.duplicates]).toEqual([first.rejected, first.duplicates]);
    await second.stop();
  });

  it('serves its lag and position as Prometheus gauges', async () => {
    const token = await h.jwt({ sub: 'alice@acme.example', roles: ['reader'] });
    const metrics = await h.call('GET', '/metrics', { token });
    expect(metrics.status).toBe(200);
    expect(metrics.body).toMatch(/^optex_projection_lag_events\{projection="api"\} 0$/m);
    expect(metrics.body).toMatch(new RegExp(`^optex_projection_position\\{projection="api"\\} ${h.api.readModel.appliedPosition}$`, 'm'));
    expect(h.api.readModel.appliedPosition).toBeGreaterThan(0n);
  });
});
