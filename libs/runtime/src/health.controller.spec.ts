import { InfrastructureError, type EventStore } from '@optex/ports';
import { OptexMetrics } from '@optex/engine';
import { HealthController } from './health.controller';

const storeThat = (readStream: () => Promise<unknown>) => ({ readStream }) as unknown as EventStore;
const info = { service: 'executor', startedAt: new Date(Date.now() - 61_000) };

describe('the health endpoints of a service process', () => {
  it('GET /health is 503 naming the store while the store fails; GET /live stays 200 (a restart would not bring the store back)', async () => {
    const controller = new HealthController(storeThat(() => Promise.reject(new InfrastructureError('connect ECONNREFUSED 127.0.0.1:2113'))), new OptexMetrics(), info);
    await expect(controller.health()).rejects.toMatchObject({ status: 503, response: { status: 'failing', checks: { store: 'failing: connect ECONNREFUSED 127.0.0.1:2113' } } });
    expect(controller.live()).toEqual({ status: 'ok', service: 'executor', uptimeSeconds: 61 });
  });

  it('GET /health is 503 when an extra check fails (the relay cannot publish), 200 when all pass', async () => {
    let relay: string | undefined = 'Kafka unreachable';
    const controller = new HealthController(storeThat(() => Promise.resolve([])), new OptexMetrics(), { ...info, checks: () => ({ relay }) });
    await expect(controller.health()).rejects.toMatchObject({ status: 503, response: { checks: { store: 'ok', relay: 'Kafka unreachable' } } });
    relay = undefined;
    await expect(controller.health()).resolves.toMatchObject({ status: 'ok', checks: { store: 'ok', relay: 'ok' } });
  });
});
