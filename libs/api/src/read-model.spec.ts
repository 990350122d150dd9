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
    const rejection = (deliveryId: string, dryRun?: boolean) => ({ id: randomUUID(), type: 'RecommendationRejected', data: { deliveryId, index: 0, raw: {}, errors: [{ path: 'region', message: 'required' }], ...(dryRun ? { dryRun } : {}), at: new Date().toISOString() } });
    // A real record's rejection, a dry run's (recorded so), and one of a CLI dry run recorded before rejections said so.
    await h.store.appendToStream(REJECTED_STREAM, [rejection('spec:0'), rejection('kafka:1', true), rejection('dry-run:input:abc:0')], 'any');
    const checkpoints = new MemoryReadModelCheckpoints();
    const first = new ApiReadModel(h.store, { checkpoints });
    expect((await first.start()).restoredFrom).toBeUndefined();
    await first.sync();
    await first.stop();
    const header = await checkpoints.describe(API_READ_MODEL);
    expect([first.rejected, first.previewRejected]).toEqual([3, 2]);
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
    expect([second.rejected, second.duplicates, second.previewRejected, second.previewDuplicates]).toEqual([first.rejected, first.duplicates, first.previewRejected, first.previewDuplicates]);
    await second.stop();
  });

  it.each([
    ['counts', (_id: string): [string, unknown] => ['counts', { rejected: -1, duplicates: 0 }], 'rejected: Too small'],
    ['a revision', (id: string): [string, unknown] => [`optimization:${id}`, { revision: 'x', state: {} }], 'revision: must be a whole number'],
    ['a status', (id: string): [string, unknown] => [`optimization:${id}`, { revision: '3', state: { optimizationId: id, status: 'teleported', recommendation: {}, approval: {}, dryRun: false, receivedAt: '2026-03-01T10:00:00.000Z' } }], 'state.status: Invalid option'],
    ['an id', (id: string): [string, unknown] => [`optimization:${id}`, { revision: '3', state: { optimizationId: 'someone-else', status: 'completed', recommendation: {}, approval: {}, dryRun: false, receivedAt: '2026-03-01T10:00:00.000Z' } }], 'state.optimizationId: "someone-else" is not the row'],
    ['a key', (_id: string): [string, unknown] => ['surprise', 1], 'not a row this read model writes'],
  ] as const)('given a checkpoint with a bad row (%s), drops it and folds the whole log into the same state', async (_what, bad, message) => {
    const checkpoints = new MemoryReadModelCheckpoints();
    const first = new ApiReadModel(h.store, { checkpoints });
    await first.start();
    await first.sync();
    await first.stop();
    const header = (await checkpoints.describe(API_READ_MODEL))!;
    const [key, value] = bad(first.projection.all()[0]!.optimizationId);
    await checkpoints.save(API_READ_MODEL, { version: API_READ_MODEL_VERSION, position: header.position, eventId: header.eventId!, rows: new Map<string, unknown>([[key, value]]) });

    const second = new ApiReadModel(h.store, { checkpoints });
    const start = await second.start();
    expect(start.restoredFrom).toBeUndefined();
    expect(start.unreadable).toContain(`row "${key}" of read model api's checkpoint: `);
    expect(start.unreadable).toContain(message);
    await second.sync();
    await second.stop();
    expect(second.projection.all()).toEqual(first.projection.all());
    expect([second.rejected, second.duplicates]).toEqual([first.rejected, first.duplicates]);
    // The new checkpoint is whole again.
    expect(await checkpoints.describe(API_READ_MODEL)).toMatchObject({ rows: first.projection.size + 1, position: header.position });
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
